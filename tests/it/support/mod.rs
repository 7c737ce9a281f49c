//! Shared test support: the mock provider, an in-process proxy on 127.0.0.1:0, a plain HTTP/1.1
//! client that shows frames as they arrive, fixture loading, and (`process`) the real binary as a
//! subprocess.

pub mod mock;
pub mod process;
pub mod sdk_fixtures;

pub use mock::{split_at, Body, MockHandle, MockUpstream, Recorded, Reply};
pub use sdk_fixtures::sdk_fixture_for;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use lunaroute::config::Config;
use lunaroute::server;
use lunaroute::state::AppState;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

pub fn fixture(path: &str) -> Bytes {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    Bytes::from(std::fs::read(&full).unwrap_or_else(|e| panic!("fixture {full}: {e}")))
}

/// A config whose providers both point at the given mock(s), with client credentials passed through
/// and recording off.
pub fn config_for(anthropic: &MockHandle, openai: &MockHandle) -> Config {
    let mut config = Config::default();
    config.providers.anthropic.base_url = Some(anthropic.url());
    config.providers.openai.base_url = Some(format!("{}/v1", openai.url()));
    // Never write into the developer's ~/.lunaroute; recording tests turn it on with a temp dir.
    config.session_recording.enabled = false;
    config
}

pub struct Proxy {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

pub async fn spawn_proxy(config: Config) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = AppState::new(config).expect("test config is valid");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server::run(vec![listener], state, async {
        let _ = rx.await;
    }));
    Proxy {
        addr,
        shutdown: Some(tx),
        task: Some(task),
    }
}

impl Proxy {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Triggers graceful shutdown; the returned handle finishes when the server has drained.
    pub fn shutdown(&mut self) -> tokio::task::JoinHandle<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.take().expect("shutdown called twice")
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// One request on a fresh HTTP/1.1 connection (no pool, so connection-level effects are visible).
pub async fn send(addr: SocketAddr, req: Request<Full<Bytes>>) -> Response<Incoming> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    tokio::time::timeout(Duration::from_secs(30), sender.send_request(req))
        .await
        .expect("response within 30 s")
        .expect("response")
}

/// Sends and collects the whole body.
pub async fn fetch(addr: SocketAddr, req: Request<Full<Bytes>>) -> (Response<()>, Bytes) {
    let response = send(addr, req).await;
    let (head, body) = response.into_parts();
    let bytes = tokio::time::timeout(Duration::from_secs(30), body.collect())
        .await
        .expect("body within 30 s")
        .expect("body")
        .to_bytes();
    (Response::from_parts(head, ()), bytes)
}

/// A POST with a JSON body and the given headers.
pub fn post_json(
    path: &str,
    body: impl Into<Bytes>,
    headers: &[(&str, &str)],
) -> Request<Full<Bytes>> {
    let mut builder = Request::post(path)
        .header("host", "localhost")
        .header("content-type", "application/json");
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder.body(Full::new(body.into())).unwrap()
}

pub fn get(path: &str, headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut builder = Request::get(path).header("host", "localhost");
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder.body(Full::new(Bytes::new())).unwrap()
}

/// Reads the next data frame of a streaming body, or `None` at its end; panics after `within`.
pub async fn next_data(body: &mut Incoming, within: Duration) -> Option<Bytes> {
    loop {
        let frame = tokio::time::timeout(within, body.frame())
            .await
            .expect("a frame in time")?;
        if let Ok(data) = frame.expect("body frame").into_data() {
            return Some(data);
        }
    }
}

/// An Anthropic `POST /v1/messages` whose body is `chunks` pieces of 700 bytes sent chunked (no
/// content-length, so a size limit can only be enforced as it streams); the start of the answer
/// as text. `headers` are extra `name: value\r\n` lines.
pub async fn post_chunked(addr: SocketAddr, headers: &str, chunks: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut raw = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: localhost\r\nx-api-key: k\r\n\
         anthropic-version: 2023-06-01\r\n{headers}transfer-encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    let chunk = vec![b'y'; 700];
    for _ in 0..chunks {
        raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        raw.extend_from_slice(&chunk);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    stream.write_all(&raw).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("an answer in time")
        .unwrap();
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

pub fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}
