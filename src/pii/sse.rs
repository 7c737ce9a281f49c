//! Redaction of a recorded event stream (Anthropic Messages, OpenAI Chat, OpenAI Responses)
//! that keeps it a valid stream of the same events.
//!
//! Text that streams as deltas is redacted on the ASSEMBLED text of its block, so `alice@exa` |
//! `mple.com` is caught. Each match is projected back onto the deltas: the delta where it starts
//! carries the replacement, the rest of it is cut from the deltas it spans. Tool-input deltas
//! (`partial_json`, `arguments`) are assembled as JSON and only their string values are redacted,
//! so the assembled input is still JSON. Every other event (`message_start`, `.done`,
//! `response.completed`, ...) goes through the JSON rules as a whole. Bytes outside the changed
//! string values, event names, comments and line endings included, are left as they were.
//!
//! The scan keeps original byte positions, which the shared `crate::sse` parser does not give.

use super::escape;
use super::json::{self, Doc};
use super::{Counts, Edit, Redactor, Scope};
use std::borrow::Cow;
use std::collections::HashMap;

/// One event's `data:` values: the body ranges of each line's value.
struct Event {
    lines: Vec<(usize, usize)>,
}

/// Splits the body into events (LF, CRLF or lone CR line ends; a blank line dispatches). An
/// event cut by the end of the body is kept: the recording holds what was received.
fn events(body: &[u8]) -> Vec<Event> {
    let mut out = Vec::new();
    let mut lines = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let end = body[i..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .map_or(body.len(), |o| i + o);
        let line = &body[i..end];
        if line.is_empty() {
            if !lines.is_empty() {
                out.push(Event {
                    lines: std::mem::take(&mut lines),
                });
            }
        } else if let Some(value) = line.strip_prefix(b"data:") {
            let skip = usize::from(value.first() == Some(&b' '));
            lines.push((i + 5 + skip, end));
        }
        i = end;
        if body.get(i) == Some(&b'\r') {
            i += 1;
            if body.get(i) == Some(&b'\n') {
                i += 1;
            }
        } else if body.get(i) == Some(&b'\n') {
            i += 1;
        }
    }
    if !lines.is_empty() {
        out.push(Event { lines });
    }
    out
}

/// The event's data (lines joined with `\n`, per the SSE spec), or `None` if it is not UTF-8.
fn joined<'b>(body: &'b [u8], ev: &Event) -> Option<Cow<'b, str>> {
    if let [(s, e)] = ev.lines[..] {
        return std::str::from_utf8(&body[s..e]).ok().map(Cow::Borrowed);
    }
    let parts: Option<Vec<&str>> = ev
        .lines
        .iter()
        .map(|&(s, e)| std::str::from_utf8(&body[s..e]).ok())
        .collect();
    Some(Cow::Owned(parts?.join("\n")))
}

/// A joined-data offset → the body offset (edits never cross a line: JSON strings cannot).
fn to_body(ev: &Event, mut at: usize) -> usize {
    for &(s, e) in &ev.lines {
        if at <= e - s {
            return s + at;
        }
        at -= e - s + 1;
    }
    ev.lines.last().map_or(0, |l| l.1)
}

/// A delta string that belongs to a block's assembled text.
struct Fragment {
    event: usize,
    val: usize,
}

struct Stream {
    json: bool,
    frags: Vec<Fragment>,
}

/// The delta strings of one event, each with its stream key and whether the stream is JSON.
fn fragments(doc: &Doc<'_>) -> Vec<(String, usize, bool)> {
    let mut out = Vec::new();
    if !doc.frames.first().is_some_and(|f| f.is_obj) {
        return out;
    }
    let ty = doc.scalar_at(0, "type").unwrap_or("");
    let mut push = |key: String, val: Option<usize>, is_json: bool| {
        if let Some(v) = val {
            out.push((key, v, is_json));
        }
    };
    if ty == "content_block_delta" {
        // Anthropic: text, thinking and tool-input deltas per content block.
        let index = doc.scalar_at(0, "index").unwrap_or("");
        if let Some(delta) = doc.child(0, "delta") {
            for (field, is_json) in [("text", false), ("thinking", false), ("partial_json", true)] {
                push(
                    format!("a/{index}/{field}"),
                    doc.string_at(delta, field),
                    is_json,
                );
            }
        }
    } else if ty == "content_block_start" {
        // A block may open with text already in it: the first piece of the same stream.
        let index = doc.scalar_at(0, "index").unwrap_or("");
        if let Some(block) = doc.child(0, "content_block") {
            for field in ["text", "thinking"] {
                push(
                    format!("a/{index}/{field}"),
                    doc.string_at(block, field),
                    false,
                );
            }
        }
    } else if ty.starts_with("response.") && ty.ends_with(".delta") {
        // Responses: `delta` strings per output item, content part and summary part. Audio is
        // base64, not text.
        if ty.contains("audio") && !ty.contains("transcript") {
            return out;
        }
        let at = |k| doc.scalar_at(0, k).unwrap_or("");
        let key = format!(
            "r/{ty}/{}/{}/{}",
            at("output_index"),
            at("content_index"),
            at("summary_index")
        );
        push(key, doc.string_at(0, "delta"), ty.contains("arguments"));
    } else if let Some(choices) = doc.child(0, "choices") {
        // Chat: content, reasoning and refusal per choice; tool-call arguments per tool index.
        for choice in (choices + 1..doc.frames.len()).filter(|&f| doc.frames[f].parent == choices) {
            let ci = doc.scalar_at(choice, "index").unwrap_or("");
            let Some(delta) = doc.child(choice, "delta") else {
                continue;
            };
            for field in ["content", "reasoning_content", "reasoning", "refusal"] {
                push(
                    format!("c/{ci}/{field}"),
                    doc.string_at(delta, field),
                    false,
                );
            }
            let Some(calls) = doc.child(delta, "tool_calls") else {
                continue;
            };
            for call in (calls + 1..doc.frames.len()).filter(|&f| doc.frames[f].parent == calls) {
                let ti = doc.scalar_at(call, "index").unwrap_or("");
                if let Some(function) = doc.child(call, "function") {
                    push(
                        format!("c/{ci}/tool/{ti}"),
                        doc.string_at(function, "arguments"),
                        true,
                    );
                }
            }
        }
    }
    out
}

/// The new text of the fragment `range` of `assembled` after `edits` (sorted): the part before
/// each edit, the replacement where an edit starts, nothing where an earlier edit goes on.
fn project(assembled: &str, range: (usize, usize), edits: &[Edit]) -> String {
    let (start, end) = range;
    let mut out = String::new();
    let mut pos = start;
    for e in edits.iter().filter(|e| e.end > start && e.start < end) {
        if e.start > pos {
            out.push_str(&assembled[pos..e.start]);
        }
        if e.start >= start {
            out.push_str(&e.with);
        }
        pos = pos.max(e.end.min(end));
    }
    out.push_str(&assembled[pos..end]);
    out
}

/// `Redactor::sse_body`.
pub(crate) fn redact(r: &Redactor, body: &[u8], counts: &mut Counts) -> Option<Vec<u8>> {
    let evs = events(body);
    let data: Vec<Option<Cow<'_, str>>> = evs.iter().map(|ev| joined(body, ev)).collect();
    let docs: Vec<Option<Doc<'_>>> = data.iter().map(|d| d.as_deref().map(json::parse)).collect();

    let mut streams: Vec<Stream> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    let mut is_fragment: Vec<Vec<usize>> = vec![Vec::new(); evs.len()];
    for (event, doc) in docs.iter().enumerate() {
        let Some(doc) = doc.as_ref().filter(|d| d.complete) else {
            continue;
        };
        for (key, val, is_json) in fragments(doc) {
            let s = *by_key.entry(key).or_insert_with(|| {
                streams.push(Stream {
                    json: is_json,
                    frags: Vec::new(),
                });
                streams.len() - 1
            });
            streams[s].frags.push(Fragment { event, val });
            is_fragment[event].push(val);
        }
    }

    // Per event, edits in its joined-data coordinates.
    let mut per_event: Vec<Vec<Edit>> = vec![Vec::new(); evs.len()];
    let mut delta_counts = Counts::default();
    for stream in &streams {
        redact_stream(r, stream, &docs, &mut per_event, &mut delta_counts);
    }
    let mut snapshot_max = Counts::default();
    for (event, doc) in docs.iter().enumerate() {
        let Some(doc) = doc else { continue };
        let mut here = Counts::default();
        if doc.complete {
            let skip = |v: usize| is_fragment[event].contains(&v);
            json::plan_doc(
                r,
                doc,
                Scope::Recording,
                &skip,
                &mut here,
                &mut per_event[event],
            );
        } else if doc.src != "[DONE]" {
            r.plan(doc.src, &mut here, &mut per_event[event]);
        }
        if is_fragment[event].is_empty() {
            snapshot_max.max_with(&here);
        } else {
            delta_counts.add(&here);
        }
    }
    // The same text can arrive as deltas and again in `.done` / `response.completed`: count it once.
    delta_counts.max_with(&snapshot_max);
    counts.add(&delta_counts);

    let mut edits: Vec<Edit> = Vec::new();
    for (ev, mut local) in evs.iter().zip(per_event) {
        local.sort_by_key(|e| e.start);
        edits.extend(local.into_iter().map(|e| Edit {
            start: to_body(ev, e.start),
            end: to_body(ev, e.end),
            with: e.with,
        }));
    }
    if edits.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(body.len());
    let mut at = 0;
    for e in &edits {
        out.extend_from_slice(&body[at..e.start]);
        out.extend_from_slice(e.with.as_bytes());
        at = e.end;
    }
    out.extend_from_slice(&body[at..]);
    Some(out)
}

/// Assembles one stream, redacts it, and puts the new delta strings into `per_event`.
fn redact_stream(
    r: &Redactor,
    stream: &Stream,
    docs: &[Option<Doc<'_>>],
    per_event: &mut [Vec<Edit>],
    counts: &mut Counts,
) {
    let mut assembled = String::new();
    let mut ranges = Vec::with_capacity(stream.frags.len());
    for f in &stream.frags {
        let start = assembled.len();
        if let Some(doc) = docs[f.event].as_ref() {
            let v = &doc.vals[f.val];
            assembled.push_str(&escape::decode(doc.raw((v.start, v.end)), v.escaped));
        }
        ranges.push((start, assembled.len()));
    }
    let mut edits = Vec::new();
    let inner = stream.json.then(|| json::parse_tool_input(&assembled));
    match inner {
        // A tool input: its string values only (a stream cut short still has its strings).
        Some(doc) if !doc.vals.is_empty() => {
            json::plan_doc(r, &doc, Scope::Recording, &|_| false, counts, &mut edits)
        }
        _ => r.plan(&assembled, counts, &mut edits),
    }
    if edits.is_empty() {
        return;
    }
    for (f, &range) in stream.frags.iter().zip(&ranges) {
        let Some(doc) = docs[f.event].as_ref() else {
            continue;
        };
        let new = project(&assembled, range, &edits);
        if new != assembled[range.0..range.1] {
            let v = &doc.vals[f.val];
            let mut with = String::with_capacity(new.len());
            escape::escape_into(&new, &mut with);
            per_event[f.event].push(Edit {
                start: v.start,
                end: v.end,
                with,
            });
        }
    }
}
