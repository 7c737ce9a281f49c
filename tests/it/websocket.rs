//! The Responses WebSocket relay (Codex's default transport): the upgrade reaches the provider with
//! the client's headers, frames pass both ways unchanged, a refused upgrade comes back at once, and
//! closing either side closes the other.

use crate::support::*;
use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// The `data:` payloads of a Responses SSE fixture: the same objects Codex gets as WebSocket frames.
fn response_events() -> Vec<String> {
    let sse = fixture("openai/responses_tool.sse");
    std::str::from_utf8(&sse)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(str::to_string)
        .collect()
}

fn codex_request(url: &str) -> http::Request<()> {
    let mut req = url.into_client_request().unwrap();
    let headers = req.headers_mut();
    headers.insert("authorization", "Bearer sk-codex-client".parse().unwrap());
    headers.insert(
        "openai-beta",
        "responses_websockets=2026-02-06".parse().unwrap(),
    );
    headers.insert("originator", "codex_exec".parse().unwrap());
    headers.insert(
        "session-id",
        "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".parse().unwrap(),
    );
    req
}

#[tokio::test]
async fn frames_pass_both_ways_unchanged() {
    let events = response_events();
    assert!(events.len() > 5);
    let reply = Reply::json("").body(Body::websocket(events.clone()));
    let mock = MockUpstream::new()
        .route("/v1/responses", reply)
        .start()
        .await;
    let proxy = spawn_proxy(config_for(&mock, &mock)).await;

    for path in ["/v1/responses", "/responses"] {
        let url = format!("ws://{}{path}", proxy.addr);
        let (mut ws, response) = tokio::time::timeout(
            Duration::from_secs(5),
            tokio_tungstenite::connect_async(codex_request(&url)),
        )
        .await
        .expect("handshake in time")
        .expect("handshake");
        assert_eq!(response.status(), 101);
        assert_eq!(
            response.headers()["x-mock-ws"],
            "yes",
            "the 101 came from the provider"
        );

        let create = r#"{"type":"response.create","model":"gpt-5-codex","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"héllo ☀"}]}],"stream":true}"#;
        ws.send(Message::text(create)).await.unwrap();
        let mut got = Vec::new();
        while got.len() < events.len() {
            let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
                .await
                .expect("frame in time")
                .unwrap()
                .unwrap();
            if let Message::Text(text) = msg {
                got.push(text.to_string());
            }
        }
        assert_eq!(got, events, "{path}: frames changed on the way down");
        assert_eq!(
            mock.ws_frames().last().map(String::as_str),
            Some(create),
            "{path}: frame changed on the way up"
        );

        let seen = mock.last();
        assert_eq!(seen.uri, "/v1/responses");
        assert_eq!(seen.header("authorization"), Some("Bearer sk-codex-client"));
        assert_eq!(
            seen.header("openai-beta"),
            Some("responses_websockets=2026-02-06")
        );
        assert_eq!(seen.header("originator"), Some("codex_exec"));
        assert_eq!(seen.header("upgrade"), Some("websocket"));
        assert_eq!(seen.header("host"), Some(mock.addr.to_string().as_str()));

        // A client that vanishes (no close frame, just a dropped socket) ends the provider's side too.
        let ended_before = mock.websockets_ended();
        drop(ws);
        assert!(
            mock.wait_websockets_ended(ended_before + 1, Duration::from_secs(1))
                .await,
            "{path}: provider socket left open"
        );
    }
}

#[tokio::test]
async fn a_refused_upgrade_comes_back_at_once() {
    let refusal = Reply::new(
        426,
        "application/json",
        Body::Full(r#"{"error":{"message":"websockets not enabled"}}"#.into()),
    );
    let mock = MockUpstream::new()
        .route("/v1/responses", refusal)
        .start()
        .await;
    let proxy = spawn_proxy(config_for(&mock, &mock)).await;
    let started = Instant::now();
    let url = format!("ws://{}/v1/responses", proxy.addr);
    let err = tokio_tungstenite::connect_async(codex_request(&url))
        .await
        .expect_err("upgrade must fail");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refusal took {:?}",
        started.elapsed()
    );
    match err {
        tokio_tungstenite::tungstenite::Error::Http(response) => {
            assert_eq!(response.status(), 426);
            let body = response.body().as_deref().unwrap_or_default();
            assert!(String::from_utf8_lossy(body).contains("websockets not enabled"));
        }
        other => panic!("expected the provider's HTTP refusal, got {other:?}"),
    }

    // An unreachable provider: the client is told so at once, as a 502.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let mut config = config_for(&mock, &mock);
    config.providers.openai.base_url = Some(dead);
    let proxy = spawn_proxy(config).await;
    let url = format!("ws://{}/v1/responses", proxy.addr);
    match tokio_tungstenite::connect_async(codex_request(&url)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 502)
        }
        other => panic!("expected 502, got {other:?}"),
    }
}
