//! Routing and credentials: which provider each path reaches, admin routes, switched-off dialects,
//! configured keys replacing the client's (F13), and Codex's ChatGPT sign-in.

use crate::support::*;

const ANTHROPIC: &[(&str, &str)] = &[
    ("x-api-key", "sk-ant-client"),
    ("anthropic-version", "2023-06-01"),
];
const OPENAI: &[(&str, &str)] = &[("authorization", "Bearer sk-client")];

async fn two_mocks() -> (MockHandle, MockHandle) {
    let anthropic = MockUpstream::new()
        .route("*", Reply::json(r#"{"provider":"anthropic"}"#))
        .start()
        .await;
    let openai = MockUpstream::new()
        .route("*", Reply::json(r#"{"provider":"openai"}"#))
        .start()
        .await;
    (anthropic, openai)
}

#[tokio::test]
async fn admin_routes() {
    let (a, o) = two_mocks().await;
    let proxy = spawn_proxy(config_for(&a, &o)).await;
    let (head, body) = fetch(proxy.addr, get("/", &[])).await;
    assert_eq!(head.status(), 200);
    assert_eq!(json(&body)["service"], "lunaroute");
    assert_eq!(json(&body)["version"], env!("CARGO_PKG_VERSION"));
    let head_req = http::Request::head("/")
        .header("host", "localhost")
        .body(Default::default())
        .unwrap();
    let (head, body) = fetch(proxy.addr, head_req).await;
    assert_eq!(head.status(), 200);
    assert!(body.is_empty());
    let (head, body) = fetch(proxy.addr, get("/healthz", &[])).await;
    assert_eq!(
        (head.status().as_u16(), json(&body)["status"].clone()),
        (200, "ok".into())
    );
    let (head, _) = fetch(proxy.addr, get("/readyz", &[])).await;
    assert_eq!(head.status(), 200);
    assert!(a.requests().is_empty() && o.requests().is_empty());
}

/// (method, client path, client headers, provider expected, path the provider sees)
type RouteCase = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
    &'static str,
);

#[tokio::test]
async fn each_path_reaches_its_provider() {
    let (a, o) = two_mocks().await;
    let proxy = spawn_proxy(config_for(&a, &o)).await;
    let cases: &[RouteCase] = &[
        (
            "POST",
            "/v1/messages?beta=true",
            ANTHROPIC,
            "anthropic",
            "/v1/messages?beta=true",
        ),
        (
            "POST",
            "/v1/messages/count_tokens?beta=true",
            ANTHROPIC,
            "anthropic",
            "/v1/messages/count_tokens?beta=true",
        ),
        ("GET", "/v1/models", ANTHROPIC, "anthropic", "/v1/models"),
        // The Anthropic SDK may authenticate with Bearer but always sends anthropic-version.
        (
            "GET",
            "/v1/models/claude-sonnet-4-5",
            &[
                ("authorization", "Bearer k"),
                ("anthropic-version", "2023-06-01"),
            ],
            "anthropic",
            "/v1/models/claude-sonnet-4-5",
        ),
        ("GET", "/v1/models", OPENAI, "openai", "/v1/models"),
        (
            "POST",
            "/v1/chat/completions",
            OPENAI,
            "openai",
            "/v1/chat/completions",
        ),
        ("POST", "/v1/responses", OPENAI, "openai", "/v1/responses"),
        (
            "GET",
            "/v1/responses/resp_123",
            OPENAI,
            "openai",
            "/v1/responses/resp_123",
        ),
        (
            "DELETE",
            "/v1/responses/resp_123",
            OPENAI,
            "openai",
            "/v1/responses/resp_123",
        ),
        ("POST", "/v1/embeddings", OPENAI, "openai", "/v1/embeddings"),
        // Codex with a base URL lacking /v1.
        ("POST", "/responses", OPENAI, "openai", "/v1/responses"),
        (
            "POST",
            "/chat/completions",
            OPENAI,
            "openai",
            "/v1/chat/completions",
        ),
        ("GET", "/models", OPENAI, "openai", "/v1/models"),
        // New endpoints keep working, by headers.
        ("POST", "/v1/files", OPENAI, "openai", "/v1/files"),
        (
            "POST",
            "/v1/messages/batches",
            ANTHROPIC,
            "anthropic",
            "/v1/messages/batches",
        ),
    ];
    for (method, path, headers, provider, upstream_path) in cases {
        let mut builder = http::Request::builder()
            .method(*method)
            .uri(*path)
            .header("host", "localhost");
        for (k, v) in *headers {
            builder = builder.header(*k, *v);
        }
        let (head, body) = fetch(proxy.addr, builder.body(Default::default()).unwrap()).await;
        assert_eq!(head.status(), 200, "{method} {path}");
        assert_eq!(json(&body)["provider"], *provider, "{method} {path}");
        let mock = if *provider == "anthropic" { &a } else { &o };
        let seen = mock.last();
        assert_eq!(
            (seen.method.as_str(), seen.uri.as_str()),
            (*method, *upstream_path)
        );
    }
}

#[tokio::test]
async fn unknown_paths_and_switched_off_dialects_are_404_in_the_callers_shape() {
    let (a, o) = two_mocks().await;
    let proxy = spawn_proxy(config_for(&a, &o)).await;
    let (head, body) = fetch(proxy.addr, get("/nope", ANTHROPIC)).await;
    assert_eq!(head.status(), 404);
    assert_eq!(json(&body)["error"]["type"], "not_found_error");
    let (head, body) = fetch(proxy.addr, get("/nope", OPENAI)).await;
    assert_eq!(head.status(), 404);
    assert_eq!(json(&body)["error"]["code"], "not_found");

    let mut config = config_for(&a, &o);
    config.api_dialect = lunaroute::config::Dialect::Openai;
    let openai_only = spawn_proxy(config).await;
    let (head, body) = fetch(openai_only.addr, post_json("/v1/messages", "{}", ANTHROPIC)).await;
    assert_eq!(head.status(), 404);
    assert_eq!(json(&body)["type"], "error");
    assert!(json(&body)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("switched off"));
    // With one dialect on, shared paths go to it whatever the headers say.
    let (head, body) = fetch(openai_only.addr, get("/v1/models", ANTHROPIC)).await;
    assert_eq!(
        (head.status().as_u16(), json(&body)["provider"].clone()),
        (200, "openai".into())
    );

    let mut config = config_for(&a, &o);
    config.providers.openai.enabled = false;
    let no_openai = spawn_proxy(config).await;
    let before = o.requests().len();
    let (head, body) = fetch(
        no_openai.addr,
        post_json("/v1/chat/completions", "{}", OPENAI),
    )
    .await;
    assert_eq!(head.status(), 404);
    assert!(json(&body)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("switched off"));
    assert_eq!(o.requests().len(), before, "a disabled provider was called");
}

/// F13: a configured key replaces the client's; exactly one credential header goes upstream.
#[tokio::test]
async fn configured_keys_replace_client_credentials() {
    let (a, o) = two_mocks().await;
    let mut config = config_for(&a, &o);
    config.providers.anthropic.api_key = Some(lunaroute::config::Secret::new("sk-ant-configured"));
    config.providers.openai.api_key = Some(lunaroute::config::Secret::new("sk-proj-configured"));
    let proxy = spawn_proxy(config).await;
    let both = [
        ("x-api-key", "sk-ant-client"),
        ("authorization", "Bearer client-token"),
        ("anthropic-version", "2023-06-01"),
    ];
    fetch(proxy.addr, post_json("/v1/messages", "{}", &both)).await;
    let seen = a.last();
    assert_eq!(seen.header("x-api-key"), Some("sk-ant-configured"));
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(seen.headers.get_all("x-api-key").iter().count(), 1);

    fetch(
        proxy.addr,
        post_json(
            "/v1/responses",
            "{}",
            &[("authorization", "Bearer client"), ("x-api-key", "stray")],
        ),
    )
    .await;
    let seen = o.last();
    assert_eq!(
        seen.header("authorization"),
        Some("Bearer sk-proj-configured")
    );
    assert_eq!(seen.header("x-api-key"), None);

    // Without a configured key, the client's credentials pass through untouched.
    let plain = spawn_proxy(config_for(&a, &o)).await;
    fetch(plain.addr, post_json("/v1/messages", "{}", &both)).await;
    let seen = a.last();
    assert_eq!(
        (seen.header("x-api-key"), seen.header("authorization")),
        (Some("sk-ant-client"), Some("Bearer client-token"))
    );
}

#[tokio::test]
async fn codex_sign_in_supplies_the_bearer_when_the_client_has_none() {
    let (a, o) = two_mocks().await;
    let dir = crate::support::process::TempHome::new(); // removed on drop, also on a failure
    let auth = dir.path().join("auth.json");
    std::fs::write(&auth, r#"{"auth_mode":"chatgpt","tokens":{"access_token":"eyJ.access.one","refresh_token":"r","id_token":"i","account_id":"acct-42"}}"#).unwrap();
    let mut config = config_for(&a, &o);
    config.providers.openai.codex_auth.enabled = true;
    config.providers.openai.codex_auth.auth_file = auth.display().to_string();
    let proxy = spawn_proxy(config.clone()).await;

    fetch(proxy.addr, post_json("/v1/responses", "{}", &[])).await;
    let seen = o.last();
    assert_eq!(seen.header("authorization"), Some("Bearer eyJ.access.one"));
    assert_eq!(seen.header("chatgpt-account-id"), Some("acct-42"));

    // Codex refreshed its token: picked up without a restart.
    std::fs::write(
        &auth,
        r#"{"tokens":{"access_token":"eyJ.access.two.longer","account_id":"acct-42"}}"#,
    )
    .unwrap();
    fetch(proxy.addr, post_json("/v1/responses", "{}", &[])).await;
    assert_eq!(
        o.last().header("authorization"),
        Some("Bearer eyJ.access.two.longer")
    );

    // A client that brings its own key keeps it.
    fetch(proxy.addr, post_json("/v1/responses", "{}", OPENAI)).await;
    assert_eq!(o.last().header("authorization"), Some("Bearer sk-client"));

    // A missing file: 401 in OpenAI's shape, naming the file.
    std::fs::remove_file(&auth).unwrap();
    let (head, body) = fetch(proxy.addr, post_json("/v1/responses", "{}", &[])).await;
    assert_eq!(head.status(), 401);
    let message = json(&body)["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains(&auth.display().to_string()), "{message}");
}

/// Web pages must not be able to drive the proxy (it forwards the user's credentials): a foreign
/// `Origin`, a rebound `Host` and `..` paths are refused before anything reaches the provider.
#[tokio::test]
async fn web_pages_rebound_hosts_and_dot_paths_are_refused() {
    let (a, o) = two_mocks().await;
    let mut config = config_for(&a, &o);
    config.providers.openai.api_key = Some(lunaroute::config::Secret::new("sk-proj-configured"));
    let proxy = spawn_proxy(config).await;
    let evil_origin = [
        ("authorization", "Bearer x"),
        ("origin", "https://evil.example"),
    ];
    let (head, body) = fetch(
        proxy.addr,
        post_json("/v1/chat/completions", "{}", &evil_origin),
    )
    .await;
    assert_eq!(head.status(), 403);
    assert_eq!(json(&body)["error"]["code"], "forbidden");
    // A CORS preflight from the same page.
    let preflight = http::Request::options("/v1/messages")
        .header("host", "localhost:8081")
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .header("anthropic-version", "2023-06-01")
        .body(Default::default())
        .unwrap();
    let (head, body) = fetch(proxy.addr, preflight).await;
    assert_eq!(head.status(), 403);
    assert_eq!(json(&body)["error"]["type"], "permission_error");
    // DNS rebinding: the page's own name resolves to 127.0.0.1, so its Host is foreign.
    let rebound = http::Request::post("/v1/messages")
        .header("host", "attacker.example:8081")
        .header("x-api-key", "k")
        .header("anthropic-version", "2023-06-01")
        .body(Default::default())
        .unwrap();
    let (head, _) = fetch(proxy.addr, rebound).await;
    assert_eq!(head.status(), 403);
    let (head, _) = fetch(proxy.addr, post_json("/v1/../../admin", "{}", OPENAI)).await;
    assert_eq!(head.status(), 400);
    let (head, _) = fetch(proxy.addr, post_json("/v1/%2e%2e/admin", "{}", OPENAI)).await;
    assert_eq!(head.status(), 400);
    assert!(
        a.requests().is_empty() && o.requests().is_empty(),
        "a refused request reached a provider"
    );

    // Local pages and plain clients are served.
    let local = [
        ("authorization", "Bearer x"),
        ("origin", "http://localhost:3000"),
    ];
    let (head, _) = fetch(proxy.addr, post_json("/v1/chat/completions", "{}", &local)).await;
    assert_eq!(head.status(), 200);
    let (head, body) = fetch(
        proxy.addr,
        http::Request::head("/healthz")
            .header("host", "127.0.0.1")
            .body(Default::default())
            .unwrap(),
    )
    .await;
    assert_eq!(head.status(), 200);
    assert!(body.is_empty());
    assert_eq!(
        head.headers()["content-length"],
        r#"{"status":"ok"}"#.len().to_string().as_str()
    );
}

/// The search API without a store to read (recording off here, or compiled out in the slim build):
/// a clear 501 in JSON, never a request to a provider.
#[tokio::test]
async fn search_without_recording_says_why() {
    let (a, o) = two_mocks().await;
    let proxy = spawn_proxy(config_for(&a, &o)).await;
    for path in ["/sessions", "/sessions/x", "/stats?days=1"] {
        let (head, body) = fetch(proxy.addr, get(path, &[])).await;
        assert_eq!(head.status(), 501, "{path}");
        assert!(json(&body).to_string().contains("not available"), "{path}");
    }
    assert!(a.requests().is_empty() && o.requests().is_empty());
}
