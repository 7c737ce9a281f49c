//! Streams: events reach the client as the provider sends them (no buffering), bytes survive any
//! split, compressed bodies pass encoded, and the silence timeout never cuts a live stream.

use crate::support::*;
use bytes::Bytes;
use http_body_util::BodyExt;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

const CLIENT: &[(&str, &str)] = &[
    ("x-api-key", "sk-ant-test"),
    ("anthropic-version", "2023-06-01"),
];

fn events(sse: &[u8]) -> Vec<Bytes> {
    let text = std::str::from_utf8(sse).unwrap();
    text.split_inclusive("\n\n")
        .map(|e| Bytes::copy_from_slice(e.as_bytes()))
        .collect()
}

/// The provider sends one event and waits: the client must have it before the provider sends more.
#[tokio::test]
async fn each_event_reaches_the_client_before_the_next_is_sent() {
    let sse = fixture("anthropic/messages_tool.sse");
    let pieces = events(&sse);
    let gate = Arc::new(Semaphore::new(1));
    let reply = Reply::sse(Bytes::new()).body(Body::Gated(pieces.clone(), gate.clone()));
    let mock = MockUpstream::new()
        .route("/v1/messages", reply)
        .start()
        .await;
    let proxy = spawn_proxy(config_for(&mock, &mock)).await;

    let response = send(
        proxy.addr,
        post_json("/v1/messages", r#"{"stream":true}"#, CLIENT),
    )
    .await;
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut received = Vec::new();
    for (i, expected) in pieces.iter().enumerate() {
        // The provider has been allowed to send exactly i+1 events so far.
        let mut got = Vec::new();
        while got.len() < expected.len() {
            let data = next_data(&mut body, Duration::from_secs(5))
                .await
                .expect("stream ended early");
            got.extend_from_slice(&data);
        }
        assert_eq!(got, expected.as_ref(), "event {i}");
        received.extend_from_slice(&got);
        gate.add_permits(1);
    }
    assert_eq!(next_data(&mut body, Duration::from_secs(5)).await, None);
    assert_eq!(received, sse.as_ref());
}

/// F1/F2: events cut mid-line, mid-UTF-8 character, one byte per read, with CRLF or lone CR.
#[tokio::test]
async fn events_split_at_any_byte_arrive_intact() {
    let original = fixture("anthropic/messages_tool.sse");
    let text = String::from_utf8(original.to_vec()).unwrap();
    let crlf = text.replace('\n', "\r\n").into_bytes();
    let lone_cr = text.replace('\n', "\r").into_bytes();
    let multibyte = text
        .char_indices()
        .find(|(_, c)| c.len_utf8() > 1)
        .map(|(i, _)| i)
        .expect("fixture has non-ASCII");

    let cases: Vec<(&str, Vec<u8>, Vec<usize>)> = vec![
        (
            "one byte per read",
            original.to_vec(),
            (1..original.len()).collect(),
        ),
        (
            "mid UTF-8 character",
            original.to_vec(),
            vec![multibyte + 1, multibyte + 2],
        ),
        (
            "mid JSON and mid event name",
            original.to_vec(),
            vec![7, 60, 61, 200, 333],
        ),
        (
            "CRLF cut between CR and LF",
            crlf.clone(),
            crlf.iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\r')
                .map(|(i, _)| i + 1)
                .collect(),
        ),
        ("lone CR", lone_cr.clone(), vec![5, 90, 91]),
    ];
    for (name, bytes, cuts) in cases {
        let mut pieces = split_at(&bytes, &cuts);
        // F3: an empty read and an SSE comment first; neither may break or reorder anything.
        pieces.insert(0, Bytes::new());
        pieces.insert(1, Bytes::from_static(b": ping - 1\n\n"));
        let bytes = [b": ping - 1\n\n".as_slice(), &bytes].concat();
        let reply = Reply::sse(Bytes::new()).body(Body::Chunks(pieces, Duration::ZERO));
        let mock = MockUpstream::new()
            .route("/v1/messages", reply)
            .start()
            .await;
        let proxy = spawn_proxy(config_for(&mock, &mock)).await;
        let (head, body) = fetch(
            proxy.addr,
            post_json("/v1/messages", r#"{"stream":true}"#, CLIENT),
        )
        .await;
        assert_eq!(head.status(), 200, "{name}");
        assert_eq!(body, bytes, "{name}: bytes changed");
    }
}

/// F5: the provider's compressed bytes reach the client as they are, with their content-encoding.
#[tokio::test]
async fn compressed_bodies_pass_encoded_and_decode_at_the_client() {
    let sse = fixture("openai/chat_tool.sse");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&sse).unwrap();
    let gzipped = gz.finish().unwrap();
    let json = fixture("openai/chat_tool.json");
    let zstded = zstd::encode_all(json.as_ref(), 3).unwrap();

    let gz_reply = Reply::new(
        200,
        "text/event-stream",
        Body::Chunks(split_at(&gzipped, &[10, 30]), Duration::ZERO),
    )
    .header("content-encoding", "gzip");
    let zstd_reply = Reply::new(200, "application/json", Body::Full(zstded.clone().into()))
        .header("content-encoding", "zstd");
    let stream_mock = MockUpstream::new()
        .route("/v1/chat/completions", gz_reply)
        .start()
        .await;
    let json_mock = MockUpstream::new()
        .route("/v1/chat/completions", zstd_reply)
        .start()
        .await;
    let openai = [
        ("authorization", "Bearer sk-test"),
        ("accept-encoding", "zstd,gzip"),
    ];

    let proxy = spawn_proxy(config_for(&stream_mock, &stream_mock)).await;
    let (head, body) = fetch(proxy.addr, post_json("/v1/chat/completions", "{}", &openai)).await;
    assert_eq!(head.headers()["content-encoding"], "gzip");
    assert_eq!(body, gzipped, "gzip bytes re-encoded");
    let mut decoded = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(body.as_ref()),
        &mut decoded,
    )
    .unwrap();
    assert_eq!(decoded, sse.as_ref());

    let proxy = spawn_proxy(config_for(&json_mock, &json_mock)).await;
    let (head, body) = fetch(proxy.addr, post_json("/v1/chat/completions", "{}", &openai)).await;
    assert_eq!(head.headers()["content-encoding"], "zstd");
    assert_eq!(
        head.headers()["content-length"],
        zstded.len().to_string().as_str()
    );
    assert_eq!(zstd::decode_all(body.as_ref()).unwrap(), json.as_ref());
}

/// F9: a stream whose gaps are each shorter than the silence timeout runs past it in total.
#[tokio::test]
async fn silence_timeout_is_reset_by_every_chunk() {
    let sse = fixture("anthropic/messages_text.sse");
    let pieces = events(&sse);
    assert!(pieces.len() >= 4);
    // 1 s timeout; 400 ms between events; the whole stream takes well over 1 s.
    let reply = Reply::sse(Bytes::new()).body(Body::Chunks(pieces, Duration::from_millis(400)));
    let mock = MockUpstream::new()
        .route("/v1/messages", reply)
        .start()
        .await;
    let mut config = config_for(&mock, &mock);
    config.providers.anthropic.http_client.timeout_secs = 1;
    // The pool's idle timer must not touch an in-flight stream either.
    config
        .providers
        .anthropic
        .http_client
        .pool_idle_timeout_secs = 1;
    let proxy = spawn_proxy(config).await;
    let started = std::time::Instant::now();
    let (head, body) = fetch(
        proxy.addr,
        post_json("/v1/messages", r#"{"stream":true}"#, CLIENT),
    )
    .await;
    assert_eq!(head.status(), 200);
    assert!(
        started.elapsed() > Duration::from_millis(1200),
        "stream was not slow enough to prove anything"
    );
    assert_eq!(body, sse);
}

/// SIGTERM-style shutdown: an in-flight stream still completes; new connections are refused.
#[tokio::test]
async fn graceful_shutdown_lets_in_flight_streams_finish() {
    let sse = fixture("anthropic/messages_text.sse");
    let reply =
        Reply::sse(Bytes::new()).body(Body::Chunks(events(&sse), Duration::from_millis(150)));
    let mock = MockUpstream::new()
        .route("/v1/messages", reply)
        .start()
        .await;
    let mut proxy = spawn_proxy(config_for(&mock, &mock)).await;

    let response = send(
        proxy.addr,
        post_json("/v1/messages", r#"{"stream":true}"#, CLIENT),
    )
    .await;
    let mut body = response.into_body();
    let first = next_data(&mut body, Duration::from_secs(5)).await.unwrap();
    let stopped = proxy.shutdown();
    let rest = tokio::time::timeout(Duration::from_secs(10), body.collect())
        .await
        .unwrap()
        .unwrap()
        .to_bytes();
    assert_eq!([first, rest].concat(), sse.as_ref());
    tokio::time::timeout(Duration::from_secs(10), stopped)
        .await
        .expect("server drained")
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(proxy.addr).await.is_err(),
        "still accepting after shutdown"
    );
}
