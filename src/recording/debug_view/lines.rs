//! The debug stream view's lines: pure functions from what was seen to the text of one line
//! (without the `#N` prefix), so tests read them without a log subscriber.

use crate::providers::Provider;
use crate::proxy::ctx::End;
use crate::recording::record::{Assembled, RequestSummary};
use serde_json::Value;

/// Characters of text shown per block.
pub(super) const PREVIEW_CHARS: usize = 160;
/// Characters of compact tool arguments shown per call.
pub(super) const ARGUMENTS_CHARS: usize = 200;

pub(super) fn request_line(
    provider: Provider,
    method: &str,
    path: &str,
    summary: Option<&RequestSummary>,
    tools: Option<usize>,
) -> String {
    let mut line = format!("request {} {method} {path}", provider.name());
    if let Some(s) = summary {
        let model = s.model.as_deref().unwrap_or("-");
        let streaming = if s.stream { "yes" } else { "no" };
        line += &format!(
            " model={model} messages={} streaming={streaming}",
            s.message_count
        );
        line += &format!(" tools={}", tools.unwrap_or(0));
        if !s.tool_results.is_empty() {
            line += &format!(" tool_results={}", s.tool_results.len());
        }
    }
    line
}

/// A JSON answer's content, in the order a client shows it.
pub(super) fn answer_lines(answer: &Assembled) -> Vec<String> {
    let mut lines = Vec::new();
    for thinking in &answer.thinking {
        lines.push(thinking_line(
            thinking.text.chars().count(),
            thinking.redacted_data.is_some(),
        ));
    }
    if !answer.text.is_empty() {
        lines.push(text_line(&answer.text, answer.text.chars().count()));
    }
    for call in &answer.tool_calls {
        lines.push(tool_line("tool", &call.name, &call.input));
    }
    for block in &answer.other_blocks {
        lines.push(other_line(block));
    }
    lines
}

/// The error (if any), then usage and stop reason, with the outcome when it was not a clean end.
/// `status` is 0 when no response came.
pub(super) fn end_lines(status: u16, answer: &Assembled, end: &End) -> Vec<String> {
    let mut lines = Vec::new();
    if answer.error_type.is_some() || (status != 0 && !(200..300).contains(&status)) {
        let kind = answer.error_type.as_deref().unwrap_or("-");
        let message = answer.error_message.as_deref().unwrap_or_default();
        lines.push(format!(
            "error status={status} {kind}: {}",
            preview(message, PREVIEW_CHARS)
        ));
    }
    let u = &answer.usage;
    let stop = answer.stop_reason.as_deref().unwrap_or("-");
    let mut usage = format!(
        "usage in={} out={} cache_read={} cache_write={} thinking={} stop={stop}",
        u.input, u.output, u.cache_read, u.cache_creation, u.thinking
    );
    match end {
        End::Done => {}
        End::UpstreamFailed(_) => usage += " outcome=upstream_failed",
        End::Timeout => usage += " outcome=timeout",
        End::Cancelled => usage += " outcome=client_disconnected",
        End::Refused => usage += " outcome=refused",
    }
    lines.push(usage);
    lines
}

pub(super) fn text_line(head: &str, chars: usize) -> String {
    let shown = preview(head, PREVIEW_CHARS);
    if chars > PREVIEW_CHARS {
        format!("text \"{shown}\" ({chars} chars)")
    } else {
        format!("text \"{shown}\"")
    }
}

pub(super) fn thinking_line(chars: usize, redacted: bool) -> String {
    match (chars, redacted) {
        (0, true) => "thinking (redacted)".to_string(),
        (0, false) => "thinking (no summary)".to_string(),
        (n, _) => format!("thinking {n} chars"),
    }
}

/// `label name {compact arguments}`; arguments that are not JSON are shown as text.
pub(super) fn tool_line(label: &str, name: &str, input: &Value) -> String {
    let arguments = match input {
        Value::String(raw) => preview(raw, ARGUMENTS_CHARS),
        other => preview(&other.to_string(), ARGUMENTS_CHARS),
    };
    format!("{label} {name} {arguments}")
}

pub(super) fn other_line(block: &Value) -> String {
    let kind = block.get("type").and_then(Value::as_str).unwrap_or("?");
    format!("block {kind}")
}

/// How far past the shown characters a preview keeps text until its line has been redacted: a
/// value that starts in the shown part and is shorter than this is seen whole by the redactor, so
/// the cut never leaves the first part of a key or an address on screen.
pub(super) const REDACTION_MARGIN: usize = 512;
/// Ends a preview's text inside a line (see `preview`).
const PREVIEW_END: char = '\u{E000}';
/// A preview starts with `PREVIEW_START + limit`: one character that carries how many characters
/// are to be shown (Supplementary Private Use Area-A, which no redaction rule touches).
const PREVIEW_START: u32 = 0xF0000;

fn is_marker(c: char) -> bool {
    c == PREVIEW_END || (PREVIEW_START..=0xFFFFD).contains(&(c as u32))
}

/// `text` marked as a preview of its first `max` characters: the raw text (up to `max` +
/// `REDACTION_MARGIN` characters) between two private markers. The line is redacted whole first,
/// then `cut_previews` cuts each preview and puts it on one line; cutting first would hand the
/// redactor half a value it no longer recognises.
pub(super) fn preview(text: &str, max: usize) -> String {
    let mut out = String::new();
    out.push(char::from_u32(PREVIEW_START + max as u32).unwrap_or(PREVIEW_END));
    for c in text.chars().take(max + REDACTION_MARGIN) {
        out.push(if is_marker(c) { ' ' } else { c });
    }
    out.push(PREVIEW_END);
    out
}

/// Each marked preview in `line` becomes its first characters on one line: newlines as ⏎, other
/// control characters as spaces, `…` when cut.
pub(super) fn cut_previews(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        let code = c as u32;
        if !is_marker(c) || c == PREVIEW_END {
            out.push(c);
            continue;
        }
        let max = (code - PREVIEW_START) as usize;
        let mut shown = 0;
        for c in chars.by_ref() {
            if c == PREVIEW_END {
                break;
            }
            if shown == max {
                out.push('…');
                shown += 1;
            }
            if shown > max {
                continue;
            }
            shown += 1;
            match c {
                '\n' => out.push('⏎'),
                '\r' => {}
                c if c.is_control() => out.push(' '),
                c => out.push(c),
            }
        }
    }
    out
}

/// Text seen so far: its first characters (enough for a preview) and how many there were.
#[derive(Debug, Default)]
pub(super) struct Preview {
    head: String,
    chars: usize,
}

impl Preview {
    pub(super) fn push(&mut self, piece: &str) {
        for c in piece.chars() {
            if self.chars < PREVIEW_CHARS + REDACTION_MARGIN {
                self.head.push(c);
            }
            self.chars += 1;
        }
    }

    pub(super) fn line(&self) -> Option<String> {
        (self.chars > 0).then(|| text_line(&self.head, self.chars))
    }
}
