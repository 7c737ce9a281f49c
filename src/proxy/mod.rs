//! `forward`: one proxied request, run through its phases in order (pingora's phase habit):
//! request phase (context, limits, provider URI, headers) → upstream phase (`passthrough::send`) →
//! response phase (headers back, body wrapped in `tap::ResponseBody`) → end phase (`RequestCtx::finish`,
//! called by the body wrapper exactly once). Nothing here reads the body into memory, except
//! with `pii.apply_to_upstream` (`redact_upstream`), which must see a request whole to redact it;
//! with routing rules, generation requests take `routed::forward` instead (peek the model, then
//! pass through, translate, fall back).

pub(crate) mod ctx;
mod error_events;
mod fallback;
pub(crate) mod local;
mod passthrough;
mod peek;
mod redact_upstream;
mod request_body;
mod routed;
mod tap;
mod translated;
pub(crate) mod upstream;
pub(crate) use tap::CUT_AT_SHUTDOWN;
mod websocket;

use crate::body::Body;
use crate::error::ProxyError;
use crate::providers::Provider;
use crate::state::AppState;
use ctx::RequestCtx;
use http::{header, HeaderMap, HeaderName, HeaderValue, Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use request_body::RequestBody;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tap::{FailureStyle, ResponseBody};

pub(crate) async fn forward(
    state: &Arc<AppState>,
    req: Request<Incoming>,
    provider: Provider,
) -> Result<Response<Body>, ProxyError> {
    if websocket::is_upgrade(&req) {
        // Frames are relayed byte for byte, so they could not be redacted on the way: decline,
        // and the client uses HTTP, where requests are (Codex falls back by itself).
        if state.pii_upstream {
            return Err(ProxyError::FeatureDisabled(
                "WebSocket while session_recording.pii.apply_to_upstream is on (its frames \
                 cannot be redacted before they reach the provider); use HTTP"
                    .into(),
            ));
        }
        let upstream = state
            .upstream(provider)
            .ok_or(ProxyError::DialectDisabled(provider))?;
        return websocket::relay(state, upstream, req).await;
    }
    // With routing rules, the model decides where generation requests go (`routed`).
    if let Some(routes) = state.routes() {
        if let Some(call) = routed::Call::of(req.method(), req.uri().path(), provider) {
            return routed::forward(state, routes, req, provider, call).await;
        }
    }

    // Request phase.
    let started = Instant::now();
    let (mut parts, body) = req.into_parts();
    let mut ctx = RequestCtx::begin(state, &parts, provider, started);
    let limit = state.config.max_request_body_bytes;
    let upstream = match prepare(state, provider, &mut parts, limit) {
        Ok(upstream) => upstream,
        Err(error) => return Err(refuse(ctx, body, peek::Peeked::default(), limit, error).await),
    };
    let sink = ctx.capture.as_ref().map(|c| c.request_sink());
    let (model, debug) = (Some(ctx.model.clone()), ctx.debug.clone());
    let body = match state.pii.as_deref().filter(|_| state.pii_upstream) {
        // Off (the default): the body streams through untouched.
        None => RequestBody::new(body, limit, model, sink, debug).boxed(),
        Some(redactor) => {
            let observers = redact_upstream::Observers {
                model: ctx.model.clone(),
                sink,
                debug,
            };
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
    ctx.upstream_headers = sent.elapsed();
    Ok(pass_response(ctx, upstream.timeout, response, &[]))
}

/// Answers `error` without sending anything, after reading the rest of the client's body (within
/// the limit) so that the recording holds the request that was refused, not an empty one.
pub(crate) async fn refuse(
    ctx: RequestCtx,
    mut body: Incoming,
    peeked: peek::Peeked,
    limit: u64,
    error: ProxyError,
) -> ProxyError {
    let prefix = peeked.chunks.clone();
    match peek::read_rest(&mut body, peeked, limit).await {
        Ok(whole) => ctx.request_seen(std::slice::from_ref(&whole), true),
        // Too large or broken off: what did arrive.
        Err(_) => ctx.request_seen(&prefix, false),
    }
    ctx.fail(error)
}

/// The response phase of an untranslated answer: status and headers back as sent (non-2xx
/// included: clients retry, we don't), plus `extra` headers (a routed request's provider); the
/// body wrapped in `tap::ResponseBody`, which runs the end phase.
fn pass_response(
    mut ctx: RequestCtx,
    silence: Duration,
    response: Response<Incoming>,
    extra: &[(HeaderName, HeaderValue)],
) -> Response<Body> {
    let headers_at = Instant::now();
    let (mut head, body) = response.into_parts();
    passthrough::prepare_response_headers(&mut head.headers);
    for (name, value) in extra {
        head.headers.insert(name.clone(), value.clone());
    }
    ctx.status = head.status.as_u16();
    let is_sse = header_starts_with(&head.headers, header::CONTENT_TYPE, "text/event-stream");
    let encoded = head
        .headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
    if is_sse {
        ctx.event_stream(encoded);
    }
    if let Some(capture) = ctx.capture.as_mut() {
        capture.response_head(ctx.status, &head.headers);
    }
    if let Some(debug) = &ctx.debug {
        debug.response_head(ctx.status, &head.headers);
    }
    let style = FailureStyle::for_response(ctx.provider, &ctx.path, is_sse, encoded);
    ctx.overhead += headers_at.elapsed();
    let body = ResponseBody::new(body, silence, style, ctx).boxed();
    Response::from_parts(head, body)
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
