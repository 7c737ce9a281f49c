//! A three-turn conversation with a tool round-trip, recorded through the in-process proxy into a
//! temp directory, for streaming Anthropic, Responses over SSE and Responses over the WebSocket:
//! one JSONL file per session, SQLite rows whose tokens equal the provider's usage (cache fields
//! included), the tool's execution time, the cost from the pricing table, the `jq` recipes' totals,
//! and `sessions export` reproducing every request body byte for byte.

use crate::support::*;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use lunaroute::config::{Config, PriceConfig};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// The gap the "client" takes to run the tool; the recorded execution time must match it.
const TOOL_GAP: Duration = Duration::from_millis(150);

pub(super) struct TempDir(pub(super) PathBuf);

impl TempDir {
    pub(super) fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("lunaroute-rec-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Recording into `dir`, with round prices for the fixtures' models so the cost is checkable.
pub(super) fn recording_config(anthropic: &MockHandle, openai: &MockHandle, dir: &Path) -> Config {
    let mut config = config_for(anthropic, openai);
    let rec = &mut config.session_recording;
    rec.enabled = true;
    rec.jsonl.directory = dir.join("sessions").display().to_string();
    rec.sqlite.path = dir.join("sessions.db").display().to_string();
    let price = |input, output, write, read| PriceConfig {
        input,
        output,
        cache_write: Some(write),
        cache_read: Some(read),
    };
    config
        .pricing
        .insert("claude-sonnet-4-6".into(), price(3.0, 15.0, 3.75, 0.30));
    config
        .pricing
        .insert("gpt-5.4-mini".into(), price(0.25, 2.0, 0.25, 0.025));
    config
}

/// What the provider's usage adds up to over the three turns (read off the fixtures).
struct Expected {
    input: i64,
    output: i64,
    cache_read: i64,
    cache_creation: i64,
    thinking: i64,
    total: i64,
    cost: f64,
    tool: &'static str,
}

/// The checks every transport shares, once the proxy has shut down (and so drained the recorder).
fn check_recording(
    dir: &Path,
    config: &Config,
    session: &str,
    bodies: &[Bytes],
    expected: &Expected,
    tool_gap: Duration,
) {
    // JSONL: exactly one file, for this session.
    let sessions = dir.join("sessions");
    let files: Vec<PathBuf> = std::fs::read_dir(&sessions)
        .unwrap()
        .flat_map(|day| std::fs::read_dir(day.unwrap().path()).unwrap())
        .map(|f| f.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(
        files[0].file_name().unwrap().to_str().unwrap(),
        format!("{session}.jsonl")
    );
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        !text.contains("sk-client-secret"),
        "a credential reached the JSONL file"
    );
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for line in &lines {
        for field in ["session_id", "request_id", "type", "timestamp"] {
            assert!(!line[field].is_null(), "line without {field}: {line}");
        }
    }
    // The recipe `[.[] | select(.final_stats) | .final_stats.tokens.total] | add`, in Rust.
    let stats: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| !l["final_stats"].is_null())
        .collect();
    assert_eq!(stats.len(), 3, "one final_stats line per request");
    let total: i64 = stats
        .iter()
        .map(|l| l["final_stats"]["tokens"]["total"].as_i64().unwrap())
        .sum();
    assert_eq!(total, expected.total);
    let cost: f64 = stats
        .iter()
        .map(|l| l["final_stats"]["cost_usd"].as_f64().unwrap())
        .sum();
    assert!(
        (cost - expected.cost).abs() < 1e-9,
        "JSONL cost {cost} != {}",
        expected.cost
    );
    check_with_jq(&files[0], expected.total);

    // SQLite: the session's sums, one row per request, the tool's execution time.
    let db = rusqlite::Connection::open(dir.join("sessions.db")).unwrap();
    let row: (i64, i64, i64, i64, i64, i64, i64, f64) = db
        .query_row(
            "SELECT request_count, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens,
                    thinking_tokens, total_tokens, cost_usd FROM sessions WHERE id = ?1",
            [session],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)),
        )
        .unwrap();
    let e = expected;
    assert_eq!(
        (row.0, row.1, row.2, row.3, row.4, row.5, row.6),
        (
            3,
            e.input,
            e.output,
            e.cache_read,
            e.cache_creation,
            e.thinking,
            e.total
        )
    );
    assert!(
        (row.7 - e.cost).abs() < 1e-9,
        "SQLite cost {} != {}",
        row.7,
        e.cost
    );
    let requests: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM requests WHERE session_id = ?1 AND outcome = 'ok'",
            [session],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(requests, 3);
    let (name, duration): (String, f64) = db
        .query_row(
            "SELECT name, duration_ms FROM tool_calls WHERE session_id = ?1",
            [session],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(name, e.tool);
    // The client measured from the end of the answer to sending the result; the proxy saw the answer
    // end a little before and the result arrive a little after (epoch ms, so ±1 ms rounding).
    let gap = tool_gap.as_secs_f64() * 1000.0;
    assert!(
        duration >= gap - 2.0 && duration <= gap + 50.0,
        "tool took {duration} ms; the client waited {gap} ms"
    );

    // `sessions export` gives back every request body, byte for byte.
    let mut out = Vec::new();
    let exported = lunaroute::features::export_session(config, session, &mut out).unwrap();
    assert_eq!(exported, 3);
    let exported: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (i, body) in bodies.iter().enumerate() {
        assert_eq!(exported[i]["request_body_encoding"], "utf8");
        assert_eq!(
            exported[i]["request_body"].as_str().unwrap().as_bytes(),
            body.as_ref(),
            "request {i}"
        );
    }
}

/// The README's recipe as written, when `jq` is installed.
fn check_with_jq(file: &Path, expected: i64) {
    let Ok(out) = std::process::Command::new("jq")
        .args([
            "-s",
            "[.[] | select(.final_stats) | .final_stats.tokens.total] | add",
        ])
        .arg(file)
        .output()
    else {
        return; // no jq here: the same sum was checked in Rust above
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        expected.to_string()
    );
    let grouped = std::process::Command::new("jq")
        .args(["-s", "group_by(.session_id) | map(select(.[0].session_id != null) | [.[] | select(.final_stats) | .final_stats.tokens.total] | add)"])
        .arg(file)
        .output()
        .unwrap();
    let per_session: Vec<i64> = serde_json::from_slice(&grouped.stdout).unwrap();
    assert_eq!(per_session, vec![expected]);
}

/// Answers the n-th request with the n-th fixture (the last one again after that).
fn by_turn(fixtures: [Bytes; 3]) -> impl Fn(&Recorded) -> Reply + Send + Sync {
    let turn = AtomicUsize::new(0);
    move |_| {
        let n = turn.fetch_add(1, Ordering::SeqCst).min(2);
        Reply::sse(fixtures[n].clone())
    }
}

async fn post_turn(
    addr: std::net::SocketAddr,
    path: &str,
    body: &Bytes,
    headers: &[(&str, &str)],
) -> Instant {
    let (head, _) = fetch(addr, post_json(path, body.clone(), headers)).await;
    assert_eq!(head.status(), 200);
    Instant::now()
}

#[tokio::test]
async fn anthropic_streaming_conversation() {
    let dir = TempDir::new("anthropic");
    let (tool, text) = (
        fixture("anthropic/messages_tool.sse"),
        fixture("anthropic/messages_text.sse"),
    );
    let mock = MockUpstream::new()
        .route_fn("/v1/messages", by_turn([tool, text.clone(), text]))
        .start()
        .await;
    let config = recording_config(&mock, &mock, &dir.0);
    let mut proxy = spawn_proxy(config.clone()).await;
    let session = "7d1e0c55-2b8f-4c3a-9e61-0a4b5c6d7e8f";
    let headers = [
        ("x-api-key", "sk-client-secret"),
        ("anthropic-version", "2023-06-01"),
        ("x-claude-code-session-id", session),
        ("user-agent", "claude-cli/2.1.197 (external, cli)"),
    ];
    let tools = r#""tools":[{"name":"get_weather","description":"Weather for a city","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]"#;
    let q1 = r#"{"role":"user","content":"What's the weather in Paris?"}"#;
    let a1 = r#"{"role":"assistant","content":[{"type":"text","text":"I'll check."},{"type":"tool_use","id":"toolu_01Hb7RcVt2WqYx9KmN3fZd5P","name":"get_weather","input":{"city":"Paris","unit":"celsius"}}]}"#;
    let r1 = r#"{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01Hb7RcVt2WqYx9KmN3fZd5P","content":"18°C, sunny"}]}"#;
    let a2 = r#"{"role":"assistant","content":[{"type":"text","text":"The weather in Paris is 18°C and sunny."}]}"#;
    let q3 = r#"{"role":"user","content":"And tomorrow?"}"#;
    let body = |messages: &[&str]| {
        Bytes::from(format!(
            r#"{{"model":"claude-sonnet-4-6","max_tokens":64000,"stream":true,{tools},"messages":[{}]}}"#,
            messages.join(",")
        ))
    };
    let bodies = [
        body(&[q1]),
        body(&[q1, a1, r1]),
        body(&[q1, a1, r1, a2, q3]),
    ];

    let answered = post_turn(proxy.addr, "/v1/messages?beta=true", &bodies[0], &headers).await;
    tokio::time::sleep(TOOL_GAP).await;
    let tool_gap = answered.elapsed();
    post_turn(proxy.addr, "/v1/messages?beta=true", &bodies[1], &headers).await;
    post_turn(proxy.addr, "/v1/messages?beta=true", &bodies[2], &headers).await;
    proxy.shutdown().await.unwrap();

    // tool turn + two text turns, from the fixtures' message_start/message_delta usage.
    let expected = Expected {
        input: 412 + 498 + 498,
        output: 71 + 19 + 19,
        cache_read: 10240 + 11776 + 11776,
        cache_creation: 1536,
        thinking: 0,
        total: (412 + 71 + 10240 + 1536) + 2 * (498 + 19 + 11776),
        cost: ((412 + 498 + 498) as f64 * 3.0 + 109.0 * 15.0 + 1536.0 * 3.75 + 33792.0 * 0.30)
            / 1e6,
        tool: "get_weather",
    };
    check_recording(&dir.0, &config, session, &bodies, &expected, tool_gap);
}

/// Responses usage: input includes cached tokens, so input = input_tokens − cached_tokens (F15).
fn responses_expected() -> Expected {
    Expected {
        input: (1320 - 1024) + 2 * (1452 - 1280),
        output: 88 + 14 + 14,
        cache_read: 1024 + 1280 + 1280,
        cache_creation: 0,
        thinking: 64,
        total: 1408 + 1466 + 1466,
        cost: ((296 + 172 + 172) as f64 * 0.25 + 116.0 * 2.0 + 3584.0 * 0.025) / 1e6,
        tool: "get_weather",
    }
}

fn responses_bodies() -> [Bytes; 3] {
    let user = r#"{"type":"message","role":"user","content":[{"type":"input_text","text":"What's the weather in Paris?"}]}"#;
    let call = r#"{"type":"function_call","call_id":"call_Wb4nH7sK2qXe9LdT5vPm3RcY","name":"get_weather","arguments":"{\"city\":\"Paris\",\"unit\":\"celsius\"}"}"#;
    let output = r#"{"type":"function_call_output","call_id":"call_Wb4nH7sK2qXe9LdT5vPm3RcY","output":"18°C, sunny"}"#;
    let answer = r#"{"type":"message","role":"assistant","content":[{"type":"output_text","text":"The weather in Paris is 18°C and sunny."}]}"#;
    let again = r#"{"type":"message","role":"user","content":[{"type":"input_text","text":"And tomorrow?"}]}"#;
    let body = |input: &[&str]| {
        Bytes::from(format!(
            r#"{{"model":"gpt-5.4-mini","instructions":"You are Codex.","stream":true,"store":false,"tools":[{{"type":"function","name":"get_weather","parameters":{{"type":"object"}}}}],"input":[{}]}}"#,
            input.join(",")
        ))
    };
    [
        body(&[user]),
        body(&[user, call, output]),
        body(&[user, call, output, answer, again]),
    ]
}

#[tokio::test]
async fn responses_conversation_over_sse() {
    let dir = TempDir::new("responses-sse");
    let (tool, text) = (
        fixture("openai/responses_tool.sse"),
        fixture("openai/responses_text.sse"),
    );
    let mock = MockUpstream::new()
        .route_fn("/v1/responses", by_turn([tool, text.clone(), text]))
        .start()
        .await;
    let config = recording_config(&mock, &mock, &dir.0);
    let mut proxy = spawn_proxy(config.clone()).await;
    let session = "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    let headers = [
        ("authorization", "Bearer sk-client-secret"),
        ("session-id", session),
        ("originator", "codex_exec"),
        ("accept", "text/event-stream"),
    ];
    let bodies = responses_bodies();
    let answered = post_turn(proxy.addr, "/v1/responses", &bodies[0], &headers).await;
    tokio::time::sleep(TOOL_GAP).await;
    let tool_gap = answered.elapsed();
    post_turn(proxy.addr, "/v1/responses", &bodies[1], &headers).await;
    post_turn(proxy.addr, "/v1/responses", &bodies[2], &headers).await;
    proxy.shutdown().await.unwrap();
    check_recording(
        &dir.0,
        &config,
        session,
        &bodies,
        &responses_expected(),
        tool_gap,
    );
}

#[tokio::test]
async fn responses_conversation_over_websocket() {
    let dir = TempDir::new("responses-ws");
    let events = |name: &str| -> Vec<String> {
        let sse = fixture(name);
        std::str::from_utf8(&sse)
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(str::to_string)
            .collect()
    };
    let (tool, text) = (
        events("openai/responses_tool.sse"),
        events("openai/responses_text.sse"),
    );
    let reply = Reply::json("").body(Body::WebSocketTurns(vec![
        tool.clone(),
        text.clone(),
        text.clone(),
    ]));
    let mock = MockUpstream::new()
        .route("/v1/responses", reply)
        .start()
        .await;
    let config = recording_config(&mock, &mock, &dir.0);
    let mut proxy = spawn_proxy(config.clone()).await;
    let session = "0199a1b2-aaaa-7e5f-8a9b-0c1d2e3f4a5b";

    let mut request = format!("ws://{}/v1/responses", proxy.addr)
        .into_client_request()
        .unwrap();
    for (k, v) in [
        ("authorization", "Bearer sk-client-secret"),
        ("session-id", session),
        ("originator", "codex_exec"),
    ] {
        request.headers_mut().insert(k, v.parse().unwrap());
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    // Codex sends `response.create` frames: the same request objects with a `type`.
    let frames: Vec<Bytes> = responses_bodies()
        .iter()
        .map(|b| {
            Bytes::from(format!(
                r#"{{"type":"response.create",{}"#,
                &std::str::from_utf8(b).unwrap()[1..]
            ))
        })
        .collect();
    let (mut answered, mut tool_gap) = (Instant::now(), Duration::ZERO);
    for (i, (frame, answer)) in frames.iter().zip([&tool, &text, &text]).enumerate() {
        if i == 1 {
            tokio::time::sleep(TOOL_GAP).await;
            tool_gap = answered.elapsed();
        }
        ws.send(Message::text(std::str::from_utf8(frame).unwrap()))
            .await
            .unwrap();
        for _ in 0..answer.len() {
            let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert!(matches!(msg, Message::Text(_)));
        }
        answered = Instant::now();
    }
    ws.close(None).await.unwrap();
    drop(ws);
    proxy.shutdown().await.unwrap();
    check_recording(
        &dir.0,
        &config,
        session,
        &frames,
        &responses_expected(),
        tool_gap,
    );
}
