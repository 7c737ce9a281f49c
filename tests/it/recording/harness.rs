//! What the recorder stress tests share: the real binary started with recording into a temp
//! directory and providers pointed at a mock, its stderr as a `Log` with bounded waits, a client
//! whose failures are values (the server may be killed under it), and readers for what the
//! recorder left on disk (JSONL lines, `requests` rows).

use crate::support::process::{server, start, Guard, TempHome};
use crate::support::MockHandle;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// A throw-away HOME holding the JSONL directory and the SQLite database of one run.
pub struct RecordingHome {
    pub home: TempHome,
    pub sessions: PathBuf,
    pub db: PathBuf,
}

impl RecordingHome {
    pub fn new() -> Self {
        let home = TempHome::new();
        let sessions = home.path().join("sessions");
        // Not under `sessions`: the unwritable-directory test breaks that one alone.
        let db = home.path().join("db").join("sessions.db");
        Self { home, sessions, db }
    }

    /// Starts `lunaroute-server` on 127.0.0.1:0 with recording on, both providers at `mock`.
    pub fn start(&self, mock: &MockHandle) -> Running {
        self.start_with(mock, &[])
    }

    /// `start`, with these environment variables on top.
    pub fn start_with(&self, mock: &MockHandle, env: &[(&str, &str)]) -> Running {
        let mut cmd = server(&self.home);
        cmd.args(["--port", "0"])
            .env("LUNAROUTE_HOST", "127.0.0.1")
            .env("LUNAROUTE_ENABLE_SESSION_RECORDING", "true")
            .env("LUNAROUTE_SESSIONS_DIR", &self.sessions)
            .env("LUNAROUTE_SESSIONS_DB_PATH", &self.db)
            .env("LUNAROUTE_ANTHROPIC_BASE_URL", mock.url())
            .env("LUNAROUTE_OPENAI_BASE_URL", format!("{}/v1", mock.url()))
            .envs(env.iter().copied());
        let (guard, addr, seen, lines) = start(&mut cmd);
        let addr = addr
            .parse()
            .unwrap_or_else(|e| panic!("listening address {addr}: {e}"));
        Running {
            guard,
            addr,
            log: Log::new(seen, lines),
        }
    }
}

pub struct Running {
    pub guard: Guard,
    pub addr: SocketAddr,
    pub log: Log,
}

// === impl Log ===

/// The server's stderr as it arrives: what was seen so far, and bounded waits for more.
pub struct Log {
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Log {
    pub fn new(seen: Vec<String>, lines: mpsc::Receiver<String>) -> Self {
        Self { lines, seen }
    }

    /// Takes every line that has arrived by now.
    pub fn drain(&mut self) {
        self.seen.extend(self.lines.try_iter());
    }

    /// Waits until a line (seen before or arriving within `within`) matches; returns it.
    pub fn wait_for(&mut self, within: Duration, matches: impl Fn(&str) -> bool) -> Option<String> {
        self.drain();
        if let Some(line) = self.seen.iter().find(|l| matches(l)) {
            return Some(line.clone());
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).ok()?;
            let hit = matches(&line);
            self.seen.push(line);
            if hit {
                return self.seen.last().cloned();
            }
        }
    }

    /// Reads until stderr closes (the process exited), at most `within`.
    pub fn wait_closed(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => return,
            }
        }
    }

    /// Lines seen so far that match.
    pub fn count(&self, matches: impl Fn(&str) -> bool) -> usize {
        self.seen.iter().filter(|l| matches(l)).count()
    }

    pub fn text(&self) -> String {
        self.seen.join("\n")
    }
}

// === client ===

/// A streaming Anthropic Messages request for `session`.
pub fn messages_request(session: &str) -> Request<Full<Bytes>> {
    let body = format!(
        r#"{{"model":"claude-sonnet-4-6","max_tokens":64,"stream":true,"messages":[{{"role":"user","content":"hello from {session}"}}]}}"#
    );
    Request::post("/v1/messages")
        .header("host", "localhost")
        .header("content-type", "application/json")
        .header("x-api-key", "sk-ant-stress-test")
        .header("anthropic-version", "2023-06-01")
        .header("x-claude-code-session-id", session)
        .body(Full::new(Bytes::from(body)))
        .expect("a valid request")
}

/// Sends on a fresh connection and returns the response head; failures (refused, reset, no answer
/// within `within`) are errors, not panics: the server may be gone.
pub async fn try_send(
    addr: SocketAddr,
    req: Request<Full<Bytes>>,
    within: Duration,
) -> Result<Response<Incoming>, String> {
    let attempt = async {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        sender
            .send_request(req)
            .await
            .map_err(|e| format!("request: {e}"))
    };
    tokio::time::timeout(within, attempt)
        .await
        .map_err(|_| format!("no response within {within:?}"))?
}

/// Reads the rest of a body; an error or a body that takes longer than `within` is an error.
pub async fn try_collect(body: Incoming, within: Duration) -> Result<Bytes, String> {
    match tokio::time::timeout(within, body.collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) => Err(format!("body: {e}")),
        Err(_) => Err(format!("body not complete within {within:?}")),
    }
}

/// The whole exchange: status 200 and the body, or why not.
pub async fn try_fetch(addr: SocketAddr, session: &str, within: Duration) -> Result<Bytes, String> {
    let started = Instant::now();
    let response = try_send(addr, messages_request(session), within).await?;
    if response.status() != 200 {
        return Err(format!("status {}", response.status()));
    }
    try_collect(
        response.into_body(),
        within.saturating_sub(started.elapsed()),
    )
    .await
}

/// The fixture's SSE events, one piece each (so a mock can space or gate them).
pub fn sse_events(stream: &[u8]) -> Vec<Bytes> {
    let text = std::str::from_utf8(stream).expect("UTF-8 fixture");
    text.split_inclusive("\n\n")
        .map(|event| Bytes::copy_from_slice(event.as_bytes()))
        .collect()
}

// === what is on disk ===

/// Every JSONL file under `dir`, recursively.
pub fn jsonl_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    // Bounded: the recorder's layout is two levels deep; a runaway walk would be a bug.
    for _ in 0..10_000 {
        let Some(next) = pending.pop() else { break };
        let Ok(entries) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "jsonl") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// What the JSONL files hold.
#[derive(Default)]
pub struct JsonlScan {
    /// `session_id` → the `final_stats` objects of its `response` lines.
    pub final_stats: HashMap<String, Vec<serde_json::Value>>,
    /// Last lines cut short (no newline, not JSON): what a crash may leave behind.
    pub torn: usize,
}

/// Reads every JSONL file under `dir`. Every line must parse as JSON, except a file's last line
/// when it has no newline (a write cut short by `kill -9`).
pub fn scan_jsonl(dir: &Path) -> JsonlScan {
    let mut scan = JsonlScan::default();
    for file in jsonl_files(dir) {
        let bytes =
            std::fs::read(&file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        let complete = bytes.ends_with(b"\n");
        let lines: Vec<&[u8]> = bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        for (i, line) in lines.iter().enumerate() {
            let value: serde_json::Value = match serde_json::from_slice(line) {
                Ok(value) => value,
                Err(_) if !complete && i + 1 == lines.len() => {
                    scan.torn += 1;
                    continue;
                }
                Err(e) => panic!(
                    "{} line {}: not JSON ({e}): {}",
                    file.display(),
                    i + 1,
                    String::from_utf8_lossy(line)
                ),
            };
            if let (Some(session), Some(stats)) =
                (value["session_id"].as_str(), value.get("final_stats"))
            {
                scan.final_stats
                    .entry(session.to_string())
                    .or_default()
                    .push(stats.clone());
            }
        }
    }
    scan
}

/// `(session_id, outcome)` of every `requests` row, read over a connection of our own.
pub fn request_rows(db: &Path) -> Vec<(String, String)> {
    let conn =
        rusqlite::Connection::open(db).unwrap_or_else(|e| panic!("opening {}: {e}", db.display()));
    conn.busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    let mut stmt = conn
        .prepare("SELECT session_id, outcome FROM requests")
        .expect("query requests");
    let rows = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .expect("read requests");
    rows
}

/// Polls `check` every 20 ms until it holds or `within` passes; returns whether it held.
pub fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
