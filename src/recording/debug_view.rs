//! [recording] The debug stream view (issue 3, item 12): with `log_requests` on and the
//! `lunaroute::stream` target at debug level, every request gets a readable account in the log,
//! one line per notable thing, each prefixed with the request number:
//!
//! ```text
//! #7 request anthropic POST /v1/messages model=claude-sonnet-4-6 messages=3 streaming=yes tools=2
//! #7 thinking 104 chars
//! #7 text "I'll check the current weather in Paris for you ☀️"
//! #7 tool get_weather {"city":"Paris","unit":"celsius"}
//! #7 usage in=1893 out=142 cache_read=14336 cache_write=0 thinking=0 stop=tool_use
//! ```
//!
//! Text longer than 160 characters is cut with `…` and its length (`"…" (1234 chars)`); newlines
//! show as `⏎`. An error body or event adds `error status=429 rate_limit_error: …`, and a stream
//! that did not end cleanly ends its usage line with `outcome=client_disconnected` (or `timeout`,
//! `upstream_failed`, or `refused` for a request LunaRoute answered itself). Relayed WebSocket
//! turns are not shown.
//!
//! Blocks are shown as each one finishes (Anthropic `content_block_stop`, Chat `finish_reason`,
//! Responses `output_item.done`); usage and stop reason come from `assemble::StreamAssembler` at the
//! end, or from `assemble_json` for a JSON answer. Thinking is shown by size only.
//!
//! Cost: `DebugView::begin` decides once per request and returns `None` unless both switches are
//! on, so a normal request pays one branch per frame. When on (an opt-in debugging mode) it keeps a
//! copy of the request body, parses the response incrementally with `SseParser`, and buffers only
//! what it must (JSON answers, and streams with a content-encoding, which are read at the end).
//!
//! PII: with a redactor configured, every line is redacted as a whole just before it is printed.
//! A block's text is previewed after the stream has assembled it, so a value split across SSE
//! deltas is caught, and previews are cut to their 160 (tool arguments: 200) characters only after
//! redaction, with 512 characters to spare, so a value the cut falls into is still redacted whole.
//!
//! SECURITY: the view never sees a header value except `content-type` and `content-encoding`;
//! keys, `authorization` and cookies cannot reach these lines.

mod blocks;
mod lines;
#[cfg(test)]
mod tests;

use super::assemble::{self, Api, StreamAssembler};
use super::decode::decode_lossy;
use super::record::Assembled;
use super::sse::{SseEvent, SseParser};
use crate::features::pii::{Counts, Redactor};
use crate::providers::Provider;
use crate::proxy::ctx::End;
use blocks::Blocks;
use bytes::Bytes;
use http::{header, HeaderMap};
use lines::{answer_lines, cut_previews, end_lines, request_line};
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// A JSON answer (or an encoded stream) larger than this is not buffered further.
const BUFFER_CAP: usize = 32 << 20;

/// The handle the request body tap and the response side share (the request body belongs to the
/// upstream client, the response to `RequestCtx`). Uncontended: the two sides follow each other.
#[derive(Clone)]
pub(crate) struct DebugView(Arc<Mutex<View>>);

// === impl DebugView ===

impl DebugView {
    /// `Some` only when `log_requests` is on and the log would print `lunaroute::stream` debug
    /// lines; decided here, once per request.
    pub fn begin(
        log_requests: bool,
        id: u64,
        provider: Provider,
        parts: &http::request::Parts,
        pii: Option<&Arc<Redactor>>,
    ) -> Option<Self> {
        if !log_requests || !tracing::enabled!(target: "lunaroute::stream", tracing::Level::DEBUG) {
            return None;
        }
        let encoding = header_str(&parts.headers, header::CONTENT_ENCODING);
        let mut view = View::new(
            id,
            provider,
            parts.method.as_str(),
            parts.uri.path(),
            encoding,
        );
        view.pii = pii.cloned();
        Some(Self(Arc::new(Mutex::new(view))))
    }

    pub fn request_chunk(&self, data: &Bytes) {
        self.with(|view| {
            view.request_chunk(data);
            Vec::new()
        });
    }

    /// The request body has been read to its end: prints the request line.
    pub fn request_end(&self) {
        self.with(View::request_end);
    }

    pub fn response_head(&self, status: u16, headers: &HeaderMap) {
        let is_sse = header_str(headers, header::CONTENT_TYPE).is_some_and(|t| {
            t.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/event-stream")
        });
        let encoding = header_str(headers, header::CONTENT_ENCODING);
        self.with(|view| view.response_head(status, is_sse, encoding));
    }

    pub fn response_chunk(&self, data: &Bytes) {
        self.with(|view| view.response_chunk(data));
    }

    /// The end phase: whatever is still open, then usage and stop reason.
    pub fn finish(&self, end: &End) {
        self.with(|view| view.finish(end));
    }

    fn with(&self, f: impl FnOnce(&mut View) -> Vec<String>) {
        let lines = match self.0.lock() {
            Ok(mut view) => f(&mut view),
            // A panic elsewhere while holding the lock: the view just goes quiet.
            Err(_) => return,
        };
        for line in lines {
            tracing::debug!(target: "lunaroute::stream", "{line}");
        }
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_string)
}

/// The view itself, without the lock or the logger: every step returns the lines it produced,
/// so tests read them directly.
pub(crate) struct View {
    id: u64,
    provider: Provider,
    method: String,
    path: String,
    api: Api,
    /// The request body so far; `None` once the request line is out.
    request: Option<Vec<u8>>,
    request_encoding: Option<String>,
    status: u16,
    response: Response,
    blocks: Blocks,
    assembler: StreamAssembler,
    events: Vec<SseEvent>,
    /// Each printed line is redacted as a whole (see the module docs for what that misses).
    pii: Option<Arc<Redactor>>,
}

enum Response {
    /// No response head yet.
    Waiting,
    /// A plain event stream, parsed as it arrives.
    Stream(SseParser),
    /// A JSON answer, or an encoded stream: read at the end.
    Buffered {
        body: Vec<u8>,
        encoding: Option<String>,
        is_sse: bool,
    },
}

// === impl View ===

impl View {
    pub(crate) fn new(
        id: u64,
        provider: Provider,
        method: &str,
        path: &str,
        request_encoding: Option<String>,
    ) -> Self {
        let api = assemble::api_for(provider, path);
        Self {
            id,
            provider,
            method: method.to_string(),
            path: path.to_string(),
            api,
            request: Some(Vec::new()),
            request_encoding,
            status: 0,
            response: Response::Waiting,
            blocks: Blocks::for_api(api),
            assembler: StreamAssembler::new(api),
            events: Vec::new(),
            pii: None,
        }
    }

    pub(crate) fn request_chunk(&mut self, data: &[u8]) {
        if let Some(body) = self.request.as_mut() {
            body.extend_from_slice(data);
        }
    }

    pub(crate) fn request_end(&mut self) -> Vec<String> {
        let Some(body) = self.request.take() else {
            return Vec::new();
        };
        let (body, _) = decode_lossy(self.request_encoding.as_deref(), &body);
        let value = serde_json::from_slice::<Value>(&body).ok();
        let summary = value
            .as_ref()
            .map(|v| assemble::summarize_value(self.api, v));
        let tools = value
            .as_ref()
            .and_then(|v| v.get("tools")?.as_array().map(Vec::len));
        let line = request_line(
            self.provider,
            &self.method,
            &self.path,
            summary.as_ref(),
            tools,
        );
        vec![self.line(line)]
    }

    pub(crate) fn response_head(
        &mut self,
        status: u16,
        is_sse: bool,
        encoding: Option<String>,
    ) -> Vec<String> {
        // A body the client never sent (or the provider answered before reading it all).
        let out = self.request_end();
        self.status = status;
        let encoded = encoding
            .as_deref()
            .is_some_and(|e| !e.trim().eq_ignore_ascii_case("identity"));
        self.response = if is_sse && !encoded {
            Response::Stream(SseParser::new())
        } else {
            Response::Buffered {
                body: Vec::new(),
                encoding,
                is_sse,
            }
        };
        out
    }

    pub(crate) fn response_chunk(&mut self, data: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        match &mut self.response {
            Response::Stream(parser) => {
                parser.feed(data, &mut self.events);
                self.take_events(&mut out);
            }
            Response::Buffered { body, .. } => {
                if body.len() + data.len() <= BUFFER_CAP {
                    body.extend_from_slice(data);
                }
            }
            Response::Waiting => {}
        }
        out
    }

    pub(crate) fn finish(&mut self, end: &End) -> Vec<String> {
        let mut out = self.request_end();
        let assembled = match std::mem::replace(&mut self.response, Response::Waiting) {
            Response::Buffered {
                body,
                encoding,
                is_sse,
            } => {
                let (body, _) = decode_lossy(encoding.as_deref(), &body);
                if is_sse {
                    let mut parser = SseParser::new();
                    parser.feed(&body, &mut self.events);
                    self.take_events(&mut out);
                    self.streamed(&mut out)
                } else {
                    let assembled = assemble::assemble_json(self.api, &body);
                    out.extend(answer_lines(&assembled).into_iter().map(|l| self.line(l)));
                    assembled
                }
            }
            Response::Stream(_) | Response::Waiting => self.streamed(&mut out),
        };
        let status = self.status;
        out.extend(
            end_lines(status, &assembled, end)
                .into_iter()
                .map(|l| self.line(l)),
        );
        out
    }

    /// Closes the stream's open blocks (a cut stream shows what it got) and its assembly.
    fn streamed(&mut self, out: &mut Vec<String>) -> Assembled {
        let blocks = std::mem::replace(&mut self.blocks, Blocks::Unknown);
        for line in blocks.finish() {
            out.push(self.line(line));
        }
        std::mem::replace(&mut self.assembler, StreamAssembler::new(self.api)).finish()
    }

    fn take_events(&mut self, out: &mut Vec<String>) {
        for event in std::mem::take(&mut self.events) {
            // Chat's `data: [DONE]` and keep-alive junk are not JSON.
            let Ok(data) = serde_json::from_str::<Value>(&event.data) else {
                continue;
            };
            let name = event.event.as_deref();
            self.assembler.event(0.0, name, &data);
            let kind = data
                .get("type")
                .and_then(Value::as_str)
                .or(name)
                .unwrap_or_default();
            for line in self.blocks.event(kind, &data) {
                out.push(self.line(line));
            }
        }
    }

    /// Redacts the whole line, previews uncut, then cuts them (`lines::preview`).
    fn line(&self, text: String) -> String {
        let text = match &self.pii {
            // Not counted: the recorder counts the same values when it stores the request.
            Some(pii) => pii.text(&text, &mut Counts::default()).into_owned(),
            None => text,
        };
        format!("#{} {}", self.id, cut_previews(&text))
    }
}
