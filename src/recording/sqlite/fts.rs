//! What the full-text index (`requests_fts`, migration 2) holds for one request: the text that is
//! NEW in it. Clients resend the whole conversation with every turn, so indexing the request body
//! as a whole would grow the index quadratically; instead each request contributes the items after
//! the last assistant turn of its conversation (the user's new message, the tool results it sends
//! back) plus what the response added (assistant text, thinking, tool-call inputs).
//!
//! Bounded: base64 payloads (images, documents, encrypted reasoning) are skipped, and a request
//! contributes at most `MAX_CHARS` characters.

use crate::recording::record::RequestRecord;
use serde_json::Value;

/// Characters of text indexed per request at most (past it, the rest is not searchable).
pub(super) const MAX_CHARS: usize = 64 * 1024;

/// Keys whose string values are never prose: ids, enums, binary payloads.
const SKIPPED_KEYS: &[&str] = &[
    "type",
    "role",
    "id",
    "tool_use_id",
    "call_id",
    "cache_control",
    "media_type",
    "data",
    "image_url",
    "file_data",
    "url",
    "signature",
    "encrypted_content",
    "status",
];

/// The text to index for `record`, or `None` when it has none.
pub(super) fn indexed_text(record: &RequestRecord) -> Option<String> {
    let mut out = Text::default();
    if let Ok(body) = serde_json::from_slice::<Value>(&record.request_body) {
        for item in new_items(&body) {
            out.walk(item, "");
        }
    }
    let response = &record.response;
    out.push(&response.text);
    for block in &response.thinking {
        out.push(&block.text);
    }
    for call in &response.tool_calls {
        out.push(&call.name);
        out.walk(&call.input, "");
    }
    (!out.0.trim().is_empty()).then_some(out.0)
}

/// The conversation items after the last one the assistant wrote (Anthropic and Chat `messages`,
/// Responses `input`, which may also be a bare string).
fn new_items(body: &Value) -> Vec<&Value> {
    let items = match body.get("messages").or_else(|| body.get("input")) {
        Some(Value::Array(items)) => items,
        Some(text @ Value::String(_)) => return vec![text],
        _ => return Vec::new(),
    };
    let from_assistant = |item: &Value| {
        item.get("role").and_then(Value::as_str) == Some("assistant")
            || matches!(
                item.get("type").and_then(Value::as_str),
                Some("function_call" | "reasoning" | "custom_tool_call")
            )
    };
    let start = items
        .iter()
        .rposition(from_assistant)
        .map_or(0, |last| last + 1);
    items[start..].iter().collect()
}

/// Text gathered so far, capped at `MAX_CHARS`.
#[derive(Default)]
struct Text(String);

impl Text {
    fn full(&self) -> bool {
        self.0.len() >= MAX_CHARS
    }

    fn push(&mut self, text: &str) {
        let text = text.trim();
        if text.is_empty() || self.full() || text.starts_with("data:") {
            return;
        }
        if !self.0.is_empty() {
            self.0.push('\n');
        }
        let room = MAX_CHARS.saturating_sub(self.0.len());
        let mut end = text.len().min(room);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.0.push_str(&text[..end]);
    }

    /// Every string leaf of `value` except those under `SKIPPED_KEYS`.
    fn walk(&mut self, value: &Value, key: &str) {
        if self.full() || SKIPPED_KEYS.contains(&key) {
            return;
        }
        match value {
            Value::String(s) => self.push(s),
            Value::Array(items) => items.iter().for_each(|v| self.walk(v, key)),
            Value::Object(map) => map.iter().for_each(|(k, v)| self.walk(v, k)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn items(body: Value) -> Vec<Value> {
        new_items(&body).into_iter().cloned().collect()
    }

    #[test]
    fn only_what_follows_the_last_assistant_turn() {
        let body = json!({"messages": [
            {"role": "user", "content": "old question"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "x", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "fresh"}]}
        ]});
        assert_eq!(items(body).len(), 1);
        let responses = json!({"input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "q"}]},
            {"type": "function_call", "call_id": "c", "name": "x", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "out"}
        ]});
        assert_eq!(items(responses)[0]["output"], "out");
        assert_eq!(items(json!({"input": "hello"})), vec![json!("hello")]);
    }

    #[test]
    fn skips_binary_and_ids_and_is_capped() {
        let mut text = Text::default();
        text.walk(
            &json!({"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo"}},
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "needle"}
            ]}),
            "",
        );
        assert_eq!(text.0, "needle");
        let mut big = Text::default();
        big.push(&"é".repeat(MAX_CHARS));
        assert!(big.0.len() <= MAX_CHARS && big.full());
    }
}
