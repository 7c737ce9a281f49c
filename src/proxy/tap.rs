//! `ResponseBody`: the provider's response body on its way to the client. Frames pass through
//! unchanged, one by one, as they arrive (no buffering, no re-framing). Around them it:
//! - enforces the *silence* timeout (reset by every frame; never a cap on a long, live stream, F9);
//! - ends a failed SSE stream with an error event in the client's dialect, never a clean-looking EOF;
//! - for a routed request in another dialect, feeds the frames to a `StreamTranslator` and sends
//!   its output instead (the only case where the client's bytes are not the provider's);
//! - runs the end phase (`RequestCtx::finish`) exactly once: on end of stream, on error, on timeout,
//!   or from `Drop` when the client hangs up or shutdown cuts the stream (linkerd's body-eos
//!   habit). Dropping the inner body is what closes the upstream connection, so a vanished client
//!   stops the provider at once.

use super::ctx::{End, RequestCtx};
use crate::body::BoxError;
use crate::error::error_body;
use crate::features::translate::StreamTranslator;
use crate::providers::Provider;
use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// How to end a stream that failed after the response started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureStyle {
    /// Not a plain-text event stream (JSON, or compressed): abort the connection so the client sees
    /// a truncated body instead of a short but well-framed one.
    Abort,
    AnthropicSse,
    ChatCompletionsSse,
    ResponsesSse,
}

impl FailureStyle {
    pub fn for_response(provider: Provider, path: &str, is_sse: bool, encoded: bool) -> Self {
        if !is_sse || encoded {
            return Self::Abort;
        }
        match provider {
            Provider::Anthropic => Self::AnthropicSse,
            Provider::OpenAi if path.contains("/chat/completions") => Self::ChatCompletionsSse,
            Provider::OpenAi => Self::ResponsesSse,
        }
    }

    /// The event that tells the client its stream failed, in its own dialect.
    fn event(self, message: &str, code: &str) -> Option<Bytes> {
        let text = match self {
            Self::Abort => return None,
            Self::AnthropicSse => {
                let data = error_body(Provider::Anthropic, ("api_error", "", ""), message);
                format!("event: error\ndata: {data}\n\n")
            }
            Self::ChatCompletionsSse => {
                let data = error_body(Provider::OpenAi, ("", "server_error", code), message);
                format!("data: {data}\n\n")
            }
            Self::ResponsesSse => {
                let data = serde_json::json!({"type": "error", "code": code, "message": message, "param": null});
                format!("event: error\ndata: {data}\n\n")
            }
        };
        Some(Bytes::from(text))
    }
}

/// Why a request still running when the grace period ran out ended (recorded as `upstream_failed`:
/// the client did not leave, the proxy stopped serving it).
pub(crate) const CUT_AT_SHUTDOWN: &str = "cut at shutdown";

pub(crate) struct ResponseBody {
    inner: Incoming,
    silence: Duration,
    timer: Pin<Box<Sleep>>,
    style: FailureStyle,
    /// A routed request in another dialect: provider events in, client events out.
    translator: Option<StreamTranslator>,
    /// The last bytes forwarded, to know whether an injected event needs a blank line first.
    tail: [u8; 2],
    /// Bytes to send before the stream ends (an error event, or a translator's last events).
    pending: Option<Bytes>,
    done: bool,
    /// When the previous frame of an event stream arrived (`lunaroute_stream_chunk_interval_seconds`).
    last_chunk: Option<Instant>,
    ctx: Option<RequestCtx>,
}

impl ResponseBody {
    pub fn new(inner: Incoming, silence: Duration, style: FailureStyle, ctx: RequestCtx) -> Self {
        Self {
            inner,
            silence,
            timer: Box::pin(tokio::time::sleep(silence)),
            style,
            translator: None,
            tail: *b"\n\n",
            pending: None,
            done: false,
            last_chunk: None,
            ctx: Some(ctx),
        }
    }

    /// The client gets `translator`'s output instead of the provider's bytes (and its error
    /// events instead of `style`'s).
    pub fn translated(mut self, translator: StreamTranslator) -> Self {
        self.translator = Some(translator);
        self
    }

    fn end(&mut self, end: End) {
        if let Some(ctx) = self.ctx.take() {
            ctx.finish(end);
        }
    }

    /// What every byte the client gets goes through: counters, the recorder, the debug view.
    fn observe(&mut self, data: &Bytes, now: Instant) {
        let Some(ctx) = self.ctx.as_mut() else {
            return;
        };
        if ctx.is_stream {
            if let Some(last) = self.last_chunk.replace(now) {
                crate::metrics::record_chunk_interval(now - last);
            }
        }
        ctx.bytes_out += data.len() as u64;
        ctx.chunks_out += 1;
        if let Some(events) = ctx.error_events.as_mut() {
            events.feed(data);
        }
        if let Some(capture) = ctx.capture.as_mut() {
            capture.response_chunk(data);
        }
        if let Some(debug) = &ctx.debug {
            debug.response_chunk(data);
        }
        self.tail = Self::next_tail(self.tail, data);
    }

    /// The provider's stream ended: a translator closes the client's stream (cleanly if the
    /// provider finished, else with an error event); then the end phase.
    fn finish(&mut self) {
        self.done = true;
        if let Some(mut translator) = self.translator.take() {
            let mut out = Vec::new();
            translator.finish(&mut out);
            if !out.is_empty() {
                let out = Bytes::from(out);
                self.observe(&out, Instant::now());
                self.pending = Some(out);
            }
        }
        self.end(End::Done);
    }

    /// The provider failed mid-body: queue the dialect's error event, or abort.
    fn fail(
        &mut self,
        end: End,
        why: String,
        code: &str,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(ctx) = &self.ctx {
            let kind = match end {
                End::Timeout => "stream_timeout",
                _ => "stream_failed",
            };
            crate::metrics::record_upstream_error(ctx.label, kind);
        }
        let message = format!("LunaRoute: provider stream failed: {why}");
        if let Some(mut translator) = self.translator.take() {
            let mut out = Vec::new();
            translator.fail(&message, &mut out);
            let out = Bytes::from(out);
            self.observe(&out, Instant::now());
            self.end(end);
            self.done = true;
            return Poll::Ready(Some(Ok(Frame::data(out))));
        }
        self.end(end);
        self.done = true;
        match self.style.event(&message, code) {
            Some(event) => {
                let at_boundary = self.tail == *b"\n\n" || self.tail == *b"\r\r";
                let event = if at_boundary {
                    event
                } else {
                    [b"\n\n".as_slice(), &event].concat().into()
                };
                Poll::Ready(Some(Ok(Frame::data(event))))
            }
            None => Poll::Ready(Some(Err(why.into()))),
        }
    }

    /// The last two bytes forwarded, given the previous ones and a new frame.
    fn next_tail(tail: [u8; 2], data: &[u8]) -> [u8; 2] {
        match data.len() {
            0 => tail,
            1 => [tail[1], data[0]],
            n => [data[n - 2], data[n - 1]],
        }
    }
}

impl HttpBody for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        // Loops only when a translator took provider bytes without producing client bytes yet.
        loop {
            if let Some(event) = this.pending.take() {
                return Poll::Ready(Some(Ok(Frame::data(event))));
            }
            if this.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    let now = Instant::now();
                    this.timer.as_mut().reset(now + this.silence);
                    let frame = match (this.translator.as_mut(), frame.into_data()) {
                        (None, Ok(data)) => {
                            this.observe(&data, now);
                            Some(Frame::data(data))
                        }
                        (None, Err(other)) => Some(other),
                        (Some(translator), Ok(data)) => {
                            if let Some(capture) =
                                this.ctx.as_mut().and_then(|c| c.capture.as_mut())
                            {
                                capture.provider_chunk(&data);
                            }
                            let mut out = Vec::new();
                            translator.push(&data, &mut out);
                            (!out.is_empty()).then(|| {
                                let out = Bytes::from(out);
                                this.observe(&out, now);
                                Frame::data(out)
                            })
                        }
                        // Trailers of a translated stream mean nothing to the client.
                        (Some(_), Err(_)) => None,
                    };
                    // With a content-length, hyper stops polling once it has written that many
                    // bytes, so the last frame is where a complete body ends, not a later `None`.
                    if this.inner.is_end_stream() {
                        this.finish();
                    }
                    if let Some(frame) = frame {
                        return Poll::Ready(Some(Ok(frame)));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    let why = e.to_string();
                    return this.fail(End::UpstreamFailed(why.clone()), why, "upstream_failed");
                }
                Poll::Ready(None) => this.finish(),
                Poll::Pending => {
                    return match this.timer.as_mut().poll(cx) {
                        Poll::Ready(()) => {
                            let why = format!(
                                "no data from the provider for {} s",
                                this.silence.as_secs()
                            );
                            this.fail(End::Timeout, why, "upstream_timeout")
                        }
                        Poll::Pending => Poll::Pending,
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        let inner_done = self.translator.is_none() && self.inner.is_end_stream();
        self.pending.is_none() && (self.done || inner_done)
    }

    fn size_hint(&self) -> SizeHint {
        if self.translator.is_some() {
            return SizeHint::default();
        }
        // Passing the provider's exact length keeps its content-length framing.
        self.inner.size_hint()
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        // An empty body (204, HEAD) is never polled: it ended with the headers. Anything else still
        // unfinished here means the client went away (or hyper gave up on the connection), unless
        // shutdown cut it when the grace period ran out.
        let cut = self
            .ctx
            .as_ref()
            .is_some_and(|ctx| ctx.state.connections.is_cut());
        let end = if self.inner.is_end_stream() {
            End::Done
        } else if cut {
            End::UpstreamFailed(CUT_AT_SHUTDOWN.into())
        } else {
            End::Cancelled
        };
        self.end(end);
    }
}
