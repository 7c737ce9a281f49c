//! `Scope::Upstream` on request bodies of each dialect: what the client supplied (system prompt,
//! user and tool content) is redacted; the model's own turns, thinking and ids go as sent.

use super::mask;
use crate::pii::{Counts, Scope};

fn upstream(body: &str) -> String {
    let mut counts = Counts::default();
    match mask().json_body(body.as_bytes(), Scope::Upstream, &mut counts) {
        Some(out) => String::from_utf8(out).unwrap(),
        None => body.to_string(),
    }
}

#[test]
fn anthropic_system_and_user_content_are_redacted_assistant_and_thinking_are_not() {
    let body = r#"{"model":"m","system":[{"type":"text","text":"git user: ops@corp.example.com"}],"messages":[{"role":"user","content":"mail bob@example.org"},{"role":"system","content":"reminder for carol@example.net"},{"role":"assistant","content":[{"type":"thinking","thinking":"dan@example.com","signature":"c2ln"},{"type":"text","text":"I will mail erin@example.com"}]}]}"#;
    let out = upstream(body);
    for gone in [
        "ops@corp.example.com",
        "bob@example.org",
        "carol@example.net",
    ] {
        assert!(!out.contains(gone), "{gone}: {out}");
    }
    for kept in [
        "dan@example.com",
        "erin@example.com",
        r#""signature":"c2ln""#,
    ] {
        assert!(out.contains(kept), "{kept}: {out}");
    }
    assert_eq!(out.matches("[EMAIL]").count(), 3, "{out}");
}

#[test]
fn chat_and_responses_system_prompts_are_redacted() {
    let chat = r#"{"model":"m","messages":[{"role":"system","content":"admin 203.0.113.9"},{"role":"developer","content":"call 415-555-0132"},{"role":"assistant","content":"host 203.0.113.10"}]}"#;
    let out = upstream(chat);
    assert!(
        !out.contains("203.0.113.9\"") && !out.contains("415-555-0132"),
        "{out}"
    );
    assert!(out.contains("host 203.0.113.10"), "{out}");

    let responses = r#"{"model":"m","instructions":"owner frank@example.com","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"hi gina@example.com"}]}]}"#;
    let out = upstream(responses);
    assert!(
        !out.contains("frank@example.com") && !out.contains("gina@example.com"),
        "{out}"
    );
}

#[test]
fn a_legacy_chat_function_result_is_user_content() {
    let body = r#"{"model":"gpt-4o","messages":[{"role":"function","name":"lookup","content":"owner: alice.liddell@example.com"}]}"#;
    let out = upstream(body);
    assert!(out.contains("owner: [EMAIL]"), "{out}");
    assert!(out.contains("\"name\":\"lookup\""), "{out}");
}

#[test]
fn names_written_with_escapes_cannot_hide_user_content() {
    for body in [
        r#"{"messages":[{"role":"user","c\u006fntent":"mail alice.liddell@example.com"}]}"#,
        r#"{"messages":[{"r\u006fle":"user","content":"mail alice.liddell@example.com"}]}"#,
        r#"{"messages":[{"role":"us\u0065r","content":"mail alice.liddell@example.com"}]}"#,
        r#"{"s\u0079stem":"mail alice.liddell@example.com","messages":[]}"#,
    ] {
        let out = upstream(body);
        assert!(!out.contains("alice.liddell"), "{out}");
        assert!(out.contains("mail [EMAIL]"), "{out}");
    }
}

#[test]
fn a_key_with_an_escaped_non_ascii_letter_keeps_the_upstream_rules() {
    // Python's json.dumps writes `é` as `\u00e9`: that is not a name in disguise, and the
    // assistant's turn must still go as it is.
    let body = r#"{"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{"caf\u00e9":"x"}},{"type":"text","text":"reply to alice.liddell@example.com"}]},{"role":"user","content":"mail bob@example.org"}]}"#;
    let out = upstream(body);
    assert!(out.contains("reply to alice.liddell@example.com"), "{out}");
    assert!(out.contains("mail [EMAIL]"), "{out}");
}
