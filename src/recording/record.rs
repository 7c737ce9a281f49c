//! `RequestRecord`: one request/response pair after the writer has decoded, parsed and assembled it
//! (off the request path). This is the one shape every store (JSONL, SQLite), the summary and the
//! search API consume; nothing downstream looks at raw captures.

use bytes::Bytes;
use serde::Serialize;
use std::collections::BTreeMap;

/// Which assistant sent the request, from `user-agent` / `originator` (WIRE.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientKind {
    ClaudeCode,
    Codex,
    Opencode,
    Sdk,
    Other,
}

/// How the exchange ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    /// The provider answered non-2xx, or sent an `error` event in a 200 stream (F8).
    ProviderError,
    ClientDisconnected,
    /// The provider's connection failed after the response started.
    UpstreamFailed,
    Timeout,
    /// LunaRoute refused the request itself (a client error); no provider saw it.
    Refused,
}

/// Token counts, normalised so Anthropic and OpenAI figures add up the same way:
/// `input` excludes cache reads/writes (Anthropic's meaning; OpenAI's `input_tokens` includes
/// cached tokens, so `cached_tokens` is subtracted), `thinking` is OpenAI's reasoning tokens (already
/// inside `output`) or 0 when the provider does not report it, and
/// `total = input + output + cache_read + cache_creation`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_creation: u64,
    pub thinking: u64,
    pub total: u64,
    /// The provider's own usage fields, unchanged, for whoever needs raw figures (an Anthropic
    /// stream's: `message_start`'s with `message_delta`'s written over them). `None`: the
    /// provider reported no usage, and then there is no cost either.
    pub raw: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The assembled arguments (`input_json_delta` / `function_call_arguments` joined and parsed);
    /// a string when they are not valid JSON (kept, never dropped).
    pub input: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThinkingBlock {
    /// Empty for `redacted_thinking` (whose opaque `data` is kept in `redacted_data`).
    pub text: String,
    pub signature: Option<String>,
    pub redacted_data: Option<String>,
}

/// The response as the client ended up with it, whether it came as JSON or as a stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Assembled {
    pub id: Option<String>,
    pub model: Option<String>,
    pub text: String,
    pub thinking: Vec<ThinkingBlock>,
    pub tool_calls: Vec<ToolCall>,
    /// The provider's own words: `end_turn`, `tool_use`, `stop`, `tool_calls`, `completed`, ...
    pub stop_reason: Option<String>,
    pub usage: Usage,
    /// `error.type` / `code` of an error body or error event (F8: a 200 stream can end in one).
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    /// Stream events parsed (0 for a JSON answer).
    pub events: u64,
    /// Offset (ms from the request's start) of the first event carrying content (text, thinking or
    /// tool arguments): the client-visible time to first token.
    pub first_content_ms: Option<f64>,
    /// Content blocks / output items of any other kind (Anthropic `server_tool_use`,
    /// `web_search_tool_result`, a Chat `refusal`, Responses `web_search_call`, ...), kept as the
    /// provider's JSON so nothing is dropped (F7); streamed ones with their deltas applied.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_blocks: Vec<serde_json::Value>,
}

/// What the request carried that the recorder cares about beyond its bytes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RequestSummary {
    pub model: Option<String>,
    pub stream: bool,
    pub message_count: u64,
    /// Tool results sent back in this request (Anthropic `tool_result`, OpenAI `tool` messages and
    /// `function_call_output` items), in order.
    pub tool_results: Vec<ToolResultRef>,
    /// `anthropic-beta` values, split on commas (F10).
    pub betas: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolResultRef {
    pub tool_use_id: String,
    /// `is_error` where the API has it (Anthropic); `None` elsewhere.
    pub is_error: Option<bool>,
}

/// A tool call whose result arrived in this request: how long the client took to run it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolExecution {
    pub tool_use_id: String,
    pub name: String,
    /// From the end of the response that asked for the call to the arrival of this request.
    pub duration_ms: f64,
    pub is_error: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timings {
    /// Client-visible time to the first response byte.
    pub ttfb_ms: Option<f64>,
    /// Client-visible time to the first content token (see `Assembled::first_content_ms`).
    pub ttft_ms: Option<f64>,
    pub total_ms: f64,
    /// Provider latency: from sending upstream to its response headers.
    pub upstream_ms: f64,
    /// Time spent in the proxy itself.
    pub overhead_us: u64,
    pub chunks: u64,
}

/// Who served a routed request (from the `x-lunaroute-provider` / `-model` response headers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Served {
    pub provider: String,
    pub model: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    /// Unique across runs (`<start ms in base 36>-<counter>`).
    pub request_id: String,
    /// Sanitised: safe as a file name.
    pub session_id: String,
    pub client: ClientKind,
    /// The client's dialect (`anthropic` / `openai`): what the request and answer were parsed as.
    pub provider: &'static str,
    /// A routed request: the configured provider and the model that served it (after
    /// `model_rewrite` and any fallback), which the client's view never shows. `None` otherwise.
    pub served: Option<Served>,
    /// Path without the query string, e.g. `/v1/messages`.
    pub endpoint: String,
    /// `http` or `websocket`.
    pub transport: &'static str,
    pub started_at_ms: i64,
    pub ended_at_ms: i64,
    pub status: u16,
    pub outcome: Outcome,
    /// `retry-after` of a 429/529, as sent.
    pub retry_after: Option<String>,
    /// Request headers minus credentials (`x-api-key`, `authorization`, cookies, ...).
    pub request_headers: Vec<(String, String)>,
    /// Exactly the bytes the provider received (decoded if the client compressed them).
    #[serde(skip)]
    pub request_body: Bytes,
    pub response_headers: Vec<(String, String)>,
    /// The provider's bytes, decoded from any content-encoding.
    #[serde(skip)]
    pub response_body: Bytes,
    pub request: RequestSummary,
    pub response: Assembled,
    pub timings: Timings,
    pub tool_executions: Vec<ToolExecution>,
    /// `None` when the model is not in the pricing table: never a guess.
    pub cost_usd: Option<f64>,
    /// The capture was cut at the memory budget; bodies are incomplete.
    pub truncated: bool,
    /// PII and secrets redacted from this record, by kind (`email`, `secret:aws_access_key`, ...):
    /// how many values were replaced, never the values. Empty without redaction.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub redactions: BTreeMap<String, u64>,
}
