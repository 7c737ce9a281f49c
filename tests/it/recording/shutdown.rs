//! [recording] Past the grace period: SIGTERM with a stream or a WebSocket turn that will not end by
//! itself (the provider went quiet). When `shutdown_grace_secs` runs out the server says how many
//! it cuts, cuts them, and records each one (`upstream_failed`, "cut at shutdown") before the
//! recorder stops: in SQLite, in JSONL and in the summary, never silently missing.

use super::harness::{messages_request, scan_jsonl, try_collect, try_send, RecordingHome};
use crate::support::process::sigterm;
use crate::support::{fixture, Body, MockUpstream, Reply};
use futures_util::{SinkExt, StreamExt};
use http_body_util::BodyExt;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const GRACE: (&str, &str) = ("LUNAROUTE_SHUTDOWN_GRACE_SECS", "1");

/// `(session_id, outcome, error_message)` of every `requests` row.
fn rows(db: &Path) -> Vec<(String, String, Option<String>)> {
    let conn = rusqlite::Connection::open(db).expect("open the database");
    let mut stmt = conn
        .prepare("SELECT session_id, outcome, error_message FROM requests")
        .expect("query requests");
    let rows = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .expect("read requests");
    rows
}

fn cut_row(session: &str) -> (String, String, Option<String>) {
    (
        session.to_string(),
        "upstream_failed".to_string(),
        Some("cut at shutdown".to_string()),
    )
}

#[test]
fn a_stream_still_running_when_the_grace_period_ends_is_cut_and_recorded() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sse = fixture("anthropic/messages_text.sse");
    let first_event = sse.split(|b| *b == b'\n').next().unwrap().len() + 1;
    let stall = Reply::new(
        200,
        "text/event-stream",
        Body::StallAfter(vec![sse.slice(..first_event)]),
    );
    let mock = runtime.block_on(MockUpstream::new().route("/v1/messages", stall).start());
    let home = RecordingHome::new();
    let mut server = home.start_with(&mock, &[GRACE]);
    let addr = server.addr;

    let (started_tx, started) = tokio::sync::oneshot::channel();
    let client = runtime.spawn(async move {
        let request = messages_request("cut-stream");
        let response = try_send(addr, request, Duration::from_secs(10)).await?;
        let mut body = response.into_body();
        let first = tokio::time::timeout(Duration::from_secs(10), body.frame()).await;
        if !matches!(first, Ok(Some(Ok(_)))) {
            return Err(format!("no first event: {first:?}"));
        }
        let _ = started_tx.send(());
        Ok::<_, String>(try_collect(body, Duration::from_secs(20)).await)
    });
    let started =
        runtime.block_on(async { tokio::time::timeout(Duration::from_secs(10), started).await });
    assert!(
        matches!(started, Ok(Ok(()))),
        "the stream started:\n{}",
        server.log.text()
    );

    let sent = Instant::now();
    sigterm(&mut server.guard);
    let cutting = server
        .log
        .wait_for(Duration::from_secs(10), |l| l.contains("grace period over"));
    let cutting = cutting.unwrap_or_else(|| panic!("no cut line:\n{}", server.log.text()));
    assert!(
        cutting.contains("cutting 1 connection"),
        "the line counts what is cut: {cutting}"
    );
    let rest = runtime
        .block_on(client)
        .expect("client task")
        .expect("the stream had started");
    assert!(
        rest.is_err(),
        "the client sees its stream cut, not a clean end: {rest:?}"
    );
    let status = server.guard.wait_exit(Duration::from_secs(10));
    let exit_after = sent.elapsed();
    server.log.wait_closed(Duration::from_secs(5));
    let log = server.log.text();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        exit_after < Duration::from_secs(6),
        "exit {exit_after:?} after SIGTERM with a 1 s grace period"
    );
    assert!(log.contains("requests: 1"), "the summary counts it:\n{log}");

    assert_eq!(rows(&home.db), vec![cut_row("cut-stream")]);
    let scan = scan_jsonl(&home.sessions);
    let stats = scan
        .final_stats
        .get("cut-stream")
        .unwrap_or_else(|| panic!("no JSONL final_stats:\n{log}"));
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0]["outcome"], "upstream_failed");
}

#[test]
fn a_websocket_turn_still_running_when_the_grace_period_ends_is_cut_and_recorded() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sse = fixture("openai/responses_text.sse");
    // The turn's first events, and no `response.completed`: the provider went quiet mid-turn.
    let partial: Vec<String> = std::str::from_utf8(&sse)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .take(5)
        .map(str::to_string)
        .collect();
    let reply = Reply::json("").body(Body::WebSocketTurns(vec![partial.clone()]));
    let mock = runtime.block_on(MockUpstream::new().route("/v1/responses", reply).start());
    let home = RecordingHome::new();
    let mut server = home.start_with(&mock, &[GRACE]);
    let session = "0199a1b2-cccc-7e5f-8a9b-0c1d2e3f4a5b";

    let mut request = format!("ws://{}/v1/responses", server.addr)
        .into_client_request()
        .unwrap();
    for (k, v) in [
        ("authorization", "Bearer sk-codex"),
        ("session-id", session),
        ("originator", "codex_exec"),
    ] {
        request.headers_mut().insert(k, v.parse().unwrap());
    }
    let (mut ws, _) = runtime
        .block_on(tokio_tungstenite::connect_async(request))
        .expect("handshake");
    runtime.block_on(async {
        let create = r#"{"type":"response.create","model":"gpt-5.4-mini","input":[]}"#;
        ws.send(Message::text(create)).await.unwrap();
        for _ in 0..partial.len() {
            let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
                .await
                .expect("frame in time")
                .unwrap()
                .unwrap();
            assert!(matches!(msg, Message::Text(_)));
        }
    });

    let sent = Instant::now();
    sigterm(&mut server.guard);
    let cutting = server
        .log
        .wait_for(Duration::from_secs(10), |l| l.contains("grace period over"));
    let cutting = cutting.unwrap_or_else(|| panic!("no cut line:\n{}", server.log.text()));
    assert!(
        sent.elapsed() >= Duration::from_millis(900),
        "the WebSocket had its grace period first ({:?})",
        sent.elapsed()
    );
    assert!(
        cutting.contains("1 WebSocket"),
        "the line counts the WebSocket: {cutting}"
    );
    let ended =
        runtime.block_on(async { tokio::time::timeout(Duration::from_secs(5), ws.next()).await });
    assert!(
        !matches!(ended, Ok(Some(Ok(Message::Text(_))))),
        "no more frames after the cut: {ended:?}"
    );
    let status = server.guard.wait_exit(Duration::from_secs(10));
    server.log.wait_closed(Duration::from_secs(5));
    let log = server.log.text();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("requests: 1"), "the summary counts it:\n{log}");
    assert_eq!(rows(&home.db), vec![cut_row(session)], "{log}");
}
