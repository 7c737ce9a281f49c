//! The translation bench: what a translated streaming request costs, next to a same-dialect
//! passthrough and a direct connection, measured in one run.
//!
//! One process starts the bench's stand-in provider (`support::upstream`: Anthropic SSE on
//! `/v1/messages`, the same text as Chat Completions chunks on `/v1/chat/completions`) and the
//! real `lunaroute-server` as a child with two routing rules: `claude-bench-routed` to an
//! Anthropic provider (same dialect: passthrough after peeking the model) and
//! `claude-bench-translated` to an OpenAI Chat provider (translated both ways). An Anthropic
//! client (hyper, one keep-alive connection per lane) sends streaming requests on four lanes:
//! 1. **direct Anthropic**: client → upstream `/v1/messages`;
//! 2. **direct Chat**: client → upstream `/v1/chat/completions` (the translated lane's provider,
//!    reached without the proxy);
//! 3. **passthrough**: client → proxy (same-dialect rule) → upstream `/v1/messages`;
//! 4. **translated**: client → proxy (Chat rule) → upstream `/v1/chat/completions`, the answer
//!    turned into Anthropic events.
//!
//! Paced at 200 req/s, in alternating batches (the order rotates) so machine noise hits every
//! lane alike. Reported: time to first byte and to last byte, p50/p99, and what the proxy adds:
//! passthrough − direct Anthropic, translated − direct Chat, translated − passthrough.
//! Before measuring, the translated answer must carry the same text as the direct one and end
//! with `message_stop`.
//!
//! `cargo bench --bench translate` (about half a minute; writes `target/bench-translate.json`);
//! without `--bench` a few-second smoke run. Everything targets 127.0.0.1; every loop is bounded.

#[allow(dead_code)]
mod support;

use bytes::Bytes;
use serde_json::{json, Value};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use support::client::{BoxError, Conn, Outgoing, Target, Timing};
use support::proxy_process::ProxyProcess;
use support::report::Dist;
use support::runner::Outcome;
use support::upstream::{Payloads, Upstream};
use tokio::time::MissedTickBehavior;

struct Plan {
    mode: &'static str,
    warmup: usize,
    requests: usize,
    batch: usize,
    period: Duration,
}

const FULL: Plan = Plan {
    mode: "full",
    warmup: 200,
    requests: 1000,
    batch: 50,
    period: Duration::from_millis(5),
};

const SMOKE: Plan = Plan {
    mode: "smoke",
    warmup: 5,
    requests: 20,
    batch: 10,
    period: Duration::from_millis(5),
};

fn main() -> ExitCode {
    support::runner::main("translate", &FULL, &SMOKE, run)
}

/// One lane: where it connects, which path, which body.
struct Lane {
    name: &'static str,
    target: Target,
    path: &'static str,
    body: Bytes,
    expect_len: usize,
    timings: Vec<Timing>,
    failed: u64,
    first_failure: Option<String>,
}

fn anthropic_request(model: &str) -> Bytes {
    let body = json!({"model": model, "max_tokens": 256, "stream": true,
        "messages": [{"role": "user", "content": "Say something about proxies."}]});
    Bytes::from(body.to_string())
}

fn chat_request() -> Bytes {
    let body = json!({"model": "gpt-bench", "max_completion_tokens": 256, "stream": true,
        "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "Say something about proxies."}]});
    Bytes::from(body.to_string())
}

fn outgoing(body: &Bytes) -> Outgoing {
    Outgoing {
        body: body.clone(),
        headers: Vec::new(),
    }
}

/// The text of an Anthropic event stream, and whether it ended with `message_stop`.
fn anthropic_text(body: &[u8]) -> (String, bool) {
    let text = String::from_utf8_lossy(body);
    let mut out = String::new();
    let mut stopped = false;
    for data in text.lines().filter_map(|l| l.strip_prefix("data: ")) {
        let v: Value = serde_json::from_str(data).unwrap_or_default();
        if let Some(t) = v["delta"]["text"].as_str() {
            out.push_str(t);
        }
        stopped = v["type"] == "message_stop";
    }
    (out, stopped)
}

fn config_toml(upstream: std::net::SocketAddr) -> String {
    format!(
        r#"[providers.anthro]
type = "anthropic"
base_url = "http://{upstream}"

[providers.chatgw]
type = "openai"
base_url = "http://{upstream}/v1"

[[routing.rules]]
model = "claude-bench-routed"
provider = "anthro"

[[routing.rules]]
model = "claude-bench-translated"
provider = "chatgw"
model_rewrite = "gpt-bench"
"#
    )
}

async fn run(plan: &Plan) -> Result<Report, BoxError> {
    let payloads = Arc::new(Payloads::build());
    let upstream = Upstream::start(payloads.clone()).await?;
    let dir = std::env::temp_dir().join(format!("lunaroute-bench-tr-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let config = dir.join("config.toml");
    std::fs::write(&config, config_toml(upstream.addr))?;
    let proxy = ProxyProcess::start_with(
        env!("CARGO_BIN_EXE_lunaroute-server"),
        upstream.addr,
        &[
            ("LUNAROUTE_CONFIG", config.display().to_string()),
            ("LUNAROUTE_ENABLE_SESSION_RECORDING", "false".into()),
        ],
    )?;
    eprintln!(
        "bench: upstream on {}, proxy on {}",
        upstream.addr, proxy.addr
    );
    let direct = Target {
        addr: upstream.addr,
        via_proxy: false,
    };
    let proxied = Target {
        addr: proxy.addr,
        via_proxy: true,
    };
    let lane = |name, target, path, body| Lane {
        name,
        target,
        path,
        body,
        expect_len: 0,
        timings: Vec::new(),
        failed: 0,
        first_failure: None,
    };
    let mut lanes = vec![
        lane(
            "direct Anthropic",
            direct,
            "/v1/messages",
            anthropic_request("claude-bench"),
        ),
        lane(
            "direct Chat",
            direct,
            "/v1/chat/completions",
            chat_request(),
        ),
        lane(
            "passthrough",
            proxied,
            "/v1/messages",
            anthropic_request("claude-bench-routed"),
        ),
        lane(
            "translated",
            proxied,
            "/v1/messages",
            anthropic_request("claude-bench-translated"),
        ),
    ];
    let mut conns = Vec::new();
    for l in &lanes {
        conns.push(Conn::open(l.target).await?);
    }

    // Fidelity first: every lane answers 200; the proxied Anthropic lanes carry the direct text.
    let mut problems = Vec::new();
    let mut bodies = Vec::new();
    for (l, conn) in lanes.iter_mut().zip(&mut conns) {
        let reply = conn.send_to(l.path, outgoing(&l.body), true).await?;
        if reply.status != 200 {
            problems.push(format!("{}: status {}", l.name, reply.status));
        }
        l.expect_len = reply.len;
        bodies.push(reply.body.unwrap_or_default());
    }
    let (direct_text, _) = anthropic_text(&bodies[0]);
    for i in [2, 3] {
        let (text, stopped) = anthropic_text(&bodies[i]);
        if text != direct_text || !stopped {
            problems.push(format!(
                "{}: the answer's text differs from the direct one or lacks message_stop",
                lanes[i].name
            ));
        }
    }
    if !problems.is_empty() {
        return Ok(Report::new(plan, &lanes, problems));
    }

    eprintln!("bench: warm-up ({} requests per lane)", plan.warmup);
    for (l, conn) in lanes.iter().zip(&mut conns) {
        for _ in 0..plan.warmup {
            conn.send_to(l.path, outgoing(&l.body), false).await?;
        }
    }
    eprintln!(
        "bench: {} paced streaming requests per lane, batches of {}",
        plan.requests, plan.batch
    );
    let batches = plan.requests.div_ceil(plan.batch);
    for batch in 0..batches {
        let n = plan.batch.min(plan.requests - batch * plan.batch);
        // Rotate which lane goes first.
        for k in 0..lanes.len() {
            let i = (batch + k) % lanes.len();
            paced(&mut lanes[i], &mut conns[i], n, plan.period).await;
        }
    }
    for l in &lanes {
        if l.failed > 0 {
            problems.push(format!(
                "{}: {} failed, first: {}",
                l.name,
                l.failed,
                l.first_failure.as_deref().unwrap_or("?")
            ));
        }
    }
    drop(conns);
    problems.extend(proxy.stop_and_check("proxy"));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Report::new(plan, &lanes, problems))
}

/// `n` requests on the lane's connection, one every `period`; a failure reopens the connection.
async fn paced(lane: &mut Lane, conn: &mut Conn, n: usize, period: Duration) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    for _ in 0..n {
        ticks.tick().await;
        match conn.send_to(lane.path, outgoing(&lane.body), false).await {
            Ok(r) if r.status == 200 && r.len == lane.expect_len => lane.timings.push(r.timing),
            Ok(r) => {
                lane.failed += 1;
                lane.first_failure
                    .get_or_insert(format!("status {}, {} bytes", r.status, r.len));
            }
            Err(e) => {
                lane.failed += 1;
                lane.first_failure.get_or_insert(e.to_string());
                match Conn::open(lane.target).await {
                    Ok(fresh) => *conn = fresh,
                    Err(_) => return,
                }
            }
        }
    }
}

struct LaneFigures {
    name: &'static str,
    bytes: usize,
    ttfb: Dist,
    ttlb: Dist,
}

struct Report {
    mode: &'static str,
    lanes: Vec<LaneFigures>,
    problems: Vec<String>,
}

impl Report {
    fn new(plan: &Plan, lanes: &[Lane], problems: Vec<String>) -> Self {
        let lanes = lanes
            .iter()
            .map(|l| LaneFigures {
                name: l.name,
                bytes: l.expect_len,
                ttfb: Dist::of(l.timings.iter().map(|t| t.ttfb)),
                ttlb: Dist::of(l.timings.iter().map(|t| t.ttlb)),
            })
            .collect();
        Self {
            mode: plan.mode,
            lanes,
            problems,
        }
    }

    /// `(what, lane, baseline)`: the differences the bench exists for.
    const ADDED: [(&'static str, usize, usize); 3] = [
        ("passthrough - direct Anthropic", 2, 0),
        ("translated - direct Chat", 3, 1),
        ("translated - passthrough", 3, 2),
    ];
}

fn r1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

impl Outcome for Report {
    fn print(&self) {
        println!(
            "\ntranslation bench ({}), streaming, µs\n{:<18} {:>6} {:>10} {:>10} {:>10} {:>10}",
            self.mode, "lane", "bytes", "ttfb p50", "ttfb p99", "ttlb p50", "ttlb p99"
        );
        for l in &self.lanes {
            println!(
                "{:<18} {:>6} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
                l.name, l.bytes, l.ttfb.p50, l.ttfb.p99, l.ttlb.p50, l.ttlb.p99
            );
        }
        println!(
            "\n{:<32} {:>10} {:>10} {:>10} {:>10} {:>12}",
            "added", "ttfb p50", "ttfb p99", "ttlb p50", "ttlb p99", "ttlb p50 ×"
        );
        for (what, a, b) in Self::ADDED {
            if self.lanes.len() <= a {
                continue;
            }
            let (x, y) = (&self.lanes[a], &self.lanes[b]);
            println!(
                "{:<32} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>12.2}",
                what,
                x.ttfb.p50 - y.ttfb.p50,
                x.ttfb.p99 - y.ttfb.p99,
                x.ttlb.p50 - y.ttlb.p50,
                x.ttlb.p99 - y.ttlb.p99,
                x.ttlb.p50 / y.ttlb.p50
            );
        }
        for p in &self.problems {
            println!("PROBLEM: {p}");
        }
    }

    fn to_json(&self) -> Value {
        let lanes: Vec<Value> = self
            .lanes
            .iter()
            .map(|l| json!({"lane": l.name, "bytes": l.bytes, "ttfb": l.ttfb.to_json(), "ttlb": l.ttlb.to_json()}))
            .collect();
        let added: Vec<Value> = Self::ADDED
            .iter()
            .filter(|(_, a, _)| *a < self.lanes.len())
            .map(|(what, a, b)| {
                let (x, y) = (&self.lanes[*a], &self.lanes[*b]);
                json!({"what": what,
                    "ttfb_p50_us": r1(x.ttfb.p50 - y.ttfb.p50), "ttfb_p99_us": r1(x.ttfb.p99 - y.ttfb.p99),
                    "ttlb_p50_us": r1(x.ttlb.p50 - y.ttlb.p50), "ttlb_p99_us": r1(x.ttlb.p99 - y.ttlb.p99),
                    "ttlb_p50_ratio": (x.ttlb.p50 / y.ttlb.p50 * 100.0).round() / 100.0})
            })
            .collect();
        json!({"mode": self.mode, "cpus": support::runner::cpus(), "lanes": lanes,
            "added": added, "problems": self.problems})
    }

    fn problems(&self) -> &[String] {
        &self.problems
    }
}
