//! A Responses turn over the WebSocket relay: the recorder rebuilds it into a request/response
//! pair like an HTTP one, and redacts it the same way (the server's events one per line, a value
//! split across two delta messages included).

use super::recording::TempDirGuard;
use super::session::*;
use crate::support::*;
use futures_util::{SinkExt, StreamExt};
use lunaroute::config::RedactionMode;
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// The Responses text fixture's events, with personal data in the streamed text.
fn server_events() -> Vec<String> {
    let sse = fixture("openai/responses_text.sse");
    let answer = format!("Mail {}{} or call {PHONE}.", EMAIL_SPLIT.0, EMAIL_SPLIT.1);
    std::str::from_utf8(&sse)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|event| {
            event
                .replace("The weather in Paris is 18°C and sunny.", &answer)
                .replace(
                    "\"The weather in Paris\"",
                    &format!("\"Mail {}\"", EMAIL_SPLIT.0),
                )
                .replace("\" is 18°C\"", &format!("\"{} or call\"", EMAIL_SPLIT.1))
                .replace("\" and sunny.\"", &format!("\" {PHONE}.\""))
        })
        .collect()
}

#[tokio::test]
async fn a_websocket_turn_is_redacted_like_an_http_one() {
    let dir = TempDirGuard::new();
    let events = server_events();
    assert!(events.iter().any(|e| e.contains(EMAIL_SPLIT.0)));
    let reply = Reply::json("").body(Body::websocket(events.clone()));
    let mock = MockUpstream::new()
        .route("/v1/responses", reply)
        .start()
        .await;
    let config = pii_config(&mock, &dir.0, RedactionMode::Mask);
    let mut proxy = spawn_proxy(config).await;

    let mut request = format!("ws://{}/v1/responses", proxy.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("session-id", SESSION.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let frame = serde_json::json!({"type": "response.create", "model": "gpt-5.4-mini",
        "input": [{"type": "message", "role": "user",
                   "content": [{"type": "input_text", "text": user_text()}]}]});
    ws.send(Message::text(frame.to_string())).await.unwrap();
    let mut received = Vec::new();
    for _ in 0..events.len() {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        received.push(msg.into_text().unwrap().to_string());
    }
    // The client gets the provider's messages as sent.
    assert_eq!(received, events);
    ws.close(None).await.unwrap();
    drop(ws);
    proxy.shutdown().await.unwrap();

    assert_no_originals(&dir.0);
    let lines = jsonl_lines(&dir.0);
    let response = lines
        .iter()
        .find(|l| l["type"] == "response")
        .expect("the turn's response line");
    assert_eq!(response["message"]["text"], "Mail [EMAIL] or call [PHONE].");
    let body = response["body"]["text"].as_str().unwrap();
    // Still one server message per line, each one JSON.
    assert_eq!(body.lines().count(), events.len());
    for line in body.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    assert!(
        body.contains("[EMAIL]") && body.contains("[PHONE]"),
        "{body}"
    );
    let request = lines.iter().find(|l| l["type"] == "request").unwrap();
    let sent = request["body"]["text"].as_str().unwrap();
    assert!(sent.contains("[EMAIL]") && sent.contains("[SSN]"), "{sent}");
}
