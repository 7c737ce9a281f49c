//! The recording benchmark: what session recording costs a request, and how fast the recorder
//! persists (the recording issue's benchmark item). It reuses the proxy bench's harness
//! (`benches/support`): the stand-in provider in this process, the real `lunaroute-server` binary
//! as child processes, the hyper load client.
//!
//! Four sides against the same upstream, in interleaved batches (the order rotates every batch,
//! so machine noise hits all alike; `lanes.rs`): **direct** (client → upstream), **off** (a proxy
//! with `LUNAROUTE_ENABLE_SESSION_RECORDING=false`), **on** (a proxy recording JSONL and SQLite into
//! a temporary directory, no redaction at all) and **pii** (recording with PII redaction on: every
//! detector plus secrets, mask mode; latency phase only). Requests are Claude-Code-like (`workload`): 50–100 KB bodies with a growing
//! message history and a session header, because recording cost grows with the body.
//!
//! Measured:
//! 1. **latency**: the ~1 KB JSON answer at 200 req/s (time to last byte) and the ~4 KB SSE stream
//!    (first and last byte), p50/p99; the figure is on − off (target: +50 µs at p50), and
//!    pii − on for what redaction adds (it runs on the writer thread, off the request path);
//! 2. **recorder throughput**: `BURST` streamed requests as fast as 8 connections can send them,
//!    first through the off proxy, then through the on proxy while a read-only SQLite connection
//!    counts `requests` rows; persisted requests/s is N ÷ (first request sent → N-th row visible),
//!    with the writer thread's own CPU per request (its rate on one free core) and MB/s of bodies;
//! 3. **losslessness**: every request sent to the on proxy has its row, no gap markers, and both
//!    proxies exit cleanly on SIGTERM (the on proxy draining its queue).
//!
//! Run it with `cargo bench --bench recording` (about a minute and a half); prints a table and writes
//! `target/bench-recording.json`. Without `--bench` (`cargo test --benches`) it does a few-second
//! smoke run. Everything targets 127.0.0.1; every loop is bounded by a count or a deadline.

// Shared with the proxy bench; this bench uses only part of it.
#[allow(dead_code)]
#[path = "../support/mod.rs"]
mod support;

mod lanes;
mod recorder;
mod report;
mod workload;

use lanes::{interleaved, Lane};
use report::{Burst, Report};
use support::client::{self, Conn, Target, Throughput};
use support::proxy_process::ProxyProcess;
use support::upstream::{Payloads, Upstream};
use workload::Workload;

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

type BoxError = client::BoxError;

struct Plan {
    mode: &'static str,
    /// Unpaced requests per side before measuring.
    warmup: u64,
    /// Paced requests per side.
    json_requests: usize,
    sse_requests: usize,
    /// Requests per batch before the next side's turn.
    batch: usize,
    period: Duration,
    /// The throughput burst: connections, and requests per connection.
    burst_conns: u64,
    burst_per_conn: u64,
}

const FULL: Plan = Plan {
    mode: "full",
    warmup: 100,
    json_requests: 1500,
    sse_requests: 750,
    batch: 50,
    period: Duration::from_millis(5),
    // 3,000 requests of ~79 KB (request + answer): about 240 MB, under the recorder's default
    // 256 MB queue budget, so a slow writer shows as a long drain rather than as gap markers.
    burst_conns: 8,
    burst_per_conn: 375,
};

const SMOKE: Plan = Plan {
    mode: "smoke",
    warmup: 4,
    json_requests: 30,
    sse_requests: 15,
    batch: 5,
    period: Duration::from_millis(5),
    burst_conns: 4,
    burst_per_conn: 10,
};

/// How long the recorder may take to show every row (latency phase, burst) before it counts as lost.
const ROWS_LIMIT: Duration = Duration::from_secs(60);
const ROWS_STALL: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    support::runner::main("recording", &FULL, &SMOKE, run)
}

async fn run(plan: &Plan) -> Result<Report, BoxError> {
    let payloads = Arc::new(Payloads::build());
    let (json_len, sse_len) = (payloads.json.len(), payloads.sse_len());
    let workload = Arc::new(Workload::build());
    let mut problems = workload.check_bodies();

    let upstream = Upstream::start(payloads.clone()).await?;
    let scratch = recorder::Scratch::create()?;
    let (sessions_dir, db_path) = (scratch.0.join("sessions"), scratch.0.join("sessions.db"));
    let binary = env!("CARGO_BIN_EXE_lunaroute-server");
    let off = ProxyProcess::start_with(
        binary,
        upstream.addr,
        &[("LUNAROUTE_ENABLE_SESSION_RECORDING", "false".into())],
    )?;
    let on = ProxyProcess::start_with(
        binary,
        upstream.addr,
        &[
            ("LUNAROUTE_ENABLE_SESSION_RECORDING", "true".into()),
            ("LUNAROUTE_SESSIONS_DIR", sessions_dir.display().to_string()),
            ("LUNAROUTE_SESSIONS_DB_PATH", db_path.display().to_string()),
            // Recording alone: not even the default secret redaction.
            (
                "LUNAROUTE_SESSION_RECORDING__PII__REDACT_SECRETS",
                "false".into(),
            ),
        ],
    )?;
    let pii_db = scratch.0.join("pii.db");
    let pii = ProxyProcess::start_with(
        binary,
        upstream.addr,
        &[
            ("LUNAROUTE_ENABLE_SESSION_RECORDING", "true".into()),
            (
                "LUNAROUTE_SESSIONS_DIR",
                scratch.0.join("pii-sessions").display().to_string(),
            ),
            ("LUNAROUTE_SESSIONS_DB_PATH", pii_db.display().to_string()),
            // Every detector and the secrets, in the default mask mode.
            ("LUNAROUTE_ENABLE_PII", "true".into()),
        ],
    )?;
    eprintln!(
        "bench: upstream on {}, recording off: proxy (pid {}) on {}, on: proxy (pid {}) on {}, on + PII: proxy (pid {}) on {}",
        upstream.addr,
        off.pid(),
        off.addr,
        on.pid(),
        on.addr,
        pii.pid(),
        pii.addr
    );

    let mut lanes = [
        Lane::open(
            "direct",
            Target {
                addr: upstream.addr,
                via_proxy: false,
            },
            1,
        )
        .await?,
        Lane::open(
            "off",
            Target {
                addr: off.addr,
                via_proxy: true,
            },
            2,
        )
        .await?,
        Lane::open(
            "on",
            Target {
                addr: on.addr,
                via_proxy: true,
            },
            3,
        )
        .await?,
        Lane::open(
            "pii",
            Target {
                addr: pii.addr,
                via_proxy: true,
            },
            4,
        )
        .await?,
    ];
    eprintln!(
        "bench: warm-up ({} requests of each kind per side)",
        plan.warmup
    );
    for lane in lanes.iter_mut() {
        // JSON first, then SSE, as the phases go (the body's `stream` flag is part of what the
        // recorder's prefix sharing compares, so flipping it every request would defeat it).
        for i in 0..2 * plan.warmup {
            let outgoing = workload.request(lane.series, lane.sent, i >= plan.warmup);
            lane.sent += 1;
            lane.conn.send_outgoing(outgoing, false).await?;
        }
    }

    eprintln!(
        "bench: JSON latency ({} paced requests per side)",
        plan.json_requests
    );
    let json = interleaved(
        plan,
        &workload,
        &mut lanes,
        false,
        json_len,
        plan.json_requests,
    )
    .await;
    eprintln!(
        "bench: SSE latency ({} paced requests per side)",
        plan.sse_requests
    );
    let sse = interleaved(
        plan,
        &workload,
        &mut lanes,
        true,
        sse_len,
        plan.sse_requests,
    )
    .await;
    for (kind, samples) in [("JSON", &json), ("SSE", &sse)] {
        for (lane, s) in lanes.iter().zip(samples) {
            if s.failed > 0 {
                let first = s.first_failure.as_deref().unwrap_or("?");
                problems.push(format!(
                    "{kind} {}: {} failed, first: {first}",
                    lane.name, s.failed
                ));
            }
        }
    }
    let on_sent = lanes[2].sent;
    let pii_sent = lanes[3].sent;
    drop(lanes);

    // Every request of the latency phase has its row before the burst starts.
    let settled = rows_after(&db_path, on_sent).await?;
    if settled.reached.is_none() {
        problems.push(format!(
            "latency phase: {on_sent} requests recorded, {} rows",
            settled.last
        ));
    }
    let settled = rows_after(&pii_db, pii_sent).await?;
    if settled.reached.is_none() {
        problems.push(format!(
            "latency phase with PII: {pii_sent} requests recorded, {} rows",
            settled.last
        ));
    }
    // Not needed for the burst: stopped now so it takes no CPU from the others.
    problems.extend(pii.stop_and_check("recording-pii proxy"));

    let total = plan.burst_conns * plan.burst_per_conn;
    eprintln!(
        "bench: recorder throughput ({total} streamed requests on {} connections)",
        plan.burst_conns
    );
    let off_cpu = off.cpu_time();
    let off_burst = burst(
        plan,
        &workload,
        Target {
            addr: off.addr,
            via_proxy: true,
        },
        100,
        sse_len,
    )
    .await;
    let off_cpu = recorder::cpu_delta(off_cpu, off.cpu_time());

    let (on_cpu, writer_cpu) = (on.cpu_time(), recorder::writer_cpu(on.pid()));
    let started = Instant::now();
    let poller = {
        let db_path = db_path.clone();
        let target = on_sent + total;
        tokio::task::spawn_blocking(move || {
            recorder::wait_for_rows(
                &db_path,
                target,
                Duration::from_millis(5),
                ROWS_LIMIT,
                ROWS_STALL,
            )
        })
    };
    let on_burst = burst(
        plan,
        &workload,
        Target {
            addr: on.addr,
            via_proxy: true,
        },
        200,
        sse_len,
    )
    .await;
    let sent_at = Instant::now();
    let progress = poller.await??;
    let on_cpu = recorder::cpu_delta(on_cpu, on.cpu_time());
    let writer_cpu = recorder::cpu_delta(writer_cpu, recorder::writer_cpu(on.pid()));
    for (what, b) in [("recording off", &off_burst), ("recording on", &on_burst)] {
        if b.tput.failed > 0 {
            problems.push(format!(
                "burst, {what}: {} of {} requests failed",
                b.tput.failed, total
            ));
        }
    }
    if progress.reached.is_none() {
        problems.push(format!(
            "burst: {} rows of {} after {:?}",
            progress.last - on_sent,
            total,
            started.elapsed()
        ));
    }
    let on_recorded = on_sent + total;
    let jsonl_bytes = recorder::disk_bytes(&sessions_dir);
    let db_bytes = ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| recorder::disk_bytes(Path::new(&format!("{}{suffix}", db_path.display()))))
        .sum();
    let recorder_burst = Burst {
        requests: total,
        request_bytes: on_burst.request_bytes,
        response_bytes: total * sse_len as u64,
        sent: sent_at - started,
        persisted: progress.reached.map(|at| at - started),
        rows_when_sent: progress.at(sent_at).saturating_sub(on_sent),
        writer_cpu,
        proxy_cpu: on_cpu,
    };

    for (name, proxy) in [("off", off), ("on", on)] {
        problems.extend(proxy.stop_and_check(&format!("recording-{name} proxy")));
    }
    let rows_at_exit = recorder::Rows::open(&db_path)
        .and_then(|rows| rows.count())
        .unwrap_or(0);
    if rows_at_exit != on_recorded {
        problems.push(format!(
            "after SIGTERM: {rows_at_exit} rows for {on_recorded} recorded requests"
        ));
    }
    let gaps = recorder::gap_markers(&sessions_dir);
    if gaps > 0 {
        problems.push(format!("{gaps} gap markers: the recorder dropped requests"));
    }

    Ok(Report {
        mode: plan.mode,
        cpus: support::runner::cpus(),
        json_bytes: json_len,
        sse_bytes: sse_len,
        body_bytes: (
            workload.request(0, 0, true).body.len(),
            workload.request(0, workload::TURNS - 1, true).body.len(),
        ),
        rate_per_sec: 1.0 / plan.period.as_secs_f64(),
        json: json.map(|s| s.timings),
        sse: sse.map(|s| s.timings),
        burst_conns: plan.burst_conns,
        off_burst: off_burst.tput,
        off_cpu,
        on_burst: on_burst.tput,
        recorder: recorder_burst,
        recorded: on_recorded,
        rows_at_exit,
        jsonl_bytes,
        db_bytes,
        problems,
    })
}

/// What a burst achieved, and the request bytes it sent.
struct Sent {
    tput: Throughput,
    request_bytes: u64,
}

/// `burst_conns` connections, each sending `burst_per_conn` streamed requests back to back, each
/// connection its own series of sessions (a session's turns go one after another, as a client's do).
async fn burst(
    plan: &Plan,
    workload: &Arc<Workload>,
    target: Target,
    series: u16,
    expect_len: usize,
) -> Sent {
    let started = Instant::now();
    let bytes = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..plan.burst_conns)
        .map(|w| {
            let (workload, bytes, per_conn) =
                (workload.clone(), bytes.clone(), plan.burst_per_conn);
            tokio::spawn(async move {
                let mut result = Throughput::default();
                let Ok(mut conn) = Conn::open(target).await else {
                    result.failed += per_conn;
                    return result;
                };
                for n in 0..per_conn {
                    let outgoing = workload.request(series + w as u16, n, true);
                    bytes.fetch_add(outgoing.body.len() as u64, Ordering::Relaxed);
                    match conn.send_outgoing(outgoing, false).await {
                        Ok(reply)
                            if reply.status == http::StatusCode::OK && reply.len == expect_len =>
                        {
                            result.ok += 1
                        }
                        Ok(_) => result.failed += 1,
                        Err(_) => {
                            result.failed += 1;
                            match Conn::open(target).await {
                                Ok(fresh) => conn = fresh,
                                Err(_) => {
                                    result.failed += per_conn - n - 1;
                                    break;
                                }
                            }
                        }
                    }
                }
                result
            })
        })
        .collect();
    Sent {
        tput: Throughput::gather(workers, started).await,
        request_bytes: bytes.load(Ordering::Relaxed),
    }
}

/// Waits (off the runtime's workers) until the database has `target` rows.
async fn rows_after(db_path: &Path, target: u64) -> Result<recorder::Progress, BoxError> {
    let db_path = db_path.to_path_buf();
    let progress = tokio::task::spawn_blocking(move || {
        recorder::wait_for_rows(
            &db_path,
            target,
            Duration::from_millis(20),
            ROWS_LIMIT,
            ROWS_STALL,
        )
    })
    .await??;
    Ok(progress)
}
