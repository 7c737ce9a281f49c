//! A relayed WebSocket connection as the writer thread sees it (Codex's Responses transport): the
//! relay's byte copies go through a frame reader per direction; each client `response.create`
//! starts a turn, the server's event frames fill it, and a terminal event (`response.completed`,
//! `.failed`, `.incomplete`, `error`) ends it as one recorded request, like an SSE request would be.

use super::assemble::{Api, StreamAssembler};
use super::exchange::Finished;
use super::ws_frames::{negotiated_deflate, FrameReader, Message};
use crate::providers::Provider;
use crate::proxy::ctx::End;
use bytes::Bytes;
use http::HeaderMap;
use std::time::{Instant, SystemTime};

const TERMINAL: &[&str] = &[
    "response.completed",
    "response.failed",
    "response.incomplete",
    "error",
];

pub(crate) struct WsSession {
    request_id: String,
    provider: Provider,
    endpoint: String,
    request_headers: HeaderMap,
    response_headers: HeaderMap,
    opened: Instant,
    opened_at: SystemTime,
    client: FrameReader,
    server: FrameReader,
    turn: Option<Turn>,
    turns: u64,
}

struct Turn {
    request_id: String,
    started: Instant,
    request_body: Bytes,
    events: Vec<u8>,
    assembler: StreamAssembler,
    first_event_ms: Option<f64>,
    frames: u64,
}

impl WsSession {
    pub fn new(
        request_id: String,
        provider: Provider,
        endpoint: String,
        request_headers: HeaderMap,
        response_headers: HeaderMap,
        opened: Instant,
    ) -> Self {
        let extensions = response_headers
            .get("sec-websocket-extensions")
            .and_then(|v| v.to_str().ok());
        let (deflate, client_no_takeover, server_no_takeover) = negotiated_deflate(extensions);
        Self {
            request_id,
            provider,
            endpoint,
            request_headers,
            response_headers,
            opened,
            opened_at: SystemTime::now() - opened.elapsed(),
            client: FrameReader::new(deflate, client_no_takeover),
            server: FrameReader::new(deflate, server_no_takeover),
            turn: None,
            turns: 0,
        }
    }

    /// Bytes the client sent; a `response.create` starts a turn (ending an unfinished one).
    pub fn client_bytes(&mut self, at: Instant, bytes: &[u8]) -> Vec<Finished> {
        let mut done = Vec::new();
        for text in text_messages(&mut self.client, bytes) {
            let is_create = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .is_some_and(|v| v["type"] == "response.create");
            if !is_create {
                continue;
            }
            done.extend(self.end_turn(at, End::Cancelled));
            self.turns += 1;
            self.turn = Some(Turn {
                request_id: format!("{}.{}", self.request_id, self.turns),
                started: at,
                request_body: Bytes::from(text),
                events: Vec::new(),
                assembler: StreamAssembler::new(Api::Responses),
                first_event_ms: None,
                frames: 0,
            });
        }
        done
    }

    /// Bytes the server sent; a terminal event ends the turn.
    pub fn server_bytes(&mut self, at: Instant, bytes: &[u8]) -> Vec<Finished> {
        let mut done = Vec::new();
        for text in text_messages(&mut self.server, bytes) {
            let Some(turn) = self.turn.as_mut() else {
                continue;
            };
            let at_ms = at.saturating_duration_since(turn.started).as_secs_f64() * 1000.0;
            turn.first_event_ms.get_or_insert(at_ms);
            turn.frames += 1;
            turn.events.extend_from_slice(text.as_bytes());
            turn.events.push(b'\n');
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            let kind = event["type"].as_str().map(str::to_string);
            turn.assembler.event(at_ms, kind.as_deref(), &event);
            if kind.is_some_and(|k| TERMINAL.contains(&k.as_str())) {
                done.extend(self.end_turn(at, End::Done));
            }
        }
        done
    }

    /// The connection closed: an unfinished turn is recorded with how it ended.
    pub fn close(&mut self, at: Instant, end: End) -> Option<Finished> {
        self.end_turn(at, end)
    }

    fn end_turn(&mut self, at: Instant, end: End) -> Option<Finished> {
        let turn = self.turn.take()?;
        let started_at = self.opened_at + turn.started.saturating_duration_since(self.opened);
        Some(Finished {
            request_id: turn.request_id,
            provider: self.provider,
            endpoint: self.endpoint.clone(),
            transport: "websocket",
            request_headers: self.request_headers.clone(),
            request_body: turn.request_body,
            status: 101,
            response_headers: self.response_headers.clone(),
            response_body: Bytes::from(turn.events),
            response: turn.assembler.finish(),
            started_at,
            total: at.saturating_duration_since(turn.started),
            ttfb_ms: turn.first_event_ms,
            upstream_ms: 0.0,
            overhead_us: 0,
            chunks: turn.frames,
            end,
            truncated: self.client.broken().is_some() || self.server.broken().is_some(),
        })
    }
}

/// The text messages `bytes` completes in one direction; binary and close frames carry no turn.
fn text_messages(reader: &mut FrameReader, bytes: &[u8]) -> Vec<String> {
    let mut messages = Vec::new();
    reader.feed(bytes, &mut messages);
    messages
        .into_iter()
        .filter_map(|message| match message {
            Message::Text(text) => Some(text),
            Message::Binary(_) | Message::Close => None,
        })
        .collect()
}
