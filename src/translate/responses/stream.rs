//! OpenAI Responses event stream -> Anthropic Messages event stream, one response at a time.
//!
//! Provider bytes go through `SseParser` (any split), each event updates per-output-item state,
//! and Anthropic events come out as soon as they are known. Guarantees (ISSUE 6, F17, F18):
//! - `message_start` first, then blocks one at a time (`content_block_start` -> deltas ->
//!   `content_block_stop`), indices from one counter in emission order. Output items that stream
//!   interleaved (parallel function calls) are serialized: the first to start owns the open block,
//!   the others are buffered until it is done.
//! - A `tool_use` start is always `{"type":"tool_use","id","name","input":{}}`; arguments arrive
//!   only as `input_json_delta`. Arguments are tracked per call: `.done` (and `output_item.done`)
//!   add only what the deltas did not already deliver, so arguments that come only at the end give
//!   one delta and deltas + `.done` are never doubled. A call with no arguments gets `{}`.
//! - `response.completed` -> `end_turn` (`tool_use` when a call was made); `response.incomplete`
//!   -> `max_tokens` (`refusal` for `content_filter`); then `message_delta` + `message_stop`.
//! - `response.failed`, an `error` event, a provider EOF before a terminal event, or `fail` ->
//!   an Anthropic `error` event and nothing more: never a fake success.
//! - Usage is only known at the end in Responses, so `message_start` carries zeros and the real
//!   figures (input minus cached, cached as `cache_read_input_tokens`) ride on `message_delta`.
//! - Reasoning items and summaries are dropped (module docs of `responses`).

use super::super::errors::{self, Kind};
use super::super::{sse_out, ClientView, Dialect};
use super::blocks::{Blocks, ItemKind};
use super::response::{message_id, stop_reason, usage};
use crate::sse::{SseEvent, SseParser};
use serde_json::{json, Value};

/// The translator for one streamed Responses answer.
pub(crate) struct ToAnthropic {
    parser: SseParser,
    /// Scratch list the parser fills; kept to reuse its allocation.
    events: Vec<SseEvent>,
    view: ClientView,
    started: bool,
    /// A terminal event (success or error) went out: everything after it is ignored.
    finished: bool,
    blocks: Blocks,
    saw_refusal: bool,
}

// === impl ToAnthropic ===

impl ToAnthropic {
    pub(crate) fn new(view: ClientView) -> Self {
        Self {
            parser: SseParser::new(),
            events: Vec::new(),
            view,
            started: false,
            finished: false,
            blocks: Blocks::default(),
            saw_refusal: false,
        }
    }

    pub(crate) fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let mut events = std::mem::take(&mut self.events);
        self.parser.feed(chunk, &mut events);
        for event in events.drain(..) {
            if self.finished {
                break;
            }
            self.event(&event, out);
        }
        self.events = events;
    }

    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        let mut events = Vec::new();
        self.parser.finish(&mut events);
        if !self.finished {
            self.error(
                Kind::Server,
                "stream ended before the provider finished the response",
                out,
            );
        }
    }

    pub(crate) fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        if !self.finished {
            self.error(Kind::Server, message, out);
        }
    }

    fn event(&mut self, event: &SseEvent, out: &mut Vec<u8>) {
        // `[DONE]` (some compatible servers add it) and other non-JSON data carry nothing.
        let Ok(data) = serde_json::from_str::<Value>(&event.data) else {
            return;
        };
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .or(event.event.as_deref())
            .unwrap_or("");
        match kind {
            "response.failed" => {
                let err = data.pointer("/response/error");
                let code = err.and_then(|e| e.get("code")).and_then(Value::as_str);
                let message = err
                    .and_then(|e| e.get("message"))
                    .and_then(Value::as_str)
                    .unwrap_or("the provider reported the response as failed");
                self.error(Kind::from_openai_code(code), message, out);
            }
            "error" => {
                // Top-level `code`/`message` (OpenAI) or nested under `error` (some servers).
                let err = data.get("error").filter(|e| e.is_object()).unwrap_or(&data);
                let code = err.get("code").and_then(Value::as_str);
                let message = err
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("the provider sent an error event");
                self.error(Kind::from_openai_code(code), message, out);
            }
            "response.completed" | "response.incomplete" => {
                self.start(&data, out);
                self.complete(&data, out);
            }
            _ => {
                self.start(&data, out);
                self.content_event(kind, &data, out);
            }
        }
    }

    fn content_event(&mut self, kind: &str, data: &Value, out: &mut Vec<u8>) {
        let output_index = data.get("output_index").and_then(Value::as_u64);
        let item_id = data.get("item_id").and_then(Value::as_str);
        let str_of = |key: &str| data.get(key).and_then(Value::as_str).unwrap_or("");
        let content_index = data
            .get("content_index")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let b = &mut self.blocks;
        match kind {
            "response.output_item.added" => {
                let item = data.get("item").unwrap_or(&Value::Null);
                let pos = b.item(output_index, item);
                if matches!(b.kind(pos), ItemKind::Tool { .. }) {
                    // The tool_use block starts as soon as the call is announced (when free).
                    b.open_if_free(pos, out);
                    let args = item.get("arguments").and_then(Value::as_str).unwrap_or("");
                    b.complete_to(pos, args, out);
                }
            }
            "response.output_text.delta" | "response.refusal.delta" => {
                self.saw_refusal |= kind == "response.refusal.delta";
                let pos = b.text_item(output_index, item_id);
                b.first_text_of_part(pos, content_index);
                b.accept(pos, str_of("delta"), out);
            }
            "response.output_text.done" | "response.refusal.done" => {
                let key = if kind == "response.refusal.done" {
                    self.saw_refusal = true;
                    "refusal"
                } else {
                    "text"
                };
                // Only a part that streamed no delta contributes its `.done` text.
                let pos = b.text_item(output_index, item_id);
                if b.first_text_of_part(pos, content_index) {
                    b.accept(pos, str_of(key), out);
                }
            }
            "response.function_call_arguments.delta" | "response.function_call_arguments.done" => {
                // A delta for a call never announced cannot open a block (no name yet); the full
                // arguments still come with `.done` / `output_item.done`.
                let Some(pos) = b.find(output_index, item_id) else {
                    return;
                };
                if !matches!(b.kind(pos), ItemKind::Tool { .. }) {
                    return;
                }
                if kind.ends_with(".delta") {
                    b.accept(pos, str_of("delta"), out);
                } else {
                    b.complete_to(pos, str_of("arguments"), out);
                }
            }
            "response.output_item.done" => {
                let item = data.get("item").unwrap_or(&Value::Null);
                let pos = b.item(output_index, item);
                match b.kind(pos) {
                    ItemKind::Tool { .. } => {
                        let args = item.get("arguments").and_then(Value::as_str).unwrap_or("");
                        b.complete_to(pos, args, out);
                    }
                    ItemKind::Text if b.nothing_accepted(pos) => {
                        let text = message_text(item, &mut self.saw_refusal);
                        b.accept(pos, &text, out);
                    }
                    _ => {}
                }
                b.done(pos, out);
            }
            // created / in_progress / content_part.* / reasoning / annotations: nothing to say.
            _ => {}
        }
    }

    /// `message_start` once, before any block; usage is not known yet (see the file docs).
    fn start(&mut self, data: &Value, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let id = data.pointer("/response/id").and_then(Value::as_str);
        let message = json!({
            "type": "message_start",
            "message": {
                "id": message_id(id),
                "type": "message",
                "role": "assistant",
                "model": self.view.model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": usage(None),
            },
        });
        sse_out::anthropic(out, "message_start", &message);
    }

    fn complete(&mut self, data: &Value, out: &mut Vec<u8>) {
        self.blocks.close_all(out);
        let response = data.get("response").unwrap_or(&Value::Null);
        let status = response
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or_else(|| match data.get("type").and_then(Value::as_str) {
                Some("response.incomplete") => "incomplete",
                _ => "completed",
            });
        let reason = response
            .pointer("/incomplete_details/reason")
            .and_then(Value::as_str);
        let stop = stop_reason(status, reason, self.blocks.saw_tool, self.saw_refusal);
        let delta = json!({
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": null},
            "usage": usage(response.get("usage")),
        });
        sse_out::anthropic(out, "message_delta", &delta);
        sse_out::anthropic(out, "message_stop", &json!({"type": "message_stop"}));
        self.finished = true;
    }

    fn error(&mut self, kind: Kind, message: &str, out: &mut Vec<u8>) {
        errors::stream_event(Dialect::Anthropic, kind, message, out);
        self.finished = true;
    }
}

/// The text of a finished message item (output text and refusals), for a message whose deltas
/// never came.
fn message_text(item: &Value, saw_refusal: &mut bool) -> String {
    let mut text = String::new();
    for part in item
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match part.get("type").and_then(Value::as_str) {
            Some("output_text") => {
                text.push_str(part.get("text").and_then(Value::as_str).unwrap_or(""))
            }
            Some("refusal") => {
                *saw_refusal = true;
                text.push_str(part.get("refusal").and_then(Value::as_str).unwrap_or(""));
            }
            _ => {}
        }
    }
    text
}
