//! Who may use the proxy. It forwards the user's credentials (a configured key, Codex's sign-in)
//! and, by default, listens on loopback only — but a web page open in the user's browser can still
//! send requests to `localhost`. Two rules keep such pages out:
//! - a request with an `Origin` that is not a loopback host is refused (browsers always send
//!   `Origin` on cross-origin requests, including simple POSTs and CORS preflights; CLIs and SDKs
//!   send none);
//! - while listening on loopback, a `Host` that is not a loopback name is refused, which defeats DNS
//!   rebinding (a page whose own host name resolves to 127.0.0.1).

use crate::config::Secret;
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

/// The search API (`/sessions`, `/stats`) serves recorded conversations, so on top of `check`:
/// on a non-loopback bind it is off (404) without `sessions.api_token`; a `Host` that is neither a
/// loopback name nor the configured `host` (nor, on a `0.0.0.0`/`::` bind, an IP literal) is
/// refused (403, DNS rebinding); and the request must
/// carry `Authorization: Bearer <token>` (401). On loopback, `check` already holds the Host rule.
pub(crate) fn check_sessions(
    loopback_only: bool,
    configured_host: &str,
    token: Option<&Secret>,
    path: &str,
    headers: &HeaderMap,
) -> Result<(), ProxyError> {
    if loopback_only {
        return Ok(());
    }
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(ProxyError::NotFound {
            method: "GET".into(),
            path: format!("{path} (set sessions.api_token to serve it on a non-loopback address)"),
        });
    };
    if let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        let name = host_of(host);
        let bare = name.trim_matches(['[', ']']);
        let configured = bare.eq_ignore_ascii_case(configured_host.trim_matches(['[', ']']));
        // On a wildcard bind the machine's own addresses are not known: any IP literal is one a
        // client dialled directly. DNS rebinding needs a name, so names stay refused.
        let wildcard_ip = is_wildcard(configured_host) && bare.parse::<std::net::IpAddr>().is_ok();
        if !is_loopback_host(name) && !configured && !wildcard_ip {
            return Err(ProxyError::Forbidden(format!(
                "Host `{host}` is neither localhost nor the configured host `{configured_host}` (DNS rebinding guard)"
            )));
        }
    }
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !same_secret(sent.as_bytes(), token.expose().as_bytes()) {
        return Err(ProxyError::Unauthorized(
            "this endpoint needs `Authorization: Bearer <sessions.api_token>`".into(),
        ));
    }
    Ok(())
}

/// `0.0.0.0` or `::`: listening on every interface.
fn is_wildcard(configured_host: &str) -> bool {
    configured_host
        .trim_matches(['[', ']'])
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_unspecified())
}

/// Compares in time independent of where the first difference is.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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
    use crate::test_support::headers;

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
    fn sessions_need_a_token_and_a_known_host_off_loopback() {
        let token = Secret::new("t0k");
        let check = |token: Option<&Secret>, h: &HeaderMap| {
            check_sessions(false, "10.0.0.5", token, "/sessions", h)
                .map_err(|e| e.status().as_u16())
        };
        let good = headers(&[("host", "10.0.0.5:8081"), ("authorization", "Bearer t0k")]);
        assert_eq!(check(Some(&token), &good), Ok(()));
        assert_eq!(check(None, &good), Err(404));
        assert_eq!(
            check(
                Some(&token),
                &headers(&[("host", "localhost"), ("authorization", "Bearer t0k")])
            ),
            Ok(())
        );
        assert_eq!(
            check(Some(&token), &headers(&[("host", "10.0.0.5")])),
            Err(401)
        );
        assert_eq!(
            check(
                Some(&token),
                &headers(&[("host", "10.0.0.5"), ("authorization", "Bearer t0")])
            ),
            Err(401)
        );
        assert_eq!(
            check(
                Some(&token),
                &headers(&[("host", "evil.example"), ("authorization", "Bearer t0k")])
            ),
            Err(403)
        );
        assert!(check_sessions(true, "127.0.0.1", None, "/sessions", &headers(&[])).is_ok());
    }

    #[test]
    fn wildcard_binds_accept_ip_literals_but_not_foreign_names() {
        let token = Secret::new("t0k");
        for configured in ["0.0.0.0", "::", "[::]"] {
            let check = |host: &'static str| {
                check_sessions(
                    false,
                    configured,
                    Some(&token),
                    "/sessions",
                    &headers(&[("host", host), ("authorization", "Bearer t0k")]),
                )
                .map_err(|e| e.status().as_u16())
            };
            for ok in [
                "192.0.2.2:18782",
                "192.0.2.2",
                "[2001:db8::2]:18782",
                "localhost:18782",
                "0.0.0.0:18782",
            ] {
                assert_eq!(check(ok), Ok(()), "{configured} {ok}");
            }
            for bad in ["rebound.example:18782", "192.0.2.2.nip.io", "evil"] {
                assert_eq!(check(bad), Err(403), "{configured} {bad}");
            }
        }
        // A specific bind address still only accepts itself (and localhost).
        assert!(check_sessions(
            false,
            "10.0.0.5",
            Some(&token),
            "/sessions",
            &headers(&[("host", "192.0.2.2"), ("authorization", "Bearer t0k")])
        )
        .is_err());
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
