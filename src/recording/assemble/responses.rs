//! OpenAI Responses: a `response` body, or its event stream (SSE, or Codex's WebSocket frames: the
//! same objects; WIRE.md "OpenAI Responses streaming"). Output items are kept by `output_index`:
//! messages (text and refusal parts), reasoning (summary text as thinking, `encrypted_content` as
//! opaque data), `function_call` and `custom_tool_call` items, anything else generically. A `.done`
//! event carries the whole value and replaces what the deltas built, so arguments sent only in
//! `.done` count once and arguments sent both ways never twice (F18). The terminal event
//! (`response.completed` / `incomplete` / `failed`) brings usage, status and errors.

use super::{apply_error, array_at, openai_usage, parse_arguments, str_at, u64_at, Sink};
use crate::recording::record::{Assembled, ThinkingBlock, ToolCall, ToolResultRef};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// A complete `response` body (error bodies are handled by the caller).
pub(super) fn assemble(response: &Value, out: &mut Assembled) {
    let items = array_at(response, "output");
    for item in items {
        Item::from_json(item).finish(out);
    }
    apply_response(response, out);
}

/// Tool results the client sends back: `function_call_output` / `custom_tool_call_output` items.
/// The results this request brings back: outputs after the last model-produced item (an assistant
/// message or a tool call). With `previous_response_id` the input holds only new items anyway.
pub(super) fn tool_results(body: &Value, into: &mut Vec<ToolResultRef>) {
    let items: Vec<&Value> = array_at(body, "input").collect();
    let new_from = items
        .iter()
        .rposition(|i| {
            str_at(i, "role") == Some("assistant")
                || matches!(
                    str_at(i, "type"),
                    Some("function_call" | "custom_tool_call" | "reasoning")
                )
        })
        .map_or(0, |i| i + 1);
    let outputs = items[new_from..].iter().filter(|i| {
        matches!(
            str_at(i, "type"),
            Some("function_call_output" | "custom_tool_call_output")
        )
    });
    for item in outputs {
        into.push(ToolResultRef {
            tool_use_id: str_at(item, "call_id").unwrap_or_default().to_string(),
            is_error: None,
        });
    }
}

/// Id, model, usage, status and error of a `response` object (a body or a terminal event's).
fn apply_response(response: &Value, out: &mut Assembled) {
    if let Some(id) = str_at(response, "id") {
        out.id = Some(id.to_string());
    }
    if let Some(model) = str_at(response, "model") {
        out.model = Some(model.to_string());
    }
    if let Some(usage) = response.get("usage").filter(|u| u.is_object()) {
        out.usage = openai_usage(usage);
    }
    // `incomplete` says more with its reason (`max_output_tokens`, `content_filter`).
    let reason = response
        .get("incomplete_details")
        .and_then(|d| str_at(d, "reason"));
    if let Some(stop) = reason
        .or(str_at(response, "status"))
        .filter(|s| *s != "in_progress" && *s != "queued")
    {
        out.stop_reason = Some(stop.to_string());
    }
    if response.get("error").is_some_and(Value::is_object) {
        apply_error(out, response);
    }
}

#[derive(Debug)]
enum Item {
    /// Content parts by `content_index`: (text, is_refusal).
    Message {
        parts: BTreeMap<u64, (String, bool)>,
    },
    Reasoning {
        summary: BTreeMap<u64, String>,
        text: BTreeMap<u64, String>,
        encrypted: Option<String>,
    },
    Call {
        call_id: String,
        name: String,
        arguments: String,
        custom: bool,
    },
    Other(Value),
}

// === impl Item ===

impl Item {
    fn from_json(item: &Value) -> Self {
        let text = |key| str_at(item, key).unwrap_or_default().to_string();
        let texts = |key, part_type: &str| -> BTreeMap<u64, String> {
            let parts = array_at(item, key);
            let texts = parts
                .filter(|p| str_at(p, "type") == Some(part_type))
                .filter_map(|p| str_at(p, "text"));
            (0..).zip(texts.map(str::to_string)).collect()
        };
        match str_at(item, "type") {
            Some("message") => {
                let parts = array_at(item, "content");
                let parts = parts.filter_map(|part| match str_at(part, "type") {
                    Some("refusal") => Some((text_of(part, "refusal"), true)),
                    _ => str_at(part, "text").map(|t| (t.to_string(), false)),
                });
                Item::Message {
                    parts: (0..).zip(parts).collect(),
                }
            }
            Some("reasoning") => Item::Reasoning {
                summary: texts("summary", "summary_text"),
                text: texts("content", "reasoning_text"),
                encrypted: str_at(item, "encrypted_content").map(str::to_string),
            },
            Some(kind @ ("function_call" | "custom_tool_call")) => {
                let custom = kind == "custom_tool_call";
                let arguments = text(if custom { "input" } else { "arguments" });
                Item::Call {
                    call_id: text("call_id"),
                    name: text("name"),
                    arguments,
                    custom,
                }
            }
            _ => Item::Other(item.clone()),
        }
    }

    /// Whether it carries text, thinking or arguments (for the first-content stamp).
    fn has_content(&self) -> bool {
        match self {
            Item::Message { parts } => parts.values().any(|(t, _)| !t.is_empty()),
            Item::Reasoning { summary, text, .. } => {
                summary.values().chain(text.values()).any(|t| !t.is_empty())
            }
            Item::Call { arguments, .. } => !arguments.is_empty(),
            Item::Other(_) => false,
        }
    }

    fn finish(self, out: &mut Assembled) {
        match self {
            Item::Message { parts } => {
                for (text, refusal) in parts.into_values() {
                    if refusal {
                        out.other_blocks
                            .push(json!({ "type": "refusal", "refusal": text }));
                    } else {
                        out.text.push_str(&text);
                    }
                }
            }
            Item::Reasoning {
                summary,
                text,
                encrypted,
            } => {
                // The summary is what clients show; raw reasoning text only when there is no summary.
                let pick = if summary.values().any(|s| !s.is_empty()) {
                    summary
                } else {
                    text
                };
                let text = pick
                    .into_values()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n\n");
                if !text.is_empty() || encrypted.is_some() {
                    out.thinking.push(ThinkingBlock {
                        text,
                        signature: None,
                        redacted_data: encrypted,
                    });
                }
            }
            Item::Call {
                call_id,
                name,
                arguments,
                custom,
            } => {
                let input = if custom {
                    Value::String(arguments)
                } else {
                    parse_arguments(&arguments)
                };
                out.tool_calls.push(ToolCall {
                    id: call_id,
                    name,
                    input,
                });
            }
            Item::Other(item) => out.other_blocks.push(item),
        }
    }
}

fn text_of(value: &Value, key: &str) -> String {
    str_at(value, key).unwrap_or_default().to_string()
}

#[derive(Debug, Default)]
pub(super) struct Stream {
    items: BTreeMap<u64, Item>,
    /// `item_id` → `output_index`, for events that name only the item.
    ids: HashMap<String, u64>,
    /// The terminal event's `response`, applied at the end.
    terminal: Option<Value>,
}

// === impl Stream ===

impl Stream {
    pub(super) fn event(&mut self, sink: &mut Sink<'_>, kind: &str, data: &Value) {
        match kind {
            "response.created" | "response.in_progress" | "response.queued" => {
                if let Some(response) = data.get("response") {
                    sink.out.id = str_at(response, "id")
                        .map(str::to_string)
                        .or(sink.out.id.take());
                    sink.out.model = str_at(response, "model")
                        .map(str::to_string)
                        .or(sink.out.model.take());
                }
            }
            "response.output_item.added" | "response.output_item.done" => {
                let Some(json) = data.get("item") else { return };
                let index = self.index_of(data);
                if let Some(id) = str_at(json, "id") {
                    self.ids.insert(id.to_string(), index);
                }
                let item = Item::from_json(json);
                if item.has_content() {
                    sink.mark();
                }
                self.items.insert(index, item);
            }
            "response.output_text.delta" | "response.refusal.delta" => {
                let refusal = kind == "response.refusal.delta";
                let piece = str_at(data, "delta").unwrap_or_default();
                sink.content(piece);
                if let Some(part) = self.message_part(data, refusal) {
                    part.push_str(piece);
                }
            }
            "response.output_text.done" | "response.refusal.done" => {
                let refusal = kind == "response.refusal.done";
                let whole =
                    str_at(data, if refusal { "refusal" } else { "text" }).unwrap_or_default();
                sink.content(whole);
                if let Some(part) = self.message_part(data, refusal) {
                    *part = whole.to_string();
                }
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                let piece = str_at(data, "delta").unwrap_or_default();
                sink.content(piece);
                if let Some(part) = self.reasoning_part(kind, data) {
                    part.push_str(piece);
                }
            }
            "response.reasoning_summary_text.done" | "response.reasoning_text.done" => {
                let whole = str_at(data, "text").unwrap_or_default();
                sink.content(whole);
                if let Some(part) = self.reasoning_part(kind, data) {
                    *part = whole.to_string();
                }
            }
            "response.function_call_arguments.delta" | "response.custom_tool_call_input.delta" => {
                let piece = str_at(data, "delta").unwrap_or_default();
                sink.content(piece);
                if let Some(arguments) = self.call_arguments(kind, data) {
                    arguments.push_str(piece);
                }
            }
            "response.function_call_arguments.done" | "response.custom_tool_call_input.done" => {
                let key = if kind.starts_with("response.custom") {
                    "input"
                } else {
                    "arguments"
                };
                let Some(whole) = str_at(data, key) else {
                    return;
                };
                sink.content(whole);
                if let Some(arguments) = self.call_arguments(kind, data) {
                    *arguments = whole.to_string();
                }
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                self.terminal = data.get("response").cloned();
            }
            "error" => apply_error(sink.out, data),
            _ => {}
        }
    }

    pub(super) fn finish(self, out: &mut Assembled) {
        let streamed = !self.items.is_empty();
        for item in self.items.into_values() {
            item.finish(out);
        }
        if let Some(response) = self.terminal {
            if !streamed {
                // Nothing streamed item by item: the terminal event's output is all there is.
                for item in array_at(&response, "output") {
                    Item::from_json(item).finish(out);
                }
            }
            apply_response(&response, out);
        }
    }

    /// The item an event belongs to: its `output_index`, else its `item_id`, else the last item.
    fn index_of(&self, data: &Value) -> u64 {
        u64_at(data, "output_index")
            .or_else(|| str_at(data, "item_id").and_then(|id| self.ids.get(id).copied()))
            .unwrap_or_else(|| self.items.keys().next_back().copied().unwrap_or(0))
    }

    /// The item a delta or `.done` event belongs to, made (or remade) as `fresh`'s kind when the
    /// stream skipped its `output_item.added` or sent one of another kind.
    fn item_for(&mut self, data: &Value, fresh: impl FnOnce() -> Item) -> &mut Item {
        let index = self.index_of(data);
        let item = self
            .items
            .entry(index)
            .or_insert_with(|| Item::Other(Value::Null));
        let fresh = fresh();
        if std::mem::discriminant(item) != std::mem::discriminant(&fresh) {
            *item = fresh;
        }
        item
    }

    fn message_part(&mut self, data: &Value, refusal: bool) -> Option<&mut String> {
        let content_index = u64_at(data, "content_index").unwrap_or(0);
        match self.item_for(data, || Item::Message {
            parts: BTreeMap::new(),
        }) {
            Item::Message { parts } => Some(
                &mut parts
                    .entry(content_index)
                    .or_insert_with(|| (String::new(), refusal))
                    .0,
            ),
            _ => None,
        }
    }

    fn reasoning_part(&mut self, kind: &str, data: &Value) -> Option<&mut String> {
        let summary_part = kind.starts_with("response.reasoning_summary");
        let part_index = u64_at(
            data,
            if summary_part {
                "summary_index"
            } else {
                "content_index"
            },
        )
        .unwrap_or(0);
        let fresh = || Item::Reasoning {
            summary: BTreeMap::new(),
            text: BTreeMap::new(),
            encrypted: None,
        };
        match self.item_for(data, fresh) {
            Item::Reasoning { summary, .. } if summary_part => {
                Some(summary.entry(part_index).or_default())
            }
            Item::Reasoning { text, .. } => Some(text.entry(part_index).or_default()),
            _ => None,
        }
    }

    fn call_arguments(&mut self, kind: &str, data: &Value) -> Option<&mut String> {
        let custom = kind.starts_with("response.custom");
        let fresh = || Item::Call {
            call_id: String::new(),
            name: text_of(data, "name"),
            arguments: String::new(),
            custom,
        };
        match self.item_for(data, fresh) {
            Item::Call { arguments, .. } => Some(arguments),
            _ => None,
        }
    }
}
