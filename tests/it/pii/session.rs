//! The PII session every test here records: two streamed Anthropic turns whose user message, tool
//! result, thinking and assistant text carry an email, a phone number, an SSN, a Luhn-valid card,
//! IPv4 and IPv6 addresses and custom-pattern values, some of them split across two SSE deltas.
//! Plus the helpers to run it through an in-process proxy and to read every byte left on disk.

use crate::support::*;
use bytes::Bytes;
use lunaroute::config::{Config, CustomPattern, RedactionMode};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const EMAIL: &str = "alice.smith@example.com";
pub const PHONE: &str = "(415) 555-0132";
pub const SSN: &str = "536-22-8471";
pub const CARD: &str = "4539 1488 0343 6467";
pub const IP: &str = "203.0.113.42";
pub const IPV6: &str = "2001:db8::8a2e:370:7334";
/// Custom pattern `employee_id` = `EMP-[0-9]{6}`.
pub const EMPLOYEE: &str = "EMP-482913";
/// Streamed by the assistant, split across two deltas.
pub const EMAIL_SPLIT: (&str, &str) = ("bob.jones@exa", "mple.org");
pub const EMPLOYEE_SPLIT: (&str, &str) = ("EMP-77", "1204");

/// Every original value: none may be left anywhere on disk.
pub fn originals() -> Vec<String> {
    vec![
        EMAIL.into(),
        PHONE.into(),
        SSN.into(),
        CARD.into(),
        IP.into(),
        IPV6.into(),
        EMPLOYEE.into(),
        format!("{}{}", EMAIL_SPLIT.0, EMAIL_SPLIT.1),
        format!("{}{}", EMPLOYEE_SPLIT.0, EMPLOYEE_SPLIT.1),
    ]
}

pub const SESSION: &str = "5f0c6a2e-8d1b-4e7f-9a3c-2b4d6e8f0a1c";
pub const SIGNATURE: &str = "EqQDCkDk7sjhfYuNdSFVVqGs0wT45/x0B7F2GTklrZ4cOZbKIXUM0VTgq0lxP5Bln1eeCo3ustHdNRf1mFAcwYVq4rEZX1RM0Bc4Z+993LFNDPsTGajGEXUmljUrvlfmfhcvG384SjYU1km4vkj9Nj9ijPgpw87Y==";

pub fn user_text() -> String {
    format!("Please email {EMAIL} or call {PHONE}; my SSN is {SSN}. What does the log say?")
}

pub fn thinking_text() -> String {
    format!("The user is {EMAIL}. I should read the log first.")
}

/// The assistant's first answer, as its deltas (the second email straddles two of them).
pub fn answer_pieces() -> Vec<String> {
    vec![
        "I'll write to ".into(),
        EMAIL_SPLIT.0.into(),
        format!("{} and read the log.", EMAIL_SPLIT.1),
    ]
}

pub fn tool_result() -> String {
    format!("charge failed for card {CARD} from {IP} (employee {EMPLOYEE})")
}

pub fn second_answer_pieces() -> Vec<String> {
    vec![
        "The charge came from ".into(),
        format!("{IPV6}; employee {}", EMPLOYEE_SPLIT.0),
        format!("{} approved it.", EMPLOYEE_SPLIT.1),
    ]
}

/// The thinking block as the client sends it back in turn 2 (signature included).
pub fn thinking_block() -> String {
    json!({"type": "thinking", "thinking": thinking_text(), "signature": SIGNATURE}).to_string()
}

fn user_message() -> String {
    json!({"role": "user", "content": user_text()}).to_string()
}

fn body(messages: &[String]) -> Bytes {
    Bytes::from(format!(
        r#"{{"model":"claude-sonnet-4-6","max_tokens":32000,"stream":true,"messages":[{}]}}"#,
        messages.join(",")
    ))
}

/// The two request bodies, byte for byte as the client sends them.
pub fn bodies() -> [Bytes; 2] {
    let assistant = format!(
        r#"{{"role":"assistant","content":[{},{},{}]}}"#,
        thinking_block(),
        json!({"type": "text", "text": answer_pieces().concat()}),
        json!({"type": "tool_use", "id": "toolu_01PiiLogRead", "name": "Bash", "input": {"command": "tail app.log"}}),
    );
    let result = json!({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_01PiiLogRead", "content": tool_result()}
    ]})
    .to_string();
    [
        body(&[user_message()]),
        body(&[user_message(), assistant, result]),
    ]
}

fn event(out: &mut String, name: &str, data: Value) {
    out.push_str(&format!("event: {name}\ndata: {data}\n\n"));
}

fn message_start(out: &mut String, id: &str) {
    event(
        out,
        "message_start",
        json!({"type": "message_start", "message": {"model": "claude-sonnet-4-6", "id": id,
            "type": "message", "role": "assistant", "content": [], "stop_reason": null,
            "usage": {"input_tokens": 120, "output_tokens": 1}}}),
    );
}

fn text_block(out: &mut String, index: u64, pieces: &[String]) {
    event(
        out,
        "content_block_start",
        json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}),
    );
    for piece in pieces {
        event(
            out,
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}}),
        );
    }
    event(
        out,
        "content_block_stop",
        json!({"type": "content_block_stop", "index": index}),
    );
}

fn message_end(out: &mut String, stop: &str) {
    event(
        out,
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": 40}}),
    );
    event(out, "message_stop", json!({"type": "message_stop"}));
}

/// Turn 1's stream: thinking (split in two deltas, then its signature), text, a tool call.
pub fn first_stream() -> Bytes {
    let mut out = String::new();
    message_start(&mut out, "msg_01PiiTurnOne");
    event(
        &mut out,
        "content_block_start",
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
    );
    let thinking = thinking_text();
    let (a, b) = thinking.split_at(20);
    for piece in [a, b] {
        event(
            &mut out,
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": piece}}),
        );
    }
    event(
        &mut out,
        "content_block_delta",
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": SIGNATURE}}),
    );
    event(
        &mut out,
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    );
    text_block(&mut out, 1, &answer_pieces());
    event(
        &mut out,
        "content_block_start",
        json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_01PiiLogRead", "name": "Bash", "input": {}}}),
    );
    event(
        &mut out,
        "content_block_delta",
        json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\"command\": \"tail app.log\"}"}}),
    );
    event(
        &mut out,
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 2}),
    );
    message_end(&mut out, "tool_use");
    Bytes::from(out)
}

/// Turn 2's stream: one text block with the IPv6 address and a split employee id.
pub fn second_stream() -> Bytes {
    let mut out = String::new();
    message_start(&mut out, "msg_01PiiTurnTwo");
    text_block(&mut out, 0, &second_answer_pieces());
    message_end(&mut out, "end_turn");
    Bytes::from(out)
}

/// A mock provider answering turn 1 then turn 2 (each stream cut into several chunks).
pub async fn mock() -> MockHandle {
    let turn = AtomicUsize::new(0);
    MockUpstream::new()
        .route_fn("/v1/messages", move |_| {
            let stream = match turn.fetch_add(1, Ordering::SeqCst) {
                0 => first_stream(),
                _ => second_stream(),
            };
            let cuts: Vec<usize> = (1..8).map(|i| i * stream.len() / 8).collect();
            Reply::sse(Bytes::new()).body(Body::Chunks(
                split_at(&stream, &cuts),
                std::time::Duration::ZERO,
            ))
        })
        .start()
        .await
}

/// Recording into `dir` with PII on in `mode`, the `employee_id` custom pattern, a fixed key.
pub fn pii_config(mock: &MockHandle, dir: &Path, mode: RedactionMode) -> Config {
    let mut config = config_for(mock, mock);
    let rec = &mut config.session_recording;
    rec.enabled = true;
    rec.jsonl.directory = dir.join("sessions").display().to_string();
    rec.sqlite.path = dir.join("db").join("sessions.db").display().to_string();
    rec.pii.enabled = true;
    rec.pii.redaction_mode = mode;
    rec.pii.custom_patterns = vec![CustomPattern {
        name: "employee_id".into(),
        pattern: "EMP-[0-9]{6}".into(),
        placeholder: None,
    }];
    // In process, HOME is the developer's: never create ~/.lunaroute/pii.key from a test.
    rec.pii.hmac_secret = Some(lunaroute::config::Secret::new("test-hmac-secret"));
    config
}

pub const HEADERS: [(&str, &str); 4] = [
    ("x-api-key", "sk-ant-client-key-not-recorded"),
    ("anthropic-version", "2023-06-01"),
    ("x-claude-code-session-id", SESSION),
    ("user-agent", "claude-cli/2.1.197 (external, cli)"),
];

/// Sends both turns through `proxy`; returns what the client received for each.
pub async fn run_turns(proxy: &Proxy) -> Vec<Bytes> {
    let mut received = Vec::new();
    for body in bodies() {
        let (head, bytes) = fetch(proxy.addr, post_json("/v1/messages", body, &HEADERS)).await;
        assert_eq!(head.status(), 200, "{}", String::from_utf8_lossy(&bytes));
        received.push(bytes);
    }
    received
}

/// Runs the session through an in-process proxy with `config` and shuts it down (the recorder
/// drains before `shutdown` completes).
pub async fn record_session(config: Config) -> Vec<Bytes> {
    let mut proxy = spawn_proxy(config).await;
    let received = run_turns(&proxy).await;
    proxy.shutdown().await.unwrap();
    received
}

// === what is on disk ===

/// Every file under `dir`, recursively (bounded: the layouts are a few levels deep).
pub fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    for _ in 0..10_000 {
        let Some(next) = pending.pop() else { break };
        let Ok(entries) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// A file's bytes, decompressed when it is a `.zst` (retention's compressed sessions).
pub fn contents(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "zst") {
        return zstd::decode_all(&bytes[..]).expect("a zstd file");
    }
    bytes
}

/// Panics naming the file and the value if any original is in any file under `dir`.
pub fn assert_no_originals(dir: &Path) {
    let files = all_files(dir);
    assert!(
        files
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "jsonl")),
        "no JSONL file under {}: {files:?}",
        dir.display()
    );
    assert!(
        files.iter().any(|f| f.ends_with("sessions.db")),
        "no database under {}: {files:?}",
        dir.display()
    );
    for file in &files {
        let bytes = contents(file);
        for value in originals() {
            assert!(
                find(&bytes, value.as_bytes()).is_none(),
                "{} holds {value:?}",
                file.display()
            );
        }
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The JSONL lines of the session.
pub fn jsonl_lines(dir: &Path) -> Vec<Value> {
    let files: Vec<PathBuf> = all_files(&dir.join("sessions"))
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    std::fs::read_to_string(&files[0])
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The session's request bodies as stored (deltas resolved) by `sessions export`.
pub fn exported_bodies(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    lunaroute::features::export_session(config, SESSION, &mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["request_body"].as_str().unwrap().to_string()
        })
        .collect()
}
