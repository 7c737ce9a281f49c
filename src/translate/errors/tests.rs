//! Table-driven golden tests for `errors` (cases in `tests/fixtures/translate/errors/cases.json`)
//! plus the mid-stream error events of each dialect.

use super::*;
use http::{HeaderMap, HeaderName, HeaderValue};

fn dialect(name: &str) -> Dialect {
    match name {
        "anthropic" => Dialect::Anthropic,
        "chat" => Dialect::Chat,
        "responses" => Dialect::Responses,
        other => panic!("unknown dialect {other}"),
    }
}

#[test]
fn error_cases_golden() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/translate/errors/cases.json"
    );
    let cases: Vec<Value> = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert!(cases.len() >= 15);
    for case in &cases {
        let name = case["name"].as_str().unwrap_or("?");
        let mut headers = HeaderMap::new();
        for (k, v) in case["headers"].as_object().into_iter().flatten() {
            headers.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v.as_str().unwrap_or("")).unwrap(),
            );
        }
        let body = match &case["body"] {
            Value::String(raw) => raw.as_bytes().to_vec(),
            other => serde_json::to_vec(other).unwrap(),
        };
        let status = case["status"].as_u64().unwrap_or(0) as u16;
        let answer = error(
            dialect(case["client"].as_str().unwrap_or("")),
            dialect(case["provider"].as_str().unwrap_or("")),
            status,
            &headers,
            &body,
        );
        let expect = &case["expect"];
        assert_eq!(
            u64::from(answer.status),
            expect["status"].as_u64().unwrap_or(0),
            "{name}"
        );
        assert_eq!(
            answer.retry_after.as_deref(),
            expect["retry_after"].as_str(),
            "{name}"
        );
        let got: Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(got, expect["body"], "{name}");
    }
}

#[test]
fn retry_after_forms() {
    let with = |pairs: &[(&'static str, &'static str)]| {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        retry_after(&h)
    };
    assert_eq!(with(&[]), None);
    assert_eq!(with(&[("retry-after", "7")]), Some("7".into()));
    assert_eq!(with(&[("retry-after-ms", "0")]), Some("0".into()));
    assert_eq!(with(&[("retry-after-ms", "1000")]), Some("1".into()));
    assert_eq!(with(&[("retry-after-ms", "1001")]), Some("2".into()));
    assert_eq!(with(&[("retry-after-ms", "soon")]), None);
    // An HTTP date stays as sent (it is a valid retry-after).
    let date = "Wed, 21 Oct 2026 07:28:00 GMT";
    assert_eq!(with(&[("retry-after", date)]), Some(date.into()));
}

#[test]
fn stream_error_events_per_dialect() {
    let mut out = Vec::new();
    stream_event(Dialect::Anthropic, Kind::Overloaded, "Overloaded", &mut out);
    assert_eq!(
        String::from_utf8_lossy(&out),
        "event: error\ndata: {\"error\":{\"message\":\"Overloaded\",\"type\":\"overloaded_error\"},\"type\":\"error\"}\n\n"
    );
    out.clear();
    stream_event(Dialect::Chat, Kind::RateLimited, "slow", &mut out);
    let text = String::from_utf8_lossy(&out);
    let data: Value =
        serde_json::from_str(text.strip_prefix("data: ").unwrap().trim_end()).unwrap();
    assert_eq!(
        data,
        json!({"error": {"message": "slow", "type": "rate_limit_error", "param": null, "code": "rate_limit_exceeded"}})
    );
    assert!(text.ends_with("}\n\n"));
    out.clear();
    stream_event(Dialect::Responses, Kind::Server, "boom", &mut out);
    let text = String::from_utf8_lossy(&out);
    let data: Value = serde_json::from_str(
        text.strip_prefix("event: error\ndata: ")
            .unwrap()
            .trim_end(),
    )
    .unwrap();
    assert_eq!(
        data,
        json!({"type": "error", "code": null, "message": "boom", "param": null})
    );
}

#[test]
fn local_failures() {
    let answer = local(
        Dialect::Chat,
        &TranslateError::Unsupported("Responses client".into()),
    );
    assert_eq!(answer.status, 501);
    let answer = local(
        Dialect::Anthropic,
        &TranslateError::Invalid("not JSON".into()),
    );
    assert_eq!(answer.status, 400);
    let body: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(body["error"]["message"], "invalid request body: not JSON");
}

#[test]
fn openai_stream_codes_map_to_kinds() {
    assert_eq!(
        Kind::from_openai_code(Some("rate_limit_exceeded")),
        Kind::RateLimited
    );
    assert_eq!(
        Kind::from_openai_code(Some("context_length_exceeded")),
        Kind::ContextTooLong
    );
    assert_eq!(
        Kind::from_openai_code(Some("server_is_overloaded")),
        Kind::Overloaded
    );
    assert_eq!(
        Kind::from_openai_code(Some("invalid_prompt")),
        Kind::InvalidRequest
    );
    assert_eq!(Kind::from_openai_code(None), Kind::Server);
}
