//! From what the request path saw to a `RequestRecord`, on the writer thread. `Exchange` is one
//! finished HTTP request as the end phase hands it over (its capture plus the figures the request
//! path already knows); `Finished` is the transport-neutral middle step that HTTP exchanges and
//! WebSocket turns (`ws_session`) both become; `Finished::into_record` decodes nothing but does the
//! rest: request summary, session identity, tool timing, outcome, price.

use super::assemble::{self, Api, StreamAssembler};
use super::capture::{Capture, Chunks, ProviderAnswer};
use super::decode::decode_capped;
use super::pricing::Pricing;
use super::record::{Assembled, Outcome, RequestRecord, Served, Timings, Usage};
use super::session::{self, ToolTracker};
use super::sse::SseParser;
use crate::providers::Provider;
use crate::proxy::ctx::End;
use bytes::Bytes;
use http::HeaderMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Settings and state the writer applies to every exchange.
pub(crate) struct Context<'a> {
    pub pricing: &'a Pricing,
    pub session_header: Option<&'a str>,
    pub tools: &'a mut ToolTracker,
}

/// One finished HTTP request, as the recorder queues it.
pub(crate) struct Exchange {
    pub request_id: String,
    pub capture: Capture,
    pub provider: Provider,
    pub endpoint: String,
    pub upstream_ms: f64,
    pub overhead_us: u64,
    pub chunks: u64,
    pub end: End,
    pub ended: Instant,
    /// Largest decoded copies kept of a compressed request / response body (a gzip upload can
    /// inflate a thousandfold): the body is cut there and the record marked `truncated`.
    pub decode_caps: DecodeCaps,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct DecodeCaps {
    /// `max_request_body_bytes`.
    pub request: usize,
    /// The recording queue budget, at most `decode::MAX_DECODED`.
    pub response: usize,
}

/// A request and its answer, decoded and assembled, whatever the transport.
pub(crate) struct Finished {
    pub request_id: String,
    pub provider: Provider,
    pub endpoint: String,
    pub transport: &'static str,
    pub request_headers: HeaderMap,
    pub request_body: Bytes,
    pub status: u16,
    pub response_headers: HeaderMap,
    pub response_body: Bytes,
    pub response: Assembled,
    pub started_at: SystemTime,
    pub total: Duration,
    pub ttfb_ms: Option<f64>,
    pub upstream_ms: f64,
    pub overhead_us: u64,
    pub chunks: u64,
    pub end: End,
    pub truncated: bool,
}

/// `error_message` of a `timeout` row (`End::Timeout` carries no text of its own).
const TIMEOUT_MESSAGE: &str = "no data from the provider for longer than timeout_secs";

/// Headers that carry credentials or personal cookies: never written anywhere.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "x-api-key",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "api-key",
    "x-goog-api-key",
];

fn kept_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| !SECRET_HEADERS.contains(&name.as_str()))
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub(crate) fn epoch_ms(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Exchange {
    pub fn finished(self) -> Finished {
        let capture = self.capture;
        let (request_raw, request_truncated) = match capture.request.lock() {
            Ok(chunks) => (chunks.concat(), chunks.truncated),
            Err(_) => (Bytes::new(), true),
        };
        let caps = self.decode_caps;
        let (request_body, request_capped) = decoded(
            header(&capture.request_headers, "content-encoding"),
            request_raw,
            caps.request,
        );
        let encoding = header(&capture.response_headers, "content-encoding")
            .filter(|e| !e.trim().eq_ignore_ascii_case("identity"));
        let (response_body, response_capped) =
            decoded(encoding, capture.response.concat(), caps.response);
        let api = assemble::api_for(self.provider, &self.endpoint);
        let is_sse = header(&capture.response_headers, "content-type").is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/event-stream")
        });
        let mut response = if is_sse {
            assemble_stream(api, &capture.response, encoding.is_some(), &response_body)
        } else {
            assemble::assemble_json(api, &response_body)
        };
        // A translated answer: the provider's usage, or none at all (the zeros a translator
        // writes for a client that expects a usage object are not figures anyone reported).
        if let Some(answer) = capture.provider_answer.as_ref() {
            response.usage = provider_usage(answer, is_sse).unwrap_or_default();
        }
        Finished {
            request_id: self.request_id,
            provider: self.provider,
            endpoint: self.endpoint,
            transport: "http",
            status: capture.response_status,
            request_body,
            response_body,
            response,
            started_at: capture.started_at,
            total: self.ended.saturating_duration_since(capture.started),
            ttfb_ms: capture.first_byte_us.map(|us| us as f64 / 1000.0),
            upstream_ms: self.upstream_ms,
            overhead_us: self.overhead_us,
            chunks: self.chunks,
            end: self.end,
            truncated: request_truncated
                || request_capped
                || capture.response.truncated
                || response_capped,
            request_headers: capture.request_headers,
            response_headers: capture.response_headers,
        }
    }
}

/// The decoded copy of a body (as much as decodes, e.g. of a gzip stream cut short), at most `cap`
/// bytes of it, and whether it was cut at `cap`.
fn decoded(encoding: Option<&str>, raw: Bytes, cap: usize) -> (Bytes, bool) {
    let decoded = decode_capped(encoding, &raw, cap);
    let bytes = match decoded.bytes {
        std::borrow::Cow::Borrowed(_) => raw.clone(),
        std::borrow::Cow::Owned(bytes) => Bytes::from(bytes),
    };
    (bytes, decoded.capped)
}

/// The usage the provider reported in its untranslated answer (never compressed: translated
/// requests ask for identity), if it reported any. It wins over what the client's dialect
/// carried: a Chat stream has none unless the client asked, and Chat folds cache writes into
/// `prompt_tokens`.
fn provider_usage(answer: &ProviderAnswer, is_sse: bool) -> Option<Usage> {
    // The path is the provider's own (`/v1/messages`, `/v1/chat/completions`, `/v1/responses`),
    // which names its API whatever the family argument says.
    let api = assemble::api_for(Provider::Anthropic, answer.path);
    let assembled = if is_sse {
        assemble_stream(api, &answer.body, false, &[])
    } else {
        assemble::assemble_json(api, &answer.body.concat())
    };
    assembled.usage.raw.is_some().then_some(assembled.usage)
}

/// Parses the event stream chunk by chunk so each event keeps its arrival time. A compressed stream
/// is parsed from its decoded copy, with every event at the last chunk's time.
fn assemble_stream(api: Api, body: &Chunks, encoded: bool, decoded: &[u8]) -> Assembled {
    let mut assembler = StreamAssembler::new(api);
    let mut parser = SseParser::new();
    let mut events = Vec::new();
    let mut feed = |at_us: u64, bytes: &[u8]| {
        parser.feed(bytes, &mut events);
        for event in events.drain(..) {
            if event.data == "[DONE]" {
                continue;
            }
            if let Ok(data) = serde_json::from_str::<serde_json::Value>(&event.data) {
                assembler.event(at_us as f64 / 1000.0, event.event.as_deref(), &data);
            }
        }
    };
    if encoded {
        feed(body.pieces.last().map(|(at, _)| *at).unwrap_or(0), decoded);
    } else {
        for (at, piece) in &body.pieces {
            feed(*at, piece);
        }
    }
    assembler.finish()
}

impl Finished {
    pub fn into_record(self, cx: &mut Context<'_>) -> RequestRecord {
        let api = assemble::api_for(self.provider, &self.endpoint);
        // Parsed once: the summary and the session id both read it.
        let body_json: serde_json::Value =
            serde_json::from_slice(&self.request_body).unwrap_or_default();
        let mut request = assemble::summarize_parsed(api, &self.request_headers, &body_json);
        if self.transport == "websocket" {
            request.stream = true; // a WebSocket turn always streams its events
        }
        let started_at_ms = epoch_ms(self.started_at);
        let ended_at_ms = started_at_ms + self.total.as_millis() as i64;
        let session_id = session::session_id(&self.request_headers, &body_json, cx.session_header)
            .unwrap_or_else(|| format!("req-{}", self.request_id));
        let tool_executions = cx.tools.results(&session_id, &request, started_at_ms);
        cx.tools
            .requested(&session_id, &self.response.tool_calls, ended_at_ms);

        let mut response = self.response;
        let outcome = match &self.end {
            // The connection failing or going silent says more than the status it left behind
            // (a 502/504 from the proxy, or a 200 cut short).
            End::UpstreamFailed(_) => Outcome::UpstreamFailed,
            End::Timeout => Outcome::Timeout,
            End::Refused => Outcome::Refused,
            _ if self.status >= 400 || response.error_type.is_some() => Outcome::ProviderError,
            End::Done => Outcome::Ok,
            // A client that leaves after the terminal event got everything (Codex does this).
            End::Cancelled if response.stop_reason.is_some() => Outcome::Ok,
            End::Cancelled => Outcome::ClientDisconnected,
        };
        // The provider said nothing about a failure it did not see: the end phase's reason is the
        // row's message.
        if response.error_message.is_none() {
            response.error_message = match (outcome, &self.end) {
                (Outcome::UpstreamFailed, End::UpstreamFailed(why)) => Some(why.clone()),
                (Outcome::Timeout, _) => Some(TIMEOUT_MESSAGE.to_string()),
                _ => None,
            };
        }
        // A routed request is priced as the model that served it (`x-lunaroute-model`, set by
        // routing after `model_rewrite`), not the name the client asked for: a translated answer
        // echoes the client's name. An unpriced model gets no cost rather than a guess.
        let model = header(&self.response_headers, "x-lunaroute-model")
            .map(str::to_string)
            .or_else(|| response.model.clone())
            .or_else(|| request.model.clone());
        // A request that got an error or no answer at all was not billed ($0); a successful
        // answer that reported no usage has an unknown cost, not $0.
        let cost_known = response.usage.raw.is_some()
            || self.status >= 400
            || matches!(outcome, Outcome::ProviderError | Outcome::Refused);
        let cost_usd = model
            .as_deref()
            .filter(|_| cost_known)
            .and_then(|m| cx.pricing.cost(m, &response.usage));
        let timings = Timings {
            ttfb_ms: self.ttfb_ms,
            ttft_ms: response.first_content_ms,
            total_ms: self.total.as_secs_f64() * 1000.0,
            upstream_ms: self.upstream_ms,
            overhead_us: self.overhead_us,
            chunks: self.chunks,
        };
        let served =
            header(&self.response_headers, "x-lunaroute-provider").map(|provider| Served {
                provider: provider.to_string(),
                model: header(&self.response_headers, "x-lunaroute-model").map(str::to_string),
            });
        RequestRecord {
            request_id: self.request_id,
            session_id,
            client: session::client_kind(&self.request_headers),
            provider: self.provider.name(),
            served,
            endpoint: self.endpoint,
            transport: self.transport,
            started_at_ms,
            ended_at_ms,
            status: self.status,
            outcome,
            retry_after: header(&self.response_headers, "retry-after").map(str::to_string),
            request_headers: kept_headers(&self.request_headers),
            request_body: self.request_body,
            response_headers: kept_headers(&self.response_headers),
            response_body: self.response_body,
            request,
            response,
            timings,
            tool_executions,
            cost_usd,
            truncated: self.truncated,
            redactions: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const CAPS: DecodeCaps = DecodeCaps {
        request: 4096,
        response: 1 << 20,
    };

    fn exchange(
        request_headers: &[(&'static str, &str)],
        request_body: &[u8],
        end: End,
    ) -> Exchange {
        let mut headers = HeaderMap::new();
        for (name, value) in request_headers {
            headers.insert(*name, value.parse().unwrap());
        }
        let mut capture = Capture::new(Instant::now(), headers, usize::MAX);
        capture
            .request_sink()
            .push(&Bytes::copy_from_slice(request_body));
        let mut response_headers = HeaderMap::new();
        response_headers.insert("content-type", "application/json".parse().unwrap());
        capture.response_head(200, &response_headers);
        capture.response_chunk(&Bytes::from_static(b"{\"type\":\"message\"}"));
        Exchange {
            request_id: "r1".into(),
            capture,
            provider: Provider::Anthropic,
            endpoint: "/v1/messages".into(),
            upstream_ms: 1.0,
            overhead_us: 10,
            chunks: 1,
            end,
            ended: Instant::now(),
            decode_caps: CAPS,
        }
    }

    fn record(exchange: Exchange) -> RequestRecord {
        let pricing = Pricing::builtin();
        let mut tools = ToolTracker::default();
        let mut cx = Context {
            pricing: &pricing,
            session_header: None,
            tools: &mut tools,
        };
        exchange.finished().into_record(&mut cx)
    }

    #[test]
    fn a_compressed_request_decodes_to_at_most_its_cap() {
        let json = format!("{{\"model\":\"m\",\"pad\":\"{}\"}}", "a".repeat(100_000));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(json.as_bytes()).unwrap();
        let upload = gz.finish().unwrap();
        assert!(upload.len() < CAPS.request);

        let r = record(exchange(
            &[("content-encoding", "gzip")],
            &upload,
            End::Done,
        ));
        assert_eq!(&r.request_body[..], &json.as_bytes()[..CAPS.request]);
        assert!(r.truncated);

        // Under the cap: the whole decoded body, not truncated.
        let small = br#"{"model":"m"}"#;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(small).unwrap();
        let r = record(exchange(
            &[("content-encoding", "gzip")],
            &gz.finish().unwrap(),
            End::Done,
        ));
        assert_eq!((&r.request_body[..], r.truncated), (&small[..], false));
    }

    #[test]
    fn timeouts_and_upstream_failures_say_why() {
        let r = record(exchange(&[], b"{}", End::Timeout));
        assert_eq!(r.outcome, Outcome::Timeout);
        assert_eq!(r.response.error_message.as_deref(), Some(TIMEOUT_MESSAGE));

        let why = "error reading a body from connection";
        let r = record(exchange(&[], b"{}", End::UpstreamFailed(why.into())));
        assert_eq!(r.outcome, Outcome::UpstreamFailed);
        assert_eq!(r.response.error_message.as_deref(), Some(why));

        let r = record(exchange(&[], b"{}", End::Done));
        assert_eq!((r.outcome, r.response.error_message), (Outcome::Ok, None));
    }

    #[test]
    fn a_translated_answer_is_recorded_with_the_providers_usage() {
        // A Chat client got Anthropic's answer as Chat JSON: cache reads and writes folded into
        // prompt_tokens. The provider's own answer, captured beside it, keeps the split.
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        let mut capture = Capture::new(Instant::now(), HeaderMap::new(), usize::MAX);
        capture.request_sink().push(&Bytes::from_static(b"{}"));
        capture.response_head(200, &headers);
        capture.response_chunk(&Bytes::from_static(
            br#"{"object":"chat.completion","usage":{"prompt_tokens":1300,"completion_tokens":7,"prompt_tokens_details":{"cached_tokens":1000}}}"#,
        ));
        capture.provider_answer_from("/v1/messages");
        capture.provider_chunk(&Bytes::from_static(
            br#"{"type":"message","usage":{"input_tokens":100,"cache_read_input_tokens":1000,"cache_creation_input_tokens":200,"output_tokens":7}}"#,
        ));
        let mut exchange = exchange(&[], b"{}", End::Done);
        exchange.capture = capture;
        exchange.provider = Provider::OpenAi;
        exchange.endpoint = "/v1/chat/completions".into();
        let usage = record(exchange).response.usage;
        assert_eq!(
            (
                usage.input,
                usage.cache_read,
                usage.cache_creation,
                usage.output
            ),
            (100, 1000, 200, 7)
        );

        // A provider answer without usage: none recorded, and no cost, whatever zeros the
        // translator wrote for the client.
        let record = record(exchange_without_provider_usage());
        assert_eq!(record.response.usage, Usage::default());
        assert_eq!(record.cost_usd, None);
    }

    fn exchange_without_provider_usage() -> Exchange {
        let mut exchange = exchange(&[], b"{}", End::Done);
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        let mut capture = Capture::new(Instant::now(), HeaderMap::new(), usize::MAX);
        capture.response_head(200, &headers);
        capture.response_chunk(&Bytes::from_static(
            br#"{"object":"chat.completion","model":"claude-sonnet-4-6","usage":{"prompt_tokens":0,"completion_tokens":0}}"#,
        ));
        capture.provider_answer_from("/v1/messages");
        capture.provider_chunk(&Bytes::from_static(
            br#"{"type":"message","model":"claude-sonnet-4-6","content":[]}"#,
        ));
        exchange.capture = capture;
        exchange.provider = Provider::OpenAi;
        exchange.endpoint = "/v1/chat/completions".into();
        exchange
    }
}
