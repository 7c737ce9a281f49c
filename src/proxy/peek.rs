//! The peek phase of a routed request: read the client's body only until its top-level `model`
//! is known (routing needs it before anything is sent), keep what was read as the `Bytes` it
//! arrived in, and know where the model's value sits so `model_rewrite` can replace just those
//! bytes. Unlike `request_body::ModelSniffer` (a log label) this one is exact: it tracks JSON
//! nesting and strings, so a `"model"` inside a message, a tool input or a schema never routes.

use super::request_body::ClientBodyError;
use crate::error::ProxyError;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Body as _, Incoming};

/// The top-level `"model"` string: its value and its byte span (quotes included) in the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ModelAt {
    pub name: String,
    pub start: usize,
    pub end: usize,
}

/// Longest model name kept; a longer value is no model name we could route on.
const MAX_MODEL: usize = 512;

/// An incremental scan of a JSON object for its top-level `"model"` string value.
#[derive(Default)]
pub(crate) struct ModelScanner {
    /// Bytes fed so far (absolute offsets for spans).
    offset: usize,
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// At depth 1, the next string is a key (after `{` or `,`).
    expect_key: bool,
    /// The string being read is a depth-1 key; its bytes (short keys only).
    in_key: bool,
    key: Vec<u8>,
    /// The last key was `model`: the next value is the one we want.
    model_next: bool,
    /// Reading the model's string value, which started at this offset.
    value_from: Option<usize>,
    value: Vec<u8>,
    /// Finished: `found` holds the answer (`None` when there is no usable top-level model).
    done: bool,
    found: Option<ModelAt>,
}

impl ModelScanner {
    pub fn done(&self) -> bool {
        self.done
    }

    pub fn found(&self) -> Option<&ModelAt> {
        self.found.as_ref()
    }

    fn give_up(&mut self) {
        self.done = true;
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        for (i, &b) in chunk.iter().enumerate() {
            if self.done {
                break;
            }
            let at = self.offset + i;
            if self.in_string {
                self.string_byte(b, at);
                continue;
            }
            match b {
                b' ' | b'\t' | b'\n' | b'\r' => {}
                b'"' => {
                    if self.depth == 1 && self.model_next {
                        self.model_next = false;
                        self.value_from = Some(at);
                    } else if self.depth == 1 && self.expect_key {
                        self.expect_key = false;
                        self.in_key = true;
                        self.key.clear();
                    }
                    self.in_string = true;
                }
                b':' if self.depth == 1 => {}
                _ if self.depth == 1 && self.model_next => {
                    // `"model": 5`, `null`, an object: not a name to route on.
                    self.give_up();
                }
                b'{' | b'[' => {
                    if self.depth == 0 && b == b'[' {
                        self.give_up();
                    }
                    self.depth += 1;
                    if self.depth == 1 {
                        self.expect_key = true;
                    }
                }
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        self.give_up();
                    }
                }
                b',' if self.depth == 1 => self.expect_key = true,
                _ if self.depth == 0 => self.give_up(),
                _ => {}
            }
        }
        self.offset += chunk.len();
    }

    fn string_byte(&mut self, b: u8, at: usize) {
        if self.escaped {
            self.escaped = false;
            if self.value_from.is_some() {
                // An escaped model name: nobody sends one; do not guess what it means.
                self.give_up();
            } else if self.in_key {
                self.key.push(b'\\');
            }
            return;
        }
        match b {
            b'\\' => self.escaped = true,
            b'"' => {
                self.in_string = false;
                if let Some(start) = self.value_from.take() {
                    let name = String::from_utf8(std::mem::take(&mut self.value)).ok();
                    self.found = name.map(|name| ModelAt {
                        name,
                        start,
                        end: at + 1,
                    });
                    self.give_up();
                } else if self.in_key {
                    self.in_key = false;
                    self.model_next = self.key == b"model";
                }
            }
            _ if self.value_from.is_some() => {
                if self.value.len() >= MAX_MODEL {
                    self.give_up();
                } else {
                    self.value.push(b);
                }
            }
            _ if self.in_key && self.key.len() < 8 => self.key.push(b),
            // A longer key is not `model`: make sure it cannot compare equal.
            _ if self.in_key => self.key.push(b'*'),
            _ => {}
        }
    }
}

/// What the peek read: the body's first pieces as they arrived, and the model if found.
/// `Default`: nothing read yet.
#[derive(Default)]
pub(crate) struct Peeked {
    pub chunks: Vec<Bytes>,
    pub len: u64,
    /// The client's body ended within these chunks.
    pub complete: bool,
    pub model: Option<ModelAt>,
}

fn client_error(e: hyper::Error) -> ProxyError {
    ProxyError::BadRequest(ClientBodyError(e).to_string())
}

/// Reads `body` until the top-level model is known (or the body ends), at most `limit` bytes.
pub(crate) async fn peek(body: &mut Incoming, limit: u64) -> Result<Peeked, ProxyError> {
    let mut scanner = ModelScanner::default();
    let mut peeked = Peeked {
        chunks: Vec::new(),
        len: 0,
        complete: body.is_end_stream(),
        model: None,
    };
    while !peeked.complete && !scanner.done() {
        let Some(frame) = body.frame().await else {
            peeked.complete = true;
            break;
        };
        let Ok(data) = frame.map_err(client_error)?.into_data() else {
            continue; // trailers: nothing to route on
        };
        peeked.len += data.len() as u64;
        if peeked.len > limit {
            return Err(ProxyError::BodyTooLarge { limit });
        }
        scanner.feed(&data);
        if !data.is_empty() {
            peeked.chunks.push(data);
        }
        peeked.complete = body.is_end_stream();
    }
    peeked.model = scanner.found().cloned();
    Ok(peeked)
}

/// The whole body: what the peek read plus the rest, in one buffer (for translation and for
/// fallbacks, which need it more than once).
pub(crate) async fn read_rest(
    body: &mut Incoming,
    peeked: Peeked,
    limit: u64,
) -> Result<Bytes, ProxyError> {
    let mut len = peeked.len;
    let mut chunks = peeked.chunks;
    let mut complete = peeked.complete;
    while !complete {
        let Some(frame) = body.frame().await else {
            break;
        };
        if let Ok(data) = frame.map_err(client_error)?.into_data() {
            len += data.len() as u64;
            if len > limit {
                return Err(ProxyError::BodyTooLarge { limit });
            }
            chunks.push(data);
        }
        complete = body.is_end_stream();
    }
    Ok(match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.swap_remove(0),
        _ => {
            let mut all = BytesMut::with_capacity(len as usize);
            for c in &chunks {
                all.extend_from_slice(c);
            }
            all.freeze()
        }
    })
}

/// `chunks` with the bytes `at.start..at.end` (the model's JSON string) replaced by `model` as a
/// JSON string. Everything else stays the same `Bytes` (no copy).
pub(crate) fn with_model(chunks: &[Bytes], at: &ModelAt, model: &str) -> Vec<Bytes> {
    let replacement = Bytes::from(serde_json::Value::from(model).to_string());
    let mut out = Vec::with_capacity(chunks.len() + 2);
    let mut pos = 0;
    let mut inserted = false;
    for chunk in chunks {
        let (from, to) = (pos, pos + chunk.len());
        pos = to;
        let keep_before = at.start.clamp(from, to) - from;
        let keep_after = at.end.clamp(from, to) - from;
        if keep_before > 0 {
            out.push(chunk.slice(..keep_before));
        }
        if !inserted && at.start < to {
            out.push(replacement.clone());
            inserted = true;
        }
        if keep_after < chunk.len() && to > at.end {
            out.push(chunk.slice(keep_after..));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(pieces: &[&[u8]]) -> Option<ModelAt> {
        let mut s = ModelScanner::default();
        for p in pieces {
            s.feed(p);
        }
        s.found().cloned()
    }

    #[test]
    fn finds_only_the_top_level_model_even_when_split() {
        let body = br#"{"messages":[{"role":"user","content":[{"type":"tool_use","input":{"model":"decoy"}}]}],"metadata":{"model":"decoy2"},"tools":[{"input_schema":{"properties":{"model":{"type":"string"}}}}], "model" : "claude-x","stream":true}"#;
        let whole = scan(&[body]).expect("found");
        assert_eq!(whole.name, "claude-x");
        assert_eq!(&body[whole.start..whole.end], b"\"claude-x\"");
        for cut in 1..body.len() {
            assert_eq!(
                scan(&[&body[..cut], &body[cut..]]),
                Some(whole.clone()),
                "cut {cut}"
            );
        }
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(scan(&bytes), Some(whole));
    }

    #[test]
    fn escaped_keys_strings_and_non_strings_do_not_route() {
        assert_eq!(scan(&[br#"{"x":"say \"model\": \"a\"","y":1}"#]), None);
        assert_eq!(scan(&[br#"{"model":null,"x":{"model":"b"}}"#]), None);
        assert_eq!(scan(&[br#"{"modelx":"a","mode":"b"}"#]), None);
        assert_eq!(scan(&[br#"["model","a"]"#]), None);
        assert_eq!(scan(&[br#"{"model":"a\u0062"}"#]), None);
        assert_eq!(
            scan(&[br#"{"model":"gpt-5"}"#]).map(|m| m.name),
            Some("gpt-5".into())
        );
    }

    #[test]
    fn the_model_is_replaced_across_chunk_boundaries_and_nothing_else_moves() {
        let body: &[u8] = br#"{"a":1,"model":"claude-x","b":[2]}"#;
        let at = scan(&[body]).unwrap();
        for cut in 0..=body.len() {
            for cut2 in cut..=body.len() {
                let chunks = [
                    Bytes::copy_from_slice(&body[..cut]),
                    Bytes::copy_from_slice(&body[cut..cut2]),
                    Bytes::copy_from_slice(&body[cut2..]),
                ];
                let out: Vec<u8> = with_model(&chunks, &at, "other/model").concat();
                assert_eq!(
                    out, br#"{"a":1,"model":"other/model","b":[2]}"#,
                    "{cut} {cut2}"
                );
            }
        }
    }
}
