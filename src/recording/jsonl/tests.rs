//! Store tests on real files in temporary folders: layout across midnight and restarts, the line
//! schema and the README's jq recipes, credentials, file modes. Prefix sharing and exact
//! reconstruction are in `tests_sharing.rs`; the helpers here serve `export` and `retention` too.

use super::JsonlStore;
use crate::recording::clock::{day_name, rfc3339};
use crate::recording::record::{
    Assembled, ClientKind, Outcome, RequestRecord, RequestSummary, ThinkingBlock, Timings,
    ToolCall, ToolExecution, Usage,
};
use crate::test_support::TempDir;
use bytes::Bytes;
use serde_json::{json, Value};
use std::path::Path;

/// 2025-03-10T00:00:00Z.
pub(crate) const DAY0_MS: i64 = 1_741_564_800_000;
pub(crate) const DAY_MS: i64 = 86_400_000;

/// A fresh folder under the system temp dir, not yet created, removed when the guard drops.
pub(crate) fn temp_dir(name: &str) -> TempDir {
    TempDir::new(name)
}

/// A completed request with a tool call, thinking and usage; `total` tokens = 100 + `extra`.
pub(crate) fn record(
    session: &str,
    request_id: &str,
    started_at_ms: i64,
    body: &[u8],
) -> RequestRecord {
    let extra = body.len() as u64 % 7;
    RequestRecord {
        request_id: request_id.into(),
        session_id: session.into(),
        client: ClientKind::ClaudeCode,
        provider: "anthropic",
        served: None,
        endpoint: "/v1/messages".into(),
        transport: "http",
        started_at_ms,
        ended_at_ms: started_at_ms + 1500,
        status: 200,
        outcome: Outcome::Ok,
        retry_after: None,
        request_headers: vec![("content-type".into(), "application/json".into())],
        request_body: Bytes::copy_from_slice(body),
        response_headers: vec![("content-type".into(), "text/event-stream".into())],
        response_body: Bytes::from_static(
            b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        ),
        request: RequestSummary {
            model: Some("claude-sonnet-4".into()),
            stream: true,
            message_count: 1,
            ..Default::default()
        },
        response: Assembled {
            id: Some("msg_1".into()),
            model: Some("claude-sonnet-4-20250514".into()),
            text: "Let me look.".into(),
            thinking: vec![ThinkingBlock {
                text: "hmm".into(),
                signature: Some("sig==".into()),
                redacted_data: None,
            }],
            tool_calls: vec![ToolCall {
                id: "toolu_1".into(),
                name: "Read".into(),
                input: json!({"path": "a.rs"}),
            }],
            stop_reason: Some("tool_use".into()),
            usage: Usage {
                input: 40,
                output: 30,
                cache_read: 20,
                cache_creation: 10 + extra,
                thinking: 0,
                total: 100 + extra,
                raw: None,
            },
            ..Default::default()
        },
        timings: Timings {
            ttfb_ms: Some(200.0),
            ttft_ms: Some(300.0),
            total_ms: 1500.0,
            upstream_ms: 180.0,
            overhead_us: 90,
            chunks: 12,
        },
        tool_executions: vec![ToolExecution {
            tool_use_id: "toolu_0".into(),
            name: "Bash".into(),
            duration_ms: 812.5,
            is_error: Some(false),
        }],
        cost_usd: Some(0.0123),
        truncated: false,
        redactions: Default::default(),
    }
}

pub(crate) fn lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every file under `dir`, relative, sorted.
pub(crate) fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for day in std::fs::read_dir(dir).unwrap().flatten() {
        for file in std::fs::read_dir(day.path()).unwrap().flatten() {
            out.push(format!(
                "{}/{}",
                day.file_name().to_string_lossy(),
                file.file_name().to_string_lossy()
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn one_file_per_session_across_midnight_and_restarts() {
    let dir = temp_dir("jsonl-layout");
    let mut store = JsonlStore::open(&dir).unwrap();
    let late = DAY0_MS + DAY_MS - 1000; // 23:59:59
    store.append(&record("s1", "r1", late, b"{}")).unwrap();
    store
        .append(&record("s1", "r2", late + 90_000, b"{}"))
        .unwrap(); // 00:01:29 the next day
    store
        .append(&record("s2", "r3", late + 90_000, b"{}"))
        .unwrap();
    store.flush().unwrap();
    drop(store);

    let mut store = JsonlStore::open(&dir).unwrap();
    store
        .append(&record("s1", "r4", late + 3 * DAY_MS, b"{}"))
        .unwrap();
    drop(store);
    let (day0, day1) = (day_name(DAY0_MS / DAY_MS), day_name(DAY0_MS / DAY_MS + 1));
    assert_eq!(
        tree(&dir),
        vec![format!("{day0}/s1.jsonl"), format!("{day1}/s2.jsonl")]
    );
    let ids: Vec<Value> = lines(&dir.join(&day0).join("s1.jsonl"))
        .iter()
        .map(|l| l["request_id"].clone())
        .collect();
    assert_eq!(ids, vec!["r1", "r1", "r2", "r2", "r4", "r4"]);
}

#[test]
fn a_compressed_session_continues_in_a_new_part_and_exports_in_order() {
    let dir = temp_dir("jsonl-zst-part");
    let mut store = JsonlStore::open(&dir).unwrap();
    store
        .append(&record("s1", "r1", DAY0_MS, br#"{"messages":[1]}"#))
        .unwrap();
    drop(store);
    let day = dir.join(day_name(DAY0_MS / DAY_MS));
    let plain = std::fs::read(day.join("s1.jsonl")).unwrap();
    std::fs::write(
        day.join("s1.jsonl.zst"),
        zstd::encode_all(&plain[..], 3).unwrap(),
    )
    .unwrap();
    std::fs::remove_file(day.join("s1.jsonl")).unwrap();

    let mut store = JsonlStore::open(&dir).unwrap();
    store
        .append(&record(
            "s1",
            "r2",
            DAY0_MS + 2 * DAY_MS,
            br#"{"messages":[1,2]}"#,
        ))
        .unwrap();
    drop(store);
    assert_eq!(tree(&dir).len(), 2, "{:?}", tree(&dir));
    let bodies = crate::recording::export::reconstruct_requests(&dir, "s1").unwrap();
    let ids: Vec<&str> = bodies.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["r1", "r2"]);
    assert_eq!(bodies[1].1, br#"{"messages":[1,2]}"#);
}

#[test]
fn every_line_has_the_common_fields_and_one_final_stats_per_request() {
    let dir = temp_dir("jsonl-schema");
    let mut store = JsonlStore::open(&dir).unwrap();
    store
        .append(&record(
            "s1",
            "r1",
            DAY0_MS + 5,
            br#"{"model":"m","messages":[]}"#,
        ))
        .unwrap();
    store.write_gap(3, 4096, DAY0_MS + 9, "queue full").unwrap();
    let day = dir.join(day_name(DAY0_MS / DAY_MS));
    let all = lines(&day.join("s1.jsonl"));
    assert_eq!(all.len(), 2);
    for line in &all {
        for key in ["session_id", "request_id", "type", "timestamp"] {
            assert!(line.get(key).is_some(), "{key} missing in {line}");
        }
    }
    let (request, response) = (&all[0], &all[1]);
    assert_eq!(request["type"], "request");
    assert_eq!(request["timestamp"], rfc3339(DAY0_MS + 5));
    assert_eq!(request["timestamp"], "2025-03-10T00:00:00.005Z");
    assert_eq!(request["body"]["text"], r#"{"model":"m","messages":[]}"#);
    assert_eq!(request["summary"]["model"], "claude-sonnet-4");
    assert_eq!(
        request["headers"],
        json!([["content-type", "application/json"]])
    );
    assert!(request.get("final_stats").is_none());

    assert_eq!(response["type"], "response");
    assert_eq!(response["status"], 200);
    assert_eq!(
        response["body"]["text"],
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
    );
    assert_eq!(response["message"]["text"], "Let me look.");
    assert_eq!(response["message"]["thinking"][0]["signature"], "sig==");
    assert_eq!(
        response["message"]["tool_calls"][0]["input"]["path"],
        "a.rs"
    );
    assert_eq!(response["message"]["stop_reason"], "tool_use");
    let stats = &response["final_stats"];
    assert_eq!(
        stats["tokens"],
        json!({"input": 40, "output": 30, "cache_read": 20, "cache_creation": 10 + 27 % 7, "thinking": 0, "total": 100 + 27 % 7})
    );
    assert_eq!(stats["timings"]["total_ms"], 1500.0);
    assert_eq!(
        stats["tools"]["calls"],
        json!([{"id": "toolu_1", "name": "Read"}])
    );
    assert_eq!(stats["tools"]["executions"][0]["duration_ms"], 812.5);
    assert_eq!(stats["cost_usd"], 0.0123);
    assert_eq!(stats["model"], "claude-sonnet-4-20250514");

    let gaps = lines(&day.join("_gaps.jsonl"));
    assert_eq!(
        gaps,
        vec![
            json!({"session_id": null, "request_id": null, "type": "gap", "timestamp": "2025-03-10T00:00:00.009Z",
            "lost_requests": 3, "lost_bytes": 4096, "reason": "queue full"})
        ]
    );
}

/// The README recipes: the sum of `final_stats.tokens.total` over a day, and per-session totals.
#[test]
fn jq_recipes_sum_tokens_without_double_counting() {
    let dir = temp_dir("jsonl-jq");
    let mut store = JsonlStore::open(&dir).unwrap();
    let mut expected_total = 0;
    let mut per_session = std::collections::BTreeMap::new();
    for i in 0..9u64 {
        let session = format!("s{}", i % 3);
        let body = format!(r#"{{"messages":[{}]}}"#, "1,".repeat(i as usize) + "0");
        let r = record(
            &session,
            &format!("r{i}"),
            DAY0_MS + i as i64,
            body.as_bytes(),
        );
        expected_total += r.response.usage.total;
        *per_session.entry(session).or_insert(0) += r.response.usage.total;
        store.append(&r).unwrap();
    }
    store.write_gap(1, 10, DAY0_MS, "test").unwrap();
    let day = dir.join(day_name(DAY0_MS / DAY_MS));

    // The same logic in Rust, over every *.jsonl of the day (the gap file included, as `cat` would).
    let all: Vec<Value> = tree(&dir)
        .iter()
        .flat_map(|f| lines(&dir.join(f)))
        .collect();
    let with_stats: Vec<&Value> = all
        .iter()
        .filter(|l| l.get("final_stats").is_some())
        .collect();
    assert_eq!(
        with_stats.len(),
        9,
        "exactly one final_stats line per request"
    );
    let sum: u64 = with_stats
        .iter()
        .map(|l| l["final_stats"]["tokens"]["total"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, expected_total);
    let mut grouped = std::collections::BTreeMap::new();
    for l in &with_stats {
        *grouped
            .entry(l["session_id"].as_str().unwrap().to_string())
            .or_insert(0) += l["final_stats"]["tokens"]["total"].as_u64().unwrap();
    }
    assert_eq!(grouped, per_session);

    // And with the real jq when it is installed (not required).
    let has_jq = std::process::Command::new("jq")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let jq = |filter: &str| {
        let script = format!("cat {}/*.jsonl | jq -c -s '{filter}'", day.display());
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "jq: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    if has_jq {
        let out = jq("[.[] | select(.final_stats) | .final_stats.tokens.total] | add");
        assert_eq!(
            String::from_utf8_lossy(&out).trim(),
            expected_total.to_string()
        );
        let out = jq("map(select(.final_stats)) | group_by(.session_id) | map({session: .[0].session_id, total: (map(.final_stats.tokens.total) | add)})");
        let got: Vec<Value> = serde_json::from_slice(&out).unwrap();
        let want: Vec<Value> = per_session
            .iter()
            .map(|(s, t)| json!({"session": s, "total": t}))
            .collect();
        assert_eq!(got, want);
    } else {
        eprintln!("jq not installed: checked the recipes' logic in Rust only");
    }
}

#[test]
fn credentials_never_reach_the_file() {
    let dir = temp_dir("jsonl-secrets");
    let mut store = JsonlStore::open(&dir).unwrap();
    let mut r = record("s1", "r1", DAY0_MS, b"{}");
    // The record strips these already; the store must not rely on it.
    r.request_headers.extend([
        ("Authorization".into(), "Bearer sk-secret-1".into()),
        ("x-api-key".into(), "sk-ant-secret-2".into()),
        ("cookie".into(), "session=secret-3".into()),
    ]);
    r.response_headers
        .push(("set-cookie".into(), "secret-4".into()));
    store.append(&r).unwrap();
    let text =
        std::fs::read_to_string(dir.join(day_name(DAY0_MS / DAY_MS)).join("s1.jsonl")).unwrap();
    for secret in ["sk-secret-1", "sk-ant-secret-2", "secret-3", "secret-4"] {
        assert!(!text.contains(secret), "{secret} was written");
    }
    assert!(text.contains("content-type"));
}

#[cfg(unix)]
#[test]
fn folders_are_0700_and_files_0600() {
    use std::os::unix::fs::PermissionsExt;
    let root = temp_dir("jsonl-modes");
    let dir = root.join("nested");
    let mut store = JsonlStore::open(&dir).unwrap();
    store.append(&record("s1", "r1", DAY0_MS, b"{}")).unwrap();
    store.write_gap(1, 1, DAY0_MS, "x").unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let day = dir.join(day_name(DAY0_MS / DAY_MS));
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&day), 0o700);
    assert_eq!(mode(&day.join("s1.jsonl")), 0o600);
    assert_eq!(mode(&day.join("_gaps.jsonl")), 0o600);
}

#[test]
fn a_torn_last_line_is_closed_before_the_next_one() {
    let dir = temp_dir("jsonl-torn");
    let mut store = JsonlStore::open(&dir).unwrap();
    store.append(&record("s1", "r1", DAY0_MS, b"{}")).unwrap();
    drop(store);
    let path = dir.join(day_name(DAY0_MS / DAY_MS)).join("s1.jsonl");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut file, br#"{"session_id":"s1","type":"requ"#).unwrap();
    let mut store = JsonlStore::open(&dir).unwrap();
    store.append(&record("s1", "r2", DAY0_MS, b"{}")).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let parsed = text
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).is_ok())
        .count();
    assert_eq!((text.lines().count(), parsed), (5, 4));
    let ids: Vec<String> = crate::recording::export::reconstruct_requests(&dir, "s1")
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, ["r1", "r2"]);
}

#[test]
fn unsafe_session_ids_are_refused() {
    let dir = temp_dir("jsonl-ids");
    let mut store = JsonlStore::open(&dir).unwrap();
    for id in ["../escape", "a/b", ".hidden", ""] {
        assert!(
            store.append(&record(id, "r1", DAY0_MS, b"{}")).is_err(),
            "{id:?}"
        );
    }
    store
        .append(&record("_gaps", "r1", DAY0_MS, b"{}"))
        .unwrap();
    let day = day_name(DAY0_MS / DAY_MS);
    assert_eq!(tree(&dir), vec![format!("{day}/__gaps.jsonl")]);
    assert_eq!(
        crate::recording::export::reconstruct_requests(&dir, "_gaps")
            .unwrap()
            .len(),
        1
    );
}
