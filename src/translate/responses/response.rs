//! A non-streaming OpenAI Responses answer (2xx JSON `response` object) -> an Anthropic `message`.
//! Shared with the stream translator: the stop-reason and usage rules live here once.

use super::super::{ClientView, TranslateError};
use serde_json::{json, Value};

/// Translates a Responses `response` object into an Anthropic message for the client.
pub(crate) fn translate(body: &[u8], view: &ClientView) -> Result<Vec<u8>, TranslateError> {
    let resp: Value = serde_json::from_slice(body)
        .map_err(|e| TranslateError::Invalid(format!("provider answer is not JSON: {e}")))?;
    let status = resp.get("status").and_then(Value::as_str).unwrap_or("");
    match status {
        "completed" | "incomplete" => {}
        // A 2xx carrying a failed (or unfinished, background) response is not an answer: the
        // proxy reports it as an error rather than an empty success.
        "failed" => {
            let message = resp
                .pointer("/error/message")
                .and_then(Value::as_str)
                .unwrap_or("the provider reported the response as failed");
            return Err(TranslateError::Invalid(format!(
                "provider response failed: {message}"
            )));
        }
        other => {
            return Err(TranslateError::Invalid(format!(
                "provider response has status `{other}`, not a finished answer"
            )))
        }
    }

    let mut content = Vec::new();
    let mut saw_tool = false;
    let mut saw_refusal = false;
    for item in resp
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                for part in item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let text = match part.get("type").and_then(Value::as_str) {
                        Some("output_text") => part.get("text").and_then(Value::as_str),
                        Some("refusal") => {
                            saw_refusal = true;
                            part.get("refusal").and_then(Value::as_str)
                        }
                        _ => None,
                    };
                    if let Some(text) = text.filter(|t| !t.is_empty()) {
                        content.push(json!({"type": "text", "text": text}));
                    }
                }
            }
            Some("function_call") => {
                saw_tool = true;
                let args = item.get("arguments").and_then(Value::as_str).unwrap_or("");
                content.push(json!({
                    "type": "tool_use",
                    "id": item.get("call_id").and_then(Value::as_str).unwrap_or(""),
                    "name": item.get("name").and_then(Value::as_str).unwrap_or(""),
                    "input": parse_arguments(args)?,
                }));
            }
            // Reasoning items (and their summaries) are omitted: see the module docs.
            _ => {}
        }
    }

    let stop = stop_reason(
        status,
        resp.pointer("/incomplete_details/reason")
            .and_then(Value::as_str),
        saw_tool,
        saw_refusal,
    );
    let message = json!({
        "id": message_id(resp.get("id").and_then(Value::as_str)),
        "type": "message",
        "role": "assistant",
        "model": view.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": null,
        "usage": usage(resp.get("usage")),
    });
    serde_json::to_vec(&message).map_err(|e| TranslateError::Invalid(e.to_string()))
}

/// Function-call arguments (a JSON string) -> the tool input object. Empty means no arguments
/// (`{}`, F17); anything that is not a JSON object is refused rather than invented.
pub(super) fn parse_arguments(args: &str) -> Result<Value, TranslateError> {
    if args.trim().is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_str::<Value>(args) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(TranslateError::Invalid(format!(
            "function call arguments are not a JSON object: {args}"
        ))),
    }
}

/// Anthropic message id for a Responses id: the same suffix under Anthropic's `msg_` prefix, so
/// a recorded exchange can be matched to the provider's logs.
pub(super) fn message_id(response_id: Option<&str>) -> String {
    let id = response_id.unwrap_or("unknown");
    format!("msg_{}", id.strip_prefix("resp_").unwrap_or(id))
}

/// Stop reason from the terminal status. `incomplete` is never reported as success:
/// `max_output_tokens` (and an unknown reason) -> `max_tokens`, `content_filter` -> `refusal`.
pub(super) fn stop_reason(
    status: &str,
    incomplete_reason: Option<&str>,
    saw_tool: bool,
    saw_refusal: bool,
) -> &'static str {
    if status == "incomplete" {
        return match incomplete_reason {
            Some("content_filter") => "refusal",
            _ => "max_tokens",
        };
    }
    if saw_tool {
        "tool_use"
    } else if saw_refusal {
        "refusal"
    } else {
        "end_turn"
    }
}

/// Responses usage -> Anthropic usage. OpenAI's `input_tokens` includes cached tokens,
/// Anthropic's excludes cache reads; output includes reasoning tokens (they are billed).
pub(super) fn usage(usage: Option<&Value>) -> Value {
    let get = |p: &str| {
        usage
            .and_then(|u| u.pointer(p))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let input = get("/input_tokens");
    let cached = get("/input_tokens_details/cached_tokens");
    json!({
        "input_tokens": input.saturating_sub(cached),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
        "output_tokens": get("/output_tokens"),
    })
}
