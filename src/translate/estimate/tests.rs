//! The local token estimate: the documented arithmetic on a tiny request, monotonic growth, and
//! sane magnitudes on the request fixtures (images are not counted as base64 text).

use super::*;
use serde_json::json;

fn est(v: &Value) -> u64 {
    estimate_input_tokens(v.to_string().as_bytes()).unwrap()
}

fn user(content: Value) -> Value {
    json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": content}]})
}

#[test]
fn documented_arithmetic_on_a_tiny_request() {
    // 12 ASCII bytes -> 3, + request 3, + one message 4.
    assert_eq!(
        est(&user(json!("hello world!"))),
        3 + PER_REQUEST + PER_MESSAGE
    );
    // Non-ASCII characters weigh one token each: 4 CJK characters.
    assert_eq!(est(&user(json!("東京大学"))), 4 + PER_REQUEST + PER_MESSAGE);
}

#[test]
fn grows_with_everything_the_request_adds() {
    let base = user(json!([{"type": "text", "text": "Summarise this file."}]));
    let mut steps = vec![base.clone()];

    let mut longer = base.clone();
    longer["messages"][0]["content"][0]["text"] =
        json!("Summarise this file, please, in two lines.");
    steps.push(longer.clone());

    let mut with_system = longer.clone();
    with_system["system"] = json!([{"type": "text", "text": "You are terse."}]);
    steps.push(with_system.clone());

    let mut with_tool = with_system.clone();
    with_tool["tools"] = json!([{"name": "Read", "description": "Read a file.",
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}]);
    steps.push(with_tool.clone());

    let mut with_turns = with_tool.clone();
    if let Some(messages) = with_turns["messages"].as_array_mut() {
        messages.push(json!({"role": "assistant", "content": [
            {"type": "tool_use", "id": "t1", "name": "Read", "input": {"path": "a.rs"}}]}));
        messages.push(json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "fn main() {}"}]}));
    }
    steps.push(with_turns.clone());

    let mut with_image = with_turns.clone();
    if let Some(content) = with_image["messages"][0]["content"].as_array_mut() {
        content.push(json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}));
    }
    steps.push(with_image);

    let counts: Vec<u64> = steps.iter().map(est).collect();
    assert!(counts.windows(2).all(|w| w[0] < w[1]), "{counts:?}");
}

#[test]
fn image_payload_is_a_fixed_cost_not_text() {
    let big = "A".repeat(1_000_000);
    let v = user(
        json!([{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": big}}]),
    );
    let n = est(&v);
    assert!((PER_IMAGE..PER_IMAGE + 50).contains(&n), "{n}");
}

#[test]
fn thinking_is_not_counted() {
    let plain = json!({"model": "m", "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "text", "text": "hello"}]}]});
    let mut with_thinking = plain.clone();
    if let Some(content) = with_thinking["messages"][1]["content"].as_array_mut() {
        content.insert(0, json!({"type": "thinking", "thinking": "long private reasoning ".repeat(50), "signature": "sig"}));
    }
    assert_eq!(est(&plain), est(&with_thinking));
}

#[test]
fn sane_on_the_claude_code_fixture() {
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/translate/responses/request_claude_code.json"
    ))
    .unwrap();
    let n = estimate_input_tokens(&body).unwrap();
    // Two images at a fixed cost, plus text: more than the images, well under one token per byte.
    assert!(n > 2 * PER_IMAGE, "{n}");
    assert!(n < 2 * PER_IMAGE + body.len() as u64 / 3, "{n}");
}

#[test]
fn english_prose_lands_near_four_characters_per_token() {
    let prose = "The quick brown fox jumps over the lazy dog while the proxy translates requests. "
        .repeat(25);
    let n = est(&user(json!(prose.clone())));
    let chars = prose.len() as u64;
    assert!(n >= chars / 5 && n <= chars / 3, "{n} for {chars} chars");
}

#[test]
fn invalid_requests_are_refused() {
    assert!(matches!(
        estimate_input_tokens(b"{"),
        Err(TranslateError::Invalid(_))
    ));
    assert!(matches!(
        estimate_input_tokens(b"{\"model\":\"m\"}"),
        Err(TranslateError::Invalid(_))
    ));
}
