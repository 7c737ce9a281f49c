//! OpenAI Chat Completions: a `chat.completion` body, or its `chat.completion.chunk` stream (WIRE.md
//! "OpenAI Chat Completions streaming"): text deltas, `tool_calls` deltas keyed by `index` whose
//! `arguments` arrive in pieces, `finish_reason`, and with `stream_options.include_usage` a last
//! chunk with `"choices": []` and `usage` (F16). Only choice 0 is assembled (clients that stream ask
//! for one choice). `reasoning_content` (DeepSeek and other compatible servers) is kept as thinking.

use super::{
    apply_error, array_at, new_messages, openai_usage, parse_arguments, str_at, u64_at, Sink,
};
use crate::recording::record::{Assembled, ThinkingBlock, ToolCall, ToolResultRef};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A complete `chat.completion` body (error bodies are handled by the caller).
pub(super) fn assemble(completion: &Value, out: &mut Assembled) {
    out.id = str_at(completion, "id").map(str::to_string);
    out.model = str_at(completion, "model").map(str::to_string);
    if let Some(usage) = completion.get("usage").filter(|u| u.is_object()) {
        out.usage = openai_usage(usage);
    }
    let Some(choice) = first_choice(completion) else {
        return;
    };
    out.stop_reason = str_at(choice, "finish_reason").map(str::to_string);
    let Some(message) = choice.get("message") else {
        return;
    };
    match message.get("content") {
        Some(Value::String(text)) => out.text.push_str(text),
        // Content as an array of parts (some compatible servers).
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| str_at(p, "text"))
            .for_each(|t| out.text.push_str(t)),
        _ => {}
    }
    if let Some(reasoning) = reasoning_of(message) {
        out.thinking.push(ThinkingBlock {
            text: reasoning.to_string(),
            signature: None,
            redacted_data: None,
        });
    }
    if let Some(refusal) = str_at(message, "refusal").filter(|r| !r.is_empty()) {
        out.other_blocks
            .push(json!({ "type": "refusal", "refusal": refusal }));
    }
    for call in array_at(message, "tool_calls") {
        let mut tool = Tool::default();
        tool.apply(call);
        out.tool_calls.push(tool.into_call());
    }
}

/// Tool results the client sends back: `role: "tool"` messages.
/// The results this request brings back: `tool` messages after the last assistant message.
pub(super) fn tool_results(body: &Value, into: &mut Vec<ToolResultRef>) {
    for message in new_messages(body)
        .iter()
        .filter(|m| str_at(m, "role") == Some("tool"))
    {
        let tool_use_id = str_at(message, "tool_call_id")
            .unwrap_or_default()
            .to_string();
        into.push(ToolResultRef {
            tool_use_id,
            is_error: None,
        });
    }
}

fn first_choice(value: &Value) -> Option<&Value> {
    let choices = value.get("choices")?.as_array()?;
    choices
        .iter()
        .find(|c| u64_at(c, "index").unwrap_or(0) == 0)
}

fn reasoning_of(message: &Value) -> Option<&str> {
    str_at(message, "reasoning_content")
        .or(str_at(message, "reasoning"))
        .filter(|r| !r.is_empty())
}

/// One tool call, whole or assembled from deltas: `function` (JSON arguments) or `custom`
/// (free-form text input).
#[derive(Debug, Default)]
struct Tool {
    id: String,
    name: String,
    arguments: String,
    /// Arguments given as a JSON object instead of a string (some compatible servers).
    object: Option<Value>,
    custom: bool,
}

impl Tool {
    /// Applies a whole call or a delta: ids and names are set (some servers repeat them in every
    /// delta), argument pieces appended. Returns the argument piece.
    fn apply<'v>(&mut self, call: &'v Value) -> &'v str {
        if let Some(id) = str_at(call, "id").filter(|id| !id.is_empty()) {
            self.id = id.to_string();
        }
        let (function, key) = match (call.get("function"), call.get("custom")) {
            (Some(function), _) => (function, "arguments"),
            (None, Some(custom)) => {
                self.custom = true;
                (custom, "input")
            }
            (None, None) => return "",
        };
        if let Some(name) = str_at(function, "name").filter(|n| !n.is_empty()) {
            self.name = name.to_string();
        }
        match function.get(key) {
            Some(Value::String(piece)) => {
                self.arguments.push_str(piece);
                piece
            }
            Some(object @ Value::Object(_)) => {
                self.object = Some(object.clone());
                ""
            }
            _ => "",
        }
    }

    fn into_call(self) -> ToolCall {
        let input = match (self.object, self.custom) {
            (Some(object), _) => object,
            (None, true) => Value::String(self.arguments),
            (None, false) => parse_arguments(&self.arguments),
        };
        ToolCall {
            id: self.id,
            name: self.name,
            input,
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Stream {
    text: String,
    reasoning: String,
    refusal: String,
    tools: BTreeMap<u64, Tool>,
    usage: Option<Value>,
}

// === impl Stream ===

impl Stream {
    pub(super) fn event(&mut self, sink: &mut Sink<'_>, chunk: &Value) {
        if chunk.get("error").is_some_and(|e| !e.is_null()) {
            apply_error(sink.out, chunk);
        }
        if sink.out.id.is_none() {
            sink.out.id = str_at(chunk, "id").map(str::to_string);
        }
        if sink.out.model.is_none() {
            sink.out.model = str_at(chunk, "model").map(str::to_string);
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(usage.clone());
        }
        let Some(choice) = first_choice(chunk) else {
            return;
        };
        if let Some(reason) = str_at(choice, "finish_reason") {
            sink.out.stop_reason = Some(reason.to_string());
        }
        let Some(delta) = choice.get("delta") else {
            return;
        };
        if let Some(text) = str_at(delta, "content") {
            sink.content(text);
            self.text.push_str(text);
        }
        if let Some(reasoning) = reasoning_of(delta) {
            sink.content(reasoning);
            self.reasoning.push_str(reasoning);
        }
        if let Some(refusal) = str_at(delta, "refusal") {
            sink.content(refusal);
            self.refusal.push_str(refusal);
        }
        let calls = array_at(delta, "tool_calls");
        for (position, call) in calls.enumerate() {
            let index = u64_at(call, "index").unwrap_or(position as u64);
            let piece = self.tools.entry(index).or_default().apply(call);
            sink.content(piece);
        }
    }

    pub(super) fn finish(self, out: &mut Assembled) {
        out.text.push_str(&self.text);
        if !self.reasoning.is_empty() {
            out.thinking.push(ThinkingBlock {
                text: self.reasoning,
                signature: None,
                redacted_data: None,
            });
        }
        if !self.refusal.is_empty() {
            out.other_blocks
                .push(json!({ "type": "refusal", "refusal": self.refusal }));
        }
        out.tool_calls
            .extend(self.tools.into_values().map(Tool::into_call));
        if let Some(usage) = self.usage {
            out.usage = openai_usage(&usage);
        }
    }
}
