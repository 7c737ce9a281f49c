//! Fallbacks and the circuit breaker, through real sockets: a primary that refuses connections,
//! answers 5xx or 429, or dies mid-stream. The breaker's state is read from `/metrics` (each test
//! uses provider names of its own: the metrics recorder is shared by every test in this binary).

use super::{provider, rule, ANTHROPIC};
use crate::metrics::{scrape, value};
use crate::support::*;
use lunaroute::config::{Config, ProviderType};
use std::net::SocketAddr;
use std::time::Duration;

const BODY: &str = r#"{"model":"claude-fb","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#;

fn answering(fixture_name: &str) -> MockUpstream {
    MockUpstream::new().route("/v1/messages", Reply::sse(fixture(fixture_name)))
}

/// A proxy whose rule for `claude-fb` goes to `primary` at `primary_url`, then to `fallback`.
fn config(primary: (&str, String), fallback: (&str, &MockHandle)) -> Config {
    let unused = "http://127.0.0.1:9".to_string();
    let mut config = Config::default();
    config.session_recording.enabled = false;
    config.providers.anthropic.base_url = Some(unused.clone());
    config.providers.openai.base_url = Some(unused);
    let named = &mut config.providers.named;
    named.insert(
        primary.0.into(),
        provider(ProviderType::Anthropic, primary.1),
    );
    named.insert(
        fallback.0.into(),
        provider(ProviderType::Anthropic, fallback.1.url()),
    );
    config.routing.rules = vec![rule("claude-fb", primary.0, None, &[fallback.0])];
    config
}

async fn ask(addr: SocketAddr) -> (http::Response<()>, bytes::Bytes) {
    fetch(addr, post_json("/v1/messages", BODY, ANTHROPIC)).await
}

fn state(text: &str, name: &str) -> Option<f64> {
    value(
        text,
        "lunaroute_circuit_breaker_state",
        &[("provider", name)],
    )
}

fn moved(text: &str, name: &str, to: &str) -> f64 {
    let labels = [("provider", name), ("to", to)];
    value(text, "lunaroute_circuit_breaker_transitions_total", &labels).unwrap_or(0.0)
}

#[tokio::test]
async fn refused_primary_falls_back_opens_the_breaker_and_a_probe_closes_it() {
    // A port that refuses connections: bound, then released.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let fallback = answering("anthropic/messages_text.sse").start().await;
    let (p, f) = ("fb1_primary", "fb1_fallback");
    let mut cfg = config((p, format!("http://{addr}")), (f, &fallback));
    cfg.routing.circuit_breaker.failure_threshold = 2;
    cfg.routing.circuit_breaker.open_secs = 1;
    let proxy = spawn_proxy(cfg).await;
    assert_eq!(
        state(&scrape(proxy.addr).await, p),
        Some(0.0),
        "closed, exported from the start"
    );

    let expected = fixture("anthropic/messages_text.sse");
    for n in 1..=3 {
        let (head, body) = ask(proxy.addr).await;
        assert_eq!(
            (head.status().as_u16(), &body),
            (200, &expected),
            "request {n}"
        );
        assert_eq!(head.headers()["x-lunaroute-provider"], f, "request {n}");
        let text = scrape(proxy.addr).await;
        let want = if n == 1 { 0.0 } else { 1.0 };
        assert_eq!(state(&text, p), Some(want), "after request {n}");
    }
    let text = scrape(proxy.addr).await;
    assert_eq!(moved(&text, p, "open"), 1.0);
    // Two refused connections; the third request skipped the open breaker without trying.
    let errors = [("provider", p), ("kind", "unreachable")];
    assert_eq!(
        value(&text, "lunaroute_upstream_errors_total", &errors),
        Some(2.0)
    );
    assert_eq!(fallback.requests().len(), 3);

    // The primary comes back on its port; after open_secs one probe goes to it and closes it.
    let primary = answering("anthropic/messages_tool.sse")
        .start_at(addr)
        .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Idle past open_secs, the gauge already says the next request will probe.
    assert_eq!(state(&scrape(proxy.addr).await, p), Some(2.0));
    let (head, body) = ask(proxy.addr).await;
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["x-lunaroute-provider"], p);
    assert_eq!(body, fixture("anthropic/messages_tool.sse"));
    let text = scrape(proxy.addr).await;
    assert_eq!(state(&text, p), Some(0.0));
    assert_eq!(
        (moved(&text, p, "half_open"), moved(&text, p, "closed")),
        (1.0, 1.0)
    );
    assert_eq!(primary.requests().len(), 1);
    assert_eq!(
        primary.last().body,
        BODY.as_bytes(),
        "the fallback's body is the client's too"
    );
    assert_eq!(fallback.requests().len(), 3);
}

#[tokio::test]
async fn a_5xx_or_429_before_any_byte_moves_on_and_retry_after_is_honoured() {
    let overloaded = Reply::json(
        r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
    )
    .status(529);
    let primary = MockUpstream::new()
        .route("/v1/messages", overloaded)
        .start()
        .await;
    let fallback = answering("anthropic/messages_text.sse").start().await;
    let (p, f) = ("fb2_primary", "fb2_fallback");
    let proxy = spawn_proxy(config((p, primary.url()), (f, &fallback))).await;
    let (head, body) = ask(proxy.addr).await;
    assert_eq!(head.status(), 200);
    assert_eq!(body, fixture("anthropic/messages_text.sse"));
    assert_eq!(
        (primary.requests().len(), fallback.requests().len()),
        (1, 1)
    );

    // A 429 with retry-after: the fallback serves, and the primary is left alone meanwhile.
    let limited = Reply::json(fixture("anthropic/error_429.json"))
        .status(429)
        .header("retry-after", "30");
    let primary = MockUpstream::new()
        .route("/v1/messages", limited)
        .start()
        .await;
    let fallback = answering("anthropic/messages_text.sse").start().await;
    let (p, f) = ("fb3_primary", "fb3_fallback");
    let proxy = spawn_proxy(config((p, primary.url()), (f, &fallback))).await;
    for _ in 0..2 {
        let (head, _) = ask(proxy.addr).await;
        assert_eq!(head.status(), 200);
    }
    assert_eq!(
        (primary.requests().len(), fallback.requests().len()),
        (1, 2)
    );
    let text = scrape(proxy.addr).await;
    assert_eq!(state(&text, p), Some(0.0), "a 429 is a provider that is up");
}

#[tokio::test]
async fn the_last_providers_error_is_the_answer_and_a_cooling_provider_is_not_asked() {
    let limited = Reply::json(fixture("anthropic/error_429.json"))
        .status(429)
        .header("retry-after", "30");
    let primary = MockUpstream::new()
        .route("/v1/messages", limited)
        .start()
        .await;
    let mut cfg = config(("fb4_only", primary.url()), ("fb4_unused", &primary));
    cfg.routing.rules[0].fallbacks.clear();
    cfg.routing.retry_after_cap_secs = 20;
    let proxy = spawn_proxy(cfg).await;

    // No fallback: the provider's 429 reaches the client as it was sent.
    let (head, body) = ask(proxy.addr).await;
    assert_eq!(head.status(), 429);
    assert_eq!(head.headers()["retry-after"], "30");
    assert_eq!(body, fixture("anthropic/error_429.json"));
    // While it cools down (capped at 20 s), the proxy answers for it without asking it.
    let (head, body) = ask(proxy.addr).await;
    assert_eq!(head.status(), 429);
    assert_eq!(head.headers()["x-lunaroute-error"], "true");
    let wait: u64 = head.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&wait), "{wait}");
    let error = json(&body);
    assert_eq!(error["error"]["type"], "rate_limit_error");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("fb4_only"));
    assert_eq!(primary.requests().len(), 1);
}

#[tokio::test]
async fn a_stream_that_dies_after_200_is_not_retried_and_ends_with_an_error_event() {
    let sse = fixture("anthropic/messages_text.sse");
    let cut = sse.len() / 2;
    let dying = Reply::new(
        200,
        "text/event-stream",
        Body::FailAfter(vec![sse.slice(..cut)]),
    );
    let primary = MockUpstream::new()
        .route("/v1/messages", dying)
        .start()
        .await;
    let fallback = answering("anthropic/messages_tool.sse").start().await;
    let (p, f) = ("fb5_primary", "fb5_fallback");
    let proxy = spawn_proxy(config((p, primary.url()), (f, &fallback))).await;
    let (head, body) = ask(proxy.addr).await;
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["x-lunaroute-provider"], p);
    assert!(
        body.starts_with(&sse[..cut]),
        "what the provider sent arrives first"
    );
    let tail = String::from_utf8_lossy(&body[cut..]);
    assert!(tail.contains("\n\nevent: error\ndata: {"), "{tail}");
    assert!(tail.contains("provider stream failed"), "{tail}");
    assert!(!tail.contains("message_stop"), "{tail}");
    assert!(
        fallback.requests().is_empty(),
        "nothing is retried once streaming started"
    );
}

/// A request the open breaker refuses on a single-provider rule (whose body would otherwise
/// stream straight through) is recorded with the body the client sent and its model, not as an
/// empty request.
#[cfg(feature = "recording")]
#[tokio::test]
async fn a_request_the_breaker_refuses_is_recorded_whole() {
    let home = crate::support::process::TempHome::new();
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut cfg = Config::default();
    cfg.providers.named.insert(
        "fb3_dead".into(),
        provider(ProviderType::Anthropic, format!("http://{dead}")),
    );
    cfg.routing.rules = vec![rule("claude-fb", "fb3_dead", None, &[])];
    cfg.routing.circuit_breaker.failure_threshold = 1;
    cfg.routing.circuit_breaker.open_secs = 60;
    cfg.session_recording.enabled = true;
    cfg.session_recording.jsonl.directory = home.path().join("s").display().to_string();
    cfg.session_recording.sqlite.path = home.path().join("db").display().to_string();
    let mut proxy = spawn_proxy(cfg).await;
    let mut statuses = Vec::new();
    for session in ["fb3-first", "fb3-refused"] {
        let mut headers = ANTHROPIC.to_vec();
        headers.push(("x-session-id", session));
        let (head, _) = fetch(proxy.addr, post_json("/v1/messages", BODY, &headers)).await;
        statuses.push(head.status().as_u16());
    }
    assert_eq!(
        statuses,
        [502, 503],
        "unreachable, then the breaker is open"
    );
    tokio::time::timeout(Duration::from_secs(20), proxy.shutdown())
        .await
        .expect("drained in time")
        .unwrap();
    let db = rusqlite::Connection::open(home.path().join("db")).unwrap();
    let (model, messages, message): (Option<String>, i64, String) = db
        .query_row(
            "SELECT model, message_count, error_message FROM requests WHERE session_id = ?1",
            ["fb3-refused"],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((model.as_deref(), messages), (Some("claude-fb"), 1));
    assert!(message.contains("circuit breaker open"), "{message}");
}
