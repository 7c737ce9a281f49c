//! Golden tests for the Anthropic -> Responses request and the Responses JSON answer, from the
//! hand-written fixtures in `tests/fixtures/translate/responses/`.

use super::super::TranslateError;
use super::super::{errors, request, response, ClientView, Dialect, MaxTokensField, Target};
use serde_json::{json, Value};

pub(super) fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/translate/responses/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

fn json_fixture(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

pub(super) fn view() -> ClientView {
    ClientView {
        model: "claude-sonnet-4-5".into(),
        stream: true,
        include_usage: false,
    }
}

const TARGET: Target<'static> = Target {
    model: "gpt-5.4-mini",
    max_tokens_field: MaxTokensField::MaxCompletionTokens,
    default_max_tokens: None,
};

fn translate(body: &Value) -> Result<Value, TranslateError> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let t = request(Dialect::Anthropic, Dialect::Responses, &bytes, &TARGET)?;
    assert_eq!(t.path, "/v1/responses");
    Ok(serde_json::from_slice(&t.body).unwrap_or(Value::Null))
}

fn minimal(extra: Value) -> Value {
    let mut body = json!({
        "model": "claude-haiku-4-5",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
    });
    if let (Some(obj), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        obj.extend(extra.clone());
    }
    body
}

#[test]
fn claude_code_request_golden() {
    let body = fixture("request_claude_code.json");
    let t = request(Dialect::Anthropic, Dialect::Responses, &body, &TARGET).unwrap();
    let got: Value = serde_json::from_slice(&t.body).unwrap();
    assert_eq!(got, json_fixture("request_claude_code.expected.json"));
    assert_eq!(t.view.model, "claude-sonnet-4-5");
    assert!(t.view.stream);
    assert!(!t.view.include_usage);
    // F20: no cache_control survives anywhere.
    assert!(!String::from_utf8_lossy(&t.body).contains("cache_control"));
}

#[test]
fn tool_choice_mapping_never_widens() {
    let cases = [
        (json!({"type": "auto"}), json!("auto"), None),
        (json!({"type": "any"}), json!("required"), None),
        (json!({"type": "none"}), json!("none"), None),
        (
            json!({"type": "tool", "name": "Bash", "disable_parallel_tool_use": true}),
            json!({"type": "function", "name": "Bash"}),
            Some(false),
        ),
    ];
    for (choice, expected, parallel) in cases {
        let got = translate(&minimal(json!({"tool_choice": choice}))).unwrap();
        assert_eq!(got["tool_choice"], expected, "{choice}");
        assert_eq!(
            got.get("parallel_tool_calls").and_then(Value::as_bool),
            parallel
        );
    }
    let got = translate(&minimal(json!({}))).unwrap();
    assert_eq!(got.get("tool_choice"), None);
    assert_eq!(
        got["input"][0]["content"][0],
        json!({"type": "input_text", "text": "hi"})
    );
    assert_eq!(got.get("stream"), None);
    assert_eq!(got["max_output_tokens"], 100);
}

#[test]
fn max_tokens_below_16_is_raised_to_the_responses_minimum() {
    for (asked, sent) in [(1, 16), (15, 16), (16, 16), (17, 17)] {
        let got = translate(&minimal(json!({ "max_tokens": asked }))).unwrap();
        assert_eq!(got["max_output_tokens"], sent, "max_tokens {asked}");
    }
}

#[test]
fn unmappable_fields_are_named() {
    let cases = [
        (json!({"stop_sequences": ["END"]}), "stop_sequences"),
        (json!({"top_k": 5}), "top_k"),
        (
            json!({"tool_choice": {"type": "sometimes"}}),
            "tool_choice.type",
        ),
        (
            json!({"output_config": {"format": {"type": "regex", "pattern": "a+"}}}),
            "output_config.format.type",
        ),
        (json!({"mcp_servers": []}), "mcp_servers"),
        (
            json!({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
            "tools[0].type",
        ),
        (
            json!({"tools": [{"name": "x", "input_schema": {}, "defer_loading": true}]}),
            "tools[0].defer_loading",
        ),
        (
            json!({"messages": [{"role": "user", "content": [
                {"type": "text", "text": "read"},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}}
            ]}]}),
            "messages[0].content[1].type",
        ),
        (
            json!({"messages": [{"role": "user", "content": [
                {"type": "image", "source": {"type": "file", "file_id": "file_1"}}
            ]}]}),
            "messages[0].content[0].source.type",
        ),
        (
            json!({"messages": [{"role": "tool", "content": "x"}]}),
            "messages[0].role",
        ),
    ];
    for (extra, field) in cases {
        match translate(&minimal(extra.clone())) {
            Err(TranslateError::Unmappable { field: f, .. }) => assert_eq!(f, field, "{extra}"),
            other => panic!("{extra}: expected Unmappable({field}), got {other:?}"),
        }
    }
    // Empty stop_sequences and effort-only output_config have nothing to lose.
    assert!(translate(&minimal(
        json!({"stop_sequences": [], "output_config": {"effort": "high"}})
    ))
    .is_ok());
}

#[test]
fn unmappable_field_becomes_a_400_naming_it() {
    let err = translate(&minimal(json!({"stop_sequences": ["END"]}))).unwrap_err();
    for client in [Dialect::Anthropic, Dialect::Chat] {
        let answer = errors::local(client, &err);
        assert_eq!(answer.status, 400);
        let body: Value = serde_json::from_slice(&answer.body).unwrap();
        let message = match client {
            Dialect::Anthropic => {
                assert_eq!(body["type"], "error");
                assert_eq!(body["error"]["type"], "invalid_request_error");
                body["error"]["message"].as_str().unwrap_or("").to_string()
            }
            _ => {
                assert_eq!(body["error"]["type"], "invalid_request_error");
                body["error"]["message"].as_str().unwrap_or("").to_string()
            }
        };
        assert!(message.contains("`stop_sequences`"), "{message}");
    }
}

#[test]
fn invalid_bodies_are_invalid_not_panics() {
    for body in [
        &b"not json"[..],
        b"[]",
        br#"{"model":"x"}"#,
        br#"{"model":1,"messages":[]}"#,
    ] {
        let got = request(Dialect::Anthropic, Dialect::Responses, body, &TARGET);
        assert!(matches!(got, Err(TranslateError::Invalid(_))), "{got:?}");
    }
}

#[test]
fn json_answers_golden() {
    let cases = [
        ("json_text.json", "json_text.expected.json"),
        ("json_tools.json", "json_tools.expected.json"),
        ("json_incomplete.json", "json_incomplete.expected.json"),
        (
            "../../openai/responses_tool.json",
            "openai_responses_tool.expected.json",
        ),
    ];
    for (input, expected) in cases {
        let out = response(
            Dialect::Anthropic,
            Dialect::Responses,
            &fixture(input),
            &view(),
        )
        .unwrap_or_else(|e| panic!("{input}: {e}"));
        let got: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(got, json_fixture(expected), "{input}");
    }
}

#[test]
fn failed_json_answer_is_an_error_not_a_message() {
    let got = response(
        Dialect::Anthropic,
        Dialect::Responses,
        &fixture("json_failed.json"),
        &view(),
    );
    match got {
        Err(TranslateError::Invalid(msg)) => {
            assert!(
                msg.contains("The server had an error processing your request."),
                "{msg}"
            )
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn refusal_and_bad_arguments() {
    let body = json!({
        "id": "resp_r", "status": "completed",
        "output": [{"type": "message", "content": [{"type": "refusal", "refusal": "I can't help with that."}]}],
        "usage": {"input_tokens": 5, "output_tokens": 6}
    });
    let out = response(
        Dialect::Anthropic,
        Dialect::Responses,
        body.to_string().as_bytes(),
        &view(),
    )
    .unwrap();
    let got: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(got["stop_reason"], "refusal");
    assert_eq!(got["content"][0]["text"], "I can't help with that.");
    assert_eq!(got["usage"]["input_tokens"], 5);

    let body = json!({
        "id": "resp_b", "status": "completed",
        "output": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "[1,2]"}]
    });
    let got = response(
        Dialect::Anthropic,
        Dialect::Responses,
        body.to_string().as_bytes(),
        &view(),
    );
    assert!(matches!(got, Err(TranslateError::Invalid(_))), "{got:?}");
}

#[test]
fn other_pairs_are_unsupported_here() {
    let body = fixture("request_claude_code.json");
    let got = request(Dialect::Responses, Dialect::Anthropic, &body, &TARGET);
    assert!(
        matches!(got, Err(TranslateError::Unsupported(_))),
        "{got:?}"
    );
}

/// Claude Code sends system messages mid-conversation (beta `mid-conversation-system-*`): each
/// becomes a developer message in place; a non-text block in one is refused naming it.
#[test]
fn a_mid_conversation_system_message_becomes_a_developer_message_in_place() {
    let body = minimal(json!({"messages": [
        {"role": "user", "content": "hi"},
        {"role": "system", "content": "Agent types: Explore"},
        {"role": "assistant", "content": "hello"},
        {"role": "system", "content": [{"type": "text", "text": "Reminder", "cache_control": {"type": "ephemeral"}}]},
        {"role": "user", "content": "go on"},
    ]}));
    let got = translate(&body).unwrap();
    let roles: Vec<&str> = got["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["role"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        roles,
        ["user", "developer", "assistant", "developer", "user"]
    );
    assert_eq!(
        got["input"][1]["content"],
        json!([{"type": "input_text", "text": "Agent types: Explore"}])
    );
    assert_eq!(
        got["input"][3]["content"],
        json!([{"type": "input_text", "text": "Reminder"}])
    );

    let image = json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}});
    let body = minimal(json!({"messages": [{"role": "system", "content": [image]}]}));
    match translate(&body) {
        Err(TranslateError::Unmappable { field, .. }) => {
            assert_eq!(field, "messages[0].content[0].type")
        }
        other => panic!("{other:?}"),
    }
    let body = minimal(json!({"messages": [{"role": "tool", "content": "x"}]}));
    assert!(matches!(
        translate(&body),
        Err(TranslateError::Unmappable { field, .. }) if field == "messages[0].role"
    ));
}

/// Claude Code's title request asks for a JSON schema answer: Responses gets it as `text.format`.
#[test]
fn an_output_config_json_schema_becomes_text_format() {
    let schema = json!({"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"], "additionalProperties": false});
    let got = translate(&minimal(json!({"output_config": {"effort": "high", "format": {"type": "json_schema", "schema": schema}}}))).unwrap();
    assert_eq!(
        got["text"],
        json!({"format": {"type": "json_schema", "name": "output", "strict": true, "schema": schema}})
    );
    let got = translate(&minimal(json!({"output_config": {"effort": "low"}}))).unwrap();
    assert_eq!(got.get("text"), None);
}
