//! [recording + pii] PII and secret redaction end to end: a streamed two-turn session through the
//! proxy, what lands on disk in each mode, tokens across a restart and `pii reveal` (the real
//! binary), upstream mode (what the provider receives), WebSocket turns and the debug stream view.

mod debug_view;
mod recording;
mod session;
mod startup;
mod tokenize;
mod upstream;
mod websocket;
