//! What a detected value becomes: mask (`[EMAIL]`), remove (nothing), partial (`*******4567`,
//! counted in characters so UTF-8 is never split) or tokenize (`[EMAIL:a3f8e9d2]`, the first 8 hex
//! characters of HMAC-SHA256(key, kind ":" value): the same value gives the same token under one
//! key, and the vault keeps the value for `pii reveal`). Secrets are `[SECRET:<kind>]` in every
//! mode: a partial key or a token of one is still too much.

use super::detect::Kind;
use super::keys::Keys;
use super::vault::Vault;
use crate::config::RedactionMode;
use ring::hmac;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Mask,
    Remove,
    /// Characters left visible at the end.
    Partial(usize),
    Tokenize,
}

impl Mode {
    pub(crate) fn from_config(mode: RedactionMode, show: usize) -> Mode {
        match mode {
            RedactionMode::Mask => Mode::Mask,
            RedactionMode::Remove => Mode::Remove,
            RedactionMode::Partial => Mode::Partial(show),
            RedactionMode::Tokenize => Mode::Tokenize,
        }
    }
}

/// What a kind is called in placeholders: `EMAIL`, `CREDIT_CARD`, a custom name upper-cased.
pub(crate) struct Label<'a> {
    /// `email`, `credit_card`, or the custom pattern's name: the HMAC input prefix.
    pub name: &'a str,
    /// `EMAIL`, `CREDIT_CARD`, `EMPLOYEE_ID`.
    pub upper: &'a str,
    /// A custom pattern's own mask text.
    pub placeholder: Option<&'a str>,
}

pub(crate) fn builtin_upper(kind: Kind) -> &'static str {
    match kind {
        Kind::Email => "EMAIL",
        Kind::Phone => "PHONE",
        Kind::Ssn => "SSN",
        Kind::CreditCard => "CREDIT_CARD",
        Kind::Ip => "IP",
        Kind::Secret(_) | Kind::Custom(_) => "SECRET",
    }
}

/// Appends the replacement for `value` to `out`.
pub(crate) fn replace(
    mode: Mode,
    kind: Kind,
    label: &Label<'_>,
    value: &str,
    keys: Option<&Keys>,
    vault: Option<&Vault>,
    out: &mut String,
) {
    if let Kind::Secret(secret) = kind {
        out.push_str("[SECRET:");
        out.push_str(secret.name());
        out.push(']');
        return;
    }
    match (mode, keys) {
        (Mode::Mask, _) | (Mode::Tokenize, None) => match label.placeholder {
            Some(p) => out.push_str(p),
            None => {
                out.push('[');
                out.push_str(label.upper);
                out.push(']');
            }
        },
        (Mode::Remove, _) => {}
        (Mode::Partial(show), _) => partial(value, show, out),
        (Mode::Tokenize, Some(keys)) => {
            let start = out.len();
            out.push('[');
            out.push_str(label.upper);
            out.push(':');
            out.push_str(&token_hex(&keys.hmac, label.name, value));
            if let Some(vault) = vault {
                vault.store(keys, &out[start + 1..], value);
            }
            out.push(']');
        }
    }
}

/// All but the last `show` characters become `*`; a value no longer than `show` is starred whole
/// (showing all of it would redact nothing).
pub(crate) fn partial(value: &str, show: usize, out: &mut String) {
    let chars = value.chars().count();
    if chars <= show {
        out.extend(std::iter::repeat_n('*', chars));
        return;
    }
    let hidden = chars - show;
    out.extend(std::iter::repeat_n('*', hidden));
    // `char_indices().nth` lands on a character boundary, so the tail is whole characters.
    let tail = value
        .char_indices()
        .nth(hidden)
        .map_or(value.len(), |(i, _)| i);
    out.push_str(&value[tail..]);
}

/// The first 8 hex characters of HMAC-SHA256(key, name ":" value).
pub(crate) fn token_hex(key: &hmac::Key, name: &str, value: &str) -> String {
    let mut ctx = hmac::Context::with_key(key);
    ctx.update(name.as_bytes());
    ctx.update(b":");
    ctx.update(value.as_bytes());
    let tag = ctx.sign();
    tag.as_ref()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
