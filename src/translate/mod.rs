//! Translation between client and provider dialects (ISSUE 6): Anthropic Messages, OpenAI Chat
//! Completions and OpenAI Responses. Pure functions and one incremental stream translator; no I/O,
//! no tokio. The proxy (T3) calls `request` before sending, then `response` / `Stream` / `error` on
//! the way back. Which pairs are translated here: (Anthropic, Chat) and (Chat, Anthropic) in
//! `chat/`; (Anthropic, Responses) in `responses/`. Anything else is `Unsupported`.
// Until the proxy calls this module, only the tests reach it.
#![cfg_attr(not(test), allow(dead_code))]

mod chat;
pub(crate) mod errors;
mod estimate;
mod output_format;
mod responses;
pub(crate) mod sse_out;

/// A wire dialect: which API shape a body or stream follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// Anthropic Messages (`/v1/messages`).
    Anthropic,
    /// OpenAI Chat Completions (`/v1/chat/completions`).
    Chat,
    /// OpenAI Responses (`/v1/responses`).
    Responses,
}

/// What the provider side needs to know (from `[providers.NAME]` and the routing rule).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Target<'a> {
    /// The model to send (after `model_rewrite`).
    pub model: &'a str,
    /// Chat providers only: which field carries the output-token cap.
    pub max_tokens_field: MaxTokensField,
    /// Toward Anthropic when the client sent none (Anthropic requires `max_tokens`).
    pub default_max_tokens: Option<u64>,
}

/// The Chat field that carries the output-token cap (newer OpenAI models reject `max_tokens`, many
/// compatible servers only know `max_tokens`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MaxTokensField {
    MaxCompletionTokens,
    MaxTokens,
}

/// What the response side must remember about the client's request.
#[derive(Clone, Debug)]
pub(crate) struct ClientView {
    /// The model name the client asked for (echoed back to it).
    pub model: String,
    pub stream: bool,
    /// Chat clients: `stream_options.include_usage` was asked for.
    pub include_usage: bool,
}

/// A translated request, ready for the provider.
#[derive(Debug)]
pub(crate) struct Translated {
    /// JSON for the provider.
    pub body: Vec<u8>,
    /// Provider path: "/v1/messages" | "/v1/chat/completions" | "/v1/responses".
    pub path: &'static str,
    pub view: ClientView,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TranslateError {
    /// Body is not valid JSON / not the expected shape: 400 in the client's error format.
    Invalid(String),
    /// A field whose meaning cannot be kept on the provider side: 400 naming `field` (never widened).
    Unmappable { field: String, reason: String },
    /// This client/provider pair is not translated: 400/501.
    Unsupported(String),
}

impl std::fmt::Display for TranslateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid(msg) => write!(f, "invalid request body: {msg}"),
            Self::Unmappable { field, reason } => {
                write!(f, "field `{field}` cannot be translated: {reason}")
            }
            Self::Unsupported(msg) => write!(f, "translation not supported: {msg}"),
        }
    }
}

impl std::error::Error for TranslateError {}

fn unsupported(client: Dialect, provider: Dialect) -> TranslateError {
    TranslateError::Unsupported(format!("{client:?} client to {provider:?} provider"))
}

/// Translates a client request body for `provider`.
pub(crate) fn request(
    client: Dialect,
    provider: Dialect,
    body: &[u8],
    target: &Target,
) -> Result<Translated, TranslateError> {
    match (client, provider) {
        (Dialect::Anthropic, Dialect::Chat) => chat::request::translate(body, target),
        (Dialect::Chat, Dialect::Anthropic) => chat::reverse_request::translate(body, target),
        (Dialect::Anthropic, Dialect::Responses) => responses::request(body, target),
        _ => Err(unsupported(client, provider)),
    }
}

/// A 2xx JSON (non-streaming) provider answer, as the client's dialect.
pub(crate) fn response(
    client: Dialect,
    provider: Dialect,
    body: &[u8],
    view: &ClientView,
) -> Result<Vec<u8>, TranslateError> {
    match (client, provider) {
        (Dialect::Anthropic, Dialect::Chat) => chat::response::chat_to_anthropic(body, view),
        (Dialect::Chat, Dialect::Anthropic) => {
            chat::response::anthropic_to_chat(body, view, chat::json::now_secs())
        }
        (Dialect::Anthropic, Dialect::Responses) => responses::response(body, view),
        _ => Err(unsupported(client, provider)),
    }
}

/// A non-2xx provider answer (or a local failure) as the client expects it.
#[derive(Debug)]
pub(crate) struct ErrorAnswer {
    pub status: u16,
    /// `retry-after` in whole seconds, to send to the client.
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

/// A non-2xx provider answer in the client's error shape (T2 implements this in `errors.rs`).
pub(crate) fn error(
    client: Dialect,
    provider: Dialect,
    status: u16,
    headers: &http::HeaderMap,
    body: &[u8],
) -> ErrorAnswer {
    errors::error(client, provider, status, headers, body)
}

/// SSE -> SSE translator for one streamed response; feed provider bytes as they arrive (any split).
pub(crate) struct Stream {
    inner: StreamKind,
}

enum StreamKind {
    /// A pair this module does not translate: the client gets its dialect's error event.
    Unsupported { client: Dialect, done: bool },
    /// Anthropic client, Chat provider.
    ChatToAnthropic(Box<chat::stream_to_anthropic::ToAnthropic>),
    /// Chat client, Anthropic provider.
    AnthropicToChat(Box<chat::stream_to_chat::ToChat>),
    /// Anthropic client, Responses provider.
    Responses(Box<responses::ToAnthropic>),
}

impl Stream {
    pub(crate) fn new(client: Dialect, provider: Dialect, view: ClientView) -> Self {
        let inner = match (client, provider) {
            (Dialect::Anthropic, Dialect::Chat) => StreamKind::ChatToAnthropic(Box::new(
                chat::stream_to_anthropic::ToAnthropic::new(view),
            )),
            (Dialect::Chat, Dialect::Anthropic) => StreamKind::AnthropicToChat(Box::new(
                chat::stream_to_chat::ToChat::new(view, chat::json::now_secs()),
            )),
            (Dialect::Anthropic, Dialect::Responses) => {
                StreamKind::Responses(Box::new(responses::ToAnthropic::new(view)))
            }
            _ => StreamKind::Unsupported {
                client,
                done: false,
            },
        };
        Self { inner }
    }

    /// Provider bytes in, client-dialect SSE bytes appended to `out` (possibly none yet).
    pub(crate) fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        match &mut self.inner {
            StreamKind::Unsupported { .. } => self.fail("this dialect pair is not translated", out),
            StreamKind::ChatToAnthropic(s) => s.push(chunk, out),
            StreamKind::AnthropicToChat(s) => s.push(chunk, out),
            StreamKind::Responses(s) => s.push(chunk, out),
        }
    }

    /// Provider EOF. If the provider's terminal event was seen, finish cleanly; otherwise emit the
    /// client dialect's error event — never a fake success.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        match &mut self.inner {
            StreamKind::Unsupported { .. } => self.fail("this dialect pair is not translated", out),
            StreamKind::ChatToAnthropic(s) => s.finish(out),
            StreamKind::AnthropicToChat(s) => s.finish(out),
            StreamKind::Responses(s) => s.finish(out),
        }
    }

    /// The provider connection failed / timed out mid-stream: the client dialect's error event.
    pub(crate) fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        match &mut self.inner {
            StreamKind::Unsupported { client, done } => {
                if !std::mem::replace(done, true) {
                    unsupported_error(*client, message, out);
                }
            }
            StreamKind::ChatToAnthropic(s) => s.fail(message, out),
            StreamKind::AnthropicToChat(s) => s.fail(message, out),
            StreamKind::Responses(s) => s.fail(message, out),
        }
    }
}

/// The error event of the client's dialect for a stream that cannot be translated (one helper
/// for every mid-stream error: `errors::stream_event`).
fn unsupported_error(client: Dialect, message: &str, out: &mut Vec<u8>) {
    errors::stream_event(client, errors::Kind::Server, message, out);
}

/// count_tokens for a non-Anthropic target: a local estimate (T2 implements this in `estimate.rs`).
pub(crate) fn estimate_input_tokens(anthropic_request: &[u8]) -> Result<u64, TranslateError> {
    estimate::estimate_input_tokens(anthropic_request)
}
