//! The official OpenAI Python SDK routed by a rule to an Anthropic provider (the fixture mock):
//! tests/sdk/check_openai_translated.py streams a tool call, sends the result back and checks
//! what the SDK parsed; here, that the Anthropic provider got Anthropic requests carrying the
//! SDK's key, the rewritten model and, in the last one, the tool result.

use super::{run_check, OPENAI_KEY};
use crate::routing::rule;
use crate::support::*;
use crate::translate::routed_config;
use lunaroute::config::ProviderType;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_openai_streams_a_tool_call_from_an_anthropic_provider() {
    let claude = MockUpstream::sdk_fixtures().start().await;
    let unused = MockUpstream::new().start().await;
    let config = routed_config(
        &unused,
        &[("claude", ProviderType::Anthropic, claude.url())],
        vec![rule(
            "claude-via-openai-sdk",
            "claude",
            Some("claude-sonnet-4-6"),
            &[],
        )],
    );
    let proxy = spawn_proxy(config).await;
    run_check(
        "check_openai_translated.py",
        proxy.url(),
        "through the proxy, translated to Anthropic",
    )
    .await;

    let seen = claude.requests();
    let chosen: Vec<Option<String>> = seen.iter().map(sdk_fixture_for).collect();
    let sse = |name: &str| Some(format!("anthropic/messages_{name}.sse"));
    assert_eq!(chosen, [sse("tool"), sse("tool"), sse("text")]);
    for r in &seen {
        assert_eq!(r.uri, "/v1/messages");
        assert_eq!(r.header("x-api-key"), Some(OPENAI_KEY), "the SDK's key");
        assert_eq!(r.header("authorization"), None);
        assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
        let body = r.json();
        assert_eq!(body["model"], "claude-sonnet-4-6");
        assert_eq!(body["max_tokens"], 512);
        assert_eq!(body["tools"][0]["name"], "get_weather");
    }
    let last = seen[2].json();
    let result = &last["messages"][2]["content"][0];
    assert_eq!(result["type"], "tool_result");
    assert_eq!(result["tool_use_id"], "toolu_01Hb7RcVt2WqYx9KmN3fZd5P");
    assert!(unused.requests().is_empty());
}
