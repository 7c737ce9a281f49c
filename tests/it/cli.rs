//! The real `lunaroute-server` binary as a subprocess: `--version`, `--print-config` (secrets masked),
//! exit code 2 with a useful message for bad config, and a zero-config start that serves `/healthz`
//! and exits 0 on SIGTERM. Each run gets an empty environment and a throw-away HOME, so neither the
//! developer's shell nor their ~/.lunaroute can change the outcome; every wait is bounded.

use crate::support::process::{run, server, sigterm, start, TempHome};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[test]
fn version_prints_the_crate_version() {
    let home = TempHome::new();
    let (code, stdout, stderr) = run(server(&home).arg("--version"));
    assert_eq!(code, Some(0), "stderr: {stderr}");
    let want = format!("lunaroute-server {}", env!("CARGO_PKG_VERSION"));
    assert!(
        stdout.starts_with(&want),
        "{stdout:?} should start with {want:?}"
    );
}

#[test]
fn print_config_masks_the_api_key_and_shows_every_layer() {
    let home = TempHome::new();
    let secret = "sk-ant-api03-cli-test-secret-value";
    let file = home.write(
        "c.toml",
        "[providers.openai]\nbase_url = \"http://127.0.0.1:9/v1\"\n",
    );
    let mut cmd = server(&home);
    cmd.args(["--print-config", "--port", "4321", "--config"])
        .arg(&file);
    cmd.env("LUNAROUTE_ANTHROPIC_API_KEY", secret)
        .env("LUNAROUTE_LOG_LEVEL", "debug");
    let (code, stdout, stderr) = run(&mut cmd);
    assert_eq!(code, Some(0), "stderr: {stderr}");
    assert!(
        !stdout.contains(secret) && !stderr.contains(secret),
        "the key leaked: {stdout}{stderr}"
    );
    assert!(
        !stdout.contains("cli-test-secret"),
        "part of the key leaked: {stdout}"
    );

    let shown: serde_json::Value =
        serde_json::from_str(&stdout).expect("--print-config prints JSON");
    let fingerprint = lunaroute::config::fingerprint(secret.as_bytes());
    assert!(fingerprint.starts_with("***#"), "{fingerprint}");
    assert_eq!(
        shown["providers"]["anthropic"]["api_key"],
        fingerprint.as_str()
    );
    assert_eq!(shown["port"], 4321, "flag");
    assert_eq!(shown["logging"]["level"], "debug", "environment");
    assert_eq!(
        shown["providers"]["openai"]["base_url"], "http://127.0.0.1:9/v1",
        "file"
    );
    assert_eq!(
        shown["providers"]["openai"]["api_key"],
        serde_json::Value::Null
    );
}

#[test]
fn bad_config_exits_2_naming_the_file_and_the_key() {
    let home = TempHome::new();
    let file = home.write("typo.toml", "host = \"127.0.0.1\"\nprot = 8080\n");
    let (code, stdout, stderr) = run(server(&home).arg("--config").arg(&file));
    assert_eq!(code, Some(2), "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stderr.contains(&file.display().to_string()),
        "names the file: {stderr}"
    );
    assert!(stderr.contains("prot"), "names the key: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let missing = home.path().join("nope.toml");
    let (code, _, stderr) = run(server(&home).arg("--config").arg(&missing));
    assert_eq!(code, Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains(&missing.display().to_string()),
        "names the file: {stderr}"
    );

    // The same through LUNAROUTE_CONFIG, and for a bad flag value.
    let (code, _, stderr) = run(server(&home).env("LUNAROUTE_CONFIG", &missing));
    assert_eq!(code, Some(2), "stderr: {stderr}");
    assert!(stderr.contains("nope.toml"), "{stderr}");
    let (code, _, stderr) = run(server(&home).args(["--dialect", "gemini"]));
    assert_eq!(code, Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains("--dialect") && stderr.contains("gemini"),
        "{stderr}"
    );

    // A flag argh cannot parse is a startup error too, not argh's usual exit code 1.
    let (code, _, stderr) = run(server(&home).args(["--port", "eighty"]));
    assert_eq!(code, Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains("--port") && stderr.contains("eighty"),
        "{stderr}"
    );

    // A bad home file is not skipped either.
    std::fs::create_dir_all(home.path().join(".lunaroute")).unwrap();
    home.write(".lunaroute/config.toml", "port = \"eighty\"\n");
    let (code, _, stderr) = run(&mut server(&home));
    assert_eq!(code, Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains(".lunaroute/config.toml") && stderr.contains("port"),
        "{stderr}"
    );
}

#[test]
fn zero_config_start_serves_healthz_and_stops_cleanly_on_sigterm() {
    let home = TempHome::new();
    let mut cmd = server(&home);
    // An unrelated variable in the user's shell is warned about, never fatal.
    cmd.args(["--port", "0"])
        .env("LUNAROUTE_SOMETHING_ELSE", "1");
    let (mut guard, addr, seen, _lines) = start(&mut cmd);
    assert!(
        seen.iter().any(|l| l.contains("LUNAROUTE_SOMETHING_ELSE")),
        "the unknown variable is warned about before serving: {seen:#?}"
    );

    let response = http_get(&addr, "/healthz");
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "GET /healthz on {addr}: {response}"
    );

    sigterm(&mut guard);
    let status = guard.wait_exit(Duration::from_secs(10));
    assert_eq!(
        status.code(),
        Some(0),
        "SIGTERM is a clean shutdown; stderr: {seen:#?}"
    );
}

/// `log_requests`: one line per request with its figures, and no credential anywhere in the log,
/// even at trace level.
#[test]
fn request_log_has_one_line_per_request_and_never_a_credential() {
    use crate::support::{fixture, MockUpstream, Reply};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mock = runtime.block_on(
        MockUpstream::new()
            .route_fn("/v1/messages", |request| {
                // A 200 stream that ends in an error event for the model that asks for one.
                let overloaded = String::from_utf8_lossy(&request.body).contains("overloaded");
                Reply::sse(fixture(if overloaded {
                    "anthropic/overloaded_after_200.sse"
                } else {
                    "anthropic/messages_text.sse"
                }))
            })
            .route(
                "/v1/chat/completions",
                Reply::json(fixture("openai/chat_text.json")),
            )
            .start(),
    );
    let home = TempHome::new();
    let mut cmd = server(&home);
    cmd.args(["--port", "0", "--log-level", "trace"])
        .env("LUNAROUTE_LOG_REQUESTS", "yes")
        .env("LUNAROUTE_ANTHROPIC_BASE_URL", mock.url())
        .env("LUNAROUTE_OPENAI_BASE_URL", format!("{}/v1", mock.url()))
        .env("LUNAROUTE_OPENAI_API_KEY", "sk-proj-CONFIGURED-SECRET-4");
    let (mut guard, addr, mut seen, lines) = start(&mut cmd);

    let anthropic = http_request(
        &addr,
        "POST /v1/messages?beta=true",
        &[
            ("x-api-key", "sk-ant-CLIENT-SECRET-1"),
            ("authorization", "Bearer CLIENT-SECRET-2"),
            ("cookie", "session=CLIENT-SECRET-3"),
            ("anthropic-version", "2023-06-01"),
        ],
        r#"{"model":"claude-sonnet-4-5","stream":true,"messages":[]}"#,
    );
    assert!(anthropic.starts_with("HTTP/1.1 200"), "{anthropic}");
    let openai = http_request(
        &addr,
        "POST /v1/chat/completions",
        &[("authorization", "Bearer sk-CLIENT-SECRET-5")],
        r#"{"messages":[{"role":"user","content":"hi"}],"model":"gpt-5-mini"}"#,
    );
    assert!(openai.starts_with("HTTP/1.1 200"), "{openai}");
    let overloaded = http_request(
        &addr,
        "POST /v1/messages",
        &[("x-api-key", "sk-ant-CLIENT-SECRET-1")],
        r#"{"model":"claude-overloaded","stream":true,"messages":[]}"#,
    );
    assert!(overloaded.starts_with("HTTP/1.1 200"), "{overloaded}");
    assert_eq!(mock.requests().len(), 3);

    sigterm(&mut guard);
    assert_eq!(guard.wait_exit(Duration::from_secs(10)).code(), Some(0));
    seen.extend(lines.try_iter());
    let log = seen.join("\n");
    for secret in ["SECRET-1", "SECRET-2", "SECRET-3", "SECRET-4", "SECRET-5"] {
        assert!(
            !log.contains(secret),
            "{secret} leaked into the log:\n{log}"
        );
    }
    let request_lines: Vec<&String> = seen
        .iter()
        .filter(|l| l.contains("lunaroute::request"))
        .collect();
    assert_eq!(request_lines.len(), 3, "{log}");
    let first = request_lines[0];
    for part in [
        "POST /v1/messages provider=anthropic model=claude-sonnet-4-5 status=200",
        "stream=yes",
        "outcome=ok",
        "upstream_ms=",
        "total_ms=",
        "overhead_us=",
    ] {
        assert!(first.contains(part), "{part:?} missing from {first}");
    }
    let second = request_lines[1];
    for part in [
        "POST /v1/chat/completions provider=openai model=gpt-5-mini status=200",
        "stream=no",
        "outcome=ok",
    ] {
        assert!(second.contains(part), "{part:?} missing from {second}");
    }
    // A 200 whose stream ended in the provider's error event is not `ok`.
    let third = request_lines[2];
    for part in ["model=claude-overloaded status=200", "outcome=error_event"] {
        assert!(third.contains(part), "{part:?} missing from {third}");
    }
}

/// One HTTP/1.1 request with headers and a body, read to the end (`Connection: close`).
fn http_request(addr: &str, request_line: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = format!("{request_line} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .unwrap_or_else(|e| panic!("read from {addr}: {e}"));
    response
}

/// One HTTP/1.1 request on a plain socket, every step bounded by a 10 s timeout.
fn http_get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .unwrap_or_else(|e| panic!("read from {addr}: {e}"));
    response
}

/// `sessions export ID` reads `session_recording.jsonl.directory` from `--config` (before or after
/// the subcommand) and prints the exact request body; an unknown session exits 2. A slim build
/// says it has no recording.
#[test]
fn sessions_export_prints_the_recorded_bodies() {
    let home = TempHome::new();
    let sessions = home.path().join("rec");
    std::fs::create_dir_all(sessions.join("2025-03-10")).unwrap();
    let body = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
    let request = serde_json::json!({"session_id": "s1", "request_id": "r1", "type": "request",
        "timestamp": "2025-03-10T00:00:00.000Z", "body": {"text": body}});
    let response = serde_json::json!({"session_id": "s1", "request_id": "r1", "type": "response",
        "timestamp": "2025-03-10T00:00:01.000Z", "status": 200, "body": {"text": "ok"}});
    std::fs::write(
        sessions.join("2025-03-10/s1.jsonl"),
        format!("{request}\n{response}\n"),
    )
    .unwrap();
    let config = home.write(
        "rec.toml",
        &format!(
            "[session_recording.jsonl]\ndirectory = {:?}\n",
            sessions.display().to_string()
        ),
    );

    let before = run(server(&home)
        .arg("--config")
        .arg(&config)
        .args(["sessions", "export", "s1"]));
    let after = run(server(&home)
        .args(["sessions", "export", "s1", "--config"])
        .arg(&config));
    let (code, stdout, stderr) = before;
    if stderr.contains("no `recording` feature") {
        assert_eq!(code, Some(2));
        return;
    }
    assert_eq!(code, Some(0), "stderr: {stderr}");
    assert_eq!(stdout, after.1);
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["request_body"], body);
    assert_eq!(
        (line["status"].as_u64(), line["response_body"].as_str()),
        (Some(200), Some("ok"))
    );

    let (code, _, stderr) = run(server(&home)
        .arg("--config")
        .arg(&config)
        .args(["sessions", "export", "nope"]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("exporting session nope") && stderr.contains("no recording"),
        "{stderr}"
    );
}

/// The debug stream view (`log_requests` at debug level): a request line, then the answer's text,
/// tool call, usage and stop reason, each on its own `lunaroute::stream` line; never a key. At info
/// level none of it appears. A build without `recording` has no view at all.
#[test]
fn debug_stream_view_shows_the_exchange_and_never_a_key() {
    use crate::support::{fixture, MockUpstream, Reply};
    let with_view = lunaroute::features::compiled().contains(&"recording");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mock = runtime.block_on(
        MockUpstream::new()
            .route(
                "/v1/messages",
                Reply::sse(fixture("anthropic/messages_tool.sse")),
            )
            .start(),
    );
    let body = r#"{"model":"claude-sonnet-4-6","stream":true,"max_tokens":512,
        "tools":[{"name":"get_weather","input_schema":{"type":"object"}}],
        "messages":[{"role":"user","content":"Weather in Paris?"}]}"#;
    let run_at = |level: &str| {
        let home = TempHome::new();
        let mut cmd = server(&home);
        cmd.args(["--port", "0", "--log-level", level])
            .env("LUNAROUTE_LOG_REQUESTS", "true")
            .env("LUNAROUTE_ANTHROPIC_BASE_URL", mock.url());
        let (mut guard, addr, mut seen, lines) = start(&mut cmd);
        let response = http_request(
            &addr,
            "POST /v1/messages",
            &[
                ("x-api-key", "sk-ant-api03-DEBUG-VIEW-SECRET-1"),
                ("authorization", "Bearer DEBUG-VIEW-SECRET-2"),
                ("anthropic-version", "2023-06-01"),
            ],
            body,
        );
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        sigterm(&mut guard);
        assert_eq!(guard.wait_exit(Duration::from_secs(10)).code(), Some(0));
        seen.extend(lines.try_iter());
        seen
    };

    let seen = run_at("debug");
    let log = seen.join("\n");
    assert!(
        !log.contains("DEBUG-VIEW-SECRET"),
        "a key leaked into the log:\n{log}"
    );
    let view: Vec<&str> = seen
        .iter()
        .filter_map(|l| l.split("lunaroute::stream: ").nth(1))
        .collect();
    if !with_view {
        assert!(view.is_empty(), "{log}");
        return;
    }
    assert_eq!(
        view,
        [
            "#1 request anthropic POST /v1/messages model=claude-sonnet-4-6 messages=1 streaming=yes tools=1",
            "#1 text \"I'll check the current weather in Paris for you ☀️\"",
            r#"#1 tool get_weather {"city":"Paris","unit":"celsius"}"#,
            "#1 usage in=412 out=71 cache_read=10240 cache_write=1536 thinking=0 stop=tool_use",
        ],
        "{log}"
    );

    let seen = run_at("info");
    let log = seen.join("\n");
    assert!(!log.contains("lunaroute::stream"), "{log}");
    assert!(log.contains("lunaroute::request"), "{log}");
}
