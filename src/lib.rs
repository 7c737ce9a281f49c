//! LunaRoute: a local proxy between AI coding assistants and their providers.
//!
//! # Layout
//! - `main.rs`: flags ([`cli`]) → `config::load` → logging → `server::bind` → `server::run`.
//! - [`config`]: the config tree, its layers (defaults < TOML < `LUNAROUTE_*` env < flags), `Secret`.
//! - [`server`]: listeners, the accept loop, graceful shutdown; `tasks` counts what shutdown waits for
//!   (connections, WebSocket relays) and cuts what is left when the grace period is over.
//! - `router`: the one `match` every request goes through; the only place errors become responses.
//! - [`state`]: `AppState`, shared by every request.
//! - `proxy`: `forward` and its phases: `passthrough` (headers, credentials, send), `request_body`
//!   (limit, model sniffing), `tap` (response body: silence timeout, error events, end phase),
//!   `websocket` (Codex's Responses WebSocket relay), `upstream` (pooled TLS clients), `ctx`.
//! - `providers`: `Provider` (Anthropic | OpenAI), dialect detection, base-URL joins, Codex sign-in.
//! - `access`: who may use the proxy (no web pages, no rebound host names; no `..` paths).
//! - [`error`]: `ProxyError` rendered in the client's own error format; `StartupError`.
//! - `metrics`: Prometheus metric names, `record_*` helpers, the `/metrics` text.
//! - `pii`: PII and secret detection and redaction (text, JSON bodies byte-preserving, SSE streams), vault.
//! - `sse`: the incremental event-stream parser (recording, pii, translate).
//! - `translate`: Anthropic Messages ↔ OpenAI Chat / Responses (requests, responses, streams, errors).
//! - `body`: the one `Body` type. `features`: where Cargo features become code. [`logging`]: filters.
//! - `test_support` (unit tests only): `TempDir` (removed on drop) and `headers`.
//!
//! # Request flow
//! 1. **accept**: `server::run` serves each connection with `router::handle`; `GracefulShutdown` watches it.
//! 2. **route**: `/`, `/healthz`, `/readyz`, then provider paths (`/v1/messages*` → Anthropic; chat,
//!    responses, embeddings → OpenAI; other `/v1/*` by headers), else a 404 in the client's shape.
//! 3. **request phase** (`proxy::forward`): context, size limit, upstream URI, hop-by-hop headers out,
//!    credentials in. The body streams through untouched.
//! 4. **upstream phase**: send on the provider's pooled client; no headers within the timeout → 504.
//! 5. **response phase**: status and headers back as sent (non-2xx included); the body is wrapped in
//!    `tap::ResponseBody` and forwarded frame by frame.
//! 6. **end phase**: `RequestCtx::finish` runs exactly once: done, failed, timed out or cancelled.
#![forbid(unsafe_code)]

mod access;
mod body;
pub mod cli;
pub mod config;
pub mod error;
pub mod features;
pub mod logging;
mod metrics;
#[cfg(feature = "pii")]
// Without `recording` only the request phase (`apply_to_upstream`) calls in: the stored-body and
// event-stream halves are compiled but unreached, which is not worth a cfg on every item.
#[cfg_attr(not(feature = "recording"), allow(dead_code))]
mod pii;
mod providers;
mod proxy;
#[cfg(feature = "recording")]
mod recording;
mod router;
mod routing;
pub mod server;
// The event-stream parser serves the recorder, PII redaction and translation; the slim build has none.
#[cfg(any(feature = "recording", feature = "pii", feature = "translate"))]
// Only the recorder and translation parse event streams; without both it is unreached.
#[cfg_attr(
    not(any(feature = "recording", feature = "translate")),
    allow(dead_code)
)]
mod sse;
pub mod state;
mod tasks;
#[cfg(test)]
mod test_support;
#[cfg(feature = "translate")]
mod translate;

pub use body::{Body, BoxError};
pub use providers::Provider;
