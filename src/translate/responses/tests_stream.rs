//! Golden tests for the Responses SSE -> Anthropic SSE translator: every fixture is fed whole,
//! one byte at a time and cut at several awkward points, and must give byte-identical output that
//! matches the hand-written `*.expected.sse` event for event.

use super::super::{Dialect, Stream};
use super::tests::{fixture, view};
use serde_json::{json, Value};

/// Feeds `input` in the given pieces, then EOF.
fn run(pieces: &[&[u8]]) -> Vec<u8> {
    let mut stream = Stream::new(Dialect::Anthropic, Dialect::Responses, view());
    let mut out = Vec::new();
    for piece in pieces {
        stream.push(piece, &mut out);
    }
    stream.finish(&mut out);
    out
}

/// Every split the stream tests use: whole, byte by byte, and cuts inside multi-byte characters,
/// inside `event:` lines, between `\r` and `\n`, and in the middle of JSON strings.
fn splits(input: &[u8]) -> Vec<Vec<&[u8]>> {
    let mut all = vec![
        vec![input],
        input.chunks(1).collect(),
        input.chunks(7).collect(),
    ];
    let text = String::from_utf8_lossy(input);
    let mut cuts = vec![input.len() / 3, input.len() / 2, input.len() - 1];
    for needle in ["°", "☀", "ü", "\r\n", "event: resp", "\"delta\":\"", "\n\n"] {
        if let Some(i) = text.find(needle) {
            cuts.push(i + 1);
        }
    }
    for cut in cuts.into_iter().filter(|&c| 0 < c && c < input.len()) {
        all.push(vec![&input[..cut], &input[cut..]]);
    }
    all
}

/// Parses Anthropic SSE output, checking each frame is exactly `event: NAME\ndata: JSON` with
/// `data.type == NAME`.
fn frames(out: &[u8]) -> Vec<(String, Value)> {
    let text = String::from_utf8(out.to_vec()).expect("output is UTF-8");
    assert!(
        text.is_empty() || text.ends_with("\n\n"),
        "unterminated: {text:?}"
    );
    text.split_terminator("\n\n")
        .map(|frame| {
            let (event, data) = frame
                .strip_prefix("event: ")
                .and_then(|f| f.split_once("\ndata: "))
                .unwrap_or_else(|| panic!("bad frame {frame:?}"));
            assert!(!data.contains('\n'), "multi-line data in {frame:?}");
            let value: Value = serde_json::from_str(data).expect("data is JSON");
            assert_eq!(value["type"], event, "{frame}");
            (event.to_string(), value)
        })
        .collect()
}

fn check(input_name: &str, expected_name: &str) -> Vec<(String, Value)> {
    let input = fixture(input_name);
    let whole = run(&[&input]);
    for pieces in splits(&input) {
        assert_eq!(
            run(&pieces),
            whole,
            "{input_name}: different output for {} pieces",
            pieces.len()
        );
    }
    let got = frames(&whole);
    let expected = frames(&fixture(expected_name));
    assert_eq!(got.len(), expected.len(), "{input_name}: {got:#?}");
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "{input_name}: event {i}");
    }
    assert_invariants(input_name, &got);
    got
}

/// Structural guarantees every translated stream keeps, whatever the fixture says.
fn assert_invariants(name: &str, events: &[(String, Value)]) {
    let mut open: Option<u64> = None;
    let mut next = 0;
    for (event, data) in events {
        match event.as_str() {
            "content_block_start" => {
                assert_eq!(open, None, "{name}: a block started inside another");
                assert_eq!(data["index"], next, "{name}: indices from one counter");
                open = data["index"].as_u64();
                next += 1;
                let block = &data["content_block"];
                if block["type"] == "tool_use" {
                    assert_eq!(block["input"], json!({}), "{name}: F17");
                }
            }
            "content_block_delta" => assert_eq!(data["index"].as_u64(), open, "{name}"),
            "content_block_stop" => {
                assert_eq!(data["index"].as_u64(), open, "{name}");
                open = None;
            }
            _ => {}
        }
    }
    let last = events.last().map(|(e, _)| e.as_str());
    assert!(
        matches!(last, Some("message_stop" | "error")),
        "{name}: ends with {last:?}"
    );
    assert_eq!(
        events.first().map(|(e, _)| e.as_str()),
        Some("message_start")
    );
}

/// The assembled input of each tool_use block, as a client would build it.
fn tool_inputs(events: &[(String, Value)]) -> Vec<Value> {
    let mut json = Vec::<String>::new();
    let mut tool_blocks = Vec::new();
    for (event, data) in events {
        if event == "content_block_start" && data["content_block"]["type"] == "tool_use" {
            tool_blocks.push(data["index"].clone());
            json.push(String::new());
        }
        if event == "content_block_delta" && data["delta"]["type"] == "input_json_delta" {
            let i = tool_blocks
                .iter()
                .position(|b| *b == data["index"])
                .expect("tool block");
            json[i].push_str(data["delta"]["partial_json"].as_str().unwrap_or(""));
        }
    }
    json.iter()
        .map(|s| serde_json::from_str(s).unwrap_or_else(|e| panic!("{s:?}: {e}")))
        .collect()
}

#[test]
fn text_with_reasoning_omitted_and_cache_usage() {
    let got = check("stream_text.sse", "stream_text.expected.sse");
    assert!(!got.iter().any(|(_, d)| d.to_string().contains("Answering")));
}

#[test]
fn tool_deltas_and_done_are_not_doubled() {
    let got = check(
        "stream_tool_deltas_and_done.sse",
        "stream_tool_deltas_and_done.expected.sse",
    );
    assert_eq!(
        tool_inputs(&got),
        vec![json!({"path": "src/ü.rs", "limit": 40})]
    );
}

#[test]
fn tool_arguments_only_in_done_give_one_delta() {
    let got = check(
        "stream_tool_args_only_done.sse",
        "stream_tool_args_only_done.expected.sse",
    );
    let deltas = got
        .iter()
        .filter(|(e, _)| e == "content_block_delta")
        .count();
    assert_eq!(deltas, 1);
    assert_eq!(
        tool_inputs(&got),
        vec![json!({"command": "ls -la", "description": "List files"})]
    );
}

#[test]
fn zero_argument_tool_assembles_to_empty_object() {
    let got = check(
        "stream_tool_zero_arg.sse",
        "stream_tool_zero_arg.expected.sse",
    );
    assert_eq!(tool_inputs(&got), vec![json!({})]);
}

#[test]
fn parallel_interleaved_calls_get_their_own_blocks() {
    let got = check(
        "stream_parallel_interleaved.sse",
        "stream_parallel_interleaved.expected.sse",
    );
    assert_eq!(
        tool_inputs(&got),
        vec![json!({"city": "Paris"}), json!({"city": "Tokyo"})]
    );
}

#[test]
fn incomplete_is_max_tokens() {
    check("stream_incomplete.sse", "stream_incomplete.expected.sse");
}

#[test]
fn failed_and_error_events_become_error_events() {
    let got = check("stream_failed.sse", "stream_failed.expected.sse");
    assert!(!got
        .iter()
        .any(|(_, d)| d.to_string().contains("never shown")));
    check("stream_error_event.sse", "stream_error_event.expected.sse");
}

#[test]
fn eof_without_terminal_is_an_error_never_a_success() {
    let got = check(
        "stream_eof_no_terminal.sse",
        "stream_eof_no_terminal.expected.sse",
    );
    assert!(!got
        .iter()
        .any(|(e, _)| e == "message_stop" || e == "message_delta"));
}

#[test]
fn shared_openai_fixtures_translate() {
    check(
        "../../openai/responses_tool.sse",
        "openai_responses_tool.expected.sse",
    );
    check(
        "../../openai/responses_text.sse",
        "openai_responses_text.expected.sse",
    );
}

fn sse(events: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        out.extend_from_slice(
            format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap_or("")).as_bytes(),
        );
    }
    out
}

#[test]
fn done_completes_partial_deltas_and_unannounced_calls_still_arrive() {
    let input = sse(&[
        json!({"type": "response.created", "response": {"id": "resp_x"}}),
        json!({"type": "response.output_item.added", "output_index": 0,
               "item": {"type": "function_call", "id": "fc_a", "call_id": "call_a", "name": "f", "arguments": ""}}),
        json!({"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "{\"a\":"}),
        // `.done` carries more than the deltas did: only the rest is sent.
        json!({"type": "response.function_call_arguments.done", "output_index": 0, "arguments": "{\"a\":1}"}),
        json!({"type": "response.output_item.done", "output_index": 0,
               "item": {"type": "function_call", "id": "fc_a", "call_id": "call_a", "name": "f", "arguments": "{\"a\":1}"}}),
        // A call whose only event is `output_item.done`.
        json!({"type": "response.output_item.done", "output_index": 1,
               "item": {"type": "function_call", "id": "fc_b", "call_id": "call_b", "name": "g", "arguments": "{\"b\":2}"}}),
        // A message whose text only appears in `output_item.done`.
        json!({"type": "response.output_item.done", "output_index": 2,
               "item": {"type": "message", "content": [{"type": "output_text", "text": "done."}]}}),
        json!({"type": "response.completed", "response": {"status": "completed", "usage": {"input_tokens": 3}}}),
    ]);
    let out = run(&[&input]);
    let got = frames(&out);
    assert_invariants("synthetic", &got);
    assert_eq!(tool_inputs(&got), vec![json!({"a": 1}), json!({"b": 2})]);
    let text: Vec<_> = got
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, vec!["done."]);
    let delta = got
        .iter()
        .find(|(e, _)| e == "message_delta")
        .map(|(_, d)| d.clone());
    assert_eq!(
        delta.as_ref().map(|d| d["delta"]["stop_reason"].clone()),
        Some(json!("tool_use"))
    );
    assert_eq!(
        delta.map(|d| d["usage"]["input_tokens"].clone()),
        Some(json!(3))
    );
}

#[test]
fn text_arriving_while_a_call_is_open_waits_for_it() {
    let input = sse(&[
        json!({"type": "response.created", "response": {"id": "resp_y"}}),
        json!({"type": "response.output_item.added", "output_index": 0,
               "item": {"type": "function_call", "call_id": "call_a", "name": "f", "arguments": ""}}),
        json!({"type": "response.output_item.added", "output_index": 1, "item": {"type": "message", "content": []}}),
        json!({"type": "response.output_text.delta", "output_index": 1, "content_index": 0, "delta": "after"}),
        json!({"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "{}"}),
        json!({"type": "response.output_item.done", "output_index": 0,
               "item": {"type": "function_call", "call_id": "call_a", "name": "f", "arguments": "{}"}}),
        json!({"type": "response.output_text.delta", "output_index": 1, "content_index": 0, "delta": " more"}),
        json!({"type": "response.completed", "response": {"status": "completed"}}),
    ]);
    let got = frames(&run(&[&input]));
    assert_invariants("interleaved text", &got);
    let names: Vec<_> = got.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(got[5].1["delta"]["text"], "after");
    assert_eq!(got[6].1["delta"]["text"], " more");
}

#[test]
fn fail_mid_stream_and_nothing_after_the_end() {
    let input = fixture("stream_text.sse");
    let cut = input.len() / 2;
    let mut stream = Stream::new(Dialect::Anthropic, Dialect::Responses, view());
    let mut out = Vec::new();
    stream.push(&input[..cut], &mut out);
    stream.fail("upstream read timed out", &mut out);
    let len = out.len();
    stream.push(&input[cut..], &mut out);
    stream.finish(&mut out);
    stream.fail("again", &mut out);
    assert_eq!(out.len(), len, "nothing may follow the error event");
    let got = frames(&out);
    let (event, data) = got.last().cloned().unwrap_or_default();
    assert_eq!(event, "error");
    assert_eq!(data["error"]["message"], "upstream read timed out");

    // After a clean end, EOF adds nothing.
    let mut stream = Stream::new(Dialect::Anthropic, Dialect::Responses, view());
    let mut out = Vec::new();
    stream.push(&input, &mut out);
    let len = out.len();
    stream.finish(&mut out);
    assert_eq!(out.len(), len);
}

#[test]
fn garbage_and_done_markers_are_ignored() {
    let mut input = b"data: [DONE]\n\n: keep-alive\n\ndata: {not json\n\n".to_vec();
    input.extend(fixture("stream_tool_zero_arg.sse"));
    input.extend_from_slice(b"data: [DONE]\n\n");
    let got = frames(&run(&[&input]));
    assert_eq!(got, frames(&fixture("stream_tool_zero_arg.expected.sse")));
}
