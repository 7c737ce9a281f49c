//! Who is talking and in which conversation: the session id from what each client sends (WIRE.md
//! "Session identity"), sanitised so it is safe as a file name; the client kind; and the tool
//! timing tracker that pairs a tool call with the later request carrying its result.

use super::record::{ClientKind, RequestSummary, ToolCall, ToolExecution};
use http::HeaderMap;
use std::collections::HashMap;

const MAX_ID_LEN: usize = 128;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The session id a request belongs to, or `None` when the client sends none (the caller then
/// uses a per-request id). `extra_header` is the user's configured header, checked first.
pub(crate) fn session_id(
    headers: &HeaderMap,
    body: &serde_json::Value,
    extra_header: Option<&str>,
) -> Option<String> {
    let from_headers = [
        extra_header,
        Some("x-claude-code-session-id"),
        Some("session-id"),
        Some("x-session-id"),
    ]
    .into_iter()
    .flatten()
    .find_map(|name| header(headers, name));
    let raw = from_headers
        .map(str::to_string)
        .or_else(|| claude_code_user_id(body))
        .or_else(|| header(headers, "thread-id").map(str::to_string))
        .or_else(|| {
            body.get("prompt_cache_key")
                .and_then(|k| k.as_str())
                .map(str::to_string)
        })?;
    sanitize(&raw)
}

/// Claude Code's `metadata.user_id`: a JSON-encoded string (or object) with `session_id`, or the
/// legacy `user_<hash>_account_<id>_session_<uuid>` form.
fn claude_code_user_id(body: &serde_json::Value) -> Option<String> {
    let user_id = body.get("metadata")?.get("user_id")?;
    let object = match user_id {
        serde_json::Value::String(s) => match serde_json::from_str::<serde_json::Value>(s) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            _ => {
                return s
                    .rsplit_once("_session_")
                    .map(|(_, id)| id.to_string())
                    .filter(|id| !id.is_empty())
            }
        },
        v @ serde_json::Value::Object(_) => v.clone(),
        _ => return None,
    };
    object
        .get("session_id")?
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Keeps `[A-Za-z0-9._-]`, replaces anything else with `_`, refuses `.`/`..`-only ids and bounds
/// the length: the result is safe as one path component.
pub(crate) fn sanitize(raw: &str) -> Option<String> {
    let cleaned: String = raw
        .chars()
        .take(MAX_ID_LEN)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = cleaned.trim_start_matches('.').to_string();
    (!cleaned.is_empty() && cleaned.chars().any(|c| c.is_ascii_alphanumeric())).then_some(cleaned)
}

/// From `user-agent` and `originator`.
pub(crate) fn client_kind(headers: &HeaderMap) -> ClientKind {
    match crate::providers::client_name(headers) {
        "claude-code" => ClientKind::ClaudeCode,
        "codex" => ClientKind::Codex,
        "opencode" => ClientKind::Opencode,
        "sdk" => ClientKind::Sdk,
        _ => ClientKind::Other,
    }
}

/// Tool calls waiting for their results, per session.
#[derive(Default)]
pub(crate) struct ToolTracker {
    pending: HashMap<String, HashMap<String, PendingCall>>,
}

struct PendingCall {
    name: String,
    /// When the response that asked for the call ended (ms since the epoch).
    requested_at_ms: i64,
}

/// Bound on calls remembered per session (a client that never answers must not grow memory).
const MAX_PENDING_PER_SESSION: usize = 1024;

impl ToolTracker {
    /// The executions whose results arrive in this request; call before `requested`.
    pub fn results(
        &mut self,
        session: &str,
        request: &RequestSummary,
        arrived_at_ms: i64,
    ) -> Vec<ToolExecution> {
        let Some(calls) = self.pending.get_mut(session) else {
            return Vec::new();
        };
        let executions = request
            .tool_results
            .iter()
            .filter_map(|result| {
                let call = calls.remove(&result.tool_use_id)?;
                Some(ToolExecution {
                    tool_use_id: result.tool_use_id.clone(),
                    name: call.name,
                    duration_ms: (arrived_at_ms - call.requested_at_ms).max(0) as f64,
                    is_error: result.is_error,
                })
            })
            .collect();
        if calls.is_empty() {
            self.pending.remove(session);
        }
        executions
    }

    /// Remembers the calls a response asked for.
    pub fn requested(&mut self, session: &str, calls: &[ToolCall], response_end_ms: i64) {
        if calls.is_empty() {
            return;
        }
        let pending = self.pending.entry(session.to_string()).or_default();
        if pending.len() + calls.len() > MAX_PENDING_PER_SESSION {
            pending.clear();
        }
        for call in calls {
            pending.insert(
                call.id.clone(),
                PendingCall {
                    name: call.name.clone(),
                    requested_at_ms: response_end_ms,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::record::ToolResultRef;
    use crate::test_support::headers;
    use serde_json::json;

    #[test]
    fn session_ids_from_each_client() {
        let none = json!({});
        let cc = headers(&[(
            "x-claude-code-session-id",
            "3dafbc40-677f-4ed9-af5b-6692b14b43ff",
        )]);
        assert_eq!(
            session_id(&cc, &none, None).as_deref(),
            Some("3dafbc40-677f-4ed9-af5b-6692b14b43ff")
        );
        let encoded = json!({"metadata": {"user_id": "{\"device_id\":\"ab\",\"account_uuid\":\"\",\"session_id\":\"s-json\"}"}});
        assert_eq!(
            session_id(&HeaderMap::new(), &encoded, None).as_deref(),
            Some("s-json")
        );
        let object = json!({"metadata": {"user_id": {"session_id": "s-obj"}}});
        assert_eq!(
            session_id(&HeaderMap::new(), &object, None).as_deref(),
            Some("s-obj")
        );
        let legacy = json!({"metadata": {"user_id": "user_abc_account_42_session_7f9e-11"}});
        assert_eq!(
            session_id(&HeaderMap::new(), &legacy, None).as_deref(),
            Some("7f9e-11")
        );
        let codex = headers(&[
            ("session-id", "0199a1b2-c3d4"),
            ("thread-id", "0199a1b2-c3d4"),
        ]);
        assert_eq!(
            session_id(&codex, &none, None).as_deref(),
            Some("0199a1b2-c3d4")
        );
        let opencode = headers(&[("x-session-id", "ses_abc")]);
        assert_eq!(
            session_id(&opencode, &none, None).as_deref(),
            Some("ses_abc")
        );
        let custom = headers(&[("x-my-session", "mine"), ("session-id", "theirs")]);
        assert_eq!(
            session_id(&custom, &none, Some("x-my-session")).as_deref(),
            Some("mine")
        );
        assert_eq!(
            session_id(&HeaderMap::new(), &json!({"prompt_cache_key": "pck"}), None).as_deref(),
            Some("pck")
        );
        assert_eq!(session_id(&HeaderMap::new(), &none, None), None);
    }

    #[test]
    fn ids_are_safe_file_names() {
        assert_eq!(
            sanitize("../../etc/passwd").as_deref(),
            Some("_.._etc_passwd")
        );
        assert_eq!(sanitize("a/b\\c\u{0}d\ne").as_deref(), Some("a_b_c_d_e"));
        assert_eq!(sanitize(".."), None);
        assert_eq!(sanitize("///"), None);
        assert_eq!(
            sanitize(&"x".repeat(1000)).map(|s| s.len()),
            Some(MAX_ID_LEN)
        );
    }

    #[test]
    fn client_kinds() {
        assert_eq!(
            client_kind(&headers(&[(
                "user-agent",
                "claude-cli/2.1.197 (external, sdk-cli)"
            )])),
            ClientKind::ClaudeCode
        );
        assert_eq!(
            client_kind(&headers(&[
                ("originator", "codex_exec"),
                ("user-agent", "codex_exec/0.171.0")
            ])),
            ClientKind::Codex
        );
        assert_eq!(
            client_kind(&headers(&[("originator", "opencode")])),
            ClientKind::Opencode
        );
        assert_eq!(
            client_kind(&headers(&[
                ("x-stainless-lang", "python"),
                ("user-agent", "Anthropic/Python 2.16.0")
            ])),
            ClientKind::Sdk
        );
        assert_eq!(
            client_kind(&headers(&[("user-agent", "curl/8.0")])),
            ClientKind::Other
        );
    }

    #[test]
    fn tool_execution_time_is_from_response_end_to_result_arrival() {
        let mut tracker = ToolTracker::default();
        let call = ToolCall {
            id: "toolu_1".into(),
            name: "Bash".into(),
            input: json!({"command": "ls"}),
        };
        tracker.requested("s", &[call], 1_000);
        let request = RequestSummary {
            tool_results: vec![ToolResultRef {
                tool_use_id: "toolu_1".into(),
                is_error: Some(true),
            }],
            ..Default::default()
        };
        assert!(tracker.results("other-session", &request, 1_500).is_empty());
        let done = tracker.results("s", &request, 1_750);
        assert_eq!(done.len(), 1);
        assert_eq!(
            (done[0].name.as_str(), done[0].duration_ms, done[0].is_error),
            ("Bash", 750.0, Some(true))
        );
        assert!(
            tracker.results("s", &request, 2_000).is_empty(),
            "a result is paired once"
        );
    }
}
