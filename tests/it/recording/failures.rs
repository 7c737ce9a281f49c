//! Requests that end without an answer are recorded too: failures before the provider answers
//! (502, 504), requests the client abandoned while the provider was still thinking, and bodies
//! cut at the size limit (marked truncated).

use super::conversation::{recording_config, TempDir};
use crate::support::*;
use std::time::{Duration, Instant};

/// Requests that fail before the provider answers are recorded too, with the error the client got.
#[tokio::test]
async fn failures_before_an_answer_are_recorded() {
    let dir = TempDir::new("failures");
    let hang = MockUpstream::new()
        .route("*", Reply::json("").body(Body::Hang))
        .start()
        .await;
    let mut config = recording_config(&hang, &hang, &dir.0);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    config.providers.anthropic.base_url =
        Some(format!("http://{}", listener.local_addr().unwrap()));
    drop(listener); // nothing listens there any more
    config.providers.openai.http_client.timeout_secs = 1;
    let mut proxy = spawn_proxy(config).await;
    let anthropic = [
        ("x-api-key", "k"),
        ("anthropic-version", "2023-06-01"),
        ("x-claude-code-session-id", "down-1"),
    ];
    let (head, _) = fetch(proxy.addr, post_json("/v1/messages", "{}", &anthropic)).await;
    assert_eq!(head.status(), 502);
    let openai = [("authorization", "Bearer k"), ("session-id", "slow-1")];
    let (head, _) = fetch(proxy.addr, post_json("/v1/responses", "{}", &openai)).await;
    assert_eq!(head.status(), 504);
    proxy.shutdown().await.unwrap();

    let db = rusqlite::Connection::open(dir.0.join("sessions.db")).unwrap();
    let row = |session: &str| -> (i64, String, String) {
        db.query_row(
            "SELECT status, outcome, error_message FROM requests WHERE session_id = ?1",
            [session],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
    };
    let (status, outcome, message) = row("down-1");
    assert_eq!((status, outcome.as_str()), (502, "upstream_failed"));
    assert!(message.contains("provider unreachable"), "{message}");
    let (status, outcome, _) = row("slow-1");
    assert_eq!((status, outcome.as_str()), (504, "timeout"));
}

/// A client that gives up while the provider is still thinking (no headers yet) is recorded too.
#[tokio::test]
async fn a_request_abandoned_before_the_answer_is_recorded() {
    use tokio::io::AsyncWriteExt;
    let dir = TempDir::new("abandoned");
    let hang = MockUpstream::new()
        .route("*", Reply::json("").body(Body::Hang))
        .start()
        .await;
    let mut proxy = spawn_proxy(recording_config(&hang, &hang, &dir.0)).await;
    let mut stream = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"POST /v1/messages HTTP/1.1\r\nhost: localhost\r\nx-api-key: k\r\nanthropic-version: 2023-06-01\r\nx-claude-code-session-id: gave-up\r\ncontent-length: 2\r\n\r\n{}")
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while hang.requests().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(stream);
    assert!(hang.wait_closed(1, Duration::from_secs(2)).await);
    proxy.shutdown().await.unwrap();
    let db = rusqlite::Connection::open(dir.0.join("sessions.db")).unwrap();
    let outcome: String = db
        .query_row(
            "SELECT outcome FROM requests WHERE session_id = 'gave-up'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(outcome, "client_disconnected");
}

/// A chunked upload that grows past `max_request_body_bytes` is answered 413 and recorded as
/// what it is: the start of a body, marked truncated.
#[tokio::test]
async fn a_body_cut_at_the_size_limit_is_recorded_as_truncated() {
    let dir = TempDir::new("cut-body");
    let mock = MockUpstream::new()
        .route("/v1/messages", Reply::json(r#"{"ok":true}"#))
        .start()
        .await;
    let mut config = recording_config(&mock, &mock, &dir.0);
    config.max_request_body_bytes = 1024;
    let mut proxy = spawn_proxy(config).await;
    let answer = post_chunked(proxy.addr, "x-claude-code-session-id: cut-1\r\n", 3).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    proxy.shutdown().await.unwrap();

    let db = rusqlite::Connection::open(dir.0.join("sessions.db")).unwrap();
    let (status, truncated): (i64, bool) = db
        .query_row(
            "SELECT status, truncated FROM requests WHERE session_id = 'cut-1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((status, truncated), (413, true));
}
