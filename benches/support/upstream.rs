//! The bench's stand-in provider: a minimal hyper HTTP/1 server on `127.0.0.1:0`, in the bench
//! process. `POST /v1/messages` gets a ~1 KB Anthropic-style JSON message, or, when the request body
//! asks for `"stream":true`, a ~4 KB Anthropic-style SSE stream with one event per body chunk.
//! `POST /v1/chat/completions` gets the same text as an OpenAI Chat stream (same number of text
//! events), for the translation bench's provider of the other dialect.
//!
//! The payloads are built once and served as cheap `Bytes` clones so the upstream costs the same
//! for direct and proxied requests; any difference between the two is the proxy's. It also counts
//! connections and requests by their `x-bench-via` header, which shows whether the proxy reuses
//! its upstream connections and sends each request exactly once.

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Target size of the JSON response body.
const JSON_BYTES: usize = 1024;
/// Roughly where the SSE deltas stop; the closing events take it to about 4 KB.
const SSE_DELTA_BYTES: usize = 3740;

/// The two canned responses.
pub struct Payloads {
    pub json: Bytes,
    pub sse: Vec<Bytes>,
    /// The SSE answer's text as Chat Completions chunks, ending with a usage chunk and `[DONE]`.
    pub chat_sse: Vec<Bytes>,
}

// === impl Payloads ===

impl Payloads {
    pub fn build() -> Self {
        let sse = sse_events();
        Self {
            json: json_message(),
            chat_sse: chat_events(&sse),
            sse,
        }
    }

    pub fn sse_len(&self) -> usize {
        self.sse.iter().map(Bytes::len).sum()
    }
}

/// A non-streaming `/v1/messages` answer, padded to `JSON_BYTES`.
fn json_message() -> Bytes {
    let shell = |text: &str| {
        serde_json::json!({
            "id": "msg_bench_01",
            "type": "message",
            "role": "assistant",
            "model": "claude-bench",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": null,
            "usage": {"input_tokens": 12, "output_tokens": 240}
        })
        .to_string()
    };
    let empty = shell("").len();
    let text = filler(JSON_BYTES.saturating_sub(empty));
    Bytes::from(shell(&text))
}

/// `message_start`, `content_block_start`, `ping`, text deltas, then the three closing events,
/// each its own chunk, as Anthropic sends them.
fn sse_events() -> Vec<Bytes> {
    let event = |name: &str, data: serde_json::Value| {
        Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
    };
    let mut events = vec![
        event(
            "message_start",
            serde_json::json!({"type": "message_start", "message": {
                "id": "msg_bench_02", "type": "message", "role": "assistant", "model": "claude-bench",
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 12, "output_tokens": 1}}}),
        ),
        event(
            "content_block_start",
            serde_json::json!({"type": "content_block_start", "index": 0,
                "content_block": {"type": "text", "text": ""}}),
        ),
        event("ping", serde_json::json!({"type": "ping"})),
    ];
    let mut total: usize = events.iter().map(Bytes::len).sum();
    while total < SSE_DELTA_BYTES {
        let delta = event(
            "content_block_delta",
            serde_json::json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": filler(160)}}),
        );
        total += delta.len();
        events.push(delta);
    }
    events.push(event(
        "content_block_stop",
        serde_json::json!({"type": "content_block_stop", "index": 0}),
    ));
    events.push(event(
        "message_delta",
        serde_json::json!({"type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": null},
            "usage": {"output_tokens": 240}}),
    ));
    events.push(event(
        "message_stop",
        serde_json::json!({"type": "message_stop"}),
    ));
    events
}

/// The text deltas of `anthropic` as Chat Completions chunks: a role chunk, one chunk per text
/// delta, the finish chunk, the usage chunk (what `stream_options.include_usage` asks for), `[DONE]`.
fn chat_events(anthropic: &[Bytes]) -> Vec<Bytes> {
    let chunk = |delta: serde_json::Value, finish: serde_json::Value| {
        let data = serde_json::json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk",
            "created": 1767225600, "model": "gpt-bench",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        Bytes::from(format!("data: {data}\n\n"))
    };
    let mut events = vec![chunk(
        serde_json::json!({"role": "assistant", "content": ""}),
        serde_json::Value::Null,
    )];
    for event in anthropic {
        let text = std::str::from_utf8(event).unwrap_or_default();
        let Some(data) = text.lines().find_map(|l| l.strip_prefix("data: ")) else {
            continue;
        };
        let value: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
        if let Some(delta) = value["delta"]["text"].as_str() {
            events.push(chunk(
                serde_json::json!({"content": delta}),
                serde_json::Value::Null,
            ));
        }
    }
    events.push(chunk(serde_json::json!({}), serde_json::json!("stop")));
    let usage = serde_json::json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk",
        "created": 1767225600, "model": "gpt-bench", "choices": [],
        "usage": {"prompt_tokens": 12, "completion_tokens": 240, "total_tokens": 252}});
    events.push(Bytes::from(format!("data: {usage}\n\n")));
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    events
}

/// `len` bytes of plain words.
fn filler(len: usize) -> String {
    let words = "the quick brown fox jumps over the lazy dog while a proxy relays every byte ";
    words.chars().cycle().take(len).collect()
}

/// A chunked body that hands out one event per frame and returns `Pending` once between frames,
/// so hyper flushes each event on its own instead of coalescing them into one write (a real
/// provider's events arrive milliseconds apart; this keeps them apart without timer noise).
struct Events {
    queue: VecDeque<Bytes>,
    yielded: bool,
}

// === impl Events ===

impl Body for Events {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.queue.is_empty() {
            return Poll::Ready(None);
        }
        if !self.yielded {
            self.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.yielded = false;
        Poll::Ready(self.queue.pop_front().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.queue.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        // No exact size: the response goes out chunked, like a provider's stream.
        SizeHint::default()
    }
}

type UpstreamBody = Either<Full<Bytes>, Events>;

/// What the upstream saw, split by the `x-bench-via` header of each request.
#[derive(Default)]
pub struct Counters {
    pub direct_conns: AtomicU64,
    pub proxied_conns: AtomicU64,
    pub direct_requests: AtomicU64,
    pub proxied_requests: AtomicU64,
}

// === impl Counters ===

impl Counters {
    /// Counts one request; `first` says it opened its connection.
    fn note(&self, req: &Request<Incoming>, first: bool) {
        let via_proxy = req
            .headers()
            .get(super::client::VIA_HEADER)
            .is_some_and(|v| v == "proxy");
        let (conns, requests) = if via_proxy {
            (&self.proxied_conns, &self.proxied_requests)
        } else {
            (&self.direct_conns, &self.direct_requests)
        };
        requests.fetch_add(1, Ordering::Relaxed);
        if first {
            conns.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Reads the whole request (as a provider would), then answers with the JSON or the SSE payload.
async fn answer(
    payloads: Arc<Payloads>,
    req: Request<Incoming>,
) -> Result<Response<UpstreamBody>, Infallible> {
    let chat = req.uri().path() == "/v1/chat/completions";
    let path_ok = chat || req.uri().path() == "/v1/messages";
    let body = match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    if !path_ok {
        let mut not_found = Response::new(Either::Left(Full::new(Bytes::from_static(b"{}"))));
        *not_found.status_mut() = StatusCode::NOT_FOUND;
        return Ok(not_found);
    }
    let streaming = body.windows(13).any(|w| w == b"\"stream\":true");
    let (content_type, body) = if streaming {
        let events = if chat {
            &payloads.chat_sse
        } else {
            &payloads.sse
        };
        let events = Events {
            queue: events.iter().cloned().collect(),
            yielded: false,
        };
        ("text/event-stream", Either::Right(events))
    } else {
        (
            "application/json",
            Either::Left(Full::new(payloads.json.clone())),
        )
    };
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
        .headers_mut()
        .insert("request-id", HeaderValue::from_static("req_bench"));
    Ok(response)
}

/// The running upstream; stops accepting when dropped.
pub struct Upstream {
    pub addr: SocketAddr,
    pub counters: Arc<Counters>,
    accept: JoinHandle<()>,
}

// === impl Upstream ===

impl Upstream {
    pub async fn start(payloads: Arc<Payloads>) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let counted = counters.clone();
        let accept = tokio::spawn(async move {
            // Runs until `Upstream` is dropped (the task is aborted then).
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // Out of descriptors and the like: back off rather than spin.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let (payloads, counters) = (payloads.clone(), counted.clone());
                let seen = AtomicBool::new(false);
                let service = service_fn(move |req| {
                    counters.note(&req, !seen.swap(true, Ordering::Relaxed));
                    answer(payloads.clone(), req)
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            addr,
            counters,
            accept,
        })
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.accept.abort();
    }
}
