//! Tokenize mode through the real binary with its own HOME and no `hmac_secret`: the key is created
//! once in `~/.lunaroute/pii.key` (0600), the same value gets the same token after a restart, and
//! `lunaroute-server pii reveal TOKEN` prints the original with that key and fails (exit 1, a
//! message on stderr) for an unknown token or with a wrong `hmac_secret`.

use super::session::*;
use crate::support::process::{run, server, sigterm, start, TempHome};
use crate::support::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn config_file(home: &TempHome, extra: &str) -> PathBuf {
    let root = home.path().display();
    home.write(
        &format!("config{}.toml", extra.len()),
        &format!(
            r#"
[session_recording]
enabled = true
[session_recording.sqlite]
path = "{root}/db/sessions.db"
[session_recording.jsonl]
directory = "{root}/sessions"
[session_recording.pii]
enabled = true
redaction_mode = "tokenize"
custom_patterns = [{{ name = "employee_id", pattern = "EMP-[0-9]{{6}}" }}]
{extra}
"#
        ),
    )
}

/// One run of the server: both turns, then SIGTERM (the recorder drains before exit).
async fn one_run(home: &TempHome, config: &Path) {
    let mock = mock().await;
    let mut cmd = server(home);
    cmd.args(["--host", "127.0.0.1", "--port", "0", "--config"])
        .arg(config)
        .env("LUNAROUTE_ANTHROPIC_BASE_URL", mock.url());
    // The log receiver stays alive: dropping it would close the server's stderr under it.
    let (mut guard, addr, mut seen, lines) = start(&mut cmd);
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    for body in bodies() {
        let (head, _) = fetch(addr, post_json("/v1/messages", body, &HEADERS)).await;
        assert_eq!(head.status(), 200);
    }
    sigterm(&mut guard);
    let status = guard.wait_exit(Duration::from_secs(20));
    seen.extend(lines.try_iter());
    assert_eq!(status.code(), Some(0), "{}", seen.join("\n"));
}

/// `[KIND:xxxxxxxx]` tokens in the request bodies stored so far, in order.
fn stored_tokens(home: &TempHome, kind: &str) -> Vec<String> {
    let open = format!("[{kind}:");
    let mut out = Vec::new();
    for file in all_files(&home.path().join("sessions")) {
        let text = String::from_utf8(contents(&file)).unwrap();
        for line in text.lines() {
            let line: serde_json::Value = serde_json::from_str(line).unwrap();
            let Some(body) = line["body"]["text"].as_str() else {
                continue;
            };
            if line["type"] != "request" {
                continue;
            }
            out.extend(
                body.match_indices(&open)
                    .map(|(at, _)| body[at..at + open.len() + 9].to_string()),
            );
        }
    }
    out
}

fn reveal(home: &TempHome, config: &Path, token: &str) -> (Option<i32>, String, String) {
    let mut cmd = server(home);
    cmd.args(["pii", "reveal", token, "--config"]).arg(config);
    run(&mut cmd)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_survive_a_restart_and_reveal_needs_the_key() {
    let home = TempHome::new();
    let config = config_file(&home, "");
    one_run(&home, &config).await;

    let key = home.path().join(".lunaroute").join("pii.key");
    let mode = std::fs::metadata(&key).expect("the key file").permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    let key_bytes = std::fs::read(&key).unwrap();
    let first_run = stored_tokens(&home, "EMAIL");
    // Turn 1 is stored whole; turn 2 may be a delta of it, so only the first body is certain.
    let email = first_run.first().expect("an email token").clone();

    one_run(&home, &config).await;
    assert_eq!(
        std::fs::read(&key).unwrap(),
        key_bytes,
        "the key was replaced"
    );
    let both_runs = stored_tokens(&home, "EMAIL");
    assert!(both_runs.len() > first_run.len(), "{both_runs:?}");
    for token in &both_runs[first_run.len()..] {
        if token != &email {
            // The assistant's email, the other value of the session: its token is stable too.
            assert!(
                first_run.contains(token),
                "{token} is new after the restart"
            );
        }
    }
    assert!(both_runs[first_run.len()..].contains(&email));
    assert_no_originals(home.path());

    // The key holder gets the original back...
    let (code, stdout, stderr) = reveal(&home, &config, &email);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.trim_end(), EMAIL);
    // The card is in turn 2, which may be stored as a delta: read it through the export.
    let mut export_config = lunaroute::config::Config::default();
    export_config.session_recording.jsonl.directory =
        home.path().join("sessions").display().to_string();
    let second = &exported_bodies(&export_config)[1];
    let at = second.find("[CREDIT_CARD:").expect("a card token");
    let card = &second[at..at + "[CREDIT_CARD:".len() + 9];
    let (code, stdout, stderr) = reveal(&home, &config, card);
    assert_eq!((code, stdout.trim_end()), (Some(0), CARD), "{stderr}");
    // ...an unknown token is an error...
    let (code, stdout, stderr) = reveal(&home, &config, "[EMAIL:00000000]");
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.is_empty() && !stderr.trim().is_empty());
    // ...and so is the right token with the wrong key: never a garbled value.
    let wrong = config_file(&home, "hmac_secret = \"not-the-key-that-made-it\"");
    let (code, stdout, stderr) = reveal(&home, &wrong, &email);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(!stdout.contains(EMAIL) && !stderr.contains(EMAIL));
    assert!(stderr.contains("pii reveal"), "{stderr}");
}
