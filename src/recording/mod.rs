//! [recording] Every request and response, recorded off the request path: the taps capture cheap
//! `Bytes` clones, the writer thread decodes, parses and assembles them into `RequestRecord`s and
//! hands those to the stores (JSONL files per session, SQLite analytics).
//!
//! Pieces: `record` (the assembled shape) · `decode`
//! (content-encoding copies) · `assemble` (per-dialect response assembly, request summaries) ·
//! `session` (session identity, client kind, tool timing) · `pricing` · `sqlite` · `jsonl` ·
//! `retention` · `export` · `redact` (PII and secrets, before the stores) · `debug_view` (the `log_requests` stream view at debug level) · `clock`
//! (UTC dates and RFC 3339 timestamps for the stores).

pub(crate) mod assemble;
mod capture;
mod clock;
mod debug_view;
pub(crate) mod decode;
mod exchange;
pub(crate) mod export;
pub(crate) mod jsonl;
pub(crate) mod pricing;
pub(crate) mod record;
mod recorder;
mod redact;
pub(crate) mod retention;
pub(crate) mod search;
pub(crate) mod session;
pub(crate) mod sqlite;
pub(crate) use crate::sse;
mod summary;
mod writer;
pub(crate) mod ws_frames;
mod ws_session;

pub(crate) use capture::{Capture, RequestSink};
pub(crate) use debug_view::DebugView;
pub(crate) use recorder::{Recorder, WsTap};

/// A file under `tests/fixtures` (real provider answers), for the assembly and debug-view tests.
#[cfg(test)]
fn fixture(path: &str) -> Vec<u8> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
    std::fs::read(format!("{dir}{path}")).expect(path)
}
