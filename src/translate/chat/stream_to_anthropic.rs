//! Chat Completions SSE -> Anthropic SSE (an Anthropic client, e.g. Claude Code, on an
//! OpenAI-compatible provider). The first chunk opens the message (`message_start`); deltas go
//! through `blocks` (one open block at a time, indices from one counter); the chunk with
//! `finish_reason` closes the blocks; `[DONE]` (or EOF after a `finish_reason`) sends
//! `message_delta` (stop reason, usage) and `message_stop`. A Chat stream carries its usage in
//! its last chunk, so `message_start` has the input counts only when a provider sends usage on
//! its first chunk; otherwise it says 0 and `message_delta` carries the real input, cache and
//! output counts (Anthropic's `message_delta.usage` has all four fields).

use super::blocks::Blocks;
use super::json::{kind_from_openai_error, stop_reason_from_finish, Usage};
use super::response::message_id;
use crate::sse::{SseEvent, SseParser};
use crate::translate::errors::{self, Kind};
use crate::translate::{sse_out, ClientView, Dialect};
use serde_json::{json, Value};

pub(crate) struct ToAnthropic {
    parser: SseParser,
    events: Vec<SseEvent>,
    view: ClientView,
    blocks: Blocks,
    started: bool,
    usage: Usage,
    /// The provider's `finish_reason`, once seen.
    finish: Option<String>,
    /// The model sent a `refusal` text.
    refusal: bool,
    /// A terminal event (`message_stop` or `error`) went out; everything after is ignored.
    done: bool,
}

// === impl ToAnthropic ===

impl ToAnthropic {
    pub(crate) fn new(view: ClientView) -> Self {
        Self {
            parser: SseParser::new(),
            events: Vec::new(),
            view,
            blocks: Blocks::new(),
            started: false,
            usage: Usage::default(),
            finish: None,
            refusal: false,
            done: false,
        }
    }

    pub(crate) fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.parser.feed(chunk, &mut self.events);
        let events = std::mem::take(&mut self.events);
        for event in &events {
            if self.done {
                break;
            }
            self.event(event, out);
        }
        self.events = events;
        self.events.clear();
    }

    /// EOF. A stream that reached its `finish_reason` but lost `[DONE]` (some servers omit it)
    /// still finished; one that did not is reported as an error, never as `end_turn`.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        if self.finish.is_some() {
            self.complete(out);
        } else {
            self.fail("stream ended before the provider finished", out);
        }
    }

    pub(crate) fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        self.error(Kind::Server, message, out);
    }

    fn error(&mut self, kind: Kind, message: &str, out: &mut Vec<u8>) {
        if !self.done {
            self.done = true;
            errors::stream_event(Dialect::Anthropic, kind, message, out);
        }
    }

    fn event(&mut self, event: &SseEvent, out: &mut Vec<u8>) {
        if event.data.trim() == "[DONE]" {
            if self.finish.is_some() {
                self.complete(out);
            } else {
                self.fail("the provider ended the stream without a finish_reason", out);
            }
            return;
        }
        let Ok(chunk) = serde_json::from_str::<Value>(&event.data) else {
            self.fail("the provider sent a chunk that is not JSON", out);
            return;
        };
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            // `{"error":"text"}` from some compatible servers, else OpenAI's object.
            let message = error
                .as_str()
                .or_else(|| error.get("message").and_then(Value::as_str))
                .unwrap_or("the provider reported an error");
            self.error(kind_from_openai_error(error), message, out);
            return;
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Usage::from_chat(usage);
        }
        if !self.started {
            self.started = true;
            self.blocks.set_provider_id(chunk.get("id"));
            let message = json!({
                "id": message_id(chunk.get("id")),
                "type": "message",
                "role": "assistant",
                "model": self.view.model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": self.usage.to_anthropic(),
            });
            let data = json!({"type": "message_start", "message": message});
            sse_out::anthropic(out, "message_start", &data);
        }
        let Some(choices) = chunk.get("choices").and_then(Value::as_array) else {
            return;
        };
        // Only choice 0 exists: the request never asks for `n` > 1.
        for choice in choices
            .iter()
            .filter(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0)
        {
            if let Err(message) = self.choice(choice, out) {
                self.fail(&message, out);
                return;
            }
        }
    }

    fn choice(&mut self, choice: &Value, out: &mut Vec<u8>) -> Result<(), String> {
        let delta = &choice["delta"];
        // `reasoning_content` / `reasoning` are not read: provider reasoning is omitted.
        if let Some(text) = delta.get("content").and_then(Value::as_str) {
            self.blocks.text(text, out);
        }
        if let Some(refusal) = delta
            .get("refusal")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
        {
            self.refusal = true;
            self.blocks.text(refusal, out);
        }
        if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
            for call in calls {
                self.blocks.tool(call, out)?;
            }
        }
        if let Some(finish) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish = Some(finish.to_string());
            self.blocks.finish(out)?;
        }
        Ok(())
    }

    fn complete(&mut self, out: &mut Vec<u8>) {
        let finish = self.finish.clone().unwrap_or_default();
        if let Err(message) = self.blocks.finish(out) {
            self.fail(&message, out);
            return;
        }
        let stop_reason =
            match stop_reason_from_finish(&finish, self.blocks.saw_tool_calls(), self.refusal) {
                Ok(reason) => reason,
                Err(message) => {
                    self.fail(&message, out);
                    return;
                }
            };
        let data = json!({
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": null},
            "usage": self.usage.to_anthropic(),
        });
        sse_out::anthropic(out, "message_delta", &data);
        sse_out::anthropic(out, "message_stop", &json!({"type": "message_stop"}));
        self.done = true;
    }
}
