//! What the taps collect on the request path, and nothing more: cheap `Bytes` clones (a reference
//! count, no copy) with their arrival times, and the heads. Parsing, decoding and writing happen
//! later on the writer thread. A capture stops growing at its byte cap and says it was truncated.

use bytes::Bytes;
use http::HeaderMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

/// Body pieces with their offsets (µs since the request started).
#[derive(Default)]
pub(crate) struct Chunks {
    pub pieces: Vec<(u64, Bytes)>,
    pub bytes: usize,
    pub truncated: bool,
}

impl Chunks {
    fn push(&mut self, at_us: u64, data: &Bytes, cap: usize) {
        if self.bytes + data.len() > cap {
            self.truncated = true;
            return;
        }
        self.bytes += data.len();
        self.pieces.push((at_us, data.clone()));
    }

    /// The body as one buffer (a copy only when it came in several pieces).
    pub fn concat(&self) -> Bytes {
        match self.pieces.as_slice() {
            [] => Bytes::new(),
            [(_, only)] => only.clone(),
            many => {
                let mut all = Vec::with_capacity(self.bytes);
                for (_, piece) in many {
                    all.extend_from_slice(piece);
                }
                all.into()
            }
        }
    }
}

pub(crate) struct Capture {
    pub started: Instant,
    pub started_at: SystemTime,
    pub request_headers: HeaderMap,
    pub request: Arc<Mutex<Chunks>>,
    pub response_status: u16,
    pub response_headers: HeaderMap,
    pub response: Chunks,
    /// µs from the start to the first response body byte.
    pub first_byte_us: Option<u64>,
    /// A translated answer as the provider sent it, before translation: its usage is the one
    /// recorded (the client's dialect may not carry it, e.g. a Chat stream without
    /// `include_usage`, or may fold cache writes into input).
    pub provider_answer: Option<ProviderAnswer>,
    cap: usize,
}

/// The provider's side of a translated answer.
pub(crate) struct ProviderAnswer {
    /// The provider path it answered (`/v1/messages`, `/v1/chat/completions`, `/v1/responses`).
    pub path: &'static str,
    pub body: Chunks,
}

/// The request body's handle into its capture (the body itself is owned by the upstream client).
#[derive(Clone)]
pub(crate) struct RequestSink {
    chunks: Arc<Mutex<Chunks>>,
    started: Instant,
    cap: usize,
}

impl RequestSink {
    pub fn push(&self, data: &Bytes) {
        let at = self.started.elapsed().as_micros() as u64;
        // Uncontended: only this body pushes, and the writer reads after the exchange ended.
        if let Ok(mut chunks) = self.chunks.lock() {
            chunks.push(at, data, self.cap);
        }
    }

    /// The body stopped before its end (over the size limit, or the client's upload broke):
    /// what was captured is only its start.
    pub fn cut(&self) {
        if let Ok(mut chunks) = self.chunks.lock() {
            chunks.truncated = true;
        }
    }
}

impl Capture {
    pub fn new(started: Instant, request_headers: HeaderMap, cap: usize) -> Self {
        Self {
            started,
            started_at: SystemTime::now() - started.elapsed(),
            request_headers,
            request: Arc::default(),
            response_status: 0,
            response_headers: HeaderMap::new(),
            response: Chunks::default(),
            first_byte_us: None,
            provider_answer: None,
            cap,
        }
    }

    pub fn request_sink(&self) -> RequestSink {
        RequestSink {
            chunks: self.request.clone(),
            started: self.started,
            cap: self.cap,
        }
    }

    pub fn response_head(&mut self, status: u16, headers: &HeaderMap) {
        self.response_status = status;
        self.response_headers = headers.clone();
    }

    pub fn response_chunk(&mut self, data: &Bytes) {
        let at = self.started.elapsed().as_micros() as u64;
        self.first_byte_us.get_or_insert(at);
        self.response.push(at, data, self.cap);
    }

    /// The answer is translated from the provider's at `path`: keep the provider's bytes too.
    pub fn provider_answer_from(&mut self, path: &'static str) {
        self.provider_answer = Some(ProviderAnswer {
            path,
            body: Chunks::default(),
        });
    }

    /// A piece of the provider's untranslated answer (a reference count, no copy). Only its usage
    /// is read, so no arrival time is taken.
    pub fn provider_chunk(&mut self, data: &Bytes) {
        if let Some(answer) = self.provider_answer.as_mut() {
            answer.body.push(0, data, self.cap);
        }
    }

    /// Bytes this capture holds (what it costs the recorder's memory budget).
    pub fn size(&self) -> usize {
        let request = self.request.lock().map(|c| c.bytes).unwrap_or(0);
        let provider = self.provider_answer.as_ref().map_or(0, |a| a.body.bytes);
        request + self.response.bytes + provider
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_the_cap_and_says_so() {
        let mut capture = Capture::new(Instant::now(), HeaderMap::new(), 10);
        capture.response_chunk(&Bytes::from_static(b"12345"));
        capture.response_chunk(&Bytes::from_static(b"678"));
        capture.response_chunk(&Bytes::from_static(b"9abc"));
        assert_eq!(capture.response.concat(), Bytes::from_static(b"12345678"));
        assert!(capture.response.truncated);
        let sink = capture.request_sink();
        sink.push(&Bytes::from_static(b"{}"));
        assert_eq!(capture.size(), 10);
        assert!(capture.first_byte_us.is_some());
    }
}
