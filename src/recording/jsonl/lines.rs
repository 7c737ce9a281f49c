//! The shape of each JSONL line, built straight from a `RequestRecord` (borrowed, no copies).
//! README "Session recording" documents the same schema for users; keep the two in step.
//!
//! Every line has `session_id`, `request_id`, `type` and `timestamp` (RFC 3339, UTC). A completed
//! request writes two lines, in this order:
//! - `request` (timestamp = start): client, provider, endpoint, transport, headers (credentials
//!   removed), `summary` (model, stream, message count, tool results, betas) and `body`.
//! - `response` (timestamp = end): status, outcome, headers, `body`, the assembled `message` and
//!   `final_stats`, the one object per request that carries tokens, timings, tools and cost.
//!
//! A body is `{"text": "..."}` (UTF-8), `{"base64": "..."}` (anything else) or, for a request
//! whose conversation shares a prefix with a recent request of the session,
//! `{"delta": {...}}` (see `delta.rs`).

use super::codec::base64_encode;
use super::delta::Delta;
use crate::recording::clock::rfc3339;
use crate::recording::record::{
    Assembled, ClientKind, Outcome, RequestRecord, RequestSummary, Served, ThinkingBlock, Timings,
    ToolCall, ToolExecution,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// Header names never written, whatever the record holds (the record strips them already; this is
/// the second lock). Compared case-insensitively.
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "cookie",
    "set-cookie",
    "openai-api-key",
    "anthropic-api-key",
    "x-goog-api-key",
    "chatgpt-account-id",
];

/// A stored body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Body<'a> {
    Text(&'a str),
    Base64(String),
    Delta(Delta<'a>),
}

impl<'a> Body<'a> {
    /// The body as it is: text when UTF-8, else base64.
    pub(crate) fn whole(bytes: &'a [u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => Body::Text(text),
            Err(_) => Body::Base64(base64_encode(bytes)),
        }
    }
}

#[derive(Serialize)]
struct Headers<'a>(#[serde(serialize_with = "safe_headers")] &'a [(String, String)]);

fn safe_headers<S: serde::Serializer>(
    headers: &&[(String, String)],
    s: S,
) -> Result<S::Ok, S::Error> {
    let is_credential = |name: &str| {
        CREDENTIAL_HEADERS
            .iter()
            .any(|c| c.eq_ignore_ascii_case(name))
    };
    s.collect_seq(
        headers
            .iter()
            .filter(|(name, _)| !is_credential(name))
            .map(|(n, v)| [n, v]),
    )
}

#[derive(Serialize)]
struct RequestLine<'a> {
    session_id: &'a str,
    request_id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: String,
    client: ClientKind,
    provider: &'a str,
    endpoint: &'a str,
    transport: &'a str,
    headers: Headers<'a>,
    summary: &'a RequestSummary,
    body_bytes: usize,
    /// The capture hit the memory budget: the body is incomplete.
    truncated: bool,
    body: &'a Body<'a>,
}

/// The assembled answer, minus usage (which lives in `final_stats.tokens`).
#[derive(Serialize)]
struct Message<'a> {
    id: &'a Option<String>,
    model: &'a Option<String>,
    text: &'a str,
    thinking: &'a [ThinkingBlock],
    tool_calls: &'a [ToolCall],
    stop_reason: &'a Option<String>,
    error_type: &'a Option<String>,
    error_message: &'a Option<String>,
    events: u64,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    other_blocks: &'a [serde_json::Value],
}

#[derive(Serialize)]
struct Tokens {
    input: u64,
    output: u64,
    cache_read: u64,
    cache_creation: u64,
    thinking: u64,
    total: u64,
}

/// A tool call by name and id; its input is in `message.tool_calls` (not repeated: file writes
/// can be large).
#[derive(Serialize)]
struct ToolRef<'a> {
    id: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct Tools<'a> {
    calls: Vec<ToolRef<'a>>,
    executions: &'a [ToolExecution],
}

#[derive(Serialize)]
struct FinalStats<'a> {
    model: Option<&'a str>,
    provider: &'a str,
    /// A routed request: the provider and model that served it.
    #[serde(skip_serializing_if = "Option::is_none")]
    served: Option<&'a Served>,
    status: u16,
    outcome: Outcome,
    started_at: String,
    ended_at: String,
    tokens: Tokens,
    /// The provider's own usage object, unchanged.
    tokens_raw: &'a Option<serde_json::Value>,
    timings: &'a Timings,
    tools: Tools<'a>,
    cost_usd: Option<f64>,
    /// PII and secrets redacted, by kind: how many values, never the values; absent when none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    redactions: &'a BTreeMap<String, u64>,
}

#[derive(Serialize)]
struct ResponseLine<'a> {
    session_id: &'a str,
    request_id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: String,
    status: u16,
    outcome: Outcome,
    retry_after: &'a Option<String>,
    headers: Headers<'a>,
    body_bytes: usize,
    body: Body<'a>,
    message: Message<'a>,
    final_stats: FinalStats<'a>,
}

fn message(a: &Assembled) -> Message<'_> {
    Message {
        id: &a.id,
        model: &a.model,
        text: &a.text,
        thinking: &a.thinking,
        tool_calls: &a.tool_calls,
        stop_reason: &a.stop_reason,
        error_type: &a.error_type,
        error_message: &a.error_message,
        events: a.events,
        other_blocks: &a.other_blocks,
    }
}

fn final_stats(r: &RequestRecord) -> FinalStats<'_> {
    let u = &r.response.usage;
    FinalStats {
        model: r.response.model.as_deref().or(r.request.model.as_deref()),
        provider: r.provider,
        served: r.served.as_ref(),
        status: r.status,
        outcome: r.outcome,
        started_at: rfc3339(r.started_at_ms),
        ended_at: rfc3339(r.ended_at_ms),
        tokens: Tokens {
            input: u.input,
            output: u.output,
            cache_read: u.cache_read,
            cache_creation: u.cache_creation,
            thinking: u.thinking,
            total: u.total,
        },
        tokens_raw: &u.raw,
        timings: &r.timings,
        tools: Tools {
            calls: r
                .response
                .tool_calls
                .iter()
                .map(|c| ToolRef {
                    id: &c.id,
                    name: &c.name,
                })
                .collect(),
            executions: &r.tool_executions,
        },
        cost_usd: r.cost_usd,
        redactions: &r.redactions,
    }
}

/// The `request` and `response` lines of one record, each ending in `\n`.
pub(crate) fn record_lines(r: &RequestRecord, request_body: &Body<'_>) -> Result<Vec<u8>, String> {
    let request = RequestLine {
        session_id: &r.session_id,
        request_id: &r.request_id,
        kind: "request",
        timestamp: rfc3339(r.started_at_ms),
        client: r.client,
        provider: r.provider,
        endpoint: &r.endpoint,
        transport: r.transport,
        headers: Headers(&r.request_headers),
        summary: &r.request,
        body_bytes: r.request_body.len(),
        truncated: r.truncated,
        body: request_body,
    };
    let response = ResponseLine {
        session_id: &r.session_id,
        request_id: &r.request_id,
        kind: "response",
        timestamp: rfc3339(r.ended_at_ms),
        status: r.status,
        outcome: r.outcome,
        retry_after: &r.retry_after,
        headers: Headers(&r.response_headers),
        body_bytes: r.response_body.len(),
        body: Body::whole(&r.response_body),
        message: message(&r.response),
        final_stats: final_stats(r),
    };
    let mut out =
        serde_json::to_vec(&request).map_err(|e| format!("encoding a request line: {e}"))?;
    out.push(b'\n');
    serde_json::to_writer(&mut out, &response)
        .map_err(|e| format!("encoding a response line: {e}"))?;
    out.push(b'\n');
    Ok(out)
}

#[derive(Serialize)]
struct GapLine<'a> {
    session_id: Option<&'a str>,
    request_id: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: String,
    lost_requests: u64,
    lost_bytes: u64,
    reason: &'a str,
}

/// A gap marker line (ends in `\n`): requests the recorder had to drop.
pub(crate) fn gap_line(
    lost_requests: u64,
    lost_bytes: u64,
    at_ms: i64,
    reason: &str,
) -> Result<Vec<u8>, String> {
    let line = GapLine {
        session_id: None,
        request_id: None,
        kind: "gap",
        timestamp: rfc3339(at_ms),
        lost_requests,
        lost_bytes,
        reason,
    };
    let mut out = serde_json::to_vec(&line).map_err(|e| format!("encoding a gap line: {e}"))?;
    out.push(b'\n');
    Ok(out)
}
