//! Upstream mode (`apply_to_upstream = true`): the provider receives the user's text and tool
//! results redacted (tokenized consistently across turns), the thinking block it signed and the
//! assistant's own turn byte-identical, a correct `content-length`; the client still gets the
//! provider's bytes unchanged and the recorder stores what the provider received.

use super::recording::TempDirGuard;
use super::session::*;
use crate::support::*;
use lunaroute::config::{Config, RedactionMode};

/// The PII session config with `apply_to_upstream` on.
fn upstream_config(mock: &MockHandle, dir: &std::path::Path, mode: RedactionMode) -> Config {
    let mut config = pii_config(mock, dir, mode);
    config.session_recording.pii.apply_to_upstream = true;
    config
}

fn tokens(text: &str, kind: &str) -> Vec<String> {
    let open = format!("[{kind}:");
    text.match_indices(&open)
        .map(|(at, _)| text[at..at + open.len() + 9].to_string())
        .collect()
}

#[tokio::test]
async fn the_provider_gets_redacted_user_text_and_identical_thinking() {
    let dir = TempDirGuard::new();
    let mock = mock().await;
    let config = upstream_config(&mock, &dir.0, RedactionMode::Tokenize);
    let received = record_session(config.clone()).await;
    assert_eq!(received, [first_stream(), second_stream()]);

    let sent = mock.requests();
    assert_eq!(sent.len(), 2);
    for request in &sent {
        assert_eq!(
            request.header("content-length"),
            Some(request.body.len().to_string().as_str())
        );
    }
    let first = String::from_utf8(sent[0].body.to_vec()).unwrap();
    let second = String::from_utf8(sent[1].body.to_vec()).unwrap();
    for value in [EMAIL, PHONE, SSN] {
        assert!(
            !first.contains(value),
            "{value} reached the provider: {first}"
        );
    }
    for value in [CARD, IP, EMPLOYEE] {
        assert!(
            !second.contains(value),
            "{value} reached the provider: {second}"
        );
    }
    // The user's email has one token in both turns (so the conversation stays coherent).
    let email = tokens(&first, "EMAIL");
    assert_eq!(email.len(), 1, "{first}");
    assert!(second.contains(email[0].as_str()), "{second}");
    assert_eq!(tokens(&second, "CREDIT_CARD").len(), 1, "{second}");
    // Everything but the user content is as the client sent it: the thinking block (text and
    // signature, so the provider's check passes), the assistant's text, the request's framing.
    assert!(second.contains(&thinking_block()), "{second}");
    let answer = answer_pieces().concat();
    assert!(second.contains(&answer), "{second}");
    let client_first = String::from_utf8(bodies()[0].to_vec()).unwrap();
    // Only the values changed: putting them back gives the client's bytes.
    let restored = first
        .replace(&email[0], EMAIL)
        .replace(&tokens(&first, "PHONE")[0], PHONE)
        .replace(&tokens(&first, "SSN")[0], SSN);
    assert_eq!(restored, client_first);

    // The recorder stored what the provider received (turn 1 holds user content only, so the
    // recording's own redaction has nothing left to change there).
    let stored = exported_bodies(&config);
    assert_eq!(stored[0], first);
    assert_no_originals(&dir.0);
}

#[tokio::test]
async fn a_compressed_request_is_refused_not_forwarded() {
    let dir = TempDirGuard::new();
    let mock = mock().await;
    let config = upstream_config(&mock, &dir.0, RedactionMode::Mask);
    let mut proxy = spawn_proxy(config).await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &bodies()[0]).unwrap();
    let mut headers = HEADERS.to_vec();
    headers.push(("content-encoding", "gzip"));
    let (head, body) = fetch(
        proxy.addr,
        post_json("/v1/messages", gz.finish().unwrap(), &headers),
    )
    .await;
    proxy.shutdown().await.unwrap();
    assert_eq!(head.status(), 400, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("apply_to_upstream"));
    assert!(mock.requests().is_empty());
}

/// A body LunaRoute cannot read as JSON cannot be redacted: it is refused, not forwarded as it
/// came (a lenient provider might accept a trailing comma or a stray byte).
#[tokio::test]
async fn a_body_that_is_not_json_is_refused_not_forwarded() {
    let dir = TempDirGuard::new();
    let mock = mock().await;
    let config = upstream_config(&mock, &dir.0, RedactionMode::Mask);
    let mut proxy = spawn_proxy(config).await;
    let trailing_comma = r#"{"model":"claude-sonnet-4-6","messages":[{"role":"user","content":"mail alice.liddell@example.com"}],}"#;
    let mut stray_byte = trailing_comma.replace("],}", "]}").into_bytes();
    stray_byte.insert(60, 0xff);
    for body in [trailing_comma.as_bytes().to_vec(), stray_byte] {
        let (head, answer) = fetch(proxy.addr, post_json("/v1/messages", body, &HEADERS)).await;
        let text = String::from_utf8_lossy(&answer);
        assert_eq!(head.status(), 400, "{text}");
        assert!(text.contains("not valid JSON"), "{text}");
    }
    proxy.shutdown().await.unwrap();
    assert!(mock.requests().is_empty());
}

/// The WebSocket relay pipes frames byte for byte, so it could not redact them: the upgrade is
/// declined (Codex then uses HTTP, which is redacted) and nothing reaches the provider.
#[tokio::test]
async fn a_websocket_upgrade_is_declined() {
    let dir = TempDirGuard::new();
    let mock = mock().await;
    let mut config = upstream_config(&mock, &dir.0, RedactionMode::Mask);
    config.providers.openai.base_url = Some(format!("{}/v1", mock.url()));
    let mut proxy = spawn_proxy(config).await;
    let upgrade = get(
        "/v1/responses",
        &[
            ("authorization", "Bearer sk-client-key"),
            ("connection", "upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ],
    );
    let (head, body) = fetch(proxy.addr, upgrade).await;
    proxy.shutdown().await.unwrap();
    let text = String::from_utf8_lossy(&body);
    assert_eq!(head.status(), 501, "{text}");
    assert!(
        text.contains("apply_to_upstream") && text.contains("HTTP"),
        "{text}"
    );
    assert!(mock.requests().is_empty());
}

/// Routing rules take another path (peek the model, then pass through or translate): upstream
/// mode redacts there too, and `model_rewrite` still finds the model in the redacted bytes.
#[tokio::test]
async fn a_routed_request_is_redacted_before_it_is_sent() {
    use lunaroute::config::{ProviderConfig, ProviderType, RoutingRule};
    let dir = TempDirGuard::new();
    let mock = mock().await;
    let mut config = upstream_config(&mock, &dir.0, RedactionMode::Mask);
    let routed = ProviderConfig {
        kind: Some(ProviderType::Anthropic),
        base_url: Some(mock.url()),
        ..ProviderConfig::default()
    };
    config.providers.named.insert("routed_pii".into(), routed);
    config.routing.rules = vec![RoutingRule {
        model: "claude-sonnet-*".into(),
        provider: "routed_pii".into(),
        model_rewrite: Some("claude-sonnet-4-6-rewritten".into()),
        fallbacks: Vec::new(),
        max_tokens: None,
    }];
    let received = record_session(config).await;
    assert_eq!(received, [first_stream(), second_stream()]);

    let sent = mock.requests();
    assert_eq!(sent.len(), 2);
    // The user's values of each turn (the assistant's own turn is sent back untouched).
    let user_values = [[EMAIL, PHONE, SSN], [CARD, IP, EMPLOYEE]];
    for (request, values) in sent.iter().zip(user_values) {
        let body = String::from_utf8(request.body.to_vec()).unwrap();
        assert_eq!(
            request.header("content-length"),
            Some(body.len().to_string().as_str())
        );
        assert!(
            body.contains(r#""model":"claude-sonnet-4-6-rewritten""#),
            "{body}"
        );
        for value in values {
            assert!(
                !body.contains(value),
                "{value} reached the provider: {body}"
            );
        }
    }
    assert!(String::from_utf8_lossy(&sent[0].body).contains("[EMAIL]"));
    assert!(String::from_utf8_lossy(&sent[1].body).contains("[CREDIT_CARD]"));
    let second = String::from_utf8(sent[1].body.to_vec()).unwrap();
    assert!(second.contains(&thinking_block()), "{second}");
}
