//! An Anthropic client on an OpenAI Responses provider (`type = "openai-responses"`): a streamed
//! tool call whose arguments come only in `.done` (F18), the tool result going back as a
//! `function_call_output`, a JSON answer, and streams that end without a terminal event (a clean
//! EOF and a dead connection), which the client must see as an `error` event, never a success.

use super::*;

async fn responses_setup(replies: Vec<Reply>) -> (Proxy, MockHandle, MockHandle) {
    let provider = MockUpstream::new()
        .route_fn("/v1/responses", by_turn(replies))
        .start()
        .await;
    let unused = MockUpstream::new().start().await;
    let proxy = routed(
        &unused,
        &[(
            "resp",
            ProviderType::OpenaiResponses,
            format!("{}/v1", provider.url()),
        )],
        vec![rule("claude-sonnet-4-5", "resp", Some("gpt-5.4-mini"), &[])],
    )
    .await;
    (proxy, provider, unused)
}

const BASH_TOOL: &str = r#"[{"name":"Bash","description":"Run a command","input_schema":{"type":"object","properties":{"command":{"type":"string"},"description":{"type":"string"}},"required":["command"]}}]"#;

fn request(stream: bool, messages: Value) -> String {
    json!({
        "model": "claude-sonnet-4-5", "max_tokens": 2048, "stream": stream,
        "system": "You are a coding agent.",
        "tools": serde_json::from_str::<Value>(BASH_TOOL).unwrap(),
        "messages": messages,
    })
    .to_string()
}

fn sse_reply(bytes: &[u8]) -> Reply {
    Reply::sse(Bytes::new()).body(awkward(bytes))
}

#[tokio::test]
async fn anthropic_client_streams_a_tool_round_trip_through_a_responses_provider() {
    let only_done = golden("responses/stream_tool_args_only_done.sse");
    let text = golden("responses/stream_text.sse");
    let (proxy, provider, unused) =
        responses_setup(vec![sse_reply(&only_done), sse_reply(&text)]).await;

    let ask = json!([{"role": "user", "content": "List the files."}]);
    let (head, got) = fetch(
        proxy.addr,
        post_json(
            "/v1/messages?beta=true",
            request(true, ask.clone()),
            CLAUDE_CODE,
        ),
    )
    .await;
    assert_eq!(head.status(), 200);
    assert_same_events(
        &got,
        &golden("responses/stream_tool_args_only_done.expected.sse"),
    );
    let turn1 = assemble_anthropic(&got);
    assert_eq!(turn1.stop_reason, "tool_use");
    assert_eq!(turn1.end, "message_stop");
    let call = &turn1.blocks[0];
    assert_eq!(call["name"], "Bash");
    // F18: the arguments arrived only in `.done`, exactly once.
    assert_eq!(
        call["input"],
        json!({"command": "ls -la", "description": "List files"})
    );

    let seen = provider.last();
    assert_eq!(seen.uri, "/v1/responses");
    assert_eq!(
        seen.header("authorization"),
        Some("Bearer sk-ant-client-key")
    );
    let body = seen.json();
    assert_eq!(body["model"], "gpt-5.4-mini");
    assert_eq!(body["instructions"], "You are a coding agent.");
    assert_eq!(body["max_output_tokens"], 2048);
    assert_eq!(body["stream"], true);
    assert_eq!(body["tools"][0]["type"], "function");
    assert_eq!(body["tools"][0]["name"], "Bash");

    // Turn 2: the result of the call goes back as a function_call_output with its call_id.
    let messages = json!([
        {"role": "user", "content": "List the files."},
        {"role": "assistant", "content": turn1.blocks},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "a.rs\nb.rs"}]},
    ]);
    let (head, got) = fetch(
        proxy.addr,
        post_json("/v1/messages", request(true, messages), CLAUDE_CODE),
    )
    .await;
    assert_eq!(head.status(), 200);
    assert_same_events(&got, &golden("responses/stream_text.expected.sse"));
    let turn2 = assemble_anthropic(&got);
    assert_eq!(turn2.stop_reason, "end_turn");

    let input = provider.last().json()["input"].clone();
    let items = input.as_array().unwrap();
    let kinds: Vec<&str> = items
        .iter()
        .map(|i| i["type"].as_str().unwrap_or("message"))
        .collect();
    assert_eq!(
        kinds,
        ["message", "function_call", "function_call_output"],
        "{input}"
    );
    assert_eq!(items[1]["call_id"], call["id"]);
    assert_eq!(items[1]["name"], "Bash");
    let args: Value = serde_json::from_str(items[1]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, call["input"]);
    assert_eq!(items[2]["call_id"], call["id"]);
    assert_eq!(items[2]["output"], "a.rs\nb.rs");
    assert!(unused.requests().is_empty());
}

#[tokio::test]
async fn anthropic_client_gets_a_json_message_from_a_responses_provider() {
    let (proxy, provider, _unused) =
        responses_setup(vec![Reply::json(golden("responses/json_tools.json"))]).await;
    let ask = json!([{"role": "user", "content": "Weather and time in Paris?"}]);
    let (head, got) = fetch(
        proxy.addr,
        post_json("/v1/messages", request(false, ask), CLAUDE_CODE),
    )
    .await;
    assert_eq!(head.status(), 200);
    assert_eq!(
        json(&got),
        json(&golden("responses/json_tools.expected.json"))
    );
    assert_eq!(json(&got)["stop_reason"], "tool_use");
    assert_eq!(
        json(&got)["content"][2]["input"],
        json!({}),
        "F17: \"\" is {{}}"
    );
    assert_ne!(provider.last().json()["stream"], true);
}

#[tokio::test]
async fn a_responses_stream_without_terminal_event_is_an_error_event_for_the_client() {
    // A clean EOF in the middle of a tool call's arguments: the golden translation ends in `error`.
    let eof = golden("responses/stream_eof_no_terminal.sse");
    // The connection dies after the text's deltas (before `response.completed`).
    let text = golden("responses/stream_text.sse");
    let cut = std::str::from_utf8(&text)
        .unwrap()
        .find("event: response.completed")
        .expect("the text fixture has a terminal event");
    let died = Reply::sse(Bytes::new()).body(Body::FailAfter(split_at(&text[..cut], &[cut / 2])));
    let (proxy, _provider, _unused) = responses_setup(vec![sse_reply(&eof), died]).await;
    let ask = json!([{"role": "user", "content": "Show the file."}]);

    let (head, got) = fetch(
        proxy.addr,
        post_json("/v1/messages", request(true, ask.clone()), CLAUDE_CODE),
    )
    .await;
    assert_eq!(head.status(), 200, "the stream had started");
    assert_same_events(
        &got,
        &golden("responses/stream_eof_no_terminal.expected.sse"),
    );
    let a = assemble_anthropic(&got);
    assert_eq!(a.end["type"], "api_error", "{:?}", a.end);
    assert!(a.stop_reason.is_null(), "no message_delta: no fake success");

    let response = send(
        proxy.addr,
        post_json("/v1/messages", request(true, ask), CLAUDE_CODE),
    )
    .await;
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut got = Vec::new();
    // The proxy ends the stream after its error event; bounded at 100 frames.
    for _ in 0..100 {
        match next_data(&mut body, Duration::from_secs(10)).await {
            Some(data) => got.extend_from_slice(&data),
            None => break,
        }
    }
    let a = assemble_anthropic(&got);
    assert!(
        a.blocks[0]["text"].as_str().is_some_and(|t| !t.is_empty()),
        "the partial text arrived"
    );
    assert!(
        a.end["type"].is_string(),
        "an error event ends it: {:?}",
        a.end
    );
    assert_ne!(a.end, "message_stop");
    assert!(a.stop_reason.is_null());
}
