//! The query string of `GET /sessions` and `GET /stats`, parsed and checked once: a parameter
//! that is unknown, repeated or malformed is a 400 that names it. Values only ever reach SQL as
//! bound parameters (`query.rs`); this file decides which conditions exist, never their text.

use crate::recording::clock::days_from_civil;
use std::time::{SystemTime, UNIX_EPOCH};

const DAY_MS: i64 = 86_400_000;
pub(super) const DEFAULT_LIMIT: i64 = 50;
pub(super) const MAX_LIMIT: i64 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sort {
    Newest,
    Oldest,
    Tokens,
    Cost,
    Duration,
}

/// The filters of `GET /sessions`; `None` means "no condition".
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SessionQuery {
    /// An FTS5 expression built from the user's words (each one a quoted phrase, all required).
    pub text: Option<String>,
    /// Sessions active at or after this time (`days`, `since`).
    pub since_ms: Option<i64>,
    /// Sessions started before this time (`until`).
    pub until_ms: Option<i64>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub client: Option<String>,
    pub success: Option<bool>,
    pub min_total_tokens: Option<i64>,
    pub max_total_tokens: Option<i64>,
    pub min_cost: Option<f64>,
    pub tool: Option<String>,
    pub sort: Sort,
    pub limit: i64,
    pub offset: i64,
}

pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn bad(name: &str, why: impl std::fmt::Display) -> String {
    format!("query parameter `{name}`: {why}")
}

/// `a=1&b=x%20y` → pairs, percent- and `+`-decoded. A repeated name is refused.
pub(super) fn pairs(query: Option<&str>) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for part in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let (k, v) = (
            decode(k).ok_or_else(|| bad(k, "bad percent-encoding"))?,
            decode(v),
        );
        let v = v.ok_or_else(|| bad(&k, "bad percent-encoding"))?;
        if out.iter().any(|(seen, _)| *seen == k) {
            return Err(bad(&k, "given more than once"));
        }
        out.push((k, v));
    }
    Ok(out)
}

fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| bad(name, format!("`{value}` is not a valid number")))
}

fn non_negative(name: &str, value: &str) -> Result<i64, String> {
    let n: i64 = number(name, value)?;
    if n < 0 {
        return Err(bad(name, "must not be negative"));
    }
    Ok(n)
}

fn text(name: &str, value: String) -> Result<String, String> {
    if value.trim().is_empty() {
        return Err(bad(name, "must not be empty"));
    }
    Ok(value)
}

/// The values the store records in `sessions.provider` and `sessions.client`
/// (`recording::sqlite::write`).
const PROVIDERS: &[&str] = &["anthropic", "openai"];
const CLIENTS: &[&str] = &["claude-code", "codex", "opencode", "sdk", "other"];

fn one_of(name: &str, value: String, known: &[&str]) -> Result<String, String> {
    if known.contains(&value.as_str()) {
        return Ok(value);
    }
    Err(bad(
        name,
        format!("`{value}` is not one of {}", known.join(", ")),
    ))
}

/// `days=N` → the cut-off N days before `now`.
fn days_cutoff(value: &str, now: i64) -> Result<i64, String> {
    let days = non_negative("days", value)?;
    if days == 0 || days > 36_500 {
        return Err(bad("days", "must be between 1 and 36500"));
    }
    Ok(now - days * DAY_MS)
}

impl SessionQuery {
    pub(super) fn parse(query: Option<&str>, now: i64) -> Result<Self, String> {
        let mut q = SessionQuery {
            text: None,
            since_ms: None,
            until_ms: None,
            model: None,
            provider: None,
            client: None,
            success: None,
            min_total_tokens: None,
            max_total_tokens: None,
            min_cost: None,
            tool: None,
            sort: Sort::Newest,
            limit: DEFAULT_LIMIT,
            offset: 0,
        };
        for (name, value) in pairs(query)? {
            let n = name.as_str();
            match n {
                "text_search" => q.text = Some(fts_expression(&value)?),
                "days" => q.since_ms = Some(days_cutoff(&value, now)?.max(q.since_ms.unwrap_or(0))),
                "since" => {
                    let ms = parse_rfc3339(&value)
                        .ok_or_else(|| bad(n, "expected RFC 3339, e.g. 2026-01-31T12:00:00Z"))?;
                    q.since_ms = Some(ms.max(q.since_ms.unwrap_or(i64::MIN)));
                }
                "until" => {
                    q.until_ms =
                        Some(parse_rfc3339(&value).ok_or_else(|| {
                            bad(n, "expected RFC 3339, e.g. 2026-01-31T12:00:00Z")
                        })?)
                }
                "model" => q.model = Some(text(n, value)?),
                "provider" => q.provider = Some(one_of(n, value, PROVIDERS)?),
                "client" => q.client = Some(one_of(n, value, CLIENTS)?),
                "tool" => q.tool = Some(text(n, value)?),
                "success" => {
                    q.success = Some(match value.as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(bad(n, "expected true or false")),
                    })
                }
                "min_total_tokens" => q.min_total_tokens = Some(non_negative(n, &value)?),
                "max_total_tokens" => q.max_total_tokens = Some(non_negative(n, &value)?),
                "min_cost" => {
                    let cost: f64 = number(n, &value)?;
                    if !cost.is_finite() || cost < 0.0 {
                        return Err(bad(n, "must be a non-negative number"));
                    }
                    q.min_cost = Some(cost);
                }
                "sort" => {
                    q.sort = match value.as_str() {
                        "newest" => Sort::Newest,
                        "oldest" => Sort::Oldest,
                        "tokens" => Sort::Tokens,
                        "cost" => Sort::Cost,
                        "duration" => Sort::Duration,
                        _ => {
                            return Err(bad(n, "expected newest, oldest, tokens, cost or duration"))
                        }
                    }
                }
                "limit" => {
                    let limit = non_negative(n, &value)?;
                    if !(1..=MAX_LIMIT).contains(&limit) {
                        return Err(bad(n, format!("must be between 1 and {MAX_LIMIT}")));
                    }
                    q.limit = limit;
                }
                "offset" => q.offset = non_negative(n, &value)?,
                _ => return Err(bad(n, "unknown parameter")),
            }
        }
        Ok(q)
    }
}

/// `GET /stats?days=N` (default 7): the cut-off time.
pub(super) fn stats_since(query: Option<&str>, now: i64) -> Result<i64, String> {
    let mut since = now - 7 * DAY_MS;
    for (name, value) in pairs(query)? {
        match name.as_str() {
            "days" => since = days_cutoff(&value, now)?,
            _ => return Err(bad(&name, "unknown parameter")),
        }
    }
    Ok(since)
}

/// `GET /sessions/{id}` and its raw requests take no parameters: any is a 400 naming it.
pub(super) fn no_parameters(query: Option<&str>) -> Result<(), String> {
    match pairs(query)?.into_iter().next() {
        Some((name, _)) => Err(bad(&name, "unknown parameter")),
        None => Ok(()),
    }
}

/// The user's words as an FTS5 expression: each whitespace-separated word becomes a quoted
/// phrase (inner quotes doubled), so FTS5 operators in the input are plain text, never syntax.
/// Control characters (NUL included) are refused: SQLite's FTS5 parser stops at a NUL, and none of
/// them can be meant as search text. Tab and line breaks are whitespace and only separate words.
pub(super) fn fts_expression(input: &str) -> Result<String, String> {
    if input.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err(bad("text_search", "must not contain control characters"));
    }
    let words: Vec<String> = input
        .split_whitespace()
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    if words.is_empty() {
        return Err(bad("text_search", "must not be empty"));
    }
    Ok(words.join(" "))
}

/// `2026-01-31T12:00:00Z`, with optional fraction and `±HH:MM` offset; or a bare date (midnight UTC).
pub(super) fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(range)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
    {
        return None;
    }
    let date_ms = days_from_civil(year, month as u32, day as u32) * DAY_MS;
    if b.len() == 10 {
        return Some(date_ms);
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' '))
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return None;
    }
    let (h, m, sec) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut frac_ms = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        let padded = format!("{:0<3}", &frac[..n.min(3)]);
        frac_ms = padded.parse::<i64>().ok()?;
        rest = &frac[n..];
    }
    let offset_ms = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = rest[1..].split_once(':')?;
            if oh.len() != 2 || om.len() != 2 {
                return None;
            }
            sign * (oh.parse::<i64>().ok()? * 60 + om.parse::<i64>().ok()?) * 60_000
        }
    };
    Some(date_ms + ((h * 60 + m) * 60 + sec) * 1000 + frac_ms - offset_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-02"), Some(DAY_MS));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00.5+01:00"), Some(500));
        assert_eq!(
            parse_rfc3339("2026-03-01T00:00:00Z"),
            Some(days_from_civil(2026, 3, 1) * DAY_MS)
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-01-01T25:00:00Z",
            "2026-01-01T00:00:00",
            "1e3",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn parameters_are_checked_and_named() {
        let q = SessionQuery::parse(
            Some("text_search=foo+%22bar&sort=cost&limit=10&offset=20&success=false"),
            0,
        )
        .unwrap();
        assert_eq!(q.text.as_deref(), Some(r#""foo" """bar""#));
        let tabbed = SessionQuery::parse(Some("text_search=foo%09bar%0A"), 0).unwrap();
        assert_eq!(tabbed.text.as_deref(), Some(r#""foo" "bar""#));
        assert_eq!(
            (q.sort, q.limit, q.offset, q.success),
            (Sort::Cost, 10, 20, Some(false))
        );
        for (query, named) in [
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("offset=-1", "offset"),
            ("days=abc", "days"),
            ("since=yesterday", "since"),
            ("success=maybe", "success"),
            ("sort=random", "sort"),
            ("min_cost=NaN", "min_cost"),
            ("min_total_tokens=1.5", "min_total_tokens"),
            ("text_search=", "text_search"),
            ("text_search=zebrafish%00", "text_search"),
            ("text_search=a%07b", "text_search"),
            ("text_search=%1B%5B0m", "text_search"),
            ("text_search=x%7F", "text_search"),
            ("colour=red", "colour"),
            ("provider=bogus", "provider"),
            ("provider=Anthropic", "provider"),
            ("client=vim", "client"),
            ("client=", "client"),
            ("model=a&model=b", "model"),
            ("model=%zz", "model"),
        ] {
            let err = SessionQuery::parse(Some(query), 0).unwrap_err();
            assert!(err.contains(&format!("`{named}`")), "{query}: {err}");
        }
        assert!(no_parameters(Some("verbose=1"))
            .unwrap_err()
            .contains("`verbose`"));
        assert!(no_parameters(None).is_ok() && no_parameters(Some("")).is_ok());
        assert!(stats_since(Some("days=x"), 0)
            .unwrap_err()
            .contains("`days`"));
    }
}
