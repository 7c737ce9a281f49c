//! PII and secret redaction (feature `pii`): what the recorder, the debug view and, with
//! `apply_to_upstream`, the request phase call. The contract is `Redactor` (built once from
//! `[session_recording.pii]`, shared in an `Arc`), `Counts` (kind → how many values were
//! replaced, never the values), `Scope` and `reveal`.
//!
//! Pieces: `detect` (email, phone, SSN, card; IP in `ip`) and `secrets` find spans; `modes` turns
//! a span into its replacement; `json` and `rules` walk JSON bodies byte-preservingly (which
//! strings are touched is decided in `rules`; string escapes in `escape`); `sse` redacts event
//! streams on the assembled text of each block; `keys` and `vault` hold tokenize mode's key and
//! encrypted originals.

mod detect;
mod escape;
mod ip;
mod json;
mod keys;
mod modes;
mod rules;
mod secrets;
mod sse;
mod vault;

#[cfg(test)]
mod tests;

use crate::config::PiiConfig;
use detect::{Kind, Span};
use modes::{Label, Mode};
use regex::Regex;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

/// How many values of each kind were replaced: `email`, `phone`, `ssn`, `credit_card`, `ip`,
/// custom pattern names, and `secret:<kind>`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Counts(BTreeMap<String, u64>);

impl Counts {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Kinds in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }

    pub fn add(&mut self, other: &Counts) {
        for (kind, n) in other.iter() {
            self.bump(kind, n);
        }
    }

    pub(crate) fn get(&self, kind: &str) -> u64 {
        self.0.get(kind).copied().unwrap_or(0)
    }

    fn bump(&mut self, kind: &str, n: u64) {
        match self.0.get_mut(kind) {
            Some(v) => *v += n,
            None if n > 0 => {
                self.0.insert(kind.to_string(), n);
            }
            None => {}
        }
    }

    /// Per kind, the larger of the two (the same text seen twice, as deltas and as a snapshot).
    fn max_with(&mut self, other: &Counts) {
        for (kind, n) in other.iter() {
            let have = self.get(kind);
            if n > have {
                self.bump(kind, n - have);
            }
        }
    }
}

/// Where redacted bytes go: the recorder's stores (every string but ids, signatures, base64
/// data), or the provider (user content only; assistant and thinking blocks stay byte-identical).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Recording,
    Upstream,
}

/// One replacement in a text: bytes `start..end` become `with`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Edit {
    pub start: usize,
    pub end: usize,
    pub with: String,
}

#[derive(Debug)]
struct Custom {
    name: String,
    upper: String,
    placeholder: Option<String>,
    regex: Regex,
}

/// The built redactor: which detectors run, the mode, the key and the vault. `Send + Sync`.
#[derive(Debug)]
pub(crate) struct Redactor {
    email: bool,
    phone: bool,
    ssn: bool,
    card: bool,
    ip: bool,
    secrets: bool,
    custom: Vec<Custom>,
    mode: Mode,
    keys: Option<keys::Keys>,
    vault: Option<vault::Vault>,
}

impl Redactor {
    /// `Ok(None)` when there is nothing to redact (pii disabled and `redact_secrets = false`).
    /// `Err` for a custom pattern that does not compile, or a key that cannot be read or made.
    /// `home` holds `.lunaroute/pii.key` (tokenize mode without `hmac_secret`); `vault` is
    /// written only in tokenize mode.
    pub fn from_config(
        cfg: &PiiConfig,
        home: &Path,
        vault: Option<&Path>,
    ) -> Result<Option<Redactor>, String> {
        if !cfg.enabled && !cfg.redact_secrets {
            return Ok(None);
        }
        let on = |flag: bool| cfg.enabled && flag;
        let mut custom = Vec::new();
        for p in cfg.custom_patterns.iter().filter(|_| cfg.enabled) {
            let regex =
                Regex::new(&p.pattern).map_err(|e| format!("custom pattern `{}`: {e}", p.name))?;
            custom.push(Custom {
                name: p.name.clone(),
                upper: p.name.to_uppercase(),
                placeholder: p.placeholder.clone(),
                regex,
            });
        }
        let mode = Mode::from_config(cfg.redaction_mode, cfg.partial_show_chars);
        let tokenize = cfg.enabled && mode == Mode::Tokenize;
        let keys = match tokenize {
            true => Some(keys::load(cfg.hmac_secret.as_ref(), home, true)?),
            false => None,
        };
        let vault = match (tokenize, vault) {
            (true, Some(path)) => Some(vault::Vault::open(path)?),
            _ => None,
        };
        Ok(Some(Redactor {
            email: on(cfg.detect_email),
            phone: on(cfg.detect_phone),
            ssn: on(cfg.detect_ssn),
            card: on(cfg.detect_credit_card),
            ip: on(cfg.detect_ip),
            secrets: cfg.redact_secrets,
            custom,
            mode,
            keys,
            vault,
        }))
    }

    /// Plain text (log previews, assembled text, full-text index text).
    pub fn text<'a>(&self, text: &'a str, counts: &mut Counts) -> Cow<'a, str> {
        let mut edits = Vec::new();
        self.plan(text, counts, &mut edits);
        if edits.is_empty() {
            Cow::Borrowed(text)
        } else {
            Cow::Owned(apply(text, &edits))
        }
    }

    /// A JSON request/response body; `None` when nothing changed. Every byte outside a changed
    /// string value stays identical. A body that is not JSON (cut short, not JSON at all) but is
    /// UTF-8 is redacted as plain text, so a broken body cannot carry a secret to disk.
    pub fn json_body(&self, body: &[u8], scope: Scope, counts: &mut Counts) -> Option<Vec<u8>> {
        json::redact_body(self, body, scope, counts)
    }

    /// A recorded SSE response (Anthropic Messages, OpenAI Chat, OpenAI Responses); `None` when
    /// nothing changed. Deltas are redacted on the assembled text of each block.
    pub fn sse_body(&self, body: &[u8], counts: &mut Counts) -> Option<Vec<u8>> {
        sse::redact(self, body, counts)
    }

    /// An assembled JSON value: string leaves, with the same skip rules as `json_body`.
    pub fn value(&self, value: &mut serde_json::Value, counts: &mut Counts) {
        rules::redact_value(self, value, counts);
    }

    /// An assembled tool call input: every string leaf, whatever its key.
    pub fn tool_input(&self, value: &mut serde_json::Value, counts: &mut Counts) {
        rules::redact_tool_input(self, value, counts);
    }

    /// Every span worth replacing in `text`, leftmost first, none overlapping.
    fn spans(&self, text: &str, out: &mut Vec<Span>) {
        if self.secrets {
            secrets::secrets(text, out);
        }
        for (i, c) in self.custom.iter().enumerate() {
            for m in c.regex.find_iter(text).filter(|m| !m.is_empty()) {
                out.push(Span {
                    start: m.start(),
                    end: m.end(),
                    kind: Kind::Custom(i),
                });
            }
        }
        // Cheap gates first: no `@`, no email; too few digits, none of the numeric kinds.
        let digits = if self.phone || self.ssn || self.card || self.ip {
            text.bytes().filter(u8::is_ascii_digit).count()
        } else {
            0
        };
        if self.email {
            detect::email(text, out);
        }
        if self.phone && digits >= 10 {
            detect::phone(text, out);
        }
        if self.ssn && digits >= 9 {
            detect::ssn(text, out);
        }
        if self.card && digits >= 13 {
            detect::credit_card(text, out);
        }
        if self.ip && digits >= 1 {
            detect::ip(text, digits, out);
        }
        if out.len() > 1 {
            // Leftmost wins, then the longest; on a tie, the earlier detector (secrets first).
            out.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
            let mut last_end = 0;
            out.retain(|s| {
                let keep = s.start >= last_end;
                if keep {
                    last_end = s.end;
                }
                keep
            });
        }
    }

    /// The edits that redact `text` (appended to `edits`, offsets into `text`), counted.
    pub(crate) fn plan(&self, text: &str, counts: &mut Counts, edits: &mut Vec<Edit>) {
        let mut spans = Vec::new();
        self.spans(text, &mut spans);
        for span in spans {
            let mut with = String::new();
            let (label, count_name) = self.label(span.kind);
            modes::replace(
                self.mode,
                span.kind,
                &label,
                &text[span.start..span.end],
                self.keys.as_ref(),
                self.vault.as_ref(),
                &mut with,
            );
            counts.bump(count_name, 1);
            edits.push(Edit {
                start: span.start,
                end: span.end,
                with,
            });
        }
    }

    fn label(&self, kind: Kind) -> (Label<'_>, &str) {
        match (kind, kind.builtin_name()) {
            (Kind::Custom(i), _) => {
                let c = &self.custom[i];
                let label = Label {
                    name: &c.name,
                    upper: &c.upper,
                    placeholder: c.placeholder.as_deref(),
                };
                (label, &c.name)
            }
            (_, name) => {
                let name = name.unwrap_or("secret");
                let label = Label {
                    name,
                    upper: modes::builtin_upper(kind),
                    placeholder: None,
                };
                (label, name)
            }
        }
    }
}

/// `text` with `edits` (sorted, not overlapping) applied.
pub(crate) fn apply(text: &str, edits: &[Edit]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for e in edits {
        out.push_str(&text[at..e.start]);
        out.push_str(&e.with);
        at = e.end;
    }
    out.push_str(&text[at..]);
    out
}

/// `lunaroute-server pii reveal TOKEN`: the original value, or why not (unknown token, no key,
/// or a key that does not open the entry: AES-256-GCM authentication fails, nothing garbled).
pub(crate) fn reveal(
    cfg: &PiiConfig,
    home: &Path,
    vault: &Path,
    token: &str,
) -> Result<String, String> {
    let keys = keys::load(cfg.hmac_secret.as_ref(), home, false)?;
    vault::lookup(vault, &keys, token)
}
