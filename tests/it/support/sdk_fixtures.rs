//! The mock provider behind the Python SDK checks: it picks a fixture by the rule in
//! tests/sdk/README.md (path, `stream`, whether a tool result came back, `anthropic-version` on
//! /v1/models), so a script that parses the right fixture also shows its request arrived intact.

use super::{fixture, MockUpstream, Recorded, Reply};

impl MockUpstream {
    /// A provider that answers every request by the fixture rule of tests/sdk/README.md.
    pub fn sdk_fixtures() -> Self {
        Self::new().route_fn("*", sdk_fixture_reply)
    }
}

/// The fixture tests/sdk/README.md picks for a request (`anthropic/messages_tool.sse`, ...), or
/// `None` when the rule has no row for it.
pub fn sdk_fixture_for(req: &Recorded) -> Option<String> {
    let path = req.uri.split('?').next().unwrap_or_default();
    let body = req.json();
    let ext = if body["stream"] == true {
        "sse"
    } else {
        "json"
    };
    // `text` once the client sends a tool result back, `tool` for the first turn.
    let kind = |has_result: bool| if has_result { "text" } else { "tool" };
    let items = |key: &str| body[key].as_array().cloned().unwrap_or_default();
    let name = match (req.method.as_str(), path) {
        ("POST", "/v1/messages") => {
            let last = items("messages").pop().unwrap_or_default();
            let content = last["content"].as_array().cloned().unwrap_or_default();
            let has = last["role"] == "user" && content.iter().any(|b| b["type"] == "tool_result");
            format!("anthropic/messages_{}.{ext}", kind(has))
        }
        ("POST", "/v1/chat/completions") => {
            let has = items("messages").iter().any(|m| m["role"] == "tool");
            format!("openai/chat_{}.{ext}", kind(has))
        }
        ("POST", "/v1/responses") => {
            let has = items("input")
                .iter()
                .any(|i| i["type"] == "function_call_output");
            format!("openai/responses_{}.{ext}", kind(has))
        }
        ("POST", "/v1/messages/count_tokens") => "anthropic/count_tokens.json".into(),
        ("GET", "/v1/models") if req.headers.contains_key("anthropic-version") => {
            "anthropic/models.json".into()
        }
        ("GET", "/v1/models") => "openai/models.json".into(),
        _ => return None,
    };
    Some(name)
}

/// Serves `sdk_fixture_for(req)` (`.sse` as `text/event-stream`), or a JSON 404 naming the request.
pub fn sdk_fixture_reply(req: &Recorded) -> Reply {
    match sdk_fixture_for(req) {
        Some(name) if name.ends_with(".sse") => Reply::sse(fixture(&name)),
        Some(name) => Reply::json(fixture(&name)),
        None => {
            let message = format!("mock: no SDK fixture for {} {}", req.method, req.uri);
            Reply::json(serde_json::json!({ "error": { "message": message } }).to_string())
                .status(404)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn request(method: &str, uri: &str, headers: &[(&'static str, &str)], body: &str) -> Recorded {
        let headers = headers
            .iter()
            .map(|(k, v)| (http::HeaderName::from_static(k), v.parse().unwrap()));
        Recorded {
            method: method.into(),
            uri: uri.into(),
            headers: headers.collect(),
            body: body.to_owned().into(),
        }
    }

    #[track_caller]
    fn post(path: &str, body: Value, expected: Option<&str>) {
        let req = request("POST", path, &[], &body.to_string());
        assert_eq!(
            sdk_fixture_for(&req).as_deref(),
            expected,
            "POST {path} {body}"
        );
    }

    #[track_caller]
    fn get(uri: &str, headers: &[(&'static str, &str)], expected: Option<&str>) {
        let req = request("GET", uri, headers, "");
        assert_eq!(
            sdk_fixture_for(&req).as_deref(),
            expected,
            "GET {uri} {headers:?}"
        );
    }

    /// The README's table, row by row, without Python: the mock the SDK tests rely on.
    #[test]
    fn sdk_mock_follows_the_readme_rule() {
        let result =
            json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]});
        let user = json!({"role": "user", "content": "hi"});
        let messages = "/v1/messages";
        post(
            messages,
            json!({"messages": [user]}),
            Some("anthropic/messages_tool.json"),
        );
        post(
            messages,
            json!({"stream": true}),
            Some("anthropic/messages_tool.sse"),
        );
        post(
            messages,
            json!({"stream": false, "messages": [result]}),
            Some("anthropic/messages_text.json"),
        );
        // Only a tool_result in the last message counts.
        post(
            messages,
            json!({"messages": [result, user]}),
            Some("anthropic/messages_tool.json"),
        );
        let chat = "/v1/chat/completions";
        post(
            chat,
            json!({"messages": [{"role": "tool"}]}),
            Some("openai/chat_text.json"),
        );
        post(
            chat,
            json!({"stream": true, "messages": [user]}),
            Some("openai/chat_tool.sse"),
        );
        post(
            "/v1/responses",
            json!({"input": "hi"}),
            Some("openai/responses_tool.json"),
        );
        let output = json!({"stream": true, "input": [{"type": "function_call_output"}]});
        post("/v1/responses", output, Some("openai/responses_text.sse"));
        post(
            "/v1/messages/count_tokens",
            json!({}),
            Some("anthropic/count_tokens.json"),
        );
        let version = [("anthropic-version", "2023-06-01")];
        get(
            "/v1/models?limit=20",
            &version,
            Some("anthropic/models.json"),
        );
        get("/v1/models", &[], Some("openai/models.json"));
        get(messages, &[], None);
        post("/v1/embeddings", json!({}), None);
    }
}
