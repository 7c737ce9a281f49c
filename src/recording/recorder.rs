//! `Recorder`: the request path's handle on recording. `begin` starts a capture, `finish` hands the
//! finished exchange to the writer thread without ever blocking: the queue is bounded by bytes, and
//! an exchange that would overflow it becomes an explicit gap marker instead (counted, never silent).

use super::capture::Capture;
use super::decode::MAX_DECODED;
use super::exchange::{DecodeCaps, Exchange};
use super::writer::{self, Msg};
use super::ws_session::WsSession;
use crate::config::Config;
use crate::error::StartupError;
use crate::features::pii::Redactor;
use crate::metrics::recorded as metrics;
use crate::providers::Provider;
use crate::proxy::ctx::{End, RequestCtx};
use bytes::Bytes;
use http::HeaderMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub(crate) struct Recorder {
    inner: Option<Inner>,
}

struct Inner {
    tx: Sender<Msg>,
    queued: Arc<AtomicUsize>,
    budget: usize,
    decode_caps: DecodeCaps,
    lost: AtomicU64,
    warned: AtomicBool,
    /// Distinguishes request ids across restarts: the start time in base 36.
    run: String,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

fn base36(mut n: u128) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

impl Recorder {
    /// Opens the stores and starts the writer thread; a disabled recorder does nothing at all.
    pub fn start(config: &Config, pii: Option<Arc<Redactor>>) -> Result<Self, StartupError> {
        let rec = &config.session_recording;
        if !rec.enabled || (!rec.jsonl.enabled && !rec.sqlite.enabled) {
            return Ok(Self { inner: None });
        }
        let queued = Arc::new(AtomicUsize::new(0));
        let (tx, handle) = writer::spawn(config, queued.clone(), pii)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let budget = (rec.queue_budget_mb as usize)
            .saturating_mul(1024 * 1024)
            .max(1);
        let decode_caps = DecodeCaps {
            request: usize::try_from(config.max_request_body_bytes).unwrap_or(usize::MAX),
            response: budget.min(MAX_DECODED),
        };
        Ok(Self {
            inner: Some(Inner {
                tx,
                queued,
                budget,
                decode_caps,
                lost: AtomicU64::new(0),
                warned: AtomicBool::new(false),
                run: base36(now),
                writer: Mutex::new(Some(handle)),
            }),
        })
    }

    /// A capture for a request that is starting, or `None` when recording is off.
    pub fn begin(&self, headers: &HeaderMap, started: Instant) -> Option<Capture> {
        let inner = self.inner.as_ref()?;
        Some(Capture::new(started, headers.clone(), inner.budget))
    }

    /// Hands a finished exchange to the writer. Never blocks, never fails the request.
    pub fn finish(&self, capture: Capture, ctx: &RequestCtx, end: &End) {
        let Some(inner) = self.inner.as_ref() else {
            return;
        };
        let size = capture.size();
        let request_id = format!("{}-{}", inner.run, ctx.id);
        let at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        if inner.queued.load(Ordering::Relaxed) + size > inner.budget {
            inner.lost.fetch_add(1, Ordering::Relaxed);
            metrics::record_recorder_lost();
            if !inner.warned.swap(true, Ordering::Relaxed) {
                tracing::warn!("recording queue is over its {} MB budget: writing a gap marker instead of request {request_id}", inner.budget / (1024 * 1024));
            }
            let _ = inner.tx.send(Msg::Gap {
                requests: 1,
                bytes: size as u64,
                at_ms,
            });
            return;
        }
        let queued = inner.queued.fetch_add(size, Ordering::Relaxed) + size;
        metrics::record_recorder_queue(queued);
        let exchange = Exchange {
            request_id,
            capture,
            provider: ctx.provider,
            endpoint: ctx.path.clone(),
            upstream_ms: ctx.upstream_headers.as_secs_f64() * 1000.0,
            overhead_us: ctx.overhead.as_micros() as u64,
            chunks: ctx.chunks_out,
            end: end.clone(),
            ended: Instant::now(),
            decode_caps: inner.decode_caps,
        };
        if inner.tx.send(Msg::Exchange(Box::new(exchange))).is_err() {
            inner.queued.fetch_sub(size, Ordering::Relaxed);
            inner.lost.fetch_add(1, Ordering::Relaxed);
            metrics::record_recorder_lost();
        }
    }

    /// A tap for a relayed WebSocket connection, or `None` when recording is off.
    pub fn ws_open(
        &self,
        id: u64,
        provider: Provider,
        path: &str,
        request: &HeaderMap,
        response: &HeaderMap,
    ) -> Option<WsTap> {
        let inner = self.inner.as_ref()?;
        let opened = Instant::now();
        let session = WsSession::new(
            format!("{}-{id}", inner.run),
            provider,
            path.to_string(),
            request.clone(),
            response.clone(),
            opened,
        );
        inner
            .tx
            .send(Msg::WsOpen {
                id,
                session: Box::new(session),
            })
            .ok()?;
        Some(WsTap {
            id,
            tx: inner.tx.clone(),
            queued: inner.queued.clone(),
            budget: inner.budget,
            dropped: AtomicBool::new(false),
        })
    }

    /// Exchanges dropped because the queue was full (or the writer had stopped).
    pub fn lost(&self) -> u64 {
        self.inner
            .as_ref()
            .map(|i| i.lost.load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    /// Drains everything queued, writes it, prints the session summary and stops the writer.
    /// Called once, after the server stopped serving.
    pub fn shutdown(&self) {
        let Some(inner) = self.inner.as_ref() else {
            return;
        };
        let lost = self.lost();
        if lost > 0 {
            tracing::warn!("{lost} requests could not be queued for recording (see the gap markers in the sessions directory)");
        }
        let _ = inner.tx.send(Msg::Shutdown);
        let handle = inner.writer.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle {
            if handle.join().is_err() {
                tracing::error!("the recording writer panicked; some requests may be missing");
            }
        }
    }
}

/// The relay's handle on one WebSocket connection: hands byte copies to the writer, which reads the
/// frames. Over the memory budget the connection's recording stops (a gap) rather than desync.
pub(crate) struct WsTap {
    id: u64,
    tx: Sender<Msg>,
    queued: Arc<AtomicUsize>,
    budget: usize,
    dropped: AtomicBool,
}

impl WsTap {
    pub fn client_bytes(&self, bytes: &Bytes) {
        self.send(true, bytes);
    }

    pub fn server_bytes(&self, bytes: &Bytes) {
        self.send(false, bytes);
    }

    fn send(&self, from_client: bool, bytes: &Bytes) {
        if self.dropped.load(Ordering::Relaxed) {
            return;
        }
        if self.queued.load(Ordering::Relaxed) + bytes.len() > self.budget {
            self.dropped.store(true, Ordering::Relaxed);
            let _ = self.tx.send(Msg::WsClose {
                id: self.id,
                at: Instant::now(),
                end: End::UpstreamFailed("recording queue over budget".into()),
            });
            return;
        }
        let queued = self.queued.fetch_add(bytes.len(), Ordering::Relaxed) + bytes.len();
        metrics::record_recorder_queue(queued);
        let _ = self.tx.send(Msg::WsBytes {
            id: self.id,
            from_client,
            at: Instant::now(),
            bytes: bytes.clone(),
        });
    }

    /// The relay ended; `error` says why when it was not a clean close.
    pub fn close(&self, error: Option<String>) {
        let end = match error {
            None => End::Done,
            Some(why) => End::UpstreamFailed(why),
        };
        let _ = self.tx.send(Msg::WsClose {
            id: self.id,
            at: Instant::now(),
            end,
        });
    }
}
