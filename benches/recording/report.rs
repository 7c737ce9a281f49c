//! The recording bench's figures: latency per side with the on − off difference (the issue's
//! target), the recorder's throughput, bytes on disk, the stdout table and the JSON file.

use crate::support::client::{Throughput, Timing};
use crate::support::report::Dist;
use crate::support::runner::Outcome;
use serde_json::{json, Value};
use std::time::Duration;

/// The target: recording on adds at most this much at p50, compared with recording off.
const TARGET_ADDED_P50_US: f64 = 50.0;
const SIDES: [&str; 4] = ["direct", "off", "on", "pii"];

/// What the recorder did with the burst sent through the recording proxy.
pub struct Burst {
    pub requests: u64,
    pub request_bytes: u64,
    pub response_bytes: u64,
    /// From the first request sent to the last answer received.
    pub sent: Duration,
    /// From the first request sent to the last row visible in SQLite (`None`: never, see problems).
    pub persisted: Option<Duration>,
    /// Rows of the burst already visible when the last answer came back.
    pub rows_when_sent: u64,
    /// CPU time of the writer thread, and of the whole proxy, over the burst and its drain.
    pub writer_cpu: Option<Duration>,
    pub proxy_cpu: Option<Duration>,
}

// === impl Burst ===

impl Burst {
    fn persisted_per_sec(&self) -> Option<f64> {
        self.persisted
            .map(|d| self.requests as f64 / d.as_secs_f64())
    }

    fn body_mb_per_sec(&self) -> Option<f64> {
        self.persisted
            .map(|d| (self.request_bytes + self.response_bytes) as f64 / 1e6 / d.as_secs_f64())
    }

    /// Time from the last answer to the last row.
    fn drain(&self) -> Option<Duration> {
        self.persisted.map(|p| p.saturating_sub(self.sent))
    }

    fn writer_us_per_request(&self) -> Option<f64> {
        self.writer_cpu
            .map(|cpu| cpu.as_secs_f64() * 1e6 / self.requests as f64)
    }
}

/// A latency measure for the four sides.
struct Measure {
    name: &'static str,
    key: &'static str,
    dists: [Dist; 4],
}

// === impl Measure ===

impl Measure {
    fn new(
        name: &'static str,
        key: &'static str,
        samples: &[Vec<Timing>; 4],
        pick: fn(&Timing) -> Duration,
    ) -> Self {
        Self {
            name,
            key,
            dists: [0, 1, 2, 3].map(|i| Dist::of(samples[i].iter().map(pick))),
        }
    }

    fn added_p50(&self) -> f64 {
        self.dists[2].p50 - self.dists[1].p50
    }

    fn added_p99(&self) -> f64 {
        self.dists[2].p99 - self.dists[1].p99
    }

    fn to_json(&self) -> Value {
        json!({
            "direct": self.dists[0].to_json(),
            "recording_off": self.dists[1].to_json(),
            "recording_on": self.dists[2].to_json(),
            "recording_on_pii": self.dists[3].to_json(),
            "on_minus_off_p50_us": round(self.added_p50()),
            "on_minus_off_p99_us": round(self.added_p99()),
            "pii_minus_on_p50_us": round(self.dists[3].p50 - self.dists[2].p50),
            "pii_minus_on_p99_us": round(self.dists[3].p99 - self.dists[2].p99),
            "off_minus_direct_p50_us": round(self.dists[1].p50 - self.dists[0].p50),
        })
    }
}

/// Everything one run measured.
pub struct Report {
    pub mode: &'static str,
    pub cpus: usize,
    pub json_bytes: usize,
    pub sse_bytes: usize,
    /// The smallest and the largest request body of a session.
    pub body_bytes: (usize, usize),
    pub rate_per_sec: f64,
    /// Timings per side: direct, off, on, on with PII redaction.
    pub json: [Vec<Timing>; 4],
    pub sse: [Vec<Timing>; 4],
    pub burst_conns: u64,
    pub off_burst: Throughput,
    pub off_cpu: Option<Duration>,
    pub on_burst: Throughput,
    pub recorder: Burst,
    /// Requests sent to the recording proxy over the whole run, and rows after it exited.
    pub recorded: u64,
    pub rows_at_exit: u64,
    pub jsonl_bytes: u64,
    pub db_bytes: u64,
    pub problems: Vec<String>,
}

// === impl Report ===

impl Report {
    fn measures(&self) -> [Measure; 3] {
        [
            Measure::new("JSON 1 KB (last byte)", "json_ttlb", &self.json, |t| t.ttlb),
            Measure::new("SSE 4 KB first byte", "sse_ttfb", &self.sse, |t| t.ttfb),
            Measure::new("SSE 4 KB last byte", "sse_ttlb", &self.sse, |t| t.ttlb),
        ]
    }

    fn targets(&self) -> Vec<(String, bool)> {
        self.measures()
            .iter()
            .map(|m| {
                (
                    format!("{}: on − off p50 ≤ +{TARGET_ADDED_P50_US} µs", m.name),
                    m.added_p50() <= TARGET_ADDED_P50_US,
                )
            })
            .collect()
    }

    fn proxy_us_per_request(cpu: Option<Duration>, requests: u64) -> Option<f64> {
        cpu.filter(|_| requests > 0)
            .map(|c| c.as_secs_f64() * 1e6 / requests as f64)
    }
}

impl Outcome for Report {
    fn problems(&self) -> &[String] {
        &self.problems
    }

    fn print(&self) {
        println!();
        println!(
            "LunaRoute recording bench ({} run, {} CPUs): recording on (+ PII) vs off vs direct, same run, interleaved",
            self.mode, self.cpus
        );
        println!(
            "requests: Claude-Code-like, {:.1}–{:.1} KB bodies (growing history, session header); answers: JSON {} B, SSE {} B; latency at {:.0} req/s, one keep-alive connection per side",
            self.body_bytes.0 as f64 / 1e3,
            self.body_bytes.1 as f64 / 1e3,
            self.json_bytes,
            self.sse_bytes,
            self.rate_per_sec
        );
        println!();
        println!(
            "{:<22} {:>4} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}",
            "measure",
            "",
            "direct",
            "rec. off",
            "rec. on",
            "rec.+PII",
            "on − off",
            "PII − on",
            "off − direct"
        );
        for m in self.measures() {
            let [d, off, on, pii] = &m.dists;
            for (label, pick) in [
                ("p50", (|d: &Dist| d.p50) as fn(&Dist) -> f64),
                ("p99", |d: &Dist| d.p99),
            ] {
                let shown = if label == "p50" { m.name } else { "" };
                println!(
                    "{shown:<22} {label:>4} {:>9.1} µs {:>9.1} µs {:>9.1} µs {:>9.1} µs {:>+9.1} µs {:>+9.1} µs {:>+9.1} µs",
                    pick(d),
                    pick(off),
                    pick(on),
                    pick(pii),
                    pick(on) - pick(off),
                    pick(pii) - pick(on),
                    pick(off) - pick(d)
                );
            }
        }

        let r = &self.recorder;
        let avg_kb = r.request_bytes as f64 / r.requests.max(1) as f64 / 1e3;
        println!();
        println!(
            "recorder throughput: {} streamed requests ({avg_kb:.1} KB average body) on {} connections, as fast as they go",
            r.requests, self.burst_conns
        );
        println!(
            "  answered in {:.2} s: {:.0} req/s recording on, {:.0} req/s recording off (same burst, just before)",
            r.sent.as_secs_f64(),
            self.on_burst.per_sec(),
            self.off_burst.per_sec()
        );
        match (r.persisted, r.persisted_per_sec(), r.body_mb_per_sec(), r.drain()) {
            (Some(p), Some(rate), Some(mb), Some(drain)) => println!(
                "  persisted: all {} rows in SQLite {:.2} s after the first request: {rate:.0} req/s, {mb:.1} MB/s of bodies; last row {:.0} ms after the last answer ({} rows were in when it came)",
                r.requests,
                p.as_secs_f64(),
                drain.as_secs_f64() * 1e3,
                r.rows_when_sent
            ),
            _ => println!("  persisted: NOT all rows appeared (see problems)"),
        }
        if let Some(us) = r.writer_us_per_request() {
            println!(
                "  writer thread CPU: {us:.0} µs per request (JSONL + SQLite), i.e. about {:.0} req/s on one free core",
                1e6 / us
            );
        }
        let on = Self::proxy_us_per_request(r.proxy_cpu, r.requests);
        let off = Self::proxy_us_per_request(self.off_cpu, r.requests);
        if let (Some(on), Some(off)) = (on, off) {
            println!(
                "  proxy CPU per request: {on:.0} µs recording on, {off:.0} µs off (recording adds {:.0} µs; 10 ms tick resolution)",
                on - off
            );
        }
        let per = |bytes: u64| bytes as f64 / self.recorded.max(1) as f64 / 1e3;
        println!(
            "  on disk after {} recorded requests: JSONL {:.1} MB ({:.1} KB per request, prefix sharing), SQLite {:.1} MB ({:.1} KB per request)",
            self.recorded,
            self.jsonl_bytes as f64 / 1e6,
            per(self.jsonl_bytes),
            self.db_bytes as f64 / 1e6,
            per(self.db_bytes)
        );
        println!(
            "  rows after SIGTERM: {} of {}",
            self.rows_at_exit, self.recorded
        );
        println!();
        if self.mode == "smoke" {
            println!(
                "smoke run: this only checks that the setup works; run `cargo bench --bench recording` for figures"
            );
        } else {
            for (target, met) in self.targets() {
                println!(
                    "target: {target:<48} {}",
                    if met { "met" } else { "MISSED" }
                );
            }
        }
        if self.problems.is_empty() {
            println!("recording: no failed requests, every request has its row, no gap markers, clean exits");
        }
        for problem in &self.problems {
            println!("PROBLEM: {problem}");
        }
    }

    fn to_json(&self) -> Value {
        let r = &self.recorder;
        let ms = |d: Option<Duration>| d.map(|d| round(d.as_secs_f64() * 1e3));
        let latency: serde_json::Map<String, Value> = self
            .measures()
            .iter()
            .map(|m| (m.key.to_string(), m.to_json()))
            .collect();
        let targets: Vec<Value> = self
            .targets()
            .into_iter()
            .map(|(name, met)| json!({"target": name, "met": met}))
            .collect();
        json!({
            "mode": self.mode,
            "cpus": self.cpus,
            "unix_time": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
            "sides": SIDES,
            "workload": {
                "request_body_bytes_min": self.body_bytes.0,
                "request_body_bytes_max": self.body_bytes.1,
                "json_answer_bytes": self.json_bytes,
                "sse_answer_bytes": self.sse_bytes,
            },
            "latency_rate_per_sec": self.rate_per_sec,
            "latency": latency,
            "recorder_throughput": {
                "requests": r.requests,
                "connections": self.burst_conns,
                "request_bytes": r.request_bytes,
                "response_bytes": r.response_bytes,
                "answered_ms": ms(Some(r.sent)),
                "answered_req_per_sec_on": round(self.on_burst.per_sec()),
                "answered_req_per_sec_off": round(self.off_burst.per_sec()),
                "persisted_ms": ms(r.persisted),
                "persisted_req_per_sec": r.persisted_per_sec().map(round),
                "persisted_body_mb_per_sec": r.body_mb_per_sec().map(round),
                "drain_after_last_answer_ms": ms(r.drain()),
                "rows_when_last_answered": r.rows_when_sent,
                "writer_cpu_us_per_request": r.writer_us_per_request().map(round),
                "proxy_cpu_us_per_request_on": Self::proxy_us_per_request(r.proxy_cpu, r.requests).map(round),
                "proxy_cpu_us_per_request_off": Self::proxy_us_per_request(self.off_cpu, r.requests).map(round),
            },
            "disk": {
                "recorded_requests": self.recorded,
                "jsonl_bytes": self.jsonl_bytes,
                "sqlite_bytes": self.db_bytes,
            },
            "rows_after_sigterm": self.rows_at_exit,
            "targets": targets,
            "problems": self.problems,
        })
    }
}

/// Two decimals are plenty for microseconds and rates.
fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
