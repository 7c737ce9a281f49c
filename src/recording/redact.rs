//! [recording] PII and secret redaction of a `RequestRecord`, on the writer thread, before any store
//! sees it. Everything the stores persist comes from the record (JSONL lines, SQLite columns, the
//! full-text index, tool-call rows), so redacting the record here redacts all of them: bodies,
//! headers, the assembled message (text, thinking text, tool inputs, other blocks, error message)
//! and the raw usage object. Ids, model names, stop reasons and thinking signatures are kept.
//!
//! `record.redactions` counts the values replaced in the request and response bodies and headers.
//! The assembled message repeats what the response body said, so it is redacted without being
//! counted a second time.

use super::record::RequestRecord;
use crate::features::pii::{Counts, Redactor, Scope};
use crate::metrics::recorded as metrics;
use bytes::Bytes;
use serde::de::IgnoredAny;
use std::borrow::Cow;

/// Redacts `record` in place and fills `record.redactions` (and the redaction counter metric).
pub(crate) fn redact_record(redactor: &Redactor, record: &mut RequestRecord) {
    let mut counts = Counts::default();
    if let Some(body) = json_or_text(redactor, &record.request_body, &mut counts) {
        record.request_body = body;
    }
    let response = if is_event_stream(&record.response_headers) {
        redactor
            .sse_body(&record.response_body, &mut counts)
            .map(Bytes::from)
    } else if record.transport == "websocket" {
        websocket_events(redactor, &record.response_body, &mut counts)
    } else {
        json_or_text(redactor, &record.response_body, &mut counts)
    };
    if let Some(body) = response {
        record.response_body = body;
    }
    for (_, value) in record
        .request_headers
        .iter_mut()
        .chain(record.response_headers.iter_mut())
    {
        redact_string(redactor, value, &mut counts);
    }

    // Derived from the bodies and headers: redacted, not counted again.
    let mut again = Counts::default();
    for beta in &mut record.request.betas {
        redact_string(redactor, beta, &mut again);
    }
    let answer = &mut record.response;
    redact_string(redactor, &mut answer.text, &mut again);
    for block in &mut answer.thinking {
        // The text only: `signature` and `redacted_data` are the provider's opaque proof.
        redact_string(redactor, &mut block.text, &mut again);
    }
    for call in &mut answer.tool_calls {
        redactor.tool_input(&mut call.input, &mut again);
    }
    for block in &mut answer.other_blocks {
        redactor.value(block, &mut again);
    }
    if let Some(message) = answer.error_message.as_mut() {
        redact_string(redactor, message, &mut again);
    }
    if let Some(raw) = answer.usage.raw.as_mut() {
        redactor.value(raw, &mut again);
    }

    if counts.is_empty() {
        return;
    }
    for (kind, n) in counts.iter() {
        metrics::record_pii_redactions(kind, n);
        record.redactions.insert(kind.to_string(), n);
    }
}

fn redact_string(redactor: &Redactor, value: &mut String, counts: &mut Counts) {
    if let Cow::Owned(redacted) = redactor.text(value, counts) {
        *value = redacted;
    }
}

/// A JSON body through `json_body` (every byte outside a changed string kept); a body that is not
/// JSON (cut at the memory budget, plain text) as text, so a truncated capture is redacted too.
/// `None` when nothing changed.
fn json_or_text(redactor: &Redactor, body: &Bytes, counts: &mut Counts) -> Option<Bytes> {
    if body.is_empty() {
        return None;
    }
    if let Some(redacted) = redactor.json_body(body, Scope::Recording, counts) {
        return Some(Bytes::from(redacted));
    }
    if serde_json::from_slice::<IgnoredAny>(body).is_ok() {
        return None; // valid JSON, nothing to redact
    }
    // Not UTF-8 either: the stores keep it as base64, and there is no text to look at.
    let text = std::str::from_utf8(body).ok()?;
    match redactor.text(text, counts) {
        Cow::Owned(redacted) => Some(Bytes::from(redacted)),
        Cow::Borrowed(_) => None,
    }
}

fn is_event_stream(headers: &[(String, String)]) -> bool {
    headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("content-type")
            && value
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("text/event-stream")
    })
}

/// A WebSocket turn's response is its server messages, one per line. They carry the same events
/// as a Responses event stream, so they go through `sse_body` as one (each line a `data:` event),
/// which catches a value split across two delta messages; then back to one message per line.
fn websocket_events(redactor: &Redactor, body: &Bytes, counts: &mut Counts) -> Option<Bytes> {
    let text = std::str::from_utf8(body).ok()?;
    let mut stream = String::with_capacity(text.len() + text.len() / 8);
    for line in text.lines() {
        stream.push_str("data: ");
        stream.push_str(line);
        stream.push_str("\n\n");
    }
    let redacted = redactor.sse_body(stream.as_bytes(), counts)?;
    let redacted = String::from_utf8(redacted).ok()?;
    let mut out = String::with_capacity(redacted.len());
    for event in redacted.split("\n\n").filter(|e| !e.is_empty()) {
        // `sse_body` keeps the framing it does not change, so each event is still `data: <line>`.
        let line = event.strip_prefix("data: ").unwrap_or(event);
        out.push_str(line);
        out.push('\n');
    }
    Some(Bytes::from(out))
}
