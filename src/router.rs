//! The one router every path goes through: admin routes first (`/`, `/healthz`, `/readyz`), then
//! the provider paths, then a 404 in the client's error shape. It is also the single place where a
//! `ProxyError` becomes a response: the service never returns `Err`, which would make hyper drop the
//! connection without an answer.

use crate::body::{self, Body};
use crate::error::ProxyError;
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
        (&Method::GET, "/healthz") => Route::Health,
        (&Method::GET, "/readyz") => Route::Ready,
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

fn shared_path_provider(state: &AppState, req: &Request<Incoming>) -> Provider {
    state
        .sole_provider()
        .unwrap_or_else(|| providers::detect(req.headers()))
}

pub async fn handle(
    state: Arc<AppState>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let route = route(&state, &req);
    let dialect = match &route {
        Route::Provider(p) => *p,
        _ => providers::detect(req.headers()),
    };
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let result = match route {
        Route::Root => Ok(root(req.method() == Method::HEAD)),
        Route::Health => Ok(json_response(StatusCode::OK, &json!({"status": "ok"}))),
        Route::Ready if state.is_draining() => Ok(json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"status": "draining"}),
        )),
        Route::Ready => Ok(json_response(StatusCode::OK, &json!({"status": "ready"}))),
        Route::Provider(provider) => proxy::forward(&state, req, provider).await,
        Route::NotFound => Err(ProxyError::NotFound {
            method: method.to_string(),
            path: path.clone(),
        }),
    };
    Ok(result.unwrap_or_else(|e| {
        if state.config.logging.log_requests {
            tracing::info!(target: "lunaroute::request", "{method} {path} status={} error=\"{e}\"", e.status().as_u16());
        } else {
            tracing::debug!("{method} {path}: {e}");
        }
        e.into_response(dialect)
    }))
}

fn root(head_only: bool) -> Response<Body> {
    let info =
        json!({"service": "lunaroute", "version": env!("CARGO_PKG_VERSION"), "status": "ok"});
    let mut response = json_response(StatusCode::OK, &info);
    if head_only {
        *response.body_mut() = body::empty();
    }
    response
}

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(body::json(value));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
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
