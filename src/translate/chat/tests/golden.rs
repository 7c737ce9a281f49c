//! Request and JSON-answer fixtures, both directions. A request's expected file holds
//! `{"path", "view", "body"}` or `{"error": {"kind", "field"?}}`; an optional `NAME.target.json`
//! sets the `Target` (model, max_tokens_field, default_max_tokens).

use super::{inputs, name, read, read_json, sibling, view, CHAT_CLIENT_MODEL, CREATED};
use crate::translate::chat::response;
use crate::translate::{self, Dialect, MaxTokensField, Target, TranslateError};
use serde_json::{json, Value};
use std::path::Path;

fn outcome(result: Result<translate::Translated, TranslateError>) -> Value {
    match result {
        Ok(t) => json!({
            "path": t.path,
            "view": {"model": t.view.model, "stream": t.view.stream, "include_usage": t.view.include_usage},
            "body": serde_json::from_slice::<Value>(&t.body).unwrap_or(Value::Null),
        }),
        Err(e) => error_outcome(e),
    }
}

fn error_outcome(e: TranslateError) -> Value {
    match e {
        TranslateError::Unmappable { field, reason } => {
            assert!(!reason.is_empty(), "Unmappable `{field}` without a reason");
            json!({"error": {"kind": "unmappable", "field": field}})
        }
        TranslateError::Invalid(msg) => {
            assert!(!msg.is_empty());
            json!({"error": {"kind": "invalid"}})
        }
        TranslateError::Unsupported(_) => json!({"error": {"kind": "unsupported"}}),
    }
}

fn check_requests(dir: &str, client: Dialect, provider: Dialect, default_model: &str) -> usize {
    let cases = inputs(dir, ".json");
    let mut failures = Vec::new();
    for input in &cases {
        let sidecar = sibling(input, ".target.json");
        let settings = if sidecar.exists() {
            read_json(&sidecar)
        } else {
            json!({})
        };
        let target = Target {
            model: settings["model"].as_str().unwrap_or(default_model),
            max_tokens_field: match settings["max_tokens_field"].as_str() {
                Some("max_tokens") => MaxTokensField::MaxTokens,
                _ => MaxTokensField::MaxCompletionTokens,
            },
            default_max_tokens: settings["default_max_tokens"].as_u64(),
        };
        let got = outcome(translate::request(client, provider, &read(input), &target));
        let want = read_json(&sibling(input, ".expected.json"));
        if got != want {
            failures.push(format!("{}:\n   got {got}\n  want {want}", name(input)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    cases.len()
}

fn check_responses(
    dir: &str,
    translate: impl Fn(&[u8]) -> Result<Vec<u8>, TranslateError>,
) -> usize {
    let cases = inputs(dir, ".json");
    let mut failures = Vec::new();
    for input in &cases {
        let got = match translate(&read(input)) {
            Ok(body) => serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null),
            Err(e) => error_outcome(e),
        };
        let want = read_json(&sibling(input, ".expected.json"));
        if got != want {
            failures.push(format!("{}:\n   got {got}\n  want {want}", name(input)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    cases.len()
}

#[test]
fn anthropic_client_requests_to_chat() {
    let n = check_requests(
        "anthropic_client/request",
        Dialect::Anthropic,
        Dialect::Chat,
        "gpt-5.4-mini",
    );
    assert!(n >= 15, "only {n} fixtures found");
}

#[test]
fn chat_client_requests_to_anthropic() {
    let n = check_requests(
        "chat_client/request",
        Dialect::Chat,
        Dialect::Anthropic,
        "claude-sonnet-4-6",
    );
    assert!(n >= 12, "only {n} fixtures found");
}

#[test]
fn chat_answers_to_anthropic_client() {
    let v = view(super::ANTHROPIC_CLIENT_MODEL, false, false);
    // Through the public dispatch: nothing in this direction depends on the clock.
    let n = check_responses("anthropic_client/response", |body| {
        translate::response(Dialect::Anthropic, Dialect::Chat, body, &v)
    });
    assert!(n >= 9, "only {n} fixtures found");
}

#[test]
fn anthropic_answers_to_chat_client() {
    let v = view(CHAT_CLIENT_MODEL, false, false);
    let n = check_responses("chat_client/response", |body| {
        response::anthropic_to_chat(body, &v, CREATED)
    });
    assert!(n >= 7, "only {n} fixtures found");
}

/// The public `response` stamps the current time; everything else matches the fixture.
#[test]
fn public_chat_response_uses_the_clock() {
    let input = Path::new(super::ROOT).join("chat_client/response/text_cache_usage.json");
    let v = view(CHAT_CLIENT_MODEL, false, false);
    let got = translate::response(Dialect::Chat, Dialect::Anthropic, &read(&input), &v);
    let mut got: Value = serde_json::from_slice(&got.unwrap_or_default()).unwrap_or(Value::Null);
    let created = got["created"].as_u64().unwrap_or(0);
    assert!(created > CREATED, "created = {created}");
    got["created"] = json!(CREATED);
    assert_eq!(got, read_json(&sibling(&input, ".expected.json")));
}
