//! The response phase of a translated request: the provider answered in its dialect, the client
//! gets its own. An event stream goes through `tap::ResponseBody` with a `StreamTranslator`
//! (same silence timeout, recording, metrics and end phase as a passthrough; a provider that
//! dies mid-stream becomes the client dialect's error event). A JSON answer or an error answer is
//! read whole (bounded) and translated at once (`translate::response` / `translate::error`).
//!
//! What is recorded is the client's view: its request as sent, and the answer as it received it;
//! the response headers `x-lunaroute-provider` / `x-lunaroute-model` say who really served it.
//! The provider's untranslated answer is captured beside it (reference counts, parsed later on
//! the recorder's thread) for one thing only: its usage, which the client's dialect may lack.

use super::ctx::RequestCtx;
use super::tap::{FailureStyle, ResponseBody};
use super::{header_starts_with, passthrough};
use crate::body::Body;
use crate::error::ProxyError;
use crate::features::translate::Translation;
use crate::routing::RoutedProvider;
use bytes::{Bytes, BytesMut};
use http::{header, HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::time::{Duration, Instant};

/// Largest provider error body read for translation (they are a few hundred bytes).
const ERROR_BODY_CAP: usize = 1024 * 1024;
/// Largest non-streamed provider answer read for translation.
const JSON_BODY_CAP: usize = 64 * 1024 * 1024;

pub(crate) async fn respond(
    mut ctx: RequestCtx,
    target: &RoutedProvider,
    translation: &Translation,
    response: Response<Incoming>,
    extra: &[(HeaderName, HeaderValue)],
) -> Result<Response<Body>, ProxyError> {
    let headers_at = Instant::now();
    let silence = target.upstream.timeout;
    let (head, body) = response.into_parts();
    let mut headers = client_headers(&head.headers, extra);

    if !head.status.is_success() {
        // Unreadable error bodies still get the client's error shape, with the status kept.
        let bytes = read_body(body, silence, ERROR_BODY_CAP)
            .await
            .unwrap_or_default();
        let answer = translation.error(head.status.as_u16(), &head.headers, &bytes);
        let status = StatusCode::from_u16(answer.status).unwrap_or(head.status);
        if let Some(value) = answer
            .retry_after
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            headers.insert(header::RETRY_AFTER, value);
        }
        let body = Bytes::from(answer.body);
        set_json(&mut headers, body.len());
        ctx.overhead += headers_at.elapsed();
        return Ok(ctx.answer(status, headers, body));
    }
    let encoded = head
        .headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
    if encoded {
        let why =
            "the provider compressed its answer although `accept-encoding: identity` was sent";
        return Err(ctx.fail(ProxyError::BadUpstreamAnswer(why.into())));
    }

    if header_starts_with(&head.headers, header::CONTENT_TYPE, "text/event-stream") {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        ctx.status = head.status.as_u16();
        ctx.event_stream(false);
        if let Some(capture) = ctx.capture.as_mut() {
            capture.response_head(ctx.status, &headers);
            capture.provider_answer_from(translation.path());
        }
        if let Some(debug) = &ctx.debug {
            debug.response_head(ctx.status, &headers);
        }
        ctx.overhead += headers_at.elapsed();
        let body = ResponseBody::new(body, silence, FailureStyle::Abort, ctx);
        return Ok(with_head(
            body.translated(translation.stream()).boxed(),
            head.status,
            headers,
        ));
    }

    let bytes = match read_body(body, silence, JSON_BODY_CAP).await {
        Ok(bytes) => bytes,
        Err(why) => return Err(ctx.fail(ProxyError::BadUpstreamAnswer(why))),
    };
    if let Some(capture) = ctx.capture.as_mut() {
        capture.provider_answer_from(translation.path());
        capture.provider_chunk(&bytes);
    }
    let translating = Instant::now();
    let out = match translation.response(&bytes) {
        Ok(out) => Bytes::from(out),
        Err(failure) => return Err(ctx.fail(ProxyError::BadUpstreamAnswer(failure.to_string()))),
    };
    ctx.overhead += translating.elapsed();
    set_json(&mut headers, out.len());
    Ok(ctx.answer(head.status, headers, out))
}

/// The provider's response headers that still hold for the translated body: not its framing,
/// type or encoding (the body is new), plus which provider and model served it.
fn client_headers(provider: &HeaderMap, extra: &[(HeaderName, HeaderValue)]) -> HeaderMap {
    let mut headers = provider.clone();
    passthrough::prepare_response_headers(&mut headers);
    for name in [
        header::CONTENT_LENGTH,
        header::CONTENT_TYPE,
        header::CONTENT_ENCODING,
    ] {
        headers.remove(name);
    }
    for (name, value) in extra {
        headers.insert(name.clone(), value.clone());
    }
    headers
}

fn with_head(body: Body, status: StatusCode, headers: HeaderMap) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

fn set_json(headers: &mut HeaderMap, len: usize) {
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
}

/// A whole provider body, waiting at most `silence` for each piece and taking at most `cap` bytes.
async fn read_body(mut body: Incoming, silence: Duration, cap: usize) -> Result<Bytes, String> {
    let mut all = BytesMut::new();
    loop {
        let frame = match tokio::time::timeout(silence, body.frame()).await {
            Err(_) => {
                return Err(format!(
                    "no data from the provider for {} s",
                    silence.as_secs()
                ))
            }
            Ok(None) => return Ok(all.freeze()),
            Ok(Some(Err(e))) => return Err(format!("the provider's answer broke off: {e}")),
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            if all.len() + data.len() > cap {
                return Err(format!("the provider's answer is larger than {cap} bytes"));
            }
            all.extend_from_slice(&data);
        }
    }
}
