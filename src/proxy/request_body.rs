//! The client's request body on its way upstream: frames pass through untouched while we enforce
//! `max_request_body_bytes` (for bodies without a `content-length`) and spot the `model` for the log.
//! A routed request's body starts with what the peek phase already read (`with_prefix`).

use crate::body::BoxError;
use crate::features::{DebugView, RequestSink};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

/// The body grew past the limit mid-stream; `passthrough` turns this into a 413.
#[derive(Debug)]
pub(crate) struct BodyLimitExceeded(pub u64);

impl fmt::Display for BodyLimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request body exceeds {} bytes", self.0)
    }
}

impl std::error::Error for BodyLimitExceeded {}

/// Reading the client's body failed (it hung up mid-upload, or sent broken chunking): the client's
/// fault, not the provider's, which `passthrough` reports as such.
#[derive(Debug)]
pub(crate) struct ClientBodyError(pub hyper::Error);

impl fmt::Display for ClientBodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "reading the request body from the client failed: {}",
            self.0
        )
    }
}

impl std::error::Error for ClientBodyError {}

pub(crate) struct RequestBody {
    inner: Incoming,
    limit: u64,
    seen: u64,
    /// The model for the request log and the metrics label (it stops scanning once found).
    sniffer: Option<ModelSniffer>,
    /// The recorder's copy of the body (reference-counted clones of each frame).
    sink: Option<RequestSink>,
    /// The debug stream view's copy, for its request line (`None` unless that view is on).
    debug: Option<DebugView>,
    /// Sent before `inner`'s frames; already counted, captured and shown by whoever read them.
    prefix: VecDeque<Bytes>,
    prefix_len: u64,
}

impl RequestBody {
    pub fn new(
        inner: Incoming,
        limit: u64,
        model: Option<Arc<OnceLock<String>>>,
        sink: Option<RequestSink>,
        debug: Option<DebugView>,
    ) -> Self {
        Self {
            inner,
            limit,
            seen: 0,
            sniffer: model.map(|found| ModelSniffer {
                found,
                carry: Vec::new(),
            }),
            sink,
            debug,
            prefix: VecDeque::new(),
            prefix_len: 0,
        }
    }

    /// Frames to send first (the peeked part of the body, possibly with the model replaced);
    /// `seen` is how much of the client's body they stand for, toward the limit.
    pub fn with_prefix(mut self, prefix: Vec<Bytes>, seen: u64) -> Self {
        self.prefix_len = prefix.iter().map(|b| b.len() as u64).sum();
        self.prefix = prefix.into();
        self.seen = seen;
        self
    }
}

impl HttpBody for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Some(data) = this.prefix.pop_front() {
            this.prefix_len -= data.len() as u64;
            if this.prefix.is_empty() && this.inner.is_end_stream() {
                if let Some(debug) = &this.debug {
                    debug.request_end();
                }
            }
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen += data.len() as u64;
                    if this.seen > this.limit {
                        if let Some(sink) = &this.sink {
                            sink.cut();
                        }
                        return Poll::Ready(Some(Err(Box::new(BodyLimitExceeded(this.limit)))));
                    }
                    if let Some(sniffer) = this.sniffer.as_mut() {
                        sniffer.feed(data);
                    }
                    if let Some(sink) = &this.sink {
                        sink.push(data);
                    }
                    if let Some(debug) = &this.debug {
                        debug.request_chunk(data);
                        // A content-length body ends at its last frame (hyper may not poll for `None`).
                        if this.inner.is_end_stream() {
                            debug.request_end();
                        }
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                if let Some(sink) = &this.sink {
                    sink.cut();
                }
                Poll::Ready(Some(Err(Box::new(ClientBodyError(e)))))
            }
            Poll::Ready(None) => {
                if let Some(debug) = &this.debug {
                    debug.request_end();
                }
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        // Keeps the client's content-length on the upstream request (no chunked re-framing).
        let rest = self.inner.size_hint();
        if self.prefix_len == 0 {
            return rest;
        }
        match rest.exact() {
            Some(n) => SizeHint::with_exact(n + self.prefix_len),
            None => {
                let mut hint = SizeHint::new();
                if let Some(upper) = rest.upper() {
                    hint.set_upper(upper + self.prefix_len);
                }
                hint.set_lower(rest.lower() + self.prefix_len);
                hint
            }
        }
    }
}

/// A body already read whole (`redact_upstream`): the same observers see it, as one frame.
pub(super) fn observe_whole(
    data: &Bytes,
    model: Arc<OnceLock<String>>,
    sink: Option<RequestSink>,
    debug: Option<DebugView>,
) {
    ModelSniffer {
        found: model,
        carry: Vec::new(),
    }
    .feed(data);
    if let Some(sink) = &sink {
        sink.push(data);
    }
    if let Some(debug) = &debug {
        debug.request_chunk(data);
        debug.request_end();
    }
}

/// Finds the first `"model": "<name>"` in a JSON body as it streams past, across chunk boundaries.
/// A heuristic for the request log and metrics labels (the recorder parses bodies properly, off the request path):
/// it skips `\"model\"` inside strings and `"model": {` in tool schemas.
struct ModelSniffer {
    found: Arc<OnceLock<String>>,
    /// The tail of the previous chunk, so a key split across reads is still seen.
    carry: Vec<u8>,
}

const CARRY: usize = 256;

impl ModelSniffer {
    fn feed(&mut self, chunk: &[u8]) {
        if self.found.get().is_some() {
            return;
        }
        // One buffer for the whole body: the seam (old tail + new head), then the new tail.
        let mut carry = std::mem::take(&mut self.carry);
        if !carry.is_empty() {
            carry.extend_from_slice(&chunk[..chunk.len().min(CARRY)]);
            if self.search(&carry) {
                return;
            }
        }
        if self.search(chunk) {
            return;
        }
        carry.clear();
        carry.extend_from_slice(&chunk[chunk.len().saturating_sub(CARRY)..]);
        self.carry = carry;
    }

    fn search(&self, hay: &[u8]) -> bool {
        const KEY: &[u8] = b"\"model\"";
        let mut from = 0;
        while let Some(pos) = find(&hay[from..], KEY) {
            let at = from + pos;
            from = at + KEY.len();
            if at > 0 && hay[at - 1] == b'\\' {
                continue;
            }
            if let Some(name) = string_value_after(&hay[from..]) {
                let _ = self.found.set(name);
                return true;
            }
        }
        false
    }
}

/// Looks for the needle's first byte, then compares: far cheaper than comparing at every offset.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while let Some(i) = hay.get(from..)?.iter().position(|&b| b == first) {
        let at = from + i;
        if hay.get(at + 1..at + needle.len()) == Some(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// `  :  "name"` → `name`, for short plain names only.
fn string_value_after(rest: &[u8]) -> Option<String> {
    let rest = trim_start(rest);
    let rest = trim_start(rest.strip_prefix(b":")?);
    let rest = rest.strip_prefix(b"\"")?;
    let end = rest
        .iter()
        .take(200)
        .position(|&b| b == b'"' || b == b'\\')?;
    (rest[end] == b'"').then(|| String::from_utf8_lossy(&rest[..end]).into_owned())
}

fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &s[n..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniff(chunks: &[&[u8]]) -> Option<String> {
        let found = Arc::new(OnceLock::new());
        let mut s = ModelSniffer {
            found: found.clone(),
            carry: Vec::new(),
        };
        for c in chunks {
            s.feed(c);
        }
        found.get().cloned()
    }

    #[test]
    fn finds_the_model_even_when_split_or_late() {
        assert_eq!(
            sniff(&[br#"{"model":"claude-sonnet-4-5","x":1}"#]).as_deref(),
            Some("claude-sonnet-4-5")
        );
        assert_eq!(
            sniff(&[br#"{"messages":[],"mo"#, br#"del" : "gpt-5"}"#]).as_deref(),
            Some("gpt-5")
        );
        assert_eq!(
            sniff(&[br#"{"model": "gpt-"#, br#"5"}"#]).as_deref(),
            Some("gpt-5")
        );
    }

    #[test]
    fn skips_lookalikes() {
        let body = br#"{"messages":[{"content":"say \"model\": \"fake\""}],"tools":[{"properties":{"model":{"type":"string"}}}],"model":"real"}"#;
        assert_eq!(sniff(&[body]).as_deref(), Some("real"));
        assert_eq!(sniff(&[br#"{"input":"no model here"}"#]), None);
    }
}
