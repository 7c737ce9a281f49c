//! Turning samples into figures: percentiles, proxied-vs-direct comparisons (added latency and
//! ratio, both from the same run), the targets, the stdout table and the JSON file.

use super::client::{Throughput, Timing};
use super::proxy_process::Mem;
use super::runner::Outcome;
use serde_json::{json, Value};
use std::time::Duration;

/// Added-latency targets from the issue, in microseconds, and the idle RSS target in bytes.
const TARGET_JSON_P50_US: f64 = 100.0;
const TARGET_JSON_P99_US: f64 = 300.0;
const TARGET_SSE_TTFB_US: f64 = 100.0;
const TARGET_IDLE_RSS_BYTES: f64 = 10_000_000.0;

/// A latency distribution, in microseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Dist {
    pub n: usize,
    pub p50: f64,
    pub p99: f64,
    pub mean: f64,
    pub max: f64,
}

// === impl Dist ===

impl Dist {
    pub fn of(samples: impl Iterator<Item = Duration>) -> Self {
        let mut us: Vec<f64> = samples.map(|d| d.as_secs_f64() * 1e6).collect();
        if us.is_empty() {
            return Self::default();
        }
        us.sort_by(f64::total_cmp);
        // Nearest-rank percentile: the smallest sample with at least p% of samples at or below it.
        let rank =
            |p: f64| us[((p / 100.0 * us.len() as f64).ceil() as usize).clamp(1, us.len()) - 1];
        Self {
            n: us.len(),
            p50: rank(50.0),
            p99: rank(99.0),
            mean: us.iter().sum::<f64>() / us.len() as f64,
            max: us[us.len() - 1],
        }
    }

    pub fn to_json(self) -> Value {
        json!({"n": self.n, "p50_us": round(self.p50), "p99_us": round(self.p99), "mean_us": round(self.mean), "max_us": round(self.max)})
    }
}

/// One measure taken directly and through the proxy in the same run.
pub struct Compare {
    pub direct: Dist,
    pub proxied: Dist,
}

// === impl Compare ===

impl Compare {
    pub fn new(direct: &[Timing], proxied: &[Timing], pick: fn(&Timing) -> Duration) -> Self {
        Self {
            direct: Dist::of(direct.iter().map(pick)),
            proxied: Dist::of(proxied.iter().map(pick)),
        }
    }

    pub fn added_p50(&self) -> f64 {
        self.proxied.p50 - self.direct.p50
    }

    pub fn added_p99(&self) -> f64 {
        self.proxied.p99 - self.direct.p99
    }

    fn to_json(&self) -> Value {
        json!({
            "direct": self.direct.to_json(),
            "proxied": self.proxied.to_json(),
            "added_p50_us": round(self.added_p50()),
            "added_p99_us": round(self.added_p99()),
            "ratio_p50": ratio(self.proxied.p50, self.direct.p50),
            "ratio_p99": ratio(self.proxied.p99, self.direct.p99),
        })
    }
}

/// Everything one run measured.
pub struct Report {
    pub mode: &'static str,
    pub cpus: usize,
    pub json_bytes: usize,
    pub sse_bytes: usize,
    pub sse_events: usize,
    pub rate_per_sec: f64,
    pub json: Compare,
    pub sse_ttfb: Compare,
    pub sse_ttlb: Compare,
    pub conns: usize,
    pub direct_tput: Throughput,
    pub proxied_tput: Throughput,
    pub rss_idle: Option<Mem>,
    pub rss_peak_load_kib: u64,
    pub rss_after: Option<Mem>,
    /// Connections and requests the upstream received through the proxy, over the whole run.
    pub upstream_conns_via_proxy: u64,
    pub upstream_requests_via_proxy: u64,
    /// Proxy CPU time per proxied request in the throughput rounds, in microseconds.
    pub cpu_per_request_us: Option<f64>,
    /// Things the proxy did wrong (failed requests, differing bodies, an unclean exit...).
    pub problems: Vec<String>,
}

// === impl Report ===

impl Report {
    fn targets(&self) -> Vec<(String, Option<bool>)> {
        let idle = self.rss_idle.map(|m| kib_to_bytes(m.rss_kib));
        vec![
            (
                format!("JSON added latency p50 < {TARGET_JSON_P50_US} µs"),
                Some(self.json.added_p50() < TARGET_JSON_P50_US),
            ),
            (
                format!("JSON added latency p99 < {TARGET_JSON_P99_US} µs"),
                Some(self.json.added_p99() < TARGET_JSON_P99_US),
            ),
            (
                format!("SSE TTFB p50 within {TARGET_SSE_TTFB_US} µs of direct"),
                Some(self.sse_ttfb.added_p50() < TARGET_SSE_TTFB_US),
            ),
            (
                format!("idle RSS < {} MB", TARGET_IDLE_RSS_BYTES / 1e6),
                idle.map(|b| b < TARGET_IDLE_RSS_BYTES),
            ),
        ]
    }
}

impl Outcome for Report {
    fn problems(&self) -> &[String] {
        &self.problems
    }

    fn print(&self) {
        println!();
        println!(
            "LunaRoute proxy bench ({} run, {} CPUs): proxied vs direct, same run, interleaved",
            self.mode, self.cpus
        );
        println!(
            "payloads: JSON {} B; SSE {} B in {} events (one chunk each); latency at {:.0} req/s on one keep-alive connection",
            self.json_bytes, self.sse_bytes, self.sse_events, self.rate_per_sec
        );
        println!();
        println!(
            "{:<24} {:>4} {:>12} {:>12} {:>12} {:>8}",
            "measure", "", "direct", "proxied", "added", "ratio"
        );
        for (name, c) in [
            ("JSON 1 KB (to last byte)", &self.json),
            ("SSE 4 KB first byte", &self.sse_ttfb),
            ("SSE 4 KB last byte", &self.sse_ttlb),
        ] {
            for (label, d, p) in [
                ("p50", c.direct.p50, c.proxied.p50),
                ("p99", c.direct.p99, c.proxied.p99),
            ] {
                let shown = if label == "p50" { name } else { "" };
                println!(
                    "{shown:<24} {label:>4} {:>9.1} µs {:>9.1} µs {:>+9.1} µs {:>7.2}×",
                    d,
                    p,
                    p - d,
                    ratio(p, d)
                );
            }
        }
        let (d, p) = (self.direct_tput.per_sec(), self.proxied_tput.per_sec());
        println!(
            "{:<24} {:>4} {:>12.0} {:>12.0} {:>12} {:>7.2}×",
            format!("throughput, {} conns", self.conns),
            "req/s",
            d,
            p,
            "",
            ratio(p, d)
        );
        println!();
        let mb = |kib: u64| kib_to_bytes(kib) / 1e6;
        let idle = self
            .rss_idle
            .map(|m| format!("{:.1} MB", mb(m.rss_kib)))
            .unwrap_or_else(|| "n/a".into());
        let after = self
            .rss_after
            .map(|m| format!("{:.1} MB", mb(m.rss_kib)))
            .unwrap_or_else(|| "n/a".into());
        let hwm = self
            .rss_after
            .map(|m| format!("{:.1} MB", mb(m.hwm_kib)))
            .unwrap_or_else(|| "n/a".into());
        println!(
            "proxy RSS: idle {idle}; peak under load {:.1} MB (sampled every 20 ms; VmHWM {hwm}); idle after load {after}",
            mb(self.rss_peak_load_kib)
        );
        if let Some(cpu) = self.cpu_per_request_us {
            println!(
                "proxy CPU: {cpu:.0} µs per proxied request at {} connections (10 ms tick resolution)",
                self.conns
            );
        }
        println!(
            "proxy upstream pool: {} connections carried {} proxied requests",
            self.upstream_conns_via_proxy, self.upstream_requests_via_proxy
        );
        println!();
        if self.mode == "smoke" {
            println!("smoke run: this only checks that the setup works; run `cargo bench --bench proxy` for figures");
        }
        for (target, met) in self.targets().into_iter().filter(|_| self.mode != "smoke") {
            let verdict = match met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "not measured",
            };
            println!("target: {target:<44} {verdict}");
        }
        if self.problems.is_empty() {
            println!("proxy behaviour: no failed requests; proxied status, headers and bodies identical to direct");
        }
        for problem in &self.problems {
            println!("PROBLEM: {problem}");
        }
    }

    fn to_json(&self) -> Value {
        let mem = |m: Option<Mem>| m.map(|m| json!({"rss_kib": m.rss_kib, "hwm_kib": m.hwm_kib}));
        let tput = |t: Throughput| json!({"ok": t.ok, "failed": t.failed, "seconds": round(t.elapsed.as_secs_f64()), "req_per_sec": round(t.per_sec())});
        let targets: Vec<Value> = self
            .targets()
            .into_iter()
            .map(|(name, met)| json!({"target": name, "met": met}))
            .collect();
        json!({
            "mode": self.mode,
            "cpus": self.cpus,
            "unix_time": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
            "payloads": {"json_bytes": self.json_bytes, "sse_bytes": self.sse_bytes, "sse_events": self.sse_events},
            "latency_rate_per_sec": self.rate_per_sec,
            "json_ttlb": self.json.to_json(),
            "sse_ttfb": self.sse_ttfb.to_json(),
            "sse_ttlb": self.sse_ttlb.to_json(),
            "throughput": {
                "connections": self.conns,
                "direct": tput(self.direct_tput),
                "proxied": tput(self.proxied_tput),
                "ratio": ratio(self.proxied_tput.per_sec(), self.direct_tput.per_sec()),
            },
            "proxy_memory": {
                "idle": mem(self.rss_idle),
                "peak_under_load_rss_kib": self.rss_peak_load_kib,
                "after_load": mem(self.rss_after),
            },
            "proxy_cpu_us_per_request": self.cpu_per_request_us.map(round),
            "proxy_upstream": {"connections": self.upstream_conns_via_proxy, "requests": self.upstream_requests_via_proxy},
            "targets": targets,
            "problems": self.problems,
        })
    }
}

fn ratio(proxied: f64, direct: f64) -> f64 {
    if direct > 0.0 {
        round(proxied / direct)
    } else {
        0.0
    }
}

/// Two decimals are plenty for microseconds and ratios.
fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// `/proc` says "kB" but means KiB.
fn kib_to_bytes(kib: u64) -> f64 {
    kib as f64 * 1024.0
}
