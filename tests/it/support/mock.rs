//! `MockUpstream`: an in-process provider on 127.0.0.1:0 that answers each path with a scripted
//! `Reply`, records every request it receives (headers and body bytes) and counts connections, so
//! tests can see exactly what the proxy sent and when it hung up.

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify, Semaphore};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type MockBody = http_body_util::combinators::BoxBody<Bytes, BoxError>;

/// What the mock received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Clone)]
pub enum Body {
    /// One piece with a content-length.
    Full(Bytes),
    /// Chunked, one frame per piece, `delay` before each piece after the first.
    Chunks(Vec<Bytes>, Duration),
    /// Chunked; each piece waits for one permit on the gate.
    Gated(Vec<Bytes>, Arc<Semaphore>),
    /// These pieces, then the connection is torn down mid-body.
    FailAfter(Vec<Bytes>),
    /// These pieces, then silence forever.
    StallAfter(Vec<Bytes>),
    /// Never answer at all (not even headers).
    Hang,
    /// Accept a WebSocket upgrade; answer the n-th client text frame with the n-th list (the last
    /// list again once they run out).
    WebSocketTurns(Vec<Vec<String>>),
}

#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Body {
    /// Accept a WebSocket upgrade; answer every client text frame with these text frames.
    pub fn websocket(frames: Vec<String>) -> Self {
        Self::WebSocketTurns(vec![frames])
    }
}

impl Reply {
    pub fn new(status: u16, content_type: &str, body: Body) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body,
        }
    }
    pub fn json(bytes: impl Into<Bytes>) -> Self {
        Self::new(200, "application/json", Body::Full(bytes.into()))
    }
    pub fn sse(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        Self::new(
            200,
            "text/event-stream",
            Body::Chunks(vec![bytes], Duration::ZERO),
        )
    }
    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    pub fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }
}

/// Cuts `bytes` into pieces at the given offsets (for split-event tests).
pub fn split_at(bytes: &[u8], cuts: &[usize]) -> Vec<Bytes> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for &cut in cuts {
        let cut = cut.min(bytes.len());
        if cut > start {
            pieces.push(Bytes::copy_from_slice(&bytes[start..cut]));
            start = cut;
        }
    }
    pieces.push(Bytes::copy_from_slice(&bytes[start..]));
    pieces
}

type Responder = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

#[derive(Default)]
pub struct MockUpstream {
    routes: Vec<(String, Responder)>,
}

pub struct MockHandle {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    ws_frames: Arc<Mutex<Vec<String>>>,
    ws_ended: Arc<AtomicUsize>,
    opened: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
    closed_notify: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl MockUpstream {
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers requests whose path (no query) equals `path`; `"*"` matches anything.
    pub fn route(self, path: &str, reply: Reply) -> Self {
        self.route_fn(path, move |_| reply.clone())
    }

    pub fn route_fn(
        mut self,
        path: &str,
        f: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) -> Self {
        self.routes.push((path.to_string(), Arc::new(f)));
        self
    }

    pub async fn start(self) -> MockHandle {
        self.start_on(TcpListener::bind("127.0.0.1:0").await.unwrap())
    }

    /// Starts on a given address (a provider coming back on the port it had before).
    pub async fn start_at(self, addr: SocketAddr) -> MockHandle {
        self.start_on(TcpListener::bind(addr).await.unwrap())
    }

    fn start_on(self, listener: TcpListener) -> MockHandle {
        let addr = listener.local_addr().unwrap();
        let routes = Arc::new(self.routes);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let ws_frames = Arc::new(Mutex::new(Vec::new()));
        let ws_ended = Arc::new(AtomicUsize::new(0));
        let (opened, closed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let closed_notify = Arc::new(Notify::new());
        let handle_parts = (
            requests.clone(),
            ws_frames.clone(),
            ws_ended.clone(),
            opened.clone(),
            closed.clone(),
            closed_notify.clone(),
        );
        let task = tokio::spawn(async move {
            let (requests, ws_frames, ws_ended, opened, closed, closed_notify) = handle_parts;
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                // Like a real provider: small SSE writes must not wait for delayed ACKs.
                let _ = stream.set_nodelay(true);
                opened.fetch_add(1, Ordering::SeqCst);
                let (routes, requests, ws_frames) =
                    (routes.clone(), requests.clone(), ws_frames.clone());
                let (closed, closed_notify, ws_ended) =
                    (closed.clone(), closed_notify.clone(), ws_ended.clone());
                let ws = WsTracking {
                    frames: ws_frames,
                    ended: ws_ended,
                    notify: closed_notify.clone(),
                };
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        handle(routes.clone(), requests.clone(), ws.clone(), req)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                    closed.fetch_add(1, Ordering::SeqCst);
                    closed_notify.notify_waiters();
                });
            }
        });
        MockHandle {
            addr,
            requests,
            ws_frames,
            ws_ended,
            opened,
            closed,
            closed_notify,
            task,
        }
    }
}

impl MockHandle {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
    pub fn last(&self) -> Recorded {
        self.requests().pop().expect("the mock received no request")
    }
    pub fn ws_frames(&self) -> Vec<String> {
        self.ws_frames.lock().unwrap().clone()
    }
    pub fn connections_opened(&self) -> usize {
        self.opened.load(Ordering::SeqCst)
    }
    pub fn connections_closed(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }
    /// WebSocket sessions the mock has seen end (the peer closed or the socket dropped).
    pub fn websockets_ended(&self) -> usize {
        self.ws_ended.load(Ordering::SeqCst)
    }
    /// Waits until at least `n` connections have closed, or `within` passes; returns whether they did.
    pub async fn wait_closed(&self, n: usize, within: Duration) -> bool {
        self.wait_for(|m| m.connections_closed() >= n, within).await
    }
    /// Waits until at least `n` WebSocket sessions have ended, or `within` passes.
    pub async fn wait_websockets_ended(&self, n: usize, within: Duration) -> bool {
        self.wait_for(|m| m.websockets_ended() >= n, within).await
    }
    async fn wait_for(&self, done: impl Fn(&Self) -> bool, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.closed_notify.notified();
            if done(self) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return done(self);
            }
        }
    }
}

impl Drop for MockHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Where the WebSocket side of the mock reports what it saw.
#[derive(Clone)]
struct WsTracking {
    frames: Arc<Mutex<Vec<String>>>,
    ended: Arc<AtomicUsize>,
    notify: Arc<Notify>,
}

async fn handle(
    routes: Arc<Vec<(String, Responder)>>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    ws: WsTracking,
    mut req: Request<Incoming>,
) -> Result<Response<MockBody>, Infallible> {
    let upgrade = hyper::upgrade::on(&mut req);
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: parts.headers.clone(),
        body,
    };
    requests.lock().unwrap().push(recorded.clone());
    let path = parts.uri.path();
    let Some((_, responder)) = routes.iter().find(|(p, _)| p == path || p == "*") else {
        let mut resp = Response::new(full(Bytes::from(format!("mock: no route for {path}"))));
        *resp.status_mut() = StatusCode::NOT_FOUND;
        return Ok(resp);
    };
    let reply = responder(&recorded);
    if let Body::WebSocketTurns(turns) = &reply.body {
        return Ok(accept_websocket(&parts.headers, upgrade, turns.clone(), ws));
    }
    let mut builder = Response::builder().status(reply.status);
    for (k, v) in &reply.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let body = match reply.body {
        Body::Full(bytes) => full(bytes),
        Body::Chunks(pieces, delay) => stream(pieces, move |i| async move {
            if i > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            true
        }),
        Body::Gated(pieces, gate) => stream(pieces, move |_| {
            let gate = gate.clone();
            async move { gate.acquire().await.map(|p| p.forget()).is_ok() }
        }),
        Body::FailAfter(pieces) => failing(pieces, false),
        Body::StallAfter(pieces) => failing(pieces, true),
        Body::Hang => {
            std::future::pending::<()>().await;
            unreachable!()
        }
        Body::WebSocketTurns(_) => unreachable!(),
    };
    Ok(builder.body(body).unwrap())
}

fn full(bytes: Bytes) -> MockBody {
    http_body_util::Full::new(bytes)
        .map_err(|e| match e {})
        .boxed()
}

/// A chunked body: piece `i` is sent once `before(i)` resolves true.
fn stream<F, Fut>(pieces: Vec<Bytes>, before: F) -> MockBody
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, BoxError>>(1);
    tokio::spawn(async move {
        for (i, piece) in pieces.into_iter().enumerate() {
            if !before(i).await || tx.send(Ok(Frame::data(piece))).await.is_err() {
                return;
            }
        }
    });
    StreamBody::new(ReceiverStream(rx)).boxed()
}

/// Pieces, then an error (hyper aborts the connection) or endless silence.
fn failing(pieces: Vec<Bytes>, stall: bool) -> MockBody {
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, BoxError>>(pieces.len() + 1);
    tokio::spawn(async move {
        for piece in pieces {
            let _ = tx.send(Ok(Frame::data(piece))).await;
        }
        // Let the pieces reach the wire before failing.
        tokio::time::sleep(Duration::from_millis(50)).await;
        if stall {
            tx.closed().await;
        } else {
            let _ = tx.send(Err("mock provider died".into())).await;
        }
    });
    StreamBody::new(ReceiverStream(rx)).boxed()
}

fn accept_websocket(
    headers: &HeaderMap,
    upgrade: hyper::upgrade::OnUpgrade,
    turns: Vec<Vec<String>>,
    tracking: WsTracking,
) -> Response<MockBody> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{handshake::derive_accept_key, protocol::Role, Message};
    let key = headers
        .get("sec-websocket-key")
        .map(|k| k.as_bytes())
        .unwrap_or_default();
    let accept = derive_accept_key(key);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            Role::Server,
            None,
        )
        .await;
        'session: while let Some(Ok(msg)) = ws.next().await {
            match msg {
                Message::Text(text) => {
                    let n = {
                        let mut seen = tracking.frames.lock().unwrap();
                        seen.push(text.to_string());
                        seen.len()
                    };
                    let frames = turns
                        .get(n - 1)
                        .or(turns.last())
                        .cloned()
                        .unwrap_or_default();
                    for frame in &frames {
                        if ws.send(Message::text(frame.clone())).await.is_err() {
                            break 'session;
                        }
                    }
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
        tracking.ended.fetch_add(1, Ordering::SeqCst);
        tracking.notify.notify_waiters();
    });
    Response::builder()
        .status(101)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-accept", accept)
        .header("x-mock-ws", "yes")
        .body(full(Bytes::new()))
        .unwrap()
}

/// `mpsc::Receiver` as a `Stream` without pulling in tokio-stream.
struct ReceiverStream<T>(mpsc::Receiver<T>);

impl<T> futures_util::Stream for ReceiverStream<T> {
    type Item = T;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        self.0.poll_recv(cx)
    }
}
