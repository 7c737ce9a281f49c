//! The writer thread: turns queued exchanges into `RequestRecord`s and writes them in batches
//! (within 100 ms of their arrival) to the JSONL and SQLite stores, runs retention, and on shutdown drains
//! the queue and prints the session summary. Store failures are logged once, counted, and retried:
//! the proxy keeps serving and recording resumes when the disk is writable again.

use super::exchange::{Context, Exchange, Finished};
use super::jsonl::JsonlStore;
use super::pricing::Pricing;
use super::record::RequestRecord;
use super::redact::redact_record;
use super::retention::run_retention;
use super::session::ToolTracker;
use super::sqlite::SqliteStore;
use super::summary::Summary;
use super::ws_session::WsSession;
use crate::config::{expand_home, Config, RetentionConfig};
use crate::error::StartupError;
use crate::features::pii::Redactor;
use crate::metrics::recorded as metrics;
use crate::proxy::ctx::End;
use bytes::Bytes;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

const FLUSH_EVERY: Duration = Duration::from_millis(100);

pub(crate) enum Msg {
    Exchange(Box<Exchange>),
    WsOpen {
        id: u64,
        session: Box<WsSession>,
    },
    WsBytes {
        id: u64,
        from_client: bool,
        at: Instant,
        bytes: Bytes,
    },
    WsClose {
        id: u64,
        at: Instant,
        end: End,
    },
    /// Requests the recorder could not queue.
    Gap {
        requests: u64,
        bytes: u64,
        at_ms: i64,
    },
    Shutdown,
}

/// A store that may fail and come back: it logs the first failure and the recovery, not each one.
struct Fallible<S> {
    name: &'static str,
    store: Option<S>,
    open: Box<dyn Fn() -> Result<S, String> + Send>,
    failing: bool,
    /// Records lost in this run, and those lost since the current failure began.
    lost: u64,
    lost_in_outage: u64,
}

impl<S> Fallible<S> {
    fn new(name: &'static str, open: Box<dyn Fn() -> Result<S, String> + Send>) -> Self {
        let mut this = Self {
            name,
            store: None,
            open,
            failing: false,
            lost: 0,
            lost_in_outage: 0,
        };
        this.store = this.try_open();
        this
    }

    fn try_open(&mut self) -> Option<S> {
        match (self.open)() {
            Ok(store) => Some(store),
            Err(e) => {
                self.report(&e);
                None
            }
        }
    }

    fn report(&mut self, error: &str) {
        if !self.failing {
            tracing::error!(
                "recording to {} failed: {error}; the proxy keeps serving and will retry",
                self.name
            );
            self.failing = true;
        }
    }

    /// Said once more when the writer stops, so a store that never came back is not a silent loss.
    fn report_losses(&self) {
        if self.lost > 0 {
            let still = if self.failing {
                "; it is still failing"
            } else {
                ""
            };
            tracing::warn!(
                "recording to {} lost {} requests in this run{still}",
                self.name,
                self.lost
            );
        }
    }

    /// Runs `write` on the store (reopening it first if needed). `write` reports how many records
    /// it could not write and the first error; those are counted as lost.
    fn write(&mut self, n: u64, write: impl FnOnce(&mut S) -> Result<(), (u64, String)>) {
        if self.store.is_none() {
            self.store = self.try_open();
        }
        let result = match self.store.as_mut() {
            Some(store) => write(store),
            None => Err((n, "not open".into())),
        };
        match result {
            Ok(()) if self.failing => {
                tracing::info!(
                    "recording to {} works again ({} requests were lost)",
                    self.name,
                    self.lost_in_outage
                );
                self.failing = false;
                self.lost_in_outage = 0;
            }
            Ok(()) => {}
            Err((lost, e)) => {
                self.lost += lost;
                self.lost_in_outage += lost;
                self.report(&e);
                // Reopen next time: the file or connection may be what broke.
                self.store = None;
            }
        }
    }
}

struct Writer {
    jsonl: Option<Fallible<JsonlStore>>,
    sqlite: Option<Fallible<SqliteStore>>,
    pricing: Pricing,
    tools: ToolTracker,
    session_header: Option<String>,
    batch: Vec<RequestRecord>,
    gaps: Vec<(u64, u64, i64)>,
    summary: Summary,
    websockets: HashMap<u64, WsSession>,
    queued: Arc<AtomicUsize>,
    retention: Option<(PathBuf, RetentionConfig)>,
    /// Applied to every record before it is stored (`redact.rs`).
    pii: Option<Arc<Redactor>>,
}

pub(crate) fn spawn(
    config: &Config,
    queued: Arc<AtomicUsize>,
    pii: Option<Arc<Redactor>>,
) -> Result<(Sender<Msg>, std::thread::JoinHandle<()>), StartupError> {
    let rec = &config.session_recording;
    let jsonl_dir = expand_home(&rec.jsonl.directory);
    let db_path = expand_home(&rec.sqlite.path);
    let jsonl = rec.jsonl.enabled.then(|| {
        let dir = jsonl_dir.clone();
        Fallible::new(
            "the JSONL directory",
            Box::new(move || JsonlStore::open(&dir)),
        )
    });
    let sqlite = rec.sqlite.enabled.then(|| {
        let path = db_path.clone();
        Fallible::new(
            "the SQLite database",
            Box::new(move || SqliteStore::open(&path)),
        )
    });
    let writer = Writer {
        jsonl,
        sqlite,
        pricing: Pricing::builtin().with_overrides(&config.pricing),
        tools: ToolTracker::default(),
        session_header: rec.session_id_header.clone(),
        batch: Vec::new(),
        gaps: Vec::new(),
        summary: Summary::default(),
        websockets: HashMap::new(),
        queued,
        retention: rec
            .jsonl
            .enabled
            .then(|| (jsonl_dir, rec.jsonl.retention.clone())),
        pii,
    };
    let (tx, rx) = channel();
    let handle = std::thread::Builder::new()
        .name("lunaroute-recorder".into())
        .spawn(move || run(rx, writer))
        .map_err(|e| StartupError::new("starting the recording writer", e))?;
    Ok((tx, handle))
}

/// Tokens, cost, time to first token and tools of one record (`lunaroute_tokens_total`, ...).
fn record_metrics(record: &RequestRecord) {
    let usage = &record.response.usage;
    metrics::record_tokens([
        ("input", usage.input),
        ("output", usage.output),
        ("cache_read", usage.cache_read),
        ("cache_creation", usage.cache_creation),
        ("thinking", usage.thinking),
    ]);
    if let Some(usd) = record.cost_usd {
        metrics::record_cost(usd);
    }
    if let Some(ms) = record.timings.ttft_ms {
        metrics::record_ttft(Duration::from_secs_f64(ms.max(0.0) / 1000.0));
    }
    for call in &record.response.tool_calls {
        metrics::record_tool_call(&call.name);
    }
    for done in &record.tool_executions {
        metrics::record_tool_duration(
            &done.name,
            Duration::from_secs_f64(done.duration_ms.max(0.0) / 1000.0),
        );
    }
}

fn run(rx: Receiver<Msg>, mut w: Writer) {
    let cleanup_every = w
        .retention
        .as_ref()
        .map(|(_, r)| Duration::from_secs(r.cleanup_interval_minutes.max(1) * 60));
    let mut next_cleanup = Instant::now();
    loop {
        if let Some(every) = cleanup_every.filter(|_| Instant::now() >= next_cleanup) {
            w.cleanup();
            next_cleanup = Instant::now() + every;
        }
        // Idle: sleep until something arrives (or cleanup is due); no periodic wake-ups.
        let until_cleanup = next_cleanup.saturating_duration_since(Instant::now());
        let first = match rx.recv_timeout(until_cleanup.max(Duration::from_millis(1))) {
            Ok(msg) => msg,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => Msg::Shutdown,
        };
        // Work arrived. Wait half a flush interval before doing any of it: the responses that are
        // finishing right now get the CPU first (the end phase queues a request just before its
        // last bytes are written), everything arriving meanwhile shares one batch, and the batch
        // is still on disk well within FLUSH_EVERY of its first request.
        if !matches!(first, Msg::Shutdown) {
            std::thread::sleep(FLUSH_EVERY / 2);
        }
        let mut stopping = false;
        for msg in std::iter::once(first).chain(rx.try_iter()) {
            match msg {
                Msg::Shutdown => stopping = true,
                msg => w.handle(msg),
            }
        }
        if stopping {
            w.stop();
            return;
        }
        w.flush();
    }
}

impl Writer {
    /// Everything queued before Shutdown has been handled: close open WebSocket turns, write the
    /// last batch, print the summary and the losses.
    fn stop(&mut self) {
        // A relay still open now was cut by the shutdown (its own close may not have arrived).
        let open: Vec<u64> = self.websockets.keys().copied().collect();
        for id in open {
            self.handle(Msg::WsClose {
                id,
                at: Instant::now(),
                end: End::UpstreamFailed(crate::proxy::CUT_AT_SHUTDOWN.into()),
            });
        }
        self.flush();
        self.summary.print();
        if let Some(jsonl) = &self.jsonl {
            jsonl.report_losses();
        }
        if let Some(sqlite) = &self.sqlite {
            sqlite.report_losses();
        }
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Exchange(exchange) => {
                let size = exchange.capture.size();
                self.add(exchange.finished());
                self.release(size);
            }
            Msg::Gap {
                requests,
                bytes,
                at_ms,
            } => self.gaps.push((requests, bytes, at_ms)),
            Msg::WsOpen { id, session } => {
                self.websockets.insert(id, *session);
            }
            Msg::WsBytes {
                id,
                from_client,
                at,
                bytes,
            } => {
                self.release(bytes.len());
                let Some(session) = self.websockets.get_mut(&id) else {
                    return;
                };
                let turns = if from_client {
                    session.client_bytes(at, &bytes)
                } else {
                    session.server_bytes(at, &bytes)
                };
                for turn in turns {
                    self.add(turn);
                }
            }
            Msg::WsClose { id, at, end } => {
                if let Some(turn) = self
                    .websockets
                    .remove(&id)
                    .and_then(|mut s| s.close(at, end))
                {
                    self.add(turn);
                }
            }
            Msg::Shutdown => {}
        }
    }

    fn release(&self, size: usize) {
        if let Ok(before) = self
            .queued
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| {
                Some(q.saturating_sub(size))
            })
        {
            metrics::record_recorder_queue(before.saturating_sub(size));
        }
    }

    fn add(&mut self, finished: Finished) {
        let mut cx = Context {
            pricing: &self.pricing,
            session_header: self.session_header.as_deref(),
            tools: &mut self.tools,
        };
        let mut record = finished.into_record(&mut cx);
        // Before anything reads the record: the stores, the summary and the metrics see it redacted.
        if let Some(redactor) = &self.pii {
            redact_record(redactor, &mut record);
        }
        record_metrics(&record);
        self.summary.add(&record);
        self.batch.push(record);
    }

    fn flush(&mut self) {
        let gaps = std::mem::take(&mut self.gaps);
        if self.batch.is_empty() && gaps.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.batch);
        let n = batch.len() as u64;
        if let Some(jsonl) = self.jsonl.as_mut() {
            jsonl.write(n, |store| {
                // One failed line loses one record, not the rest of the batch.
                let mut failed = (0, None);
                for (requests, bytes, at_ms) in &gaps {
                    if let Err(e) = store.write_gap(
                        *requests,
                        *bytes,
                        *at_ms,
                        "recording queue over its memory budget",
                    ) {
                        failed.1.get_or_insert(e);
                    }
                }
                for record in &batch {
                    if let Err(e) = store.append(record) {
                        failed.0 += 1;
                        failed.1.get_or_insert(e);
                    }
                }
                if let Err(e) = store.flush() {
                    failed.1.get_or_insert(e);
                }
                match failed {
                    (_, None) => Ok(()),
                    (lost, Some(e)) => Err((lost, e)),
                }
            });
        }
        if let Some(sqlite) = self.sqlite.as_mut() {
            sqlite.write(n, |store| store.write_batch(&batch).map_err(|e| (n, e)));
        }
    }

    fn cleanup(&mut self) {
        if let Some((dir, retention)) = &self.retention {
            match run_retention(dir, retention, SystemTime::now()) {
                Ok(report) => {
                    for error in report.errors.iter().take(5) {
                        tracing::warn!("session retention: {error}");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "session retention failed"),
            }
        }
    }
}
