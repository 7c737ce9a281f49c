//! [recording] The recorder under the two ways a real server stops, against the real binary:
//! SIGTERM while 20 streams are mid-flight (every one finishes and is recorded with its outcome,
//! and the summary is printed), and `kill -9` under steady load (the SQLite file passes
//! `PRAGMA integrity_check`, at most the last flush interval is missing, JSONL lines all parse but
//! for a torn last line). The unwritable-directory case is in `unwritable.rs`.

use super::harness::{
    messages_request, request_rows, scan_jsonl, sse_events, try_collect, try_fetch, try_send,
    RecordingHome,
};
use crate::support::process::sigterm;
use crate::support::{fixture, Body, MockUpstream, Reply};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

const STREAMS: usize = 20;
/// Spacing of the SSE events once the streams are released: mid-stream for about a second.
const EVENT_GAP: Duration = Duration::from_millis(150);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// SIGTERM while 20 streams are live: the server stops accepting, lets all 20 finish (grace
/// period 30 s by default; they need about a second), drains the recorder and exits 0. Every
/// stream is in `requests` with outcome `ok` and has exactly one `final_stats` line, and the
/// shutdown summary is on stderr.
#[test]
fn sigterm_during_20_live_streams_records_all_of_them() {
    let began = Instant::now();
    let runtime = runtime();
    let stream = fixture("anthropic/messages_text.sse");
    let events = sse_events(&stream);
    assert!(
        events.len() >= 5,
        "the fixture has several events: {}",
        events.len()
    );

    // Each stream gets its own gate: the first event passes at once, the rest only when the test
    // releases them after SIGTERM, so all 20 are provably mid-stream however slow the machine is.
    let gates: Arc<Mutex<Vec<Arc<Semaphore>>>> = Arc::default();
    let mock = runtime.block_on({
        let (gates, events) = (gates.clone(), events.clone());
        MockUpstream::new()
            .route_fn("/v1/messages", move |_| {
                let gate = Arc::new(Semaphore::new(1));
                gates.lock().unwrap().push(gate.clone());
                Reply::new(200, "text/event-stream", Body::Gated(events.clone(), gate))
            })
            .start()
    });
    let home = RecordingHome::new();
    let mut server = home.start(&mock);
    let addr = server.addr;

    let (first_tx, mut first_rx) = tokio::sync::mpsc::channel::<usize>(STREAMS);
    let clients: Vec<_> = (0..STREAMS)
        .map(|i| {
            let first_tx = first_tx.clone();
            runtime.spawn(async move {
                let session = format!("sigterm-{i:02}");
                let response =
                    try_send(addr, messages_request(&session), Duration::from_secs(10)).await?;
                if response.status() != 200 {
                    return Err(format!("{session}: status {}", response.status()));
                }
                let mut body = response.into_body();
                let mut got = BytesMut::new();
                let first = tokio::time::timeout(Duration::from_secs(10), body.frame()).await;
                match first {
                    Ok(Some(Ok(frame))) => {
                        got.extend_from_slice(&frame.into_data().unwrap_or_default())
                    }
                    other => return Err(format!("{session}: no first event: {other:?}")),
                }
                let _ = first_tx.send(i).await;
                got.extend_from_slice(&try_collect(body, Duration::from_secs(20)).await?);
                Ok::<Bytes, String>(got.freeze())
            })
        })
        .collect();
    drop(first_tx);
    let live = runtime.block_on(async {
        let mut live = 0;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while live < STREAMS {
            match tokio::time::timeout_at(deadline, first_rx.recv()).await {
                Ok(Some(_)) => live += 1,
                _ => break,
            }
        }
        live
    });
    assert_eq!(
        live, STREAMS,
        "every stream got its first event before SIGTERM"
    );
    let sent_at = Instant::now();
    sigterm(&mut server.guard);
    let draining = server
        .log
        .wait_for(Duration::from_secs(10), |l| l.contains("shutting down"));
    assert!(
        draining.is_some(),
        "the server saw SIGTERM:\n{}",
        server.log.text()
    );

    // Release the rest of every stream, one event per gap.
    let gates: Vec<Arc<Semaphore>> = gates.lock().unwrap().clone();
    assert_eq!(gates.len(), STREAMS, "one upstream request per stream");
    runtime.block_on(async {
        for _ in 1..events.len() {
            tokio::time::sleep(EVENT_GAP).await;
            for gate in &gates {
                gate.add_permits(1);
            }
        }
    });
    for (i, client) in clients.into_iter().enumerate() {
        let body = runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(20), client).await })
            .unwrap_or_else(|_| panic!("stream {i} did not finish"))
            .expect("client task")
            .unwrap_or_else(|e| panic!("stream {i}: {e}"));
        assert_eq!(body, stream, "stream {i} arrived whole and unchanged");
    }

    let status = server.guard.wait_exit(Duration::from_secs(20));
    let exit_after = sent_at.elapsed();
    server.log.wait_closed(Duration::from_secs(5));
    let log = server.log.text();
    assert_eq!(status.code(), Some(0), "SIGTERM is a clean exit:\n{log}");
    assert!(
        log.contains("session summary for this run"),
        "the summary is printed:\n{log}"
    );
    assert!(
        log.contains(&format!("all {STREAMS} sessions")),
        "the summary counts every session:\n{log}"
    );
    assert!(
        log.contains(&format!("requests: {STREAMS}")),
        "the summary's total:\n{log}"
    );

    let wanted: HashSet<String> = (0..STREAMS).map(|i| format!("sigterm-{i:02}")).collect();
    let rows = request_rows(&home.db);
    assert_eq!(
        rows.len(),
        STREAMS,
        "one `requests` row per stream: {rows:?}"
    );
    for (session, outcome) in &rows {
        assert!(wanted.contains(session), "unexpected session {session}");
        assert_eq!(outcome, "ok", "{session}");
    }
    assert_eq!(
        rows.iter().map(|(s, _)| s).collect::<HashSet<_>>().len(),
        STREAMS
    );

    let scan = scan_jsonl(&home.sessions);
    assert_eq!(scan.torn, 0, "a clean shutdown leaves no torn line");
    for session in &wanted {
        let stats = scan
            .final_stats
            .get(session)
            .unwrap_or_else(|| panic!("{session} has no JSONL final_stats"));
        assert_eq!(stats.len(), 1, "{session}: one final_stats line");
        assert_eq!(stats[0]["outcome"], "ok", "{session}");
        assert_eq!(
            stats[0]["tokens"]["output"], 19,
            "{session}: usage from the stream's message_delta"
        );
    }
    eprintln!(
        "sigterm: {STREAMS} streams live at SIGTERM, exit {:.2} s after it, test {:.2} s",
        exit_after.as_secs_f64(),
        began.elapsed().as_secs_f64()
    );
}

/// One request of the load: when it started and, if it completed, when its body ended.
struct Sent {
    session: String,
    started: Instant,
    completed: Option<Instant>,
}

/// Workers in the kill -9 test.
const WORKERS: usize = 8;
/// How long the load runs before the kill.
const LOAD_FOR: Duration = Duration::from_secs(2);
/// The recorder promises that at most its last flush interval (100 ms) is lost on a crash. A
/// request counts as "must be recorded" when its response ended this long before the kill: the
/// flush interval, plus the time the flush itself takes (a SQLite transaction), plus scheduling
/// delay on a loaded 2-core CI box where 8 clients, the mock, the proxy and the writer thread all
/// compete for the CPU (the writer may wait a scheduler slice or two before it runs).
const MUST_BE_RECORDED_AFTER: Duration = Duration::from_millis(300);

/// `kill -9` while 8 clients keep streaming requests through: the database passes
/// `PRAGMA integrity_check`, every request that completed more than the margin above before the
/// kill is in `requests` and in the JSONL, and every JSONL line parses except a torn last one.
#[test]
fn kill_9_under_load_keeps_the_database_sound() {
    let began = Instant::now();
    let runtime = runtime();
    let events = sse_events(&fixture("anthropic/messages_text.sse"));
    // Short streams (about 70 ms each) so many requests complete and several are mid-stream.
    let mock = runtime.block_on(
        MockUpstream::new()
            .route(
                "/v1/messages",
                Reply::new(
                    200,
                    "text/event-stream",
                    Body::Chunks(events, Duration::from_millis(10)),
                ),
            )
            .start(),
    );
    let home = RecordingHome::new();
    let mut server = home.start(&mock);
    let addr = server.addr;

    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let stop = stop.clone();
            runtime.spawn(async move {
                let mut sent = Vec::new();
                // Bounded in count and in time (the stop flag is set right after the kill).
                for n in 0..10_000 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let session = format!("kill-{w}-{n:04}");
                    let started = Instant::now();
                    let result = try_fetch(addr, &session, Duration::from_secs(5)).await;
                    let completed = result.is_ok().then(Instant::now);
                    sent.push(Sent {
                        session,
                        started,
                        completed,
                    });
                }
                sent
            })
        })
        .collect();
    std::thread::sleep(LOAD_FOR);
    let killed_at = Instant::now();
    server.guard.child().kill().expect("kill -9");
    stop.store(true, Ordering::SeqCst);
    let status = server.guard.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), None, "killed by a signal");

    let mut sent: Vec<Sent> = Vec::new();
    for worker in workers {
        let done =
            runtime.block_on(async { tokio::time::timeout(Duration::from_secs(15), worker).await });
        sent.extend(
            done.expect("worker stops after the kill")
                .expect("worker task"),
        );
    }
    let in_flight = sent
        .iter()
        .filter(|s| s.started < killed_at && s.completed.is_none_or(|c| c > killed_at))
        .count();
    let completed: Vec<&Sent> = sent
        .iter()
        .filter(|s| s.completed.is_some_and(|c| c <= killed_at))
        .collect();
    assert!(
        completed.len() >= 50,
        "the load completed only {} requests",
        completed.len()
    );

    assert_eq!(
        integrity_check(&home.db),
        ["ok"],
        "PRAGMA integrity_check after kill -9"
    );
    let recorded: HashSet<String> = request_rows(&home.db).into_iter().map(|(s, _)| s).collect();
    let scan = scan_jsonl(&home.sessions);

    let age = |s: &Sent| killed_at.duration_since(s.completed.expect("completed"));
    let mut missing_sqlite = Vec::new();
    let mut missing_jsonl = Vec::new();
    for s in &completed {
        if !recorded.contains(&s.session) {
            missing_sqlite.push((s.session.clone(), age(s)));
        }
        if !scan.final_stats.contains_key(&s.session) {
            missing_jsonl.push((s.session.clone(), age(s)));
        }
    }
    let too_old = |missing: &[(String, Duration)]| -> Vec<(String, Duration)> {
        missing
            .iter()
            .filter(|(_, age)| *age > MUST_BE_RECORDED_AFTER)
            .cloned()
            .collect()
    };
    let oldest = |missing: &[(String, Duration)]| {
        missing
            .iter()
            .map(|(_, a)| a.as_millis())
            .max()
            .unwrap_or(0)
    };
    eprintln!(
        "kill -9: {} requests sent, {} completed before the kill, {in_flight} in flight at the kill; \
         missing from SQLite {} (oldest completed {} ms before the kill), from JSONL {} (oldest {} ms), \
         torn JSONL lines {}; test {:.2} s",
        sent.len(),
        completed.len(),
        missing_sqlite.len(),
        oldest(&missing_sqlite),
        missing_jsonl.len(),
        oldest(&missing_jsonl),
        scan.torn,
        began.elapsed().as_secs_f64()
    );
    assert!(
        too_old(&missing_sqlite).is_empty(),
        "completed well before the kill but not in `requests`: {:?}",
        too_old(&missing_sqlite)
    );
    assert!(
        too_old(&missing_jsonl).is_empty(),
        "completed well before the kill but not in the JSONL: {:?}",
        too_old(&missing_jsonl)
    );
    // Nothing is recorded twice, and nothing is recorded that the clients did not send.
    let all: HashSet<&String> = sent.iter().map(|s| &s.session).collect();
    assert!(
        recorded.iter().all(|s| all.contains(s)),
        "a row for a request nobody sent"
    );
    assert!(
        scan.final_stats.values().all(|v| v.len() == 1),
        "a request recorded twice in the JSONL"
    );
}

/// `PRAGMA integrity_check` over a connection of our own (opening replays the WAL, as any reader
/// after a crash would).
fn integrity_check(db: &std::path::Path) -> Vec<String> {
    let conn =
        rusqlite::Connection::open(db).unwrap_or_else(|e| panic!("opening {}: {e}", db.display()));
    conn.prepare("PRAGMA integrity_check")
        .and_then(|mut stmt| stmt.query_map([], |row| row.get(0))?.collect())
        .expect("PRAGMA integrity_check")
}
