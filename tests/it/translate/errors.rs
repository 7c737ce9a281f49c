//! Errors across dialects through the proxy: a field that cannot be mapped (400 naming it, in the
//! client's shape, nothing sent), provider 429 with `retry-after-ms` (the client's 429 with
//! `retry-after` in seconds), provider 503 (529 `overloaded_error` for an Anthropic client), a 2xx
//! answer that cannot be translated (502: the client's request was fine, the provider's answer
//! was not), and `max_tokens` below the Responses API's minimum of 16 (raised to 16).

use super::*;

/// One mock standing in for every provider below, each under its own base path.
struct Errors {
    proxy: Proxy,
    mock: MockHandle,
    _unused: MockHandle,
}

const OPENAI_429: &str = r#"{"error":{"message":"Rate limit reached for gpt-5.4-mini on tokens per min (TPM)","type":"tokens","param":null,"code":"rate_limit_exceeded"}}"#;
const ANTHROPIC_429: &str = r#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}"#;

async fn setup() -> Errors {
    let limited = |body: &str| {
        Reply::new(
            429,
            "application/json",
            Body::Full(Bytes::from(body.to_string())),
        )
        .header("retry-after-ms", "2500")
    };
    let garbage = Reply::json("<html>upstream proxy page</html>");
    let mock = MockUpstream::new()
        .route("/limited/v1/chat/completions", limited(OPENAI_429))
        .route(
            "/down/v1/chat/completions",
            Reply::new(
                503,
                "text/plain",
                Body::Full(Bytes::from("Service Unavailable")),
            ),
        )
        .route("/garbage/v1/chat/completions", garbage.clone())
        .route(
            "/failed/v1/responses",
            Reply::json(golden("responses/json_failed.json")),
        )
        .route(
            "/ok/v1/responses",
            Reply::json(golden("responses/json_text.json")),
        )
        .route("/limited/v1/messages", limited(ANTHROPIC_429))
        .route("/garbage/v1/messages", garbage)
        .start()
        .await;
    let unused = MockUpstream::new().start().await;
    let at = |base: &str| format!("{}/{base}", mock.url());
    let providers = [
        ("chat_limited", ProviderType::Openai, at("limited/v1")),
        ("chat_down", ProviderType::Openai, at("down/v1")),
        ("chat_garbage", ProviderType::Openai, at("garbage/v1")),
        (
            "resp_failed",
            ProviderType::OpenaiResponses,
            at("failed/v1"),
        ),
        ("resp_ok", ProviderType::OpenaiResponses, at("ok/v1")),
        ("claude_limited", ProviderType::Anthropic, at("limited")),
        ("claude_garbage", ProviderType::Anthropic, at("garbage")),
    ];
    let rules = providers
        .iter()
        .map(|(name, _, _)| rule(&format!("m-{name}"), name, Some("upstream-model"), &[]))
        .collect();
    let proxy = routed(&unused, &providers, rules).await;
    Errors {
        proxy,
        mock,
        _unused: unused,
    }
}

fn anthropic_body(model: &str, extra: Value) -> String {
    let mut body = json!({
        "model": model, "max_tokens": 100, "stream": true,
        "messages": [{"role": "user", "content": "hi"}],
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body.to_string()
}

fn chat_body(model: &str, extra: Value) -> String {
    let mut body = json!({
        "model": model, "max_tokens": 100, "stream": true,
        "messages": [{"role": "user", "content": "hi"}],
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body.to_string()
}

const OPENAI: &[(&str, &str)] = &[("authorization", "Bearer sk-openai-client-key")];

fn header<'a>(head: &'a http::Response<()>, name: &str) -> Option<&'a str> {
    head.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn an_unmappable_field_is_a_400_naming_it_and_nothing_reaches_the_provider() {
    let s = setup().await;
    // Anthropic client, Chat provider: dropping `top_k` would widen sampling.
    let body = anthropic_body("m-chat_garbage", json!({"top_k": 5}));
    let (head, got) = fetch(s.proxy.addr, post_json("/v1/messages", body, CLAUDE_CODE)).await;
    assert_eq!(head.status(), 400);
    let err = json(&got);
    assert_eq!(err["type"], "error", "Anthropic's shape: {err}");
    assert_eq!(err["error"]["type"], "invalid_request_error");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`top_k`"),
        "{err}"
    );

    // Anthropic client, Responses provider: no stop sequences there.
    let body = anthropic_body("m-resp_ok", json!({"stop_sequences": ["END"]}));
    let (head, got) = fetch(s.proxy.addr, post_json("/v1/messages", body, CLAUDE_CODE)).await;
    assert_eq!(head.status(), 400);
    assert!(
        String::from_utf8_lossy(&got).contains("stop_sequences"),
        "{got:?}"
    );

    // Chat client, Anthropic provider: OpenAI's shape, the field in `param`.
    let body = chat_body("m-claude_garbage", json!({"logit_bias": {"50256": -100}}));
    let (head, got) = fetch(
        s.proxy.addr,
        post_json("/v1/chat/completions", body, OPENAI),
    )
    .await;
    assert_eq!(head.status(), 400);
    let err = json(&got);
    assert_eq!(
        err["error"]["type"], "invalid_request_error",
        "OpenAI's shape: {err}"
    );
    assert_eq!(err["error"]["param"], "logit_bias");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("logit_bias"));

    assert!(
        s.mock.requests().is_empty(),
        "nothing was sent to a provider"
    );
}

#[tokio::test]
async fn provider_rate_limits_and_overloads_reach_the_client_in_its_shape() {
    let s = setup().await;
    // OpenAI 429 with retry-after-ms 2500 -> Anthropic 429 with retry-after 3 (rounded up).
    let body = anthropic_body("m-chat_limited", json!({}));
    let (head, got) = fetch(s.proxy.addr, post_json("/v1/messages", body, CLAUDE_CODE)).await;
    assert_eq!(head.status(), 429);
    assert_eq!(header(&head, "retry-after"), Some("3"));
    let err = json(&got);
    assert_eq!(err["type"], "error");
    assert_eq!(err["error"]["type"], "rate_limit_error");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Rate limit reached"),
        "{err}"
    );

    // Anthropic 429 -> OpenAI 429 for a Chat client.
    let body = chat_body("m-claude_limited", json!({}));
    let (head, got) = fetch(
        s.proxy.addr,
        post_json("/v1/chat/completions", body, OPENAI),
    )
    .await;
    assert_eq!(head.status(), 429);
    assert_eq!(header(&head, "retry-after"), Some("3"));
    let err = json(&got);
    assert!(
        err["error"].is_object() && err.get("type").is_none(),
        "OpenAI's shape: {err}"
    );
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rate limit"),
        "{err}"
    );

    // OpenAI 503 -> Anthropic 529 overloaded_error (Claude Code retries those).
    let body = anthropic_body("m-chat_down", json!({}));
    let (head, got) = fetch(s.proxy.addr, post_json("/v1/messages", body, CLAUDE_CODE)).await;
    assert_eq!(head.status(), 529);
    let err = json(&got);
    assert_eq!(err["error"]["type"], "overloaded_error", "{err}");
    assert_eq!(
        s.mock.requests().len(),
        3,
        "each sent once: no retry without fallbacks"
    );
}

#[tokio::test]
async fn an_untranslatable_2xx_answer_is_a_502_in_the_clients_shape() {
    let s = setup().await;
    let cases = [
        // A Responses answer with `status: failed`: not a message.
        (
            "/v1/messages",
            anthropic_body("m-resp_failed", json!({"stream": false})),
            CLAUDE_CODE,
        ),
        // HTML where JSON was due, for either client.
        (
            "/v1/messages",
            anthropic_body("m-chat_garbage", json!({"stream": false})),
            CLAUDE_CODE,
        ),
        (
            "/v1/chat/completions",
            chat_body("m-claude_garbage", json!({"stream": false})),
            OPENAI,
        ),
    ];
    for (path, body, headers) in cases {
        let (head, got) = fetch(s.proxy.addr, post_json(path, body.clone(), headers)).await;
        let err = json(&got);
        assert_eq!(head.status(), 502, "{body}: {err}");
        assert_eq!(header(&head, "x-lunaroute-error"), Some("true"));
        if path == "/v1/messages" {
            assert_eq!(
                (err["type"].as_str(), err["error"]["type"].as_str()),
                (Some("error"), Some("api_error")),
                "{err}"
            );
        } else {
            assert_eq!(err["error"]["type"], "server_error", "{err}");
            assert_eq!(err["error"]["code"], "bad_upstream_answer", "{err}");
        }
    }
    let (_, got) = fetch(
        s.proxy.addr,
        post_json(
            "/v1/messages",
            anthropic_body("m-resp_failed", json!({"stream": false})),
            CLAUDE_CODE,
        ),
    )
    .await;
    assert!(
        String::from_utf8_lossy(&got).contains("The server had an error processing your request."),
        "the provider's own message is kept: {got:?}"
    );
}

#[tokio::test]
async fn max_tokens_below_the_responses_minimum_is_raised_to_16() {
    let s = setup().await;
    // Claude Code's quota probe asks for one token; the Responses API refuses fewer than 16.
    for (asked, sent) in [(1, 16), (15, 16), (16, 16), (17, 17)] {
        let body = anthropic_body("m-resp_ok", json!({"max_tokens": asked, "stream": false}));
        let (head, got) = fetch(s.proxy.addr, post_json("/v1/messages", body, CLAUDE_CODE)).await;
        assert_eq!(head.status(), 200, "{}", String::from_utf8_lossy(&got));
        assert_eq!(
            s.mock.last().json()["max_output_tokens"],
            sent,
            "max_tokens {asked}"
        );
    }
}
