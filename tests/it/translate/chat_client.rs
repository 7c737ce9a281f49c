//! An OpenAI Chat Completions client (OpenAI SDK, OpenCode) on an Anthropic provider: a streamed
//! tool call with `stream_options.include_usage` on and off (F16: exactly one usage chunk when
//! asked, none otherwise), then the tool result going back as a `tool_result` block.

use super::*;

const OPENAI_CLIENT: &[(&str, &str)] = &[
    ("authorization", "Bearer sk-openai-client-key"),
    ("user-agent", "OpenAI/Python 2.8.1"),
];

async fn anthropic_setup(replies: Vec<Reply>) -> (Proxy, MockHandle, MockHandle) {
    let provider = MockUpstream::new()
        .route_fn("/v1/messages", by_turn(replies))
        .start()
        .await;
    let unused = MockUpstream::new().start().await;
    let proxy = routed(
        &unused,
        &[("claude", ProviderType::Anthropic, provider.url())],
        vec![rule(
            "claude-via-chat",
            "claude",
            Some("claude-sonnet-4-6"),
            &[],
        )],
    )
    .await;
    (proxy, provider, unused)
}

const WEATHER: &str = r#"[{"type":"function","function":{"name":"get_weather","description":"Weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string"}},"required":["city"]}}}]"#;

fn chat_request(messages: Value, include_usage: Option<bool>) -> String {
    let mut body = json!({
        "model": "claude-via-chat", "max_completion_tokens": 512, "stream": true,
        "tools": serde_json::from_str::<Value>(WEATHER).unwrap(),
        "messages": messages,
    });
    if let Some(on) = include_usage {
        body["stream_options"] = json!({"include_usage": on});
    }
    body.to_string()
}

/// What an OpenAI SDK makes of a Chat stream: the text, the tool calls by `index` (arguments
/// concatenated), the finish reasons, the usage chunks; checks `[DONE]` ends it.
struct ChatAssembled {
    text: String,
    calls: Vec<(String, String, String)>,
    finish: Vec<String>,
    usage_chunks: Vec<Value>,
}

fn assemble_chat(bytes: &[u8]) -> ChatAssembled {
    let all = events(bytes);
    let (last, chunks) = all.split_last().expect("some events");
    assert_eq!(last.data, "[DONE]", "a Chat stream ends with [DONE]");
    let mut a = ChatAssembled {
        text: String::new(),
        calls: Vec::new(),
        finish: Vec::new(),
        usage_chunks: Vec::new(),
    };
    for chunk in chunks {
        assert_eq!(chunk.name, None, "Chat chunks have no event names");
        let c = chunk.json();
        assert_eq!(c["object"], "chat.completion.chunk", "{c}");
        assert_eq!(c["model"], "claude-via-chat", "the client's model echoed");
        if !c["usage"].is_null() {
            a.usage_chunks.push(c.clone());
        }
        let Some(choice) = c["choices"].get(0) else {
            continue;
        };
        if let Some(text) = choice["delta"]["content"].as_str() {
            a.text.push_str(text);
        }
        for call in choice["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let i = call["index"].as_u64().unwrap() as usize;
            if i == a.calls.len() {
                let id = call["id"]
                    .as_str()
                    .expect("the first delta of a call has its id");
                let name = call["function"]["name"].as_str().expect("and its name");
                a.calls.push((id.into(), name.into(), String::new()));
            }
            if let Some(args) = call["function"]["arguments"].as_str() {
                a.calls[i].2.push_str(args);
            }
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            a.finish.push(reason.into());
        }
    }
    a
}

#[tokio::test]
async fn chat_client_streams_a_tool_call_from_an_anthropic_provider_with_and_without_usage() {
    let tool = fixture("anthropic/messages_tool.sse");
    let text = fixture("anthropic/messages_text.sse");
    let reply = |b: &Bytes| Reply::sse(Bytes::new()).body(awkward(b));
    let (proxy, provider, unused) =
        anthropic_setup(vec![reply(&tool), reply(&tool), reply(&tool), reply(&text)]).await;
    let ask = json!([{"role": "user", "content": "Weather in Paris?"}]);

    for include_usage in [Some(true), Some(false), None] {
        let req = post_json(
            "/v1/chat/completions",
            chat_request(ask.clone(), include_usage),
            OPENAI_CLIENT,
        );
        let (head, got) = fetch(proxy.addr, req).await;
        let what = format!("include_usage {include_usage:?}");
        assert_eq!(head.status(), 200, "{what}");
        assert_eq!(head.headers()["content-type"], "text/event-stream");
        let a = assemble_chat(&got);
        assert_eq!(
            a.text, "I'll check the current weather in Paris for you ☀️",
            "{what}"
        );
        assert_eq!(a.calls.len(), 1, "{what}");
        assert_eq!(a.calls[0].0, "toolu_01Hb7RcVt2WqYx9KmN3fZd5P");
        assert_eq!(a.calls[0].1, "get_weather");
        let args: Value = serde_json::from_str(&a.calls[0].2).unwrap();
        assert_eq!(args, json!({"city": "Paris", "unit": "celsius"}));
        assert_eq!(a.finish, ["tool_calls"], "{what}");
        if include_usage == Some(true) {
            // F16: one final chunk, no choices, the usage in OpenAI's terms.
            assert_eq!(a.usage_chunks.len(), 1, "{what}");
            let chunk = &a.usage_chunks[0];
            assert_eq!(chunk["choices"], json!([]));
            assert_eq!(chunk["usage"]["prompt_tokens"], 412 + 10240 + 1536);
            assert_eq!(chunk["usage"]["completion_tokens"], 71);
            assert_eq!(
                chunk["usage"]["prompt_tokens_details"]["cached_tokens"],
                10240
            );
            let all = events(&got);
            assert_eq!(
                all[all.len() - 2].json(),
                *chunk,
                "the usage chunk comes last"
            );
        } else {
            assert!(a.usage_chunks.is_empty(), "{what}: no usage chunk unasked");
        }

        let seen = provider.last();
        assert_eq!(seen.uri, "/v1/messages");
        assert_eq!(seen.header("x-api-key"), Some("sk-openai-client-key"));
        assert_eq!(seen.header("anthropic-version"), Some("2023-06-01"));
        assert_eq!(seen.header("authorization"), None);
        let body = seen.json();
        assert_eq!(body["model"], "claude-sonnet-4-6");
        assert_eq!(body["max_tokens"], 512);
        assert_eq!(body["stream"], true);
        assert_eq!(body["tools"][0]["name"], "get_weather");
        assert_eq!(
            body["tools"][0]["input_schema"]["required"],
            json!(["city"])
        );
        assert_eq!(
            body["stream_options"],
            Value::Null,
            "not an Anthropic field"
        );
    }

    // The tool result goes back: `tool_calls` become `tool_use`, the `tool` message a result.
    let call_id = "toolu_01Hb7RcVt2WqYx9KmN3fZd5P";
    let messages = json!([
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": call_id, "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\",\"unit\":\"celsius\"}"}}]},
        {"role": "tool", "tool_call_id": call_id, "content": "18°C, sunny"},
    ]);
    let req = post_json(
        "/v1/chat/completions",
        chat_request(messages, Some(true)),
        OPENAI_CLIENT,
    );
    let (head, got) = fetch(proxy.addr, req).await;
    assert_eq!(head.status(), 200);
    let a = assemble_chat(&got);
    assert!(!a.text.is_empty());
    assert_eq!(a.finish, ["stop"]);
    assert!(a.calls.is_empty());

    let sent = provider.last().json();
    let msgs = &sent["messages"];
    assert_eq!(msgs.as_array().unwrap().len(), 3, "{msgs}");
    assert_eq!(msgs[1]["role"], "assistant");
    assert_eq!(msgs[1]["content"][0]["type"], "tool_use");
    assert_eq!(msgs[1]["content"][0]["id"], call_id);
    assert_eq!(
        msgs[1]["content"][0]["input"],
        json!({"city": "Paris", "unit": "celsius"})
    );
    assert_eq!(msgs[2]["role"], "user");
    assert_eq!(msgs[2]["content"][0]["type"], "tool_result");
    assert_eq!(msgs[2]["content"][0]["tool_use_id"], call_id);
    assert_eq!(msgs[2]["content"][0]["content"], "18°C, sunny");
    assert!(unused.requests().is_empty());
}
