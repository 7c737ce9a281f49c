//! Tests of the PII core: each detector and secret kind with true positives and near misses
//! (`detectors.rs`), precision/recall over a marked corpus of coding-session text (`corpus.rs`,
//! over `tests/fixtures/pii/corpus.txt`), what upstream mode redacts (`scope.rs`), and where
//! recording's skip rules must not hide data (`recorded.rs`). Modes, the vault, JSON and SSE are
//! exercised end to end by the integration tests in `tests/it/pii/`.

mod corpus;
mod detectors;
mod recorded;
mod scope;

use super::{Counts, Redactor};
use crate::config::{PiiConfig, RedactionMode};
use crate::test_support::TempDir;

/// A redactor with every detector on, in `mode`; its home (key file) is a temp dir.
pub(super) fn redactor(mode: RedactionMode) -> (Redactor, TempDir) {
    let home = TempDir::new("pii-home");
    let cfg = PiiConfig {
        enabled: true,
        redaction_mode: mode,
        hmac_secret: None,
        ..PiiConfig::default()
    };
    let r = Redactor::from_config(&cfg, &home, None)
        .expect("builds")
        .expect("something to redact");
    (r, home)
}

pub(super) fn mask() -> Redactor {
    redactor(RedactionMode::Mask).0
}

/// `text` redacted in mask mode, and the counts.
pub(super) fn masked(r: &Redactor, text: &str) -> (String, Counts) {
    let mut counts = Counts::default();
    let out = r.text(text, &mut counts).into_owned();
    (out, counts)
}
