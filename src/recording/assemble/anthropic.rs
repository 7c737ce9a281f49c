//! Anthropic Messages: a `message` JSON body, or its stream (`message_start` → content blocks with
//! their deltas → `message_delta` → `message_stop`, `ping` anywhere, `error` possibly after a 200;
//! WIRE.md "Anthropic streaming"). Blocks are kept by `index`; thinking text and signatures are kept
//! exactly (F6), `redacted_thinking` as opaque data (F7), unknown block types generically.
//! `message_delta` usage is cumulative: its figures replace `message_start`'s, never add (F15).

use super::{
    anthropic_usage, apply_error, array_at, new_messages, parse_arguments, str_at, u64_at, Sink,
};
use crate::recording::record::{Assembled, ThinkingBlock, ToolCall, ToolResultRef};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A complete `message` body (error bodies are handled by the caller).
pub(super) fn assemble(message: &Value, out: &mut Assembled) {
    out.id = str_at(message, "id").map(str::to_string);
    out.model = str_at(message, "model").map(str::to_string);
    out.stop_reason = str_at(message, "stop_reason").map(str::to_string);
    if let Some(usage) = message.get("usage").filter(|u| u.is_object()) {
        out.usage = anthropic_usage(usage);
    }
    let blocks = array_at(message, "content");
    for block in blocks {
        let text = |key| str_at(block, key).unwrap_or_default().to_string();
        match str_at(block, "type") {
            Some("text") => out.text.push_str(str_at(block, "text").unwrap_or_default()),
            Some("thinking") => out.thinking.push(ThinkingBlock {
                text: text("thinking"),
                signature: str_at(block, "signature").map(str::to_string),
                redacted_data: None,
            }),
            Some("redacted_thinking") => out.thinking.push(ThinkingBlock {
                text: String::new(),
                signature: None,
                redacted_data: Some(text("data")),
            }),
            Some("tool_use") => out.tool_calls.push(ToolCall {
                id: text("id"),
                name: text("name"),
                input: block
                    .get("input")
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Map::new())),
            }),
            _ => out.other_blocks.push(block.clone()),
        }
    }
}

/// Tool results the client sends back: `tool_result` blocks in the messages' content.
/// The results this request brings back: those after the last assistant message (older ones are
/// history the client resends every turn; listing them would grow with the conversation).
pub(super) fn tool_results(body: &Value, into: &mut Vec<ToolResultRef>) {
    let blocks = new_messages(body)
        .iter()
        .flat_map(|m| array_at(m, "content"));
    for block in blocks.filter(|b| str_at(b, "type") == Some("tool_result")) {
        into.push(ToolResultRef {
            tool_use_id: str_at(block, "tool_use_id").unwrap_or_default().to_string(),
            // Absent means false in the Messages API.
            is_error: Some(
                block
                    .get("is_error")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            ),
        });
    }
}

#[derive(Debug)]
enum Block {
    Text(String),
    Thinking {
        text: String,
        signature: String,
    },
    Redacted(String),
    ToolUse {
        id: String,
        name: String,
        start_input: Value,
        json: String,
    },
    /// Any other block type: its `content_block_start` object, `input_json_delta`s joined into
    /// `json` (becomes `input`), other deltas appended to a `deltas` array.
    Other {
        block: Value,
        json: String,
    },
}

#[derive(Debug, Default)]
pub(super) struct Stream {
    blocks: BTreeMap<u64, Block>,
    /// `message_start` usage with every later `message_delta` usage field written over it.
    usage: Map<String, Value>,
}

// === impl Stream ===

impl Stream {
    pub(super) fn event(&mut self, sink: &mut Sink<'_>, kind: &str, data: &Value) {
        match kind {
            "message_start" => {
                let Some(message) = data.get("message") else {
                    return;
                };
                sink.out.id = str_at(message, "id")
                    .map(str::to_string)
                    .or(sink.out.id.take());
                sink.out.model = str_at(message, "model")
                    .map(str::to_string)
                    .or(sink.out.model.take());
                self.merge_usage(message.get("usage"));
            }
            "content_block_start" => {
                let Some(block) = data.get("content_block") else {
                    return;
                };
                let next = self
                    .blocks
                    .keys()
                    .next_back()
                    .map_or(0, |last| last.saturating_add(1));
                let index = u64_at(data, "index").unwrap_or(next);
                let text = |key| str_at(block, key).unwrap_or_default().to_string();
                let block = match str_at(block, "type") {
                    Some("text") => Block::Text(text("text")),
                    Some("thinking") => Block::Thinking {
                        text: text("thinking"),
                        signature: text("signature"),
                    },
                    Some("redacted_thinking") => Block::Redacted(text("data")),
                    Some("tool_use") => Block::ToolUse {
                        id: text("id"),
                        name: text("name"),
                        start_input: block.get("input").cloned().unwrap_or(Value::Null),
                        json: String::new(),
                    },
                    _ => Block::Other {
                        block: block.clone(),
                        json: String::new(),
                    },
                };
                match &block {
                    Block::Text(t) | Block::Thinking { text: t, .. } | Block::Redacted(t) => {
                        sink.content(t)
                    }
                    _ => {}
                }
                self.blocks.insert(index, block);
            }
            "content_block_delta" => {
                let Some(delta) = data.get("delta") else {
                    return;
                };
                self.delta(sink, self.index_of(data), delta);
            }
            "message_delta" => {
                if let Some(reason) = data.get("delta").and_then(|d| str_at(d, "stop_reason")) {
                    sink.out.stop_reason = Some(reason.to_string());
                }
                self.merge_usage(data.get("usage"));
            }
            "error" => apply_error(sink.out, data),
            // `ping`, `content_block_stop`, `message_stop` and future events carry nothing to keep.
            _ => {}
        }
    }

    fn delta(&mut self, sink: &mut Sink<'_>, index: u64, delta: &Value) {
        let field = |key| str_at(delta, key).unwrap_or_default();
        let kind = str_at(delta, "type").unwrap_or_default();
        // A delta without its `content_block_start` still counts: open a block of its kind.
        let block = self.blocks.entry(index).or_insert_with(|| match kind {
            "text_delta" => Block::Text(String::new()),
            "thinking_delta" | "signature_delta" => Block::Thinking {
                text: String::new(),
                signature: String::new(),
            },
            "input_json_delta" => Block::ToolUse {
                id: String::new(),
                name: String::new(),
                start_input: Value::Null,
                json: String::new(),
            },
            _ => Block::Other {
                block: Value::Object(Map::new()),
                json: String::new(),
            },
        });
        match (kind, block) {
            ("text_delta", Block::Text(text)) => {
                sink.content(field("text"));
                text.push_str(field("text"));
            }
            ("thinking_delta", Block::Thinking { text, .. }) => {
                sink.content(field("thinking"));
                text.push_str(field("thinking"));
            }
            ("signature_delta", Block::Thinking { signature, .. }) => {
                signature.push_str(field("signature"))
            }
            ("input_json_delta", Block::ToolUse { json, .. } | Block::Other { json, .. }) => {
                sink.content(field("partial_json"));
                json.push_str(field("partial_json"));
            }
            // Citations annotate text already recorded.
            ("citations_delta", Block::Text(_)) => {}
            (
                _,
                Block::Other {
                    block: Value::Object(object),
                    ..
                },
            ) => {
                let deltas = object
                    .entry("deltas")
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(deltas) = deltas {
                    deltas.push(delta.clone());
                }
            }
            // A delta that does not fit its block (a provider bug) is not worth failing over.
            _ => {}
        }
    }

    pub(super) fn finish(self, out: &mut Assembled) {
        for block in self.blocks.into_values() {
            match block {
                Block::Text(text) => out.text.push_str(&text),
                Block::Thinking { text, signature } => out.thinking.push(ThinkingBlock {
                    text,
                    signature: (!signature.is_empty()).then_some(signature),
                    redacted_data: None,
                }),
                Block::Redacted(data) => out.thinking.push(ThinkingBlock {
                    text: String::new(),
                    signature: None,
                    redacted_data: Some(data),
                }),
                Block::ToolUse {
                    id,
                    name,
                    start_input,
                    json,
                } => {
                    let input = if json.is_empty() && !start_input.is_null() {
                        start_input
                    } else {
                        parse_arguments(&json)
                    };
                    out.tool_calls.push(ToolCall { id, name, input });
                }
                Block::Other { mut block, json } => {
                    if let (false, Value::Object(object)) = (json.is_empty(), &mut block) {
                        object.insert("input".to_string(), parse_arguments(&json));
                    }
                    out.other_blocks.push(block);
                }
            }
        }
        if !self.usage.is_empty() {
            // The merged object: `message_start`'s input and cache figures with the last
            // `message_delta`'s output over them (the delta alone holds only output_tokens).
            out.usage = anthropic_usage(&Value::Object(self.usage));
        }
    }

    fn merge_usage(&mut self, usage: Option<&Value>) {
        let Some(Value::Object(fields)) = usage else {
            return;
        };
        for (key, value) in fields {
            if !value.is_null() {
                self.usage.insert(key.clone(), value.clone());
            }
        }
    }

    /// The block a delta belongs to; one without an index continues the last block.
    fn index_of(&self, data: &Value) -> u64 {
        u64_at(data, "index")
            .unwrap_or_else(|| self.blocks.keys().next_back().copied().unwrap_or(0))
    }
}
