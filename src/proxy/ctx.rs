//! `RequestCtx`: everything one proxied request learns on its way through the phases, and the end
//! phase that reports it: the recorder, `metrics::record_request`, the log line.

use crate::error::{Fault, ProxyError};
use crate::features::{Capture, DebugView};
use crate::providers::Provider;
use crate::state::AppState;
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
}

pub(crate) struct RequestCtx {
    pub id: u64,
    pub method: String,
    pub path: String,
    pub provider: Provider,
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
                crate::metrics::record_upstream_error(self.provider.name(), "timeout");
                End::Timeout
            }
            e if e.fault() == Fault::Upstream => {
                crate::metrics::record_upstream_error(self.provider.name(), "unreachable");
                End::UpstreamFailed(e.to_string())
            }
            _ => End::Done,
        };
        self.finish(end);
        error
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
            provider: self.provider.name(),
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
        let outcome = match &end {
            End::Done if self.status >= 400 => "error_status".to_string(),
            End::Done => "ok".to_string(),
            End::UpstreamFailed(why) => format!("upstream_failed ({why})"),
            End::Timeout => "timeout".to_string(),
            End::Cancelled => "client_disconnected".to_string(),
        };
        tracing::info!(
            target: "lunaroute::request",
            "#{} {} {} provider={} model={} status={} upstream_ms={} total_ms={} overhead_us={} stream={} bytes={} outcome={}",
            self.id,
            self.method,
            self.path,
            self.provider.name(),
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
