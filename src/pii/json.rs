//! The byte-preserving JSON walker. `parse` reads a document once into a flat list of containers
//! (`Frame`: parent, key, and its own `type`/`role` wherever they appear in it) and values (`Val`:
//! raw byte range, holder, key). Nothing is re-serialized: redaction produces `Edit`s on the raw
//! text, inside string values only, so key order, whitespace, number formatting and the escapes
//! of untouched text stay exactly as sent (a thinking block's signature still verifies, JSONL
//! prefix sharing still works).
//!
//! Inside a changed string, only the detected spans change: their raw ranges are found by
//! decoding escapes alongside (`escape::to_raw`), and replacements are escaped for JSON.

use super::escape::{decode, to_raw};
use super::rules::{self, Flags, Holder, Treat};
use super::{apply, Counts, Edit, Redactor, Scope};
use std::borrow::Cow;

const NONE: usize = usize::MAX;

#[derive(Debug)]
pub(crate) struct Frame {
    pub parent: usize,
    /// Raw key range in the parent object (`None` for array elements and the root).
    pub key: Option<(usize, usize)>,
    pub is_obj: bool,
    pub ty: Option<(usize, usize)>,
    pub role: Option<(usize, usize)>,
    pub flags: Flags,
}

#[derive(Debug)]
pub(crate) struct Val {
    /// Raw range (for strings: between the quotes).
    pub start: usize,
    pub end: usize,
    pub frame: usize,
    pub key: Option<(usize, usize)>,
    pub string: bool,
    pub escaped: bool,
}

#[derive(Debug)]
pub(crate) struct Doc<'a> {
    pub src: &'a str,
    pub frames: Vec<Frame>,
    pub vals: Vec<Val>,
    /// One whole JSON value and nothing after it but whitespace.
    pub complete: bool,
    /// A key, or a `type`/`role` value, spells a printable ASCII character as an escape
    /// (`"c\u006fntent"`), which no serializer needs to: the rules compare names as written, so
    /// they cannot tell what such a document holds.
    pub escaped_names: bool,
}

/// The text is not a JSON document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotJson;

impl<'a> Doc<'a> {
    pub fn raw(&self, range: (usize, usize)) -> &'a str {
        &self.src[range.0..range.1]
    }

    pub fn key_of(&self, v: &Val) -> Option<&'a str> {
        v.key.map(|k| self.raw(k))
    }

    fn holder(&self, frame: usize) -> Holder<'a> {
        let Some(f) = self.frames.get(frame) else {
            return Holder::default();
        };
        Holder {
            ty: f.ty.map(|r| self.raw(r)),
            role: f.role.map(|r| self.raw(r)),
            flags: f.flags,
            root: f.parent == NONE,
        }
    }

    /// The index in `vals` of the string value at `frame` under `key`, if there is one.
    pub fn string_at(&self, frame: usize, key: &str) -> Option<usize> {
        self.vals
            .iter()
            .position(|v| v.frame == frame && v.string && self.key_of(v) == Some(key))
    }

    /// The scalar (number, string contents) at `frame` under `key`, as written.
    pub fn scalar_at(&self, frame: usize, key: &str) -> Option<&'a str> {
        self.vals
            .iter()
            .find(|v| v.frame == frame && self.key_of(v) == Some(key))
            .map(|v| self.raw((v.start, v.end)))
    }

    /// The object under `key` in `frame`.
    pub fn child(&self, frame: usize, key: &str) -> Option<usize> {
        (frame + 1..self.frames.len()).find(|&i| {
            self.frames[i].parent == frame && self.frames[i].key.map(|k| self.raw(k)) == Some(key)
        })
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// From just after an opening quote: the closing quote's index (or `None` if the text ends
/// first), and whether a backslash was seen.
fn scan_string(b: &[u8], mut i: usize) -> (Option<usize>, bool) {
    let mut escaped = false;
    while let Some(off) = b[i..].iter().position(|&c| c == b'"' || c == b'\\') {
        i += off;
        if b[i] == b'"' {
            return (Some(i), escaped);
        }
        escaped = true;
        i += 2;
        if i >= b.len() {
            break;
        }
    }
    (None, escaped)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    Value,
    ValueOrEnd,
    Key,
    KeyOrEnd,
    CommaOrEnd,
    Done,
}

/// A tool call's input held as JSON text (`arguments`, streamed `partial_json`), parsed as
/// `parse` does, with every container marked as tool input: arbitrary data the model wrote, where
/// `name`, `status` or `user_id` are values like any other.
pub(crate) fn parse_tool_input(src: &str) -> Doc<'_> {
    let mut doc = parse(src);
    for frame in &mut doc.frames {
        frame.flags.tool_input = true;
    }
    doc
}

/// Reads `src` as far as it is JSON. A string cut by the end of the text is still listed (a
/// stream's partial tool input), but the document is then not `complete`.
pub(crate) fn parse(src: &str) -> Doc<'_> {
    let b = src.as_bytes();
    let mut doc = Doc {
        src,
        frames: Vec::new(),
        vals: Vec::new(),
        complete: false,
        escaped_names: false,
    };
    let mut stack: Vec<usize> = Vec::new();
    let mut key: Option<(usize, usize)> = None;
    let mut want = Want::Value;
    let mut i = 0;
    loop {
        i = skip_ws(b, i);
        if i >= b.len() {
            doc.complete = want == Want::Done;
            break;
        }
        let top = stack.last().copied().unwrap_or(NONE);
        match want {
            Want::Done => break,
            Want::Value | Want::ValueOrEnd => {
                if want == Want::ValueOrEnd && b[i] == b']' {
                    stack.pop();
                    i += 1;
                    want = after_value(&stack, &doc.frames);
                    continue;
                }
                match b[i] {
                    c @ (b'{' | b'[') => {
                        doc.frames.push(Frame {
                            parent: top,
                            key: key.take(),
                            is_obj: c == b'{',
                            ty: None,
                            role: None,
                            flags: Flags::default(),
                        });
                        stack.push(doc.frames.len() - 1);
                        want = if c == b'{' {
                            Want::KeyOrEnd
                        } else {
                            Want::ValueOrEnd
                        };
                        i += 1;
                    }
                    b'"' => {
                        let (close, escaped) = scan_string(b, i + 1);
                        let end = close.unwrap_or(b.len());
                        let k = key.take();
                        if let (Some(f), Some(kr)) = (doc.frames.get_mut(top), k) {
                            match &src[kr.0..kr.1] {
                                "type" if f.ty.is_none() => f.ty = Some((i + 1, end)),
                                "role" if f.role.is_none() => f.role = Some((i + 1, end)),
                                _ => {}
                            }
                            let named = matches!(&src[kr.0..kr.1], "type" | "role");
                            doc.escaped_names |= named && escaped && spelled_out(&src[i + 1..end]);
                        }
                        doc.vals.push(Val {
                            start: i + 1,
                            end,
                            frame: top,
                            key: k,
                            string: true,
                            escaped,
                        });
                        let Some(close) = close else { break };
                        i = close + 1;
                        want = after_value(&stack, &doc.frames);
                    }
                    _ => {
                        let start = i;
                        while i < b.len()
                            && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'+' | b'-' | b'.'))
                        {
                            i += 1;
                        }
                        if i == start {
                            break;
                        }
                        doc.vals.push(Val {
                            start,
                            end: i,
                            frame: top,
                            key: key.take(),
                            string: false,
                            escaped: false,
                        });
                        want = after_value(&stack, &doc.frames);
                    }
                }
            }
            Want::Key | Want::KeyOrEnd => {
                if want == Want::KeyOrEnd && b[i] == b'}' {
                    stack.pop();
                    i += 1;
                    want = after_value(&stack, &doc.frames);
                    continue;
                }
                if b[i] != b'"' {
                    break;
                }
                let (Some(close), escaped) = scan_string(b, i + 1) else {
                    break;
                };
                doc.escaped_names |= escaped && spelled_out(&src[i + 1..close]);
                key = Some((i + 1, close));
                i = skip_ws(b, close + 1);
                if b.get(i) != Some(&b':') {
                    break;
                }
                i += 1;
                want = Want::Value;
            }
            Want::CommaOrEnd => {
                let is_obj = doc.frames.get(top).is_some_and(|f| f.is_obj);
                match (b[i], is_obj) {
                    (b',', true) => want = Want::Key,
                    (b',', false) => want = Want::Value,
                    (b'}', true) | (b']', false) => {
                        stack.pop();
                        want = after_value(&stack, &doc.frames);
                    }
                    _ => break,
                }
                i += 1;
            }
        }
    }
    // Flags flow from parents (always earlier in the list) to children.
    for idx in 0..doc.frames.len() {
        let f = &doc.frames[idx];
        let parent = doc.holder(f.parent);
        let flags =
            rules::child_flags(&parent, f.key.map(|k| doc.raw(k)), f.ty.map(|r| doc.raw(r)));
        doc.frames[idx].flags = flags;
    }
    doc
}

/// `raw` (a string as written) has a `\u00XX` escape for a printable ASCII character.
fn spelled_out(raw: &str) -> bool {
    raw.match_indices("\\u00").any(|(at, _)| {
        raw.get(at + 4..at + 6)
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            .is_some_and(|c| (0x20..0x7f).contains(&c))
    })
}

fn after_value(stack: &[usize], _frames: &[Frame]) -> Want {
    if stack.is_empty() {
        Want::Done
    } else {
        Want::CommaOrEnd
    }
}

// === redaction ===

/// Embedded JSON (`arguments`) inside embedded JSON is followed this deep, then taken as text.
const MAX_NESTING: usize = 3;

/// Edits for every string value of `doc` that `scope` redacts, except those `skip` names
/// (by index into `doc.vals`).
pub(crate) fn plan_doc(
    r: &Redactor,
    doc: &Doc<'_>,
    scope: Scope,
    skip: &dyn Fn(usize) -> bool,
    counts: &mut Counts,
    edits: &mut Vec<Edit>,
) {
    plan_nested(r, doc, scope, skip, counts, edits, 0);
}

fn plan_nested(
    r: &Redactor,
    doc: &Doc<'_>,
    scope: Scope,
    skip: &dyn Fn(usize) -> bool,
    counts: &mut Counts,
    edits: &mut Vec<Edit>,
    nesting: usize,
) {
    let mut local = Vec::new();
    for (idx, v) in doc.vals.iter().enumerate() {
        if !v.string || skip(idx) {
            continue;
        }
        let raw = doc.raw((v.start, v.end));
        let holder = doc.holder(v.frame);
        let treat = rules::treat(&holder, doc.key_of(v), raw.as_bytes(), scope);
        if treat == Treat::Skip {
            continue;
        }
        let text = decode(raw, v.escaped);
        local.clear();
        let inner =
            (treat == Treat::Json && nesting < MAX_NESTING).then(|| parse_tool_input(&text));
        match inner {
            Some(inner) if inner.complete => plan_nested(
                r,
                &inner,
                Scope::Recording,
                &|_| false,
                counts,
                &mut local,
                nesting + 1,
            ),
            _ => r.plan(&text, counts, &mut local),
        }
        if !local.is_empty() {
            to_raw(raw, v.escaped, v.start, &local, edits);
        }
    }
}

/// `Redactor::json_body`.
pub(crate) fn redact_body(
    r: &Redactor,
    body: &[u8],
    scope: Scope,
    counts: &mut Counts,
) -> Option<Vec<u8>> {
    let src = std::str::from_utf8(body).ok()?;
    let doc = parse(src);
    if !doc.complete {
        // Not JSON: only the recorder takes it as text; a request is sent upstream as it came.
        return match scope {
            Scope::Recording => match r.text(src, counts) {
                Cow::Owned(s) => Some(s.into_bytes()),
                Cow::Borrowed(_) => None,
            },
            Scope::Upstream => None,
        };
    }
    // Names written with escapes hide which strings are the user's: redact them all (a
    // signed thinking block in such a body may then be refused; no client writes one).
    let scope = match scope {
        Scope::Upstream if doc.escaped_names => Scope::Recording,
        scope => scope,
    };
    let mut edits = Vec::new();
    plan_doc(r, &doc, scope, &|_| false, counts, &mut edits);
    (!edits.is_empty()).then(|| apply(src, &edits).into_bytes())
}

/// A JSON text held in a string (`arguments`): `Ok(None)` when nothing changed.
pub(crate) fn redact_json_text(
    r: &Redactor,
    text: &str,
    counts: &mut Counts,
) -> Result<Option<String>, NotJson> {
    let doc = parse_tool_input(text);
    if !doc.complete {
        return Err(NotJson);
    }
    let mut edits = Vec::new();
    plan_doc(r, &doc, Scope::Recording, &|_| false, counts, &mut edits);
    Ok((!edits.is_empty()).then(|| apply(text, &edits)))
}
