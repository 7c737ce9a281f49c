//! The PII redaction benchmark: throughput of `Redactor::json_body` on a ~300 KB Claude-Code-like
//! request (system prompt, tool definitions, a long conversation of tool results full of code,
//! logs, git output and ids, thinking blocks with signatures, a base64 screenshot, and a few
//! personal values), on one thread, in MB/s. Also `sse_body` on a streamed answer and `text` on
//! the request's largest tool result.
//!
//! The `pii` module is private to the crate, so this file compiles its sources directly
//! (`#[path]`) against the crate's public `config`: the code measured is the code shipped.
//!
//! `cargo bench --bench pii` (about ten seconds). Without `--bench` (as `cargo test --benches`
//! runs it) a short smoke run checks the setup and the results only.

#[allow(dead_code)]
mod config {
    pub(crate) use lunaroute::config::*;
}

#[allow(dead_code)]
#[path = "../src/pii/mod.rs"]
mod pii;

use config::{PiiConfig, RedactionMode};
use pii::{Counts, Redactor, Scope};
use std::fmt::Write;
use std::time::{Duration, Instant};

/// A small deterministic generator (no dependency, same body every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b"0123456789abcdef"[(self.next() % 16) as usize]))
            .collect()
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// One tool result: source code, a build log, git history or a stack trace.
fn tool_output(rng: &mut Lcg, i: usize) -> String {
    let mut s = String::new();
    match i % 4 {
        0 => {
            for n in 0..60 {
                let _ = writeln!(
                    s,
                    "{n:>4}\tfn handle_{n}(req: &Request, id: u64) -> Result<Response, Error> {{ let key = format!(\"{{}}:{{}}\", req.host(), {port}); tracing::debug!(id, \"v{a}.{b}.{c}\"); }}",
                    port = 8000 + n,
                    a = n % 3,
                    b = n % 10,
                    c = n
                );
            }
        }
        1 => {
            for n in 0..50 {
                let _ = writeln!(
                    s,
                    "   Compiling crate-{n} v0.{}.{} ({}) in {}.{:02}s  [build 10.0.22631.{}] pid={} t=17{:08}",
                    n % 9,
                    n,
                    rng.pick(&["registry", "path+file:///home/dev/src", "git+https://github.com/org/repo"]),
                    n % 7,
                    n,
                    2800 + n,
                    40000 + rng.next() % 20000,
                    rng.next() % 100_000_000
                );
            }
        }
        2 => {
            for n in 0..30 {
                let _ = writeln!(
                    s,
                    "commit {}\nAuthor: Dev {n} <dev{n}@users.noreply.example.org>\nDate:   2024-0{}-1{} 1{}:3{}:00 +0200\n\n    Fix #{} in src/module_{n}.rs (request {})\n",
                    rng.hex(40),
                    1 + n % 9,
                    n % 10,
                    n % 10,
                    n % 10,
                    1000 + n,
                    format_uuid(rng)
                );
            }
        }
        _ => {
            for n in 0..40 {
                let _ = writeln!(
                    s,
                    "thread 'tokio-runtime-worker' panicked at src/server/conn_{n}.rs:{}:{}: connection to 10.0.{}.{}:5432 refused\n  {n}: 0x{} - lunaroute::server::run::{{{{closure}}}}",
                    100 + n,
                    5 + n % 40,
                    n % 250,
                    1 + n % 200,
                    rng.hex(12)
                );
            }
        }
    }
    s
}

fn format_uuid(rng: &mut Lcg) -> String {
    format!(
        "{}-{}-4{}-a{}-{}",
        rng.hex(8),
        rng.hex(4),
        rng.hex(3),
        rng.hex(3),
        rng.hex(12)
    )
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// ~300 KB of Claude Code request: the shape matters (many strings, escapes, ids), and so does
/// what is in it (digits, colons and dots everywhere, very few real matches).
fn claude_code_request() -> String {
    let mut rng = Lcg(42);
    let system = "You are Claude Code, an interactive CLI tool. Working directory: /home/dev/project. Is git repo: yes. Platform: linux. Today's date: 2024-06-01. ".repeat(40);
    let tools: Vec<String> = (0..16)
        .map(|i| format!(r#"{{"name":"Tool{i}","description":"Runs step {i} of the workflow; see docs v2.{i}.0 for limits (max 30000 chars, timeout 120000 ms).","input_schema":{{"type":"object","properties":{{"command":{{"type":"string","description":"The command to run"}},"timeout":{{"type":"number"}}}},"required":["command"]}}}}"#))
        .collect();
    let mut messages = Vec::new();
    let mut i = 0;
    let mut size = system.len();
    while size < 300_000 {
        let tool_id = format!("toolu_01{}", rng.hex(22));
        let pii = match i % 25 {
            3 => " Contact the owner at maria.gonzalez@example.com or +1 415 555 2671.",
            11 => " The card on file is 4111 1111 1111 1111, server 192.168.14.23.",
            19 => " export ANTHROPIC_API_KEY=sk-ant-api03-AbCdEf0123456789xyzXYZ0123456789abcd",
            _ => "",
        };
        let user =
            format!("Please fix the failing test in src/module_{i}.rs and rerun cargo test.{pii}");
        messages.push(format!(
            r#"{{"role":"user","content":[{{"type":"text","text":{}}}]}}"#,
            json_str(&user)
        ));
        let thinking = format!(
            "The test at line {} fails because the timeout of 30s elapses; check the retry loop.",
            100 + i
        );
        let signature = format!("Eq{}", "QkFTRTY0c2lnbmF0dXJl".repeat(12));
        let command = format!("cargo test -p crate-{i} -- --nocapture 2>&1 | tail -n 200");
        messages.push(format!(
            r#"{{"role":"assistant","content":[{{"type":"thinking","thinking":{},"signature":"{signature}"}},{{"type":"text","text":"Let me run the tests."}},{{"type":"tool_use","id":"{tool_id}","name":"Bash","input":{{"command":{}}}}}]}}"#,
            json_str(&thinking),
            json_str(&command)
        ));
        let output = tool_output(&mut rng, i);
        messages.push(format!(
            r#"{{"role":"user","content":[{{"type":"tool_result","tool_use_id":"{tool_id}","content":{}}}]}}"#,
            json_str(&output)
        ));
        size += user.len() + thinking.len() + signature.len() + output.len() + 200;
        i += 1;
    }
    let image: String = (0..12_000)
        .map(|n| {
            char::from(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                    [(n * 7 + n / 3) % 64],
            )
        })
        .collect();
    messages.push(format!(
        r#"{{"role":"user","content":[{{"type":"image","source":{{"type":"base64","media_type":"image/png","data":"{image}"}}}},{{"type":"text","text":"This is the screenshot."}}]}}"#
    ));
    format!(
        r#"{{"model":"claude-sonnet-4-5-20250929","max_tokens":32000,"system":[{{"type":"text","text":{}}}],"tools":[{}],"messages":[{}],"metadata":{{"user_id":"user_{}_account__session_{}"}},"stream":true}}"#,
        json_str(&system),
        tools.join(","),
        messages.join(","),
        rng.hex(64),
        format_uuid(&mut rng)
    )
}

/// A streamed answer of `n` text deltas (Anthropic), with an email split across two of them.
fn anthropic_stream(n: usize) -> String {
    let mut s = String::from("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5\"}}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
    for i in 0..n {
        let text = match i {
            10 => "write to alice@exa".to_string(),
            11 => "mple.com today. ".to_string(),
            _ => format!(
                "Step {i}: the build at 2024-06-01T10:{:02}:00Z took {}.{}s. ",
                i % 60,
                i % 9,
                i % 7
            ),
        };
        let _ = write!(s, "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":{}}}}}\n\n", json_str(&text));
    }
    s.push_str("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    s
}

/// Runs `f` for about `time` (at least `min` times); returns MB/s over `bytes` per run.
fn throughput(bytes: usize, time: Duration, min: usize, mut f: impl FnMut()) -> (f64, usize) {
    let started = Instant::now();
    let mut runs = 0;
    while runs < min || started.elapsed() < time {
        f();
        runs += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    ((bytes * runs) as f64 / secs / 1e6, runs)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let time = if full {
        Duration::from_secs(3)
    } else {
        Duration::from_millis(100)
    };
    let home = std::env::temp_dir().join(format!("lunaroute-pii-bench-{}", std::process::id()));
    let cfg = PiiConfig {
        enabled: true,
        redaction_mode: RedactionMode::Mask,
        ..PiiConfig::default()
    };
    let redactor = match Redactor::from_config(&cfg, &home, None) {
        Ok(Some(r)) => r,
        other => panic!("the redactor did not build: {other:?}"),
    };

    let body = claude_code_request();
    assert!(
        serde_json::from_str::<serde_json::Value>(&body).is_ok(),
        "the request is JSON"
    );
    let mut counts = Counts::default();
    let redacted = redactor
        .json_body(body.as_bytes(), Scope::Recording, &mut counts)
        .expect("something to redact");
    assert!(
        serde_json::from_slice::<serde_json::Value>(&redacted).is_ok(),
        "still JSON"
    );
    let found: Vec<String> = counts.iter().map(|(k, n)| format!("{k}={n}")).collect();
    println!(
        "pii bench: request {} KB, redacted: {}",
        body.len() / 1000,
        found.join(" ")
    );

    let (mbs, runs) = throughput(body.len(), time, 3, || {
        let mut c = Counts::default();
        std::hint::black_box(redactor.json_body(body.as_bytes(), Scope::Recording, &mut c));
    });
    println!("json_body Recording: {mbs:.1} MB/s ({runs} runs)");
    let (mbs, runs) = throughput(body.len(), time, 3, || {
        let mut c = Counts::default();
        std::hint::black_box(redactor.json_body(body.as_bytes(), Scope::Upstream, &mut c));
    });
    println!("json_body Upstream:  {mbs:.1} MB/s ({runs} runs)");

    let stream = anthropic_stream(2000);
    let mut c = Counts::default();
    let out = redactor
        .sse_body(stream.as_bytes(), &mut c)
        .expect("the split email is caught");
    assert!(!String::from_utf8_lossy(&out).contains("mple.com"));
    let (mbs, runs) = throughput(stream.len(), time, 3, || {
        let mut c = Counts::default();
        std::hint::black_box(redactor.sse_body(stream.as_bytes(), &mut c));
    });
    println!(
        "sse_body ({} KB, 2000 deltas): {mbs:.1} MB/s ({runs} runs)",
        stream.len() / 1000
    );

    let text = tool_output(&mut Lcg(7), 1).repeat(20);
    let (mbs, runs) = throughput(text.len(), time, 3, || {
        let mut c = Counts::default();
        std::hint::black_box(redactor.text(&text, &mut c));
    });
    println!(
        "text (build log, {} KB): {mbs:.1} MB/s ({runs} runs)",
        text.len() / 1000
    );
    let _ = std::fs::remove_dir_all(&home);
}

/// Cargo builds benches with `cfg(test)`, so the module's unit tests are compiled here too (never
/// run): they need the crate's test helper.
#[cfg(test)]
#[allow(dead_code)]
mod test_support {
    use std::path::PathBuf;

    pub(crate) struct TempDir(PathBuf);

    impl TempDir {
        pub fn new(name: &str) -> Self {
            Self(
                std::env::temp_dir().join(format!("lunaroute-bench-{name}-{}", std::process::id())),
            )
        }
    }

    impl std::ops::Deref for TempDir {
        type Target = std::path::Path;
        fn deref(&self) -> &std::path::Path {
            &self.0
        }
    }
}
