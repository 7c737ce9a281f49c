//! Which JSON string values redaction may touch, for both walkers (the byte-preserving one in
//! `json` and `redact_value` here for `serde_json::Value`).
//!
//! Never touched, in any scope: keys; `id`, `*_id` (`tool_use_id`, `call_id`, ...), `type`,
//! `role`, `model`, `signature`, `encrypted_content`; tool `name`s; base64 `data` (image/document
//! sources, `redacted_thinking.data`, any long base64 run without other escapes) and
//! `data:…;base64,` URLs. Changing any of these breaks a signed thinking block, a tool round trip
//! or an image. Inside a tool call's input (`input`, `arguments`, `partial_json`) none of the key
//! rules apply: the model chose those keys, and `name` or `user_id` there hold data.
//!
//! `Scope::Recording` redacts every other string. `Scope::Upstream` redacts only what the client
//! supplied: the system prompt (`system`, `instructions`, `system`/`developer` messages), the
//! `content` of `user` and `tool` messages, tool results, `*_output` items (`function_call_
//! output`) and a Responses `input` string; thinking, reasoning and assistant messages (the
//! model's own words, which it may have signed) are left byte-identical, and so are URLs and file
//! references (the provider must still fetch them).

use super::{Counts, Redactor, Scope};
use serde_json::Value;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Flags {
    /// Inside user content (what `Scope::Upstream` redacts).
    pub user: bool,
    /// Inside a thinking, redacted_thinking or reasoning block.
    pub think: bool,
    /// Inside a tool call's `input`: arbitrary data, where `name` is a value like any other.
    pub tool_input: bool,
}

/// What is known about the object or array that holds a value.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Holder<'a> {
    pub ty: Option<&'a str>,
    pub role: Option<&'a str>,
    pub flags: Flags,
    /// The document's top-level value.
    pub root: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Treat {
    Skip,
    Text,
    /// A string holding JSON (`arguments`): its own strings are redacted, so it stays JSON.
    Json,
}

const THINKING: &[&str] = &["thinking", "redacted_thinking", "reasoning"];
const TOOL_CALLS: &[&str] = &["tool_use", "server_tool_use", "mcp_tool_use"];
const NEVER: &[&str] = &[
    "id",
    "type",
    "role",
    "model",
    "signature",
    "encrypted_content",
    "media_type",
    "mime_type",
    "object",
    "status",
    "stop_reason",
    "finish_reason",
    "service_tier",
    "prompt_cache_key",
];
/// Left as sent to the provider: it has to fetch or find them.
const UPSTREAM_KEEP: &[&str] = &[
    "url",
    "image_url",
    "file_url",
    "file_id",
    "file_data",
    "filename",
    "detail",
];

/// A key whose value (string, or container) is user content inside `holder`.
fn user_edge(holder: &Holder<'_>, key: Option<&str>) -> bool {
    match key {
        Some("content") => {
            // `function`: Chat's legacy tool result message.
            matches!(
                holder.role,
                Some("user" | "tool" | "function" | "system" | "developer")
            ) || holder.ty == Some("tool_result")
        }
        Some("output") => holder.ty.is_some_and(|t| t.ends_with("_output")),
        // The system prompt holds what the client gathered about the user's machine and repo
        // (git status, paths, e-mail addresses in configs); nothing in it is signed.
        Some("input" | "system" | "instructions") => holder.root,
        _ => false,
    }
}

/// The flags of a container reached from `parent` by `key` (`None` in an array) whose own
/// `type` is `ty`.
pub(crate) fn child_flags(parent: &Holder<'_>, key: Option<&str>, ty: Option<&str>) -> Flags {
    let think = parent.flags.think || ty.is_some_and(|t| THINKING.contains(&t));
    Flags {
        user: (parent.flags.user || user_edge(parent, key)) && !think,
        think,
        tool_input: parent.flags.tool_input
            || (key == Some("input") && parent.ty.is_some_and(|t| TOOL_CALLS.contains(&t))),
    }
}

/// A long run of standard base64 (JSON may write `/` as `\/`): image and file data. Any other
/// escape (`\n` in a `.env` file read by a tool) means text, and so do `-` and `_` (keys joined
/// into one long word; the URL-safe alphabet, which images here never use): never skipped.
fn base64_like(raw: &[u8]) -> bool {
    raw.len() >= 256
        && raw.iter().enumerate().all(|(i, &b)| match b {
            b'\\' => raw.get(i + 1) == Some(&b'/'),
            b'/' => true,
            b => b.is_ascii_alphanumeric() || matches!(b, b'+' | b'='),
        })
}

/// How to treat a string value under `key` (`None` in an array) in `holder`. `raw` is the
/// value as written (escapes and all); only its shape is looked at.
pub(crate) fn treat(holder: &Holder<'_>, key: Option<&str>, raw: &[u8], scope: Scope) -> Treat {
    // Inside a tool call's input every key is the model's own: none of them is protocol.
    if let Some(k) = key.filter(|_| !holder.flags.tool_input) {
        if NEVER.contains(&k) || k.ends_with("_id") {
            return Treat::Skip;
        }
        if k == "name" {
            return Treat::Skip;
        }
        if k == "data" && matches!(holder.ty, Some("base64" | "redacted_thinking")) {
            return Treat::Skip;
        }
    }
    if base64_like(raw)
        || (raw.starts_with(b"data:")
            && raw.len() > 5
            && raw[..raw.len().min(200)]
                .windows(8)
                .any(|w| w == b";base64,"))
    {
        return Treat::Skip;
    }
    if scope == Scope::Upstream {
        let think = holder.flags.think || holder.ty.is_some_and(|t| THINKING.contains(&t));
        let user = holder.flags.user || user_edge(holder, key);
        if think || !user || key.is_some_and(|k| UPSTREAM_KEEP.contains(&k)) {
            return Treat::Skip;
        }
    }
    match key {
        Some("arguments" | "partial_json") => Treat::Json,
        _ => Treat::Text,
    }
}

/// `Redactor::value`: string leaves of an assembled value, `Scope::Recording` rules.
pub(crate) fn redact_value(r: &Redactor, value: &mut Value, counts: &mut Counts) {
    let outside = Holder::default();
    walk(r, value, None, &outside, true, counts, 0);
}

/// `Redactor::tool_input`: an assembled tool call input, where every key is data.
pub(crate) fn redact_tool_input(r: &Redactor, value: &mut Value, counts: &mut Counts) {
    let outside = Holder {
        flags: Flags {
            tool_input: true,
            ..Flags::default()
        },
        ..Holder::default()
    };
    walk(r, value, None, &outside, true, counts, 0);
}

/// Deeper than this, a value is left as it is (no recursion without bound).
const MAX_DEPTH: usize = 256;

fn walk(
    r: &Redactor,
    value: &mut Value,
    key: Option<&str>,
    parent: &Holder<'_>,
    root: bool,
    counts: &mut Counts,
    depth: usize,
) {
    match value {
        Value::String(s) => {
            let redacted = match treat(parent, key, s.as_bytes(), Scope::Recording) {
                Treat::Skip => None,
                Treat::Text => Some(r.text(s, counts).into_owned()).filter(|t| t != s),
                Treat::Json => match super::json::redact_json_text(r, s, counts) {
                    Ok(changed) => changed,
                    Err(super::json::NotJson) => {
                        Some(r.text(s, counts).into_owned()).filter(|t| t != s)
                    }
                },
            };
            if let Some(new) = redacted {
                *s = new;
            }
        }
        Value::Object(map) if depth < MAX_DEPTH => {
            let ty = map.get("type").and_then(Value::as_str).map(str::to_string);
            let role = map.get("role").and_then(Value::as_str).map(str::to_string);
            let holder = Holder {
                ty: ty.as_deref(),
                role: role.as_deref(),
                flags: child_flags(parent, key, ty.as_deref()),
                root,
            };
            for (k, v) in map.iter_mut() {
                walk(r, v, Some(k), &holder, false, counts, depth + 1);
            }
        }
        Value::Array(items) if depth < MAX_DEPTH => {
            let holder = Holder {
                ty: None,
                role: None,
                flags: child_flags(parent, key, None),
                root,
            };
            for v in items.iter_mut() {
                walk(r, v, None, &holder, false, counts, depth + 1);
            }
        }
        _ => {}
    }
}
