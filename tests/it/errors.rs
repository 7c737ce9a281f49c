//! Failures, each in the client's own error shape: unreachable provider (502), no headers in time
//! (504), bodies over the limit (413), provider errors passed through verbatim and never retried,
//! a provider dying mid-stream (a dialect error event, never a clean EOF), and client hang-ups.

use crate::support::*;
use bytes::Bytes;
use http_body_util::BodyExt;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ANTHROPIC: &[(&str, &str)] = &[
    ("x-api-key", "sk-ant-test"),
    ("anthropic-version", "2023-06-01"),
];
const OPENAI: &[(&str, &str)] = &[("authorization", "Bearer sk-test")];

fn assert_anthropic_error(body: &[u8], kind: &str) {
    let v = json(body);
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], kind, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
}

fn assert_openai_error(body: &[u8], code: &str) {
    let v = json(body);
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
    assert!(v["error"]["type"].is_string(), "{v}");
}

async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

#[tokio::test]
async fn unreachable_provider_is_502_in_each_dialect() {
    let mut config = lunaroute::config::Config::default();
    config.session_recording.enabled = false;
    config.providers.anthropic.base_url = Some(closed_port_url().await);
    config.providers.openai.base_url = Some(closed_port_url().await);
    let proxy = spawn_proxy(config).await;
    let (head, body) = fetch(proxy.addr, post_json("/v1/messages", "{}", ANTHROPIC)).await;
    assert_eq!(head.status(), 502);
    assert_anthropic_error(&body, "api_error");
    assert_eq!(head.headers()["x-lunaroute-error"], "true");
    let (head, body) = fetch(proxy.addr, post_json("/v1/chat/completions", "{}", OPENAI)).await;
    assert_eq!(head.status(), 502);
    assert_openai_error(&body, "upstream_unreachable");
}

#[tokio::test]
async fn no_headers_within_the_timeout_is_504() {
    let mock = MockUpstream::new()
        .route("*", Reply::json("").body(Body::Hang))
        .start()
        .await;
    let mut config = config_for(&mock, &mock);
    config.providers.anthropic.http_client.timeout_secs = 1;
    config.providers.openai.http_client.timeout_secs = 1;
    let proxy = spawn_proxy(config).await;
    let (head, body) = fetch(proxy.addr, post_json("/v1/messages", "{}", ANTHROPIC)).await;
    assert_eq!(head.status(), 504);
    assert_anthropic_error(&body, "api_error");
    let (head, body) = fetch(proxy.addr, post_json("/v1/responses", "{}", OPENAI)).await;
    assert_eq!(head.status(), 504);
    assert_openai_error(&body, "upstream_timeout");
}

#[tokio::test]
async fn a_40_mb_body_passes_and_one_over_the_limit_is_413() {
    let mock = MockUpstream::new()
        .route("/v1/messages", Reply::json(r#"{"ok":true}"#))
        .start()
        .await;
    let proxy = spawn_proxy(config_for(&mock, &mock)).await;
    // A realistic shape: JSON with a huge base64 image (F11).
    let image = "A".repeat(40 * 1024 * 1024);
    let big = format!(
        r#"{{"model":"m","messages":[{{"role":"user","content":[{{"type":"image","source":{{"type":"base64","media_type":"image/png","data":"{image}"}}}}]}}]}}"#
    );
    let (head, _) = fetch(
        proxy.addr,
        post_json("/v1/messages", big.clone(), ANTHROPIC),
    )
    .await;
    assert_eq!(head.status(), 200);
    assert_eq!(mock.last().body.len(), big.len());
    assert!(
        mock.last().body == big.as_bytes(),
        "40 MB body changed on the way"
    );

    let mut config = config_for(&mock, &mock);
    config.max_request_body_bytes = 1024;
    let small_limit = spawn_proxy(config).await;
    let before = mock.requests().len();
    let (head, body) = fetch(
        small_limit.addr,
        post_json("/v1/messages", vec![b'x'; 2048], ANTHROPIC),
    )
    .await;
    assert_eq!(head.status(), 413);
    assert_anthropic_error(&body, "request_too_large");
    let (head, body) = fetch(
        small_limit.addr,
        post_json("/v1/chat/completions", vec![b'x'; 2048], OPENAI),
    )
    .await;
    assert_eq!(head.status(), 413);
    assert_openai_error(&body, "request_too_large");
    assert_eq!(
        mock.requests().len(),
        before,
        "an oversized body reached the provider"
    );

    // Without a content-length the limit is enforced as the body streams.
    let answer = post_chunked(small_limit.addr, "", 3).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("request_too_large"), "{answer}");
}

/// F12: provider errors come back with the same status, headers and bytes, and are not retried.
#[tokio::test]
async fn provider_errors_pass_through_verbatim_without_retry() {
    let body_429 = fixture("anthropic/error_429.json");
    let reply_429 = Reply::new(429, "application/json", Body::Full(body_429.clone()))
        .header("retry-after", "287")
        .header("anthropic-ratelimit-unified-status", "rejected")
        .header("x-should-retry", "false")
        .header("request-id", "req_011CRateLimited");
    let overloaded =
        r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
    let reply_529 = Reply::new(
        529,
        "application/json",
        Body::Full(Bytes::from_static(overloaded.as_bytes())),
    );
    let body_400 = fixture("openai/error_400.json");
    let reply_400 = Reply::new(400, "application/json", Body::Full(body_400.clone()));
    let mock = MockUpstream::new()
        .route("/v1/messages", reply_429)
        .route("/v1/messages/count_tokens", reply_529)
        .route("/v1/chat/completions", reply_400)
        .start()
        .await;
    let proxy = spawn_proxy(config_for(&mock, &mock)).await;

    let (head, body) = fetch(
        proxy.addr,
        post_json("/v1/messages", r#"{"stream":true}"#, ANTHROPIC),
    )
    .await;
    assert_eq!(head.status(), 429);
    assert_eq!(body, body_429);
    for (name, value) in [
        ("retry-after", "287"),
        ("anthropic-ratelimit-unified-status", "rejected"),
        ("x-should-retry", "false"),
        ("request-id", "req_011CRateLimited"),
    ] {
        assert_eq!(head.headers()[name], value, "{name}");
    }
    assert!(head.headers().get("x-lunaroute-error").is_none());

    let (head, body) = fetch(
        proxy.addr,
        post_json("/v1/messages/count_tokens", "{}", ANTHROPIC),
    )
    .await;
    assert_eq!(head.status().as_u16(), 529);
    assert_eq!(body, overloaded.as_bytes());

    // F8: a 400 JSON answer to a streaming request stays a 400.
    let (head, body) = fetch(
        proxy.addr,
        post_json("/v1/chat/completions", r#"{"stream":true}"#, OPENAI),
    )
    .await;
    assert_eq!(head.status(), 400);
    assert_eq!(body, body_400);
    assert_eq!(mock.requests().len(), 3, "the proxy retried something");
}

/// A provider dying after the response started: the client gets what was sent, then an error event
/// in its own dialect; a JSON body is cut (the client sees a broken body, not a short valid one).
#[tokio::test]
async fn provider_failing_mid_stream_ends_with_a_dialect_error_event() {
    let cases = [
        (
            "/v1/messages",
            "anthropic/messages_tool.sse",
            "event: error\ndata: {",
            "\"type\":\"api_error\"",
        ),
        (
            "/v1/chat/completions",
            "openai/chat_tool.sse",
            "data: {\"error\":{",
            "\"code\":\"upstream_failed\"",
        ),
        (
            "/v1/responses",
            "openai/responses_tool.sse",
            "event: error\ndata: {",
            "\"type\":\"error\"",
        ),
    ];
    for (path, name, starts, contains) in cases {
        let sse = fixture(name);
        // Three whole events, then half of the fourth, then the connection dies.
        let text = std::str::from_utf8(&sse).unwrap();
        let cut: usize = text
            .split_inclusive("\n\n")
            .take(3)
            .map(str::len)
            .sum::<usize>()
            + 20;
        let sent = sse.slice(..cut);
        let reply = Reply::sse(Bytes::new()).body(Body::FailAfter(vec![sent.clone()]));
        let mock = MockUpstream::new().route(path, reply).start().await;
        let proxy = spawn_proxy(config_for(&mock, &mock)).await;
        let headers = if path == "/v1/messages" {
            ANTHROPIC
        } else {
            OPENAI
        };
        let (head, body) = fetch(proxy.addr, post_json(path, r#"{"stream":true}"#, headers)).await;
        assert_eq!(head.status(), 200);
        assert!(
            body.starts_with(&sent),
            "{name}: the bytes before the failure changed"
        );
        let tail = std::str::from_utf8(&body[sent.len()..]).unwrap();
        // The half event is closed off first, so the error event parses on its own.
        let event = tail
            .strip_prefix("\n\n")
            .unwrap_or_else(|| panic!("{name}: no event boundary: {tail:?}"));
        assert!(
            event.starts_with(starts) && event.contains(contains) && event.ends_with("\n\n"),
            "{name}: {event:?}"
        );
        let data = event
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .unwrap();
        let _: serde_json::Value = serde_json::from_str(data).expect("error event data is JSON");
    }

    let json_body = fixture("anthropic/messages_tool.json");
    let reply = Reply::json(Bytes::new()).body(Body::FailAfter(vec![json_body.slice(..100)]));
    let mock = MockUpstream::new()
        .route("/v1/messages", reply)
        .start()
        .await;
    let proxy = spawn_proxy(config_for(&mock, &mock)).await;
    let response = send(proxy.addr, post_json("/v1/messages", "{}", ANTHROPIC)).await;
    assert!(
        response.into_body().collect().await.is_err(),
        "a cut JSON body must not look complete"
    );
}

/// The provider going silent mid-stream for longer than the timeout: an error event, not a hang.
#[tokio::test]
async fn silence_mid_stream_ends_with_an_error_event() {
    let sse = fixture("anthropic/messages_text.sse");
    let whole_event = Bytes::from(
        std::str::from_utf8(&sse)
            .unwrap()
            .split_inclusive("\n\n")
            .next()
            .unwrap()
            .to_string(),
    );
    let reply = Reply::sse(Bytes::new()).body(Body::StallAfter(vec![whole_event.clone()]));
    let mock = MockUpstream::new()
        .route("/v1/messages", reply)
        .start()
        .await;
    let mut config = config_for(&mock, &mock);
    config.providers.anthropic.http_client.timeout_secs = 1;
    let proxy = spawn_proxy(config).await;
    let (head, body) = fetch(
        proxy.addr,
        post_json("/v1/messages", r#"{"stream":true}"#, ANTHROPIC),
    )
    .await;
    assert_eq!(head.status(), 200);
    let tail = std::str::from_utf8(&body[whole_event.len()..]).unwrap();
    assert!(body.starts_with(&whole_event));
    assert!(
        tail.starts_with("event: error\n") && tail.contains("no data from the provider for 1 s"),
        "{tail:?}"
    );
}

/// A client that hangs up makes the proxy drop the provider connection within 1 s: mid-stream,
/// and while still waiting for the provider's headers.
#[tokio::test]
async fn client_disconnect_closes_the_provider_connection() {
    let sse = fixture("anthropic/messages_tool.sse");
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(1));
    let reply =
        Reply::sse(Bytes::new()).body(Body::Gated(vec![sse.slice(..50), sse.slice(50..)], gate));
    let mock = MockUpstream::new()
        .route("/v1/messages", reply)
        .route(
            "/v1/messages/count_tokens",
            Reply::json("").body(Body::Hang),
        )
        .start()
        .await;
    let proxy = spawn_proxy(config_for(&mock, &mock)).await;

    let response = send(
        proxy.addr,
        post_json("/v1/messages", r#"{"stream":true}"#, ANTHROPIC),
    )
    .await;
    let mut body = response.into_body();
    assert!(next_data(&mut body, Duration::from_secs(5)).await.is_some());
    assert_eq!(mock.connections_closed(), 0);
    drop(body); // the client connection task ends with it
    assert!(
        mock.wait_closed(1, Duration::from_secs(1)).await,
        "provider connection still open 1 s after the client left mid-stream"
    );

    // Before any response header: the client gives up while the provider is still thinking.
    let mut stream = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"POST /v1/messages/count_tokens HTTP/1.1\r\nhost: localhost\r\nx-api-key: k\r\nanthropic-version: 2023-06-01\r\ncontent-length: 2\r\n\r\n{}")
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while mock.requests().len() < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        mock.requests().len(),
        2,
        "request never reached the provider"
    );
    drop(stream);
    assert!(
        mock.wait_closed(2, Duration::from_secs(1)).await,
        "provider connection still open 1 s after the client left before headers"
    );
}

/// A body the client breaks (bad chunking) is the client's fault: 400, never "provider unreachable".
#[tokio::test]
async fn a_broken_client_body_is_a_400_not_a_502() {
    let mock = MockUpstream::new()
        .route("/v1/messages", Reply::json("{}"))
        .start()
        .await;
    let proxy = spawn_proxy(config_for(&mock, &mock)).await;
    let mut stream = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"POST /v1/messages HTTP/1.1\r\nhost: localhost\r\nx-api-key: k\r\nanthropic-version: 2023-06-01\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{\"a\":\r\nzz-not-hex\r\n")
        .await
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("invalid_request_error"), "{answer}");
}
