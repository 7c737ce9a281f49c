//! The one integration-test binary (the crate links once). Every test starts the servers it needs
//! on 127.0.0.1:0 and stops them.

mod support;

mod cli;
mod config;
mod errors;
mod metrics;
#[cfg(feature = "recording")]
mod metrics_recording;
mod passthrough;
#[cfg(all(feature = "recording", feature = "pii"))]
mod pii;
#[cfg(feature = "recording")]
mod recording;
mod routes;
mod routing;
#[cfg(feature = "recording")]
mod search;
mod shutdown;
mod streaming;
#[cfg(feature = "translate")]
mod translate;
mod websocket;

mod sdk;
