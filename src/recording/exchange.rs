//! `Exchange`: one finished request as the end phase hands it to the recorder (the capture plus
//! the figures the request path already knows), and `Exchange::into_record`, which turns it into a
//! `RequestRecord` on the writer thread: decode, parse, assemble, identify, time the tools, price.

use super::assemble::{self, Api, StreamAssembler};
use super::capture::Capture;
use super::pricing::Pricing;
use super::record::{Outcome, RequestRecord, Timings};
use super::session::{self, ToolTracker};
use super::sse::SseParser;
use super::decode::decode;
use crate::proxy::ctx::End;
use crate::providers::Provider;
use http::HeaderMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub(crate) struct Exchange {
    pub request_id: String,
    pub capture: Capture,
    pub provider: Provider,
    pub endpoint: String,
    pub transport: &'static str,
    pub upstream_ms: f64,
    pub overhead_us: u64,
    pub chunks: u64,
    pub end: End,
    pub ended: Instant,
}

/// Headers that carry credentials or personal cookies: never written anywhere.
const SECRET_HEADERS: &[&str] =
    &["authorization", "x-api-key", "proxy-authorization", "cookie", "set-cookie", "api-key", "x-goog-api-key"];

fn kept_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| !SECRET_HEADERS.contains(&name.as_str()))
        .map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn epoch_ms(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Settings the writer applies to every exchange.
pub(crate) struct Context<'a> {
    pub pricing: &'a Pricing,
    pub session_header: Option<&'a str>,
    pub tools: &'a mut ToolTracker,
}

impl Exchange {
    pub fn into_record(self, cx: &mut Context<'_>) -> RequestRecord {
        let capture = &self.capture;
        let (request_chunks, request_truncated) = match capture.request.lock() {
            Ok(chunks) => (chunks.concat(), chunks.truncated),
            Err(_) => (Default::default(), true),
        };
        let request_body = decode(header(&capture.request_headers, "content-encoding"), &request_chunks)
            .map(|b| bytes::Bytes::copy_from_slice(&b))
            .unwrap_or(request_chunks);
        let encoding = header(&capture.response_headers, "content-encoding");
        let raw_response = capture.response.concat();
        let response_body = decode(encoding, &raw_response)
            .map(|b| bytes::Bytes::copy_from_slice(&b))
            .unwrap_or_else(|_| raw_response.clone());

        let api = assemble::api_for(self.provider, &self.endpoint);
        let request = assemble::summarize_request(api, &capture.request_headers, &request_body);
        let is_sse = header(&capture.response_headers, "content-type")
            .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("text/event-stream"));
        let response = if is_sse {
            assemble_stream(api, capture, encoding.is_some(), &response_body)
        } else {
            assemble::assemble_json(api, &response_body)
        };

        let started_at_ms = epoch_ms(capture.started_at);
        let total = self.ended.saturating_duration_since(capture.started);
        let ended_at_ms = started_at_ms + total.as_millis() as i64;
        let body_json: serde_json::Value = serde_json::from_slice(&request_body).unwrap_or_default();
        let session_id = session::session_id(&capture.request_headers, &body_json, cx.session_header)
            .unwrap_or_else(|| format!("req-{}", self.request_id));
        let tool_executions = cx.tools.results(&session_id, &request, started_at_ms);
        cx.tools.requested(&session_id, &response.tool_calls, ended_at_ms);

        let status = capture.response_status;
        let outcome = match &self.end {
            _ if status >= 400 || response.error_type.is_some() => Outcome::ProviderError,
            End::Done => Outcome::Ok,
            End::UpstreamFailed(_) => Outcome::UpstreamFailed,
            End::Timeout => Outcome::Timeout,
            // A client that leaves after the terminal event got everything (Codex does this).
            End::Cancelled if response.stop_reason.is_some() => Outcome::Ok,
            End::Cancelled => Outcome::ClientDisconnected,
        };
        let model = response.model.clone().or_else(|| request.model.clone());
        let cost_usd = model.as_deref().and_then(|m| cx.pricing.cost(m, &response.usage));
        let timings = Timings {
            ttfb_ms: capture.first_byte_us.map(|us| us as f64 / 1000.0),
            ttft_ms: response.first_content_ms,
            total_ms: total.as_secs_f64() * 1000.0,
            upstream_ms: self.upstream_ms,
            overhead_us: self.overhead_us,
            chunks: self.chunks,
        };
        RequestRecord {
            request_id: self.request_id,
            session_id,
            client: session::client_kind(&capture.request_headers),
            provider: self.provider.name(),
            endpoint: self.endpoint,
            transport: self.transport,
            started_at_ms,
            ended_at_ms,
            status,
            outcome,
            retry_after: header(&capture.response_headers, "retry-after").map(str::to_string),
            request_headers: kept_headers(&capture.request_headers),
            request_body,
            response_headers: kept_headers(&capture.response_headers),
            response_body,
            request,
            response,
            timings,
            tool_executions,
            cost_usd,
            truncated: request_truncated || capture.response.truncated,
        }
    }
}

/// Parses the event stream chunk by chunk so each event keeps its arrival time. A compressed stream
/// is parsed from its decoded copy, with every event at the last chunk's time.
fn assemble_stream(api: Api, capture: &Capture, encoded: bool, decoded: &[u8]) -> super::record::Assembled {
    let mut assembler = StreamAssembler::new(api);
    let mut parser = SseParser::new();
    let mut events = Vec::new();
    let mut feed = |at_us: u64, bytes: &[u8], events: &mut Vec<_>, assembler: &mut StreamAssembler| {
        parser.feed(bytes, events);
        for event in events.drain(..) {
            let event: super::sse::SseEvent = event;
            if event.data == "[DONE]" {
                continue;
            }
            if let Ok(data) = serde_json::from_str::<serde_json::Value>(&event.data) {
                assembler.event(at_us as f64 / 1000.0, event.event.as_deref(), &data);
            }
        }
    };
    if encoded {
        let at = capture.response.pieces.last().map(|(at, _)| *at).unwrap_or(0);
        feed(at, decoded, &mut events, &mut assembler);
    } else {
        for (at, piece) in &capture.response.pieces {
            feed(*at, piece, &mut events, &mut assembler);
        }
    }
    assembler.finish()
}
