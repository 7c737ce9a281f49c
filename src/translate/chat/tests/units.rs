//! Checks that do not depend on an expected file: protocol invariants over every stream fixture
//! (so a wrong golden file cannot hide a broken guarantee), `fail` and EOF handling, the
//! argument-completeness scanner, errors in the Chat client's shape (429 + retry-after, overload,
//! a local Unmappable as a 400 naming the field), and the untranslated-pair stream.

use super::{
    cut_sets, inputs, name, parse_sse, read, run, view, Feed, ANTHROPIC_CLIENT_MODEL,
    CHAT_CLIENT_MODEL, CREATED,
};
use crate::translate::chat::blocks::JsonScan;
use crate::translate::chat::{stream_to_anthropic::ToAnthropic, stream_to_chat::ToChat};
use crate::translate::{self, errors, Dialect, MaxTokensField, Stream, Target};
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn frames(out: &[u8]) -> Vec<(Option<String>, Value)> {
    parse_sse(out)
        .into_iter()
        .map(|e| {
            let data = if e.data == "[DONE]" {
                json!("[DONE]")
            } else {
                serde_json::from_str(&e.data).unwrap_or_else(|err| panic!("{}: {err}", e.data))
            };
            (e.event, data)
        })
        .collect()
}

/// The Anthropic stream contract (F17, one counter, one block at a time, one terminal event).
fn anthropic_invariants(label: &str, out: &[u8]) {
    let events = frames(out);
    assert_eq!(
        events.first().map(|(_, d)| d["type"].clone()),
        Some(json!("message_start")),
        "{label}: starts with message_start (every fixture sends a chunk first)"
    );
    let mut next = 0u64;
    let mut open: Option<u64> = None;
    let mut tool_json: BTreeMap<u64, String> = BTreeMap::new();
    let mut stop_reason = None;
    for (i, (name, data)) in events.iter().enumerate() {
        let kind = data["type"].as_str().unwrap_or("");
        assert_eq!(
            name.as_deref(),
            Some(kind),
            "{label}: event name = data.type"
        );
        let last = i + 1 == events.len();
        match kind {
            "content_block_start" => {
                assert_eq!(open, None, "{label}: a block started inside another");
                assert_eq!(
                    data["index"],
                    json!(next),
                    "{label}: indices from one counter"
                );
                let block = &data["content_block"];
                assert_ne!(block["type"], "thinking", "{label}: no invented thinking");
                if block["type"] == "tool_use" {
                    assert_eq!(block["input"], json!({}), "{label}: F17 input {{}}");
                    assert!(block["id"].as_str().is_some_and(|s| !s.is_empty()));
                    tool_json.insert(next, String::new());
                }
                open = Some(next);
                next += 1;
            }
            "content_block_delta" => {
                assert_eq!(
                    data["index"].as_u64(),
                    open,
                    "{label}: delta outside its block"
                );
                if let Some(partial) = data["delta"]["partial_json"].as_str() {
                    let index = data["index"].as_u64().unwrap_or(u64::MAX);
                    tool_json.entry(index).or_default().push_str(partial);
                }
            }
            "content_block_stop" => {
                assert_eq!(data["index"].as_u64(), open, "{label}");
                open = None;
            }
            "message_delta" => {
                assert_eq!(open, None, "{label}: message_delta with a block open");
                stop_reason = data["delta"]["stop_reason"].as_str().map(str::to_string);
                assert!(data["usage"]["input_tokens"].is_u64(), "{label}: usage");
            }
            "message_start" => assert_eq!(i, 0, "{label}: a second message_start"),
            "message_stop" | "error" => assert!(last, "{label}: events after the terminal one"),
            other => panic!("{label}: unexpected event {other}"),
        }
    }
    let terminal = events.last().map(|(_, d)| d["type"].clone());
    assert!(
        terminal == Some(json!("message_stop")) || terminal == Some(json!("error")),
        "{label}: ends with message_stop or error, not {terminal:?}"
    );
    if terminal == Some(json!("message_stop")) && stop_reason.as_deref() != Some("max_tokens") {
        for (index, text) in &tool_json {
            let parsed: Result<Value, _> = serde_json::from_str(text);
            assert!(
                parsed.as_ref().is_ok_and(Value::is_object),
                "{label}: block {index} arguments {text:?} are not a JSON object"
            );
        }
    }
}

/// The Chat stream contract: finish reason then optional usage then `[DONE]`, or an error chunk
/// and nothing else; assembled tool arguments are JSON objects.
fn chat_invariants(label: &str, out: &[u8], include_usage: bool) {
    let events = frames(out);
    let mut args: BTreeMap<u64, String> = BTreeMap::new();
    let mut finish = None;
    let mut usage_chunks = 0;
    for (i, (name, data)) in events.iter().enumerate() {
        assert_eq!(name, &None, "{label}: Chat frames have no event name");
        let last = i + 1 == events.len();
        if data == "[DONE]" || data.get("error").is_some() {
            assert!(last, "{label}: frames after the terminal one");
            if data == "[DONE]" {
                assert!(finish.is_some(), "{label}: [DONE] without a finish_reason");
            }
            continue;
        }
        assert!(data.get("reasoning_content").is_none());
        assert_eq!(data["model"], CHAT_CLIENT_MODEL, "{label}");
        let choices = data["choices"].as_array().cloned().unwrap_or_default();
        if choices.is_empty() {
            usage_chunks += 1;
            assert!(finish.is_some(), "{label}: usage before the finish_reason");
            continue;
        }
        let choice = &choices[0];
        assert_eq!(
            finish, None,
            "{label}: a choice chunk after the finish_reason"
        );
        assert!(
            choice["delta"].get("reasoning_content").is_none(),
            "{label}"
        );
        for call in choice["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let index = call["index"].as_u64().unwrap_or(u64::MAX);
            let piece = call["function"]["arguments"].as_str().unwrap_or("");
            args.entry(index).or_default().push_str(piece);
        }
        finish = choice["finish_reason"].as_str().map(str::to_string);
    }
    let done = events.last().is_some_and(|(_, d)| d == "[DONE]");
    if done {
        let want = usize::from(include_usage);
        assert_eq!(usage_chunks, want, "{label}: F16 usage chunk count");
        for (index, text) in &args {
            let parsed: Result<Value, _> = serde_json::from_str(text);
            assert!(
                parsed.as_ref().is_ok_and(Value::is_object),
                "{label}: tool {index} arguments {text:?} are not a JSON object"
            );
        }
    } else {
        assert!(
            events.last().is_some_and(|(_, d)| d.get("error").is_some()),
            "{label}: neither [DONE] nor an error at the end"
        );
    }
}

#[test]
fn every_anthropic_client_stream_keeps_the_contract_at_every_split() {
    let cases = inputs("anthropic_client/stream", ".sse");
    assert!(cases.len() >= 14);
    for input in &cases {
        let bytes = read(input);
        for (how, cuts) in cut_sets(&bytes).into_iter().step_by(3) {
            let out = run(
                ToAnthropic::new(view(ANTHROPIC_CLIENT_MODEL, true, false)),
                &bytes,
                &cuts,
            );
            anthropic_invariants(&format!("{} ({how})", name(input)), &out);
        }
    }
}

#[test]
fn every_chat_client_stream_keeps_the_contract_with_and_without_usage() {
    let cases = inputs("chat_client/stream", ".sse");
    assert!(cases.len() >= 7);
    for input in &cases {
        let bytes = read(input);
        for usage in [true, false] {
            for (how, cuts) in cut_sets(&bytes).into_iter().step_by(5) {
                let stream = ToChat::new(view(CHAT_CLIENT_MODEL, true, usage), CREATED);
                let out = run(stream, &bytes, &cuts);
                let label = format!("{} usage={usage} ({how})", name(input));
                chat_invariants(&label, &out, usage);
            }
        }
    }
}

/// `fail` (the provider connection broke) gives one error event in the client's dialect, and
/// nothing after it: not a second error at EOF, not the rest of the provider's bytes.
fn fail_once<F: Feed>(mut stream: F, input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let half = input.len() / 2;
    stream.push(&input[..half], &mut out);
    let before = out.len();
    stream.fail("provider connection reset", &mut out);
    let after_fail = out.len();
    assert!(after_fail > before, "fail wrote nothing");
    stream.push(&input[half..], &mut out);
    stream.finish(&mut out);
    stream.fail("again", &mut out);
    assert_eq!(out.len(), after_fail, "output after the error event");
    out
}

#[test]
fn fail_mid_stream_is_one_error_event_in_the_client_dialect() {
    let input = read(
        &std::path::Path::new(super::ROOT).join("anthropic_client/stream/parallel_interleaved.sse"),
    );
    let out = fail_once(
        ToAnthropic::new(view(ANTHROPIC_CLIENT_MODEL, true, false)),
        &input,
    );
    let events = frames(&out);
    let (name, last) = events.last().cloned().unwrap_or_default();
    assert_eq!(name.as_deref(), Some("error"));
    assert_eq!(last["error"]["message"], "provider connection reset");
    assert_eq!(last["error"]["type"], "api_error");
    assert_eq!(
        events
            .iter()
            .filter(|(n, _)| n.as_deref() == Some("error"))
            .count(),
        1
    );

    let input =
        read(&std::path::Path::new(super::ROOT).join("chat_client/stream/text_cache_usage.sse"));
    let out = fail_once(
        ToChat::new(view(CHAT_CLIENT_MODEL, true, true), CREATED),
        &input,
    );
    let events = frames(&out);
    let last = &events.last().expect("frames").1;
    assert_eq!(last["error"]["message"], "provider connection reset");
    assert_eq!(last["error"]["type"], "server_error");
    assert!(
        !events.iter().any(|(_, d)| d == "[DONE]"),
        "no [DONE] after a failure"
    );
}

#[test]
fn empty_provider_stream_is_an_error_never_a_success() {
    let out = run(
        ToAnthropic::new(view(ANTHROPIC_CLIENT_MODEL, true, false)),
        b"",
        &[],
    );
    let events = frames(&out);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].1["type"], "error");
    let out = run(
        ToChat::new(view(CHAT_CLIENT_MODEL, true, true), CREATED),
        b"",
        &[],
    );
    let events = frames(&out);
    assert_eq!(events.len(), 1);
    assert!(events[0].1.get("error").is_some());
}

/// Text that arrives while a tool call's arguments are incomplete is deferred to its own block
/// after the call, never lost and never mixed into the arguments.
#[test]
fn text_during_an_open_tool_call_waits_for_it() {
    let chunk = |delta: Value, finish: Value| {
        let c = json!({"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        format!("data: {c}\n\n")
    };
    let call = |args: &str| json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": args}}]});
    let input = [
        chunk(call("{\"a\":"), Value::Null),
        chunk(json!({"content": "note"}), Value::Null),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
            Value::Null,
        ),
        chunk(json!({}), json!("tool_calls")),
        "data: [DONE]\n\n".to_string(),
    ]
    .concat();
    let out = run(
        ToAnthropic::new(view("m", true, false)),
        input.as_bytes(),
        &[],
    );
    anthropic_invariants("deferred text", &out);
    let starts: Vec<Value> = frames(&out)
        .into_iter()
        .filter(|(n, _)| n.as_deref() == Some("content_block_start"))
        .map(|(_, d)| d["content_block"]["type"].clone())
        .collect();
    assert_eq!(starts, vec![json!("tool_use"), json!("text")]);
    assert!(String::from_utf8_lossy(&out).contains("\"text\":\"note\""));
}

#[test]
fn json_scan_completes_only_at_the_closing_brace_whatever_the_split() {
    let text = r#"{"a":"}\"{","b":[1,{"c":"\\"}],"d":"é"}"#;
    for cut in 0..=text.len() {
        if !text.is_char_boundary(cut) {
            continue;
        }
        let mut scan = JsonScan::default();
        scan.feed(&text[..cut]);
        assert_eq!(scan.complete, cut == text.len(), "cut {cut}");
        scan.feed(&text[cut..]);
        assert!(scan.complete, "cut {cut}");
    }
}

fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (k, v) in pairs {
        map.insert(
            *k,
            http::HeaderValue::from_str(v).unwrap_or(http::HeaderValue::from_static("")),
        );
    }
    map
}

/// Provider errors reach a Chat client in OpenAI's shape (with `retry-after` in seconds) and an
/// Anthropic client in Anthropic's, through the public `translate::error`.
#[test]
fn provider_errors_take_the_client_shape() {
    let anthropic_429 = br#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}"#;
    let got = translate::error(
        Dialect::Chat,
        Dialect::Anthropic,
        429,
        &headers(&[("retry-after", "17")]),
        anthropic_429,
    );
    assert_eq!((got.status, got.retry_after.as_deref()), (429, Some("17")));
    let body: Value = serde_json::from_slice(&got.body).unwrap_or_default();
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert!(body.get("type").is_none(), "not the Anthropic shape");

    let overloaded =
        br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
    let got = translate::error(
        Dialect::Chat,
        Dialect::Anthropic,
        529,
        &headers(&[]),
        overloaded,
    );
    assert_eq!(got.status, 503, "529 is Anthropic-only");
    let body: Value = serde_json::from_slice(&got.body).unwrap_or_default();
    assert_eq!(body["error"]["code"], "overloaded");

    let openai_429 = br#"{"error":{"message":"Rate limit reached for requests","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
    let got = translate::error(
        Dialect::Anthropic,
        Dialect::Chat,
        429,
        &headers(&[("retry-after-ms", "2300")]),
        openai_429,
    );
    assert_eq!((got.status, got.retry_after.as_deref()), (429, Some("3")));
    let body: Value = serde_json::from_slice(&got.body).unwrap_or_default();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "rate_limit_error");
}

/// A field that cannot be mapped is a 400 in the client's shape whose message names it.
#[test]
fn unmappable_fields_become_a_400_naming_the_field() {
    let target = Target {
        model: "claude-sonnet-4-6",
        max_tokens_field: MaxTokensField::MaxCompletionTokens,
        default_max_tokens: Some(4096),
    };
    let chat_body =
        br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"logit_bias":{"50256":-100}}"#;
    let err = translate::request(Dialect::Chat, Dialect::Anthropic, chat_body, &target)
        .expect_err("logit_bias cannot be kept");
    let answer = errors::local(Dialect::Chat, &err);
    assert_eq!(answer.status, 400);
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("`logit_bias`"));

    let anthropic_body =
        br#"{"model":"m","max_tokens":10,"top_k":5,"messages":[{"role":"user","content":"hi"}]}"#;
    let err = translate::request(Dialect::Anthropic, Dialect::Chat, anthropic_body, &target)
        .expect_err("top_k cannot be kept");
    let answer = errors::local(Dialect::Anthropic, &err);
    assert_eq!(answer.status, 400);
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("`top_k`"));
}

/// A pair nothing translates still answers with the client's error event, once.
#[test]
fn untranslated_pair_stream_is_the_client_error_event() {
    let mut stream = Stream::new(Dialect::Chat, Dialect::Responses, view("m", true, true));
    let mut out = Vec::new();
    stream.push(b"event: response.created\ndata: {}\n\n", &mut out);
    stream.push(b"more", &mut out);
    stream.finish(&mut out);
    let events = frames(&out);
    assert_eq!(events.len(), 1, "{}", String::from_utf8_lossy(&out));
    assert_eq!(events[0].1["error"]["type"], "server_error");
}
