//! The proxy benchmark: what LunaRoute adds on top of a direct connection, measured in one run.
//!
//! One process starts a stand-in provider (`support::upstream`, hyper on `127.0.0.1:0`), starts
//! the real `lunaroute-server` binary as a child pointed at it, then drives both with a hyper
//! client (`support::client`). Every figure is a pair, direct (client → upstream) and proxied
//! (client → proxy → upstream), taken in alternating batches so machine noise hits both alike;
//! performance claims are the difference and the ratio, never an absolute number.
//!
//! Measured:
//! 1. **fidelity**: one JSON and one SSE answer, status, headers and body the same direct and
//!    proxied; afterwards, every request sent through the proxy reached the upstream exactly once;
//! 2. **JSON latency**: a ~1 KB answer at 200 req/s, time to last byte, p50/p99;
//! 3. **SSE latency**: a ~4 KB stream of about 20 events, time to first and to last byte, p50/p99;
//! 4. **throughput**: 32 keep-alive connections, back-to-back requests for a fixed time;
//! 5. **memory**: the proxy's `VmRSS` idle after startup, its peak during (4), and after.
//!
//! Run it with `cargo bench --bench proxy` (or `benches/run.sh`): about a minute; prints a table
//! and writes `target/bench-proxy.json`. Without `--bench` (as `cargo test --benches` runs it)
//! it does a few-second smoke run that only checks the whole setup works. Everything targets
//! 127.0.0.1, and every loop is bounded by a count or a deadline.

mod support;

use support::client::{self, Conn, Kind, Samples, Target, Throughput};
use support::proxy_process::{self, ProxyProcess};
use support::report::{Compare, Report};
use support::upstream::{Counters, Payloads, Upstream};

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

type BoxError = client::BoxError;

/// How much of everything to do.
struct Plan {
    mode: &'static str,
    /// Unpaced requests of each kind, each way, before measuring.
    warmup: usize,
    /// Paced JSON requests, each way.
    json_requests: usize,
    /// Paced SSE requests, each way.
    sse_requests: usize,
    /// Requests per batch before switching between direct and proxied.
    batch: usize,
    /// Time between paced requests (5 ms = 200 req/s).
    period: Duration,
    conns: usize,
    /// Throughput rounds, each one direct and one proxied of `round` length.
    rounds: usize,
    round: Duration,
    /// Pause before the idle memory readings.
    settle: Duration,
}

const FULL: Plan = Plan {
    mode: "full",
    warmup: 300,
    json_requests: 2000,
    sse_requests: 1000,
    batch: 100,
    period: Duration::from_millis(5),
    conns: 32,
    rounds: 2,
    round: Duration::from_millis(2500),
    settle: Duration::from_millis(1000),
};

const SMOKE: Plan = Plan {
    mode: "smoke",
    warmup: 10,
    json_requests: 40,
    sse_requests: 20,
    batch: 10,
    period: Duration::from_millis(5),
    conns: 32,
    rounds: 1,
    round: Duration::from_millis(300),
    settle: Duration::from_millis(100),
};

fn main() -> ExitCode {
    support::runner::main("proxy", &FULL, &SMOKE, run)
}

async fn run(plan: &Plan) -> Result<Report, BoxError> {
    let payloads = Arc::new(Payloads::build());
    let (json_len, sse_len) = (payloads.json.len(), payloads.sse_len());
    let upstream = Upstream::start(payloads.clone()).await?;
    // Pure passthrough: recording (on by default) is measured by benches/recording.
    let proxy = ProxyProcess::start_with(
        env!("CARGO_BIN_EXE_lunaroute-server"),
        upstream.addr,
        &[("LUNAROUTE_ENABLE_SESSION_RECORDING", "false".into())],
    )?;
    eprintln!(
        "bench: upstream on {}, proxy (pid {}) on {}",
        upstream.addr,
        proxy.pid(),
        proxy.addr
    );

    tokio::time::sleep(plan.settle).await;
    let rss_idle = proxy.mem();
    let mut problems = Vec::new();

    let direct_target = Target {
        addr: upstream.addr,
        via_proxy: false,
    };
    let proxy_target = Target {
        addr: proxy.addr,
        via_proxy: true,
    };
    let mut direct = Conn::open(direct_target).await?;
    let mut proxied = Conn::open(proxy_target).await?;
    for kind in [Kind::Json, Kind::Sse] {
        problems.extend(same_answer(&mut direct, &mut proxied, kind).await?);
    }

    eprintln!(
        "bench: warm-up ({} requests of each kind, each way)",
        plan.warmup
    );
    for kind in [Kind::Json, Kind::Sse] {
        for _ in 0..plan.warmup {
            direct.send(kind, false).await?;
            proxied.send(kind, false).await?;
        }
    }

    let targets = (direct_target, proxy_target);
    eprintln!(
        "bench: JSON latency ({} paced requests each way)",
        plan.json_requests
    );
    let (json_d, json_p) = interleaved(
        plan,
        &mut direct,
        &mut proxied,
        targets,
        Kind::Json,
        json_len,
        plan.json_requests,
    )
    .await;
    eprintln!(
        "bench: SSE latency ({} paced requests each way)",
        plan.sse_requests
    );
    let (sse_d, sse_p) = interleaved(
        plan,
        &mut direct,
        &mut proxied,
        targets,
        Kind::Sse,
        sse_len,
        plan.sse_requests,
    )
    .await;
    drop((direct, proxied));
    for (what, s) in [
        ("direct JSON", &json_d),
        ("proxied JSON", &json_p),
        ("direct SSE", &sse_d),
        ("proxied SSE", &sse_p),
    ] {
        if s.failed > 0 {
            problems.push(format!(
                "{what}: {} failed, first: {}",
                s.failed,
                s.first_failure.as_deref().unwrap_or("?")
            ));
        }
    }

    eprintln!(
        "bench: throughput ({} connections, {} × {:?} each way)",
        plan.conns, plan.rounds, plan.round
    );
    let peak = Arc::new(AtomicU64::new(rss_idle.map(|m| m.rss_kib).unwrap_or(0)));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = tokio::spawn(sample_rss(proxy.pid(), peak.clone(), sampling.clone()));
    let (mut direct_tput, mut proxied_tput) = (Throughput::default(), Throughput::default());
    let mut proxy_cpu = Duration::ZERO;
    for round in 0..plan.rounds {
        // Alternate which side goes first, so neither always runs on a warmer (or busier) machine.
        for proxied_turn in [round % 2 == 1, round % 2 == 0] {
            if proxied_turn {
                let before = proxy.cpu_time();
                proxied_tput.add(
                    client::saturate(proxy_target, plan.conns, plan.round, Kind::Json, json_len)
                        .await,
                );
                if let (Some(b), Some(a)) = (before, proxy.cpu_time()) {
                    proxy_cpu += a.saturating_sub(b);
                }
            } else {
                direct_tput.add(
                    client::saturate(direct_target, plan.conns, plan.round, Kind::Json, json_len)
                        .await,
                );
            }
        }
    }
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    for (what, t) in [("direct", direct_tput), ("proxied", proxied_tput)] {
        if t.failed > 0 {
            problems.push(format!(
                "throughput, {what}: {} of {} requests failed",
                t.failed,
                t.failed + t.ok
            ));
        }
    }

    // Each request we sent through the proxy must reach the upstream exactly once, and the proxy
    // should need about one upstream connection per concurrent client connection (its pool).
    let upstream_conns = Counters::get(&upstream.counters.proxied_conns);
    let upstream_requests = Counters::get(&upstream.counters.proxied_requests);
    let sent = 2
        + 2 * plan.warmup as u64
        + (json_p.timings.len() + sse_p.timings.len()) as u64
        + json_p.failed
        + sse_p.failed
        + proxied_tput.ok
        + proxied_tput.failed;
    if problems.is_empty() && upstream_requests != sent {
        problems.push(format!(
            "sent {sent} requests through the proxy, the upstream got {upstream_requests}"
        ));
    }
    if upstream_conns > 2 * plan.conns as u64 + 2 {
        problems.push(format!(
            "the proxy opened {upstream_conns} upstream connections for at most {} concurrent clients (pool not reused?)",
            plan.conns + 1
        ));
    }

    tokio::time::sleep(plan.settle).await;
    let rss_after = proxy.mem();
    problems.extend(proxy.stop_and_check("proxy"));

    Ok(Report {
        mode: plan.mode,
        cpus: support::runner::cpus(),
        json_bytes: json_len,
        sse_bytes: sse_len,
        sse_events: payloads.sse.len(),
        rate_per_sec: 1.0 / plan.period.as_secs_f64(),
        json: Compare::new(&json_d.timings, &json_p.timings, |t| t.ttlb),
        sse_ttfb: Compare::new(&sse_d.timings, &sse_p.timings, |t| t.ttfb),
        sse_ttlb: Compare::new(&sse_d.timings, &sse_p.timings, |t| t.ttlb),
        conns: plan.conns,
        direct_tput,
        proxied_tput,
        rss_idle,
        rss_peak_load_kib: peak.load(Ordering::Relaxed),
        rss_after,
        upstream_conns_via_proxy: upstream_conns,
        upstream_requests_via_proxy: upstream_requests,
        cpu_per_request_us: (proxied_tput.ok > 0)
            .then(|| proxy_cpu.as_secs_f64() * 1e6 / proxied_tput.ok as f64),
        problems,
    })
}

/// One request each way; any difference in status or body bytes is a proxy problem.
async fn same_answer(
    direct: &mut Conn,
    proxied: &mut Conn,
    kind: Kind,
) -> Result<Vec<String>, BoxError> {
    let d = direct.send(kind, true).await?;
    let p = proxied.send(kind, true).await?;
    let mut problems = Vec::new();
    if d.status != p.status {
        problems.push(format!(
            "{kind:?}: status {} direct but {} proxied",
            d.status, p.status
        ));
    }
    if d.body != p.body {
        problems.push(format!(
            "{kind:?}: body differs ({} bytes direct, {} proxied)",
            d.len, p.len
        ));
    }
    // Headers too, except those that belong to the hop (each server sets its own `date`).
    let hop = |name: &http::HeaderName| {
        matches!(
            name.as_str(),
            "date" | "connection" | "keep-alive" | "transfer-encoding"
        )
    };
    let (dh, ph) = (d.headers.unwrap_or_default(), p.headers.unwrap_or_default());
    for name in dh.keys().chain(ph.keys()).filter(|n| !hop(n)) {
        let (dv, pv) = (
            dh.get_all(name).iter().collect::<Vec<_>>(),
            ph.get_all(name).iter().collect::<Vec<_>>(),
        );
        if dv != pv {
            let problem = format!("{kind:?}: header `{name}` is {dv:?} direct but {pv:?} proxied");
            if !problems.contains(&problem) {
                problems.push(problem);
            }
        }
    }
    Ok(problems)
}

/// `count` paced requests each way, in alternating batches (the first side alternates too).
async fn interleaved(
    plan: &Plan,
    direct: &mut Conn,
    proxied: &mut Conn,
    (direct_target, proxy_target): (Target, Target),
    kind: Kind,
    expect_len: usize,
    count: usize,
) -> (Samples, Samples) {
    let (mut d, mut p) = (Samples::default(), Samples::default());
    let batches = count.div_ceil(plan.batch);
    for batch in 0..batches {
        let n = plan.batch.min(count - batch * plan.batch);
        for proxied_turn in [batch % 2 == 1, batch % 2 == 0] {
            if proxied_turn {
                p.absorb(
                    client::paced(proxied, proxy_target, kind, expect_len, n, plan.period).await,
                );
            } else {
                d.absorb(
                    client::paced(direct, direct_target, kind, expect_len, n, plan.period).await,
                );
            }
        }
    }
    (d, p)
}

/// Keeps the highest `VmRSS` seen in `peak`, every 20 ms until `running` is cleared.
async fn sample_rss(pid: u32, peak: Arc<AtomicU64>, running: Arc<AtomicBool>) {
    // Bounded as well: 10 minutes of samples at most.
    for _ in 0..30_000 {
        if !running.load(Ordering::Relaxed) {
            break;
        }
        if let Some(mem) = proxy_process::read_mem(pid) {
            peak.fetch_max(mem.rss_kib, Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
