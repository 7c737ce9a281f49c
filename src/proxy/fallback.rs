//! The fallback loop of a routed request whose body is buffered: try the rule's provider, then its
//! `fallbacks` in order. A provider is skipped while its breaker is open or its `retry-after` runs;
//! an attempt moves on when the provider cannot be reached, sends no headers in time, or answers
//! 5xx/429 — always before a single byte reached the client, so nothing is ever sent twice. Once a
//! provider's answer is handed to the client (streaming or not) it is final.

use super::ctx::RequestCtx;
use super::routed::{join, Client};
use super::{pass_response, passthrough, peek, translated};
use crate::body::{self, Body};
use crate::error::{Fault, ProxyError};
use crate::features::translate::{self, Target, Translation};
use crate::providers::Provider;
use crate::routing::{Candidate, Permit, RoutedProvider, Routes, Unavailable, Wire};
use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use std::time::{Duration, Instant};

pub(crate) async fn run(
    mut ctx: RequestCtx,
    routes: &Routes,
    client: &Client<'_>,
    candidates: &[&Candidate],
    body: Bytes,
) -> Result<Response<Body>, ProxyError> {
    let mut skipped: Vec<(&'static str, Unavailable)> = Vec::new();
    let mut not_translated: Option<ProxyError> = None;
    for (i, candidate) in candidates.iter().enumerate() {
        let target = routes.provider(candidate.provider);
        let permit = match target.breaker.admit() {
            Ok(permit) => permit,
            Err(skip) => {
                skipped.push((target.name, skip));
                continue;
            }
        };
        // Whether giving up on this provider's answer still leaves someone to ask.
        let more = candidates[i + 1..]
            .iter()
            .any(|c| routes.provider(c.provider).breaker.available());
        let model = candidate.model.as_deref().unwrap_or(&client.model.name);
        let (request, translation) = match build(client, target, model, &body) {
            Ok(built) => built,
            // This pair is not translated; a later provider may speak the client's dialect.
            Err(error @ ProxyError::NotTranslated(_)) if more => {
                not_translated = Some(error);
                continue;
            }
            Err(error) => return Err(ctx.fail(error)),
        };
        ctx.label = target.name;
        ctx.overhead = ctx.started.elapsed();
        let sent = Instant::now();
        let response = match passthrough::send(&target.upstream, request).await {
            Ok(response) => response,
            Err(error) => {
                let upstream_fault = error.fault() == Fault::Upstream;
                if upstream_fault {
                    permit.failure();
                }
                if upstream_fault && more {
                    let kind = match error {
                        ProxyError::UpstreamTimeout { .. } => "timeout",
                        _ => "unreachable",
                    };
                    crate::metrics::record_upstream_error(target.name, kind);
                    tracing::warn!("{}: {error}; trying the next provider", target.name);
                    continue;
                }
                return Err(ctx.fail(error));
            }
        };
        ctx.upstream_headers = sent.elapsed();
        let status = response.status();
        judge(routes, target, permit, &response);
        if more && (status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS) {
            tracing::warn!(
                "{} answered {status}; trying the next provider",
                target.name
            );
            continue;
        }
        let extra = route_headers(target, model);
        return match translation {
            None => Ok(pass_response(
                ctx,
                target.upstream.timeout,
                response,
                &extra,
            )),
            Some(translation) => {
                translated::respond(ctx, target, &translation, response, &extra).await
            }
        };
    }
    Err(ctx.fail(not_translated.unwrap_or_else(|| unavailable(&skipped))))
}

/// The request for one provider: the client's bytes (its model replaced when this provider gets
/// another name) for the same dialect, else the translation.
fn build(
    client: &Client<'_>,
    target: &RoutedProvider,
    model: &str,
    body: &Bytes,
) -> Result<(Request<Body>, Option<Translation>), ProxyError> {
    let wire = target.wire_for(client.call.wire);
    let (bytes, uri, translation) = if wire == client.call.wire {
        let bytes = if model == client.model.name {
            body.clone()
        } else {
            Bytes::from(peek::with_model(std::slice::from_ref(body), client.model, model).concat())
        };
        (bytes, join(target, client.parts, None)?, None)
    } else {
        let spec = Target {
            model,
            max_tokens_field: target.max_tokens_field,
            default_max_tokens: client.rule.max_tokens.or(target.max_tokens),
        };
        let translation = translate::request(client.call.wire, wire, body, &spec)?;
        let uri = join(target, client.parts, Some(translation.path()))?;
        (translation.body(), uri, Some(translation))
    };
    let headers = attempt_headers(
        &client.parts.headers,
        target,
        wire,
        client.call.wire,
        bytes.len(),
    )?;
    let mut request = Request::new(body::full(bytes));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    Ok((request, translation))
}

/// Headers that belong to one dialect's API and mean nothing (or the wrong thing) to the other.
fn is_dialect_header(name: &str) -> bool {
    name.starts_with("anthropic-") || name.starts_with("openai-") || name == "x-api-key"
}

/// The client's headers for one attempt: hop-by-hop ones gone, the body's length; translated,
/// without the other dialect's headers, asking for an uncompressed answer (it must be read),
/// and with the client's credential moved to the header this provider reads (unless a key is
/// configured, which replaces it in any case).
fn attempt_headers(
    client: &HeaderMap,
    target: &RoutedProvider,
    wire: Wire,
    client_wire: Wire,
    len: usize,
) -> Result<HeaderMap, ProxyError> {
    let mut headers = client.clone();
    if wire != client_wire {
        let credential = client_credential(client);
        let drop: Vec<HeaderName> = headers
            .keys()
            .filter(|name| is_dialect_header(name.as_str()))
            .cloned()
            .collect();
        for name in drop {
            headers.remove(name);
        }
        for name in [
            header::AUTHORIZATION,
            header::ACCEPT,
            header::CONTENT_ENCODING,
        ] {
            headers.remove(name);
        }
        let json = HeaderValue::from_static("application/json");
        headers.insert(header::CONTENT_TYPE, json);
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        if target.family() == Provider::Anthropic {
            headers.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
        }
        if let Some(key) = credential.filter(|_| target.upstream.api_key.is_none()) {
            let (name, value) = match target.family() {
                Provider::Anthropic => (HeaderName::from_static("x-api-key"), key),
                Provider::OpenAi => (header::AUTHORIZATION, format!("Bearer {key}")),
            };
            if let Ok(mut value) = HeaderValue::from_str(&value) {
                value.set_sensitive(true);
                headers.insert(name, value);
            }
        }
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    passthrough::prepare_request_headers(&target.upstream, &mut headers, false)?;
    Ok(headers)
}

/// The key the client sent: `x-api-key`, or the token of `authorization: Bearer`.
fn client_credential(headers: &HeaderMap) -> Option<String> {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(key) = value("x-api-key") {
        return Some(key.trim().to_string());
    }
    let auth = value("authorization")?.trim();
    let (scheme, token) = auth.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// Reports an attempt's answer to the provider's breaker: 5xx is a failure; a 429 is a provider
/// that is up, which cools down for its `retry-after` (capped); anything else is a success.
pub(crate) fn judge(
    routes: &Routes,
    target: &RoutedProvider,
    permit: Permit<'_>,
    response: &Response<Incoming>,
) {
    let status = response.status();
    let wait = retry_after(response.headers()).map(|w| w.min(routes.retry_after_cap));
    if status.is_server_error() {
        permit.failure();
    } else {
        permit.success();
    }
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        if let Some(wait) = wait {
            target.breaker.cool_down(wait);
        }
    }
}

/// `retry-after` in seconds (the HTTP-date form is not used by these providers), else
/// `retry-after-ms`.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
    let wait = value("retry-after")
        .map(Duration::try_from_secs_f64)
        .or_else(|| value("retry-after-ms").map(|ms| Duration::try_from_secs_f64(ms / 1000.0)))?;
    wait.ok()
}

/// The error for a request whose providers were all skipped.
pub(crate) fn unavailable(skipped: &[(&str, Unavailable)]) -> ProxyError {
    // Whole seconds, rounded up, in the message as in `retry-after`: a client that waits what
    // either says finds the provider available again.
    let secs = |wait: Duration| wait.as_secs_f64().ceil().max(1.0) as u64;
    let soonest = skipped
        .iter()
        .map(|(_, s)| s.retry_in)
        .min()
        .unwrap_or(Duration::from_secs(1));
    let why: Vec<String> = skipped
        .iter()
        .map(|(name, s)| {
            let what = if s.rate_limited {
                "rate limited (retry-after)"
            } else {
                "circuit breaker open"
            };
            format!("{name}: {what}, retry in {} s", secs(s.retry_in))
        })
        .collect();
    ProxyError::Unavailable {
        why: why.join("; "),
        retry_after_secs: secs(soonest),
        rate_limited: !skipped.is_empty() && skipped.iter().all(|(_, s)| s.rate_limited),
    }
}

/// Which provider and model served a routed request, on its response (and so in its recording).
pub(crate) fn route_headers(
    target: &RoutedProvider,
    model: &str,
) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = Vec::with_capacity(2);
    for (name, value) in [
        ("x-lunaroute-provider", target.name),
        ("x-lunaroute-model", model),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.push((HeaderName::from_static(name), value));
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_and_retry_after_round_the_same_way() {
        let cooling = |ms, rate_limited| Unavailable {
            retry_in: Duration::from_millis(ms),
            rate_limited,
        };
        let error = unavailable(&[("a", cooling(2_300, true)), ("b", cooling(4_000, false))]);
        let ProxyError::Unavailable {
            why,
            retry_after_secs,
            rate_limited,
        } = error
        else {
            panic!("{error:?}");
        };
        assert_eq!(retry_after_secs, 3);
        assert_eq!(
            why,
            "a: rate limited (retry-after), retry in 3 s; b: circuit breaker open, retry in 4 s"
        );
        assert!(!rate_limited, "one of them is a breaker");
    }
}
