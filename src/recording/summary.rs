//! The shutdown summary: per session seen in this run, and in total, what it cost and where the
//! time went. Printed at the default log level when the recorder stops.

use super::record::RequestRecord;
use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Default)]
struct Stats {
    requests: u64,
    input: u64,
    output: u64,
    thinking: u64,
    cache_read: u64,
    cache_creation: u64,
    total: u64,
    response_ms: f64,
    /// Requests whose provider latency and proxy overhead were measured (HTTP ones: a WebSocket
    /// turn has neither), and their figures.
    measured: u64,
    measured_response_ms: f64,
    overhead_us: u64,
    upstream_ms: f64,
    cost: Option<f64>,
    /// name → (calls, execution times in ms)
    tools: BTreeMap<String, (u64, Vec<f64>)>,
}

impl Stats {
    fn add(&mut self, r: &RequestRecord) {
        let u = &r.response.usage;
        self.requests += 1;
        self.input += u.input;
        self.output += u.output;
        self.thinking += u.thinking;
        self.cache_read += u.cache_read;
        self.cache_creation += u.cache_creation;
        self.total += u.total;
        self.response_ms += r.timings.total_ms;
        if r.transport == "http" {
            self.measured += 1;
            self.measured_response_ms += r.timings.total_ms;
            self.overhead_us += r.timings.overhead_us;
            self.upstream_ms += r.timings.upstream_ms;
        }
        if let Some(cost) = r.cost_usd {
            *self.cost.get_or_insert(0.0) += cost;
        }
        for call in &r.response.tool_calls {
            self.tools.entry(call.name.clone()).or_default().0 += 1;
        }
        for done in &r.tool_executions {
            self.tools
                .entry(done.name.clone())
                .or_default()
                .1
                .push(done.duration_ms);
        }
    }

    fn render(&self, out: &mut String) {
        let n = self.requests.max(1) as f64;
        let _ = writeln!(out, "    requests: {}", self.requests);
        let _ = writeln!(
            out,
            "    tokens: input {} · output {} · thinking {} · cache read {} · cache write {} · total {}",
            self.input, self.output, self.thinking, self.cache_read, self.cache_creation, self.total
        );
        if !self.tools.is_empty() {
            let tools: Vec<String> = self
                .tools
                .iter()
                .map(|(name, (calls, times))| match times.len() {
                    0 => format!("{name} ×{calls}"),
                    n => format!(
                        "{name} ×{calls} (avg {:.0} ms, p95 {:.0} ms)",
                        times.iter().sum::<f64>() / n as f64,
                        p95(times)
                    ),
                })
                .collect();
            let _ = writeln!(out, "    tools: {}", tools.join(", "));
        }
        let latency = if self.measured == 0 {
            "provider latency avg n/a · proxy overhead n/a (not measured on WebSocket)".to_string()
        } else {
            let overhead_ms = self.overhead_us as f64 / 1000.0;
            let share = if self.measured_response_ms > 0.0 {
                overhead_ms / self.measured_response_ms * 100.0
            } else {
                0.0
            };
            format!(
                "provider latency avg {:.0} ms · proxy overhead {:.2} ms total ({:.3}% of response time)",
                self.upstream_ms / self.measured as f64,
                overhead_ms,
                share
            )
        };
        let _ = writeln!(
            out,
            "    avg response {:.0} ms · {latency}",
            self.response_ms / n
        );
        let cost = self
            .cost
            .map(|c| format!("${c:.4}"))
            .unwrap_or_else(|| "unknown (model not in the pricing table)".into());
        let _ = writeln!(out, "    estimated cost: {cost}");
    }
}

/// Sessions printed in full; past this many, the ones with the fewest tokens share one line.
const SESSIONS_IN_FULL: usize = 10;

/// Nearest-rank 95th percentile.
fn p95(times: &[f64]) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((sorted.len() as f64) * 0.95).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[derive(Default)]
pub(crate) struct Summary {
    sessions: BTreeMap<String, (String, Stats)>,
    total: Stats,
}

impl Summary {
    pub fn add(&mut self, record: &RequestRecord) {
        let client = serde_json::to_value(record.client)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let (_, stats) = self
            .sessions
            .entry(record.session_id.clone())
            .or_insert_with(|| (client, Stats::default()));
        stats.add(record);
        self.total.add(record);
    }

    pub fn render(&self) -> Option<String> {
        if self.total.requests == 0 {
            return None;
        }
        let mut out = String::from("session summary for this run\n");
        let mut sessions: Vec<_> = self.sessions.iter().collect();
        if sessions.len() > SESSIONS_IN_FULL {
            // Most tokens first (ties by id); the rest fold into one line.
            sessions.sort_by(|(a_id, (_, a)), (b_id, (_, b))| {
                b.total.cmp(&a.total).then_with(|| a_id.cmp(b_id))
            });
        }
        let folded = sessions.split_off(sessions.len().min(SESSIONS_IN_FULL));
        for (id, (client, stats)) in sessions {
            let _ = writeln!(out, "  session {id} ({client})");
            stats.render(&mut out);
        }
        if !folded.is_empty() {
            let stats = || folded.iter().map(|(_, (_, stats))| stats);
            let requests: u64 = stats().map(|s| s.requests).sum();
            let tokens: u64 = stats().map(|s| s.total).sum();
            let cost = stats()
                .filter_map(|s| s.cost)
                .reduce(|a, b| a + b)
                .map(|c| format!("${c:.4}"))
                .unwrap_or_else(|| "cost unknown".into());
            let _ = writeln!(
                out,
                "  … and {} more sessions: {requests} requests, {tokens} tokens, {cost}",
                folded.len()
            );
        }
        let _ = writeln!(out, "  all {} sessions", self.sessions.len());
        self.total.render(&mut out);
        Some(out)
    }

    pub fn print(&self) {
        if let Some(text) = self.render() {
            tracing::info!("{text}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{p95, Summary};
    use crate::recording::jsonl::tests::record;
    use crate::recording::record::RequestRecord;

    fn websocket(mut r: RequestRecord) -> RequestRecord {
        r.transport = "websocket";
        r.timings.upstream_ms = 0.0;
        r.timings.overhead_us = 0;
        r
    }

    #[test]
    fn latency_is_averaged_over_the_requests_that_measured_it() {
        let mut ws_only = Summary::default();
        ws_only.add(&websocket(record("ws", "r1", 0, b"{}")));
        let text = ws_only.render().unwrap();
        assert!(text.contains("provider latency avg n/a"), "{text}");
        assert!(!text.contains("0.00 ms"), "{text}");

        // One HTTP request (180 ms) and one WebSocket turn: the average is 180 ms, not 90.
        let mut mixed = Summary::default();
        mixed.add(&record("s", "r1", 0, b"{}"));
        mixed.add(&websocket(record("s", "r2", 0, b"{}")));
        let text = mixed.render().unwrap();
        assert!(text.contains("provider latency avg 180 ms"), "{text}");
        assert!(
            text.contains("proxy overhead 0.09 ms total (0.006%"),
            "{text}"
        );
    }

    #[test]
    fn past_ten_sessions_the_smallest_fold_into_one_line() {
        let mut summary = Summary::default();
        // Session i has 100 + i tokens (the body length sets the extra) and costs $0.0123.
        for i in 0..13usize {
            summary.add(&record(&format!("s{i:02}"), "r", 0, &vec![b'x'; i % 7]));
        }
        let text = summary.render().unwrap();
        assert_eq!(text.matches("  session ").count(), 10, "{text}");
        // The three with the fewest tokens (s00 and s07 at 100, then s08 at 101: ties go by id).
        for folded in ["s00", "s07", "s08"] {
            assert!(!text.contains(&format!("session {folded} ")), "{text}");
        }
        assert!(
            text.contains("  … and 3 more sessions: 3 requests, 301 tokens, $0.0369\n"),
            "{text}"
        );
        assert!(text.contains("  all 13 sessions"), "{text}");

        // Ten or fewer: all in full, no fold line.
        let mut small = Summary::default();
        for i in 0..10 {
            small.add(&record(&format!("s{i}"), "r", 0, b""));
        }
        let text = small.render().unwrap();
        assert_eq!(text.matches("  session ").count(), 10);
        assert!(!text.contains("more sessions"), "{text}");
    }

    #[test]
    fn p95_is_nearest_rank() {
        assert_eq!(p95(&[5.0]), 5.0);
        let times: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(p95(&times), 95.0);
        assert_eq!(p95(&[3.0, 1.0, 2.0]), 3.0);
    }
}
