//! Prometheus metrics, in every build (slim included): the metric names (the only place they are
//! spelled), `install()` once per process with `describe()`, small `record_*` helpers the phases
//! call, and `render()` for `GET /metrics`.
//!
//! Label sets stay bounded: no session or request ids anywhere; `model` keeps the first
//! [`MODEL_CAP`] distinct names and folds the rest into `other`; `tool` does the same with
//! [`TOOL_CAP`]. The recorder is the exporter's own (`PrometheusHandle`), without its HTTP listener:
//! the proxy's router serves the text.

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub(crate) const REQUESTS: &str = "lunaroute_requests_total";
pub(crate) const REQUEST_DURATION: &str = "lunaroute_request_duration_seconds";
pub(crate) const UPSTREAM_DURATION: &str = "lunaroute_upstream_duration_seconds";
pub(crate) const PROXY_OVERHEAD: &str = "lunaroute_proxy_overhead_seconds";
pub(crate) const TTFT: &str = "lunaroute_time_to_first_token_seconds";
pub(crate) const CHUNK_INTERVAL: &str = "lunaroute_stream_chunk_interval_seconds";
pub(crate) const TOKENS: &str = "lunaroute_tokens_total";
pub(crate) const COST: &str = "lunaroute_cost_usd_total";
pub(crate) const TOOL_CALLS: &str = "lunaroute_tool_calls_total";
pub(crate) const TOOL_DURATION: &str = "lunaroute_tool_duration_seconds";
pub(crate) const UPSTREAM_ERRORS: &str = "lunaroute_upstream_errors_total";
pub(crate) const IN_FLIGHT: &str = "lunaroute_in_flight_requests";
pub(crate) const OPEN_WEBSOCKETS: &str = "lunaroute_open_websockets";
pub(crate) const RECORDER_QUEUE_BYTES: &str = "lunaroute_recorder_queue_bytes";
pub(crate) const RECORDER_LOST: &str = "lunaroute_recorder_lost_total";
pub(crate) const CONNECTIONS_CREATED: &str = "lunaroute_upstream_connections_created_total";
pub(crate) const CONNECTIONS_REUSED: &str = "lunaroute_upstream_connections_reused_total";
pub(crate) const PII_REDACTIONS: &str = "lunaroute_pii_redactions_total";
pub(crate) const BUILD_INFO: &str = "lunaroute_build_info";
pub(crate) const BREAKER_STATE: &str = "lunaroute_circuit_breaker_state";
pub(crate) const BREAKER_TRANSITIONS: &str = "lunaroute_circuit_breaker_transitions_total";

/// Distinct models (and tools) kept as label values; later ones are counted as `other`.
pub(crate) const MODEL_CAP: usize = 50;
pub(crate) const TOOL_CAP: usize = 100;

/// Latencies from 5 ms to 10 min: enough resolution for P50/P95/P99 of both quick calls and long
/// streamed turns.
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0,
    600.0,
];
/// The proxy's own time and gaps between chunks: microseconds to seconds.
const FINE_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0,
];
/// A client running a tool: a second to an hour (a human approving it is part of the wait).
const TOOL_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the global recorder once per process (tests start many proxies in one process) and
/// describes every metric; later calls return the same handle.
pub(crate) fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = [
            (REQUEST_DURATION, LATENCY_BUCKETS),
            (UPSTREAM_DURATION, LATENCY_BUCKETS),
            (TTFT, LATENCY_BUCKETS),
            (PROXY_OVERHEAD, FINE_BUCKETS),
            (CHUNK_INTERVAL, FINE_BUCKETS),
            (TOOL_DURATION, TOOL_BUCKETS),
        ]
        .into_iter()
        .fold(PrometheusBuilder::new(), |b, (name, buckets)| {
            b.set_buckets_for_metric(Matcher::Full(name.into()), buckets)
                .expect("bucket lists are not empty")
        });
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            // Only possible if something else in the process installed one first.
            tracing::warn!("a metrics recorder was already installed: /metrics will be empty");
        }
        describe();
        // Histograms are folded into their buckets on render; upkeep does it between scrapes too,
        // so memory stays flat when nobody scrapes. Observations wait in a buffer until then, so
        // the interval bounds that buffer (at 50k req/s a 5 s interval held ~15 MB; 1 s holds a fifth).
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new()
            .name("lunaroute-metrics".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_secs(1));
                upkeep.run_upkeep();
            });
        // Exported from the first scrape, at 0 until fed (in a slim build the recording ones stay 0).
        for kind in ["input", "output", "cache_read", "cache_creation", "thinking"] {
            counter!(TOKENS, "type" => kind).absolute(0);
        }
        for name in [RECORDER_LOST, CONNECTIONS_CREATED, CONNECTIONS_REUSED] {
            counter!(name).absolute(0);
        }
        for name in [COST, IN_FLIGHT, OPEN_WEBSOCKETS, RECORDER_QUEUE_BYTES] {
            gauge!(name).set(0.0);
        }
        gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"), "features" => crate::features::compiled().join(",")).set(1.0);
        handle
    })
}

fn describe() {
    describe_counter!(
        REQUESTS,
        "Proxied requests by provider, model, client and status class"
    );
    describe_histogram!(
        REQUEST_DURATION,
        metrics::Unit::Seconds,
        "Request start to end of response body"
    );
    describe_histogram!(
        UPSTREAM_DURATION,
        metrics::Unit::Seconds,
        "Sending upstream to the provider's response headers"
    );
    describe_histogram!(
        PROXY_OVERHEAD,
        metrics::Unit::Seconds,
        "Time spent in the proxy itself"
    );
    describe_histogram!(
        TTFT,
        metrics::Unit::Seconds,
        "Request start to the first content token (recording builds)"
    );
    describe_histogram!(
        CHUNK_INTERVAL,
        metrics::Unit::Seconds,
        "Gap between response body chunks of a stream"
    );
    describe_counter!(
        TOKENS,
        "Tokens by type: input, output, cache_read, cache_creation, thinking (recording builds)"
    );
    describe_counter!(COST, "Estimated cost in USD (recording builds)");
    describe_counter!(
        TOOL_CALLS,
        "Tool calls requested by the model (recording builds)"
    );
    describe_histogram!(
        TOOL_DURATION,
        metrics::Unit::Seconds,
        "How long the client took to run a tool (recording builds)"
    );
    describe_counter!(
        UPSTREAM_ERRORS,
        "Provider failures: unreachable, timeout, stream_failed, stream_timeout"
    );
    describe_gauge!(
        IN_FLIGHT,
        "Requests between their start and their end phase"
    );
    describe_gauge!(OPEN_WEBSOCKETS, "Relayed WebSocket connections open now");
    describe_gauge!(
        RECORDER_QUEUE_BYTES,
        metrics::Unit::Bytes,
        "Bytes waiting for the recording writer"
    );
    describe_counter!(
        RECORDER_LOST,
        "Exchanges the recorder could not queue (written as gap markers)"
    );
    describe_counter!(
        CONNECTIONS_CREATED,
        "Upstream connections opened by the pooled clients"
    );
    describe_counter!(
        CONNECTIONS_REUSED,
        "Upstream requests served on an already open connection"
    );
    describe_counter!(
        PII_REDACTIONS,
        "Values redacted from recordings (and upstream requests) by kind (pii builds)"
    );
    describe_gauge!(
        BREAKER_STATE,
        "Routed provider's circuit breaker: 0 closed, 1 open, 2 half-open"
    );
    describe_counter!(
        BREAKER_TRANSITIONS,
        "Circuit breaker state changes, by provider and the state entered"
    );
    describe_gauge!(
        BUILD_INFO,
        "Always 1; version and compiled features as labels"
    );
}

/// The Prometheus text exposition of everything recorded so far.
pub(crate) fn render() -> String {
    install().render()
}

// === labels ===

/// `name` if it is one of the first `cap` distinct values seen in `seen`, else `other`.
fn capped(seen: &Mutex<HashSet<String>>, cap: usize, name: &str) -> String {
    let Ok(mut seen) = seen.lock() else {
        return "other".into();
    };
    if seen.contains(name) || (seen.len() < cap && seen.insert(name.to_string())) {
        name.to_string()
    } else {
        "other".into()
    }
}

pub(crate) fn model_label(model: Option<&str>) -> String {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    match model {
        Some(m) => capped(SEEN.get_or_init(Default::default), MODEL_CAP, m),
        None => "unknown".into(),
    }
}

fn tool_label(tool: &str) -> String {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    capped(SEEN.get_or_init(Default::default), TOOL_CAP, tool)
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        // The client left before the provider's headers arrived.
        _ => "none",
    }
}

// === record_* ===

/// What the end phase knows about one proxied request.
pub(crate) struct RequestFigures<'a> {
    pub provider: &'static str,
    pub model: Option<&'a str>,
    pub client: &'static str,
    pub status: u16,
    pub total: Duration,
    /// `None` when the provider never answered with headers.
    pub upstream: Option<Duration>,
    pub overhead: Duration,
}

/// The end phase: one call per request, exactly once (also ends its in-flight count).
pub(crate) fn record_request(f: &RequestFigures<'_>) {
    let labels = [
        ("provider", f.provider.to_string()),
        ("model", model_label(f.model)),
        ("client", f.client.to_string()),
        ("status_class", status_class(f.status).to_string()),
    ];
    counter!(REQUESTS, &labels).increment(1);
    histogram!(REQUEST_DURATION, "provider" => f.provider).record(f.total.as_secs_f64());
    if let Some(upstream) = f.upstream {
        histogram!(UPSTREAM_DURATION, "provider" => f.provider).record(upstream.as_secs_f64());
        connection_used();
    }
    histogram!(PROXY_OVERHEAD).record(f.overhead.as_secs_f64());
    gauge!(IN_FLIGHT).decrement(1.0);
}

/// A request context was created (its end phase calls `record_request`).
pub(crate) fn request_started() {
    gauge!(IN_FLIGHT).increment(1.0);
}

/// Called per chunk of every stream: the handle is looked up once, not on each call. (The recorder
/// is installed when the first `AppState` is built, before any request can reach here.)
pub(crate) fn record_chunk_interval(gap: Duration) {
    static CHUNKS: OnceLock<metrics::Histogram> = OnceLock::new();
    CHUNKS
        .get_or_init(|| histogram!(CHUNK_INTERVAL))
        .record(gap.as_secs_f64());
}

/// `kind`: `unreachable`, `timeout` (before headers), `stream_failed`, `stream_timeout` (after).
pub(crate) fn record_upstream_error(provider: &'static str, kind: &'static str) {
    counter!(UPSTREAM_ERRORS, "provider" => provider, "kind" => kind).increment(1);
}

/// A routed provider's breaker state (`routing::Breaker`); `provider` is a configured name.
pub(crate) fn circuit_breaker_state(provider: &'static str, value: f64) {
    gauge!(BREAKER_STATE, "provider" => provider).set(value);
}

/// `to`: `open`, `half_open` or `closed`.
pub(crate) fn circuit_breaker_transition(provider: &'static str, to: &'static str) {
    counter!(BREAKER_TRANSITIONS, "provider" => provider, "to" => to).increment(1);
}

pub(crate) fn websocket_opened() {
    gauge!(OPEN_WEBSOCKETS).increment(1.0);
}

pub(crate) fn websocket_closed() {
    gauge!(OPEN_WEBSOCKETS).decrement(1.0);
}

/// Fed by the recorder and its writer thread, after a `RequestRecord` is built: only a recording
/// build calls these (the slim build still exports the metrics, at 0).
#[allow(dead_code)]
pub(crate) mod recorded {
    use super::*;

    /// Token counts of one recorded exchange, by type (recording builds only).
    pub(crate) fn record_tokens(by_type: [(&'static str, u64); 5]) {
        for (kind, n) in by_type {
            if n > 0 {
                counter!(TOKENS, "type" => kind).increment(n);
            }
        }
    }

    /// Cost is a float; the facade's counters count integers, so the running total is a gauge that
    /// only ever goes up (Prometheus `rate()`/`increase()` work on it the same way).
    pub(crate) fn record_cost(usd: f64) {
        if usd > 0.0 {
            gauge!(COST).increment(usd);
        }
    }

    pub(crate) fn record_ttft(ttft: Duration) {
        histogram!(TTFT).record(ttft.as_secs_f64());
    }

    pub(crate) fn record_tool_call(tool: &str) {
        counter!(TOOL_CALLS, "tool" => tool_label(tool)).increment(1);
    }

    pub(crate) fn record_tool_duration(tool: &str, took: Duration) {
        histogram!(TOOL_DURATION, "tool" => tool_label(tool)).record(took.as_secs_f64());
    }

    pub(crate) fn record_recorder_queue(bytes: usize) {
        gauge!(RECORDER_QUEUE_BYTES).set(bytes as f64);
    }

    pub(crate) fn record_recorder_lost() {
        counter!(RECORDER_LOST).increment(1);
    }

    /// `kind` is bounded by the config: the built-in kinds, the custom pattern names and the
    /// secret kinds (`secret:aws_access_key`, ...).
    pub(crate) fn record_pii_redactions(kind: &str, n: u64) {
        if n > 0 {
            counter!(PII_REDACTIONS, "kind" => kind.to_string()).increment(n);
        }
    }
}

// === connections ===

/// New connections not yet matched with the request that caused them.
static UNCLAIMED_CONNECTIONS: AtomicU64 = AtomicU64::new(0);

/// The pooled client's connector opened a connection (`upstream::CountingConnector`).
pub(crate) fn connection_created() {
    UNCLAIMED_CONNECTIONS.fetch_add(1, Ordering::Relaxed);
    counter!(CONNECTIONS_CREATED).increment(1);
}

/// A request got the provider's headers: it rode a new connection if one is still unclaimed,
/// else a pooled one. Per request this is an attribution, not a trace (two requests racing may
/// swap), but the totals hold: `reused = upstream requests - created`.
fn connection_used() {
    let claimed = UNCLAIMED_CONNECTIONS
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok();
    if !claimed {
        counter!(CONNECTIONS_REUSED).increment(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded() {
        let seen = Mutex::new(HashSet::new());
        for i in 0..3 {
            assert_eq!(capped(&seen, 3, &format!("m{i}")), format!("m{i}"));
        }
        assert_eq!(capped(&seen, 3, "m9"), "other");
        assert_eq!(capped(&seen, 3, "m1"), "m1");
        assert_eq!(status_class(0), "none");
        assert_eq!(status_class(502), "5xx");
    }
}
