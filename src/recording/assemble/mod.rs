//! Turns a provider's answer into `record::Assembled` and a request body into
//! `record::RequestSummary`, for the three dialects LunaRoute carries (WIRE.md): Anthropic Messages
//! (`anthropic`), OpenAI Chat Completions (`chat`) and OpenAI Responses (`responses`, over SSE or
//! Codex's WebSocket). One `StreamAssembler` takes parsed stream events of any of them; JSON answers
//! go through `assemble_json`. Usage is normalised here, once, as `record::Usage` documents.
//!
//! Everything here reads untrusted JSON: missing or oddly typed fields are skipped, never unwrapped.

mod anthropic;
mod chat;
mod responses;
#[cfg(test)]
mod tests;

use super::record::{Assembled, RequestSummary, Usage};
use crate::providers::Provider;
use serde_json::Value;

/// Which API an exchange speaks, from the endpoint (`api_for`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    Messages,
    ChatCompletions,
    Responses,
    /// Anything else (`count_tokens`, `models`, embeddings...). Streams and bodies are still
    /// recognised by their shape when they turn out to be one of the three.
    Other,
}

/// The API of a request to `endpoint_path` (query string ignored). Only Anthropic serves
/// `…/messages` as the Messages API (OpenAI's Assistants paths also end in `/messages`).
pub(crate) fn api_for(provider: Provider, endpoint_path: &str) -> Api {
    let path = endpoint_path
        .split('?')
        .next()
        .unwrap_or_default()
        .trim_end_matches('/');
    if path == "/v1/messages" || (provider == Provider::Anthropic && path.ends_with("/messages")) {
        Api::Messages
    } else if path.ends_with("/chat/completions") {
        Api::ChatCompletions
    } else if path.ends_with("/responses") {
        Api::Responses
    } else {
        Api::Other
    }
}

/// A complete (non-streaming) answer: a message, a completion, a response or an error body.
/// A body that is not JSON gives an empty `Assembled`.
pub(crate) fn assemble_json(api: Api, body: &[u8]) -> Assembled {
    let mut out = Assembled::default();
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return out;
    };
    if !value.is_object() {
        return out;
    }
    apply_error(&mut out, &value);
    match api {
        Api::Messages => anthropic::assemble(&value, &mut out),
        Api::ChatCompletions => chat::assemble(&value, &mut out),
        Api::Responses => responses::assemble(&value, &mut out),
        Api::Other => match str_at(&value, "type").or(str_at(&value, "object")) {
            Some("message") => anthropic::assemble(&value, &mut out),
            Some("chat.completion") => chat::assemble(&value, &mut out),
            Some("response") => responses::assemble(&value, &mut out),
            _ => {}
        },
    }
    out
}

/// Assembles a streamed answer event by event. Feed it every SSE event (or WebSocket text frame)
/// whose data is JSON; skip Chat's `data: [DONE]`. For WebSocket frames pass `data["type"]` as the
/// event name.
#[derive(Debug)]
pub(crate) struct StreamAssembler {
    out: Assembled,
    dialect: Dialect,
}

#[derive(Debug)]
enum Dialect {
    /// `Api::Other`: decided by the first event that shows its shape.
    Unknown,
    Messages(anthropic::Stream),
    Chat(chat::Stream),
    Responses(responses::Stream),
}

// === impl StreamAssembler ===

impl StreamAssembler {
    pub(crate) fn new(api: Api) -> Self {
        let dialect = match api {
            Api::Messages => Dialect::Messages(anthropic::Stream::default()),
            Api::ChatCompletions => Dialect::Chat(chat::Stream::default()),
            Api::Responses => Dialect::Responses(responses::Stream::default()),
            Api::Other => Dialect::Unknown,
        };
        Self {
            out: Assembled::default(),
            dialect,
        }
    }

    /// One event: `at_ms` is its arrival (ms from the request's start), `event_name` the SSE
    /// `event:` field if any; the JSON object's own `type` wins when both are present.
    pub(crate) fn event(&mut self, at_ms: f64, event_name: Option<&str>, data: &Value) {
        self.out.events += 1;
        let kind = str_at(data, "type").or(event_name).unwrap_or_default();
        if let Dialect::Unknown = self.dialect {
            self.dialect = sniff(kind, data);
        }
        let mut sink = Sink {
            out: &mut self.out,
            at_ms,
        };
        match &mut self.dialect {
            Dialect::Messages(stream) => stream.event(&mut sink, kind, data),
            Dialect::Chat(stream) => stream.event(&mut sink, data),
            Dialect::Responses(stream) => stream.event(&mut sink, kind, data),
            Dialect::Unknown => {
                if kind == "error" || data.get("error").is_some_and(|e| !e.is_null()) {
                    apply_error(sink.out, data);
                }
            }
        }
    }

    /// The answer so far: complete after a terminal event, the partial content otherwise.
    pub(crate) fn finish(self) -> Assembled {
        let mut out = self.out;
        match self.dialect {
            Dialect::Messages(stream) => stream.finish(&mut out),
            Dialect::Chat(stream) => stream.finish(&mut out),
            Dialect::Responses(stream) => stream.finish(&mut out),
            Dialect::Unknown => {}
        }
        out
    }
}

fn sniff(kind: &str, data: &Value) -> Dialect {
    if kind.starts_with("response.") {
        Dialect::Responses(responses::Stream::default())
    } else if kind.starts_with("message_") || kind.starts_with("content_block_") {
        Dialect::Messages(anthropic::Stream::default())
    } else if str_at(data, "object") == Some("chat.completion.chunk")
        || data.get("choices").is_some()
    {
        Dialect::Chat(chat::Stream::default())
    } else {
        Dialect::Unknown
    }
}

/// What a dialect's stream writes into: the assembly, plus the current event's time so the first
/// content can be stamped.
pub(super) struct Sink<'a> {
    pub out: &'a mut Assembled,
    pub at_ms: f64,
}

impl Sink<'_> {
    /// Call with each piece of text, thinking or tool arguments the current event carried.
    pub fn content(&mut self, piece: &str) {
        if !piece.is_empty() {
            self.mark();
        }
    }

    /// The current event carried content.
    pub fn mark(&mut self) {
        if self.out.first_content_ms.is_none() {
            self.out.first_content_ms = Some(self.at_ms);
        }
    }
}

/// What a request body tells the recorder. Never fails: malformed JSON gives the defaults (plus
/// the `anthropic-beta` list, which comes from the headers).
#[cfg(test)]
pub(crate) fn summarize_request(
    api: Api,
    headers: &http::HeaderMap,
    body: &[u8],
) -> RequestSummary {
    let value = serde_json::from_slice::<Value>(body).unwrap_or_default();
    summarize_parsed(api, headers, &value)
}

/// `summarize_request` for a body the caller already parsed (`Value::Null` when it was not JSON).
pub(crate) fn summarize_parsed(
    api: Api,
    headers: &http::HeaderMap,
    value: &Value,
) -> RequestSummary {
    RequestSummary {
        betas: betas_of(headers),
        ..summarize_value(api, value)
    }
}

fn betas_of(headers: &http::HeaderMap) -> Vec<String> {
    headers
        .get_all("anthropic-beta")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_string)
        .collect()
}

/// `summarize_request` for a body already parsed (no `betas`: those come from the headers).
pub(crate) fn summarize_value(api: Api, value: &Value) -> RequestSummary {
    let messages = value.get("messages").and_then(Value::as_array);
    let input = value.get("input");
    let mut summary = RequestSummary {
        model: str_at(value, "model").map(str::to_string),
        stream: value
            .get("stream")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        message_count: match (api, messages, input) {
            (Api::Messages | Api::ChatCompletions, Some(messages), _) => messages.len() as u64,
            (Api::Responses | Api::Other, _, Some(Value::Array(items))) => items.len() as u64,
            (Api::Responses | Api::Other, _, Some(Value::String(_))) => 1,
            (Api::Other, Some(messages), _) => messages.len() as u64,
            _ => 0,
        },
        ..RequestSummary::default()
    };
    let results = &mut summary.tool_results;
    match api {
        Api::Messages => anthropic::tool_results(value, results),
        Api::ChatCompletions => chat::tool_results(value, results),
        Api::Responses => responses::tool_results(value, results),
        Api::Other => {
            anthropic::tool_results(value, results);
            chat::tool_results(value, results);
            responses::tool_results(value, results);
        }
    }
    summary
}

// === JSON helpers shared by the dialects ===

pub(super) fn str_at<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str)
}

/// The array at `key`, or nothing.
pub(super) fn array_at<'v>(value: &'v Value, key: &str) -> std::slice::Iter<'v, Value> {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter())
        .unwrap_or_default()
}

/// The messages after the last assistant message: what this request adds to the conversation
/// (older ones are history the client resends every turn). Messages and Chat Completions alike.
pub(super) fn new_messages(body: &Value) -> &[Value] {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let from = messages
        .iter()
        .rposition(|m| str_at(m, "role") == Some("assistant"))
        .map_or(0, |i| i + 1);
    &messages[from..]
}

pub(super) fn u64_at(value: &Value, key: &str) -> Option<u64> {
    let v = value.get(key)?;
    v.as_u64()
        .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
}

/// Assembled tool arguments: `""` means no arguments (`{}`, F17); invalid JSON is kept as the
/// string it was, never dropped.
pub(super) fn parse_arguments(json: &str) -> Value {
    if json.trim().is_empty() {
        return Value::Object(serde_json::Map::new());
    }
    serde_json::from_str(json).unwrap_or_else(|_| Value::String(json.to_string()))
}

/// `error` of an error body or event: Anthropic `{"type":"error","error":{"type","message"}}`,
/// OpenAI `{"error":{"message","type","code"}}`, Responses `{"type":"error","code","message"}`.
pub(super) fn apply_error(out: &mut Assembled, value: &Value) {
    match value.get("error") {
        Some(error @ Value::Object(_)) => {
            let kind = str_at(error, "type").or(str_at(error, "code"));
            out.error_type = kind.map(str::to_string).or(out.error_type.take());
            out.error_message = str_at(error, "message")
                .map(str::to_string)
                .or(out.error_message.take());
        }
        Some(Value::String(message)) => out.error_message = Some(message.clone()),
        _ if str_at(value, "type") == Some("error") => {
            let code = str_at(value, "code").unwrap_or("error");
            out.error_type = Some(code.to_string());
            out.error_message = str_at(value, "message").map(str::to_string);
        }
        _ => {}
    }
}

/// Anthropic usage: `input_tokens` already excludes cache reads and writes.
pub(super) fn anthropic_usage(raw: &Value) -> Usage {
    let get = |key| u64_at(raw, key).unwrap_or(0);
    finish_usage(Usage {
        input: get("input_tokens"),
        output: get("output_tokens"),
        cache_read: get("cache_read_input_tokens"),
        cache_creation: get("cache_creation_input_tokens"),
        thinking: 0,
        total: 0,
        raw: Some(raw.clone()),
    })
}

/// OpenAI usage (Chat `prompt_tokens`/`completion_tokens` or Responses `input_tokens`/
/// `output_tokens`): the input count includes cached tokens (and cache writes, where reported), so
/// they are taken out to match Anthropic's meaning; reasoning tokens are part of the output.
pub(super) fn openai_usage(raw: &Value) -> Usage {
    let get = |key| u64_at(raw, key).unwrap_or(0);
    let details = |key: &str, inner: &str| raw.get(key).and_then(|d| u64_at(d, inner)).unwrap_or(0);
    let prompt = get("input_tokens").max(get("prompt_tokens"));
    let cache_read = details("input_tokens_details", "cached_tokens")
        .max(details("prompt_tokens_details", "cached_tokens"));
    let cache_creation = details("input_tokens_details", "cache_write_tokens")
        .max(details("prompt_tokens_details", "cache_write_tokens"));
    finish_usage(Usage {
        input: prompt
            .saturating_sub(cache_read)
            .saturating_sub(cache_creation),
        output: get("output_tokens").max(get("completion_tokens")),
        cache_read,
        cache_creation,
        thinking: details("output_tokens_details", "reasoning_tokens")
            .max(details("completion_tokens_details", "reasoning_tokens")),
        total: 0,
        raw: Some(raw.clone()),
    })
}

fn finish_usage(mut usage: Usage) -> Usage {
    usage.total = [usage.output, usage.cache_read, usage.cache_creation]
        .into_iter()
        .fold(usage.input, u64::saturating_add);
    usage
}
