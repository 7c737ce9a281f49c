//! The official Python SDKs (`anthropic`, `openai`, pinned in tests/sdk/requirements.txt) run
//! tests/sdk/check_*.py through the proxy against the fixture mock (tests/sdk/README.md), and the
//! mock's log shows each SDK call arrived as the SDK sent it.
//!
//! `cargo test` provides what the scripts need by itself: a virtualenv at `<target>/sdk-venv`,
//! built once and reused while requirements.txt is unchanged, so a fresh machine needs only Rust
//! and Python 3. A missing python3 fails these tests; it never skips them.

use crate::support::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use venv::{requirements_path, run_bounded, sdk_python};

#[cfg(feature = "translate")]
mod translated;
mod venv;

/// One check script: interpreter start, SDK import, 6–10 calls against a local mock.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

// The fake keys hard-coded in check_anthropic.py / check_openai.py.
const ANTHROPIC_KEY: &str = "sk-ant-api03-lunaroute-fake-key-000000000000";
const OPENAI_KEY: &str = "sk-lunaroute-fake-key-000000000000";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_anthropic_messages_tools_stream_count_models() {
    let seen = run_direct_and_proxied("check_anthropic.py").await;
    assert_eq!(
        fixtures_chosen(&seen),
        [
            "anthropic/messages_tool.json",
            "anthropic/messages_tool.sse",
            "anthropic/messages_text.json",
            "anthropic/messages_text.sse",
            "anthropic/count_tokens.json",
            "anthropic/models.json",
        ],
        "the SDK calls, in order, as the mock saw them (path, `stream`, tool_result)"
    );
    let version = pinned("anthropic");
    let bearer = format!("Bearer {ANTHROPIC_KEY}");
    for r in &seen {
        let what = format!("{} {}", r.method, r.uri);
        // The SDK's own key reached the provider, in whichever header this SDK version uses.
        let key = (r.header("x-api-key"), r.header("authorization"));
        assert!(
            key == (Some(ANTHROPIC_KEY), None) || key == (None, Some(&bearer)),
            "{what}: credential {key:?}"
        );
        assert!(
            r.header("anthropic-version").is_some_and(|v| !v.is_empty()),
            "{what}: anthropic-version"
        );
        assert_eq!(
            r.header("x-stainless-package-version"),
            Some(version.as_str()),
            "{what}: the pinned SDK"
        );
        if r.method == "POST" {
            assert_eq!(r.json()["model"], "claude-sonnet-4-6", "{what}: body");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_openai_chat_responses_tools_stream_models() {
    let seen = run_direct_and_proxied("check_openai.py").await;
    assert_eq!(
        fixtures_chosen(&seen),
        [
            "openai/chat_tool.json",
            "openai/chat_tool.sse",
            "openai/chat_text.json",
            "openai/chat_text.sse",
            "openai/responses_tool.json",
            "openai/responses_tool.sse",
            "openai/responses_tool.sse",
            "openai/responses_text.json",
            "openai/responses_text.sse",
            "openai/models.json",
        ],
        "the SDK calls, in order, as the mock saw them (path, `stream`, tool results)"
    );
    let version = pinned("openai");
    let bearer = format!("Bearer {OPENAI_KEY}");
    for r in &seen {
        let what = format!("{} {}", r.method, r.uri);
        assert_eq!(
            r.header("authorization"),
            Some(bearer.as_str()),
            "{what}: the SDK's key"
        );
        assert_eq!(
            (r.header("anthropic-version"), r.header("x-api-key")),
            (None, None),
            "{what}"
        );
        assert_eq!(
            r.header("x-stainless-package-version"),
            Some(version.as_str()),
            "{what}: the pinned SDK"
        );
        if r.method == "POST" {
            assert_eq!(r.json()["model"], "gpt-5.4-mini", "{what}: body");
        }
    }
    // `stream_options` is how Chat asks for the usage chunk; it must reach the provider.
    assert_eq!(seen[1].json()["stream_options"]["include_usage"], true);
}

// === running the scripts ===

/// Runs `script` straight at one mock, then through the proxy at another, and checks that the
/// second mock saw what the first did: same calls, body bytes and end-to-end headers. Returns
/// what the proxied mock saw.
async fn run_direct_and_proxied(script: &str) -> Vec<Recorded> {
    let direct = MockUpstream::sdk_fixtures().start().await;
    run_check(
        script,
        direct.url(),
        "straight at the mock, without the proxy",
    )
    .await;
    let mock = MockUpstream::sdk_fixtures().start().await;
    let proxy = spawn_proxy(config_for(&mock, &mock)).await;
    run_check(script, proxy.url(), "through the proxy").await;

    let (sent, seen) = (direct.requests(), mock.requests());
    assert_eq!(
        fixtures_chosen(&seen),
        fixtures_chosen(&sent),
        "calls through the proxy vs direct"
    );
    for (d, p) in sent.iter().zip(&seen) {
        let what = format!("{} {}", d.method, d.uri);
        assert_eq!((&p.method, &p.uri), (&d.method, &d.uri), "{what}");
        assert!(
            p.body == d.body,
            "{what}: body bytes differ\n direct: {:?}\nproxied: {:?}",
            d.body,
            p.body
        );
        assert_eq!(
            end_to_end(&p.headers),
            end_to_end(&d.headers),
            "{what}: headers through the proxy vs direct"
        );
    }
    seen
}

/// Headers minus the ones a proxy owns (Host, hop-by-hop), sorted for comparison.
fn end_to_end(headers: &http::HeaderMap) -> Vec<(String, String)> {
    const HOP: &[&str] = &[
        "host",
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ];
    let mut out: Vec<_> = headers
        .iter()
        .filter(|(name, _)| !HOP.contains(&name.as_str()))
        .map(|(name, value)| {
            (
                name.to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Runs tests/sdk/<script> with the venv's python against `url`; panics with its output unless
/// it exits 0.
async fn run_check(script: &str, url: String, how: &str) {
    let sdk_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk");
    let script_path = sdk_dir.join(script);
    // Blocking (venv build, child wait) goes to the blocking pool so the in-process proxy and
    // mock keep serving on the runtime's workers.
    let out = tokio::task::spawn_blocking(move || {
        let python = sdk_python()?;
        let mut cmd = Command::new(python);
        cmd.arg(&script_path).env_clear();
        // Only what an interpreter needs: a developer's ANTHROPIC_AUTH_TOKEN, HTTP(S)_PROXY or
        // PYTHONPATH must not change what the SDK sends or where it connects. NO_PROXY also
        // covers the system proxy settings httpx reads on macOS and Windows.
        for name in ["PATH", "HOME", "TMPDIR", "SYSTEMROOT", "LANG", "LC_ALL"] {
            if let Some(value) = std::env::var_os(name) {
                cmd.env(name, value);
            }
        }
        cmd.env("LUNAROUTE_URL", &url)
            .env("LUNAROUTE_FIXTURES", sdk_dir.join("../fixtures"))
            .env("PYTHONIOENCODING", "utf-8")
            .env("NO_PROXY", "*")
            .env("no_proxy", "*");
        run_bounded(cmd, SCRIPT_TIMEOUT).map_err(|e| format!("starting {script_path:?}: {e}"))
    })
    .await
    .expect("the script runner panicked");
    match out {
        Ok(out) if out.success() => {}
        Ok(out) => panic!("{}", out.report(&format!("tests/sdk/{script} {how}"))),
        Err(e) => panic!("{e}"),
    }
}

/// Which fixture the mock served for each request it saw, in order.
fn fixtures_chosen(seen: &[Recorded]) -> Vec<String> {
    let name = |r: &Recorded| {
        sdk_fixture_for(r).unwrap_or_else(|| format!("no fixture: {} {}", r.method, r.uri))
    };
    seen.iter().map(name).collect()
}

/// The version requirements.txt pins for `package` (`anthropic==X` → `X`).
fn pinned(package: &str) -> String {
    let requirements =
        std::fs::read_to_string(requirements_path()).expect("tests/sdk/requirements.txt");
    let prefix = format!("{package}==");
    let line = requirements
        .lines()
        .find_map(|l| l.trim().strip_prefix(prefix.as_str()).map(str::to_owned));
    line.unwrap_or_else(|| panic!("requirements.txt pins no {package}"))
}
