//! The debug stream view (`log_requests` at debug level) prints text previews of every request:
//! with PII on they are redacted like the recording, so the log holds no original either; nor do
//! the warnings and request lines that quote a provider's error.

use super::session::*;
use crate::support::process::{server, sigterm, start, TempHome};
use crate::support::*;
use bytes::Bytes;
use std::path::Path;
use std::time::Duration;

/// Runs the real binary on `config` (plus `env`), sends each body to `/v1/messages` expecting its
/// status, stops it with SIGTERM and returns everything it logged, once it exited cleanly.
async fn log_of_a_run(
    home: &TempHome,
    config: &Path,
    env: &[(&str, String)],
    requests: &[(Bytes, u16)],
) -> String {
    let mut cmd = server(home);
    cmd.args(["--host", "127.0.0.1", "--port", "0", "--config"])
        .arg(config)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    let (mut guard, addr, mut seen, lines) = start(&mut cmd);
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    for (body, status) in requests {
        let (head, _) = fetch(addr, post_json("/v1/messages", body.clone(), &HEADERS)).await;
        assert_eq!(head.status(), *status);
    }
    sigterm(&mut guard);
    let exit = guard.wait_exit(Duration::from_secs(20));
    // Bounded: the forwarding thread ends when the process's stderr closes.
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(5)) {
        seen.push(line);
    }
    let log = seen.join("\n");
    assert_eq!(exit.code(), Some(0), "{log}");
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_view_prints_redacted_previews() {
    let home = TempHome::new();
    let config = home.write(
        "config.toml",
        r#"
[logging]
level = "debug"
log_requests = true
[session_recording]
enabled = false
[session_recording.pii]
enabled = true
custom_patterns = [{ name = "employee_id", pattern = "EMP-[0-9]{6}" }]
"#,
    );
    let mock = mock().await;
    let requests: Vec<(Bytes, u16)> = bodies().into_iter().map(|b| (b, 200)).collect();
    let env = [("LUNAROUTE_ANTHROPIC_BASE_URL", mock.url())];
    let log = log_of_a_run(&home, &config, &env, &requests).await;
    // The view printed both answers' text...
    assert!(
        log.contains("text \"I'll write to [EMAIL] and read the log.\""),
        "{log}"
    );
    assert!(log.contains("[EMPLOYEE_ID] approved it."), "{log}");
    // ...and no original anywhere in the log.
    for value in originals() {
        assert!(!log.contains(&value), "{value} in the log:\n{log}");
    }
}

/// An error can quote the provider, and the provider may quote the user: the router's warning
/// and the request line are redacted too, at the default level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_error_quoting_the_user_is_redacted_in_the_log() {
    let (email, key) = (
        "leaky.user@example.com",
        "sk-ant-api03-Vb7Qm2Xr9Lk4Tn8Wc1Zp6Hy3Fd5Gs0Ja2Kq7Nw4Ex9Ru1Ti8Mo6Pl3Sv5Bc2AA",
    );
    let failed = serde_json::json!({"id": "resp_1", "object": "response", "status": "failed",
        "error": {"code": "server_error", "message": format!("failed on {email} {key}")}});
    let responses = MockUpstream::new()
        .route("/v1/responses", Reply::json(failed.to_string()))
        .start()
        .await;
    let home = TempHome::new();
    let config = home.write(
        "config.toml",
        &format!(
            r#"
[logging]
log_requests = true
[session_recording]
enabled = false
[session_recording.pii]
enabled = true
[providers.resp]
type = "openai-responses"
base_url = "{}/v1"
api_key = "sk-configured-for-the-mock"
[[routing.rules]]
model = "claude-via-responses"
provider = "resp"
"#,
            responses.url()
        ),
    );
    let body = r#"{"model":"claude-via-responses","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}"#;
    // 502: a failed response is not a message.
    let log = log_of_a_run(&home, &config, &[], &[(Bytes::from(body), 502)]).await;
    assert!(
        log.contains("failed on [EMAIL] [SECRET:anthropic_key]"),
        "{log}"
    );
    for value in [email, "sk-ant-api03-Vb7"] {
        assert!(!log.contains(value), "{value} in the log:\n{log}");
    }
}
