//! What is open in a stream, per dialect, until it is complete enough for its line: Anthropic
//! content blocks (shown at `content_block_stop`), Chat choice 0 (shown at its `finish_reason`),
//! Responses output items (shown from `output_item.done`, which carries the whole item).

use super::lines::{
    other_line, preview, text_line, thinking_line, tool_line, Preview, PREVIEW_CHARS,
};
use crate::recording::assemble::Api;
use serde_json::Value;
use std::collections::BTreeMap;

/// What is open in the stream, per dialect, until it is complete enough for its line.
pub(super) enum Blocks {
    /// `Api::Other` until an event shows the dialect.
    Unknown,
    /// Anthropic content blocks by index, shown at `content_block_stop`.
    Messages(BTreeMap<u64, Block>),
    /// Chat choice 0, shown at its `finish_reason`.
    Chat {
        text: Preview,
        reasoning: usize,
        tools: BTreeMap<u64, (String, String)>,
    },
    /// Responses output items are shown from `output_item.done`, which carries each whole item;
    /// `shown` counts them, for a stream whose items came only in its terminal event.
    Responses { shown: usize },
}

pub(super) enum Block {
    Text(Preview),
    Thinking {
        chars: usize,
        redacted: bool,
    },
    Tool {
        label: &'static str,
        name: String,
        start: Value,
        json: String,
    },
    Other(String),
}

// === impl Blocks ===

impl Blocks {
    pub(super) fn for_api(api: Api) -> Self {
        match api {
            Api::Messages => Self::Messages(BTreeMap::new()),
            Api::ChatCompletions => Self::chat(),
            Api::Responses => Self::Responses { shown: 0 },
            Api::Other => Self::Unknown,
        }
    }

    fn chat() -> Self {
        Self::Chat {
            text: Preview::default(),
            reasoning: 0,
            tools: BTreeMap::new(),
        }
    }

    /// One event; returns the lines of whatever it completed.
    pub(super) fn event(&mut self, kind: &str, data: &Value) -> Vec<String> {
        if let Self::Unknown = self {
            if kind.starts_with("response.") {
                *self = Self::Responses { shown: 0 };
            } else if kind.starts_with("message_") || kind.starts_with("content_block_") {
                *self = Self::Messages(BTreeMap::new());
            } else if data.get("choices").is_some() {
                *self = Self::chat();
            }
        }
        match self {
            Self::Unknown => Vec::new(),
            Self::Messages(blocks) => messages_event(blocks, kind, data),
            Self::Chat { .. } => {
                let done = chat_event(self, data);
                if done {
                    std::mem::replace(self, Self::chat()).finish()
                } else {
                    Vec::new()
                }
            }
            Self::Responses { shown } => match kind {
                "response.output_item.done" => {
                    *shown += 1;
                    data.get("item").map(item_lines).unwrap_or_default()
                }
                "response.completed" | "response.incomplete" | "response.failed" if *shown == 0 => {
                    let output = data.get("response").and_then(|r| r.get("output"));
                    let items = output
                        .and_then(Value::as_array)
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    *shown = items.len();
                    items.iter().flat_map(item_lines).collect()
                }
                _ => Vec::new(),
            },
        }
    }

    /// The end of the stream: lines for what is still open.
    pub(super) fn finish(self) -> Vec<String> {
        match self {
            Self::Unknown | Self::Responses { .. } => Vec::new(),
            Self::Messages(blocks) => blocks.into_values().filter_map(Block::line).collect(),
            Self::Chat {
                text,
                reasoning,
                tools,
            } => {
                let thinking = (reasoning > 0).then(|| thinking_line(reasoning, false));
                let calls = tools.into_values().map(|(name, arguments)| {
                    tool_line("tool", &name, &arguments_value(&arguments, &Value::Null))
                });
                thinking
                    .into_iter()
                    .chain(text.line())
                    .chain(calls)
                    .collect()
            }
        }
    }
}

fn messages_event(blocks: &mut BTreeMap<u64, Block>, kind: &str, data: &Value) -> Vec<String> {
    let last = blocks.keys().next_back().copied().unwrap_or(0);
    let index = data.get("index").and_then(Value::as_u64).unwrap_or(last);
    let str_of = |v: &Value, key: &str| {
        v.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    match kind {
        "content_block_start" => {
            let Some(block) = data.get("content_block") else {
                return Vec::new();
            };
            let opened = match block
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
            {
                "text" => {
                    let mut text = Preview::default();
                    text.push(&str_of(block, "text"));
                    Block::Text(text)
                }
                "thinking" => Block::Thinking {
                    chars: str_of(block, "thinking").chars().count(),
                    redacted: false,
                },
                "redacted_thinking" => Block::Thinking {
                    chars: 0,
                    redacted: true,
                },
                kind @ ("tool_use" | "server_tool_use") => Block::Tool {
                    label: if kind == "tool_use" {
                        "tool"
                    } else {
                        "server_tool"
                    },
                    name: str_of(block, "name"),
                    start: block.get("input").cloned().unwrap_or(Value::Null),
                    json: String::new(),
                },
                other => Block::Other(other.to_string()),
            };
            blocks.insert(index, opened);
        }
        "content_block_delta" => {
            let Some(delta) = data.get("delta") else {
                return Vec::new();
            };
            let piece = |key| delta.get(key).and_then(Value::as_str).unwrap_or_default();
            match (
                delta.get("type").and_then(Value::as_str),
                blocks.get_mut(&index),
            ) {
                (Some("text_delta"), Some(Block::Text(text))) => text.push(piece("text")),
                (Some("thinking_delta"), Some(Block::Thinking { chars, .. })) => {
                    *chars += piece("thinking").chars().count()
                }
                (Some("input_json_delta"), Some(Block::Tool { json, .. })) => {
                    json.push_str(piece("partial_json"))
                }
                _ => {}
            }
        }
        "content_block_stop" => {
            return blocks
                .remove(&index)
                .and_then(Block::line)
                .into_iter()
                .collect()
        }
        _ => {}
    }
    Vec::new()
}

/// Applies one Chat chunk; true when choice 0 finished.
fn chat_event(blocks: &mut Blocks, chunk: &Value) -> bool {
    let Blocks::Chat {
        text,
        reasoning,
        tools,
    } = blocks
    else {
        return false;
    };
    let choices = chunk
        .get("choices")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let Some(choice) = choices
        .iter()
        .find(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0)
    else {
        return false;
    };
    if let Some(delta) = choice.get("delta") {
        let str_at = |key| delta.get(key).and_then(Value::as_str);
        if let Some(piece) = str_at("content") {
            text.push(piece);
        }
        if let Some(piece) = str_at("reasoning_content").or(str_at("reasoning")) {
            *reasoning += piece.chars().count();
        }
        let calls = delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for (position, call) in calls.iter().enumerate() {
            let index = call
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(position as u64);
            let (name, arguments) = tools.entry(index).or_default();
            let function = call.get("function").or(call.get("custom"));
            let field = |key| function.and_then(|f| f.get(key)).and_then(Value::as_str);
            if let Some(n) = field("name").filter(|n| !n.is_empty()) {
                *name = n.to_string();
            }
            arguments.push_str(field("arguments").or(field("input")).unwrap_or_default());
        }
    }
    choice.get("finish_reason").is_some_and(|r| !r.is_null())
}

/// The lines of one whole Responses output item.
fn item_lines(item: &Value) -> Vec<String> {
    let str_at = |key| item.get(key).and_then(Value::as_str).unwrap_or_default();
    let parts = |key| {
        item.get(key)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
    };
    match str_at("type") {
        "message" => parts("content")
            .iter()
            .filter_map(|part| match part.get("type").and_then(Value::as_str) {
                Some("refusal") => {
                    let refusal = part
                        .get("refusal")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    Some(format!("refusal \"{}\"", preview(refusal, PREVIEW_CHARS)))
                }
                _ => {
                    let text = part.get("text").and_then(Value::as_str)?;
                    Some(text_line(text, text.chars().count()))
                }
            })
            .collect(),
        "reasoning" => {
            let summary = parts("summary")
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str));
            let chars = summary.map(|s| s.chars().count()).sum();
            vec![thinking_line(
                chars,
                item.get("encrypted_content").is_some_and(Value::is_string),
            )]
        }
        "function_call" => {
            vec![tool_line(
                "tool",
                str_at("name"),
                &arguments_value(str_at("arguments"), &Value::Null),
            )]
        }
        "custom_tool_call" => vec![tool_line(
            "tool",
            str_at("name"),
            &Value::String(str_at("input").to_string()),
        )],
        _ => vec![other_line(item)],
    }
}

/// Streamed tool arguments as JSON (a string when they do not parse; `start` when none came).
fn arguments_value(json: &str, start: &Value) -> Value {
    if json.trim().is_empty() {
        return match start {
            Value::Null => Value::Object(serde_json::Map::new()),
            start => start.clone(),
        };
    }
    serde_json::from_str(json).unwrap_or_else(|_| Value::String(json.to_string()))
}

// === impl Block ===

impl Block {
    fn line(self) -> Option<String> {
        match self {
            Block::Text(text) => text.line(),
            Block::Thinking { chars, redacted } => Some(thinking_line(chars, redacted)),
            Block::Tool {
                label,
                name,
                start,
                json,
            } => Some(tool_line(label, &name, &arguments_value(&json, &start))),
            Block::Other(kind) => Some(format!("block {kind}")),
        }
    }
}
