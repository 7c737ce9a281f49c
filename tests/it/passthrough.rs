//! Fidelity: the client gets the provider's bytes, the provider gets the client's request, for every
//! dialect and body kind; credentials and hop-by-hop headers are the only things that change.

use crate::support::*;
use bytes::Bytes;

/// Headers a real client sends that must reach the provider byte-for-byte (WIRE.md).
const ANTHROPIC_HEADERS: &[(&str, &str)] = &[
    ("x-api-key", "sk-ant-test-client-key"),
    ("anthropic-version", "2023-06-01"),
    ("anthropic-beta", "claude-code-20250219,context-1m-2025-08-07,interleaved-thinking-2025-05-14,context-management-2025-06-27"),
    ("anthropic-dangerous-direct-browser-access", "true"),
    ("x-app", "cli"),
    ("x-stainless-lang", "js"),
    ("x-claude-code-session-id", "0f3c2a9e-1111-4c2b-9d7e-5a6b7c8d9e0f"),
    ("user-agent", "claude-cli/2.1.3 (external, cli)"),
    ("accept-encoding", "gzip, deflate, br, zstd"),
];

const OPENAI_HEADERS: &[(&str, &str)] = &[
    ("authorization", "Bearer sk-proj-client-key"),
    ("openai-beta", "responses=experimental"),
    ("originator", "codex_exec"),
    ("session-id", "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
    (
        "x-codex-turn-metadata",
        r#"{"session_id":"0199a1b2","turn_id":"t1"}"#,
    ),
    ("accept", "text/event-stream"),
    ("accept-encoding", "zstd,gzip"),
];

/// A request body with a thinking block and signature that must arrive untouched (F6, F10).
const ANTHROPIC_BODY: &str = r#"{"model":"claude-sonnet-4-5","max_tokens":64000,"stream":true,"context_management":{"edits":[{"type":"clear_tool_uses_20250919"}]},"messages":[{"role":"user","content":"hi é ☀"},{"role":"assistant","content":[{"type":"thinking","thinking":"Let me think","signature":"EqQBCkYIBxgCKkB+sig/==="},{"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"ls"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"a.txt"}]}],   "metadata":{"user_id":"{\"session_id\":\"x\"}"}}"#;

/// A client's header list.
type Headers = &'static [(&'static str, &'static str)];

/// Every provider fixture, sent directly and through the proxy: identical status, headers and bytes.
#[tokio::test]
async fn responses_are_byte_identical_direct_and_proxied() {
    let cases: &[(&str, &str, &str, Headers)] = &[
        (
            "/v1/messages",
            "anthropic/messages_tool.json",
            "application/json",
            ANTHROPIC_HEADERS,
        ),
        (
            "/v1/messages",
            "anthropic/messages_tool.sse",
            "text/event-stream",
            ANTHROPIC_HEADERS,
        ),
        (
            "/v1/messages",
            "anthropic/thinking_tool.sse",
            "text/event-stream",
            ANTHROPIC_HEADERS,
        ),
        (
            "/v1/chat/completions",
            "openai/chat_tool.json",
            "application/json",
            OPENAI_HEADERS,
        ),
        (
            "/v1/chat/completions",
            "openai/chat_tool.sse",
            "text/event-stream",
            OPENAI_HEADERS,
        ),
        (
            "/v1/responses",
            "openai/responses_tool.sse",
            "text/event-stream",
            OPENAI_HEADERS,
        ),
        (
            "/v1/responses",
            "openai/responses_tool.json",
            "application/json",
            OPENAI_HEADERS,
        ),
        (
            "/v1/messages",
            "anthropic/overloaded_after_200.sse",
            "text/event-stream",
            ANTHROPIC_HEADERS,
        ),
    ];
    for (path, fixture_name, content_type, headers) in cases {
        let bytes = fixture(fixture_name);
        let reply = Reply::new(200, content_type, Body::Full(bytes.clone()))
            .header("request-id", "req_011CTest")
            .header("x-custom-provider-header", "kept");
        let mock = MockUpstream::new().route(path, reply).start().await;
        let proxy = spawn_proxy(config_for(&mock, &mock)).await;

        let (direct_head, direct_body) =
            fetch(mock.addr, post_json(path, ANTHROPIC_BODY, headers)).await;
        let (head, body) = fetch(proxy.addr, post_json(path, ANTHROPIC_BODY, headers)).await;
        assert_eq!(
            body, bytes,
            "{fixture_name}: client bytes differ from provider bytes"
        );
        assert_eq!(body, direct_body, "{fixture_name}");
        assert_eq!(head.status(), direct_head.status());
        for (name, value) in direct_head.headers() {
            if name != "date" {
                assert_eq!(
                    head.headers().get(name),
                    Some(value),
                    "{fixture_name}: header {name}"
                );
            }
        }
        assert_eq!(
            head.headers().len(),
            direct_head.headers().len(),
            "{fixture_name}: {:?}",
            head.headers()
        );

        // The provider saw exactly the client's body and headers, through the proxy as directly.
        let requests = mock.requests();
        let (direct_req, proxied_req) = (&requests[0], &requests[1]);
        assert_eq!(
            proxied_req.body,
            Bytes::from(ANTHROPIC_BODY),
            "{fixture_name}: request body changed"
        );
        assert_eq!(proxied_req.uri, *path);
        for (name, value) in direct_req.headers.iter().filter(|(n, _)| *n != "host") {
            assert_eq!(
                proxied_req.headers.get(name),
                Some(value),
                "{fixture_name}: request header {name}"
            );
        }
        // `host` is the provider's own, as if the client had called it directly.
        assert_eq!(
            proxied_req.header("host"),
            Some(mock.addr.to_string().as_str())
        );
    }
}

#[tokio::test]
async fn query_string_and_hop_by_hop_headers() {
    let mock = MockUpstream::new()
        .route("/v1/messages", Reply::json("{}"))
        .start()
        .await;
    let proxy = spawn_proxy(config_for(&mock, &mock)).await;
    let mut headers = ANTHROPIC_HEADERS.to_vec();
    headers.extend([
        ("connection", "keep-alive, x-hop-named"),
        ("x-hop-named", "secret-hop"),
        ("keep-alive", "timeout=5"),
        ("proxy-authorization", "Basic Zm9vOmJhcg=="),
        ("te", "trailers"),
    ]);
    let (head, _) = fetch(
        proxy.addr,
        post_json("/v1/messages?beta=true", "{}", &headers),
    )
    .await;
    assert_eq!(head.status(), 200);
    let seen = mock.last();
    assert_eq!(seen.uri, "/v1/messages?beta=true");
    for hop in ["x-hop-named", "keep-alive", "proxy-authorization", "te"] {
        assert!(seen.header(hop).is_none(), "{hop} was forwarded");
    }
    assert_eq!(seen.header("host"), Some(mock.addr.to_string().as_str()));
    for (name, value) in ANTHROPIC_HEADERS {
        assert_eq!(seen.header(name), Some(*value), "{name}");
    }
}

/// Sequential requests share one pooled provider connection (no TLS/TCP setup per request).
#[tokio::test]
async fn provider_connections_are_reused() {
    let mock = MockUpstream::new()
        .route("/v1/messages", Reply::json("{}"))
        .start()
        .await;
    let proxy = spawn_proxy(config_for(&mock, &mock)).await;
    for _ in 0..5 {
        let (head, _) = fetch(
            proxy.addr,
            post_json("/v1/messages", "{}", ANTHROPIC_HEADERS),
        )
        .await;
        assert_eq!(head.status(), 200);
    }
    assert_eq!(mock.requests().len(), 5);
    assert_eq!(
        mock.connections_opened(),
        1,
        "each request opened its own provider connection"
    );
}
