//! Prefix sharing: why a 50-turn conversation does not cost 50 copies of its history on disk.
//!
//! Coding assistants resend the whole conversation every turn. A request body whose conversation
//! array (top-level `messages`, else top-level `input` when it is an array) starts with the same
//! items, byte for byte, as a recent request of the same session is stored as a *delta*: a list
//! of parts, each either a byte range of that base request's body or literal text. Typically:
//!
//! ```text
//! [0, e']            head + shared items, copied from the base body
//! ",{new item}..."   the new items (and whatever follows, if it differs)
//! [b', len']         the tail after the array (tools, system prompt...), when unchanged
//! ```
//!
//! Items are compared by their exact bytes, never re-serialised: a small string-aware scanner
//! finds the array's item spans, and a running SHA-256 over `body[a..e_i]` (from just after `[`
//! to the end of item `i`, separators included) identifies each prefix. An edited earlier message
//! changes every later prefix hash, so nothing after the edit is shared. The reference carries
//! `shared_sha256` (that running hash for the last shared item), which `apply` checks.
//!
//! The scanner does not validate JSON: it only needs to be deterministic, because reconstruction is
//! pure byte splicing. Anything it cannot walk is simply stored whole.

use ring::digest::{Context, SHA256};
use serde::Serialize;

/// How many recent requests of a session are candidates for a base. More than one because
/// assistants interleave side requests (titles, topic checks) with the main conversation.
pub(crate) const CANDIDATES: usize = 4;

type Hash = [u8; 32];

/// Where the conversation array sits in a body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Just after the array's `[`.
    pub(crate) head_end: usize,
    /// End (exclusive) of each item.
    pub(crate) item_ends: Vec<usize>,
    /// The array's `]`.
    pub(crate) tail_start: usize,
}

/// What the store remembers about a recent request to use it as a base (no body bytes kept).
#[derive(Debug)]
pub(crate) struct Recent {
    request_id: String,
    len: usize,
    head_end: usize,
    tail_start: usize,
    item_ends: Vec<usize>,
    head_hash: Hash,
    tail_hash: Hash,
    /// `prefix_hashes[i]` = SHA-256 of `body[head_end..item_ends[i]]`.
    prefix_hashes: Vec<Hash>,
}

/// One piece of a delta body, serialised as `[from, to]` (a base range) or a string.
#[derive(Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub(crate) enum Part<'a> {
    Base([usize; 2]),
    Text(&'a str),
}

/// The reference and parts of a body stored as a delta (`"body": {"delta": ...}`).
#[derive(Debug, Serialize)]
pub(crate) struct Delta<'a> {
    /// `request_id` of the base request (same session, earlier in the same file or part).
    pub(crate) base: String,
    pub(crate) shared_items: usize,
    /// The base body's byte range holding those items: `[just after '[', end of last shared item]`.
    pub(crate) shared: [usize; 2],
    pub(crate) shared_sha256: String,
    /// Length of the reconstructed body.
    pub(crate) len: usize,
    pub(crate) parts: Vec<Part<'a>>,
}

fn sha(bytes: &[u8]) -> Hash {
    let mut out = [0; 32];
    out.copy_from_slice(ring::digest::digest(&SHA256, bytes).as_ref());
    out
}

// === the scanner ===

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
        i += 1;
    }
    i
}

/// `i` at a `"`: the offset just past the closing quote.
fn skip_string(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        match b.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// `i` at the first byte of a value: the offset just past it.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => skip_string(b, i),
        b'{' | b'[' => {
            let (mut depth, mut j) = (0usize, i);
            loop {
                match b.get(j)? {
                    b'"' => {
                        j = skip_string(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let end = b[i..]
                .iter()
                .position(|c| matches!(c, b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n'))
                .map_or(b.len(), |p| i + p);
            (end > i).then_some(end)
        }
    }
}

/// The first top-level `messages` or `input` key of a JSON object body whose value is an array.
pub(crate) fn shape(b: &[u8]) -> Option<Shape> {
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return None;
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = skip_string(b, i)?;
        let key = &b[i + 1..key_end - 1];
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        if matches!(key, b"messages" | b"input") && b.get(i) == Some(&b'[') {
            return array_shape(b, i);
        }
        i = skip_ws(b, skip_value(b, i)?);
        match b.get(i)? {
            b',' => i = skip_ws(b, i + 1),
            _ => return None,
        }
    }
}

fn array_shape(b: &[u8], open: usize) -> Option<Shape> {
    let head_end = open + 1;
    let mut item_ends = Vec::new();
    let mut i = skip_ws(b, head_end);
    if b.get(i) != Some(&b']') {
        loop {
            let end = skip_value(b, i)?;
            item_ends.push(end);
            i = skip_ws(b, end);
            match b.get(i)? {
                b',' => i = skip_ws(b, i + 1),
                b']' => break,
                _ => return None,
            }
        }
    }
    Some(Shape {
        head_end,
        item_ends,
        tail_start: i,
    })
}

// === encoding ===

/// Scans `body` and remembers what a later request needs to share its prefix. `None` when the body
/// is not UTF-8 or has no conversation array.
pub(crate) fn remember(request_id: &str, body: &[u8]) -> Option<Recent> {
    std::str::from_utf8(body).ok()?;
    let shape = shape(body)?;
    let mut running = Context::new(&SHA256);
    let mut prefix_hashes = Vec::with_capacity(shape.item_ends.len());
    let mut from = shape.head_end;
    for &end in &shape.item_ends {
        running.update(&body[from..end]);
        let mut hash = [0; 32];
        hash.copy_from_slice(running.clone().finish().as_ref());
        prefix_hashes.push(hash);
        from = end;
    }
    Some(Recent {
        request_id: request_id.to_string(),
        len: body.len(),
        head_end: shape.head_end,
        tail_start: shape.tail_start,
        head_hash: sha(&body[..shape.head_end]),
        tail_hash: sha(&body[shape.tail_start..]),
        item_ends: shape.item_ends,
        prefix_hashes,
    })
}

/// The delta of `body` (already scanned into `new`) against the candidate sharing the most items;
/// `None` when no candidate shares even the first item.
pub(crate) fn encode<'a>(body: &'a str, new: &Recent, candidates: &[Recent]) -> Option<Delta<'a>> {
    let shared_count = |c: &Recent| {
        c.prefix_hashes
            .iter()
            .zip(&new.prefix_hashes)
            .take_while(|(a, b)| a == b)
            .count()
    };
    // Most shared items wins; among equals the latest (candidates are oldest first).
    let (base, k) = candidates
        .iter()
        .map(|c| (c, shared_count(c)))
        .filter(|&(_, k)| k > 0)
        .max_by_key(|&(_, k)| k)?;
    let base_shared_end = base.item_ends[k - 1];
    let new_shared_end = new.item_ends[k - 1];

    // Segments as offsets first (base ranges, or literal ranges of `body`), merging neighbours.
    let mut segments: Vec<(bool, usize, usize)> = Vec::with_capacity(4);
    let mut push = |from_base: bool, from: usize, to: usize| match segments.last_mut() {
        _ if from == to => {}
        Some((last_base, _, last_to)) if *last_base == from_base && *last_to == from => {
            *last_to = to
        }
        _ => segments.push((from_base, from, to)),
    };
    if base.head_hash == new.head_hash {
        push(true, 0, base.head_end);
    } else {
        push(false, 0, new.head_end);
    }
    push(true, base.head_end, base_shared_end);
    push(false, new_shared_end, new.tail_start);
    if base.tail_hash == new.tail_hash {
        push(true, base.tail_start, base.len);
    } else {
        push(false, new.tail_start, body.len());
    }
    let parts = segments
        .into_iter()
        .map(|(from_base, from, to)| match from_base {
            true => Some(Part::Base([from, to])),
            // Cuts are at ASCII structural bytes, so always char boundaries; `get` keeps it panic-free.
            false => body.get(from..to).map(Part::Text),
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Delta {
        base: base.request_id.clone(),
        shared_items: k,
        shared: [base.head_end, base_shared_end],
        shared_sha256: super::codec::hex(&base.prefix_hashes[k - 1]),
        len: body.len(),
        parts,
    })
}

// === decoding ===

/// Rebuilds a body from its delta object (as parsed from the line) and the base's exact bytes.
pub(crate) fn apply(delta: &serde_json::Value, base: &[u8]) -> Result<Vec<u8>, String> {
    let range = |v: &serde_json::Value| -> Option<(usize, usize)> {
        let pair = v.as_array().filter(|a| a.len() == 2)?;
        let (from, to) = (pair[0].as_u64()? as usize, pair[1].as_u64()? as usize);
        (from <= to && to <= base.len()).then_some((from, to))
    };
    let (from, to) = delta
        .get("shared")
        .and_then(range)
        .ok_or("delta: bad `shared` range")?;
    let expected = delta
        .get("shared_sha256")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    if super::codec::sha256_hex(&base[from..to]) != expected {
        return Err("delta: the base's shared items do not match shared_sha256".into());
    }
    let parts = delta
        .get("parts")
        .and_then(|v| v.as_array())
        .ok_or("delta: no parts")?;
    let mut out = Vec::new();
    for part in parts {
        match part {
            serde_json::Value::String(text) => out.extend_from_slice(text.as_bytes()),
            _ => {
                let (from, to) = range(part).ok_or("delta: bad base range")?;
                out.extend_from_slice(&base[from..to]);
            }
        }
    }
    let len = delta.get("len").and_then(|v| v.as_u64());
    if len != Some(out.len() as u64) {
        return Err(format!(
            "delta: rebuilt {} bytes, expected {len:?}",
            out.len()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(body: &str) -> Vec<&str> {
        let s = shape(body.as_bytes()).unwrap();
        let mut from = s.head_end;
        s.item_ends
            .iter()
            .map(|&end| {
                let item = body[from..end].trim_start_matches([',', ' ', '\n']);
                from = end;
                item
            })
            .collect()
    }

    #[test]
    fn scanner_finds_items_with_strings_escapes_and_nesting() {
        let body = r#"{"model":"m","x":{"messages":[1]},"s":"]\"[","messages": [ {"a":"}\\"} , [1,[2]],"x]",3 ,true ],"t":1}"#;
        assert_eq!(
            items(body),
            vec![r#"{"a":"}\\"}"#, "[1,[2]]", r#""x]""#, "3", "true"]
        );
        let s = shape(body.as_bytes()).unwrap();
        assert_eq!(&body[s.tail_start..], "],\"t\":1}");
        assert_eq!(items(r#"{"input":[]}"#), Vec::<&str>::new());
        assert_eq!(
            items(r#"{"input":"hi","messages":[{"r":1}]}"#),
            vec![r#"{"r":1}"#]
        );
    }

    #[test]
    fn scanner_gives_up_quietly_on_anything_else() {
        for body in [
            "",
            "[]",
            "{}",
            "{\"messages\":\"x\"}",
            "{\"messages\":[1,",
            "{\"a\":\"",
            "{\"a\" 1}",
            "{\"messages\":[1 2]}",
            "not json",
            "{\"a\":1,,\"messages\":[]}",
        ] {
            assert_eq!(shape(body.as_bytes()), None, "{body}");
        }
    }

    #[test]
    fn delta_round_trips_and_shares_only_the_identical_prefix() {
        let t1 = r#"{"model":"m","messages":[{"role":"user","content":"a"}],"tools":[1]}"#;
        let t2 = r#"{"model":"m","messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}],"tools":[1]}"#;
        let t3 = r#"{"model":"m","messages":[{"role":"user","content":"A"},{"role":"assistant","content":"b"}],"tools":[2]}"#;
        let r1 = remember("r1", t1.as_bytes()).unwrap();
        let r2 = remember("r2", t2.as_bytes()).unwrap();
        let d = encode(t2, &r2, std::slice::from_ref(&r1)).unwrap();
        assert_eq!((d.base.as_str(), d.shared_items), ("r1", 1));
        assert_eq!(d.parts.len(), 3);
        assert!(matches!(
            d.parts[1],
            Part::Text(",{\"role\":\"assistant\",\"content\":\"b\"}")
        ));
        let delta = serde_json::to_value(&d).unwrap();
        assert_eq!(apply(&delta, t1.as_bytes()).unwrap(), t2.as_bytes());
        assert!(
            apply(&delta, t3.as_bytes()).is_err(),
            "a different base is detected"
        );
        // The first message was edited: nothing is shared.
        let r3 = remember("r3", t3.as_bytes()).unwrap();
        assert!(encode(t3, &r3, &[r1, r2]).is_none());
    }
}
