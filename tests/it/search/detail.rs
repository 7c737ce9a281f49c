//! The search API beyond the list: one session and its raw requests, `/stats`, the README's
//! recipes, and the access rules off loopback.

use super::*;

#[tokio::test]
async fn one_session_and_its_raw_requests_exactly_as_sent() {
    let rec = record_sessions().await;
    let proxy = spawn_proxy(rec.config.clone()).await;
    let (status, session) = get_json(&proxy, &format!("/sessions/{TOOL}")).await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(
        (session["id"].as_str(), session["request_count"].as_u64()),
        (Some(TOOL), Some(2))
    );
    assert_eq!(session["total_tokens"], 24552);
    assert_eq!(session["models"], serde_json::json!(["claude-sonnet-4-6"]));
    let requests = session["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 2);
    let call = &requests[0]["tool_calls"][0];
    assert_eq!(
        (call["name"].as_str(), call["input"]["city"].as_str()),
        (Some("get_weather"), Some("Paris"))
    );
    assert!(call["duration_ms"].as_f64().is_some());
    assert_eq!(
        requests[1]["message"]["text"],
        "The weather in Paris is 18°C and sunny."
    );
    for (i, request) in requests.iter().enumerate() {
        assert!(request["total_ms"].as_f64().is_some() && request["ttfb_ms"].as_f64().is_some());
        let rid = request["request_id"].as_str().unwrap();
        let (status, raw) = get_json(&proxy, &format!("/sessions/{TOOL}/requests/{rid}")).await;
        assert_eq!(status, 200);
        assert_eq!(
            raw["request_body"].as_str().unwrap().as_bytes(),
            rec.tool_bodies[i].as_ref()
        );
        let fixture_name = ["anthropic/messages_tool.sse", "anthropic/messages_text.sse"][i];
        assert_eq!(
            raw["response_body"].as_str().unwrap().as_bytes(),
            fixture(fixture_name).as_ref()
        );
        assert_eq!(raw["status"], 200);
    }
    // The credential never comes back.
    let (_, raw) = get_json(
        &proxy,
        &format!(
            "/sessions/{TOOL}/requests/{}",
            requests[0]["request_id"].as_str().unwrap()
        ),
    )
    .await;
    assert!(!raw.to_string().contains("sk-client-secret"));
}

#[tokio::test]
async fn stats_by_day_model_and_tool() {
    let rec = record_sessions().await;
    let proxy = spawn_proxy(rec.config.clone()).await;
    let (status, stats) = get_json(&proxy, "/stats?days=1").await;
    assert_eq!(status, 200, "{stats}");
    let total = &stats["total"];
    assert_eq!(
        (total["requests"].as_u64(), total["errors"].as_u64()),
        (Some(5), Some(1))
    );
    assert_eq!(total["tokens"]["total"], 24552 + 1466 + 25);
    assert!(
        total["p50_ms"].as_f64().is_some() && total["p95_ms"].as_f64() >= total["p50_ms"].as_f64()
    );
    assert_eq!(stats["by_model"]["claude-sonnet-4-6"]["requests"], 3);
    assert_eq!(stats["by_model"]["claude-haiku-4-5"]["tokens"]["output"], 5);
    assert_eq!(stats["by_day"].as_object().unwrap().len(), 1);
    assert_eq!(stats["by_tool"]["get_weather"]["calls"], 1);
    assert!(stats["by_tool"]["get_weather"]["p50_ms"].as_f64().is_some());
    assert_eq!(total["unpriced_requests"], 0);
    assert!(total["cost_usd"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn stats_cost_of_unpriced_models_is_null() {
    let rec = record_sessions().await;
    // As if gpt-5.4-mini had not been in the pricing table when it was recorded.
    let db = rusqlite::Connection::open(&rec.config.session_recording.sqlite.path).unwrap();
    db.execute(
        "UPDATE requests SET cost_usd = NULL WHERE model = 'gpt-5.4-mini'",
        [],
    )
    .unwrap();
    db.execute(
        "UPDATE sessions SET cost_usd = NULL WHERE id = ?1",
        [OPENAI],
    )
    .unwrap();
    drop(db);
    let proxy = spawn_proxy(rec.config.clone()).await;
    let (status, stats) = get_json(&proxy, "/stats?days=1").await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["by_model"]["gpt-5.4-mini"]["cost_usd"], Value::Null);
    assert_eq!(stats["by_model"]["gpt-5.4-mini"]["unpriced_requests"], 1);
    assert!(
        stats["by_model"]["claude-sonnet-4-6"]["cost_usd"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert_eq!(stats["total"]["unpriced_requests"], 1);
    assert!(stats["total"]["cost_usd"].as_f64().unwrap() > 0.0);
    let (_, session) = get_json(&proxy, &format!("/sessions/{OPENAI}")).await;
    assert_eq!(session["cost_usd"], Value::Null);
}

/// The README's curl recipes, run as written against a proxy on loopback.
#[tokio::test]
async fn readme_recipes_answer() {
    let rec = record_sessions().await;
    let proxy = spawn_proxy(rec.config.clone()).await;
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut ran = 0;
    for line in readme.lines() {
        let Some(rest) = line.split("curl -s 'http://localhost:8081").nth(1) else {
            continue;
        };
        let path = rest.split('\'').next().unwrap().replace("SESSION_ID", TOOL);
        let (status, body) = get_json(&proxy, &path).await;
        assert_eq!(status, 200, "{path}: {body}");
        ran += 1;
    }
    assert!(ran >= 5, "README has {ran} search recipes");
}

#[tokio::test]
async fn off_loopback_the_api_needs_a_token_and_a_known_host() {
    let rec = record_sessions().await;
    let mut config = rec.config.clone();
    // Configured as reachable from other machines; the test listener is still on 127.0.0.1.
    config.host = "0.0.0.0".into();
    let proxy = spawn_proxy(config.clone()).await;
    let (head, _) = fetch(proxy.addr, get("/sessions", &[])).await;
    assert_eq!(head.status(), 404, "no token: no search API");
    let (head, _) = fetch(proxy.addr, get("/stats", &[])).await;
    assert_eq!(head.status(), 404);

    config.sessions.api_token = Some(Secret::new("s3cret-token"));
    let proxy = spawn_proxy(config).await;
    let (head, _) = fetch(proxy.addr, get("/sessions", &[])).await;
    assert_eq!(head.status(), 401);
    let (head, _) = fetch(
        proxy.addr,
        get("/sessions", &[("authorization", "Bearer wrong")]),
    )
    .await;
    assert_eq!(head.status(), 401);
    let auth = ("authorization", "Bearer s3cret-token");
    let (head, body) = fetch(proxy.addr, get("/sessions", &[auth])).await;
    assert_eq!(head.status(), 200);
    assert_eq!(json(&body)["total"], 4);
    let foreign = Request::get("/sessions")
        .header("host", "rebound.example:8081")
        .header(auth.0, auth.1)
        .body(Default::default())
        .unwrap();
    assert_eq!(fetch(proxy.addr, foreign).await.0.status(), 403);
    let configured = Request::get(format!("/sessions/{TOOL}"))
        .header("host", "0.0.0.0:8081")
        .header(auth.0, auth.1)
        .body(Default::default())
        .unwrap();
    assert_eq!(fetch(proxy.addr, configured).await.0.status(), 200);
    // Bound to every interface, a remote client dials one of the machine's addresses.
    let remote = Request::get("/stats")
        .header("host", "192.0.2.2:18782")
        .header(auth.0, auth.1)
        .body(Default::default())
        .unwrap();
    assert_eq!(fetch(proxy.addr, remote).await.0.status(), 200);
}
