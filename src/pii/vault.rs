//! The tokenize vault: each original value behind a token, encrypted, so `lunaroute-server pii
//! reveal TOKEN` can give it back to whoever holds the key and to nobody else.
//!
//! One line per token, written the first time the token is made (deduplicated across restarts):
//! `EMAIL:a3f8e9d2<TAB>hex(12-byte nonce)<TAB>hex(AES-256-GCM ciphertext and tag)`. The token is
//! the associated data, so a ciphertext moved to another token's line fails to open. The file is
//! created 0600, beside the SQLite database.

use super::keys::{self, Keys};
use ring::aead::{Aad, Nonce, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug)]
pub(crate) struct Vault {
    path: PathBuf,
    /// Tokens already in the file; a value seen again is not written twice.
    known: Mutex<HashSet<String>>,
    rng: SystemRandom,
}

impl Vault {
    /// Reads the tokens already stored (a missing file is an empty vault).
    pub(crate) fn open(path: &Path) -> Result<Vault, String> {
        let known = match std::fs::read_to_string(path) {
            Ok(text) => text
                .lines()
                .filter_map(|l| l.split('\t').next())
                .map(str::to_string)
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashSet::new(),
            Err(e) => return Err(format!("reading the PII vault {}: {e}", path.display())),
        };
        Ok(Vault {
            path: path.to_path_buf(),
            known: Mutex::new(known),
            rng: SystemRandom::new(),
        })
    }

    /// Stores `value` under `token` (`EMAIL:a3f8e9d2`) unless it is there already. A write that
    /// fails is logged and retried the next time the token comes up; redaction goes on.
    pub(crate) fn store(&self, keys: &Keys, token: &str, value: &str) {
        let Ok(mut known) = self.known.lock() else {
            return;
        };
        if known.contains(token) {
            return;
        }
        match self.append(keys, token, value) {
            Ok(()) => {
                known.insert(token.to_string());
            }
            Err(e) => tracing::warn!(
                vault = %self.path.display(),
                error = %e,
                "could not write the PII vault; this token cannot be revealed yet"
            ),
        }
    }

    fn append(&self, keys: &Keys, token: &str, value: &str) -> std::io::Result<()> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| std::io::Error::other("the OS random generator failed"))?;
        let mut sealed = value.as_bytes().to_vec();
        keys.vault
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(token.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| std::io::Error::other("encryption failed"))?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let line = format!("{token}\t{}\t{}\n", hex(&nonce), hex(&sealed));
        let mut file = keys::private_file(&self.path, false)?;
        // One write call per line: appends from two processes do not interleave within a line.
        file.write_all(line.as_bytes())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The value behind `token` (`[EMAIL:a3f8e9d2]` or `EMAIL:a3f8e9d2`). Every line for the token is
/// tried; one that opens under `keys` is the answer. None opening means the key is not the one
/// that wrote them: an error, never a garbled value.
pub(crate) fn lookup(path: &Path, keys: &Keys, token: &str) -> Result<String, String> {
    let token = token.trim();
    let token = token
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(token);
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("reading the PII vault {}: {e}", path.display()))?;
    let mut seen = false;
    for line in text.lines() {
        let mut parts = line.split('\t');
        if parts.next() != Some(token) {
            continue;
        }
        seen = true;
        let (Some(nonce), Some(sealed)) = (
            parts.next().and_then(keys::unhex),
            parts.next().and_then(keys::unhex),
        ) else {
            continue;
        };
        let Ok(nonce) = Nonce::try_assume_unique_for_key(&nonce) else {
            continue;
        };
        let mut sealed = sealed;
        if let Ok(plain) = keys
            .vault
            .open_in_place(nonce, Aad::from(token.as_bytes()), &mut sealed)
        {
            if let Ok(value) = std::str::from_utf8(plain) {
                return Ok(value.to_string());
            }
        }
    }
    if seen {
        Err(format!(
            "{token}: the key does not open this vault entry (wrong hmac_secret or pii.key?)"
        ))
    } else {
        Err(format!("{token}: not in the vault {}", path.display()))
    }
}
