//! `ProxyError`: every way a proxied request can fail, tagged by fault, and its rendering in the error
//! format of the API the client called. `router.rs` is the only caller of `into_response`.

use crate::body::{self, Body};
use crate::providers::Provider;
use http::{header, HeaderValue, Response, StatusCode};
use serde_json::json;
use std::fmt;

/// Who is at fault decides the status family (pingora's ErrorSource).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Client,
    Upstream,
    Internal,
}

#[derive(Debug)]
pub enum ProxyError {
    /// No route for this method and path.
    NotFound { method: String, path: String },
    /// The route exists but what the path names does not (a session id): the message says what.
    Missing(String),
    /// The route exists but its dialect or provider is switched off in config.
    DialectDisabled(Provider),
    /// The request body is larger than `max_request_body_bytes`.
    BodyTooLarge { limit: u64 },
    /// The request is malformed in a way we must reject before forwarding.
    BadRequest(String),
    /// The request comes from somewhere the proxy must not serve (a web page, a rebound host name).
    Forbidden(String),
    /// We were asked to supply credentials and could not (e.g. the Codex auth file is missing).
    MissingCredentials(String),
    /// The provider could not be reached (DNS, refused, TLS, reset before headers).
    UpstreamUnreachable(String),
    /// The provider sent no response headers within the silence timeout.
    UpstreamTimeout { secs: u64 },
    /// A local endpoint (the search API) needs a token the request did not carry.
    Unauthorized(String),
    /// Asked for something this build or this config does not provide (`recording` compiled out,
    /// the SQLite store switched off).
    FeatureDisabled(String),
    /// A request field whose meaning the routed provider's dialect cannot keep (translation never
    /// widens a setting): 400 naming the field.
    Unmappable { field: String, reason: String },
    /// This client dialect is not translated to the routed provider's (or the build lacks it).
    NotTranslated(String),
    /// The provider answered 2xx with something that could not be translated for the client.
    BadUpstreamAnswer(String),
    /// Every provider a rule names is skipped right now (breaker open, or `retry-after` cooling).
    Unavailable {
        why: String,
        retry_after_secs: u64,
        rate_limited: bool,
    },
    /// A bug or an impossible state on our side.
    Internal(String),
}

// === impl ProxyError ===

impl ProxyError {
    pub fn fault(&self) -> Fault {
        match self {
            Self::NotFound { .. }
            | Self::Missing(_)
            | Self::DialectDisabled(_)
            | Self::BodyTooLarge { .. }
            | Self::BadRequest(_)
            | Self::Forbidden(_)
            | Self::MissingCredentials(_)
            | Self::Unauthorized(_)
            | Self::FeatureDisabled(_)
            | Self::Unmappable { .. }
            | Self::NotTranslated(_) => Fault::Client,
            Self::UpstreamUnreachable(_)
            | Self::UpstreamTimeout { .. }
            | Self::BadUpstreamAnswer(_)
            | Self::Unavailable { .. } => Fault::Upstream,
            Self::Internal(_) => Fault::Internal,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound { .. } | Self::Missing(_) | Self::DialectDisabled(_) => {
                StatusCode::NOT_FOUND
            }
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BadRequest(_) | Self::Unmappable { .. } => StatusCode::BAD_REQUEST,
            Self::NotTranslated(_) => StatusCode::NOT_IMPLEMENTED,
            Self::BadUpstreamAnswer(_) => StatusCode::BAD_GATEWAY,
            Self::Unavailable {
                rate_limited: true, ..
            } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::MissingCredentials(_) | Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::FeatureDisabled(_) => StatusCode::NOT_IMPLEMENTED,
            Self::UpstreamUnreachable(_) => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Anthropic's `error.type` and OpenAI's `error.type`/`error.code` for this error.
    fn kinds(&self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::NotFound { .. } | Self::Missing(_) | Self::DialectDisabled(_) => {
                ("not_found_error", "invalid_request_error", "not_found")
            }
            Self::BodyTooLarge { .. } => (
                "request_too_large",
                "invalid_request_error",
                "request_too_large",
            ),
            Self::Forbidden(_) => ("permission_error", "invalid_request_error", "forbidden"),
            Self::BadRequest(_) => (
                "invalid_request_error",
                "invalid_request_error",
                "bad_request",
            ),
            Self::MissingCredentials(_) => (
                "authentication_error",
                "invalid_request_error",
                "missing_credentials",
            ),
            Self::Unauthorized(_) => (
                "authentication_error",
                "invalid_request_error",
                "unauthorized",
            ),
            Self::FeatureDisabled(_) => (
                "not_found_error",
                "invalid_request_error",
                "feature_disabled",
            ),
            Self::UpstreamUnreachable(_) => ("api_error", "server_error", "upstream_unreachable"),
            Self::UpstreamTimeout { .. } => ("api_error", "server_error", "upstream_timeout"),
            Self::Unmappable { .. } => (
                "invalid_request_error",
                "invalid_request_error",
                "unmappable_field",
            ),
            Self::NotTranslated(_) => (
                "invalid_request_error",
                "invalid_request_error",
                "not_translated",
            ),
            Self::BadUpstreamAnswer(_) => ("api_error", "server_error", "bad_upstream_answer"),
            Self::Unavailable {
                rate_limited: true, ..
            } => (
                "rate_limit_error",
                "rate_limit_error",
                "rate_limit_exceeded",
            ),
            Self::Unavailable { .. } => ("api_error", "server_error", "providers_unavailable"),
            Self::Internal(_) => ("api_error", "server_error", "internal_error"),
        }
    }

    /// The error body in the format of `dialect` (what `into_response` sends; the recorder keeps
    /// the same bytes).
    pub fn body_json(&self, dialect: Provider) -> serde_json::Value {
        let mut body = error_body(dialect, self.kinds(), &self.to_string());
        // OpenAI's error object has a slot for the offending parameter.
        if let (Self::Unmappable { field, .. }, Provider::OpenAi) = (self, dialect) {
            body["error"]["param"] = json!(field);
        }
        body
    }

    /// The response the client sees, in the error format of `dialect`.
    pub fn into_response(self, dialect: Provider) -> Response<Body> {
        let status = self.status();
        let value = self.body_json(dialect);
        let retry_after = match &self {
            Self::Unavailable {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        };
        let mut response = Response::new(body::json(&value));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        // Lets users tell an error LunaRoute made from one the provider sent.
        headers.insert("x-lunaroute-error", HeaderValue::from_static("true"));
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// The JSON error object of each dialect, shared with mid-stream error events (`proxy::tap`).
pub(crate) fn error_body(
    dialect: Provider,
    (anthropic_type, openai_type, openai_code): (&str, &str, &str),
    message: &str,
) -> serde_json::Value {
    match dialect {
        Provider::Anthropic => json!({
            "type": "error",
            "error": { "type": anthropic_type, "message": message },
        }),
        Provider::OpenAi => json!({
            "error": { "message": message, "type": openai_type, "param": null, "code": openai_code },
        }),
    }
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound { method, path } => {
                write!(f, "LunaRoute has no route for {method} {path}")
            }
            Self::Missing(what) => f.write_str(what),
            Self::DialectDisabled(p) => write!(
                f,
                "the {} API is switched off in this LunaRoute's config (api_dialect / providers.{}.enabled)",
                p.display_name(),
                p.config_key()
            ),
            Self::BodyTooLarge { limit } => write!(
                f,
                "request body is larger than LunaRoute's max_request_body_bytes ({limit} bytes)"
            ),
            Self::BadRequest(why) => write!(f, "bad request: {why}"),
            Self::Forbidden(why) => write!(f, "forbidden: {why}"),
            Self::MissingCredentials(why) => write!(f, "no credentials to send upstream: {why}"),
            Self::Unauthorized(why) => write!(f, "unauthorized: {why}"),
            Self::FeatureDisabled(why) => write!(f, "not available: {why}"),
            Self::UpstreamUnreachable(why) => write!(f, "provider unreachable: {why}"),
            Self::UpstreamTimeout { secs } => {
                write!(f, "provider sent no response headers within {secs} s")
            }
            Self::Unmappable { field, reason } => {
                write!(f, "field `{field}` cannot be sent to the routed provider: {reason}")
            }
            Self::NotTranslated(why) => write!(f, "not translated: {why}"),
            Self::BadUpstreamAnswer(why) => {
                write!(f, "the provider's answer could not be translated: {why}")
            }
            Self::Unavailable { why, .. } => write!(f, "no provider available: {why}"),
            Self::Internal(why) => write!(f, "internal LunaRoute error: {why}"),
        }
    }
}

impl std::error::Error for ProxyError {}

/// A failure before the server starts serving: what we were doing and why. `main` prints it and exits 2.
#[derive(Debug)]
pub struct StartupError {
    pub doing: String,
    pub why: String,
}

impl StartupError {
    pub fn new(doing: impl Into<String>, why: impl fmt::Display) -> Self {
        Self {
            doing: doing.into(),
            why: why.to_string(),
        }
    }
}

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.doing, self.why)
    }
}

impl std::error::Error for StartupError {}
