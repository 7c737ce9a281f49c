//! `RequestCtx`: everything one proxied request learns on its way through the phases, and the end
//! phase that reports it: the recorder, `metrics::record_request`, the log line.

use crate::body::{self, Body};
use crate::error::{Fault, ProxyError};
use crate::features::{Capture, DebugView};
use crate::providers::Provider;
use crate::state::AppState;
use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How a response body ended; decided exactly once by `tap::ResponseBody`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum End {
    /// The provider finished and the client got every byte.
    Done,
    /// The provider's body failed after the response started.
    UpstreamFailed(String),
    /// The provider went silent for longer than the timeout mid-body.
    Timeout,
    /// The client went away first; the upstream request was dropped with it.
    Cancelled,
    /// LunaRoute answered a request it would not send (malformed body, a field that cannot be
    /// translated, no credentials...) with the client's own error: no provider was asked.
    Refused,
}

pub(crate) struct RequestCtx {
    pub id: u64,
    pub method: String,
    pub path: String,
    /// The client's dialect (what the recorder parses, what errors are rendered in).
    pub provider: Provider,
    /// The `provider` metrics label and log field: the dialect's name, or for a routed request
    /// the configured provider that served it.
    pub label: &'static str,
    /// `providers::client_name` of the request headers (a metrics label).
    pub client: &'static str,
    /// Found in the request body as it streams by (`request_body::ModelSniffer`).
    pub model: Arc<OnceLock<String>>,
    pub started: Instant,
    /// Time spent in the proxy itself: before the request went upstream, and on the response head.
    pub overhead: Duration,
    /// Time from sending upstream to the provider's response headers.
    pub upstream_headers: Duration,
    pub status: u16,
    pub is_stream: bool,
    pub bytes_out: u64,
    pub chunks_out: u64,
    pub log_requests: bool,
    /// With `log_requests`: whether the event stream the client got carried an error event.
    pub error_events: Option<super::error_events::ErrorEvents>,
    /// What the recorder captures of this exchange (`None` when recording is off).
    pub capture: Option<Capture>,
    /// The debug stream view (`log_requests` at debug level only; `None` otherwise).
    pub debug: Option<DebugView>,
    pub state: Arc<AppState>,
    /// Set once the end phase ran.
    pub ended: bool,
}

/// A context dropped before its end phase ran belongs to a request abandoned while it waited for
/// the provider's headers (the client hung up, or shutdown cut it): it is still recorded.
impl Drop for RequestCtx {
    fn drop(&mut self) {
        self.end(End::Cancelled);
    }
}

impl RequestCtx {
    /// The request phase's first step: from here on every failure is this request's outcome,
    /// logged and recorded like an answer (`fail`).
    pub fn begin(
        state: &Arc<AppState>,
        parts: &http::request::Parts,
        provider: Provider,
        started: Instant,
    ) -> Self {
        let capture = state.recorder.begin(&parts.headers, started);
        let id = state.next_request_id();
        crate::metrics::request_started();
        let log_requests = state.config.logging.log_requests;
        let debug = DebugView::begin(log_requests, id, provider, parts, state.pii.as_ref());
        Self {
            id,
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            provider,
            label: provider.name(),
            client: crate::providers::client_name(&parts.headers),
            model: Arc::new(OnceLock::new()),
            started,
            overhead: Duration::ZERO,
            upstream_headers: Duration::ZERO,
            status: 0,
            is_stream: false,
            bytes_out: 0,
            chunks_out: 0,
            log_requests,
            error_events: None,
            capture,
            debug,
            state: state.clone(),
            ended: false,
        }
    }

    /// Request body bytes read by the proxy itself (peeked or buffered) rather than streamed
    /// through `RequestBody`: the recorder and the debug view get them the same way.
    pub fn request_seen(&self, chunks: &[Bytes], complete: bool) {
        let sink = self.capture.as_ref().map(|c| c.request_sink());
        for chunk in chunks {
            if let Some(sink) = &sink {
                sink.push(chunk);
            }
            if let Some(debug) = &self.debug {
                debug.request_chunk(chunk);
            }
        }
        if let (true, Some(debug)) = (complete, &self.debug) {
            debug.request_end();
        }
    }

    /// A whole answer made by the proxy (a translated JSON body or error, a local estimate):
    /// recorded and logged as this request's response, and its end phase run.
    pub fn answer(
        mut self,
        status: StatusCode,
        headers: HeaderMap,
        bytes: Bytes,
    ) -> Response<Body> {
        self.status = status.as_u16();
        if let Some(capture) = self.capture.as_mut() {
            capture.response_head(self.status, &headers);
            capture.response_chunk(&bytes);
        }
        if let Some(debug) = &self.debug {
            debug.response_head(self.status, &headers);
            debug.response_chunk(&bytes);
        }
        self.bytes_out = bytes.len() as u64;
        self.chunks_out = 1;
        self.finish(End::Done);
        let mut response = Response::new(body::full(bytes));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        response
    }

    /// The request failed before the provider answered: record and log the error the client is
    /// about to get (the router renders it from the same `ProxyError`), then hand it back.
    pub fn fail(mut self, error: ProxyError) -> ProxyError {
        self.status = error.status().as_u16();
        if let Some(capture) = self.capture.as_mut() {
            let mut headers = http::HeaderMap::new();
            headers.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            capture.response_head(self.status, &headers);
            let body = serde_json::to_vec(&error.body_json(self.provider)).unwrap_or_default();
            capture.response_chunk(&bytes::Bytes::from(body));
        }
        let end = match &error {
            ProxyError::UpstreamTimeout { .. } => {
                crate::metrics::record_upstream_error(self.label, "timeout");
                End::Timeout
            }
            ProxyError::UpstreamUnreachable(_) => {
                crate::metrics::record_upstream_error(self.label, "unreachable");
                End::UpstreamFailed(error.to_string())
            }
            e if e.fault() == Fault::Upstream => End::UpstreamFailed(e.to_string()),
            e if e.fault() == Fault::Client => End::Refused,
            _ => End::Done,
        };
        self.finish(end);
        error
    }

    /// The answer is an event stream (`encoded`: compressed, so its bytes are not searched for
    /// error events).
    pub fn event_stream(&mut self, encoded: bool) {
        self.is_stream = true;
        if self.log_requests && !encoded {
            self.error_events = Some(super::error_events::ErrorEvents::default());
        }
    }

    /// The end phase: runs once per request, whichever way its body ended.
    pub fn finish(mut self, end: End) {
        self.end(end);
    }

    /// Records and logs the request once; `ended` guards against the `Drop` doing it again.
    fn end(&mut self, end: End) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        if let Some(capture) = self.capture.take() {
            self.state.recorder.finish(capture, self, &end);
        }
        if let Some(debug) = self.debug.take() {
            debug.finish(&end);
        }
        let total = self.started.elapsed();
        crate::metrics::record_request(&crate::metrics::RequestFigures {
            provider: self.label,
            model: self.model.get().map(String::as_str),
            client: self.client,
            status: self.status,
            total,
            upstream: (!self.upstream_headers.is_zero()).then_some(self.upstream_headers),
            overhead: self.overhead,
        });
        if !self.log_requests {
            return;
        }
        let error_event = self.error_events.as_ref().is_some_and(|e| e.seen);
        let outcome = match &end {
            End::Done if self.status >= 400 => "error_status".to_string(),
            End::Done | End::Cancelled if error_event => "error_event".to_string(),
            End::Done => "ok".to_string(),
            End::UpstreamFailed(why) => {
                format!("upstream_failed ({})", self.state.loggable(why.clone()))
            }
            End::Timeout => "timeout".to_string(),
            End::Cancelled => "client_disconnected".to_string(),
            End::Refused => "refused".to_string(),
        };
        tracing::info!(
            target: "lunaroute::request",
            "#{} {} {} provider={} model={} status={} upstream_ms={} total_ms={} overhead_us={} stream={} bytes={} outcome={}",
            self.id,
            self.method,
            self.path,
            self.label,
            self.model.get().map(String::as_str).unwrap_or("-"),
            self.status,
            self.upstream_headers.as_millis(),
            total.as_millis(),
            self.overhead.as_micros(),
            if self.is_stream { "yes" } else { "no" },
            self.bytes_out,
            outcome,
        );
    }
}
