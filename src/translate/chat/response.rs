//! Non-streaming (JSON) answers, both directions: a Chat Completions `chat.completion` as an
//! Anthropic `message`, and an Anthropic `message` as a `chat.completion`. Every decision is
//! listed in `chat/mod.rs`.

use super::json::{finish_from_stop_reason, invalid, parse_object, stop_reason_from_finish, Usage};
use crate::translate::{ClientView, TranslateError};
use serde_json::{json, Value};

/// Chat provider answer -> Anthropic client.
pub(crate) fn chat_to_anthropic(body: &[u8], view: &ClientView) -> Result<Vec<u8>, TranslateError> {
    let resp = parse_object(body)?;
    if resp.contains_key("error") {
        return Err(invalid("the provider answered 2xx with an error object"));
    }
    let choice = resp
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or_else(|| invalid("the provider answer has no choices"))?;
    let message = choice.get("message").unwrap_or(&Value::Null);
    let mut content = Vec::new();
    // `reasoning_content` / `reasoning` are omitted: a thinking block needs a signature only
    // Anthropic can make.
    let text = message.get("content").and_then(Value::as_str).unwrap_or("");
    if !text.is_empty() {
        content.push(json!({"type": "text", "text": text}));
    }
    let refusal = message
        .get("refusal")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty());
    if let Some(r) = refusal {
        content.push(json!({"type": "text", "text": r}));
    }
    let calls = message
        .get("tool_calls")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let finish = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .unwrap_or("stop");
    for (j, call) in calls.iter().enumerate() {
        let name = call
            .pointer("/function/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if name.is_empty() {
            return Err(invalid(&format!("tool call {j} has no function name")));
        }
        let id = match call.get("id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => synthetic_tool_id(resp.get("id"), j),
        };
        let args = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or("");
        // "" is a zero-argument call (F17); anything else must be the object the tool takes.
        let input = if args.trim().is_empty() {
            json!({})
        } else {
            match serde_json::from_str::<Value>(args) {
                Ok(v @ Value::Object(_)) => v,
                // Cut off by the token limit: the call cannot run, and `max_tokens` tells the
                // client the answer is incomplete (Anthropic's own cut-off calls are not runnable
                // either).
                _ if finish == "length" => continue,
                _ => {
                    return Err(invalid(&format!(
                        "tool call `{id}` arguments are not a JSON object"
                    )))
                }
            }
        };
        content.push(json!({"type": "tool_use", "id": id, "name": name, "input": input}));
    }
    let stop_reason = stop_reason_from_finish(finish, !calls.is_empty(), refusal.is_some())
        .map_err(|e| invalid(&e))?;
    let usage = resp.get("usage").map(Usage::from_chat).unwrap_or_default();
    let out = json!({
        "id": message_id(resp.get("id")),
        "type": "message",
        "role": "assistant",
        "model": view.model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": usage.to_anthropic(),
    });
    serde_json::to_vec(&out).map_err(|e| invalid(&e.to_string()))
}

/// Anthropic provider answer -> Chat client. `created` is the answer's timestamp (injected so
/// tests are deterministic).
pub(crate) fn anthropic_to_chat(
    body: &[u8],
    view: &ClientView,
    created: u64,
) -> Result<Vec<u8>, TranslateError> {
    let resp = parse_object(body)?;
    if resp.get("type").and_then(Value::as_str) == Some("error") {
        return Err(invalid("the provider answered 2xx with an error object"));
    }
    let blocks = resp
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("the provider answer has no content array"))?;
    let mut text = String::new();
    let mut calls = Vec::new();
    for block in blocks {
        match block.get("type").and_then(Value::as_str) {
            // Citations split one answer into several text blocks: they join with nothing between.
            Some("text") => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("tool_use") => {
                let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                let arguments =
                    serde_json::to_string(&input).map_err(|e| invalid(&e.to_string()))?;
                calls.push(json!({
                    "id": block.get("id").cloned().unwrap_or(Value::Null),
                    "type": "function",
                    "function": {"name": block.get("name").cloned().unwrap_or(Value::Null), "arguments": arguments},
                }));
            }
            // Thinking is not turned into `reasoning_content` (it would be invented for clients
            // that never asked); server-tool blocks cannot occur for a translated request.
            _ => {}
        }
    }
    let stop = resp
        .get("stop_reason")
        .and_then(Value::as_str)
        .unwrap_or("end_turn");
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { Value::String(text) },
        "refusal": null,
    });
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    let mut usage = Usage::default();
    if let Some(u) = resp.get("usage") {
        usage.merge_anthropic(u);
    }
    let out = json!({
        "id": chat_id(resp.get("id")),
        "object": "chat.completion",
        "created": created,
        "model": view.model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_from_stop_reason(stop),
        }],
        "usage": usage.to_chat(),
    });
    serde_json::to_vec(&out).map_err(|e| invalid(&e.to_string()))
}

/// The provider's id, prefixed so the client sees its own dialect's kind of id while the two can
/// still be matched in logs.
pub(super) fn message_id(provider_id: Option<&Value>) -> String {
    format!(
        "msg_{}",
        provider_id.and_then(Value::as_str).unwrap_or("translated")
    )
}

pub(super) fn chat_id(provider_id: Option<&Value>) -> String {
    format!(
        "chatcmpl-{}",
        provider_id.and_then(Value::as_str).unwrap_or("translated")
    )
}

/// Some OpenAI-compatible servers send tool calls without ids; Anthropic clients need one to
/// answer with a `tool_result`.
pub(super) fn synthetic_tool_id(provider_id: Option<&Value>, n: usize) -> String {
    format!(
        "toolu_{}_{n}",
        provider_id.and_then(Value::as_str).unwrap_or("translated")
    )
}
