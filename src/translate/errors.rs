//! Errors across dialects: a provider's non-2xx answer (`error`), a local translation failure
//! (`local`) and a mid-stream error event (`stream_event`), each in the shape the *client* expects.
//!
//! Mapping (the `Kind` table below):
//! - 429 -> 429 in the client's shape; `retry-after` in whole seconds from the provider's
//!   `retry-after` (a fractional value is rounded up; an HTTP date is passed on unchanged), or from
//!   `retry-after-ms` rounded up when only that is present. Kept on any status that carries it.
//! - 503, 529 and any body saying "overloaded" -> Anthropic clients: 529 `overloaded_error`;
//!   OpenAI clients: 503 `server_error` / code `overloaded`.
//! - Everything else keeps its status, with the provider's message in the client's shape
//!   (Anthropic `{"type":"error","error":{"type","message"}}`, OpenAI
//!   `{"error":{"message","type","param","code"}}`); the error type follows the status.
//! - Context overflow is translated both ways, because clients act on it (Claude Code compacts on
//!   "prompt is too long", OpenAI clients look for code `context_length_exceeded`): OpenAI's code
//!   becomes an Anthropic message starting "prompt is too long: ", and that Anthropic message
//!   becomes the OpenAI code.
//! - A body that is not a known error shape: its text (first 500 characters) is the message.

use super::{Dialect, ErrorAnswer, TranslateError};
use serde_json::{json, Value};

/// What went wrong, independent of dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    InvalidRequest,
    ContextTooLong,
    Authentication,
    Permission,
    NotFound,
    TooLarge,
    RateLimited,
    Overloaded,
    Server,
}

// === impl Kind ===

impl Kind {
    fn from_status(status: u16) -> Self {
        match status {
            401 => Self::Authentication,
            403 => Self::Permission,
            404 => Self::NotFound,
            413 => Self::TooLarge,
            429 => Self::RateLimited,
            503 | 529 => Self::Overloaded,
            400..=499 => Self::InvalidRequest,
            _ => Self::Server,
        }
    }

    /// The kind an OpenAI stream error (`error` event, `response.failed`) reports by its code.
    pub(crate) fn from_openai_code(code: Option<&str>) -> Self {
        match code.unwrap_or("") {
            "rate_limit_exceeded" | "insufficient_quota" => Self::RateLimited,
            "context_length_exceeded" => Self::ContextTooLong,
            "server_is_overloaded" | "overloaded" | "slow_down" => Self::Overloaded,
            "invalid_prompt" | "invalid_request_error" | "invalid_image" | "invalid_value" => {
                Self::InvalidRequest
            }
            _ => Self::Server,
        }
    }

    fn anthropic_type(self) -> &'static str {
        match self {
            Self::InvalidRequest | Self::ContextTooLong => "invalid_request_error",
            Self::Authentication => "authentication_error",
            Self::Permission => "permission_error",
            Self::NotFound => "not_found_error",
            Self::TooLarge => "request_too_large",
            Self::RateLimited => "rate_limit_error",
            Self::Overloaded => "overloaded_error",
            Self::Server => "api_error",
        }
    }

    /// OpenAI `error.type` and `error.code`.
    fn openai_type_code(self) -> (&'static str, Option<&'static str>) {
        match self {
            Self::InvalidRequest => ("invalid_request_error", None),
            Self::ContextTooLong => ("invalid_request_error", Some("context_length_exceeded")),
            Self::Authentication => ("invalid_request_error", Some("invalid_api_key")),
            Self::Permission => ("invalid_request_error", Some("permission_denied")),
            Self::NotFound => ("invalid_request_error", Some("not_found")),
            Self::TooLarge => ("invalid_request_error", Some("request_too_large")),
            Self::RateLimited => ("rate_limit_error", Some("rate_limit_exceeded")),
            Self::Overloaded => ("server_error", Some("overloaded")),
            Self::Server => ("server_error", None),
        }
    }

    /// The status the client gets: overload is 529 for Anthropic clients, 503 for OpenAI ones.
    fn client_status(self, client: Dialect, provider_status: u16) -> u16 {
        match (self, client) {
            (Self::Overloaded, Dialect::Anthropic) => 529,
            (Self::Overloaded, _) => 503,
            (Self::RateLimited, _) => 429,
            // A 529 is Anthropic-only; anything else keeps the provider's status.
            (_, _) => provider_status,
        }
    }
}

/// A provider's non-2xx answer in the client's error shape.
pub(crate) fn error(
    client: Dialect,
    _provider: Dialect,
    status: u16,
    headers: &http::HeaderMap,
    body: &[u8],
) -> ErrorAnswer {
    // Both error shapes are recognised whatever the provider's dialect: compatible servers and
    // gateways in front of them do not always answer in the dialect they serve.
    let parsed = Parsed::from_body(status, body);
    let mut kind = Kind::from_status(status);
    if kind != Kind::RateLimited && parsed.says_overloaded() {
        kind = Kind::Overloaded;
    }
    if kind == Kind::InvalidRequest && parsed.says_context_too_long() {
        kind = Kind::ContextTooLong;
    }
    ErrorAnswer {
        status: kind.client_status(client, status),
        retry_after: retry_after(headers),
        body: body_bytes(client, kind, &parsed.message),
    }
}

/// A local translation failure as the client's 400 (501 for an untranslated pair).
pub(crate) fn local(client: Dialect, err: &TranslateError) -> ErrorAnswer {
    let status = match err {
        TranslateError::Unsupported(_) => 501,
        TranslateError::Invalid(_) | TranslateError::Unmappable { .. } => 400,
    };
    ErrorAnswer {
        status,
        retry_after: None,
        body: body_bytes(client, Kind::InvalidRequest, &err.to_string()),
    }
}

/// The client's error object as JSON.
pub(crate) fn body_value(client: Dialect, kind: Kind, message: &str) -> Value {
    match client {
        Dialect::Anthropic => {
            let message = if kind == Kind::ContextTooLong
                && !message
                    .to_ascii_lowercase()
                    .starts_with("prompt is too long")
            {
                format!("prompt is too long: {message}")
            } else {
                message.to_string()
            };
            json!({"type": "error", "error": {"type": kind.anthropic_type(), "message": message}})
        }
        Dialect::Chat | Dialect::Responses => {
            let (kind_type, code) = kind.openai_type_code();
            json!({"error": {"message": message, "type": kind_type, "param": null, "code": code}})
        }
    }
}

fn body_bytes(client: Dialect, kind: Kind, message: &str) -> Vec<u8> {
    serde_json::to_vec(&body_value(client, kind, message)).unwrap_or_default()
}

/// Appends the client dialect's mid-stream error event: Anthropic `event: error`, a Chat error
/// chunk `data: {"error":{...}}`, or a Responses `error` event. The caller then ends the stream.
pub(crate) fn stream_event(client: Dialect, kind: Kind, message: &str, out: &mut Vec<u8>) {
    let body = body_value(client, kind, message);
    match client {
        Dialect::Anthropic => super::sse_out::anthropic(out, "error", &body),
        Dialect::Chat => super::sse_out::chat(out, &body),
        Dialect::Responses => {
            let (_, code) = kind.openai_type_code();
            let event = json!({"type": "error", "code": code, "message": message, "param": null});
            super::sse_out::anthropic(out, "error", &event);
        }
    }
}

/// `retry-after` for the client in whole seconds (see the module docs).
fn retry_after(headers: &http::HeaderMap) -> Option<String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    if let Some(value) = header("retry-after") {
        return Some(match value.parse::<f64>() {
            Ok(secs) if secs.is_finite() && secs >= 0.0 => format!("{}", secs.ceil() as u64),
            // An HTTP date is a valid `retry-after` as it is.
            _ => value.to_string(),
        });
    }
    let ms = header("retry-after-ms")?.parse::<f64>().ok()?;
    (ms.is_finite() && ms >= 0.0).then(|| format!("{}", (ms / 1000.0).ceil() as u64))
}

/// What the provider's error body said, whichever shape it used.
struct Parsed {
    message: String,
    /// Anthropic `error.type` or OpenAI `error.type` / `error.code`, lowercased.
    labels: Vec<String>,
}

// === impl Parsed ===

impl Parsed {
    fn from_body(status: u16, body: &[u8]) -> Self {
        let value: Option<Value> = serde_json::from_slice(body).ok();
        let err = value.as_ref().map(|v| v.get("error").unwrap_or(v));
        let text = |v: Option<&Value>, key: &str| {
            v.and_then(|e| e.get(key))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let mut labels = Vec::new();
        for key in ["type", "code"] {
            if let Some(label) = text(err, key) {
                labels.push(label.to_ascii_lowercase());
            }
        }
        let message = text(err, "message")
            // `{"error": "text"}`, seen from some compatible servers.
            .or_else(|| err.and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| {
                let raw = String::from_utf8_lossy(body);
                let raw = raw.trim();
                if raw.is_empty() {
                    format!("the provider answered HTTP {status} with an empty body")
                } else {
                    raw.chars().take(500).collect()
                }
            });
        Self { message, labels }
    }

    fn says_overloaded(&self) -> bool {
        self.labels.iter().any(|l| l.contains("overloaded"))
    }

    fn says_context_too_long(&self) -> bool {
        self.labels.iter().any(|l| l == "context_length_exceeded")
            || self
                .message
                .to_ascii_lowercase()
                .starts_with("prompt is too long")
    }
}

#[cfg(test)]
mod tests;
