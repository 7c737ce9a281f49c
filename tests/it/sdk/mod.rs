//! The official Python SDKs (`anthropic`, `openai`, pinned in tests/sdk/requirements.txt) run
//! tests/sdk/check_*.py through the proxy against the fixture mock (tests/sdk/README.md), and the
//! mock's log shows each SDK call arrived as the SDK sent it.
//!
//! `cargo test` provides what the scripts need by itself: a virtualenv at `<target>/sdk-venv`,
//! built once and reused while requirements.txt is unchanged, so a fresh machine needs only Rust
//! and Python 3. A missing python3 fails these tests; it never skips them.

use crate::support::*;
use serde_json::json;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// `python3 -m venv` plus `pip install` together, on a cold pip cache and a slow network.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);
/// One check script: interpreter start, SDK import, 6–10 calls against a local mock.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);
/// Inside the venv; holds the requirements.txt it was built from.
const MARKER: &str = "lunaroute-requirements.txt";

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
        assert!(key == (Some(ANTHROPIC_KEY), None) || key == (None, Some(&bearer)), "{what}: credential {key:?}");
        assert!(r.header("anthropic-version").is_some_and(|v| !v.is_empty()), "{what}: anthropic-version");
        assert_eq!(r.header("x-stainless-package-version"), Some(version.as_str()), "{what}: the pinned SDK");
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
        assert_eq!(r.header("authorization"), Some(bearer.as_str()), "{what}: the SDK's key");
        assert_eq!((r.header("anthropic-version"), r.header("x-api-key")), (None, None), "{what}");
        assert_eq!(r.header("x-stainless-package-version"), Some(version.as_str()), "{what}: the pinned SDK");
        if r.method == "POST" {
            assert_eq!(r.json()["model"], "gpt-5.4-mini", "{what}: body");
        }
    }
    // `stream_options` is how Chat asks for the usage chunk; it must reach the provider.
    assert_eq!(seen[1].json()["stream_options"]["include_usage"], true);
}

/// The README's table, row by row, without Python: the mock the SDK tests rely on.
#[test]
fn sdk_mock_follows_the_fixture_rule() {
    let req = |method: &str, uri: &str, headers: &[(&'static str, &str)], body: serde_json::Value| Recorded {
        method: method.into(),
        uri: uri.into(),
        headers: headers.iter().map(|(k, v)| (http::HeaderName::from_static(k), v.parse().unwrap())).collect(),
        body: if body.is_null() { Default::default() } else { body.to_string().into() },
    };
    let tool_result = json!([{"type": "tool_result", "tool_use_id": "t", "content": "x"}]);
    let cases = [
        (req("POST", "/v1/messages", &[], json!({"messages": [{"role": "user", "content": "hi"}]})), Some("anthropic/messages_tool.json")),
        (req("POST", "/v1/messages", &[], json!({"stream": true, "messages": []})), Some("anthropic/messages_tool.sse")),
        (req("POST", "/v1/messages", &[], json!({"stream": false, "messages": [{"role": "user", "content": tool_result}]})), Some("anthropic/messages_text.json")),
        // Only the last message counts.
        (req("POST", "/v1/messages", &[], json!({"messages": [{"role": "user", "content": tool_result}, {"role": "user", "content": "more"}]})), Some("anthropic/messages_tool.json")),
        (req("POST", "/v1/chat/completions", &[], json!({"stream": true, "messages": [{"role": "tool", "content": "x"}]})), Some("openai/chat_text.sse")),
        (req("POST", "/v1/chat/completions", &[], json!({"messages": [{"role": "user", "content": "hi"}]})), Some("openai/chat_tool.json")),
        (req("POST", "/v1/responses", &[], json!({"input": "hi"})), Some("openai/responses_tool.json")),
        (req("POST", "/v1/responses", &[], json!({"stream": true, "input": [{"type": "function_call_output"}]})), Some("openai/responses_text.sse")),
        (req("POST", "/v1/messages/count_tokens", &[], json!({"messages": []})), Some("anthropic/count_tokens.json")),
        (req("GET", "/v1/models?limit=20", &[("anthropic-version", "2023-06-01")], json!(null)), Some("anthropic/models.json")),
        (req("GET", "/v1/models", &[], json!(null)), Some("openai/models.json")),
        (req("GET", "/v1/messages", &[], json!(null)), None),
    ];
    for (r, expected) in cases {
        assert_eq!(sdk_fixture_for(&r).as_deref(), expected, "{} {} {}", r.method, r.uri, String::from_utf8_lossy(&r.body));
    }
}

// === running the scripts ===

/// Runs `script` straight at one mock, then through the proxy at another, and checks that the
/// second mock saw what the first did: same calls, body bytes and end-to-end headers. Returns
/// what the proxied mock saw.
async fn run_direct_and_proxied(script: &str) -> Vec<Recorded> {
    let direct = MockUpstream::sdk_fixtures().start().await;
    run_check(script, direct.url(), "straight at the mock, without the proxy").await;
    let mock = MockUpstream::sdk_fixtures().start().await;
    let proxy = spawn_proxy(config_for(&mock, &mock)).await;
    run_check(script, proxy.url(), "through the proxy").await;

    let (sent, seen) = (direct.requests(), mock.requests());
    assert_eq!(fixtures_chosen(&seen), fixtures_chosen(&sent), "calls through the proxy vs direct");
    for (d, p) in sent.iter().zip(&seen) {
        let what = format!("{} {}", d.method, d.uri);
        assert_eq!((&p.method, &p.uri), (&d.method, &d.uri), "{what}");
        assert!(p.body == d.body, "{what}: body bytes differ\n direct: {:?}\nproxied: {:?}", d.body, p.body);
        assert_eq!(end_to_end(&p.headers), end_to_end(&d.headers), "{what}: headers through the proxy vs direct");
    }
    seen
}

/// Headers minus the ones a proxy owns (Host, hop-by-hop), sorted for comparison.
fn end_to_end(headers: &http::HeaderMap) -> Vec<(String, String)> {
    const HOP: &[&str] =
        &["host", "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"];
    let mut out: Vec<_> = headers
        .iter()
        .filter(|(name, _)| !HOP.contains(&name.as_str()))
        .map(|(name, value)| (name.to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    out.sort();
    out
}

/// Runs tests/sdk/<script> with the venv's python against `url`; panics with its output unless it exits 0.
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
        // PYTHONPATH must not change what the SDK sends or where it connects.
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
    let name = |r: &Recorded| sdk_fixture_for(r).unwrap_or_else(|| format!("no fixture: {} {}", r.method, r.uri));
    seen.iter().map(name).collect()
}

/// The version requirements.txt pins for `package` (`anthropic==X` → `X`).
fn pinned(package: &str) -> String {
    let requirements = std::fs::read_to_string(requirements_path()).expect("tests/sdk/requirements.txt");
    let prefix = format!("{package}==");
    let line = requirements.lines().find_map(|l| l.trim().strip_prefix(prefix.as_str()).map(str::to_owned));
    line.unwrap_or_else(|| panic!("requirements.txt pins no {package}"))
}

// === the virtualenv ===

/// The venv's python, building the venv on first use. One build per test process: parallel tests
/// wait here, and a failure is reported to every test instead of being retried.
fn sdk_python() -> Result<PathBuf, String> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let started = Instant::now();
            let python = ensure_venv();
            eprintln!("sdk venv ready in {:.1?}: {python:?}", started.elapsed());
            python
        })
        .clone()
}

fn requirements_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/requirements.txt")
}

fn python_in(venv: &Path) -> PathBuf {
    venv.join(if cfg!(windows) { "Scripts/python.exe" } else { "bin/python" })
}

fn is_ready(venv: &Path, requirements: &str) -> bool {
    let marker = std::fs::read_to_string(venv.join(MARKER));
    marker.is_ok_and(|m| m == requirements) && python_in(venv).exists()
}

/// `<target>/sdk-venv` with requirements.txt installed. A new venv is built beside it as
/// `sdk-venv.partial-<pid>` and renamed into place when complete, so an interrupted build never
/// looks ready and two test processes never write into the same directory.
fn ensure_venv() -> Result<PathBuf, String> {
    let requirements_file = requirements_path();
    let requirements = std::fs::read_to_string(&requirements_file).map_err(|e| format!("{requirements_file:?}: {e}"))?;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    // `join` keeps an absolute CARGO_TARGET_DIR as it is and resolves a relative one from the manifest.
    let target = manifest.join(std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into()));
    let venv = target.join("sdk-venv");
    if is_ready(&venv, &requirements) {
        return Ok(python_in(&venv));
    }
    std::fs::create_dir_all(&target).map_err(|e| format!("creating {target:?}: {e}"))?;
    remove_stale_partials(&target);
    let partial = target.join(format!("sdk-venv.partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    let built = build_venv(&partial, &requirements_file)
        .and_then(|()| std::fs::write(partial.join(MARKER), &requirements).map_err(|e| format!("writing marker: {e}")));
    if let Err(e) = built {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(e);
    }
    // A venv with other requirements (or half deleted) is replaced only now that ours works.
    let _ = std::fs::remove_dir_all(&venv);
    match std::fs::rename(&partial, &venv) {
        Ok(()) => Ok(python_in(&venv)),
        // Another test process renamed its venv first; it is just as good.
        Err(_) if is_ready(&venv, &requirements) => {
            let _ = std::fs::remove_dir_all(&partial);
            Ok(python_in(&venv))
        }
        Err(e) => Err(format!("renaming {partial:?} to {venv:?}: {e}")),
    }
}

fn build_venv(dir: &Path, requirements_file: &Path) -> Result<(), String> {
    let deadline = Instant::now() + INSTALL_TIMEOUT;
    let mut venv = Command::new("python3");
    venv.args(["-m", "venv"]).arg(dir);
    let out = run_bounded(venv, INSTALL_TIMEOUT).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "python3 is not on PATH: the SDK tests (tests/sdk/README.md) need \
                                         Python 3 with its venv module to build target/sdk-venv"
            .to_string(),
        _ => format!("running python3 -m venv: {e}"),
    })?;
    if !out.success() {
        return Err(out.report(&format!("python3 -m venv {dir:?}")));
    }
    let mut pip = Command::new(python_in(dir));
    pip.args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--quiet", "-r"])
        .arg(requirements_file);
    let out = run_bounded(pip, deadline.saturating_duration_since(Instant::now()))
        .map_err(|e| format!("running pip in {dir:?}: {e}"))?;
    if !out.success() {
        return Err(out.report(&format!("pip install -r {requirements_file:?}")));
    }
    Ok(())
}

/// Partial venvs left by a killed test process; a live build is at most INSTALL_TIMEOUT old.
fn remove_stale_partials(target: &Path) {
    let Ok(entries) = std::fs::read_dir(target) else { return };
    for entry in entries.flatten() {
        let age = entry.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
        let partial = entry.file_name().to_string_lossy().starts_with("sdk-venv.partial-");
        if partial && age.is_some_and(|age| age > 4 * INSTALL_TIMEOUT) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

// === bounded child processes ===

struct Finished {
    /// `None`: killed at the timeout.
    status: Option<ExitStatus>,
    elapsed: Duration,
    stdout: String,
    stderr: String,
}

impl Finished {
    fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    fn report(&self, what: &str) -> String {
        let how = match self.status {
            Some(status) => format!("exited with {status} after {:.1?}", self.elapsed),
            None => format!("was killed after {:.1?} (timeout)", self.elapsed),
        };
        format!("{what} {how}\n--- stdout ---\n{}\n--- stderr ---\n{}", self.stdout, self.stderr)
    }
}

/// Runs `cmd` with its output captured, killing it once `timeout` has passed.
fn run_bounded(mut cmd: Command, timeout: Duration) -> std::io::Result<Finished> {
    let started = Instant::now();
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    // Drained on threads so a chatty child never blocks on a full pipe while we wait for it.
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() >= timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(Finished {
        status,
        elapsed: started.elapsed(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}
