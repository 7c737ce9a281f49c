//! The upstream phase of a passthrough: strip hop-by-hop headers (RFC 9110 §7.6.1), put the right
//! credential on, point the request at the provider and send it with the silence timeout.
//! Bodies and all other headers are left exactly as the client sent them.

use super::request_body::{BodyLimitExceeded, ClientBodyError};
use super::upstream::Upstream;
use crate::body::Body;
use crate::error::ProxyError;
use crate::providers::Provider;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response};
use hyper::body::Incoming;

/// Headers that describe one connection, not the message (plus `host`, which is the upstream's).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Removes hop-by-hop headers, including every header `connection` names. With `keep_upgrade`,
/// `connection: upgrade` and `upgrade` stay (a WebSocket handshake is relayed as such).
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .filter(|name| !(keep_upgrade && name == header::UPGRADE))
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        if keep_upgrade && (*name == "connection" || *name == "upgrade") {
            continue;
        }
        headers.remove(*name);
    }
}

/// Request headers as the provider should see them: hop-by-hop gone, `host` left to the client
/// (it sets the upstream's), `expect` dropped (we stream the body right away), credentials set.
pub(crate) fn prepare_request_headers(
    upstream: &Upstream,
    headers: &mut HeaderMap,
    keep_upgrade: bool,
) -> Result<(), ProxyError> {
    strip_hop_by_hop(headers, keep_upgrade);
    headers.remove(header::HOST);
    headers.remove(header::EXPECT);
    apply_credentials(upstream, headers)
}

/// A configured `api_key` replaces whatever the client sent (F13: exactly one credential upstream);
/// without one the client's own credential passes through, or Codex's sign-in fills the gap.
fn apply_credentials(upstream: &Upstream, headers: &mut HeaderMap) -> Result<(), ProxyError> {
    let secret_value = |v: String| {
        let mut value = HeaderValue::from_str(&v).map_err(|_| {
            ProxyError::Internal("configured credential is not a valid header value".into())
        })?;
        value.set_sensitive(true);
        Ok::<_, ProxyError>(value)
    };
    if let Some(key) = &upstream.api_key {
        headers.remove("x-api-key");
        headers.remove(header::AUTHORIZATION);
        match upstream.provider {
            Provider::Anthropic => {
                headers.insert("x-api-key", secret_value(key.expose().to_string())?);
            }
            Provider::OpenAi => {
                headers.insert(
                    header::AUTHORIZATION,
                    secret_value(format!("Bearer {}", key.expose()))?,
                );
            }
        }
        return Ok(());
    }
    if let Some(auth) = &upstream.codex_auth {
        if !headers.contains_key(header::AUTHORIZATION) {
            let tokens = auth.tokens().map_err(ProxyError::MissingCredentials)?;
            let bearer = format!("Bearer {}", tokens.access_token.expose());
            headers.insert(header::AUTHORIZATION, secret_value(bearer)?);
            if let Some(account) = tokens.account_id {
                if let Ok(value) = HeaderValue::from_str(&account) {
                    headers.insert("chatgpt-account-id", value);
                }
            }
        }
    }
    Ok(())
}

/// Sends the request on the provider's pooled client, waiting at most the silence timeout for
/// response headers, and names what went wrong in terms the client can act on.
pub(crate) async fn send(
    upstream: &Upstream,
    request: Request<Body>,
) -> Result<Response<Incoming>, ProxyError> {
    match tokio::time::timeout(upstream.timeout, upstream.client.request(request)).await {
        Err(_elapsed) => Err(ProxyError::UpstreamTimeout {
            secs: upstream.timeout.as_secs(),
        }),
        Ok(Ok(response)) => Ok(response),
        Ok(Err(e)) => Err(classify(upstream, &e)),
    }
}

fn classify(upstream: &Upstream, e: &hyper_util::client::legacy::Error) -> ProxyError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut chain = Vec::new();
    while let Some(err) = source {
        if let Some(limit) = err.downcast_ref::<BodyLimitExceeded>() {
            return ProxyError::BodyTooLarge { limit: limit.0 };
        }
        if let Some(client) = err.downcast_ref::<ClientBodyError>() {
            return ProxyError::BadRequest(client.to_string());
        }
        chain.push(err.to_string());
        source = err.source();
    }
    chain.dedup();
    let target = format!("{}://{}", upstream.base.scheme, upstream.base.authority);
    ProxyError::UpstreamUnreachable(format!("{target}: {}", chain.join(": ")))
}

/// Response headers go back as the provider sent them, minus hop-by-hop ones.
pub(crate) fn prepare_response_headers(headers: &mut HeaderMap) {
    strip_hop_by_hop(headers, false);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_hop_by_hop_and_what_connection_names() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("connection", "keep-alive, x-private-hop"),
            ("keep-alive", "timeout=5"),
            ("x-private-hop", "1"),
            ("transfer-encoding", "chunked"),
            ("te", "trailers"),
            ("proxy-authorization", "Basic abc"),
            ("anthropic-beta", "a,b"),
            ("upgrade", "websocket"),
        ] {
            h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        strip_hop_by_hop(&mut h, false);
        let left: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["anthropic-beta"]);
    }

    #[test]
    fn keeps_the_upgrade_pair_for_websockets() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert("keep-alive", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h, true);
        assert_eq!(h.get(header::UPGRADE).unwrap(), "websocket");
        assert_eq!(h.get(header::CONNECTION).unwrap(), "Upgrade");
        assert!(h.get("keep-alive").is_none());
    }
}
