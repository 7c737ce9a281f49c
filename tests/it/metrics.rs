//! `GET /metrics` in every build. The in-process test checks the route itself; the value checks run
//! the real binary as a subprocess, so its counters start at zero and no other test's traffic (this
//! binary runs them all in one process, against one global recorder) can shift a figure.

use crate::support::process::{server, start, TempHome};
use crate::support::*;
use std::net::SocketAddr;
use std::time::Duration;

/// The value of the sample `name{labels...}` (every given label must match), if exported.
pub fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let rest = line.strip_prefix(name)?;
            let (label_part, number) = match rest.strip_prefix('{') {
                Some(rest) => rest.split_once("} ")?,
                None => ("", rest.strip_prefix(' ')?),
            };
            // Values may hold commas (`features="recording,pii"`): match whole `,k="v",` pieces.
            let padded = format!(",{label_part},");
            labels
                .iter()
                .all(|(k, v)| padded.contains(&format!(",{k}=\"{v}\",")))
                .then(|| number.trim().parse().ok())?
        })
}

pub async fn scrape(addr: SocketAddr) -> String {
    let (head, body) = fetch(addr, get("/metrics", &[])).await;
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-type"],
        "text/plain; version=0.0.4",
        "Prometheus text format"
    );
    String::from_utf8(body.to_vec()).unwrap()
}

/// A port nothing listens on: a request there fails to connect (502).
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/v1")
}

#[tokio::test]
async fn route_serves_prometheus_text_in_every_build() {
    let mock = MockUpstream::new().start().await;
    let proxy = spawn_proxy(config_for(&mock, &mock)).await;
    let text = scrape(proxy.addr).await;
    let features = lunaroute::features::compiled().join(",");
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        value(
            &text,
            "lunaroute_build_info",
            &[("version", version), ("features", &features)]
        ),
        Some(1.0),
        "{text}"
    );
    // Exported from the start, at 0 until fed (the recording ones stay 0 in a slim build).
    for kind in [
        "input",
        "output",
        "cache_read",
        "cache_creation",
        "thinking",
    ] {
        assert!(
            value(&text, "lunaroute_tokens_total", &[("type", kind)]).is_some(),
            "{kind}: {text}"
        );
    }
    for name in [
        "lunaroute_in_flight_requests",
        "lunaroute_open_websockets",
        "lunaroute_recorder_queue_bytes",
        "lunaroute_recorder_lost_total",
        "lunaroute_cost_usd_total",
        "lunaroute_upstream_connections_created_total",
        "lunaroute_upstream_connections_reused_total",
    ] {
        assert!(value(&text, name, &[]).is_some(), "{name}: {text}");
    }
    // HEAD: the same head, no body.
    let (head, body) = fetch(
        proxy.addr,
        http::Request::head("/metrics")
            .header("host", "localhost")
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap(),
    )
    .await;
    assert_eq!(head.status(), 200);
    assert!(body.is_empty());
}

/// Known traffic through the real binary: two streamed Anthropic requests (on pooled connections),
/// one OpenAI request to a closed port (502); then every request-level figure, exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_after_known_traffic() {
    let sse = fixture("anthropic/messages_text.sse");
    let pieces = split_at(&sse, &[400, 800, 1200]);
    let mock = MockUpstream::new()
        .route(
            "/v1/messages",
            Reply::sse(sse.clone()).body(Body::Chunks(pieces, Duration::from_millis(20))),
        )
        .start()
        .await;
    let home = TempHome::new();
    let mut cmd = server(&home);
    cmd.args(["--port", "0"])
        .env("LUNAROUTE_ENABLE_SESSION_RECORDING", "false")
        .env("LUNAROUTE_ANTHROPIC_BASE_URL", mock.url())
        .env("LUNAROUTE_OPENAI_BASE_URL", closed_port_url());
    let (_guard, addr, _seen, _lines) = start(&mut cmd);
    let addr: SocketAddr = addr.parse().unwrap();

    let body = r#"{"model":"claude-sonnet-4-6","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let headers = [
        ("x-api-key", "sk-test"),
        ("anthropic-version", "2023-06-01"),
        ("user-agent", "claude-cli/2.1.0 (external, cli)"),
    ];
    for _ in 0..2 {
        let (head, got) = fetch(addr, post_json("/v1/messages", body, &headers)).await;
        assert_eq!(head.status(), 200);
        assert_eq!(got, sse);
    }
    let openai = r#"{"model":"gpt-5-mini","messages":[{"role":"user","content":"hi"}]}"#;
    let (head, _) = fetch(
        addr,
        post_json(
            "/v1/chat/completions",
            openai,
            &[("authorization", "Bearer sk-test")],
        ),
    )
    .await;
    assert_eq!(head.status(), 502);

    let text = scrape(addr).await;
    let v = |name: &str, labels: &[(&str, &str)]| value(&text, name, labels);
    let ok = [
        ("provider", "anthropic"),
        ("model", "claude-sonnet-4-6"),
        ("client", "claude-code"),
        ("status_class", "2xx"),
    ];
    assert_eq!(v("lunaroute_requests_total", &ok), Some(2.0), "{text}");
    // The model is read from the body as it streams upstream; a connection that never opened
    // read none of it.
    let failed = [
        ("provider", "openai"),
        ("model", "unknown"),
        ("client", "other"),
        ("status_class", "5xx"),
    ];
    assert_eq!(v("lunaroute_requests_total", &failed), Some(1.0), "{text}");
    assert_eq!(
        v(
            "lunaroute_upstream_errors_total",
            &[("provider", "openai"), ("kind", "unreachable")]
        ),
        Some(1.0)
    );
    assert_eq!(v("lunaroute_in_flight_requests", &[]), Some(0.0));
    let anthropic = [("provider", "anthropic")];
    assert_eq!(
        v("lunaroute_request_duration_seconds_count", &anthropic),
        Some(2.0)
    );
    // Three 20 ms gaps per stream: the sum is at least 2 × 3 × 20 ms.
    let sum = v("lunaroute_request_duration_seconds_sum", &anthropic).unwrap();
    assert!((0.12..30.0).contains(&sum), "{sum}");
    assert_eq!(
        v("lunaroute_upstream_duration_seconds_count", &anthropic),
        Some(2.0)
    );
    // The 502 never got headers: no upstream latency for it.
    assert_eq!(
        v(
            "lunaroute_upstream_duration_seconds_count",
            &[("provider", "openai")]
        ),
        None
    );
    assert_eq!(v("lunaroute_proxy_overhead_seconds_count", &[]), Some(3.0));
    assert_eq!(
        v("lunaroute_stream_chunk_interval_seconds_count", &[]),
        Some(6.0)
    );
    let gaps = v("lunaroute_stream_chunk_interval_seconds_sum", &[]).unwrap();
    assert!(gaps >= 0.11, "{gaps}");
    // Two requests got headers: each rode a new connection or a pooled one. Usually the second
    // reuses the first, but the pool may not have it back yet when the second one starts.
    let created = v("lunaroute_upstream_connections_created_total", &[]).unwrap();
    let reused = v("lunaroute_upstream_connections_reused_total", &[]).unwrap();
    assert!(created >= 1.0, "{created}");
    assert_eq!(created + reused, 2.0);
    assert_eq!(v("lunaroute_open_websockets", &[]), Some(0.0));
    // A P99 needs buckets: the histogram has them, up to +Inf.
    assert!(
        text.contains(
            "lunaroute_request_duration_seconds_bucket{provider=\"anthropic\",le=\"+Inf\"} 2"
        ),
        "{text}"
    );
}

/// The README's metric table names exactly the metrics `src/metrics.rs` defines, and its scrape
/// config points at the default address.
#[test]
fn readme_lists_every_metric() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let section = readme
        .split("\n## Metrics\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a Metrics section");
    let names = |text: &str, open: &str, close: char| {
        let mut found: Vec<String> = text
            .split(open)
            .skip(1)
            .filter_map(|s| s.split(close).next())
            .filter(|s| s.starts_with("lunaroute_") && !s.contains(['{', '(', ' ']))
            .map(str::to_string)
            .collect();
        found.sort();
        found.dedup();
        found
    };
    let table: String = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| l.split('|').nth(1).unwrap_or(""))
        .collect();
    let source = std::fs::read_to_string(format!("{root}/src/metrics.rs")).unwrap();
    let listed = names(&table, "`", '`');
    assert_eq!(listed.len(), 21, "{listed:?}");
    assert_eq!(listed, names(&source, "\"", '"'));
    assert!(section.contains("metrics_path: /metrics"));
    let config = lunaroute::config::Config::default();
    assert!(section.contains(&format!("targets: [\"{}:{}\"]", config.host, config.port)));
}
