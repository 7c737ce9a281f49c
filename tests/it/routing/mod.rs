//! Model routing in every build (no translation needed: every provider here speaks the client's
//! dialect). This file: rules by exact name and glob, byte-identical passthrough (the model's
//! bytes replaced only with `model_rewrite`), the top-level model only, chunked uploads, and
//! `/v1/models` from the rules. `fallback.rs`: fallbacks, the circuit breaker, retry-after.

mod fallback;

use crate::support::*;
use lunaroute::config::{Config, Fallback, ProviderConfig, ProviderType, RoutingRule};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const ANTHROPIC: &[(&str, &str)] = &[
    ("x-api-key", "sk-ant-test-client-key"),
    ("anthropic-version", "2023-06-01"),
    (
        "anthropic-beta",
        "claude-code-20250219,interleaved-thinking-2025-05-14",
    ),
    ("user-agent", "claude-cli/2.1.3 (external, cli)"),
];

/// A provider of `kind` at `url` (a name of one's own needs a type).
pub fn provider(kind: ProviderType, url: String) -> ProviderConfig {
    ProviderConfig {
        kind: Some(kind),
        base_url: Some(url),
        ..ProviderConfig::default()
    }
}

pub fn rule(model: &str, provider: &str, rewrite: Option<&str>, fallbacks: &[&str]) -> RoutingRule {
    RoutingRule {
        model: model.into(),
        provider: provider.into(),
        model_rewrite: rewrite.map(str::to_string),
        fallbacks: fallbacks
            .iter()
            .map(|f| Fallback::Name(f.to_string()))
            .collect(),
        max_tokens: None,
    }
}

fn header<'a>(head: &'a http::Response<()>, name: &str) -> Option<&'a str> {
    head.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Anthropic `/v1/messages` body with a decoy `"model"` in a tool input before the real one.
fn body_for(model: &str) -> String {
    format!(
        r#"{{"max_tokens":100,"stream":true,"messages":[{{"role":"assistant","content":[{{"type":"tool_use","id":"toolu_1","name":"pick","input":{{"model":"claude-opus-exact"}}}}]}},{{"role":"user","content":[{{"type":"tool_result","tool_use_id":"toolu_1","content":"ok é ☀"}}]}}],"model" : "{model}","system":"be brief"}}"#
    )
}

struct Setup {
    proxy: Proxy,
    default: MockHandle,
    gateway: MockHandle,
}

async fn setup() -> Setup {
    let reply = |f: &str| Reply::sse(fixture(f));
    let default = MockUpstream::new()
        .route("/v1/messages", reply("anthropic/messages_text.sse"))
        .route("/v1/models", Reply::json(fixture("anthropic/models.json")))
        .start()
        .await;
    let gateway = MockUpstream::new()
        .route("/api/v1/messages", reply("anthropic/messages_tool.sse"))
        .start()
        .await;
    let mut config: Config = config_for(&default, &default);
    let gw = provider(ProviderType::Anthropic, format!("{}/api", gateway.url()));
    config.providers.named.insert("gw_routing".into(), gw);
    config.routing.rules = vec![
        rule("claude-opus-exact", "gw_routing", None, &[]),
        rule(
            "claude-son*",
            "gw_routing",
            Some("claude-sonnet-rewritten"),
            &[],
        ),
    ];
    let proxy = spawn_proxy(config).await;
    Setup {
        proxy,
        default,
        gateway,
    }
}

#[tokio::test]
async fn exact_and_glob_rules_route_by_the_top_level_model_byte_for_byte() {
    let s = setup().await;
    let sse = fixture("anthropic/messages_tool.sse");

    // Exact rule: the provider gets the client's bytes and query; the client gets the provider's.
    let body = body_for("claude-opus-exact");
    let req = post_json("/v1/messages?beta=true", body.clone(), ANTHROPIC);
    let (head, got) = fetch(s.proxy.addr, req).await;
    assert_eq!(head.status(), 200);
    assert_eq!(got, sse, "the provider's stream, byte for byte");
    assert_eq!(header(&head, "x-lunaroute-provider"), Some("gw_routing"));
    assert_eq!(
        header(&head, "x-lunaroute-model"),
        Some("claude-opus-exact")
    );
    let seen = s.gateway.last();
    assert_eq!(seen.uri, "/api/v1/messages?beta=true");
    assert_eq!(seen.body, body.as_bytes(), "request bytes untouched");
    for (name, value) in ANTHROPIC {
        assert_eq!(seen.header(name), Some(*value), "{name} passes through");
    }

    // Glob rule with a rewrite: only the model's bytes change (and content-length with them).
    let body = body_for("claude-sonnet-4-5");
    let (head, got) = fetch(
        s.proxy.addr,
        post_json("/v1/messages", body.clone(), ANTHROPIC),
    )
    .await;
    assert_eq!((head.status().as_u16(), got), (200, sse.clone()));
    assert_eq!(
        header(&head, "x-lunaroute-model"),
        Some("claude-sonnet-rewritten")
    );
    let expected = body.replace(
        r#""model" : "claude-sonnet-4-5""#,
        r#""model" : "claude-sonnet-rewritten""#,
    );
    let seen = s.gateway.last();
    assert_eq!(String::from_utf8_lossy(&seen.body), expected);
    assert_eq!(
        seen.header("content-length"),
        Some(expected.len().to_string().as_str())
    );

    // No rule matches (the decoy `model` inside a tool input does not count): unrouted.
    let body = body_for("claude-haiku-4-5");
    let (head, got) = fetch(
        s.proxy.addr,
        post_json("/v1/messages", body.clone(), ANTHROPIC),
    )
    .await;
    assert_eq!(
        (head.status().as_u16(), got),
        (200, fixture("anthropic/messages_text.sse"))
    );
    assert_eq!(header(&head, "x-lunaroute-provider"), None);
    assert_eq!(s.default.last().body, body.as_bytes());
    assert_eq!(
        (s.gateway.requests().len(), s.default.requests().len()),
        (2, 1)
    );
}

/// The model of a compressed body cannot be peeked: a 400 in the client's shape, and neither the
/// routed provider nor the default one gets it (guessing "no rule" would send it to the wrong one).
#[tokio::test]
async fn a_compressed_body_is_refused_not_routed_by_guess() {
    let s = setup().await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, body_for("claude-opus-exact").as_bytes()).unwrap();
    let mut headers = ANTHROPIC.to_vec();
    headers.push(("content-encoding", "gzip"));
    let (head, got) = fetch(
        s.proxy.addr,
        post_json("/v1/messages", gz.finish().unwrap(), &headers),
    )
    .await;
    assert_eq!(head.status(), 400);
    let error: serde_json::Value = serde_json::from_slice(&got).unwrap();
    assert_eq!(error["type"], "error", "{error}");
    let message = error["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("content-encoding: gzip"), "{message}");
    assert!(s.gateway.requests().is_empty() && s.default.requests().is_empty());
}

#[tokio::test]
async fn a_chunked_upload_is_peeked_then_streamed_on() {
    let s = setup().await;
    let body = body_for("claude-opus-exact");
    let (first, rest) = body.split_at(body.find("\"model\"").unwrap() + 4);
    let mut conn = tokio::net::TcpStream::connect(s.proxy.addr).await.unwrap();
    let head = "POST /v1/messages HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\nx-api-key: k\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";
    conn.write_all(head.as_bytes()).await.unwrap();
    // The model is cut in two: the proxy must wait for the second piece to route.
    for piece in [first, rest] {
        let chunk = format!("{:x}\r\n{piece}\r\n", piece.len());
        conn.write_all(chunk.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    conn.write_all(b"0\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut answer))
        .await
        .expect("answer in time")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains("x-lunaroute-provider: gw_routing"),
        "{answer}"
    );
    assert_eq!(s.gateway.last().body, body.as_bytes());
    assert!(s.default.requests().is_empty());
}

#[tokio::test]
async fn models_are_listed_from_the_rules_in_the_clients_shape() {
    let s = setup().await;
    let anthropic = [("anthropic-version", "2023-06-01"), ("x-api-key", "k")];
    let (head, body) = fetch(s.proxy.addr, get("/v1/models", &anthropic)).await;
    assert_eq!(head.status(), 200);
    let listed = json(&body);
    // Patterns cannot be listed; exact names can.
    assert_eq!(listed["data"][0]["type"], "model");
    assert_eq!(listed["data"][0]["id"], "claude-opus-exact");
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["has_more"], false);

    let openai = [("authorization", "Bearer sk-x")];
    for path in ["/v1/models", "/models"] {
        let (head, body) = fetch(s.proxy.addr, get(path, &openai)).await;
        assert_eq!(head.status(), 200, "{path}");
        let listed = json(&body);
        assert_eq!(listed["object"], "list", "{path}");
        assert_eq!(listed["data"][0]["object"], "model", "{path}");
        assert_eq!(listed["data"][0]["id"], "claude-opus-exact", "{path}");
    }

    // One model a rule matches (a glob too); any other id still goes to the provider.
    let (head, body) = fetch(s.proxy.addr, get("/v1/models/claude-sonnet-9", &anthropic)).await;
    assert_eq!(head.status(), 200);
    assert_eq!(json(&body)["id"], "claude-sonnet-9");
    assert!(s.default.requests().is_empty());
    let (head, _) = fetch(s.proxy.addr, get("/v1/models", &[])).await;
    assert_eq!(head.status(), 200);
    assert!(
        s.default.requests().is_empty(),
        "listing never asks a provider"
    );
}
