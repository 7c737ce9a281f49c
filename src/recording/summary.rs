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
        self.overhead_us += r.timings.overhead_us;
        self.upstream_ms += r.timings.upstream_ms;
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
        let overhead_ms = self.overhead_us as f64 / 1000.0;
        let share = if self.response_ms > 0.0 {
            overhead_ms / self.response_ms * 100.0
        } else {
            0.0
        };
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
        let _ = writeln!(
            out,
            "    avg response {:.0} ms · provider latency avg {:.0} ms · proxy overhead {:.2} ms total ({:.3}% of response time)",
            self.response_ms / n,
            self.upstream_ms / n,
            overhead_ms,
            share
        );
        let cost = self
            .cost
            .map(|c| format!("${c:.4}"))
            .unwrap_or_else(|| "unknown (model not in the pricing table)".into());
        let _ = writeln!(out, "    estimated cost: {cost}");
    }
}

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
        for (id, (client, stats)) in &self.sessions {
            let _ = writeln!(out, "  session {id} ({client})");
            stats.render(&mut out);
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
    use super::p95;

    #[test]
    fn p95_is_nearest_rank() {
        assert_eq!(p95(&[5.0]), 5.0);
        let times: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(p95(&times), 95.0);
        assert_eq!(p95(&[3.0, 1.0, 2.0]), 3.0);
    }
}
