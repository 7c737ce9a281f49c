//! The two API dialects LunaRoute speaks, how a request's provider is chosen, and how a client path
//! joins a provider's `base_url`. A plain enum and matches: two providers need no trait objects.

pub(crate) mod codex_auth;

use http::HeaderMap;
use http::Uri;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    Anthropic,
    OpenAi,
}

// === impl Provider ===

impl Provider {
    pub fn name(self) -> &'static str {
        match self {
            Self::Anthropic => "anthropic",
            Self::OpenAi => "openai",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            Self::Anthropic => "Anthropic",
            Self::OpenAi => "OpenAI",
        }
    }

    /// The `[providers.<key>]` table that configures it.
    pub fn config_key(self) -> &'static str {
        self.name()
    }

    pub fn default_base_url(self) -> &'static str {
        match self {
            Self::Anthropic => "https://api.anthropic.com",
            Self::OpenAi => "https://api.openai.com/v1",
        }
    }
}

/// Which assistant sent the request, from `user-agent` and `originator` (WIRE.md): `claude-code`,
/// `codex`, `opencode`, `sdk` or `other`. Metrics label by it; the recorder stores it.
pub(crate) fn client_name(headers: &HeaderMap) -> &'static str {
    let lower = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default()
    };
    let (ua, originator) = (lower("user-agent"), lower("originator"));
    if ua.starts_with("claude-cli") || ua.contains("claude-code") {
        "claude-code"
    } else if originator.starts_with("codex") || ua.starts_with("codex") {
        "codex"
    } else if originator == "opencode" || ua.contains("opencode") {
        "opencode"
    } else if headers.contains_key("x-stainless-lang")
        || ua.contains("anthropic")
        || ua.contains("openai")
    {
        "sdk"
    } else {
        "other"
    }
}

/// For paths both dialects use (`/v1/models`, unknown `/v1/...`): Anthropic clients always send
/// `anthropic-version` (the SDK even with Bearer auth) or `x-api-key`; OpenAI clients send neither.
pub(crate) fn detect(headers: &HeaderMap) -> Provider {
    if headers.contains_key("anthropic-version") || headers.contains_key("x-api-key") {
        Provider::Anthropic
    } else {
        Provider::OpenAi
    }
}

/// A provider's parsed `base_url`, ready to join client paths onto.
#[derive(Debug, Clone)]
pub(crate) struct BaseUrl {
    pub scheme: http::uri::Scheme,
    pub authority: http::uri::Authority,
    /// The base path without a trailing slash ("" for a bare host).
    pub path: String,
}

impl BaseUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        let parts = uri.into_parts();
        let scheme = parts
            .scheme
            .ok_or_else(|| format!("`{url}` has no scheme"))?;
        let authority = parts
            .authority
            .ok_or_else(|| format!("`{url}` has no host"))?;
        let path = parts
            .path_and_query
            .map(|p| p.path().to_string())
            .unwrap_or_default();
        Ok(Self {
            scheme,
            authority,
            path: path.trim_end_matches('/').to_string(),
        })
    }

    pub fn is_https(&self) -> bool {
        self.scheme == http::uri::Scheme::HTTPS
    }

    /// The upstream URI for a client request, keeping the query string byte-for-byte.
    ///
    /// Anthropic clients append `/v1/...` to a base URL that has no `/v1`; OpenAI clients treat the
    /// base URL as the API root (`.../v1`, `.../v1beta/openai`). Either way `/v1/v1` never appears
    /// (FIELD_CASES F14), and Codex's short paths (`/responses`) land on the same endpoint as `/v1/...`.
    pub fn join(&self, provider: Provider, path_and_query: &str) -> Result<Uri, String> {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        let client_rest = path
            .strip_prefix("/v1")
            .filter(|r| r.is_empty() || r.starts_with('/'));
        let joined = match provider {
            Provider::Anthropic => match client_rest {
                Some(rest) if self.path.ends_with("/v1") => format!("{}{rest}", self.path),
                _ => format!("{}{path}", self.path),
            },
            Provider::OpenAi => {
                let rest = client_rest.unwrap_or(path);
                if self.path.is_empty() {
                    format!("/v1{rest}")
                } else {
                    format!("{}{rest}", self.path)
                }
            }
        };
        let joined = if joined.is_empty() {
            "/".to_string()
        } else {
            joined
        };
        let path_and_query = match query {
            Some(q) => format!("{joined}?{q}"),
            None => joined,
        };
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
            .map_err(|e| format!("cannot build upstream URI: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(base: &str, provider: Provider, path: &str) -> String {
        BaseUrl::parse(base)
            .unwrap()
            .join(provider, path)
            .unwrap()
            .to_string()
    }

    #[test]
    fn base_urls_with_and_without_v1_never_double_it() {
        // FIELD_CASES F14: all three spellings give the same upstream, query string intact.
        for base in [
            "https://gw.example/v1",
            "https://gw.example/v1/",
            "https://gw.example",
        ] {
            for provider in [Provider::Anthropic, Provider::OpenAi] {
                assert_eq!(
                    join(base, provider, "/v1/messages?beta=true"),
                    "https://gw.example/v1/messages?beta=true",
                    "{base} {provider:?}"
                );
            }
            assert_eq!(
                join(base, Provider::OpenAi, "/responses"),
                "https://gw.example/v1/responses"
            );
            assert_eq!(
                join(base, Provider::OpenAi, "/v1/chat/completions?x=1&y=%20"),
                "https://gw.example/v1/chat/completions?x=1&y=%20"
            );
        }
    }

    #[test]
    fn base_urls_with_their_own_api_root() {
        // OpenAI-compatible roots that are not /v1 (Gemini, the ChatGPT Codex backend).
        let gemini = "https://generativelanguage.googleapis.com/v1beta/openai";
        assert_eq!(
            join(gemini, Provider::OpenAi, "/v1/chat/completions"),
            "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions"
        );
        let chatgpt = "https://chatgpt.com/backend-api/codex";
        assert_eq!(
            join(chatgpt, Provider::OpenAi, "/responses"),
            "https://chatgpt.com/backend-api/codex/responses"
        );
        // Anthropic-compatible gateways under a path get `/v1/...` appended, as the SDK does.
        assert_eq!(
            join(
                "http://127.0.0.1:9000/api/anthropic",
                Provider::Anthropic,
                "/v1/messages"
            ),
            "http://127.0.0.1:9000/api/anthropic/v1/messages"
        );
        // `/v1foo` is not `/v1` followed by a path.
        assert_eq!(
            join("https://gw.example/v1", Provider::Anthropic, "/v1foo"),
            "https://gw.example/v1/v1foo"
        );
    }
}
