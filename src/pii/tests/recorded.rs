//! `Scope::Recording` on bodies where a skip rule could hide data: a long tool result made only of
//! base64-ish characters and `\n` escapes (a `.env` file), and tool call inputs, whose keys are
//! the model's own (`name`, `status`, `user_id` hold data there, not protocol).

use super::mask;
use crate::pii::{Counts, Scope};

fn recorded(body: &str) -> String {
    let mut counts = Counts::default();
    match mask().json_body(body.as_bytes(), Scope::Recording, &mut counts) {
        Some(out) => String::from_utf8(out).unwrap(),
        None => body.to_string(),
    }
}

const KEY: &str = "sk-ant-api03-Vb7Qm2Xr9Lk4Tn8Wc1Zp6Hy3Fd5Gs0Ja2Kq7Nw4Ex9Ru1Ti8Mo6Pl3Sv5Bc2AA";
const GITHUB: &str = "ghp_O1it8NduN4p7t70PRCIZVSuFmroazKp5zXU4";

#[test]
fn a_long_env_file_in_a_tool_result_is_text_not_base64() {
    let env = format!(
        "ANTHROPIC_API_KEY={KEY}\nGITHUB_TOKEN={GITHUB}\nDATABASE_URL=postgres\n{}",
        "FEATURE_FLAG_A=1\n".repeat(12)
    );
    let body = serde_json::json!({"messages": [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_01", "content": env}]}]})
    .to_string();
    // As written in JSON (escapes and all) it is long enough to have been taken for base64.
    let written = serde_json::to_string(&env).unwrap();
    assert!(written.len() > 256 && written.contains("\\n"), "{written}");
    let out = recorded(&body);
    assert!(!out.contains(KEY) && !out.contains(GITHUB), "{out}");
    assert!(out.contains("[SECRET:anthropic_key]") && out.contains("[SECRET:github_token]"));
    assert!(out.contains("toolu_01"), "ids stay");

    // Keys joined into one long word are not base64 data either.
    let joined = [KEY, GITHUB].repeat(3).join("-");
    let body = serde_json::json!({"messages": [{"role": "user", "content": joined}]}).to_string();
    let out = recorded(&body);
    assert!(!out.contains(KEY) && !out.contains(GITHUB), "{out}");

    // Real base64 (an image) is still skipped, `\/` escapes included.
    let image = format!("iVBORw0KGgo{}\\/AAAA", "QUJD".repeat(80));
    let body = format!(
        r#"{{"content":[{{"type":"image","source":{{"type":"base64","media_type":"image/png","data":"{image}"}}}},{{"type":"text","text":"blob {image}"}}]}}"#
    );
    assert_eq!(recorded(&body), body);
}

#[test]
fn every_key_of_a_tool_input_holds_data() {
    let email = "alice.liddell@example.com";
    let input = serde_json::json!({"name": email, "status": email, "user_id": email, "id": email});
    // An Anthropic tool_use in the conversation history.
    let body = serde_json::json!({"messages": [{"role": "assistant", "content": [
        {"type": "tool_use", "id": "toolu_02", "name": "CreateUser", "input": input}]}]})
    .to_string();
    let out = recorded(&body);
    assert!(!out.contains(email), "{out}");
    assert!(out.contains("\"name\":\"CreateUser\"") && out.contains("toolu_02"));
    // Chat `arguments`, a JSON text in a string.
    let body = serde_json::json!({"choices": [{"message": {"role": "assistant", "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "create_user", "arguments": input.to_string()}}]}}]})
    .to_string();
    let out = recorded(&body);
    assert!(!out.contains(email), "{out}");
    assert!(out.contains("create_user") && out.contains("call_1"));

    // The assembled input (what `tool_calls.input` and the search index get).
    let mut value = input.clone();
    mask().tool_input(&mut value, &mut Counts::default());
    assert_eq!(
        value,
        serde_json::json!({"name": "[EMAIL]", "status": "[EMAIL]", "user_id": "[EMAIL]", "id": "[EMAIL]"})
    );
}

#[test]
fn a_streamed_tool_input_split_mid_value_is_redacted_under_any_key() {
    let deltas = [
        "{\"name\": \"alice.lid",
        "dell@exam",
        "ple.com\", \"user_id\": \"bob@exa",
        "mple.org\"}",
    ];
    let mut sse = String::from(
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_03\",\"name\":\"CreateUser\",\"input\":{}}}\n\n",
    );
    for part in deltas {
        let event = serde_json::json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": part}});
        sse.push_str(&format!("event: content_block_delta\ndata: {event}\n\n"));
    }
    let out = mask()
        .sse_body(sse.as_bytes(), &mut Counts::default())
        .map(|b| String::from_utf8(b).unwrap())
        .unwrap_or(sse);
    for piece in ["alice", "dell@exam", "bob@exa", "mple.org"] {
        assert!(!out.contains(piece), "{piece} in {out}");
    }
    assert!(out.contains("[EMAIL]") && out.contains("toolu_03"));
}

#[test]
fn text_a_block_opens_with_joins_the_deltas_that_follow() {
    let start = serde_json::json!({"type": "content_block_start", "index": 0,
        "content_block": {"type": "text", "text": "hi alice.lid"}});
    let delta = serde_json::json!({"type": "content_block_delta", "index": 0,
        "delta": {"type": "text_delta", "text": "dell@example.com bye"}});
    let sse = format!(
        "event: content_block_start\ndata: {start}\n\nevent: content_block_delta\ndata: {delta}\n\n"
    );
    let out = mask()
        .sse_body(sse.as_bytes(), &mut Counts::default())
        .map(|b| String::from_utf8(b).unwrap())
        .unwrap_or(sse);
    assert!(!out.contains("alice") && !out.contains("dell@"), "{out}");
    assert!(out.contains("hi [EMAIL]") && out.contains(" bye"), "{out}");
}
