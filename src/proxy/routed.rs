//! A generation request when routing rules exist: peek the body until its top-level `model` is
//! known, pick the rule, then
//! - no rule matches: exactly the unrouted passthrough (the peeked bytes go first);
//! - one provider of the client's own dialect: pure passthrough, still streaming (zero-copy),
//!   the model's bytes replaced only when `model_rewrite` is set;
//! - a provider of another dialect, or fallbacks: the whole body is read (within
//!   `max_request_body_bytes`) and `fallback::run` tries the providers in order;
//! - `count_tokens` for a non-Anthropic provider: answered here with a local estimate;
//! - a compressed body (`content-encoding`): refused with a 400, its model cannot be peeked.

use super::ctx::RequestCtx;
use super::peek::{self, ModelAt, Peeked};
use super::request_body::RequestBody;
use super::{
    content_length, fallback, pass_response, passthrough, prepare, redact_upstream, refuse,
};
use crate::body::Body;
use crate::error::{Fault, ProxyError};
use crate::features::translate;
use crate::providers::Provider;
use crate::routing::{Candidate, Routes, Rule, Wire};
use crate::state::AppState;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::sync::Arc;
use std::time::Instant;

/// A request routing applies to: which API the client called, and whether it only counts tokens.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call {
    pub wire: Wire,
    pub count_tokens: bool,
}

impl Call {
    /// `POST` to a generation endpoint (or Anthropic's `count_tokens`); everything else
    /// (models, files, embeddings, WebSockets) keeps the unrouted path.
    pub fn of(method: &Method, path: &str, provider: Provider) -> Option<Self> {
        if method != Method::POST {
            return None;
        }
        let (wire, count_tokens) = match (provider, path) {
            (Provider::Anthropic, "/v1/messages") => (Wire::Anthropic, false),
            (Provider::Anthropic, "/v1/messages/count_tokens") => (Wire::Anthropic, true),
            (Provider::OpenAi, "/v1/chat/completions" | "/chat/completions") => (Wire::Chat, false),
            (Provider::OpenAi, "/v1/responses" | "/responses") => (Wire::Responses, false),
            _ => return None,
        };
        Some(Self { wire, count_tokens })
    }
}

/// What the fallback loop and the single-provider paths share about the client's request.
pub(crate) struct Client<'a> {
    pub call: Call,
    pub parts: &'a http::request::Parts,
    pub model: &'a ModelAt,
    pub rule: &'a Rule,
}

pub(crate) async fn forward(
    state: &Arc<AppState>,
    routes: &Routes,
    req: Request<Incoming>,
    provider: Provider,
    call: Call,
) -> Result<Response<Body>, ProxyError> {
    let started = Instant::now();
    let (mut parts, mut body) = req.into_parts();
    let ctx = RequestCtx::begin(state, &parts, provider, started);
    let limit = state.config.max_request_body_bytes;
    if content_length(&parts.headers).is_some_and(|len| len > limit) {
        return Err(ctx.fail(ProxyError::BodyTooLarge { limit }));
    }
    if let Some(encoding) = parts
        .headers
        .get(header::CONTENT_ENCODING)
        .filter(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"))
    {
        // The model cannot be read from compressed bytes; guessing "no rule matched" would send
        // a request meant for another provider (and its key) to the default one.
        let why = format!(
            "routing rules pick the provider by the request's model, which cannot be read from a \
             compressed body (content-encoding: {}); send it uncompressed",
            String::from_utf8_lossy(encoding.as_bytes())
        );
        return Err(ctx.fail(ProxyError::BadRequest(why)));
    }
    let peeked = match peek::peek(&mut body, limit).await {
        Ok(peeked) => peeked,
        Err(error) => return Err(ctx.fail(error)),
    };
    // `pii.apply_to_upstream`: whichever path follows sends only the redacted body.
    let peeked = match state.pii.as_deref().filter(|_| state.pii_upstream) {
        None => peeked,
        Some(redactor) => {
            match redact_upstream::redacted_peek(redactor, &mut parts, &mut body, peeked, limit)
                .await
            {
                Ok(peeked) => peeked,
                Err(error) => return Err(ctx.fail(error)),
            }
        }
    };
    let found = peeked
        .model
        .clone()
        .and_then(|m| routes.rule_for(&m.name).map(|rule| (m, rule)));
    if let Some(m) = &peeked.model {
        let _ = ctx.model.set(m.name.clone());
    }
    let Some((model, rule)) = found else {
        return unrouted(state, ctx, parts, body, peeked, provider).await;
    };
    let client = Client {
        call,
        parts: &parts,
        model: &model,
        rule,
    };

    let mut candidates: Vec<&Candidate> = rule.candidates.iter().collect();
    if call.count_tokens {
        let first = routes.provider(rule.candidates[0].provider);
        if first.family() != Provider::Anthropic {
            return count_locally(ctx, body, peeked, limit).await;
        }
        // Only Anthropic providers can count; the others are no fallback for this.
        candidates.retain(|c| routes.provider(c.provider).family() == Provider::Anthropic);
    }
    let first = routes.provider(candidates[0].provider);
    if candidates.len() == 1 && first.wire_for(call.wire) == call.wire {
        return single_passthrough(ctx, &client, candidates[0], routes, body, peeked, limit).await;
    }
    let whole = match peek::read_rest(&mut body, peeked, limit).await {
        Ok(whole) => whole,
        Err(error) => return Err(ctx.fail(error)),
    };
    // Recorded as the client sent it, whatever each provider gets.
    ctx.request_seen(std::slice::from_ref(&whole), true);
    fallback::run(ctx, routes, &client, &candidates, whole).await
}

/// No rule for this model: the unrouted path, with the peeked bytes sent first.
async fn unrouted(
    state: &Arc<AppState>,
    mut ctx: RequestCtx,
    mut parts: http::request::Parts,
    body: Incoming,
    peeked: Peeked,
    provider: Provider,
) -> Result<Response<Body>, ProxyError> {
    let limit = state.config.max_request_body_bytes;
    let upstream = match prepare(state, provider, &mut parts, limit) {
        Ok(upstream) => upstream,
        Err(error) => return Err(refuse(ctx, body, peeked, limit, error).await),
    };
    ctx.request_seen(&peeked.chunks, peeked.complete);
    let sink = ctx.capture.as_ref().map(|c| c.request_sink());
    let body = RequestBody::new(body, limit, None, sink, ctx.debug.clone())
        .with_prefix(peeked.chunks, peeked.len);
    let request = Request::from_parts(parts, body.boxed());
    ctx.overhead = ctx.started.elapsed();
    let sent = Instant::now();
    let response = match passthrough::send(upstream, request).await {
        Ok(response) => response,
        Err(error) => return Err(ctx.fail(error)),
    };
    ctx.upstream_headers = sent.elapsed();
    Ok(pass_response(ctx, upstream.timeout, response, &[]))
}

/// One provider of the client's dialect and no fallbacks: the body keeps streaming through.
async fn single_passthrough(
    mut ctx: RequestCtx,
    client: &Client<'_>,
    candidate: &Candidate,
    routes: &Routes,
    body: Incoming,
    peeked: Peeked,
    limit: u64,
) -> Result<Response<Body>, ProxyError> {
    let target = routes.provider(candidate.provider);
    ctx.label = target.name;
    let permit = match target.breaker.admit() {
        Ok(permit) => permit,
        Err(skip) => {
            let error = fallback::unavailable(&[(target.name, skip)]);
            return Err(refuse(ctx, body, peeked, limit, error).await);
        }
    };
    let mut parts = client.parts.clone();
    let model = candidate.model.as_deref();
    let result = (|| {
        parts.uri = join(target, client.parts, None)?;
        passthrough::prepare_request_headers(&target.upstream, &mut parts.headers, false)?;
        parts.version = http::Version::HTTP_11;
        Ok::<_, ProxyError>(())
    })();
    if let Err(error) = result {
        return Err(refuse(ctx, body, peeked, limit, error).await);
    }
    ctx.request_seen(&peeked.chunks, peeked.complete);
    let prefix = match model {
        Some(new) => {
            let chunks = peek::with_model(&peeked.chunks, client.model, new);
            // The body changes length by the difference between the two names.
            if let Some(len) = content_length(&parts.headers) {
                let new_len =
                    (len + chunks_len(&chunks)).saturating_sub(chunks_len(&peeked.chunks));
                parts
                    .headers
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(new_len));
            }
            chunks
        }
        None => peeked.chunks,
    };
    let sink = ctx.capture.as_ref().map(|c| c.request_sink());
    let body = RequestBody::new(body, limit, None, sink, ctx.debug.clone())
        .with_prefix(prefix, peeked.len);
    let request = Request::from_parts(parts, body.boxed());
    ctx.overhead = ctx.started.elapsed();
    let sent = Instant::now();
    let response = match passthrough::send(&target.upstream, request).await {
        Ok(response) => response,
        Err(error) => {
            if error.fault() == Fault::Upstream {
                permit.failure();
            }
            return Err(ctx.fail(error));
        }
    };
    ctx.upstream_headers = sent.elapsed();
    fallback::judge(routes, target, permit, &response);
    let extra = fallback::route_headers(target, model.unwrap_or(&client.model.name));
    Ok(pass_response(
        ctx,
        target.upstream.timeout,
        response,
        &extra,
    ))
}

fn chunks_len(chunks: &[Bytes]) -> u64 {
    chunks.iter().map(|c| c.len() as u64).sum()
}

/// The provider URI: the client's path and query for the same dialect, else `provider_path`.
pub(crate) fn join(
    target: &crate::routing::RoutedProvider,
    parts: &http::request::Parts,
    provider_path: Option<&str>,
) -> Result<http::Uri, ProxyError> {
    let path_and_query = match provider_path {
        Some(path) => path,
        None => parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/"),
    };
    target
        .upstream
        .base
        .join(target.family(), path_and_query)
        .map_err(ProxyError::Internal)
}

/// `count_tokens` for a provider that has no such endpoint: a local estimate, in Anthropic's
/// shape, marked as one (`x-lunaroute-estimate: true`).
async fn count_locally(
    ctx: RequestCtx,
    mut body: Incoming,
    peeked: Peeked,
    limit: u64,
) -> Result<Response<Body>, ProxyError> {
    let whole = match peek::read_rest(&mut body, peeked, limit).await {
        Ok(whole) => whole,
        Err(error) => return Err(ctx.fail(error)),
    };
    ctx.request_seen(std::slice::from_ref(&whole), true);
    let tokens = match translate::estimate_input_tokens(&whole) {
        Ok(tokens) => tokens,
        Err(failure) => return Err(ctx.fail(failure.into())),
    };
    let bytes = Bytes::from(serde_json::json!({ "input_tokens": tokens }).to_string());
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    headers.insert("x-lunaroute-estimate", HeaderValue::from_static("true"));
    Ok(ctx.answer(StatusCode::OK, headers, bytes))
}
