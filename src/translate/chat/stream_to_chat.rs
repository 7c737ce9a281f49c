//! Anthropic SSE -> Chat Completions SSE (an OpenAI client on Claude). A small state machine:
//! `message_start` gives the first chunk (role), text and `input_json_delta` deltas become
//! `content` / `tool_calls` deltas (tool index = order of the `tool_use` blocks), `message_delta`
//! gives the stop reason, and `message_stop` the `finish_reason` chunk, the usage chunk (only if
//! the client asked, F16) and `[DONE]`. Thinking, signatures and other blocks are not forwarded.
//! A `tool_use` block that closes without any argument text (a zero-argument call) gets one
//! `"{}"` arguments delta, so the client assembles valid JSON, never "" (F17).

use super::json::{finish_from_stop_reason, kind_from_anthropic_error, Usage};
use super::response::chat_id;
use crate::sse::{SseEvent, SseParser};
use crate::translate::errors::{self, Kind};
use crate::translate::{sse_out, ClientView, Dialect};
use serde_json::{json, Value};

struct ToolBlock {
    /// The Anthropic content block index.
    block: u64,
    /// Some argument text went out for it.
    sent_args: bool,
}

pub(crate) struct ToChat {
    parser: SseParser,
    events: Vec<SseEvent>,
    view: ClientView,
    created: u64,
    id: String,
    usage: Usage,
    /// The `tool_use` blocks seen; the position is the Chat tool index.
    tools: Vec<ToolBlock>,
    /// The role chunk went out.
    started: bool,
    /// `message_delta`'s stop reason, sent with `message_stop` so that a stream cut in between
    /// never shows a finish reason before its error.
    finish: Option<&'static str>,
    /// A terminal frame (`[DONE]` or an error) went out; everything after is ignored.
    done: bool,
}

// === impl ToChat ===

impl ToChat {
    pub(crate) fn new(view: ClientView, created: u64) -> Self {
        Self {
            parser: SseParser::new(),
            events: Vec::new(),
            view,
            created,
            id: chat_id(None),
            usage: Usage::default(),
            tools: Vec::new(),
            started: false,
            finish: None,
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
        // Keep the allocation for the next read.
        self.events = events;
        self.events.clear();
    }

    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        self.fail("stream ended before the provider finished", out);
    }

    pub(crate) fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        self.error(Kind::Server, message, out);
    }

    /// The Chat error chunk (`data: {"error":{…}}`) and nothing after it: no `[DONE]`, the stream
    /// did not complete.
    fn error(&mut self, kind: Kind, message: &str, out: &mut Vec<u8>) {
        if !self.done {
            self.done = true;
            errors::stream_event(Dialect::Chat, kind, message, out);
        }
    }

    fn event(&mut self, event: &SseEvent, out: &mut Vec<u8>) {
        let Ok(data) = serde_json::from_str::<Value>(&event.data) else {
            self.fail("the provider sent an event that is not JSON", out);
            return;
        };
        match data.get("type").and_then(Value::as_str).unwrap_or("") {
            "message_start" => {
                let message = &data["message"];
                if let Some(id) = message.get("id") {
                    self.id = chat_id(Some(id));
                }
                self.usage.merge_anthropic(&message["usage"]);
                self.start(out);
            }
            "content_block_start" => self.block_start(&data, out),
            "content_block_delta" => self.block_delta(&data, out),
            "message_delta" => {
                self.usage.merge_anthropic(&data["usage"]);
                if let Some(stop) = data.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.finish = Some(finish_from_stop_reason(stop));
                }
            }
            "message_stop" => {
                // Anthropic always sends a stop reason first; if one was missing, the message
                // still ended normally.
                let reason = self.finish.unwrap_or("stop");
                self.start(out);
                let chunk = self.choice_chunk(json!({}), json!(reason));
                sse_out::chat(out, &chunk);
                if self.view.include_usage {
                    let mut chunk = self.chunk_base();
                    chunk["choices"] = json!([]);
                    chunk["usage"] = self.usage.to_chat();
                    sse_out::chat(out, &chunk);
                }
                sse_out::chat_done(out);
                self.done = true;
            }
            "content_block_stop" => self.block_stop(&data, out),
            "error" => {
                let error = &data["error"];
                let message = error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("the provider reported an error");
                // The same kind -> (type, code) table as the provider's HTTP errors.
                self.error(kind_from_anthropic_error(error), message, out);
            }
            // ping, and event types added later, carry nothing for Chat.
            _ => {}
        }
    }

    fn block_start(&mut self, data: &Value, out: &mut Vec<u8>) {
        let block = &data["content_block"];
        match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                let text = block.get("text").and_then(Value::as_str).unwrap_or("");
                self.text(text, out);
            }
            Some("tool_use") => {
                let n = self.tools.len();
                self.tools.push(ToolBlock {
                    block: data["index"].as_u64().unwrap_or(u64::MAX),
                    sent_args: false,
                });
                let call = json!({
                    "index": n,
                    "id": block["id"],
                    "type": "function",
                    "function": {"name": block["name"], "arguments": ""},
                });
                self.delta(json!({"tool_calls": [call]}), out);
                // Anthropic streams input as deltas after an empty `{}`; a non-empty start input
                // is sent whole so it is not lost.
                if let Some(input) = block
                    .get("input")
                    .filter(|i| i.as_object().is_some_and(|o| !o.is_empty()))
                {
                    self.arguments(n, &input.to_string(), out);
                }
            }
            _ => {}
        }
    }

    fn block_delta(&mut self, data: &Value, out: &mut Vec<u8>) {
        let delta = &data["delta"];
        match delta.get("type").and_then(Value::as_str) {
            Some("text_delta") => {
                let text = delta.get("text").and_then(Value::as_str).unwrap_or("");
                self.text(text, out);
            }
            Some("input_json_delta") => {
                let index = data["index"].as_u64().unwrap_or(u64::MAX);
                let partial = delta
                    .get("partial_json")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if let Some(n) = self.tool_at(index) {
                    self.arguments(n, partial, out);
                }
            }
            // thinking_delta, signature_delta, citations_delta: not part of a Chat answer.
            _ => {}
        }
    }

    /// A zero-argument `tool_use` streams `input: {}` and at most an empty `partial_json`: the
    /// Chat client still needs arguments that parse, as OpenAI itself sends them (`"{}"`).
    fn block_stop(&mut self, data: &Value, out: &mut Vec<u8>) {
        let index = data["index"].as_u64().unwrap_or(u64::MAX);
        if let Some(n) = self.tool_at(index) {
            if !self.tools[n].sent_args {
                self.arguments(n, "{}", out);
            }
        }
    }

    fn tool_at(&self, block: u64) -> Option<usize> {
        self.tools.iter().position(|t| t.block == block)
    }

    fn text(&mut self, text: &str, out: &mut Vec<u8>) {
        if !text.is_empty() {
            self.delta(json!({"content": text}), out);
        }
    }

    fn arguments(&mut self, n: usize, partial: &str, out: &mut Vec<u8>) {
        if !partial.is_empty() {
            self.tools[n].sent_args = true;
            let call = json!({"index": n, "function": {"arguments": partial}});
            self.delta(json!({"tool_calls": [call]}), out);
        }
    }

    /// The first chunk, as OpenAI sends it: the role and an empty content.
    fn start(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.started = true;
            let chunk = self.choice_chunk(json!({"role": "assistant", "content": ""}), Value::Null);
            sse_out::chat(out, &chunk);
        }
    }

    fn delta(&mut self, delta: Value, out: &mut Vec<u8>) {
        self.start(out);
        let chunk = self.choice_chunk(delta, Value::Null);
        sse_out::chat(out, &chunk);
    }

    fn chunk_base(&self) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.view.model,
        })
    }

    fn choice_chunk(&self, delta: Value, finish: Value) -> Value {
        let mut chunk = self.chunk_base();
        chunk["choices"] =
            json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]);
        chunk
    }
}
