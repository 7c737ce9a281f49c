//! OpenAI fixtures and field cases: Chat Completions (F16 usage chunk, tool-call deltas by index)
//! and Responses over SSE and WebSocket frames (F18, reasoning, custom tools, terminal events).

use super::*;

#[test]
fn chat_stream_and_json_fixtures() {
    let a = stream(Api::ChatCompletions, &fixture("openai/chat_text.sse"), 100);
    assert_eq!(a.text, "The weather in Paris is 18°C and sunny.");
    assert_eq!(a.stop_reason.as_deref(), Some("stop"));
    assert_eq!(
        a.id.as_deref(),
        Some("chatcmpl-DLu7Tw6yNc4hJr9XbQk5VmGp8eW")
    );
    assert_eq!(a.model.as_deref(), Some("gpt-5.4-mini-2026-03-17"));
    // F16: the one `"choices": []` chunk carries the usage; prompt includes the cached tokens.
    assert_eq!(usage(&a), [1452 - 1280, 14, 1280, 0, 0, 1466]);
    assert_eq!(a.events, 6); // [DONE] is skipped by the caller
    assert_eq!(a.first_content_ms, Some(10.0));

    let t = stream(Api::ChatCompletions, &fixture("openai/chat_tool.sse"), 3);
    assert_eq!(
        t.tool_calls,
        vec![weather_call("call_Rt6wK9pLm3XvB8nQz2HcYf5D")]
    );
    assert_eq!(t.stop_reason.as_deref(), Some("tool_calls"));
    assert_eq!(usage(&t), [1320 - 1024, 88, 1024, 0, 64, 1408]);
    assert_eq!(t.text, "");

    let j = assemble_json(Api::ChatCompletions, &fixture("openai/chat_tool.json"));
    assert_eq!(
        j.tool_calls,
        vec![weather_call("call_Xq3vT8mKp2RwN5yZc7LbJd4F")]
    );
    assert_eq!(usage(&j), [296, 88, 1024, 0, 64, 1408]);
    let j = assemble_json(Api::ChatCompletions, &fixture("openai/chat_text.json"));
    assert_eq!(
        (j.text.as_str(), j.stop_reason.as_deref()),
        ("The weather in Paris is 18°C and sunny.", Some("stop"))
    );

    let e = assemble_json(Api::ChatCompletions, &fixture("openai/error_400.json"));
    assert_eq!(e.error_type.as_deref(), Some("invalid_request_error"));
    assert!(e
        .error_message
        .as_deref()
        .is_some_and(|m| m.starts_with("Invalid 'messages[2].tool_call_id'")));
    let e = assemble_json(Api::Messages, &fixture("anthropic/error_429.json"));
    assert_eq!(e.error_type.as_deref(), Some("rate_limit_error"));
}

#[test]
fn chat_without_usage_chunk_and_interleaved_tool_calls() {
    let chunk = |delta: Value, finish: Value| json!({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    let a = frames(
        Api::ChatCompletions,
        &[
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "c0", "function": {"name": "a", "arguments": ""}},
                                    {"index": 1, "id": "c1", "function": {"name": "b", "arguments": "{\"x\""}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 1, "function": {"arguments": ":1}"}}]}),
                Value::Null,
            ),
            chunk(json!({"reasoning_content": "hmm"}), Value::Null),
            chunk(json!({}), json!("tool_calls")),
        ],
    );
    let calls: Vec<_> = a
        .tool_calls
        .iter()
        .map(|c| (c.id.as_str(), c.name.as_str(), c.input.clone()))
        .collect();
    assert_eq!(
        calls,
        vec![("c0", "a", json!({})), ("c1", "b", json!({"x": 1}))]
    );
    assert_eq!(a.thinking[0].text, "hmm");
    assert_eq!(a.usage, Usage::default());
    assert_eq!(a.first_content_ms, Some(0.0));
}

#[test]
fn responses_stream_and_json_fixtures() {
    let a = stream(Api::Responses, &fixture("openai/responses_text.sse"), 256);
    assert_eq!(a.text, "The weather in Paris is 18°C and sunny.");
    assert_eq!(
        a.id.as_deref(),
        Some("resp_1f9e8d7c6b5a49382716f5e4d3c2b1a0ff00ee11dd22cc36")
    );
    assert_eq!(a.stop_reason.as_deref(), Some("completed"));
    assert_eq!(usage(&a), [172, 14, 1280, 0, 0, 1466]);
    assert_eq!(a.first_content_ms, Some(40.0));

    // Deltas and `.done` both carry the arguments: counted once (F18, second variant).
    let t = stream(Api::Responses, &fixture("openai/responses_tool.sse"), 1);
    assert_eq!(
        t.tool_calls,
        vec![weather_call("call_Wb4nH7sK2qXe9LdT5vPm3RcY")]
    );
    assert_eq!(usage(&t), [296, 88, 1024, 0, 64, 1408]);
    assert!(t.thinking.is_empty()); // a reasoning item with an empty summary

    let j = assemble_json(Api::Responses, &fixture("openai/responses_tool.json"));
    assert_eq!(
        j.tool_calls,
        vec![weather_call("call_Mz8pQ2vW5kRt7YbN4xLc9HsJ")]
    );
    assert_eq!(usage(&j), [296, 88, 1024, 0, 64, 1408]);
    let j = assemble_json(Api::Other, &fixture("openai/responses_text.json"));
    assert_eq!(j.text, "The weather in Paris is 18°C and sunny.");
}

#[test]
fn f18_arguments_only_in_done_and_both_ways() {
    let added = json!({"type": "response.output_item.added", "output_index": 0,
        "item": {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": ""}});
    let done = json!({"type": "response.function_call_arguments.done", "item_id": "fc_1", "arguments": "{\"a\":1}"});
    let only_done = frames(Api::Responses, &[added.clone(), done.clone()]);
    assert_eq!(
        only_done.tool_calls,
        vec![ToolCall {
            id: "call_1".into(),
            name: "f".into(),
            input: json!({"a": 1})
        }]
    );
    assert_eq!(only_done.first_content_ms, Some(10.0));

    let delta = |d: &str| json!({"type": "response.function_call_arguments.delta", "output_index": 0, "delta": d});
    let both = frames(
        Api::Responses,
        &[added, delta("{\"a\":"), delta("1}"), done],
    );
    assert_eq!(both.tool_calls[0].input, json!({"a": 1}));
    assert_eq!(both.first_content_ms, Some(10.0));
}

#[test]
fn responses_websocket_frames_reasoning_custom_tools_and_endings() {
    let a = frames(
        Api::Responses,
        &[
            json!({"type": "response.created", "response": {"id": "resp_ws", "model": "gpt-5.4", "status": "in_progress"}}),
            json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "reasoning", "id": "rs_1", "summary": []}}),
            json!({"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 0, "delta": "Think"}),
            json!({"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 0, "delta": "ing."}),
            json!({"type": "response.output_item.added", "output_index": 1, "item": {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_p", "name": "apply_patch", "input": ""}}),
            json!({"type": "response.custom_tool_call_input.delta", "output_index": 1, "delta": "*** Begin Patch"}),
            json!({"type": "response.output_item.added", "output_index": 2, "item": {"type": "web_search_call", "id": "ws_1"}}),
            json!({"type": "response.incomplete", "response": {"id": "resp_ws", "status": "incomplete",
            "incomplete_details": {"reason": "max_output_tokens"}, "usage": {"input_tokens": 10, "output_tokens": 5}}}),
        ],
    );
    assert_eq!(
        a.thinking,
        vec![ThinkingBlock {
            text: "Thinking.".into(),
            signature: None,
            redacted_data: None
        }]
    );
    assert_eq!(
        a.tool_calls,
        vec![ToolCall {
            id: "call_p".into(),
            name: "apply_patch".into(),
            input: json!("*** Begin Patch")
        }]
    );
    assert_eq!(
        a.other_blocks,
        vec![json!({"type": "web_search_call", "id": "ws_1"})]
    );
    assert_eq!(
        (a.id.as_deref(), a.model.as_deref()),
        (Some("resp_ws"), Some("gpt-5.4"))
    );
    assert_eq!(a.stop_reason.as_deref(), Some("max_output_tokens"));
    assert_eq!(usage(&a), [10, 5, 0, 0, 0, 15]);
    assert_eq!(a.first_content_ms, Some(20.0));

    let failed = frames(
        Api::Responses,
        &[
            json!({"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "Part"}),
            json!({"type": "response.failed", "response": {"status": "failed", "error": {"code": "server_error", "message": "boom"}}}),
        ],
    );
    assert_eq!(
        (failed.text.as_str(), failed.stop_reason.as_deref()),
        ("Part", Some("failed"))
    );
    assert_eq!(
        (
            failed.error_type.as_deref(),
            failed.error_message.as_deref()
        ),
        (Some("server_error"), Some("boom"))
    );

    let error = frames(
        Api::Responses,
        &[json!({"type": "error", "code": "rate_limit_exceeded", "message": "slow down"})],
    );
    assert_eq!(error.error_type.as_deref(), Some("rate_limit_exceeded"));
}

#[test]
fn other_api_streams_are_recognised_by_shape() {
    let a = stream(Api::Other, &fixture("anthropic/messages_tool.sse"), 50);
    assert_eq!(
        a.tool_calls,
        vec![weather_call("toolu_01Hb7RcVt2WqYx9KmN3fZd5P")]
    );
    let c = stream(Api::Other, &fixture("openai/chat_text.sse"), 50);
    assert_eq!(c.text, "The weather in Paris is 18°C and sunny.");
    let r = stream(Api::Other, &fixture("openai/responses_tool.sse"), 50);
    assert_eq!(r.tool_calls.len(), 1);
}

#[test]
fn responses_terminal_output_counts_when_nothing_streamed() {
    let completed = json!({"type": "response.completed", "response": {"status": "completed",
        "output": [{"type": "message", "content": [{"type": "output_text", "text": "Hi"}]}]}});
    let a = frames(Api::Responses, &[completed]);
    assert_eq!(
        (a.text.as_str(), a.stop_reason.as_deref()),
        ("Hi", Some("completed"))
    );
}
