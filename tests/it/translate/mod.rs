//! Translation end to end through the whole proxy (`server::run` on 127.0.0.1:0, routing rules,
//! a mock provider speaking the other dialect). The golden fixtures of `tests/fixtures/translate`
//! are reused as what the providers send, cut into pieces at awkward bytes, so a client that
//! receives the golden `.expected` bytes proves the proxy adds and loses nothing on the way.
//!
//! This file: the shared setup and SSE readers, and an Anthropic client on a Chat Completions
//! provider. `responses.rs`: an Anthropic client on a Responses provider. `chat_client.rs`: an
//! OpenAI Chat client on an Anthropic provider. `errors.rs`: refused fields, provider errors and
//! untranslatable answers. `recorded.rs`: recording of translated traffic, local `count_tokens`.

mod chat_client;
mod errors;
mod recorded;
mod responses;

use crate::routing::{provider, rule};
use crate::support::*;
use bytes::Bytes;
use lunaroute::config::{Config, ProviderType, RoutingRule};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub const CLAUDE_CODE: &[(&str, &str)] = &[
    ("x-api-key", "sk-ant-client-key"),
    ("anthropic-version", "2023-06-01"),
    ("anthropic-beta", "claude-code-20250219"),
    ("user-agent", "claude-cli/2.1.3 (external, cli)"),
];

/// A translated fixture of `tests/fixtures/translate/`.
pub fn golden(path: &str) -> Bytes {
    fixture(&format!("translate/{path}"))
}

/// `bytes` in pieces cut inside a UTF-8 character, after a backslash, between the two newlines
/// of an event and mid-JSON, sent 2 ms apart: what a slow provider's socket reads look like.
pub fn awkward(bytes: &[u8]) -> Body {
    let mut cuts = Vec::new();
    let text = bytes;
    let first = |pat: &[u8]| text.windows(pat.len()).position(|w| w == pat);
    if let Some(i) = first("\n\n".as_bytes()) {
        cuts.push(i + 1);
    }
    if let Some(i) = first(b"\\") {
        cuts.push(i + 1);
    }
    if let Some(i) = text.iter().position(|b| *b >= 0x80) {
        cuts.push(i + 1);
    }
    for n in 1..8 {
        cuts.push(text.len() * n / 8);
    }
    cuts.sort_unstable();
    cuts.dedup();
    Body::Chunks(split_at(bytes, &cuts), Duration::from_millis(2))
}

/// The provider answers the n-th request with the n-th reply (the last again after that).
pub fn by_turn(replies: Vec<Reply>) -> impl Fn(&Recorded) -> Reply + Send + Sync {
    let turn = AtomicUsize::new(0);
    move |_| {
        let n = turn.fetch_add(1, Ordering::SeqCst).min(replies.len() - 1);
        replies[n].clone()
    }
}

/// A proxy whose default providers point at `unused` (which must see nothing), with named
/// providers `(name, type, base_url)` and these rules.
pub async fn routed(
    unused: &MockHandle,
    providers: &[(&str, ProviderType, String)],
    rules: Vec<RoutingRule>,
) -> Proxy {
    spawn_proxy(routed_config(unused, providers, rules)).await
}

pub fn routed_config(
    unused: &MockHandle,
    providers: &[(&str, ProviderType, String)],
    rules: Vec<RoutingRule>,
) -> Config {
    let mut config = config_for(unused, unused);
    for (name, kind, url) in providers {
        config
            .providers
            .named
            .insert((*name).into(), provider(*kind, url.clone()));
    }
    config.routing.rules = rules;
    config
}

/// One server-sent event as the client received it.
#[derive(Debug)]
pub struct Event {
    pub name: Option<String>,
    pub data: String,
}

impl Event {
    pub fn json(&self) -> Value {
        json(self.data.as_bytes())
    }
}

/// Splits a whole event stream (LF line endings, as the proxy writes them) into events.
pub fn events(bytes: &[u8]) -> Vec<Event> {
    let text = std::str::from_utf8(bytes).expect("UTF-8 event stream");
    let mut out = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let mut event = Event {
            name: None,
            data: String::new(),
        };
        for line in block.lines() {
            if let Some(name) = line.strip_prefix("event:") {
                event.name = Some(name.trim().to_string());
            } else if let Some(data) = line.strip_prefix("data:") {
                if !event.data.is_empty() {
                    event.data.push('\n');
                }
                event.data.push_str(data.strip_prefix(' ').unwrap_or(data));
            }
        }
        out.push(event);
    }
    out
}

/// The same events (names, and data as JSON values: key order is not part of the contract).
pub fn assert_same_events(got: &[u8], expected: &[u8]) {
    let parse = |bytes: &[u8]| -> Vec<(Option<String>, Value)> {
        let data = |e: &Event| serde_json::from_str(&e.data).unwrap_or(json!(e.data));
        events(bytes)
            .iter()
            .map(|e| (e.name.clone(), data(e)))
            .collect()
    };
    let (got, expected) = (parse(got), parse(expected));
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "event {i}");
    }
    assert_eq!(got.len(), expected.len(), "event count; got {got:#?}");
}

/// What an Anthropic client makes of a translated stream.
#[derive(Debug)]
pub struct Assembled {
    pub blocks: Vec<Value>,
    pub stop_reason: Value,
    pub usage: Value,
    pub model: Value,
    /// `message_stop`, or `error` with the error object.
    pub end: Value,
}

/// Rebuilds the message from Anthropic events, checking what Claude Code relies on: every event
/// name equals its `type`, block indices count up from 0 one at a time, a `tool_use` starts with
/// `input: {}` and gets its arguments only from `input_json_delta`, nothing follows the end.
pub fn assemble_anthropic(bytes: &[u8]) -> Assembled {
    let mut a = Assembled {
        blocks: Vec::new(),
        stop_reason: Value::Null,
        usage: Value::Null,
        model: Value::Null,
        end: Value::Null,
    };
    let mut args: Vec<String> = Vec::new();
    for event in events(bytes) {
        assert!(a.end.is_null(), "an event after the end: {event:?}");
        let data = event.json();
        assert_eq!(event.name.as_deref(), data["type"].as_str(), "{data}");
        match data["type"].as_str().unwrap() {
            "message_start" => {
                a.model = data["message"]["model"].clone();
                a.usage = data["message"]["usage"].clone();
            }
            "content_block_start" => {
                assert_eq!(data["index"], a.blocks.len(), "indices count up: {data}");
                let block = data["content_block"].clone();
                if block["type"] == "tool_use" {
                    assert_eq!(block["input"], json!({}), "F17: {data}");
                }
                a.blocks.push(block);
                args.push(String::new());
            }
            "content_block_delta" => {
                let i = a.blocks.len() - 1;
                assert_eq!(data["index"], i, "deltas belong to the open block: {data}");
                let delta = &data["delta"];
                match delta["type"].as_str().unwrap() {
                    "text_delta" => {
                        let text = format!(
                            "{}{}",
                            a.blocks[i]["text"].as_str().unwrap(),
                            delta["text"].as_str().unwrap()
                        );
                        a.blocks[i]["text"] = json!(text);
                    }
                    "input_json_delta" => args[i].push_str(delta["partial_json"].as_str().unwrap()),
                    other => panic!("unexpected delta {other}"),
                }
            }
            "content_block_stop" => {
                let i = a.blocks.len() - 1;
                if a.blocks[i]["type"] == "tool_use" {
                    a.blocks[i]["input"] = serde_json::from_str(&args[i])
                        .unwrap_or_else(|e| panic!("arguments {:?}: {e}", args[i]));
                }
            }
            "message_delta" => {
                a.stop_reason = data["delta"]["stop_reason"].clone();
                a.usage = data["usage"].clone();
            }
            "message_stop" => a.end = json!("message_stop"),
            "error" => a.end = data["error"].clone(),
            "ping" => {}
            other => panic!("unknown event {other}"),
        }
    }
    a
}

/// The Chat rule of this file: Claude Code's model to a Chat Completions provider's.
async fn chat_setup(replies: Vec<Reply>) -> (Proxy, MockHandle, MockHandle) {
    let chat = MockUpstream::new()
        .route_fn("/v1/chat/completions", by_turn(replies))
        .start()
        .await;
    let unused = MockUpstream::new().start().await;
    let proxy = routed(
        &unused,
        &[("chatgw", ProviderType::Openai, format!("{}/v1", chat.url()))],
        vec![rule(
            "claude-sonnet-4-6",
            "chatgw",
            Some("gpt-5.4-mini"),
            &[],
        )],
    )
    .await;
    (proxy, chat, unused)
}

const TOOLS: &str = r#"[{"name":"get_weather","description":"Current weather for a city","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},{"name":"list_files","description":"List files","input_schema":{"type":"object","properties":{}}}]"#;

fn first_turn(stream: bool) -> String {
    format!(
        r#"{{"model":"claude-sonnet-4-6","max_tokens":1024,"stream":{stream},"system":[{{"type":"text","text":"Use the tools.","cache_control":{{"type":"ephemeral"}}}}],"tools":{TOOLS},"messages":[{{"role":"user","content":"Weather in Zürich, and which files are here?"}}]}}"#
    )
}

#[tokio::test]
async fn anthropic_client_streams_a_tool_round_trip_through_a_chat_provider() {
    let chat_stream = |name: &str| golden(&format!("chat/anthropic_client/stream/{name}"));
    let tools = chat_stream("text_then_sequential_tools.sse");
    let text = chat_stream("text_include_usage.sse");
    let replies = vec![
        Reply::sse(Bytes::new()).body(awkward(&tools)),
        Reply::sse(Bytes::new()).body(awkward(&text)),
    ];
    let (proxy, chat, unused) = chat_setup(replies).await;

    // Turn 1: Claude Code's streaming request; the provider streams two tool calls.
    let req = post_json("/v1/messages?beta=true", first_turn(true), CLAUDE_CODE);
    let (head, got) = fetch(proxy.addr, req).await;
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-type"], "text/event-stream");
    assert_eq!(head.headers()["x-lunaroute-provider"], "chatgw");
    // The golden translation, whatever the provider's read boundaries.
    assert_same_events(
        &got,
        &chat_stream("text_then_sequential_tools.expected.sse"),
    );
    let turn1 = assemble_anthropic(&got);
    assert_eq!(turn1.end, "message_stop");
    assert_eq!(
        turn1.stop_reason, "tool_use",
        "Claude Code continues on tool_use"
    );
    assert_eq!(
        turn1.model, "claude-sonnet-4-6",
        "the client's model echoed"
    );
    assert_eq!(turn1.blocks[1]["name"], "get_weather");
    assert_eq!(turn1.blocks[1]["input"], json!({"city": "Zürich"}));
    assert_eq!(turn1.blocks[2]["input"], json!({}));

    // What the Chat provider got: its own dialect, the client's key as a bearer token.
    let seen = chat.last();
    assert_eq!(seen.uri, "/v1/chat/completions");
    assert_eq!(
        seen.header("authorization"),
        Some("Bearer sk-ant-client-key")
    );
    for name in ["x-api-key", "anthropic-version", "anthropic-beta"] {
        assert_eq!(seen.header(name), None, "{name} is Anthropic's");
    }
    let body = seen.json();
    assert_eq!(body["model"], "gpt-5.4-mini");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(body["max_completion_tokens"], 1024);
    assert_eq!(
        body["messages"][0],
        json!({"role": "system", "content": "Use the tools."})
    );
    assert_eq!(body["tools"][0]["function"]["name"], "get_weather");
    assert!(!seen.body.windows(13).any(|w| w == b"cache_control"), "F20");

    // Turn 2: the tool results go back; the provider must see `tool_calls` and `tool` messages.
    let mut assistant = turn1.blocks.clone();
    assistant.retain(|b| b["type"] != "text" || b["text"] != "");
    let second = json!({
        "model": "claude-sonnet-4-6", "max_tokens": 1024, "stream": true,
        "tools": serde_json::from_str::<Value>(TOOLS).unwrap(),
        "messages": [
            {"role": "user", "content": "Weather in Zürich, and which files are here?"},
            {"role": "assistant", "content": assistant},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": turn1.blocks[1]["id"], "content": "12°C, fog"},
                {"type": "tool_result", "tool_use_id": turn1.blocks[2]["id"], "content": [{"type": "text", "text": "a.rs b.rs"}]},
            ]},
        ],
    });
    let req = post_json("/v1/messages", second.to_string(), CLAUDE_CODE);
    let (head, got) = fetch(proxy.addr, req).await;
    assert_eq!(head.status(), 200);
    let turn2 = assemble_anthropic(&got);
    assert_eq!(
        (turn2.end.clone(), turn2.stop_reason.clone()),
        (json!("message_stop"), json!("end_turn"))
    );
    assert_eq!(turn2.blocks.len(), 1);
    assert!(
        turn2.blocks[0]["text"].as_str().unwrap().len() > 3,
        "{:?}",
        turn2.blocks
    );

    let messages = chat.last().json()["messages"].clone();
    let roles: Vec<&str> = messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "tool", "tool"]);
    let calls = &messages[1]["tool_calls"];
    assert_eq!(calls[0]["id"], turn1.blocks[1]["id"]);
    assert_eq!(calls[0]["type"], "function");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "Zürich"}));
    assert_eq!(calls[1]["function"]["arguments"], "{}");
    assert_eq!(messages[2]["tool_call_id"], turn1.blocks[1]["id"]);
    assert_eq!(messages[2]["content"], "12°C, fog");
    assert_eq!(messages[3]["tool_call_id"], turn1.blocks[2]["id"]);
    assert_eq!(messages[3]["content"], "a.rs b.rs");
    assert!(unused.requests().is_empty());
}

#[tokio::test]
async fn anthropic_client_gets_a_json_message_from_a_chat_provider() {
    let answer = golden("chat/anthropic_client/response/tool_calls_parallel_zero_arg.json");
    let (proxy, chat, _unused) = chat_setup(vec![Reply::json(answer)]).await;
    let (head, got) = fetch(
        proxy.addr,
        post_json("/v1/messages", first_turn(false), CLAUDE_CODE),
    )
    .await;
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-type"], "application/json");
    assert_eq!(
        head.headers()["content-length"],
        got.len().to_string().as_str()
    );
    let expected =
        golden("chat/anthropic_client/response/tool_calls_parallel_zero_arg.expected.json");
    assert_eq!(json(&got), json(&expected));
    assert_eq!(json(&got)["stop_reason"], "tool_use");
    let sent = chat.last().json();
    assert_ne!(sent["stream"], true, "no stream asked, none requested");
    assert_eq!(sent["stream_options"], Value::Null);
}
