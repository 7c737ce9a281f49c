//! `sessions export ID`: reads a session back from its JSONL file(s) (`.jsonl.zst` parts first,
//! then `.jsonl`, day folder by day folder), rebuilds every request body byte for byte (following
//! the prefix references, `jsonl::delta`) and prints one JSON object per line and per request:
//!
//! ```text
//! {"session_id", "request_id", "started_at", "ended_at", "client", "provider", "endpoint",
//!  "transport", "status", "outcome", "request_headers": [[name, value], ...],
//!  "request_body": "<exact body>", "request_body_encoding": "utf8" | "base64",
//!  "response_headers", "response_body": "<decoded body>", "response_body_encoding",
//!  "message": {...}, "final_stats": {...}, "error": "<why the body is missing>" (only then)}
//! ```
//!
//! `request_body` is the exact bytes the provider received: a JSON string when they are UTF-8, else
//! base64 (`request_body_encoding` says which). A body that cannot be rebuilt (its base was in a
//! part that retention deleted, or a line was torn) is `null` with `error` set; the export goes on.
//! Lines that do not parse (a crash mid-write) are skipped.

use super::jsonl::{codec, delta, layout};
use serde_json::{Map, Value};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

/// Rebuilt bodies kept as possible bases: the store references one of its last
/// `delta::CANDIDATES` conversation bodies, so twice that is plenty.
const KEPT_BASES: usize = 2 * delta::CANDIDATES;

/// One request as read back: its `request` line, its rebuilt body, its `response` line.
struct Exchange {
    request: Value,
    body: Result<Vec<u8>, String>,
    response: Option<Value>,
}

/// Prints every request of the session (format above) and returns how many.
pub(crate) fn export_session(
    dir: &Path,
    session_id: &str,
    out: &mut dyn Write,
) -> Result<usize, String> {
    let mut count = 0;
    read_session(dir, session_id, |exchange| {
        let line = export_line(exchange);
        let mut bytes =
            serde_json::to_vec(&line).map_err(|e| format!("encoding the export: {e}"))?;
        bytes.push(b'\n');
        out.write_all(&bytes)
            .map_err(|e| format!("writing the export: {e}"))?;
        count += 1;
        Ok(())
    })?;
    Ok(count)
}

/// Every request of the session with its exact body, in order; the first body that cannot be
/// rebuilt is an error. (For tests: the export is what users run.)
#[cfg(test)]
pub(crate) fn reconstruct_requests(
    dir: &Path,
    session_id: &str,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut all = Vec::new();
    read_session(dir, session_id, |exchange| {
        let id = str_field(&exchange.request, "request_id").to_string();
        let body = exchange.body.map_err(|e| format!("request {id}: {e}"))?;
        all.push((id, body));
        Ok(())
    })?;
    Ok(all)
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Reads the session's files in order and hands over each exchange once its response line (or
/// the next request, or the end) is seen.
fn read_session(
    dir: &Path,
    session_id: &str,
    mut emit: impl FnMut(Exchange) -> Result<(), String>,
) -> Result<(), String> {
    let files = layout::session_files(dir, session_id)?;
    if files.is_empty() {
        return Err(format!(
            "no recording of session {session_id:?} under {}",
            dir.display()
        ));
    }
    let mut bases: Vec<(String, Vec<u8>)> = Vec::new();
    let mut pending: Option<Exchange> = None;
    for path in files {
        let context = |e: std::io::Error| format!("reading {}: {e}", path.display());
        let file = File::open(&path).map_err(context)?;
        let reader: Box<dyn Read> =
            match layout::split_name(&path.file_name().unwrap_or_default().to_string_lossy()) {
                Some((_, layout::Kind::Zst)) => {
                    Box::new(zstd::stream::read::Decoder::new(file).map_err(context)?)
                }
                _ => Box::new(file),
            };
        let mut reader = BufReader::new(reader);
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line).map_err(context)? == 0 {
                break;
            }
            let Ok(value) = serde_json::from_slice::<Value>(&line) else {
                continue;
            };
            match str_field(&value, "type") {
                "request" => {
                    if let Some(previous) = pending.take() {
                        emit(previous)?;
                    }
                    let body = request_body(&value, &bases);
                    if let Ok(bytes) = &body {
                        remember_base(&mut bases, str_field(&value, "request_id"), bytes);
                    }
                    pending = Some(Exchange {
                        request: value,
                        body,
                        response: None,
                    });
                }
                "response" => match pending.take() {
                    Some(mut exchange)
                        if str_field(&exchange.request, "request_id")
                            == str_field(&value, "request_id") =>
                    {
                        exchange.response = Some(value);
                        emit(exchange)?;
                    }
                    other => pending = other,
                },
                _ => {}
            }
        }
    }
    match pending {
        Some(exchange) => emit(exchange),
        None => Ok(()),
    }
}

/// Keeps bodies that could be a base (those with a conversation array, as the store decides).
fn remember_base(bases: &mut Vec<(String, Vec<u8>)>, request_id: &str, body: &[u8]) {
    if std::str::from_utf8(body).is_err() || delta::shape(body).is_none() {
        return;
    }
    if bases.len() == KEPT_BASES {
        bases.remove(0);
    }
    bases.push((request_id.to_string(), body.to_vec()));
}

/// The exact request body of a `request` line.
fn request_body(line: &Value, bases: &[(String, Vec<u8>)]) -> Result<Vec<u8>, String> {
    let body = line.get("body").ok_or("no body")?;
    if let Some(text) = body.get("text").and_then(Value::as_str) {
        return Ok(text.as_bytes().to_vec());
    }
    if let Some(b64) = body.get("base64").and_then(Value::as_str) {
        return codec::base64_decode(b64).ok_or_else(|| "body: bad base64".to_string());
    }
    let delta = body.get("delta").ok_or("body: unknown encoding")?;
    let base_id = str_field(delta, "base");
    let (_, base) = bases
        .iter()
        .rev()
        .find(|(id, _)| id == base_id)
        .ok_or_else(|| format!("body: base request {base_id:?} is not in the recording"))?;
    delta::apply(delta, base)
}

/// A response body as stored (`text` or `base64`) → (string, encoding).
fn stored_text(body: Option<&Value>) -> (Value, &'static str) {
    match body {
        Some(b) if b.get("base64").is_some() => (b["base64"].clone(), "base64"),
        Some(b) => (b.get("text").cloned().unwrap_or(Value::Null), "utf8"),
        None => (Value::Null, "utf8"),
    }
}

fn export_line(exchange: Exchange) -> Value {
    let Exchange {
        request,
        body,
        response,
    } = exchange;
    let response = response.unwrap_or(Value::Null);
    let field = |v: &Value, key: &str| v.get(key).cloned().unwrap_or(Value::Null);
    let mut out = Map::new();
    for key in ["session_id", "request_id"] {
        out.insert(key.into(), field(&request, key));
    }
    out.insert("started_at".into(), field(&request, "timestamp"));
    out.insert("ended_at".into(), field(&response, "timestamp"));
    for key in ["client", "provider", "endpoint", "transport"] {
        out.insert(key.into(), field(&request, key));
    }
    out.insert("status".into(), field(&response, "status"));
    out.insert("outcome".into(), field(&response, "outcome"));
    out.insert("request_headers".into(), field(&request, "headers"));
    let (request_body, encoding, error) = match body {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => (Value::String(text), "utf8", None),
            Err(e) => (
                Value::String(codec::base64_encode(e.as_bytes())),
                "base64",
                None,
            ),
        },
        Err(e) => (Value::Null, "utf8", Some(e)),
    };
    out.insert("request_body".into(), request_body);
    out.insert("request_body_encoding".into(), encoding.into());
    out.insert("response_headers".into(), field(&response, "headers"));
    let (response_body, encoding) = stored_text(response.get("body"));
    out.insert("response_body".into(), response_body);
    out.insert("response_body_encoding".into(), encoding.into());
    out.insert("message".into(), field(&response, "message"));
    out.insert("final_stats".into(), field(&response, "final_stats"));
    if let Some(error) = error {
        out.insert("error".into(), error.into());
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::clock::day_name;
    use crate::recording::jsonl::tests::{record, temp_dir, DAY0_MS, DAY_MS};
    use crate::recording::jsonl::JsonlStore;

    fn export(dir: &Path, session: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let n = export_session(dir, session, &mut out).unwrap();
        let lines: Vec<Value> = out
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(n, lines.len());
        lines
    }

    #[test]
    fn prints_one_line_per_request_with_exact_bodies() {
        let dir = temp_dir("export-format");
        let mut store = JsonlStore::open(&dir).unwrap();
        let bodies: [&[u8]; 3] = [
            br#"{"messages":[{"a":1}]}"#,
            br#"{"messages":[{"a":1},{"b":2}]}"#,
            &[0xff, 0x00, 0x7b],
        ];
        for (i, body) in bodies.iter().enumerate() {
            store
                .append(&record("s1", &format!("r{i}"), DAY0_MS + i as i64, body))
                .unwrap();
        }
        let lines = export(&dir, "s1");
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[1]["request_body"],
            r#"{"messages":[{"a":1},{"b":2}]}"#
        );
        assert_eq!(lines[1]["request_body_encoding"], "utf8");
        assert_eq!(
            lines[2]["request_body"],
            codec::base64_encode(&[0xff, 0x00, 0x7b])
        );
        assert_eq!(lines[2]["request_body_encoding"], "base64");
        let first = &lines[0];
        for key in [
            "session_id",
            "request_id",
            "started_at",
            "ended_at",
            "endpoint",
            "status",
            "outcome",
            "request_headers",
            "response_headers",
            "message",
        ] {
            assert!(!first[key].is_null(), "{key}");
        }
        assert_eq!(
            first["response_body"],
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
        );
        assert_eq!(first["final_stats"]["tokens"]["total"], 100 + 22 % 7);
        assert!(first.get("error").is_none());
    }

    #[test]
    fn a_missing_base_is_reported_per_request_and_the_export_goes_on() {
        let dir = temp_dir("export-broken");
        let mut store = JsonlStore::open(&dir).unwrap();
        store
            .append(&record("s1", "r0", DAY0_MS, br#"{"messages":[1]}"#))
            .unwrap();
        store
            .append(&record("s1", "r1", DAY0_MS, br#"{"messages":[1,2]}"#))
            .unwrap();
        store
            .append(&record("s1", "r2", DAY0_MS, b"whole"))
            .unwrap();
        let path = dir.join(day_name(DAY0_MS / DAY_MS)).join("s1.jsonl");
        let text = std::fs::read_to_string(&path).unwrap();
        // Drop r0's request line: r1's base is gone.
        std::fs::write(
            &path,
            text.lines()
                .skip(1)
                .map(|l| format!("{l}\n"))
                .collect::<String>(),
        )
        .unwrap();
        let lines = export(&dir, "s1");
        let ids: Vec<&str> = lines
            .iter()
            .map(|l| l["request_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["r1", "r2"]);
        assert!(lines[0]["request_body"].is_null());
        assert!(lines[0]["error"].as_str().unwrap().contains("r0"));
        assert_eq!(lines[1]["request_body"], "whole");
        assert!(reconstruct_requests(&dir, "s1").is_err());
    }

    #[test]
    fn unknown_or_unsafe_sessions_are_errors() {
        let dir = temp_dir("export-none");
        let mut sink = Vec::new();
        assert!(export_session(&dir, "nope", &mut sink)
            .unwrap_err()
            .contains("no recording"));
        assert!(export_session(&dir, "../etc", &mut sink).is_err());
        assert!(sink.is_empty());
    }
}
