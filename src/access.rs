//! Who may use the proxy. It forwards the user's credentials (a configured key, Codex's sign-in)
//! and, by default, listens on loopback only — but a web page open in the user's browser can still
//! send requests to `localhost`. Two rules keep such pages out:
//! - a request with an `Origin` that is not a loopback host is refused (browsers always send
//!   `Origin` on cross-origin requests, including simple POSTs and CORS preflights; CLIs and SDKs
//!   send none);
//! - while listening on loopback, a `Host` that is not a loopback name is refused, which defeats DNS
//!   rebinding (a page whose own host name resolves to 127.0.0.1).

use crate::error::ProxyError;
use http::{header, HeaderMap, Uri};

/// `localhost`, `*.localhost`, `127.x.y.z` and `::1`, with or without brackets.
fn is_loopback_host(host: &str) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The host part of `host[:port]` or `[v6]:port`.
fn host_of(authority: &str) -> &str {
    if let Some(end) = authority.strip_prefix('[').and_then(|rest| rest.find(']')) {
        return &authority[..end + 2];
    }
    authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host)
}

/// Whether the server only listens on loopback (the default), where the `Host` rule applies.
pub(crate) fn listens_on_loopback(configured_host: &str) -> bool {
    is_loopback_host(configured_host)
}

pub(crate) fn check(loopback_only: bool, uri: &Uri, headers: &HeaderMap) -> Result<(), ProxyError> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        let host = origin
            .parse::<Uri>()
            .ok()
            .and_then(|u| u.host().map(str::to_string));
        if !host.as_deref().is_some_and(is_loopback_host) {
            return Err(ProxyError::Forbidden(format!(
                "requests from web pages ({origin}) are refused: LunaRoute forwards your credentials"
            )));
        }
    }
    if loopback_only {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| uri.authority().map(|a| a.as_str()));
        // No Host at all (HTTP/1.0) cannot come from a browser.
        if let Some(host) = host.filter(|h| !is_loopback_host(host_of(h))) {
            return Err(ProxyError::Forbidden(format!(
                "Host `{host}` is not this machine: LunaRoute answers to localhost names only (DNS rebinding guard)"
            )));
        }
    }
    Ok(())
}

/// Paths with `.` or `..` segments (also percent-encoded) could climb out of the provider's base
/// path once joined, with the user's key attached: refused.
pub(crate) fn has_dot_segments(path: &str) -> bool {
    path.split('/').any(|segment| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn foreign_origins_and_hosts_are_refused() {
        let uri: Uri = "/v1/messages".parse().unwrap();
        for ok in [
            headers(&[("host", "localhost:8081")]),
            headers(&[("host", "127.0.0.1:8081")]),
            headers(&[("host", "[::1]:8081")]),
            headers(&[("host", "localhost"), ("origin", "http://localhost:3000")]),
            headers(&[("host", "127.0.0.1"), ("origin", "http://127.0.0.1:5173")]),
            headers(&[]),
        ] {
            assert!(check(true, &uri, &ok).is_ok(), "{ok:?}");
        }
        for bad in [
            headers(&[
                ("host", "localhost:8081"),
                ("origin", "https://evil.example"),
            ]),
            headers(&[("host", "attacker.example:8081")]),
            headers(&[("host", "localhost.evil.example")]),
            headers(&[("host", "localhost"), ("origin", "null")]),
        ] {
            assert!(
                matches!(check(true, &uri, &bad), Err(ProxyError::Forbidden(_))),
                "{bad:?}"
            );
        }
        // Listening on all interfaces: remote clients use any Host; web pages are still refused.
        assert!(check(false, &uri, &headers(&[("host", "10.0.0.5:8081")])).is_ok());
        assert!(check(false, &uri, &headers(&[("origin", "https://evil.example")])).is_err());
    }

    #[test]
    fn dot_segments() {
        for bad in [
            "/v1/../admin",
            "/v1/./messages",
            "/v1/%2e%2e/x",
            "/v1/.%2E/x",
            "/..",
        ] {
            assert!(has_dot_segments(bad), "{bad}");
        }
        for ok in [
            "/v1/messages",
            "/v1/models/claude-3.5",
            "/v1/...",
            "/v1/a..b",
        ] {
            assert!(!has_dot_segments(ok), "{ok}");
        }
    }
}
