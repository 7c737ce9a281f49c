//! The load client: hyper's own connection-level HTTP/1 client (`hyper::client::conn::http1`).
//! One `Conn` is one keep-alive TCP connection, so "32 connections" means exactly 32, and the same
//! code talks to the upstream directly or to the proxy; only the address differs.
//!
//! Every loop here is bounded: by a request count, or by a deadline plus a per-connection cap, and
//! every request by `REQUEST_TIMEOUT`.

use bytes::{Bytes, BytesMut};
use http::{header, HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// No single request may take longer than this (the whole bench stays bounded even if one hangs).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound on requests per connection in a throughput round, on top of the deadline.
const MAX_REQUESTS_PER_CONN: u64 = 1_000_000;

/// Small Anthropic requests; the upstream answers `"stream":true` with SSE.
const JSON_REQUEST: &[u8] = concat!(
    r#"{"model":"claude-bench","max_tokens":256,"#,
    r#""messages":[{"role":"user","content":"Say something about proxies."}]}"#
)
.as_bytes();
const SSE_REQUEST: &[u8] = concat!(
    r#"{"model":"claude-bench","max_tokens":256,"stream":true,"#,
    r#""messages":[{"role":"user","content":"Say something about proxies."}]}"#
)
.as_bytes();

/// Where a connection goes. `via_proxy` is sent as `x-bench-via` (the proxy passes it through),
/// so the upstream can tell which of its connections and requests came through the proxy.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub via_proxy: bool,
}

/// The header that says which way a request went; the upstream counts by it.
pub const VIA_HEADER: &str = "x-bench-via";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Non-streaming `/v1/messages`: a ~1 KB JSON answer.
    Json,
    /// `"stream":true`: a ~4 KB SSE answer, one event per chunk.
    Sse,
}

/// A request body the caller built, with headers beyond the usual ones (a session id, say).
/// The upstream answers with SSE when the body holds `"stream":true`, else with JSON.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub body: Bytes,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

// === impl Outgoing ===

impl Outgoing {
    /// The small built-in request of each kind, with no extra headers.
    pub fn canned(kind: Kind) -> Self {
        let body = match kind {
            Kind::Json => JSON_REQUEST,
            Kind::Sse => SSE_REQUEST,
        };
        Self {
            body: Bytes::from_static(body),
            headers: Vec::new(),
        }
    }
}

/// When the first body byte and the last one arrived, counted from just before sending.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub ttfb: Duration,
    pub ttlb: Duration,
}

pub struct Reply {
    pub status: StatusCode,
    pub timing: Timing,
    pub len: usize,
    /// The headers and body, when the caller asked to keep them.
    pub headers: Option<http::HeaderMap>,
    pub body: Option<Bytes>,
}

/// One keep-alive connection.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
    via: &'static str,
    driver: JoinHandle<()>,
}

// === impl Conn ===

impl Conn {
    pub async fn open(target: Target) -> Result<Self, BoxError> {
        let addr = target.addr;
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        let via = if target.via_proxy { "proxy" } else { "direct" };
        Ok(Self {
            sender,
            host: HeaderValue::from_str(&addr.to_string())?,
            via,
            driver,
        })
    }

    /// Sends one `/v1/messages` request and reads the whole answer, frame by frame.
    pub async fn send(&mut self, kind: Kind, keep_body: bool) -> Result<Reply, BoxError> {
        self.send_outgoing(Outgoing::canned(kind), keep_body).await
    }

    /// `send` with a body (and extra headers) the caller built.
    pub async fn send_outgoing(
        &mut self,
        outgoing: Outgoing,
        keep_body: bool,
    ) -> Result<Reply, BoxError> {
        self.send_to("/v1/messages", outgoing, keep_body).await
    }

    /// `send_outgoing` to another path (`/v1/chat/completions` for the translation bench).
    pub async fn send_to(
        &mut self,
        path: &'static str,
        outgoing: Outgoing,
        keep_body: bool,
    ) -> Result<Reply, BoxError> {
        tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(path, outgoing, keep_body))
            .await
            .map_err(|_| format!("no complete answer within {REQUEST_TIMEOUT:?}"))?
    }

    async fn exchange(
        &mut self,
        path: &'static str,
        outgoing: Outgoing,
        keep_body: bool,
    ) -> Result<Reply, BoxError> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::HOST, self.host.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header("anthropic-version", "2023-06-01")
            .header("x-api-key", "sk-ant-bench-not-a-key")
            .header(VIA_HEADER, self.via)
            .body(Full::new(outgoing.body))?;
        request.headers_mut().extend(outgoing.headers);
        self.sender.ready().await?;

        let started = Instant::now();
        let response = self.sender.send_request(request).await?;
        let (head, mut body) = response.into_parts();
        let status = head.status;
        let headers = keep_body.then_some(head.headers);
        let (mut ttfb, mut len) = (None, 0);
        let mut kept = keep_body.then(BytesMut::new);
        // Bounded by the body's length and by `REQUEST_TIMEOUT` around it.
        while let Some(frame) = body.frame().await {
            let Ok(data) = frame?.into_data() else {
                continue;
            };
            if data.is_empty() {
                continue;
            }
            ttfb.get_or_insert_with(|| started.elapsed());
            len += data.len();
            if let Some(kept) = kept.as_mut() {
                kept.extend_from_slice(&data);
            }
        }
        let ttlb = started.elapsed();
        let timing = Timing {
            ttfb: ttfb.unwrap_or(ttlb),
            ttlb,
        };
        Ok(Reply {
            status,
            timing,
            len,
            headers,
            body: kept.map(BytesMut::freeze),
        })
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Timings from a paced run, plus what went wrong (failed requests are not timed).
#[derive(Default)]
pub struct Samples {
    pub timings: Vec<Timing>,
    pub failed: u64,
    pub first_failure: Option<String>,
}

// === impl Samples ===

impl Samples {
    fn fail(&mut self, why: String) {
        self.failed += 1;
        self.first_failure.get_or_insert(why);
    }

    pub fn absorb(&mut self, other: Samples) {
        self.timings.extend(other.timings);
        self.failed += other.failed;
        if self.first_failure.is_none() {
            self.first_failure = other.first_failure;
        }
    }
}

/// `count` requests on one connection, one every `period` (200 req/s at 5 ms). A request that
/// fails is counted and the connection reopened, so one hiccup does not end the run.
pub async fn paced(
    conn: &mut Conn,
    target: Target,
    kind: Kind,
    expect_len: usize,
    count: usize,
    period: Duration,
) -> Samples {
    paced_with(conn, target, expect_len, count, period, || {
        Outgoing::canned(kind)
    })
    .await
}

/// `paced`, with each request built by `next` (before its clock starts).
pub async fn paced_with(
    conn: &mut Conn,
    target: Target,
    expect_len: usize,
    count: usize,
    period: Duration,
    mut next: impl FnMut() -> Outgoing,
) -> Samples {
    let mut samples = Samples {
        timings: Vec::with_capacity(count),
        ..Samples::default()
    };
    let mut ticks = tokio::time::interval(period);
    // After a stall, carry on at the set rate rather than firing a burst to catch up.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    for _ in 0..count {
        ticks.tick().await;
        match conn.send_outgoing(next(), false).await {
            Ok(reply) if reply.status == StatusCode::OK && reply.len == expect_len => {
                samples.timings.push(reply.timing)
            }
            Ok(reply) => samples.fail(format!(
                "status {} with {} body bytes (expected 200 with {expect_len})",
                reply.status, reply.len
            )),
            Err(e) => {
                samples.fail(format!("request failed: {e}"));
                match Conn::open(target).await {
                    Ok(fresh) => *conn = fresh,
                    Err(e) => {
                        samples.fail(format!("reconnecting to {}: {e}", target.addr));
                        break;
                    }
                }
            }
        }
    }
    samples
}

/// What a closed-loop throughput round achieved.
#[derive(Clone, Copy, Debug, Default)]
pub struct Throughput {
    pub ok: u64,
    pub failed: u64,
    pub elapsed: Duration,
}

// === impl Throughput ===

impl Throughput {
    /// Sums what each worker counted; `elapsed` is the wall time since `started`.
    pub async fn gather(
        workers: Vec<tokio::task::JoinHandle<Throughput>>,
        started: Instant,
    ) -> Self {
        let mut total = Throughput::default();
        for worker in workers {
            if let Ok(result) = worker.await {
                total.ok += result.ok;
                total.failed += result.failed;
            }
        }
        total.elapsed = started.elapsed();
        total
    }

    pub fn add(&mut self, other: Throughput) {
        self.ok += other.ok;
        self.failed += other.failed;
        self.elapsed += other.elapsed;
    }

    pub fn per_sec(&self) -> f64 {
        if self.elapsed.is_zero() {
            return 0.0;
        }
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
}

/// `conns` connections, each sending back-to-back requests until `duration` is over.
pub async fn saturate(
    target: Target,
    conns: usize,
    duration: Duration,
    kind: Kind,
    expect_len: usize,
) -> Throughput {
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..conns)
        .map(|_| {
            tokio::spawn(async move {
                let mut result = Throughput::default();
                let Ok(mut conn) = Conn::open(target).await else {
                    result.failed += 1;
                    return result;
                };
                for _ in 0..MAX_REQUESTS_PER_CONN {
                    if Instant::now() >= deadline {
                        break;
                    }
                    match conn.send(kind, false).await {
                        Ok(reply) if reply.status == StatusCode::OK && reply.len == expect_len => {
                            result.ok += 1
                        }
                        Ok(_) => result.failed += 1,
                        Err(_) => {
                            result.failed += 1;
                            match Conn::open(target).await {
                                Ok(fresh) => conn = fresh,
                                Err(_) => break,
                            }
                        }
                    }
                }
                result
            })
        })
        .collect();
    Throughput::gather(workers, started).await
}
