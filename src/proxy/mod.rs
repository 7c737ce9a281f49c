//! `forward`: one proxied request, run through its phases in order (pingora's phase habit):
//! request phase (context, limits, provider URI, headers) → upstream phase (`passthrough::send`) →
//! response phase (headers back, body wrapped in `tap::ResponseBody`) → end phase (`RequestCtx::finish`,
//! called by the body wrapper exactly once). Nothing here reads the body into memory, except
//! with `pii.apply_to_upstream` (`redact_upstream`), which must see a request whole to redact it.

pub(crate) mod ctx;
mod passthrough;
mod redact_upstream;
mod request_body;
mod tap;
pub(crate) mod upstream;
pub(crate) use tap::CUT_AT_SHUTDOWN;
mod websocket;

use crate::body::Body;
use crate::error::ProxyError;
use crate::features::DebugView;
use crate::providers::Provider;
use crate::state::AppState;
use ctx::RequestCtx;
use http::{header, HeaderMap, Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use request_body::RequestBody;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tap::{FailureStyle, ResponseBody};

pub(crate) async fn forward(
    state: &Arc<AppState>,
    req: Request<Incoming>,
    provider: Provider,
) -> Result<Response<Body>, ProxyError> {
    if websocket::is_upgrade(&req) {
        let upstream = state
            .upstream(provider)
            .ok_or(ProxyError::DialectDisabled(provider))?;
        return websocket::relay(state, upstream, req).await;
    }

    // Request phase. The context comes first: from here on every failure is this request's
    // outcome, logged and recorded like an answer (`RequestCtx::fail`).
    let started = Instant::now();
    let (mut parts, body) = req.into_parts();
    let model = Arc::new(OnceLock::new());
    let capture = state.recorder.begin(&parts.headers, started);
    let sink = capture.as_ref().map(|c| c.request_sink());
    let id = state.next_request_id();
    crate::metrics::request_started();
    let debug = DebugView::begin(
        state.config.logging.log_requests,
        id,
        provider,
        &parts,
        state.pii.as_ref(),
    );
    let mut ctx = RequestCtx {
        id,
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        provider,
        client: crate::providers::client_name(&parts.headers),
        model: model.clone(),
        started,
        overhead: Duration::ZERO,
        upstream_headers: Duration::ZERO,
        status: 0,
        is_stream: false,
        bytes_out: 0,
        chunks_out: 0,
        log_requests: state.config.logging.log_requests,
        capture,
        debug: debug.clone(),
        state: state.clone(),
        ended: false,
    };
    let limit = state.config.max_request_body_bytes;
    let upstream = match prepare(state, provider, &mut parts, limit) {
        Ok(upstream) => upstream,
        Err(error) => return Err(ctx.fail(error)),
    };
    let body = match state.pii.as_deref().filter(|_| state.pii_upstream) {
        // Off (the default): the body streams through untouched.
        None => RequestBody::new(body, limit, Some(model), sink, debug).boxed(),
        Some(redactor) => {
            let observers = redact_upstream::Observers { model, sink, debug };
            match redact_upstream::redacted_body(redactor, &mut parts, body, limit, observers).await
            {
                Ok(body) => body,
                Err(error) => return Err(ctx.fail(error)),
            }
        }
    };
    let request = Request::from_parts(parts, body);

    // Upstream phase.
    ctx.overhead = started.elapsed();
    let sent = Instant::now();
    let response = match passthrough::send(upstream, request).await {
        Ok(response) => response,
        Err(error) => return Err(ctx.fail(error)),
    };
    let headers_at = Instant::now();
    ctx.upstream_headers = headers_at - sent;

    // Response phase: a non-2xx answer is passed through like any other (clients retry, we don't).
    let (mut head, body) = response.into_parts();
    passthrough::prepare_response_headers(&mut head.headers);
    ctx.status = head.status.as_u16();
    let is_sse = header_starts_with(&head.headers, header::CONTENT_TYPE, "text/event-stream");
    let encoded = head
        .headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
    ctx.is_stream = is_sse;
    if let Some(capture) = ctx.capture.as_mut() {
        capture.response_head(ctx.status, &head.headers);
    }
    if let Some(debug) = &ctx.debug {
        debug.response_head(ctx.status, &head.headers);
    }
    let style = FailureStyle::for_response(provider, &ctx.path, is_sse, encoded);
    ctx.overhead += headers_at.elapsed();
    let body = ResponseBody::new(body, upstream.timeout, style, ctx).boxed();
    Ok(Response::from_parts(head, body))
}

/// The request as the provider should get it: its upstream, size limit, URI and headers.
fn prepare<'s>(
    state: &'s AppState,
    provider: Provider,
    parts: &mut http::request::Parts,
    limit: u64,
) -> Result<&'s upstream::Upstream, ProxyError> {
    let upstream = state
        .upstream(provider)
        .ok_or(ProxyError::DialectDisabled(provider))?;
    if content_length(&parts.headers).is_some_and(|len| len > limit) {
        return Err(ProxyError::BodyTooLarge { limit });
    }
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    parts.uri = upstream
        .base
        .join(provider, path_and_query)
        .map_err(ProxyError::Internal)?;
    passthrough::prepare_request_headers(upstream, &mut parts.headers, false)?;
    // The client's HTTP version says nothing about the provider's; ALPN picks h2 or HTTP/1.1 there.
    parts.version = http::Version::HTTP_11;
    Ok(upstream)
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn header_starts_with(headers: &HeaderMap, name: header::HeaderName, prefix: &str) -> bool {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with(prefix))
}
