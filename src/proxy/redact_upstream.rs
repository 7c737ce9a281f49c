//! `pii.apply_to_upstream`: the request phase reads the body into memory (within
//! `max_request_body_bytes`), redacts the user content (`Scope::Upstream`: user messages and tool
//! results; thinking blocks and assistant turns stay byte-identical so their signatures hold),
//! fixes `content-length` and sends the redacted bytes. The recorder and the debug view see what
//! the provider received. With the option off this file is never reached and the body streams.
//! Routed requests (`[[routing.rules]]`) are redacted the same way right after their model is
//! peeked (`redacted_peek`), before any path (passthrough, translation, fallback) sends them.

use super::peek::{self, ModelScanner, Peeked};
use super::request_body::observe_whole;
use crate::body::{self, Body};
use crate::error::ProxyError;
use crate::features::pii::{Counts, Redactor, Scope};
use crate::features::{DebugView, RequestSink};
use crate::metrics::recorded as metrics;
use bytes::Bytes;
use http::{header, HeaderValue};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use std::sync::{Arc, OnceLock};

/// What the body's observers are (the same ones the streaming path feeds frame by frame).
pub(super) struct Observers {
    pub model: Arc<OnceLock<String>>,
    pub sink: Option<RequestSink>,
    pub debug: Option<DebugView>,
}

/// The whole body, redacted, as the upstream request's body; `parts` get the new length.
pub(super) async fn redacted_body(
    redactor: &Redactor,
    parts: &mut http::request::Parts,
    body: Incoming,
    limit: u64,
    observers: Observers,
) -> Result<Body, ProxyError> {
    refuse_compressed(parts)?;
    let cap = usize::try_from(limit).unwrap_or(usize::MAX);
    let whole = match Limited::new(body, cap).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return Err(ProxyError::BodyTooLarge { limit })
        }
        Err(e) => {
            return Err(ProxyError::BadRequest(format!(
                "reading the request body from the client failed: {e}"
            )))
        }
    };
    let sent = redact(redactor, whole)?;
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(sent.len()));
    observe_whole(&sent, observers.model, observers.sink, observers.debug);
    Ok(body::full(sent))
}

/// A routed request: the peeked start plus the rest of the body, redacted, as one complete
/// `Peeked` whose model span is found again in the redacted bytes (the routing and `model_rewrite`
/// work on what is sent). `body` is read to its end; `parts` get the new length.
pub(super) async fn redacted_peek(
    redactor: &Redactor,
    parts: &mut http::request::Parts,
    body: &mut Incoming,
    peeked: Peeked,
    limit: u64,
) -> Result<Peeked, ProxyError> {
    refuse_compressed(parts)?;
    let whole = peek::read_rest(body, peeked, limit).await?;
    let sent = redact(redactor, whole)?;
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(sent.len()));
    let mut scanner = ModelScanner::default();
    scanner.feed(&sent);
    Ok(Peeked {
        len: sent.len() as u64,
        complete: true,
        model: scanner.found().cloned(),
        chunks: if sent.is_empty() {
            Vec::new()
        } else {
            vec![sent]
        },
    })
}

/// Forwarding a compressed body unread would send the provider exactly what this mode must keep
/// from it.
fn refuse_compressed(parts: &http::request::Parts) -> Result<(), ProxyError> {
    let encoded = parts
        .headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
    if encoded {
        return Err(ProxyError::BadRequest(
            "session_recording.pii.apply_to_upstream cannot redact a compressed request body; \
             send it without content-encoding"
                .into(),
        ));
    }
    Ok(())
}

/// The user content redacted (`Scope::Upstream`), counted in the metrics; the same bytes when
/// there was nothing to redact. A body that is not JSON cannot be redacted, so it is not sent:
/// a provider may accept what LunaRoute could not read (a trailing comma, a stray byte).
fn redact(redactor: &Redactor, whole: Bytes) -> Result<Bytes, ProxyError> {
    let mut counts = Counts::default();
    let sent =
        match redactor.json_body(&whole, Scope::Upstream, &mut counts) {
            // Only a document the redactor read to its end is redacted.
            Some(redacted) => Bytes::from(redacted),
            // Unchanged, or not JSON at all: told apart strictly, and only here (its own reader is
            // lenient about what it does not need, and the common case pays no second parse).
            None if whole.is_empty() || is_json(&whole) => whole,
            None => return Err(ProxyError::BadRequest(
                "the request body is not valid JSON, so session_recording.pii.apply_to_upstream \
                 cannot redact it; it was not sent"
                    .into(),
            )),
        };
    for (kind, n) in counts.iter() {
        metrics::record_pii_redactions(kind, n);
    }
    Ok(sent)
}

/// Valid UTF-8 and valid JSON (serde skips the strings it ignores unchecked, hence both).
fn is_json(body: &[u8]) -> bool {
    std::str::from_utf8(body)
        .is_ok_and(|text| serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok())
}
