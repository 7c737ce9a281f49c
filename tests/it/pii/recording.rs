//! The PII session recorded through the in-process proxy in each redaction mode: no original value
//! anywhere on disk (JSONL, SQLite with its WAL, the full-text index), each mode's documented form in
//! the recording, thinking signatures untouched, the client's bytes unchanged, and the per-request
//! counts equal in JSONL, SQLite and `/metrics`. Secrets are redacted even with `enabled = false`.

use super::session::*;
use crate::support::*;
use lunaroute::config::RedactionMode;
use serde_json::Value;
use std::path::Path;

/// The stored request bodies, the assembled answers and the FTS text, joined, for form checks.
struct Stored {
    bodies: Vec<String>,
    texts: Vec<String>,
    fts: String,
}

fn stored(dir: &Path, config: &lunaroute::config::Config) -> Stored {
    let lines = jsonl_lines(dir);
    let texts = lines
        .iter()
        .filter(|l| l["type"] == "response")
        .map(|l| l["message"]["text"].as_str().unwrap().to_string())
        .collect();
    let db = rusqlite::Connection::open(dir.join("db").join("sessions.db")).unwrap();
    let fts: Vec<String> = db
        .prepare("SELECT content FROM requests_fts")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    Stored {
        bodies: exported_bodies(config),
        texts,
        fts: fts.join("\n"),
    }
}

async fn recorded(mode: RedactionMode) -> (TempDirGuard, lunaroute::config::Config, Stored) {
    let dir = TempDirGuard::new();
    let mock = mock().await;
    let config = pii_config(&mock, &dir.0, mode);
    let received = record_session(config.clone()).await;
    // The client got the provider's bytes, unchanged.
    assert_eq!(received[0], first_stream());
    assert_eq!(received[1], second_stream());
    // The provider got the client's bytes, unchanged (upstream mode is off).
    let sent: Vec<_> = mock.requests().into_iter().map(|r| r.body).collect();
    assert_eq!(sent, bodies().to_vec());
    assert_no_originals(&dir.0);
    let stored = stored(&dir.0, &config);
    (dir, config, stored)
}

pub struct TempDirGuard(pub std::path::PathBuf);

impl TempDirGuard {
    pub fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("lunaroute-pii-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The signature from the stream and from the client's turn 2 survive in the recording.
fn signatures_kept(dir: &Path, bodies: &[String]) {
    assert!(bodies[1].contains(SIGNATURE), "{}", bodies[1]);
    let lines = jsonl_lines(dir);
    let first = lines
        .iter()
        .find(|l| l["type"] == "response")
        .expect("a response line");
    assert_eq!(first["message"]["thinking"][0]["signature"], SIGNATURE);
}

#[tokio::test]
async fn mask_mode_records_placeholders_and_nothing_else() {
    let (dir, _config, s) = recorded(RedactionMode::Mask).await;
    let user = &s.bodies[0];
    for placeholder in ["[EMAIL]", "[PHONE]", "[SSN]"] {
        assert!(user.contains(placeholder), "{placeholder} in {user}");
    }
    let result = &s.bodies[1];
    for placeholder in ["[CREDIT_CARD]", "[IP]", "[EMPLOYEE_ID]"] {
        assert!(result.contains(placeholder), "{placeholder} in {result}");
    }
    // The rest of the text is untouched.
    assert!(user.contains("Please email [EMAIL] or call [PHONE]; my SSN is [SSN]."));
    assert_eq!(s.texts[0], "I'll write to [EMAIL] and read the log.");
    assert_eq!(
        s.texts[1],
        "The charge came from [IP]; employee [EMPLOYEE_ID] approved it."
    );
    assert!(s.fts.contains("[EMAIL]") && s.fts.contains("[CREDIT_CARD]"));
    signatures_kept(&dir.0, &s.bodies);
}

#[tokio::test]
async fn remove_mode_drops_the_values() {
    let (dir, _config, s) = recorded(RedactionMode::Remove).await;
    assert!(
        s.bodies[0].contains("Please email  or call ; my SSN is . What"),
        "{}",
        s.bodies[0]
    );
    assert_eq!(s.texts[0], "I'll write to  and read the log.");
    assert_eq!(s.texts[1], "The charge came from ; employee  approved it.");
    assert!(
        s.bodies[1].contains("charge failed for card  from  (employee )"),
        "{}",
        s.bodies[1]
    );
    signatures_kept(&dir.0, &s.bodies);
}

/// All but the last 4 characters starred.
fn partial(value: &str) -> String {
    let n = value.chars().count();
    let kept: String = value.chars().skip(n - 4).collect();
    format!("{}{kept}", "*".repeat(n - 4))
}

#[tokio::test]
async fn partial_mode_keeps_the_last_characters() {
    let (dir, _config, s) = recorded(RedactionMode::Partial).await;
    for value in [EMAIL, PHONE, SSN] {
        assert!(
            s.bodies[0].contains(&partial(value)),
            "{} in {}",
            partial(value),
            s.bodies[0]
        );
    }
    for value in [CARD, IP, EMPLOYEE] {
        assert!(s.bodies[1].contains(&partial(value)), "{}", s.bodies[1]);
    }
    let split = format!("{}{}", EMAIL_SPLIT.0, EMAIL_SPLIT.1);
    assert_eq!(
        s.texts[0],
        format!("I'll write to {} and read the log.", partial(&split))
    );
    signatures_kept(&dir.0, &s.bodies);
}

#[tokio::test]
async fn tokenize_mode_gives_stable_tokens() {
    let (dir, _config, s) = recorded(RedactionMode::Tokenize).await;
    let tokens = |text: &str, kind: &str| -> Vec<String> {
        let open = format!("[{kind}:");
        text.match_indices(&open)
            .map(|(at, _)| text[at..at + open.len() + 9].to_string())
            .collect()
    };
    let emails = tokens(&s.bodies[1], "EMAIL");
    // The user's email (user message, thinking) and the assistant's: two values, two tokens.
    assert_eq!(emails.len(), 3, "{emails:?} in {}", s.bodies[1]);
    for token in &emails {
        let hex = &token["[EMAIL:".len()..token.len() - 1];
        assert!(
            token.ends_with(']') && hex.len() == 8 && hex.chars().all(|c| c.is_ascii_hexdigit()),
            "{token}"
        );
    }
    let mut distinct = emails.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 2, "{emails:?}");
    // The same value gives the same token in turn 1 and turn 2, in bodies and in the answer.
    assert_eq!(tokens(&s.bodies[0], "EMAIL"), [emails[0].clone()]);
    assert_eq!(
        emails[0], emails[1],
        "user message and thinking: {emails:?}"
    );
    assert_eq!(
        s.texts[0],
        format!("I'll write to {} and read the log.", emails[2])
    );
    for kind in ["PHONE", "SSN"] {
        assert_eq!(
            tokens(&s.bodies[0], kind).len(),
            1,
            "{kind}: {}",
            s.bodies[0]
        );
    }
    for kind in ["CREDIT_CARD", "IP", "EMPLOYEE_ID"] {
        assert_eq!(
            tokens(&s.bodies[1], kind).len(),
            1,
            "{kind}: {}",
            s.bodies[1]
        );
    }
    signatures_kept(&dir.0, &s.bodies);
}

#[tokio::test]
async fn counts_land_in_jsonl_sqlite_and_metrics() {
    let dir = TempDirGuard::new();
    let mock = mock().await;
    let config = pii_config(&mock, &dir.0, RedactionMode::Mask);
    let mut proxy = spawn_proxy(config).await;
    run_turns(&proxy).await;
    // The writer flushes within 100 ms; the metric is counted when the record is made.
    let counted = eventually_json(&dir.0);
    let (_, metrics) = fetch(proxy.addr, get("/metrics", &[])).await;
    let metrics = String::from_utf8_lossy(&metrics).into_owned();
    proxy.shutdown().await.unwrap();

    let lines = jsonl_lines(&dir.0);
    let redactions: Vec<&Value> = lines
        .iter()
        .filter(|l| l["type"] == "response")
        .map(|l| &l["final_stats"]["redactions"])
        .collect();
    assert_eq!(redactions.len(), 2);
    // Turn 1: the user's email, phone and SSN (its thinking and answer emails are in the stream).
    let first = redactions[0].as_object().expect("redactions object");
    for kind in ["email", "phone", "ssn"] {
        assert!(first[kind].as_u64().unwrap() >= 1, "{kind}: {first:?}");
    }
    let second = redactions[1].as_object().unwrap();
    for kind in ["credit_card", "ip", "employee_id"] {
        assert!(second[kind].as_u64().unwrap() >= 1, "{kind}: {second:?}");
    }
    assert!(counted, "no row with redactions appeared");
    // SQLite holds the same objects.
    let db = rusqlite::Connection::open(dir.0.join("db").join("sessions.db")).unwrap();
    let rows: Vec<String> = db
        .prepare("SELECT redactions FROM requests ORDER BY started_at_ms")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect();
    assert_eq!(rows, redactions.into_iter().cloned().collect::<Vec<_>>());
    // /metrics counts by kind (other tests in this process add to the same counters).
    for (kind, n) in first.iter().chain(second.iter()) {
        let line = format!("lunaroute_pii_redactions_total{{kind=\"{kind}\"}} ");
        let value: f64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(&line))
            .unwrap_or_else(|| panic!("no {line} in /metrics"))
            .trim()
            .parse()
            .unwrap();
        assert!(value >= n.as_u64().unwrap() as f64, "{kind}: {value} < {n}");
    }
}

/// Polls the database until both requests have their `redactions` (bounded: 10 s).
fn eventually_json(dir: &Path) -> bool {
    let db = dir.join("db").join("sessions.db");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if let Ok(conn) = rusqlite::Connection::open(&db) {
            let n: i64 = conn
                .query_row(
                    "SELECT COUNT(*) FROM requests WHERE redactions IS NOT NULL",
                    [],
                    |r| r.get(0),
                )
                .unwrap_or(0);
            if n == 2 {
                return true;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    false
}

#[tokio::test]
async fn secrets_are_redacted_with_pii_disabled() {
    let dir = TempDirGuard::new();
    let mock = MockUpstream::new()
        .route("/v1/messages", Reply::sse(second_stream()))
        .start()
        .await;
    let mut config = pii_config(&mock, &dir.0, RedactionMode::Mask);
    config.session_recording.pii.enabled = false;
    let anthropic = "sk-ant-api03-Xk29fQpL7mZ4vB8nR1tY6wE3uI0oP5aS2dF9gH7jK4lM1nB6vC3xZ8qW5eR2tY7uI0oP9aS4dF-Qx7RtAA";
    let aws = "AKIA4HKQ2N7XW5LRT3PZ";
    let body = format!(
        r#"{{"model":"claude-sonnet-4-6","max_tokens":64,"stream":true,"messages":[{{"role":"user","content":"my .env has ANTHROPIC_API_KEY={anthropic} and AWS_ACCESS_KEY_ID={aws}; mail {EMAIL}"}}]}}"#
    );
    // A header the recorder also parses into a list of its own (`betas`).
    let github = "ghp_O1it8NduN4p7t70PRCIZVSuFmroazKp5zXU4";
    let beta = format!("interleaved-thinking-2025-05-14,{github}");
    let mut headers = HEADERS.to_vec();
    headers.push(("anthropic-beta", &beta));
    let mut proxy = spawn_proxy(config.clone()).await;
    let (head, _) = fetch(
        proxy.addr,
        post_json("/v1/messages", body.clone(), &headers),
    )
    .await;
    assert_eq!(head.status(), 200);
    proxy.shutdown().await.unwrap();
    // The provider got the key: redaction is for what is stored.
    assert_eq!(mock.last().body, body.as_bytes());

    for file in all_files(&dir.0) {
        let bytes = contents(&file);
        for secret in [anthropic, aws, github] {
            assert!(
                find(&bytes, secret.as_bytes()).is_none(),
                "{} holds {secret}",
                file.display()
            );
        }
    }
    let stored = &exported_bodies(&config)[0];
    assert!(stored.contains("ANTHROPIC_API_KEY=[SECRET:"), "{stored}");
    assert!(stored.contains("AWS_ACCESS_KEY_ID=[SECRET:"), "{stored}");
    // Personal data is not touched while `enabled` is false.
    assert!(stored.contains(EMAIL), "{stored}");
}
