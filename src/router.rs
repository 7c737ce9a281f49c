//! The one router every path goes through: admin routes first (`/`, `/healthz`, `/readyz`), then
//! the provider paths, then a 404 in the client's error shape. It is also the single place where a
//! `ProxyError` becomes a response: the service never returns `Err`, which would make hyper drop the
//! connection without an answer.

use crate::access;
use crate::body::{self, Body};
use crate::error::{Fault, ProxyError};
use crate::features;
use crate::providers::{self, Provider};
use crate::proxy;
use crate::state::AppState;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;

enum Route {
    /// `GET`/`HEAD /`: Claude Code probes the base URL.
    Root,
    Health,
    Ready,
    /// `GET /sessions...`, `/stats`: the search API (`features::search`).
    Search,
    Metrics,
    /// `GET /v1/models[/{id}]` with routing rules: answered from the rules (`proxy::local`).
    Models(proxy::local::ModelsQuery),
    Provider(Provider),
    NotFound,
}

/// Paths only OpenAI clients use, with or without the `/v1` prefix (Codex with a base URL lacking it).
fn is_openai_path(path: &str) -> bool {
    let rest = path.strip_prefix("/v1").unwrap_or(path);
    matches!(rest, "/chat/completions" | "/completions" | "/embeddings" | "/responses" | "/moderations")
        || rest.starts_with("/responses/")
        // Bare `/models` is OpenAI; `/v1/models` is shared and decided by headers.
        || (!path.starts_with("/v1") && (rest == "/models" || rest.starts_with("/models/")))
}

fn route(state: &AppState, req: &Request<Incoming>) -> Route {
    let path = req.uri().path();
    match (req.method(), path) {
        (&Method::GET | &Method::HEAD, "/") => Route::Root,
        (&Method::GET | &Method::HEAD, "/healthz") => Route::Health,
        (&Method::GET | &Method::HEAD, "/readyz") => Route::Ready,
        (&Method::GET | &Method::HEAD, "/metrics") => Route::Metrics,
        (&Method::GET, p) if is_search_path(p) => Route::Search,
        (&Method::GET, p) => match state
            .routes()
            .and_then(|routes| proxy::local::models_query(routes, p))
        {
            Some(query) => Route::Models(query),
            None => provider_route(state, req),
        },
        _ => provider_route(state, req),
    }
}

/// Provider paths: Anthropic's, OpenAI-only ones, then other `/v1/...` by headers.
fn provider_route(state: &AppState, req: &Request<Incoming>) -> Route {
    match (req.method(), req.uri().path()) {
        (_, p) if p == "/v1/messages" || p.starts_with("/v1/messages/") => {
            Route::Provider(Provider::Anthropic)
        }
        (_, p) if is_openai_path(p) => Route::Provider(Provider::OpenAi),
        // Everything else under /v1 (models, new endpoints) goes to whichever dialect asked.
        (_, p) if p == "/v1" || p.starts_with("/v1/") => {
            Route::Provider(shared_path_provider(state, req))
        }
        _ => Route::NotFound,
    }
}

fn is_search_path(path: &str) -> bool {
    path == "/sessions" || path.starts_with("/sessions/") || path == "/stats"
}

fn shared_path_provider(state: &AppState, req: &Request<Incoming>) -> Provider {
    state
        .sole_provider()
        .unwrap_or_else(|| providers::detect(req.headers()))
}

pub async fn handle(
    state: Arc<AppState>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    // Before anything else: who is asking, and is the path safe to join onto a provider's base.
    let refused = access::check(state.loopback_only(), req.uri(), req.headers())
        .err()
        .or_else(|| {
            access::has_dot_segments(req.uri().path()).then(|| {
                ProxyError::BadRequest("paths with `.` or `..` segments are refused".into())
            })
        });
    let route = if refused.is_some() {
        Route::NotFound
    } else {
        route(&state, &req)
    };
    let dialect = match &route {
        Route::Provider(p) => *p,
        // Bare `/models` is only ever asked by OpenAI clients.
        Route::Models(_) if !req.uri().path().starts_with("/v1") => Provider::OpenAi,
        Route::Models(_) => shared_path_provider(&state, &req),
        _ => providers::detect(req.headers()),
    };
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let result = match route {
        _ if refused.is_some() => Err(refused.unwrap_or(ProxyError::Internal(String::new()))),
        Route::Root => Ok(admin(&method, StatusCode::OK, &root_info())),
        Route::Health => Ok(admin(&method, StatusCode::OK, &json!({"status": "ok"}))),
        Route::Ready if state.is_draining() => Ok(admin(
            &method,
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"status": "draining"}),
        )),
        Route::Ready => Ok(admin(&method, StatusCode::OK, &json!({"status": "ready"}))),
        Route::Metrics => {
            if let Some(routes) = state.routes() {
                routes.refresh_breakers();
            }
            Ok(metrics_text(&method))
        }
        Route::Models(query) => match state.routes() {
            Some(routes) => Ok(admin(
                &method,
                StatusCode::OK,
                &proxy::local::models(routes, dialect, &query),
            )),
            None => Err(ProxyError::Internal("models route without routing".into())),
        },
        Route::Search => match access::check_sessions(
            state.loopback_only(),
            &state.config.host,
            state.config.sessions.api_token.as_ref(),
            &path,
            req.headers(),
        ) {
            Ok(()) => features::search::handle(&state, req.uri()).await,
            Err(e) => Err(e),
        },
        Route::Provider(provider) => proxy::forward(&state, req, provider).await,
        Route::NotFound => Err(ProxyError::NotFound {
            method: method.to_string(),
            path: path.clone(),
        }),
    };
    Ok(result.unwrap_or_else(|e| {
        // Provider requests log their own line (`RequestCtx`); what the user must hear about
        // either way is a provider that cannot be reached and our own failures.
        match e.fault() {
            Fault::Upstream | Fault::Internal => {
                tracing::warn!("{method} {path}: {}", state.loggable(e.to_string()))
            }
            Fault::Client => tracing::debug!("{method} {path}: {}", state.loggable(e.to_string())),
        }
        e.into_response(dialect)
    }))
}

fn root_info() -> serde_json::Value {
    json!({"service": "lunaroute", "version": env!("CARGO_PKG_VERSION"), "status": "ok"})
}

/// `GET /metrics`: the Prometheus text exposition format.
fn metrics_text(method: &Method) -> Response<Body> {
    let text = crate::metrics::render();
    let mut response = admin(method, StatusCode::OK, &json!(null));
    let length = HeaderValue::from(text.len());
    if method != Method::HEAD {
        *response.body_mut() = body::full(text);
    }
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    headers.insert(header::CONTENT_LENGTH, length);
    response
}

/// An admin answer: JSON for GET; for HEAD the same head (content-length included), no body.
fn admin(method: &Method, status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let length = HeaderValue::from(bytes.len());
    let body = if method == Method::HEAD {
        body::empty()
    } else {
        body::full(bytes)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CONTENT_LENGTH, length);
    response
}

#[cfg(test)]
mod tests {
    use super::is_openai_path;

    #[test]
    fn openai_only_paths() {
        for p in [
            "/v1/chat/completions",
            "/chat/completions",
            "/v1/responses",
            "/responses",
            "/responses/resp_1",
            "/v1/embeddings",
            "/models",
            "/models/gpt-5",
        ] {
            assert!(is_openai_path(p), "{p}");
        }
        for p in [
            "/v1/models",
            "/v1/models/claude-x",
            "/v1/messages",
            "/v1/files",
            "/x",
        ] {
            assert!(!is_openai_path(p), "{p}");
        }
    }
}
