//! PII and secret redaction (`[session_recording.pii]`): the real detector (`crate::pii`), or in a
//! build without `pii` a stub that never redacts (`warn_compiled_out` tells the user once).
//! The redactor is built once at startup (`build`) and shared by the recorder's writer thread, the
//! debug stream view and, with `apply_to_upstream`, the request phase.

use crate::config::{expand_home, Config};
use crate::error::StartupError;
use std::path::PathBuf;
use std::sync::Arc;

pub(crate) const COMPILED: bool = cfg!(feature = "pii");

#[cfg(feature = "pii")]
pub(crate) use crate::pii::{Counts, Redactor, Scope};
#[cfg(not(feature = "pii"))]
pub(crate) use disabled::{Counts, Redactor, Scope};

/// The redactor for this config, or `None` when there is nothing to redact. A custom pattern
/// that does not compile (or an unusable key) stops startup naming it.
pub(crate) fn build(config: &Config) -> Result<Option<Arc<Redactor>>, StartupError> {
    let vault = vault_path(config);
    Redactor::from_config(&config.session_recording.pii, &home(), Some(&vault))
        .map(|r| r.map(Arc::new))
        .map_err(|why| StartupError::new("reading [session_recording.pii]", why))
}

/// Why a custom pattern cannot be used, checked when the config loads (whether or not redaction
/// is on yet). A build without `pii` has no regex engine and ignores the section, saying so.
pub(crate) fn pattern_error(pattern: &str) -> Option<String> {
    #[cfg(feature = "pii")]
    {
        regex::Regex::new(pattern).err().map(|e| e.to_string())
    }
    #[cfg(not(feature = "pii"))]
    {
        let _ = pattern;
        None
    }
}

/// The tokenize vault: beside the SQLite database.
pub(crate) fn vault_path(config: &Config) -> PathBuf {
    let db = expand_home(&config.session_recording.sqlite.path);
    db.parent()
        .map(|dir| dir.join("pii.vault"))
        .unwrap_or_else(|| PathBuf::from("pii.vault"))
}

/// Where `~/.lunaroute/pii.key` lives.
fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `lunaroute-server pii reveal TOKEN`: the original value, or why not.
pub fn reveal(config: &Config, token: &str) -> Result<String, String> {
    #[cfg(feature = "pii")]
    {
        crate::pii::reveal(
            &config.session_recording.pii,
            &home(),
            &vault_path(config),
            token,
        )
    }
    #[cfg(not(feature = "pii"))]
    {
        let _ = (config, token);
        Err("this build has no `pii` feature, so no tokens to reveal".into())
    }
}

/// The build without `pii`: `Redactor` is uninhabited (`from_config` always gives `None`), so
/// every call on it is provably unreachable.
#[cfg(not(feature = "pii"))]
#[allow(dead_code)] // a build without `recording` either calls only part of it
mod disabled {
    use crate::config::PiiConfig;
    use std::borrow::Cow;
    use std::path::Path;

    pub(crate) enum Redactor {}

    /// Never counts anything (not a unit struct: call sites build it with `default()`).
    #[derive(Debug, Default, Clone)]
    pub(crate) struct Counts {
        _none: (),
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Scope {
        Recording,
        Upstream,
    }

    impl Counts {
        pub fn is_empty(&self) -> bool {
            true
        }
        pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
            std::iter::empty()
        }
    }

    impl Redactor {
        pub fn from_config(
            _: &PiiConfig,
            _: &Path,
            _: Option<&Path>,
        ) -> Result<Option<Redactor>, String> {
            Ok(None)
        }
        pub fn text<'a>(&self, _: &'a str, _: &mut Counts) -> Cow<'a, str> {
            match *self {}
        }
        pub fn json_body(&self, _: &[u8], _: Scope, _: &mut Counts) -> Option<Vec<u8>> {
            match *self {}
        }
        pub fn sse_body(&self, _: &[u8], _: &mut Counts) -> Option<Vec<u8>> {
            match *self {}
        }
        pub fn value(&self, _: &mut serde_json::Value, _: &mut Counts) {
            match *self {}
        }
        pub fn tool_input(&self, _: &mut serde_json::Value, _: &mut Counts) {
            match *self {}
        }
    }
}
