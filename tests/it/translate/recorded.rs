//! Translated traffic is recorded like any other (the client's view: its request, its model, the
//! answer as it received it, with the usage), and `count_tokens` for a model routed to a
//! non-Anthropic provider is answered locally with an estimate, never sent anywhere.

use super::*;
#[cfg(feature = "recording")]
use crate::support::process::TempHome;

#[cfg(feature = "recording")]
#[tokio::test]
async fn translated_requests_are_recorded_with_the_clients_model_and_the_usage() {
    let home = TempHome::new();
    let chat = MockUpstream::new()
        .route(
            "/v1/chat/completions",
            Reply::sse(golden(
                "chat/anthropic_client/stream/text_then_sequential_tools.sse",
            )),
        )
        .start()
        .await;
    let claude = MockUpstream::new()
        .route(
            "/v1/messages",
            Reply::sse(fixture("anthropic/messages_tool.sse")),
        )
        .start()
        .await;
    let unused = MockUpstream::new().start().await;
    let mut config = routed_config(
        &unused,
        &[
            ("chatgw", ProviderType::Openai, format!("{}/v1", chat.url())),
            ("claude", ProviderType::Anthropic, claude.url()),
        ],
        vec![
            rule("claude-sonnet-4-6", "chatgw", Some("gpt-5.4-mini"), &[]),
            rule("claude-via-chat", "claude", Some("claude-sonnet-4-6"), &[]),
        ],
    );
    let rec = &mut config.session_recording;
    rec.enabled = true;
    rec.jsonl.directory = home.path().join("sessions").display().to_string();
    rec.sqlite.path = home.path().join("sessions.db").display().to_string();
    let mut proxy = spawn_proxy(config).await;

    // Claude Code on a Chat provider.
    let mut headers = CLAUDE_CODE.to_vec();
    headers.push(("x-claude-code-session-id", "sess-translated-cc"));
    let body = r#"{"model":"claude-sonnet-4-6","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"weather?"}]}"#;
    let (head, _) = fetch(proxy.addr, post_json("/v1/messages", body, &headers)).await;
    assert_eq!(head.status(), 200);
    // Refused before anything is sent: dropping `top_k` would widen sampling on a Chat provider.
    let mut headers = CLAUDE_CODE.to_vec();
    headers.push(("x-claude-code-session-id", "sess-translated-refused"));
    let body = r#"{"model":"claude-sonnet-4-6","max_tokens":64,"top_k":5,"messages":[{"role":"user","content":"hi"}]}"#;
    let (head, _) = fetch(proxy.addr, post_json("/v1/messages", body, &headers)).await;
    assert_eq!(head.status(), 400);
    // An OpenAI Chat client on an Anthropic provider, with and without the usage chunk.
    for (session, usage) in [
        ("sess-translated-chat", true),
        ("sess-translated-nousage", false),
    ] {
        chat_client_turn(proxy.addr, session, usage).await;
    }
    tokio::time::timeout(Duration::from_secs(20), proxy.shutdown())
        .await
        .expect("drained in time")
        .unwrap();

    let db = rusqlite::Connection::open(home.path().join("sessions.db")).unwrap();
    let session = |id: &str| -> (String, i64, i64, i64, i64, i64) {
        db.query_row(
            "SELECT model_used, request_count, input_tokens, output_tokens, cache_read_tokens,
                    total_tokens FROM sessions WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .unwrap_or_else(|e| panic!("session {id}: {e}"))
    };
    // The usage recorded is the provider's own (its untranslated answer is captured beside the
    // client's): the Chat provider's 1520 prompt / 61 completion tokens...
    assert_eq!(
        session("sess-translated-cc"),
        ("claude-sonnet-4-6".into(), 1, 1520, 61, 0, 1581)
    );
    // ...and Anthropic's split (412 input, 10240 read, 1536 written, 71 out), which the Chat
    // client saw folded into one prompt_tokens, and which a client without `include_usage` did
    // not see at all.
    for id in ["sess-translated-chat", "sess-translated-nousage"] {
        let (model, requests, input, output, cache_read, total) = session(id);
        assert_eq!(
            (model.as_str(), requests, input, output, cache_read),
            ("claude-via-chat", 1, 412, 71, 10240),
            "{id}"
        );
        assert_eq!(total, 412 + 10240 + 1536 + 71, "{id}");
        let written: i64 = db
            .query_row(
                "SELECT cache_creation_tokens FROM sessions WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(written, 1536, "{id}");
    }

    let (model, response_model, outcome, provider): (String, String, String, String) = db
        .query_row(
            "SELECT model, response_model, outcome, provider FROM requests WHERE session_id = ?1",
            ["sess-translated-cc"],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(
        (model.as_str(), response_model.as_str(), outcome.as_str()),
        ("claude-sonnet-4-6", "claude-sonnet-4-6", "ok")
    );
    assert_eq!(provider, "anthropic", "recorded in the client's dialect");
    // Who really served each routed request, beside the client's view.
    let served = |session: &str| -> (Option<String>, Option<String>) {
        db.query_row(
            "SELECT served_provider, served_model FROM requests WHERE session_id = ?1",
            [session],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    assert_eq!(
        served("sess-translated-cc"),
        (Some("chatgw".into()), Some("gpt-5.4-mini".into()))
    );
    assert_eq!(
        served("sess-translated-chat"),
        (Some("claude".into()), Some("claude-sonnet-4-6".into()))
    );
    // Priced as the model that served it (after `model_rewrite`), never as the client's name:
    // Claude Code's request was served by gpt-5.4-mini ($0.75 / $4.50 per million), not by
    // claude-sonnet-4-6 ($3 / $15); claude-via-chat (unpriced) was served by claude-sonnet-4-6.
    let cost = |session: &str| -> Option<f64> {
        db.query_row(
            "SELECT cost_usd FROM requests WHERE session_id = ?1",
            [session],
            |r| r.get(0),
        )
        .unwrap()
    };
    let cc = cost("sess-translated-cc").expect("priced as gpt-5.4-mini");
    assert!(
        (cc - (1520.0 * 0.75 + 61.0 * 4.5) / 1e6).abs() < 1e-9,
        "{cc}"
    );
    let served = cost("sess-translated-chat").expect("priced as claude-sonnet-4-6");
    let (input, read, written, output): (f64, f64, f64, f64) = db
        .query_row(
            "SELECT input_tokens, cache_read_tokens, cache_creation_tokens, output_tokens
               FROM requests WHERE session_id = ?1",
            ["sess-translated-chat"],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    let want = (input * 3.0 + read * 0.3 + written * 3.75 + output * 15.0) / 1e6;
    assert!((served - want).abs() < 1e-9, "{served} vs {want}");
    // The refusal is recorded as LunaRoute's, not as a provider error: no provider saw it.
    let (status, outcome, message): (i64, String, String) = db
        .query_row(
            "SELECT status, outcome, error_message FROM requests WHERE session_id = ?1",
            ["sess-translated-refused"],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((status, outcome.as_str()), (400, "refused"));
    assert!(message.contains("top_k"), "{message}");
    let day_dirs = std::fs::read_dir(home.path().join("sessions")).unwrap();
    let files: Vec<String> = day_dirs
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        files.contains(&"sess-translated-cc.jsonl".to_string()),
        "{files:?}"
    );
    let text = std::fs::read_to_string(
        std::fs::read_dir(home.path().join("sessions"))
            .unwrap()
            .map(|d| d.unwrap().path().join("sess-translated-cc.jsonl"))
            .find(|p| p.exists())
            .unwrap(),
    )
    .unwrap();
    assert!(
        !text.contains("sk-ant-client-key"),
        "no credential in the JSONL"
    );
    let stats: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|l| l.get("final_stats").cloned())
        .collect();
    assert_eq!(stats.len(), 1, "one response line");
    assert_eq!(
        stats[0]["served"],
        json!({"provider": "chatgw", "model": "gpt-5.4-mini"}),
        "who served it is kept"
    );
    assert!(unused.requests().is_empty());
}

/// One streamed Chat turn for `session`, with or without `stream_options.include_usage`.
#[cfg(feature = "recording")]
async fn chat_client_turn(addr: std::net::SocketAddr, session: &str, include_usage: bool) {
    let body = json!({
        "model": "claude-via-chat", "max_tokens": 64, "stream": true,
        "stream_options": {"include_usage": include_usage},
        "messages": [{"role": "user", "content": "weather?"}],
    });
    let headers = [
        ("authorization", "Bearer sk-openai-client-key"),
        ("x-session-id", session),
    ];
    let req = post_json("/v1/chat/completions", body.to_string(), &headers);
    let (head, _) = fetch(addr, req).await;
    assert_eq!(head.status(), 200);
}

#[tokio::test]
async fn count_tokens_for_a_chat_routed_model_is_estimated_locally() {
    let chat = MockUpstream::new().start().await;
    let unused = MockUpstream::new().start().await;
    let proxy = routed(
        &unused,
        &[("chatgw", ProviderType::Openai, format!("{}/v1", chat.url()))],
        vec![rule(
            "claude-sonnet-4-6",
            "chatgw",
            Some("gpt-5.4-mini"),
            &[],
        )],
    )
    .await;
    let count = |text: String| {
        let body = json!({
            "model": "claude-sonnet-4-6", "system": "Be brief.",
            "messages": [{"role": "user", "content": text}],
        });
        post_json("/v1/messages/count_tokens", body.to_string(), CLAUDE_CODE)
    };
    let (head, short) = fetch(proxy.addr, count("hello there".into())).await;
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["x-lunaroute-estimate"], "true");
    let short = json(&short)["input_tokens"].as_u64().expect("input_tokens");
    assert!(short > 0);
    let (head, long) = fetch(proxy.addr, count("hello there ".repeat(200))).await;
    assert_eq!(head.status(), 200);
    let long = json(&long)["input_tokens"].as_u64().unwrap();
    // 2400 characters of English: about 600 tokens at 4 characters each.
    assert!(
        long > short + 300 && long < short + 1200,
        "{short} -> {long}"
    );
    assert!(
        chat.requests().is_empty() && unused.requests().is_empty(),
        "answered locally"
    );
}
