//! PII and secret redaction: the detection core (`crate::pii`, feature `pii`). API contract in
//! the PII notes: `Redactor` (built once from `[session_recording.pii]`, shared in an `Arc`),
//! `Counts` (kind → how many values were replaced, never the values), `Scope`, `reveal`.
//! (First cut: the API with simple bodies; detection arrives next.)
#![cfg_attr(not(test), allow(dead_code))]

use crate::config::PiiConfig;
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

    pub(crate) fn bump(&mut self, kind: &str, n: u64) {
        if n == 0 {
            return;
        }
        match self.0.get_mut(kind) {
            Some(v) => *v += n,
            None => {
                self.0.insert(kind.to_string(), n);
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

/// The built redactor: detectors, mode, key and vault. `Send + Sync`.
#[derive(Debug)]
pub(crate) struct Redactor {
    _private: (),
}

impl Redactor {
    /// `Ok(None)` when there is nothing to redact; `Err` for a bad custom pattern or key.
    pub fn from_config(
        cfg: &PiiConfig,
        _home: &Path,
        _vault: Option<&Path>,
    ) -> Result<Option<Redactor>, String> {
        if !cfg.enabled && !cfg.redact_secrets {
            return Ok(None);
        }
        Ok(Some(Redactor { _private: () }))
    }

    /// Plain text (log previews, assembled text, full-text index text).
    pub fn text<'a>(&self, text: &'a str, _counts: &mut Counts) -> Cow<'a, str> {
        Cow::Borrowed(text)
    }

    /// A JSON body; `None` when unchanged. Bytes outside changed strings stay identical.
    pub fn json_body(&self, _body: &[u8], _scope: Scope, _counts: &mut Counts) -> Option<Vec<u8>> {
        None
    }

    /// A recorded SSE response; deltas are redacted on the assembled text of each block.
    pub fn sse_body(&self, _body: &[u8], _counts: &mut Counts) -> Option<Vec<u8>> {
        None
    }

    /// An assembled JSON value: string leaves, with the same skip rules as `json_body`.
    pub fn value(&self, _value: &mut serde_json::Value, _counts: &mut Counts) {}
}

/// `lunaroute-server pii reveal TOKEN`: the original value, or why not.
pub(crate) fn reveal(
    _cfg: &PiiConfig,
    _home: &Path,
    _vault: &Path,
    token: &str,
) -> Result<String, String> {
    Err(format!("{token}: not in the vault"))
}
