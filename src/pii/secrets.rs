//! Secret detectors: provider API keys, cloud and chat tokens, private-key blocks, bearer tokens
//! and JWTs. Redacted from recordings in every mode as `[SECRET:<kind>]` (unless the config says
//! `redact_secrets = false`). One regex with a literal prefix per kind, so the search skips
//! straight to `sk-`, `AKIA`, `ghp_`, `eyJ`, ... and costs little on text without them.

use super::detect::{is_word, word_before, Kind, Span};
use regex::Regex;
use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SecretKind {
    AnthropicKey,
    OpenAiProjectKey,
    OpenAiKey,
    AwsAccessKey,
    AwsSecretKey,
    GithubToken,
    SlackToken,
    StripeKey,
    GoogleApiKey,
    PrivateKey,
    BearerToken,
    Jwt,
}

/// The capture-group names in `SECRETS` and the kind each one reports.
const KINDS: &[(&str, SecretKind)] = &[
    ("anthropic_key", SecretKind::AnthropicKey),
    ("openai_project_key", SecretKind::OpenAiProjectKey),
    ("jwt", SecretKind::Jwt),
    ("openai_key", SecretKind::OpenAiKey),
    ("aws_access_key", SecretKind::AwsAccessKey),
    ("aws_secret_key", SecretKind::AwsSecretKey),
    ("github_token", SecretKind::GithubToken),
    ("slack_token", SecretKind::SlackToken),
    ("stripe_key", SecretKind::StripeKey),
    ("google_api_key", SecretKind::GoogleApiKey),
    ("private_key", SecretKind::PrivateKey),
    ("bearer_token", SecretKind::BearerToken),
];

impl SecretKind {
    /// The name inside `[SECRET:<name>]`.
    pub(crate) fn name(self) -> &'static str {
        KINDS
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("secret", |(n, _)| n)
    }

    /// The `Counts` key: `secret:<name>`.
    pub(crate) fn count_name(self) -> &'static str {
        match self {
            SecretKind::AnthropicKey => "secret:anthropic_key",
            SecretKind::OpenAiProjectKey => "secret:openai_project_key",
            SecretKind::OpenAiKey => "secret:openai_key",
            SecretKind::AwsAccessKey => "secret:aws_access_key",
            SecretKind::AwsSecretKey => "secret:aws_secret_key",
            SecretKind::GithubToken => "secret:github_token",
            SecretKind::SlackToken => "secret:slack_token",
            SecretKind::StripeKey => "secret:stripe_key",
            SecretKind::GoogleApiKey => "secret:google_api_key",
            SecretKind::PrivateKey => "secret:private_key",
            SecretKind::BearerToken => "secret:bearer_token",
            SecretKind::Jwt => "secret:jwt",
        }
    }
}

/// Every kind in one alternation; each kind is a named group holding the part to replace (for a
/// bearer token only the token: `Bearer [SECRET:bearer_token]` still reads as a header).
static SECRETS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?P<anthropic_key>sk-ant-[A-Za-z0-9_-]{20,})",
        r"|(?P<openai_project_key>sk-proj-[A-Za-z0-9_-]{20,})",
        r"|(?P<jwt>eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)",
        r"|(?P<openai_key>sk-(?:[A-Za-z0-9]+-)?[A-Za-z0-9_-]{20,})",
        r"|(?P<aws_access_key>(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16})",
        // 40 base64 characters are anything; only the names AWS tools write them under
        // (`.env`, `~/.aws/credentials`, `aws sts` JSON) say it is the secret half of a key.
        r"|(?:aws_secret_access_key|AWS_SECRET_ACCESS_KEY|aws_secret_key|AWS_SECRET_KEY|SecretAccessKey|secretAccessKey)",
        r#"["']?[ \t]*[:=][ \t]*["']?(?P<aws_secret_key>[A-Za-z0-9/+]{40})"#,
        r"|(?P<github_token>gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})",
        r"|(?P<slack_token>xox[abprs]-[A-Za-z0-9-]{10,})",
        r"|(?P<stripe_key>(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,})",
        r"|(?P<google_api_key>AIza[A-Za-z0-9_-]{35})",
        r"|(?P<private_key>-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)-----END [A-Z0-9 ]*PRIVATE KEY-----",
        r"|-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[A-Za-z0-9+/=\r\n]*)",
        r"|(?:[Bb]earer|BEARER)[ \t]+(?P<bearer_token>[A-Za-z0-9._~+/=-]{16,})",
    ))
    .expect("static pattern")
});

/// Capture-group index of each kind, looked up by name once.
static GROUPS: LazyLock<Vec<(usize, SecretKind)>> = LazyLock::new(|| {
    let names: Vec<Option<&str>> = SECRETS.capture_names().collect();
    KINDS
        .iter()
        .filter_map(|(name, kind)| {
            let group = names.iter().position(|n| *n == Some(*name))?;
            Some((group, *kind))
        })
        .collect()
});

/// A generic `sk-…` or bearer value is random: it mixes letters and digits. Prose and
/// kebab-case identifiers (`sk-learn-compatible-transformer`) do not.
fn looks_random(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_digit()) && s.bytes().filter(u8::is_ascii_alphabetic).count() >= 4
}

/// A documentation placeholder (`ghp_xxxx…`, `AKIAXXXX…`, `sk-…00000000…`): eight or more of the
/// same character in a row, which a random token of these lengths practically never has.
fn placeholder(s: &str) -> bool {
    let b = s.as_bytes();
    let mut run = 1;
    for i in 1..b.len() {
        run = if b[i] == b[i - 1] { run + 1 } else { 1 };
        if run >= 8 {
            return true;
        }
    }
    false
}

/// A JWT's shape: three dot-separated base64url parts, the first two JSON objects (`eyJ`).
fn is_jwt(s: &str) -> bool {
    let mut parts = s.split('.');
    let (Some(head), Some(body), Some(_sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    head.starts_with("eyJ") && body.starts_with("eyJ")
}

pub(crate) fn secrets(text: &str, out: &mut Vec<Span>) {
    let bytes = text.as_bytes();
    let mut caps = SECRETS.capture_locations();
    let mut at = 0;
    while at < text.len() {
        let Some(m) = SECRETS.captures_read_at(&mut caps, text, at) else {
            break;
        };
        at = m.end().max(m.start() + 1);
        while !text.is_char_boundary(at) {
            at += 1;
        }
        let found = GROUPS
            .iter()
            .find_map(|&(group, kind)| caps.get(group).map(|(s, e)| (s, e, kind)));
        let Some((start, end, mut kind)) = found else {
            continue;
        };
        let value = &text[start..end];
        // `Bearer eyJ….eyJ….…` is reported as what it is, like a JWT anywhere else.
        if kind == SecretKind::BearerToken && is_jwt(value) {
            kind = SecretKind::Jwt;
        }
        // A key glued into a longer word is a name, not a key (`task-…`, `XAKIA…`), but only the
        // short prefixes (`sk-`, `AKIA`) make such names; the distinctive ones (`sk-ant-`,
        // `ghp_`, `xoxb-`, ...) are keys wherever they start (`apikeysk-ant-…`, `KEY_ghp_…`).
        // An escape written out in text (`\nsk-…` in a logged JSON line) is a boundary too.
        let ambiguous_prefix = matches!(kind, SecretKind::OpenAiKey | SecretKind::AwsAccessKey);
        let glued_before = ambiguous_prefix && word_before(bytes, start);
        let glued_after = bytes.get(end).is_some_and(|&b| {
            is_word(b) || (kind == SecretKind::AwsSecretKey && b"/+=".contains(&b))
        }) && !matches!(kind, SecretKind::PrivateKey);
        if glued_before || glued_after {
            continue;
        }
        let plausible = match kind {
            SecretKind::OpenAiKey | SecretKind::BearerToken => looks_random(value),
            SecretKind::AnthropicKey | SecretKind::OpenAiProjectKey => {
                value.bytes().any(|b| b.is_ascii_digit())
            }
            _ => true,
        } && (kind == SecretKind::PrivateKey || !placeholder(value));
        if plausible {
            out.push(Span {
                start,
                end,
                kind: Kind::Secret(kind),
            });
        }
    }
}
