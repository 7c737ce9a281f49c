//! [recording] The session search API (`/sessions`, `/sessions/{id}`, raw requests, `/stats`) over
//! sessions recorded through the real proxy into a temp directory: full-text search (a word only in
//! a tool result, a word split across SSE events), every filter and sort, stable paging, exact raw
//! bodies, 400s that name the parameter, and the access rule off loopback. The README's curl
//! recipes are run as written.

use crate::support::*;
use bytes::Bytes;
use http::Request;
use lunaroute::config::{Config, PriceConfig, Secret};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

pub(super) const TOOL: &str = "s-tool";
pub(super) const SPLIT: &str = "s-split";
pub(super) const FAIL: &str = "s-fail";
pub(super) const OPENAI: &str = "s-openai";
/// Recorded in this order (so `newest` is the reverse).
pub(super) const ALL: [&str; 4] = [TOOL, SPLIT, FAIL, OPENAI];

pub(super) struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(super) struct Recorded {
    pub(super) _dir: TempDir,
    pub(super) config: Config,
    /// The bodies the tool session sent, in order.
    pub(super) tool_bodies: Vec<Bytes>,
}

pub(super) fn anthropic_headers(session: &str) -> Vec<(&str, &str)> {
    vec![
        ("x-api-key", "sk-client-secret"),
        ("anthropic-version", "2023-06-01"),
        ("x-test-session", session),
        ("user-agent", "claude-cli/2.1.197 (external, cli)"),
    ]
}

/// Four sessions recorded through the proxy, which is then shut down (draining the recorder).
pub(super) async fn record_sessions() -> Recorded {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("lunaroute-search-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let anthropic = MockUpstream::new()
        .route_fn("/v1/messages", |req: &crate::support::Recorded| {
            match req.header("x-test-session").unwrap_or_default() {
                FAIL => Reply::json(fixture("anthropic/error_429.json")).status(429),
                SPLIT => Reply::sse(fixture("anthropic/split_word.sse")),
                _ if req.body.windows(11).any(|w| w == b"tool_result") => {
                    Reply::sse(fixture("anthropic/messages_text.sse"))
                }
                _ => Reply::sse(fixture("anthropic/messages_tool.sse")),
            }
        })
        .start()
        .await;
    let openai = MockUpstream::new()
        .route(
            "/v1/chat/completions",
            Reply::json(fixture("openai/chat_text.json")),
        )
        .start()
        .await;
    let mut config = config_for(&anthropic, &openai);
    let rec = &mut config.session_recording;
    rec.enabled = true;
    rec.session_id_header = Some("x-test-session".into());
    rec.jsonl.directory = dir.join("sessions").display().to_string();
    rec.sqlite.path = dir.join("sessions.db").display().to_string();
    for (model, input, output) in [
        ("claude-sonnet-4-6", 3.0, 15.0),
        ("claude-haiku-4-5", 1.0, 5.0),
        ("gpt-5.4-mini", 0.25, 2.0),
    ] {
        config.pricing.insert(
            model.into(),
            PriceConfig {
                input,
                output,
                cache_write: None,
                cache_read: None,
            },
        );
    }
    let mut proxy = spawn_proxy(config.clone()).await;
    let body = |model: &str, messages: &str| {
        Bytes::from(format!(
            r#"{{"model":"{model}","max_tokens":1024,"stream":true,"messages":[{messages}]}}"#
        ))
    };
    let q1 = r#"{"role":"user","content":"What's the weather in Paris?"}"#;
    let a1 = r#"{"role":"assistant","content":[{"type":"text","text":"I'll check."},{"type":"tool_use","id":"toolu_01Hb7RcVt2WqYx9KmN3fZd5P","name":"get_weather","input":{"city":"Paris","unit":"celsius"}}]}"#;
    let r1 = r#"{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01Hb7RcVt2WqYx9KmN3fZd5P","content":"18°C, humid, a xylophone concert tonight"}]}"#;
    let tool_bodies = vec![
        body("claude-sonnet-4-6", q1),
        body("claude-sonnet-4-6", &[q1, a1, r1].join(",")),
    ];
    let post = |session: &str, body: &Bytes| {
        post_json("/v1/messages", body.clone(), &anthropic_headers(session))
    };
    for b in &tool_bodies {
        let (head, _) = fetch(proxy.addr, post(TOOL, b)).await;
        assert_eq!(head.status(), 200);
    }
    let pause = || tokio::time::sleep(std::time::Duration::from_millis(5));
    pause().await;
    let split = body(
        "claude-haiku-4-5",
        r#"{"role":"user","content":"Who rings the bells?"}"#,
    );
    assert_eq!(fetch(proxy.addr, post(SPLIT, &split)).await.0.status(), 200);
    pause().await;
    let fail = body(
        "claude-sonnet-4-6",
        r#"{"role":"user","content":"Too much xsstoken <img src=x onerror=alert(1)> </mark>"}"#,
    );
    assert_eq!(fetch(proxy.addr, post(FAIL, &fail)).await.0.status(), 429);
    pause().await;
    let chat = r#"{"model":"gpt-5.4-mini","messages":[{"role":"user","content":"Weather?"}]}"#;
    let req = post_json(
        "/v1/chat/completions",
        chat,
        &[
            ("authorization", "Bearer sk-client"),
            ("x-test-session", OPENAI),
        ],
    );
    assert_eq!(fetch(proxy.addr, req).await.0.status(), 200);
    proxy.shutdown().await.unwrap();
    Recorded {
        _dir: TempDir(dir),
        config,
        tool_bodies,
    }
}

pub(super) async fn get_json(proxy: &Proxy, path: &str) -> (u16, Value) {
    let (head, body) = fetch(proxy.addr, get(path, &[])).await;
    (head.status().as_u16(), json(&body))
}

pub(super) async fn ids(proxy: &Proxy, query: &str) -> Vec<String> {
    let (status, body) = get_json(proxy, &format!("/sessions?{query}")).await;
    assert_eq!(status, 200, "{query}: {body}");
    let sessions = body["sessions"].as_array().unwrap();
    assert!(body["total"].as_u64().unwrap() as usize >= sessions.len());
    sessions
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

pub(super) fn set(ids: &[String]) -> BTreeSet<&str> {
    ids.iter().map(String::as_str).collect()
}

#[tokio::test]
async fn text_search_finds_tool_results_and_split_stream_words() {
    let rec = record_sessions().await;
    let proxy = spawn_proxy(rec.config.clone()).await;
    assert_eq!(ids(&proxy, "text_search=xylophone").await, [TOOL]);
    assert_eq!(ids(&proxy, "text_search=quasimodo").await, [SPLIT]);
    // Several words: all must match; FTS5 syntax in the input is plain text.
    assert_eq!(ids(&proxy, "text_search=humid+xylophone").await, [TOOL]);
    assert!(ids(&proxy, "text_search=xylophone+quasimodo")
        .await
        .is_empty());
    assert!(ids(&proxy, "text_search=%22xylo%20OR%20NEAR(")
        .await
        .is_empty());
    let (_, body) = get_json(&proxy, "/sessions?text_search=xylophone").await;
    let snippet = body["sessions"][0]["snippet"].as_str().unwrap();
    assert!(snippet.contains("<mark>xylophone</mark>"), "{snippet}");
    assert_eq!(body["total"], 1);
    // Recorded text is HTML-escaped; only the hit markers are markup.
    let (_, body) = get_json(&proxy, "/sessions?text_search=xsstoken").await;
    let snippet = body["sessions"][0]["snippet"].as_str().unwrap();
    assert_eq!(body["sessions"][0]["id"], FAIL);
    assert!(
        snippet.contains("<mark>xsstoken</mark> &lt;img src=x onerror=alert(1)&gt; &lt;/mark&gt;"),
        "{snippet}"
    );
    assert!(!snippet.contains("<img"), "{snippet}");
}

#[tokio::test]
async fn filters_sorts_and_paging() {
    let rec = record_sessions().await;
    let proxy = spawn_proxy(rec.config.clone()).await;
    let newest = ids(&proxy, "").await;
    assert_eq!(newest, [OPENAI, FAIL, SPLIT, TOOL]);
    assert_eq!(ids(&proxy, "sort=oldest").await, ALL);
    assert_eq!(ids(&proxy, "model=claude-haiku-4-5").await, [SPLIT]);
    assert_eq!(ids(&proxy, "provider=openai").await, [OPENAI]);
    assert_eq!(
        set(&ids(&proxy, "client=claude-code").await),
        BTreeSet::from([TOOL, SPLIT, FAIL])
    );
    assert_eq!(ids(&proxy, "success=false").await, [FAIL]);
    assert_eq!(ids(&proxy, "success=true").await, [OPENAI, SPLIT, TOOL]);
    assert_eq!(ids(&proxy, "tool=get_weather").await, [TOOL]);
    // Totals: tool 24552 (two turns of fixture usage), openai 1466, split 25, fail 0.
    assert_eq!(
        ids(&proxy, "sort=tokens").await,
        [TOOL, OPENAI, SPLIT, FAIL]
    );
    assert_eq!(ids(&proxy, "min_total_tokens=1000").await, [OPENAI, TOOL]);
    assert_eq!(
        ids(&proxy, "max_total_tokens=1466").await,
        [OPENAI, FAIL, SPLIT]
    );
    assert_eq!(
        ids(&proxy, "min_total_tokens=24552&max_total_tokens=24552").await,
        [TOOL]
    );
    assert_eq!(ids(&proxy, "sort=cost").await[0], TOOL);
    assert_eq!(ids(&proxy, "min_cost=0.001").await, [TOOL]);
    let by_duration = ids(&proxy, "sort=duration").await;
    assert_eq!(set(&by_duration), BTreeSet::from(ALL));
    // Time: everything is from today.
    assert_eq!(ids(&proxy, "days=1").await.len(), 4);
    assert!(ids(&proxy, "since=2999-01-01T00:00:00Z").await.is_empty());
    assert!(ids(&proxy, "until=2000-01-01T00:00:00Z").await.is_empty());
    assert_eq!(
        ids(&proxy, "since=2000-01-01&until=2999-01-01T00:00:00%2B02:00")
            .await
            .len(),
        4
    );
    // A combination.
    assert_eq!(
        ids(
            &proxy,
            "provider=anthropic&success=true&min_total_tokens=20&sort=oldest"
        )
        .await,
        [TOOL, SPLIT]
    );
    assert!(ids(&proxy, "provider=openai&model=claude-haiku-4-5")
        .await
        .is_empty());

    // Paging: one at a time gives the same list, nothing twice; `total` counts them all.
    for sort in ["newest", "tokens", "cost", "duration"] {
        let full = ids(&proxy, &format!("sort={sort}")).await;
        let mut paged = Vec::new();
        for offset in 0..5 {
            let (_, body) = get_json(
                &proxy,
                &format!("/sessions?sort={sort}&limit=1&offset={offset}"),
            )
            .await;
            assert_eq!(
                (
                    body["total"].as_u64(),
                    body["limit"].as_u64(),
                    body["offset"].as_u64()
                ),
                (Some(4), Some(1), Some(offset))
            );
            paged.extend(
                body["sessions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s["id"].as_str().unwrap().to_string()),
            );
        }
        assert_eq!(paged, full, "{sort}");
    }
    let (_, body) = get_json(&proxy, "/sessions?limit=2&offset=2&sort=oldest").await;
    assert_eq!(body["sessions"][0]["id"], FAIL);
    assert_eq!(body["sessions"][0]["success"], false);
}

#[tokio::test]
async fn bad_parameters_are_400_naming_them() {
    let rec = record_sessions().await;
    let proxy = spawn_proxy(rec.config.clone()).await;
    for (query, name) in [
        ("/sessions?limit=501", "limit"),
        ("/sessions?limit=abc", "limit"),
        ("/sessions?offset=-3", "offset"),
        ("/sessions?days=x", "days"),
        ("/sessions?since=last-week", "since"),
        ("/sessions?until=2026-02-30T99:00:00Z", "until"),
        ("/sessions?success=yes", "success"),
        ("/sessions?sort=best", "sort"),
        ("/sessions?min_cost=-1", "min_cost"),
        ("/sessions?max_total_tokens=many", "max_total_tokens"),
        ("/sessions?text_search=", "text_search"),
        ("/sessions?text_search=zebrafish%00", "text_search"),
        ("/sessions?text_search=zebra%01fish", "text_search"),
        ("/sessions?modle=x", "modle"),
        ("/sessions?provider=bogus", "provider"),
        ("/sessions?client=vim", "client"),
        ("/stats?days=0", "days"),
    ] {
        let (status, body) = get_json(&proxy, query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(
            body.to_string().contains(&format!("`{name}`")),
            "{query}: {body}"
        );
    }
    let (status, body) = get_json(&proxy, "/sessions/does-not-exist").await;
    assert_eq!(status, 404);
    assert!(
        body.to_string().contains("no session `does-not-exist`"),
        "{body}"
    );
    let (status, body) = get_json(
        &proxy,
        &format!("/sessions/{TOOL}/requests/no-such-request"),
    )
    .await;
    assert_eq!(status, 404);
    assert!(
        body.to_string().contains("no request `no-such-request`"),
        "{body}"
    );
    for path in [
        format!("/sessions/{TOOL}?verbose=1"),
        format!("/sessions/{TOOL}/requests/r?verbose=1"),
    ] {
        let (status, body) = get_json(&proxy, &path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.to_string().contains("`verbose`"), "{path}: {body}");
    }
}

mod detail;
