//! The figures only a recording build has: tokens by type, cost, time to first token, tool calls
//! and the tool's execution time, fed by the recorder's writer. The real binary runs as a
//! subprocess (its counters start at zero), recording into a throw-away HOME.

use crate::metrics::{scrape, value};
use crate::support::process::{server, start, TempHome};
use crate::support::*;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const TOOL_GAP: Duration = Duration::from_millis(150);

/// Scrapes until `ready` holds (the recorder's writer thread feeds some figures a little later).
async fn scrape_until(addr: SocketAddr, ready: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = scrape(addr).await;
        if ready(&text) || Instant::now() > deadline {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_cost_and_tools_from_recorded_traffic() {
    let (tool, text) = (
        fixture("anthropic/messages_tool.sse"),
        fixture("anthropic/messages_text.sse"),
    );
    let turn = std::sync::atomic::AtomicUsize::new(0);
    let mock = MockUpstream::new()
        .route_fn("/v1/messages", move |_| {
            match turn.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
                0 => Reply::sse(tool.clone()),
                _ => Reply::sse(text.clone()),
            }
        })
        .start()
        .await;
    let home = TempHome::new();
    let mut cmd = server(&home);
    cmd.args(["--port", "0"])
        .env("LUNAROUTE_ENABLE_SESSION_RECORDING", "true")
        .env("LUNAROUTE_SESSIONS_DIR", home.path().join("sessions"))
        .env(
            "LUNAROUTE_SESSIONS_DB_PATH",
            home.path().join("sessions.db"),
        )
        .env("LUNAROUTE_ANTHROPIC_BASE_URL", mock.url());
    let (_guard, addr, _seen, _lines) = start(&mut cmd);
    let addr: SocketAddr = addr.parse().unwrap();

    let headers = [
        ("x-api-key", "sk-test"),
        ("anthropic-version", "2023-06-01"),
        ("x-claude-code-session-id", "metrics-session-1"),
        ("user-agent", "claude-cli/2.1.0 (external, cli)"),
    ];
    let q1 = r#"{"role":"user","content":"What's the weather in Paris?"}"#;
    let a1 = r#"{"role":"assistant","content":[{"type":"tool_use","id":"toolu_01Hb7RcVt2WqYx9KmN3fZd5P","name":"get_weather","input":{"city":"Paris"}}]}"#;
    let r1 = r#"{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01Hb7RcVt2WqYx9KmN3fZd5P","content":"18°C, sunny"}]}"#;
    let body = |messages: &[&str]| {
        format!(
            r#"{{"model":"claude-sonnet-4-6","max_tokens":1024,"stream":true,"messages":[{}]}}"#,
            messages.join(",")
        )
    };
    let (head, _) = fetch(addr, post_json("/v1/messages", body(&[q1]), &headers)).await;
    assert_eq!(head.status(), 200);
    let answered = Instant::now();
    tokio::time::sleep(TOOL_GAP).await;
    let (head, _) = fetch(
        addr,
        post_json("/v1/messages", body(&[q1, a1, r1]), &headers),
    )
    .await;
    let gap = answered.elapsed();
    assert_eq!(head.status(), 200);

    // The writer builds its records off the request path: wait for both.
    let text = scrape_until(addr, |t| {
        value(t, "lunaroute_time_to_first_token_seconds_count", &[]) == Some(2.0)
    })
    .await;
    let tokens = |kind: &str| value(&text, "lunaroute_tokens_total", &[("type", kind)]);
    // From the fixtures' usage: the tool turn, then the text turn.
    assert_eq!(tokens("input"), Some((412 + 498) as f64), "{text}");
    assert_eq!(tokens("output"), Some((71 + 19) as f64));
    assert_eq!(tokens("cache_read"), Some((10240 + 11776) as f64));
    assert_eq!(tokens("cache_creation"), Some(1536.0));
    assert_eq!(tokens("thinking"), Some(0.0));
    let cost = value(&text, "lunaroute_cost_usd_total", &[]).unwrap();
    let expected = ((412 + 498) as f64 * 3.0 + 90.0 * 15.0 + 1536.0 * 3.75 + 22016.0 * 0.30) / 1e6;
    assert!((cost - expected).abs() < 1e-9, "{cost} vs {expected}");
    let tool = [("tool", "get_weather")];
    assert_eq!(value(&text, "lunaroute_tool_calls_total", &tool), Some(1.0));
    assert_eq!(
        value(&text, "lunaroute_tool_duration_seconds_count", &tool),
        Some(1.0)
    );
    // Measured by the proxy from the end of the first response to the arrival of the second
    // request: the client's gap, give or take the response's last bytes.
    let took = value(&text, "lunaroute_tool_duration_seconds_sum", &tool).unwrap();
    assert!(
        took >= TOOL_GAP.as_secs_f64() - 0.01 && took <= gap.as_secs_f64() + 0.05,
        "{took} s for a {gap:?} gap"
    );
    let ttft = value(&text, "lunaroute_time_to_first_token_seconds_sum", &[]).unwrap();
    assert!(ttft > 0.0 && ttft < 10.0, "{ttft}");
    assert_eq!(
        value(&text, "lunaroute_recorder_lost_total", &[]),
        Some(0.0)
    );
    assert_eq!(
        value(&text, "lunaroute_recorder_queue_bytes", &[]),
        Some(0.0)
    );
}
