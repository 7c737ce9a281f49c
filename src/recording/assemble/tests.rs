//! Assembly driven by the real fixtures in `tests/fixtures` (parsed with our own `SseParser`), plus
//! the field cases F6, F7, F8, F15, F16 and F18.

use super::*;
use crate::recording::fixture;
use crate::recording::record::{ThinkingBlock, ToolCall, ToolResultRef};
use crate::recording::sse::SseParser;
use serde_json::json;

mod openai;

/// Parses an SSE body read `chunk` bytes at a time and feeds every event; event `i` arrives at
/// `10 * i` ms.
fn stream(api: Api, bytes: &[u8], chunk: usize) -> Assembled {
    let mut parser = SseParser::new();
    let mut events = Vec::new();
    for piece in bytes.chunks(chunk) {
        parser.feed(piece, &mut events);
    }
    parser.finish(&mut events);
    assert!(!parser.pending_partial());
    feed(
        api,
        events.iter().map(|e| (e.event.as_deref(), e.data.as_str())),
    )
}

fn feed<'a>(api: Api, events: impl IntoIterator<Item = (Option<&'a str>, &'a str)>) -> Assembled {
    let mut assembler = StreamAssembler::new(api);
    for (i, (name, data)) in events.into_iter().enumerate() {
        if data == "[DONE]" {
            continue;
        }
        let data: Value = serde_json::from_str(data).expect("event JSON");
        assembler.event(i as f64 * 10.0, name, &data);
    }
    assembler.finish()
}

/// WebSocket-style: no event names, the objects' own `type`.
fn frames(api: Api, frames: &[Value]) -> Assembled {
    let mut assembler = StreamAssembler::new(api);
    for (i, frame) in frames.iter().enumerate() {
        assembler.event(i as f64 * 10.0, frame["type"].as_str(), frame);
    }
    assembler.finish()
}

fn usage(a: &Assembled) -> [u64; 6] {
    let u = &a.usage;
    [
        u.input,
        u.output,
        u.cache_read,
        u.cache_creation,
        u.thinking,
        u.total,
    ]
}

fn weather_call(id: &str) -> ToolCall {
    ToolCall {
        id: id.into(),
        name: "get_weather".into(),
        input: json!({"city": "Paris", "unit": "celsius"}),
    }
}

#[test]
fn api_from_provider_and_path() {
    use Provider::{Anthropic, OpenAi};
    assert_eq!(api_for(Anthropic, "/v1/messages"), Api::Messages);
    assert_eq!(api_for(Anthropic, "/v1/messages?beta=true"), Api::Messages);
    assert_eq!(api_for(Anthropic, "/v1/messages/count_tokens"), Api::Other);
    assert_eq!(api_for(OpenAi, "/v1/threads/t1/messages"), Api::Other);
    assert_eq!(
        api_for(OpenAi, "/v1/chat/completions"),
        Api::ChatCompletions
    );
    assert_eq!(api_for(OpenAi, "/responses"), Api::Responses);
    assert_eq!(
        api_for(OpenAi, "/backend-api/codex/responses"),
        Api::Responses
    );
    assert_eq!(api_for(OpenAi, "/v1/models"), Api::Other);
}

#[test]
fn anthropic_text_stream_fixture_whole_and_byte_by_byte() {
    let bytes = fixture("anthropic/messages_text.sse");
    for chunk in [bytes.len(), 7, 1] {
        let a = stream(Api::Messages, &bytes, chunk);
        assert_eq!(a.text, "The weather in Paris is 18°C and sunny.");
        assert_eq!(a.id.as_deref(), Some("msg_01Tw6yNc4hJr9XbQk5VmGp8e"));
        assert_eq!(a.model.as_deref(), Some("claude-sonnet-4-6"));
        assert_eq!(a.stop_reason.as_deref(), Some("end_turn"));
        assert_eq!(usage(&a), [498, 19, 11776, 0, 0, 12293]);
        assert_eq!(a.events, 8);
        assert_eq!(a.first_content_ms, Some(30.0)); // the first text_delta, after start/block/ping
        assert_eq!(a.error_type, None);
        assert!(a.tool_calls.is_empty() && a.thinking.is_empty());
    }
}

#[test]
fn anthropic_tool_stream_and_json_fixtures() {
    let a = stream(Api::Messages, &fixture("anthropic/messages_tool.sse"), 64);
    assert_eq!(a.text, "I'll check the current weather in Paris for you ☀️");
    assert_eq!(
        a.tool_calls,
        vec![weather_call("toolu_01Hb7RcVt2WqYx9KmN3fZd5P")]
    );
    assert_eq!(a.stop_reason.as_deref(), Some("tool_use"));
    assert_eq!(
        usage(&a),
        [412, 71, 10240, 1536, 0, 412 + 71 + 10240 + 1536]
    );

    let j = assemble_json(Api::Messages, &fixture("anthropic/messages_tool.json"));
    assert_eq!(j.text, "I'll check the current weather in Paris for you ☀️");
    assert_eq!(
        j.tool_calls,
        vec![weather_call("toolu_01GkXz4Qm7bVn2TfRw8YpL3s")]
    );
    assert_eq!(j.stop_reason.as_deref(), Some("tool_use"));
    assert_eq!(usage(&j), [412, 71, 10240, 1536, 0, 12259]);
    assert_eq!(
        j.usage.raw.as_ref().map(|r| r["service_tier"].clone()),
        Some(json!("standard"))
    );
    assert_eq!(j.events, 0);

    let t = assemble_json(Api::Messages, &fixture("anthropic/messages_text.json"));
    assert_eq!(t.text, "The weather in Paris is 18°C and sunny.");
    assert_eq!(t.id.as_deref(), Some("msg_01Pq3mKx8vWz5TnHy2RbLs7c"));
    assert_eq!(usage(&t), [498, 19, 11776, 0, 0, 12293]);
}

#[test]
fn f6_thinking_and_signature_kept_exactly() {
    let bytes = fixture("anthropic/thinking_tool.sse");
    let source = String::from_utf8_lossy(&bytes);
    let signature = source
        .split("\"signature\":\"")
        .nth(2)
        .and_then(|s| s.split('"').next())
        .unwrap();
    assert!(signature.len() > 100);
    let a = stream(Api::Messages, &bytes, 13);
    assert_eq!(
        a.thinking,
        vec![ThinkingBlock {
            text: "The user wants the current weather in Paris. I should call get_weather with city Paris and unit celsius."
                .into(),
            signature: Some(signature.into()),
            redacted_data: None,
        }]
    );
    assert_eq!(
        a.tool_calls,
        vec![weather_call("toolu_01Jc5KpWs8TzRb3QyV6nXm2L")]
    );
    assert_eq!(a.text, "");
    assert_eq!(a.first_content_ms, Some(20.0));
    assert_eq!(usage(&a), [1893, 142, 14336, 0, 0, 1893 + 142 + 14336]);
}

#[test]
fn f7_f8_redacted_thinking_then_error_after_200() {
    let a = stream(
        Api::Messages,
        &fixture("anthropic/overloaded_after_200.sse"),
        5,
    );
    assert_eq!(a.error_type.as_deref(), Some("overloaded_error"));
    assert_eq!(a.error_message.as_deref(), Some("Overloaded"));
    assert_eq!(a.text, "Partial answer, then the provider ");
    assert_eq!(a.thinking.len(), 1);
    assert_eq!(a.thinking[0].text, "");
    assert!(a.thinking[0]
        .redacted_data
        .as_deref()
        .is_some_and(|d| d.starts_with("EmwKAhgB") && d.ends_with("5URj")));
    assert_eq!(a.stop_reason, None);
    assert_eq!(usage(&a), [120, 1, 0, 0, 0, 121]);

    let body = json!({"type": "message", "id": "msg_1", "model": "m", "stop_reason": "end_turn", "content": [
        {"type": "redacted_thinking", "data": "opaque=="},
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "x"}},
        {"type": "text", "text": "done"}]});
    let j = assemble_json(Api::Messages, body.to_string().as_bytes());
    assert_eq!(j.thinking[0].redacted_data.as_deref(), Some("opaque=="));
    assert_eq!(j.other_blocks, vec![body["content"][1].clone()]);
    assert_eq!(j.text, "done");
}

#[test]
fn unknown_streamed_blocks_are_kept_with_their_deltas() {
    let events = [
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "server_tool_use", "id": "s1", "name": "web_search", "input": {}}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"query\":"}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "\"paris\"}"}}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "future_block"}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "future_delta", "x": 1}}),
        json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{bad"}}),
    ];
    let a = frames(Api::Messages, &events);
    assert_eq!(a.other_blocks[0]["input"], json!({"query": "paris"}));
    assert_eq!(
        a.other_blocks[1]["deltas"],
        json!([{"type": "future_delta", "x": 1}])
    );
    // Invalid JSON arguments are kept as the string they were.
    assert_eq!(a.tool_calls[0].input, json!("{bad"));
}

#[test]
fn f15_cache_usage_last_not_summed() {
    let start = json!({"type": "message_start", "message": {"id": "msg_f15", "usage": {"input_tokens": 3136,
        "cache_creation_input_tokens": 512, "cache_read_input_tokens": 6240, "output_tokens": 1}}});
    let delta = json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 310}});
    let a = frames(Api::Messages, &[start, delta.clone(), delta]);
    assert_eq!(
        usage(&a),
        [3136, 310, 6240, 512, 0, 3136 + 310 + 6240 + 512]
    );
    assert_eq!(
        a.usage.raw,
        Some(
            json!({"input_tokens": 3136, "cache_creation_input_tokens": 512,
            "cache_read_input_tokens": 6240, "output_tokens": 310})
        )
    );

    let usage_json = json!({"input_tokens": 9888, "input_tokens_details": {"cached_tokens": 6752},
        "output_tokens": 310, "output_tokens_details": {"reasoning_tokens": 128}});
    let done = json!({"type": "response.completed", "response": {"id": "resp_f15", "status": "completed", "usage": usage_json}});
    let r = frames(Api::Responses, &[done]);
    assert_eq!(usage(&r), [9888 - 6752, 310, 6752, 0, 128, 9888 + 310]);
    assert_eq!(r.usage.raw, Some(usage_json));
    assert_eq!(r.stop_reason.as_deref(), Some("completed"));
}

#[test]
fn request_summaries() {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "anthropic-beta",
        "interleaved-thinking-2025-05-14, context-management-2025-06-27,"
            .parse()
            .unwrap(),
    );
    let body = json!({"model": "claude-sonnet-4-6", "stream": true, "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "is_error": true, "content": "no"},
                                     {"type": "tool_result", "tool_use_id": "t2", "content": []}]}]});
    let s = summarize_request(Api::Messages, &headers, body.to_string().as_bytes());
    assert_eq!(
        (s.model.as_deref(), s.stream, s.message_count),
        (Some("claude-sonnet-4-6"), true, 3)
    );
    let result = |id: &str, is_error| ToolResultRef {
        tool_use_id: id.into(),
        is_error,
    };
    assert_eq!(
        s.tool_results,
        vec![result("t1", Some(true)), result("t2", Some(false))]
    );
    assert_eq!(
        s.betas,
        vec![
            "interleaved-thinking-2025-05-14",
            "context-management-2025-06-27"
        ]
    );

    let chat = json!({"model": "gpt-5.4", "messages": [{"role": "user", "content": "x"},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"}]});
    let s = summarize_request(
        Api::ChatCompletions,
        &http::HeaderMap::new(),
        chat.to_string().as_bytes(),
    );
    assert_eq!(
        (s.stream, s.message_count, s.tool_results.clone()),
        (false, 2, vec![result("call_1", None)])
    );

    let responses = json!({"model": "gpt-5.4", "stream": true, "input": [{"role": "user", "content": "x"},
        {"type": "function_call", "call_id": "call_a"}, {"type": "function_call_output", "call_id": "call_a", "output": "ok"},
        {"type": "custom_tool_call_output", "call_id": "call_b", "output": "done"}]});
    let s = summarize_request(
        Api::Responses,
        &http::HeaderMap::new(),
        responses.to_string().as_bytes(),
    );
    assert_eq!(s.message_count, 4);
    assert_eq!(
        s.tool_results,
        vec![result("call_a", None), result("call_b", None)]
    );
    let s = summarize_request(
        Api::Responses,
        &http::HeaderMap::new(),
        br#"{"input":"hello"}"#,
    );
    assert_eq!(s.message_count, 1);

    let s = summarize_request(Api::Messages, &headers, b"{not json");
    assert_eq!((s.model, s.message_count, s.betas.len()), (None, 0, 2));
}

#[test]
fn odd_input_never_panics() {
    let odd = [
        json!(null),
        json!(1),
        json!("x"),
        json!([]),
        json!({}),
        json!({"index": -1}),
        json!({"index": "0"}),
    ];
    let kinds = [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "message_delta",
        "error",
        "response.output_item.added",
        "response.output_text.delta",
        "response.function_call_arguments.done",
        "response.reasoning_summary_text.done",
        "response.completed",
        "response.failed",
        "x",
    ];
    for api in [
        Api::Messages,
        Api::ChatCompletions,
        Api::Responses,
        Api::Other,
    ] {
        let mut assembler = StreamAssembler::new(api);
        for kind in kinds {
            for value in &odd {
                let keys = [
                    "message",
                    "content_block",
                    "delta",
                    "usage",
                    "item",
                    "response",
                    "choices",
                    "error",
                    "output",
                ];
                for key in keys {
                    assembler.event(0.0, Some(kind), &json!({"type": kind, key: value}));
                    assembler.event(0.0, Some(kind), &json!({"type": kind, key: {"usage": value, "content": value,
                        "tool_calls": [value], "function": value, "output": [value], "type": value}}));
                }
                assembler.event(0.0, Some(kind), value);
                let _ = assemble_json(api, value.to_string().as_bytes());
                let _ = summarize_request(
                    api,
                    &http::HeaderMap::new(),
                    json!({"messages": [value], "input": [value]})
                        .to_string()
                        .as_bytes(),
                );
            }
        }
        let _ = assembler.finish();
        for body in [&b""[..], b"\xff", b"[]", b"{\"usage\":{\"input_tokens\":18446744073709551615,\"output_tokens\":18446744073709551615}}"] {
            let _ = assemble_json(api, body);
        }
    }
}
