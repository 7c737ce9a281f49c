//! Claude-Code-like requests: what the recorder really gets. Recording cost grows with the request
//! body (the writer copies, parses, hashes and stores it), so the tiny canned bodies of the proxy
//! bench would flatter it.
//!
//! A conversation here looks like one from Claude Code: `model`, then `messages` (a first user
//! message with a `<system-reminder>`, then per turn an assistant text + `tool_use` and a user
//! `tool_result` holding a slice of a file), then the large unchanging tail: a system prompt of
//! two blocks and about twenty tool definitions, `metadata.user_id` with the session, `max_tokens`
//! and `stream`. The newest message carries `cache_control`, which moves on the next turn (so, as
//! with the real client, the previous last message changes bytes). Every request carries the
//! `x-claude-code-session-id` header and a `claude-cli` user agent.
//!
//! Bodies start at about 50 KB and grow by about 1.6 KB a turn to about 100 KB; after `TURNS`
//! turns the next request starts a new session. Text comes from a fixed-seed generator, so every
//! run and every side (direct, recording off, recording on) sends the same bytes in the same order.

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use serde_json::{json, Value};

use crate::support::client::Outgoing;

/// Turns per session: the body grows from ~50 KB to ~100 KB over them.
pub const TURNS: u64 = 32;

const MODEL: &str = "claude-sonnet-4-5-20250929";
const USER_AGENT: &str = "claude-cli/2.0.14 (external, cli)";
const BETAS: &str =
    "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14";

const TOOLS: &[&str] = &[
    "Task",
    "Bash",
    "Glob",
    "Grep",
    "ExitPlanMode",
    "Read",
    "Edit",
    "Write",
    "NotebookEdit",
    "WebFetch",
    "TodoWrite",
    "WebSearch",
    "BashOutput",
    "KillShell",
    "SlashCommand",
    "MultiEdit",
    "LS",
    "ListMcpResources",
    "ReadMcpResource",
    "AskUserQuestion",
];

/// The parts every body is spliced from; built once.
pub struct Workload {
    /// `{"model":"…","messages":[`
    head: String,
    /// From `],"temperature"…` up to the session id inside `metadata.user_id`.
    tail_before_session: String,
    /// Each message as it appears when it is not the newest one.
    items: Vec<String>,
    /// The same message with `cache_control` on its last block (only user messages are ever newest).
    newest: Vec<String>,
}

// === impl Workload ===

impl Workload {
    /// Every body of a session parses as JSON and holds its session id (a broken generator would
    /// measure the recorder's error path instead).
    pub fn check_bodies(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for n in [0, 1, TURNS - 1] {
            let outgoing = self.request(9, n, true);
            match serde_json::from_slice::<serde_json::Value>(&outgoing.body) {
                Ok(body)
                    if body["messages"].as_array().map(Vec::len) == Some(1 + 2 * n as usize) => {}
                Ok(_) => problems.push(format!(
                    "workload: request {n} has the wrong number of messages"
                )),
                Err(e) => problems.push(format!("workload: request {n} is not JSON: {e}")),
            }
        }
        problems
    }

    pub fn build() -> Self {
        let mut rng = Rng(0x5eed_1a2b_3c4d_5e6f);
        let system = json!([
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.",
             "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": rng.prose(10_500), "cache_control": {"type": "ephemeral"}},
        ]);
        let tools: Vec<Value> = TOOLS.iter().map(|name| tool(&mut rng, name)).collect();
        let head = format!(r#"{{"model":"{MODEL}","messages":["#);
        let tail_before_session = format!(
            r#"],"temperature":1,"system":{system},"tools":{},"metadata":{{"user_id":"user_{}_account__session_"#,
            Value::Array(tools),
            "7c3f".repeat(16),
        );

        let mut items = Vec::new();
        let mut newest = Vec::new();
        let first = |cached: bool| {
            let mut rng = Rng(7);
            let mut task = json!({"type": "text", "text": "The integration test for the retry loop fails on CI; find out why and fix it."});
            if cached {
                task["cache_control"] = json!({"type": "ephemeral"});
            }
            let reminder = format!(
                "<system-reminder>\nContents of CLAUDE.md:\n{}\n</system-reminder>",
                rng.prose(3_600)
            );
            json!({"role": "user", "content": [{"type": "text", "text": reminder}, task]})
                .to_string()
        };
        items.push(first(false));
        newest.push(first(true));
        for turn in 1..TURNS {
            let id = format!("toolu_01{turn:022}");
            let name = ["Read", "Grep", "Bash", "Edit", "Glob"][turn as usize % 5];
            let assistant = json!({"role": "assistant", "content": [
                {"type": "text", "text": rng.prose(220)},
                {"type": "tool_use", "id": id, "name": name,
                 "input": {"file_path": format!("/home/dev/project/src/retry/mod_{turn}.rs"), "offset": turn * 40, "limit": 40}},
            ]});
            items.push(assistant.to_string());
            newest.push(String::new()); // an assistant message is never the newest
            let file = rng.code(turn * 40, 14);
            let result = |cached: bool| {
                let mut block = json!({"type": "tool_result", "tool_use_id": id, "content": file});
                if cached {
                    block["cache_control"] = json!({"type": "ephemeral"});
                }
                json!({"role": "user", "content": [block]}).to_string()
            };
            items.push(result(false));
            newest.push(result(true));
        }
        Self {
            head,
            tail_before_session,
            items,
            newest,
        }
    }

    /// Request number `n` of the conversation series `series` (one series per side, or per
    /// connection): session `n / TURNS`, turn `n % TURNS`. `stream` picks SSE or JSON.
    pub fn request(&self, series: u16, n: u64, stream: bool) -> Outgoing {
        let session = format!("5e55a0b1-{series:04x}-4c0d-8e00-{:012x}", n / TURNS);
        let messages = 1 + 2 * (n % TURNS) as usize;
        let len = self.head.len()
            + self.items[..messages]
                .iter()
                .map(|m| m.len() + 1)
                .sum::<usize>()
            + self.tail_before_session.len()
            + 120;
        let mut body = String::with_capacity(len);
        body.push_str(&self.head);
        for item in &self.items[..messages - 1] {
            body.push_str(item);
            body.push(',');
        }
        body.push_str(&self.newest[messages - 1]);
        body.push_str(&self.tail_before_session);
        body.push_str(&session);
        body.push_str(r#""},"max_tokens":32000,"stream":"#);
        body.push_str(if stream { "true}" } else { "false}" });

        let header = |name: &'static str, value: &str| {
            (
                HeaderName::from_static(name),
                HeaderValue::from_str(value).expect("an ASCII header value"),
            )
        };
        Outgoing {
            body: Bytes::from(body),
            headers: vec![
                header("user-agent", USER_AGENT),
                header("x-app", "cli"),
                header("anthropic-beta", BETAS),
                header("anthropic-dangerous-direct-browser-access", "true"),
                header("x-stainless-lang", "js"),
                header("x-claude-code-session-id", &session),
            ],
        }
    }
}

/// One tool definition with a long description, as Claude Code sends them.
fn tool(rng: &mut Rng, name: &str) -> Value {
    let mut properties = serde_json::Map::new();
    for i in 0..(2 + name.len() % 4) {
        properties.insert(
            format!("param_{i}"),
            json!({"type": "string", "description": rng.prose(90)}),
        );
    }
    json!({
        "name": name,
        "description": rng.prose(1_050 + 40 * (name.len() % 7)),
        "input_schema": {
            "type": "object",
            "properties": properties,
            "required": ["param_0"],
            "additionalProperties": false,
            "$schema": "http://json-schema.org/draft-07/schema#",
        },
    })
}

/// A small fixed-seed generator (xorshift64): the same text every run, no dependency.
struct Rng(u64);

// === impl Rng ===

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }

    /// About `len` bytes of instructions-like prose.
    fn prose(&mut self, len: usize) -> String {
        const WORDS: &[&str] = &[
            "the",
            "tool",
            "use",
            "file",
            "when",
            "you",
            "must",
            "should",
            "never",
            "always",
            "read",
            "before",
            "editing",
            "command",
            "output",
            "user",
            "task",
            "code",
            "test",
            "run",
            "search",
            "pattern",
            "result",
            "path",
            "absolute",
            "directory",
            "changes",
            "commit",
            "branch",
            "review",
            "concise",
            "instead",
            "of",
            "with",
            "and",
            "or",
            "a",
            "to",
            "in",
            "for",
            "this",
            "that",
            "is",
            "are",
            "if",
            "only",
            "parallel",
            "calls",
            "agent",
            "context",
            "important:",
            "e.g.",
            "`git status`",
            "`cargo test`",
            "TODO",
            "-",
        ];
        let mut out = String::with_capacity(len + 16);
        while out.len() < len {
            out.push_str(self.pick(WORDS));
            out.push(if self.next() % 13 == 0 { '\n' } else { ' ' });
        }
        out
    }

    /// `lines` lines of a Rust file in the Read tool's `cat -n` form, numbered from `first + 1`.
    fn code(&mut self, first: u64, lines: u64) -> String {
        const IDENTS: &[&str] = &[
            "attempt",
            "backoff",
            "client",
            "request",
            "response",
            "deadline",
            "retry_after",
            "status",
            "budget",
            "delay",
            "jitter",
            "error",
            "policy",
            "max_attempts",
            "elapsed",
            "config",
        ];
        let mut out = String::new();
        for line in first + 1..=first + lines {
            let (a, b, c) = (self.pick(IDENTS), self.pick(IDENTS), self.pick(IDENTS));
            let text = match self.next() % 4 {
                0 => format!("        let {a} = {b}.{c}(&{a}, {})?;", self.next() % 1000),
                1 => format!(
                    "        if {a}.{b}() > {c} {{ return Err(Error::{}); }}",
                    "Exhausted"
                ),
                2 => format!(
                    "    // {} {} {} before the next {c}",
                    self.prose(20).trim(),
                    a,
                    b
                ),
                _ => format!("        tracing::debug!({a} = ?{b}, \"{c} scheduled\");"),
            };
            out.push_str(&format!("{line:>6}\u{2192}{text}\n"));
        }
        out
    }
}
