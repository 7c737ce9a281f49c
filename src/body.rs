//! The one body type every response and upstream request uses, and the helpers that build it.
//!
//! Boxing keeps the router's match arms to one type while the bytes inside stay zero-copy `Bytes`.

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full};

/// Errors carried inside bodies (hyper's, ours, timeouts) all travel as this.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of every request we send upstream and every response we return.
pub type Body = BoxBody<Bytes, BoxError>;

pub(crate) fn empty() -> Body {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed()
}

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A JSON value serialised once into a body.
pub(crate) fn json(value: &serde_json::Value) -> Body {
    // Serialising a `Value` cannot fail: every key is a string.
    full(serde_json::to_vec(value).unwrap_or_default())
}
