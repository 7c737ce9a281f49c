//! Small JSON helpers shared by the chat translators: taking fields out of a parsed body (so what
//! is left over is, by construction, a field nobody mapped), the two error constructors, and usage
//! and stop-reason conversions that both directions and both body kinds (JSON, stream) share.

use crate::translate::errors::Kind;
use crate::translate::TranslateError;
use serde_json::{json, Map, Value};

pub(super) type Obj = Map<String, Value>;

/// The body as a JSON object, or `Invalid`.
pub(super) fn parse_object(body: &[u8]) -> Result<Obj, TranslateError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(obj)) => Ok(obj),
        Ok(_) => Err(invalid("the body is not a JSON object")),
        Err(e) => Err(invalid(&format!("the body is not valid JSON: {e}"))),
    }
}

pub(super) fn invalid(msg: &str) -> TranslateError {
    TranslateError::Invalid(msg.to_string())
}

pub(super) fn unmappable(field: impl Into<String>, reason: impl Into<String>) -> TranslateError {
    TranslateError::Unmappable {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Removes `key`; an explicit `null` counts as absent (OpenAI SDKs send `"stop": null` and such).
pub(super) fn take(obj: &mut Obj, key: &str) -> Option<Value> {
    obj.remove(key).filter(|v| !v.is_null())
}

/// Removes `key`, which must be a string when present.
pub(super) fn take_str(
    obj: &mut Obj,
    key: &str,
    path: &str,
) -> Result<Option<String>, TranslateError> {
    match take(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(&format!("`{path}{key}` must be a string"))),
    }
}

/// Removes `key`, which must be an array when present.
pub(super) fn take_array(
    obj: &mut Obj,
    key: &str,
    path: &str,
) -> Result<Option<Vec<Value>>, TranslateError> {
    match take(obj, key) {
        None => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(_) => Err(invalid(&format!("`{path}{key}` must be an array"))),
    }
}

/// `value` as an object, or `Invalid` naming `path`.
pub(super) fn into_object(value: Value, path: &str) -> Result<Obj, TranslateError> {
    match value {
        Value::Object(obj) => Ok(obj),
        _ => Err(invalid(&format!("`{path}` must be an object"))),
    }
}

/// The first key nobody took: a field this translation does not know, so it cannot promise to
/// keep its meaning (the contract: 400 naming the field, never silently dropped).
pub(super) fn reject_leftover(obj: &Obj, path: &str, target: &str) -> Result<(), TranslateError> {
    match obj.keys().next() {
        None => Ok(()),
        Some(key) => Err(unmappable(
            format!("{path}{key}"),
            format!("not known to the translator; it has no documented {target} equivalent"),
        )),
    }
}

pub(super) fn u64_at(value: &Value, key: &str) -> u64 {
    value.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// Token counts in Anthropic's terms: `input` excludes cache reads and writes (WIRE.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Usage {
    pub input: u64,
    pub cache_read: u64,
    pub cache_creation: u64,
    pub output: u64,
}

impl Usage {
    /// From an OpenAI `usage` object: its `prompt_tokens` include the cached ones. DeepSeek
    /// reports its cache hits as `prompt_cache_hit_tokens` instead of `prompt_tokens_details`.
    pub(super) fn from_chat(usage: &Value) -> Self {
        let prompt = u64_at(usage, "prompt_tokens");
        let cached = usage
            .pointer("/prompt_tokens_details/cached_tokens")
            .or_else(|| usage.get("prompt_cache_hit_tokens"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .min(prompt);
        Self {
            input: prompt - cached,
            cache_read: cached,
            cache_creation: 0,
            output: u64_at(usage, "completion_tokens"),
        }
    }

    /// Overwrites the counts an Anthropic `usage` object carries (message_start has all of them,
    /// message_delta the cumulative output and, on the current API, the input side again).
    pub(super) fn merge_anthropic(&mut self, usage: &Value) {
        let fields = [
            ("input_tokens", &mut self.input),
            ("cache_read_input_tokens", &mut self.cache_read),
            ("cache_creation_input_tokens", &mut self.cache_creation),
            ("output_tokens", &mut self.output),
        ];
        for (key, slot) in fields {
            if let Some(n) = usage.get(key).and_then(Value::as_u64) {
                *slot = n;
            }
        }
    }

    pub(super) fn to_anthropic(self) -> Value {
        json!({
            "input_tokens": self.input,
            "cache_creation_input_tokens": self.cache_creation,
            "cache_read_input_tokens": self.cache_read,
            "output_tokens": self.output,
        })
    }

    /// OpenAI's prompt count includes everything Anthropic split out (reads and writes).
    pub(super) fn to_chat(self) -> Value {
        let prompt = self.input + self.cache_read + self.cache_creation;
        json!({
            "prompt_tokens": prompt,
            "completion_tokens": self.output,
            "total_tokens": prompt + self.output,
            "prompt_tokens_details": {"cached_tokens": self.cache_read},
        })
    }
}

/// Chat `finish_reason` -> Anthropic `stop_reason` (F21). `saw_tool_calls`: some
/// OpenAI-compatible servers answer `stop` after tool calls, and Claude Code only continues its
/// loop on `tool_use`. `refusal`: the model sent a `refusal` text. Unknown reasons are an error:
/// mapping them to `end_turn` could report an aborted generation as success.
pub(super) fn stop_reason_from_finish(
    finish: &str,
    saw_tool_calls: bool,
    refusal: bool,
) -> Result<&'static str, String> {
    match finish {
        "tool_calls" | "function_call" | "tool_use" => Ok("tool_use"),
        "stop" | "eos" | "end_turn" | "stop_sequence" if saw_tool_calls => Ok("tool_use"),
        "stop" | "eos" | "end_turn" | "stop_sequence" if refusal => Ok("refusal"),
        "stop" | "eos" | "end_turn" | "stop_sequence" => Ok("end_turn"),
        "length" | "max_tokens" | "model_length" => Ok("max_tokens"),
        "content_filter" => Ok("refusal"),
        other => Err(format!(
            "provider finish_reason `{other}` has no Anthropic equivalent"
        )),
    }
}

/// Anthropic `stop_reason` -> Chat `finish_reason` (F21). `pause_turn` only follows server tools,
/// which a Chat client cannot request; it and unknown reasons become `stop`, the neutral value.
/// `model_context_window_exceeded` is a truncation, like `max_tokens`.
pub(super) fn finish_from_stop_reason(stop: &str) -> &'static str {
    match stop {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    }
}

/// The kind of an OpenAI error object met mid-stream (`data: {"error":{…}}`): by `code` first
/// (OpenAI's own codes), then by `type`; some compatible servers put the HTTP status in `code`.
pub(super) fn kind_from_openai_error(error: &Value) -> Kind {
    match error.get("code") {
        Some(Value::String(code)) => {
            let kind = Kind::from_openai_code(Some(code));
            if kind != Kind::Server {
                return kind;
            }
        }
        Some(Value::Number(n)) => match n.as_u64() {
            Some(429) => return Kind::RateLimited,
            Some(503 | 529) => return Kind::Overloaded,
            Some(400 | 422) => return Kind::InvalidRequest,
            _ => {}
        },
        _ => {}
    }
    let kind = error.get("type").and_then(Value::as_str).unwrap_or("");
    if kind.contains("rate_limit") {
        Kind::RateLimited
    } else if kind.contains("overloaded") {
        Kind::Overloaded
    } else {
        Kind::from_openai_code(Some(kind))
    }
}

/// The kind of an Anthropic `error` event (`error.type`); "prompt is too long" is the context
/// overflow Claude Code and OpenAI clients both act on.
pub(super) fn kind_from_anthropic_error(error: &Value) -> Kind {
    let message = error.get("message").and_then(Value::as_str).unwrap_or("");
    match error.get("type").and_then(Value::as_str).unwrap_or("") {
        "invalid_request_error" if message.starts_with("prompt is too long") => {
            Kind::ContextTooLong
        }
        "invalid_request_error" => Kind::InvalidRequest,
        "authentication_error" => Kind::Authentication,
        "permission_error" => Kind::Permission,
        "not_found_error" => Kind::NotFound,
        "request_too_large" => Kind::TooLarge,
        "rate_limit_error" => Kind::RateLimited,
        "overloaded_error" => Kind::Overloaded,
        _ => Kind::Server,
    }
}

/// Seconds since the epoch, for Chat's `created` (0 if the clock is before 1970).
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
