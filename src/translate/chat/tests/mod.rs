//! Golden tests for the chat translators. Fixtures live in `tests/fixtures/translate/chat/`
//! (layout in its README.md): a provider or client input and, next to it, the expected output,
//! written by hand from WIRE.md facts. JSON is compared as `serde_json::Value` (key order is not a
//! wire requirement); SSE is compared event by event (name, then data as JSON, `[DONE]` as text),
//! and every stream fixture is also fed byte by byte and cut at awkward points (inside UTF-8
//! characters, after backslashes, inside `\n\n`) with byte-identical output.

mod golden;
mod streams;
mod units;

use crate::sse::{SseEvent, SseParser};
use crate::translate::chat::{stream_to_anthropic::ToAnthropic, stream_to_chat::ToChat};
use crate::translate::ClientView;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub(super) const ROOT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/translate/chat/"
);
/// Chat's `created` in every chat-client fixture.
pub(super) const CREATED: u64 = 1767225600;
/// What the Anthropic client (Claude Code) asked for; the provider's own model must not leak.
pub(super) const ANTHROPIC_CLIENT_MODEL: &str = "claude-sonnet-4-6";
/// What the Chat client asked for (an alias the routing rewrote).
pub(super) const CHAT_CLIENT_MODEL: &str = "claude-sonnet";

pub(super) fn view(model: &str, stream: bool, include_usage: bool) -> ClientView {
    ClientView {
        model: model.to_string(),
        stream,
        include_usage,
    }
}

/// Input files in `dir` ending in `ext`, without the expected outputs and sidecars, sorted.
pub(super) fn inputs(dir: &str, ext: &str) -> Vec<PathBuf> {
    let dir = Path::new(ROOT).join(dir);
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fixture dir {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(ext) && !name.contains(".expected.") && !name.ends_with(".target.json")
        })
        .collect();
    found.sort();
    found
}

/// `dir/NAME.json` -> `dir/NAME<suffix>`.
pub(super) fn sibling(input: &Path, suffix: &str) -> PathBuf {
    let name = input.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let stem = name.split('.').next().unwrap_or(name);
    input.with_file_name(format!("{stem}{suffix}"))
}

pub(super) fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub(super) fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub(super) fn name(path: &Path) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("?")
        .to_string()
}

/// Both stream translators, driven alike.
pub(super) trait Feed {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>);
    fn finish(&mut self, out: &mut Vec<u8>);
    fn fail(&mut self, message: &str, out: &mut Vec<u8>);
}

impl Feed for ToAnthropic {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        ToAnthropic::push(self, chunk, out);
    }
    fn finish(&mut self, out: &mut Vec<u8>) {
        ToAnthropic::finish(self, out);
    }
    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        ToAnthropic::fail(self, message, out);
    }
}

impl Feed for ToChat {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        ToChat::push(self, chunk, out);
    }
    fn finish(&mut self, out: &mut Vec<u8>) {
        ToChat::finish(self, out);
    }
    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        ToChat::fail(self, message, out);
    }
}

/// Feeds `input` cut into `chunks`, then EOF; returns everything written.
pub(super) fn run<F: Feed>(mut stream: F, input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().filter(|&&c| c > 0 && c < input.len()) {
        if cut > start {
            stream.push(&input[start..cut], &mut out);
            start = cut;
        }
    }
    stream.push(&input[start..], &mut out);
    stream.finish(&mut out);
    out
}

/// The cut sets every stream fixture is run with: one byte at a time, fixed strides, and one cut
/// at each awkward byte (inside a UTF-8 character, right after a backslash, between the two
/// newlines that end an event).
pub(super) fn cut_sets(input: &[u8]) -> Vec<(String, Vec<usize>)> {
    let mut sets = vec![("one byte at a time".to_string(), (1..input.len()).collect())];
    for stride in [2, 3, 7, 64] {
        sets.push((
            format!("every {stride} bytes"),
            (1..input.len()).step_by(stride).collect(),
        ));
    }
    for (i, pair) in input.windows(2).enumerate() {
        let awkward = (pair[1] & 0xC0) == 0x80 || pair[0] == b'\\' || pair == b"\n\n";
        if awkward {
            sets.push((format!("cut at byte {}", i + 1), vec![i + 1]));
        }
    }
    sets
}

pub(super) fn parse_sse(bytes: &[u8]) -> Vec<SseEvent> {
    let mut parser = SseParser::new();
    let mut events = Vec::new();
    parser.feed(bytes, &mut events);
    parser.finish(&mut events);
    assert!(!parser.pending_partial(), "output ends inside an event");
    events
}

/// Output frames must be exactly `[event: NAME\n]data: ONE-LINE\n\n`, nothing else.
pub(super) fn assert_framing(out: &[u8], events: &[SseEvent]) {
    let mut rebuilt = Vec::new();
    for e in events {
        if let Some(name) = &e.event {
            rebuilt.extend_from_slice(format!("event: {name}\n").as_bytes());
        }
        rebuilt.extend_from_slice(format!("data: {}\n\n", e.data).as_bytes());
    }
    assert_eq!(
        String::from_utf8_lossy(&rebuilt),
        String::from_utf8_lossy(out),
        "framing"
    );
}

/// Event-by-event comparison; returns a description of the first difference.
pub(super) fn diff_sse(got: &[SseEvent], want: &[SseEvent]) -> Option<String> {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if g.event != w.event {
            return Some(format!("event {i}: name {:?}, want {:?}", g.event, w.event));
        }
        let same = match (
            serde_json::from_str::<Value>(&g.data),
            serde_json::from_str::<Value>(&w.data),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => g.data == w.data,
        };
        if !same {
            return Some(format!("event {i}:\n   got {}\n  want {}", g.data, w.data));
        }
    }
    if got.len() != want.len() {
        let extra = got.get(want.len()).or_else(|| want.get(got.len()));
        return Some(format!(
            "{} events, want {} (first unmatched: {:?})",
            got.len(),
            want.len(),
            extra.map(|e| &e.data)
        ));
    }
    None
}
