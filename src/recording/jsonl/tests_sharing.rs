//! Prefix sharing on real files: every body comes back byte for byte (Messages, Chat, Responses,
//! edits, side requests, moving cache markers, non-JSON and non-UTF-8 bodies, after compression),
//! and a 50-turn conversation grows the file by its new content per turn, not by its history.

use super::tests::{lines, record, temp_dir, DAY0_MS, DAY_MS};
use super::JsonlStore;
use crate::config::RetentionConfig;
use crate::recording::clock::day_name;
use crate::recording::export::reconstruct_requests;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// A Messages body: system before the array, tools after it, items joined by `sep`.
fn messages(items: &[String], sep: &str) -> String {
    format!(
        r#"{{"model":"claude-sonnet-4","max_tokens":8192,"system":[{{"type":"text","text":"You are \"helpful\".\nBe brief: é ✓"}}],"messages":[{}],"tools":[{{"name":"Read","input_schema":{{"type":"object"}}}}],"stream":true}}"#,
        items.join(sep)
    )
}

/// A Chat Completions body, pretty-printed the way some SDKs send it.
fn chat(items: &[String], sep: &str) -> String {
    format!(
        "{{\n  \"model\": \"gpt-4o\",\n  \"messages\": [\n    {}\n  ],\n  \"stream\": true,\n  \"stream_options\": {{\"include_usage\": true}}\n}}",
        items.join(sep)
    )
}

/// A Responses body: `input` array, instructions before, tools after.
fn responses(items: &[String], sep: &str) -> String {
    format!(
        r#"{{"model":"gpt-5-codex","instructions":"Work [carefully] {{ok}}","input":[{}],"tools":[{{"type":"function","name":"shell"}}],"store":false,"stream":true}}"#,
        items.join(sep)
    )
}

fn item(dialect: &str, i: usize, tag: &str) -> String {
    match (dialect, i % 3) {
        ("responses", 0) => format!(
            r#"{{"type":"message","role":"user","content":[{{"type":"input_text","text":"step {i} {tag} ]}}\"["}}]}}"#
        ),
        ("responses", 1) => format!(
            r#"{{"type":"function_call","call_id":"c{i}","name":"shell","arguments":"{{\"cmd\":[\"ls\",\"{tag}\"]}}"}}"#
        ),
        ("responses", _) => format!(
            r#"{{"type":"function_call_output","call_id":"c{}","output":"file-{i}.rs\n{tag}"}}"#,
            i - 1
        ),
        (_, 0) => format!(r#"{{"role":"user","content":"step {i} {tag} \u00e9 ]}}\" ["}}"#),
        (_, 1) => format!(
            r#"{{"role":"assistant","content":[{{"type":"text","text":"ok {i}"}},{{"type":"tool_use","id":"t{i}","name":"Read","input":{{"p":"{tag}"}}}}]}}"#
        ),
        (_, _) => format!(
            r#"{{"role":"user","content":[{{"type":"tool_result","tool_use_id":"t{}","content":"fn main() {{}} {tag}"}}]}}"#,
            i - 1
        ),
    }
}

fn body_kind(dir: &Path, session: &str, request_id: &str) -> (String, Value) {
    let path = dir
        .join(day_name(DAY0_MS / DAY_MS))
        .join(format!("{session}.jsonl"));
    let line = lines(&path)
        .into_iter()
        .find(|l| l["request_id"] == request_id && l["type"] == "request")
        .unwrap();
    let body = line["body"].as_object().unwrap();
    let (kind, value) = body.iter().next().unwrap();
    (kind.clone(), value.clone())
}

/// Appends `bodies` as one session and checks the rebuilt bodies equal them, before and after
/// retention compresses the file.
fn round_trip(dir: &Path, session: &str, bodies: &[Vec<u8>]) {
    let mut store = JsonlStore::open(dir).unwrap();
    for (i, body) in bodies.iter().enumerate() {
        store
            .append(&record(session, &format!("r{i}"), DAY0_MS + i as i64, body))
            .unwrap();
    }
    let check = |when: &str| {
        let rebuilt = reconstruct_requests(dir, session).unwrap();
        assert_eq!(rebuilt.len(), bodies.len(), "{when}");
        for (i, ((id, got), want)) in rebuilt.iter().zip(bodies).enumerate() {
            assert_eq!(id, &format!("r{i}"));
            assert!(
                got == want,
                "{when}: body r{i} differs:\n{}\n{}",
                String::from_utf8_lossy(got),
                String::from_utf8_lossy(want)
            );
        }
    };
    check("plain");
    let kinds: Vec<String> = (0..bodies.len())
        .map(|i| body_kind(dir, session, &format!("r{i}")).0)
        .collect();
    eprintln!("{session}: {kinds:?}");

    let cfg = RetentionConfig {
        compress_after_days: Some(1),
        ..RetentionConfig::default()
    };
    let later = SystemTime::now() + Duration::from_secs(10 * 86_400);
    let report = crate::recording::retention::run_retention(dir, &cfg, later).unwrap();
    assert_eq!(report.compressed_files, 1, "{report:?}");
    check("compressed");

    // The store had the file open: it notices, starts a new part beside the `.zst`, and may still
    // reference bases inside it.
    let again = &bodies[bodies.len() - 2]; // a retry of r11
    let id = format!("r{}", bodies.len());
    store
        .append(&record(session, &id, DAY0_MS + 99, again))
        .unwrap();
    let (kind, _) = body_kind(dir, session, &id);
    assert_eq!(kind, "delta");
    let rebuilt = reconstruct_requests(dir, session).unwrap();
    assert_eq!(rebuilt.len(), bodies.len() + 1);
    assert_eq!(rebuilt.last().map(|(_, b)| b), Some(again));
}

#[test]
fn every_dialect_rebuilds_byte_for_byte_through_edits_and_odd_bodies() {
    for dialect in ["messages", "chat", "responses"] {
        let build = |items: &[String], sep: &str| -> Vec<u8> {
            match dialect {
                "messages" => messages(items, sep),
                "chat" => chat(items, sep),
                _ => responses(items, sep),
            }
            .into_bytes()
        };
        let conv = |n: usize, tag: &str| -> Vec<String> {
            (0..n).map(|i| item(dialect, i, tag)).collect()
        };
        let marked = |it: &str| {
            format!(
                r#"{},"cache_control":{{"type":"ephemeral"}}}}"#,
                &it[..it.len() - 1]
            )
        };
        let mut edited = conv(7, "a");
        edited[0] = item(dialect, 0, "EDITED");
        let mut edited_grown = edited.clone();
        edited_grown.extend(conv(9, "a").split_off(7));
        let mut edited_middle = edited_grown.clone();
        edited_middle[3] = item(dialect, 3, "CHANGED");
        let mut cont = edited_middle.clone();
        cont.extend(conv(11, "a").split_off(9));
        let mut moved_marker = cont.clone();
        let last = moved_marker.len() - 1;
        moved_marker[last] = marked(&moved_marker[last]);
        moved_marker.push(item(dialect, 11, "a"));

        let bodies: Vec<Vec<u8>> = vec![
            build(&conv(1, "a"), ","),
            build(&conv(3, "a"), ","),
            build(&conv(5, "a"), ","),  // r2: shares 3 with r1
            build(&edited, ","),        // r3: first message edited: shares nothing
            build(&edited_grown, ","),  // r4: shares 7 with r3
            build(&edited_middle, ","), // r5: item 3 edited: shares 3
            b"plain text, not JSON".to_vec(),
            vec![0xff, 0xfe, b'{', 0x00, 0x80],
            build(&["1".into()], ","), // r8: a side request with its own conversation
            build(&cont, ","),         // r9: continues r5 across the side requests
            build(&moved_marker, ","), // r10: its last item changed (a moved cache marker)
            build(&moved_marker, ",\n "), // r11: same items, other separators: shares only item 0
            build(&[], ","),
        ];
        let dir = temp_dir(&format!("sharing-{dialect}"));
        round_trip(&dir, dialect, &bodies);

        let expect = |i: usize, base: Option<(&str, u64)>| {
            let (kind, value) = body_kind_any(&dir, dialect, &format!("r{i}"));
            match base {
                None => assert_ne!(kind, "delta", "{dialect} r{i}: {value}"),
                Some((base, shared)) => {
                    assert_eq!(kind, "delta", "{dialect} r{i}");
                    assert_eq!(
                        (
                            value["base"].as_str().unwrap(),
                            value["shared_items"].as_u64().unwrap()
                        ),
                        (base, shared),
                        "{dialect} r{i}"
                    );
                }
            }
        };
        expect(0, None);
        expect(1, Some(("r0", 1)));
        expect(2, Some(("r1", 3)));
        expect(3, None);
        expect(4, Some(("r3", 7)));
        expect(5, Some(("r4", 3)));
        expect(6, None);
        expect(7, None);
        expect(8, None);
        expect(9, Some(("r5", 9)));
        expect(10, Some(("r9", 10)));
        expect(11, Some(("r10", 1)));
        assert_eq!(body_kind_any(&dir, dialect, "r7").0, "base64");
    }
}

/// `body_kind` on the compressed file (the test above compresses before looking).
fn body_kind_any(dir: &Path, session: &str, request_id: &str) -> (String, Value) {
    let day = dir.join(day_name(DAY0_MS / DAY_MS));
    let bytes =
        zstd::decode_all(&std::fs::read(day.join(format!("{session}.jsonl.zst"))).unwrap()[..])
            .unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let line: Value = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["request_id"] == request_id && l["type"] == "request")
        .unwrap();
    let (kind, value) = line["body"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .map(|(k, v)| (k.clone(), v.clone()))
        .unwrap();
    (kind, value)
}

/// A realistic coding session: 4 KB system prompt before the array, 6 KB of tools after it, a
/// user/tool-result message and an assistant message per turn, the cache marker on the last item.
#[test]
fn fifty_turns_grow_with_the_new_content_not_the_history() {
    let system = "You are a coding assistant. ".repeat(150);
    let tools = r#"{"name":"Tool","description":"Does things with files and shells.","input_schema":{"type":"object"}}"#.repeat(60);
    let user = |i: usize| {
        format!(
            r#"{{"role":"user","content":[{{"type":"tool_result","tool_use_id":"t{i}","content":"{}"}}]}}"#,
            format!("line {i} of the output\\n").repeat(16)
        )
    };
    let assistant = |i: usize| {
        format!(
            r#"{{"role":"assistant","content":[{{"type":"text","text":"{}"}},{{"type":"tool_use","id":"t{i}","name":"Bash","input":{{"command":"cargo test"}}}}]}}"#,
            format!("Reasoning about step {i}. ").repeat(24)
        )
    };
    let body = |history: &[String]| {
        let mut items = history.to_vec();
        if let Some(last) = items.last_mut() {
            // Claude Code puts the cache marker on the newest message only.
            *last = format!(
                r#"{},"cache_control":{{"type":"ephemeral"}}}}"#,
                &last[..last.len() - 1]
            );
        }
        format!(
            r#"{{"model":"claude-sonnet-4","system":"{system}","messages":[{}],"tools":[{tools}],"max_tokens":32000,"stream":true}}"#,
            items.join(",")
        )
    };

    let shared_dir = temp_dir("fifty-shared");
    let whole_dir = temp_dir("fifty-whole");
    let mut shared = JsonlStore::open(&shared_dir).unwrap();
    let mut whole = JsonlStore::open(&whole_dir).unwrap();
    let day = day_name(DAY0_MS / DAY_MS);
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut history: Vec<String> = vec![user(0)];
    let (mut shared_total, mut whole_total) = (0u64, 0u64);
    let mut rows = Vec::new();
    let mut bodies = Vec::new();
    for turn in 1..=50usize {
        let request = body(&history).into_bytes();
        let answer = assistant(turn);
        let mut r = record("grow", &format!("r{turn}"), DAY0_MS + turn as i64, &request);
        r.response_body =
            bytes::Bytes::from(format!("event: content_block_delta\ndata: {answer}\n\n"));
        let new_content = (if turn == 1 {
            history[0].len()
        } else {
            history[history.len() - 2..]
                .iter()
                .map(|m| m.len() + 1)
                .sum()
        }) + r.response_body.len();

        let before = size(&shared_dir.join(&day).join("grow.jsonl"));
        shared.append(&r).unwrap();
        let shared_added = size(&shared_dir.join(&day).join("grow.jsonl")) - before;
        r.session_id = format!("whole{turn}");
        whole.append(&r).unwrap();
        let whole_added = size(&whole_dir.join(&day).join(format!("whole{turn}.jsonl")));
        shared_total += shared_added;
        whole_total += whole_added;
        rows.push((
            turn,
            request.len(),
            new_content,
            shared_added,
            whole_added,
            shared_total,
            whole_total,
        ));
        bodies.push(request);
        history.push(answer);
        history.push(user(turn));
    }
    eprintln!(
        "turn  body_bytes  new_content  added_shared  added_whole  total_shared  total_whole"
    );
    for &(turn, body_len, new, s, w, st, wt) in &rows {
        if [1, 2, 5, 10, 20, 30, 40, 50].contains(&turn) {
            eprintln!("{turn:>4} {body_len:>11} {new:>12} {s:>13} {w:>12} {st:>13} {wt:>12}");
        }
    }
    let (_, _, new_50, shared_50, whole_50, shared_sum, whole_sum) = rows[49];
    let (_, _, _, shared_10, _, _, _) = rows[9];
    assert!(
        shared_50 < 3 * new_50 as u64,
        "turn 50 added {shared_50} bytes for {new_50} new"
    );
    assert!(
        shared_50 * 10 < shared_10 * 12,
        "per-turn cost must stay flat: {shared_10} → {shared_50}"
    );
    // Turn 2 cannot share: turn 1's only message carried the cache marker, which then moved.
    assert!(whole_50 > 5 * shared_50 && whole_sum > 8 * shared_sum);

    let rebuilt = reconstruct_requests(&shared_dir, "grow").unwrap();
    assert!(
        rebuilt.iter().map(|(_, b)| b).eq(bodies.iter()),
        "every turn rebuilds exactly"
    );
}
