//! Tests of the SQLite store against real database files in a temporary directory.

use super::schema::SCHEMA_VERSION;
use super::*;
use crate::recording::record::{
    Assembled, ClientKind, Outcome, RequestRecord, RequestSummary, Timings, ToolCall,
    ToolExecution, ToolResultRef, Usage,
};
use crate::test_support::TempDir;
use bytes::Bytes;
use serde_json::json;

/// A fresh, existing directory for one test, removed with its database when dropped.
fn temp_dir(name: &str) -> TempDir {
    let dir = TempDir::new(&format!("sqlite-{name}"));
    std::fs::create_dir_all(&*dir).unwrap();
    dir
}

fn usage(input: u64, output: u64, cache_read: u64, cache_creation: u64, thinking: u64) -> Usage {
    Usage {
        input,
        output,
        cache_read,
        cache_creation,
        thinking,
        total: input + output + cache_read + cache_creation,
        raw: Some(json!({"input_tokens": input, "output_tokens": output})),
    }
}

fn record(session: &str, id: &str, model: &str, started_at_ms: i64, usage: Usage) -> RequestRecord {
    RequestRecord {
        request_id: id.into(),
        session_id: session.into(),
        client: ClientKind::ClaudeCode,
        provider: "anthropic",
        served: None,
        endpoint: "/v1/messages".into(),
        transport: "http",
        started_at_ms,
        ended_at_ms: started_at_ms + 2000,
        status: 200,
        outcome: Outcome::Ok,
        retry_after: None,
        request_headers: vec![("user-agent".into(), "claude-cli/2.0".into())],
        request_body: Bytes::new(),
        response_headers: Vec::new(),
        response_body: Bytes::new(),
        request: RequestSummary {
            model: Some(model.into()),
            stream: true,
            message_count: 1,
            tool_results: Vec::new(),
            betas: vec!["interleaved-thinking-2025-05-14".into()],
        },
        response: Assembled {
            id: Some(format!("msg_{id}")),
            model: Some(format!("{model}-20250514")),
            text: "é".repeat(600),
            stop_reason: Some("end_turn".into()),
            usage,
            events: 12,
            first_content_ms: Some(350.0),
            ..Default::default()
        },
        timings: Timings {
            ttfb_ms: Some(300.0),
            ttft_ms: Some(350.0),
            total_ms: 2000.0,
            upstream_ms: 290.5,
            overhead_us: 120,
            chunks: 10,
        },
        tool_executions: Vec::new(),
        cost_usd: None,
        truncated: false,
        redactions: Default::default(),
    }
}

/// Turn 1 asks for `toolu_1`; turn 2 (a side request on another model) carries nothing; turn 3
/// brings `toolu_1`'s failed result (paired by the tracker), an orphan result and a new call.
fn three_turns() -> Vec<RequestRecord> {
    let mut r1 = record(
        "s1",
        "r1",
        "claude-sonnet-4",
        1_700_000_000_000,
        usage(1200, 300, 0, 5000, 0),
    );
    r1.response.stop_reason = Some("tool_use".into());
    r1.response.tool_calls = vec![ToolCall {
        id: "toolu_1".into(),
        name: "Bash".into(),
        input: json!({"command": "cargo test"}),
    }];
    r1.cost_usd = Some(0.027);

    let mut r2 = record(
        "s1",
        "r2",
        "claude-haiku-4-5",
        1_700_000_001_000,
        usage(50, 10, 0, 0, 0),
    );
    r2.cost_usd = None;

    let mut r3 = record(
        "s1",
        "r3",
        "claude-sonnet-4",
        1_700_000_005_000,
        usage(400, 800, 5000, 0, 0),
    );
    r3.request.tool_results = vec![
        ToolResultRef {
            tool_use_id: "toolu_0".into(),
            is_error: None,
        },
        ToolResultRef {
            tool_use_id: "toolu_1".into(),
            is_error: Some(true),
        },
    ];
    r3.tool_executions = vec![ToolExecution {
        tool_use_id: "toolu_1".into(),
        name: "Bash".into(),
        duration_ms: 3000.0,
        is_error: Some(true),
    }];
    r3.response.tool_calls = vec![ToolCall {
        id: "toolu_2".into(),
        name: "Read".into(),
        input: json!({"path": "src/lib.rs"}),
    }];
    r3.cost_usd = Some(0.0135);
    vec![r1, r2, r3]
}

fn query_i64(path: &Path, sql: &str) -> i64 {
    let conn = Connection::open(path).unwrap();
    conn.query_row(sql, [], |row| row.get(0)).unwrap()
}

#[test]
fn migrates_an_empty_file_and_reopens_idempotently() {
    let dir = temp_dir("migrate");
    let path = dir.join("sessions.db");
    let store = SqliteStore::open(&path).unwrap();
    drop(store);
    assert_eq!(
        query_i64(&path, "PRAGMA user_version"),
        SCHEMA_VERSION as i64
    );
    assert_eq!(SCHEMA_VERSION, schema::MIGRATIONS.len());
    let tables = query_i64(
        &path,
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'
         AND name IN ('sessions', 'requests', 'tool_calls')",
    );
    assert_eq!(tables, 3);
    assert_eq!(
        Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0))
            .unwrap(),
        "wal"
    );

    // Reopening runs nothing again and keeps the data.
    let mut store = SqliteStore::open(&path).unwrap();
    store.write_batch(&three_turns()).unwrap();
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.request_count().unwrap(), 3);
    assert_eq!(
        query_i64(&path, "PRAGMA user_version"),
        SCHEMA_VERSION as i64
    );
    assert!(integrity_ok(&path).unwrap());
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = temp_dir("newer");
    let path = dir.join("sessions.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).err().unwrap();
    assert!(
        err.contains("schema version 99, newer than this build knows"),
        "{err}"
    );
    assert!(err.contains(&path.display().to_string()), "{err}");
}

#[test]
fn a_file_that_is_not_a_database_is_an_error_not_a_panic() {
    let dir = temp_dir("garbage");
    let path = dir.join("sessions.db");
    std::fs::write(
        &path,
        b"this is not SQLite, just some text that is long enough. ".repeat(20),
    )
    .unwrap();
    assert!(SqliteStore::open(&path).is_err());
    assert!(integrity_ok(&dir.join("missing.db")).is_err());
}

#[test]
fn a_three_turn_session_with_a_tool_round_trip() {
    let dir = temp_dir("session");
    let path = dir.join("sessions.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let turns = three_turns();
    // Two batches, so the session row is updated (summed), not just inserted.
    store.write_batch(&turns[..1]).unwrap();
    store.write_batch(&turns[1..]).unwrap();
    // The same batch again (a retry) changes nothing.
    store.write_batch(&turns[1..]).unwrap();

    let s = store.session_totals("s1").unwrap().unwrap();
    assert_eq!(s.request_count, 3);
    assert_eq!(s.input_tokens, 1200 + 50 + 400);
    assert_eq!(s.output_tokens, 300 + 10 + 800);
    assert_eq!(s.cache_read_tokens, 5000);
    assert_eq!(s.cache_creation_tokens, 5000);
    assert_eq!(s.thinking_tokens, 0);
    assert_eq!(s.total_tokens, 6500 + 60 + 6200);
    let cost = s.cost_usd.unwrap();
    assert!((cost - (0.027 + 0.0135)).abs() < 1e-12, "{cost}");
    assert_eq!(s.model_used.as_deref(), Some("claude-sonnet-4"));
    assert_eq!(s.models, ["claude-sonnet-4", "claude-haiku-4-5"]);
    assert_eq!(s.client, "claude-code");
    assert_eq!(s.provider, "anthropic");
    assert_eq!(s.started_at_ms, 1_700_000_000_000);
    assert_eq!(s.last_seen_at_ms, 1_700_000_007_000);
    assert!(s.success);
    assert_eq!(s.error_count, 0);
    assert_eq!(s.tool_call_count, 2);
    assert_eq!(s.total_duration_ms, 6000.0);
    assert_eq!(s.total_upstream_ms, 3.0 * 290.5);
    assert_eq!(s.total_overhead_us, 360);

    let calls = store.tool_calls("s1").unwrap();
    let by_id = |id: &str| calls.iter().find(|c| c.tool_use_id == id).unwrap().clone();
    assert_eq!(calls.len(), 3, "{calls:?}");
    let bash = by_id("toolu_1");
    assert_eq!(bash.name.as_deref(), Some("Bash"));
    assert_eq!(bash.request_id.as_deref(), Some("r1"));
    assert_eq!(bash.input, Some(json!({"command": "cargo test"})));
    assert_eq!(bash.requested_at_ms, Some(1_700_000_002_000));
    assert_eq!(bash.result_request_id.as_deref(), Some("r3"));
    assert_eq!(bash.completed_at_ms, Some(1_700_000_005_000));
    assert_eq!(bash.duration_ms, Some(3000.0));
    assert_eq!(bash.is_error, Some(true));
    let orphan = by_id("toolu_0");
    assert_eq!(orphan.name, None);
    assert_eq!(orphan.request_id, None);
    assert_eq!(orphan.result_request_id.as_deref(), Some("r3"));
    assert_eq!(orphan.duration_ms, None);
    let read = by_id("toolu_2");
    assert_eq!(read.name.as_deref(), Some("Read"));
    assert_eq!(read.completed_at_ms, None);
    assert_eq!(read.duration_ms, None);

    // The requests rows carry the per-request figures.
    let conn = Connection::open(&path).unwrap();
    let (model, response_model, preview, betas, outcome, started_at): (
        String,
        String,
        String,
        String,
        String,
        String,
    ) = conn
        .query_row(
            "SELECT model, response_model, text_preview, betas, outcome, started_at
             FROM requests WHERE request_id = 'r1'",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .unwrap();
    assert_eq!(model, "claude-sonnet-4");
    assert_eq!(response_model, "claude-sonnet-4-20250514");
    assert_eq!(preview.chars().count(), 500);
    assert_eq!(betas, r#"["interleaved-thinking-2025-05-14"]"#);
    assert_eq!(outcome, "ok");
    assert_eq!(started_at, "2023-11-14T22:13:20.000Z");
    let r2_cost: Option<f64> = conn
        .query_row(
            "SELECT cost_usd FROM requests WHERE request_id = 'r2'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(r2_cost, None);
}

#[test]
fn the_seed_query_finds_the_session() {
    let dir = temp_dir("seed");
    let path = dir.join("sessions.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store.write_batch(&three_turns()).unwrap();
    // A small session on the same model, and a big one on another model: neither matches.
    let small = record(
        "s2",
        "x1",
        "claude-sonnet-4",
        1_700_000_100_000,
        usage(10, 10, 0, 0, 0),
    );
    let other = record(
        "s3",
        "x2",
        "gpt-5",
        1_700_000_200_000,
        usage(9000, 10, 0, 0, 0),
    );
    store.write_batch(&[small, other]).unwrap();

    let conn = Connection::open(&path).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT * FROM sessions WHERE model_used = 'claude-sonnet-4' AND input_tokens > 1000 \
             ORDER BY started_at DESC",
        )
        .unwrap();
    let ids: Vec<String> = stmt
        .query_map([], |row| row.get("id"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ids, ["s1"]);
}

#[test]
fn a_failed_request_marks_the_session_and_a_hang_up_does_not() {
    let dir = temp_dir("failure");
    let mut store = SqliteStore::open(&dir.join("sessions.db")).unwrap();
    let mut hung_up = record("s", "a", "gpt-5", 1_000, usage(1, 1, 0, 0, 0));
    hung_up.outcome = Outcome::ClientDisconnected;
    store.write_batch(&[hung_up]).unwrap();
    let s = store.session_totals("s").unwrap().unwrap();
    assert!(s.success);
    assert_eq!(s.cost_usd, None, "no known price yet: NULL, not 0");

    let mut failed = record("s", "b", "gpt-5", 5_000, usage(0, 0, 0, 0, 0));
    failed.outcome = Outcome::ProviderError;
    failed.status = 529;
    failed.response.error_type = Some("overloaded_error".into());
    let mut ok = record("s", "c", "gpt-5", 9_000, usage(1, 1, 0, 0, 7));
    ok.cost_usd = Some(0.5);
    store.write_batch(&[failed, ok]).unwrap();
    let s = store.session_totals("s").unwrap().unwrap();
    assert!(!s.success, "a later success does not undo a failure");
    assert_eq!(s.error_count, 1);
    assert_eq!(s.request_count, 3);
    assert_eq!(s.thinking_tokens, 7);
    assert_eq!(s.cost_usd, Some(0.5));
    assert_eq!(store.session_totals("nope").unwrap(), None);
}

#[test]
fn a_result_after_a_restart_completes_the_stored_call() {
    let dir = temp_dir("restart");
    let path = dir.join("sessions.db");
    let turns = three_turns();
    SqliteStore::open(&path)
        .unwrap()
        .write_batch(&turns[..1])
        .unwrap();
    // A new process: its tracker never saw `toolu_1`, so there is no ToolExecution, only the result.
    let mut later = record(
        "s1",
        "r9",
        "claude-sonnet-4",
        1_700_000_012_000,
        usage(1, 1, 0, 0, 0),
    );
    later.request.tool_results = vec![ToolResultRef {
        tool_use_id: "toolu_1".into(),
        is_error: Some(false),
    }];
    let mut store = SqliteStore::open(&path).unwrap();
    store.write_batch(&[later]).unwrap();
    let call = store.tool_calls("s1").unwrap().remove(0);
    assert_eq!(call.duration_ms, Some(10_000.0));
    assert_eq!(call.is_error, Some(false));
    assert_eq!(call.result_request_id.as_deref(), Some("r9"));
}

#[cfg(unix)]
#[test]
fn directories_are_0700_and_files_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("modes");
    let path = dir.join("a").join("b").join("sessions.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store.write_batch(&three_turns()).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir.join("a")), 0o700);
    assert_eq!(mode(&dir.join("a").join("b")), 0o700);
    assert_eq!(mode(&path), 0o600);
    let wal = path.with_file_name("sessions.db-wal");
    assert!(wal.exists());
    assert_eq!(mode(&wal), 0o600);
    drop(store);

    // A file someone left world-readable is tightened on open.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(SqliteStore::open(&path).unwrap());
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn a_thousand_records_in_one_batch() {
    let dir = temp_dir("bulk");
    let mut store = SqliteStore::open(&dir.join("sessions.db")).unwrap();
    let records: Vec<RequestRecord> = (0..1000)
        .map(|i| {
            let session = format!("s{}", i % 20);
            let mut r = record(
                &session,
                &format!("r{i}"),
                "claude-sonnet-4",
                1_000 + i,
                usage(100, 50, 1000, 10, 0),
            );
            r.response.tool_calls = vec![ToolCall {
                id: format!("t{i}"),
                name: "Bash".into(),
                input: json!({"command": "ls"}),
            }];
            r.cost_usd = Some(0.001);
            r
        })
        .collect();
    let started = std::time::Instant::now();
    store.write_batch(&records).unwrap();
    let took = started.elapsed();
    eprintln!("write_batch of 1,000 records: {took:?}");
    assert_eq!(store.request_count().unwrap(), 1000);
    let s = store.session_totals("s7").unwrap().unwrap();
    assert_eq!(s.request_count, 50);
    assert_eq!(s.input_tokens, 5000);
    assert_eq!(s.tool_call_count, 50);
    assert!((s.cost_usd.unwrap() - 0.05).abs() < 1e-9);
}

#[test]
fn full_text_index_holds_only_the_new_text_of_each_request() {
    let dir = temp_dir("fts");
    let path = dir.join("s.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let mut first = record("s1", "r1", "claude-sonnet-4", 1_000, usage(1, 1, 0, 0, 0));
    first.request_body =
        Bytes::from(r#"{"messages":[{"role":"user","content":"find the zebra"}]}"#);
    first.response.text = "Looking for it".into();
    let mut second = record("s1", "r2", "claude-sonnet-4", 2_000, usage(1, 1, 0, 0, 0));
    second.request_body = Bytes::from(
        r#"{"messages":[{"role":"user","content":"find the zebra"},{"role":"assistant","content":"Looking for it"},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"okapi found"}]}]}"#,
    );
    second.response.text = "Done".into();
    store.write_batch(&[first, second]).unwrap();
    let hits = |q: &str| -> Vec<String> {
        let mut stmt = store
            .conn
            .prepare(
                "SELECT request_id FROM requests_fts WHERE requests_fts MATCH ?1 ORDER BY rowid",
            )
            .unwrap();
        let rows = stmt.query_map([q], |r| r.get(0)).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    };
    assert_eq!(
        hits("zebra"),
        ["r1"],
        "the resent question is not indexed twice"
    );
    assert_eq!(hits("okapi"), ["r2"]);
    assert_eq!(hits("looking"), ["r1"]);
}
