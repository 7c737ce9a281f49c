//! Key material for tokenize mode: `hmac_secret` from the config, or a random 32-byte key made
//! once at `<home>/.lunaroute/pii.key` (directory 0700, file 0600) so tokens stay the same across
//! restarts. Two keys are derived from it with HKDF-SHA256, one for the token HMAC and one for
//! the vault's AES-256-GCM, so neither use can leak the other.

use crate::config::Secret;
use ring::{aead, hkdf, hmac};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Fixed HKDF salt: the key material is already uniformly random or a user secret; the salt only
/// separates this use from any other use of the same secret.
const SALT: &[u8] = b"lunaroute-pii-v1";

pub(crate) struct Keys {
    pub hmac: hmac::Key,
    pub vault: aead::LessSafeKey,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(***)")
    }
}

pub(crate) fn key_path(home: &Path) -> PathBuf {
    home.join(".lunaroute").join("pii.key")
}

/// The keys for this config. `create`: make the key file when it is missing (tokenize mode at
/// startup); `reveal` never creates one, since a new key could open nothing.
pub(crate) fn load(secret: Option<&Secret>, home: &Path, create: bool) -> Result<Keys, String> {
    let material = match secret {
        Some(s) if s.is_empty() => return Err("pii.hmac_secret is empty".into()),
        Some(s) => s.expose().as_bytes().to_vec(),
        None => key_file(&key_path(home), create)?,
    };
    Ok(derive(&material))
}

pub(crate) fn derive(material: &[u8]) -> Keys {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, SALT).extract(material);
    let hmac = prk
        .expand(&[b"token-hmac"], hmac::HMAC_SHA256)
        .map(hmac::Key::from)
        .expect("HKDF-SHA256 can always give 32 bytes");
    let aes = prk
        .expand(&[b"vault-aes-256-gcm"], &aead::AES_256_GCM)
        .map(aead::UnboundKey::from)
        .expect("HKDF-SHA256 can always give 32 bytes");
    Keys {
        hmac,
        vault: aead::LessSafeKey::new(aes),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// Reads the key file (64 hex characters), or makes it: random bytes from the OS, written with
/// `create_new` so two processes starting at once cannot each write their own key.
fn key_file(path: &Path, create: bool) -> Result<Vec<u8>, String> {
    let shown = path.display();
    match std::fs::read_to_string(path) {
        Ok(text) => {
            return unhex(text.trim())
                .filter(|k| k.len() == 32)
                .ok_or_else(|| format!("{shown}: not a PII key (64 hex characters expected)"));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "{shown} does not exist and pii.hmac_secret is not set: no key to use"
            ))
        }
        Err(e) => return Err(format!("reading {shown}: {e}")),
    }
    let mut key = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
        .map_err(|_| "the OS random generator failed".to_string())?;
    if let Some(dir) = path.parent() {
        make_private_dir(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    match private_file(path, true) {
        Ok(mut f) => {
            f.write_all(format!("{}\n", hex(&key)).as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| format!("writing {shown}: {e}"))?;
            Ok(key.to_vec())
        }
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => key_file(path, false),
        Err(e) => Err(format!("creating {shown}: {e}")),
    }
}

/// Creates the directory 0700; one that exists already (it may hold the recordings) is left as
/// the user set it.
fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// A file only its owner may read: `create_new` for the key, append for the vault.
pub(crate) fn private_file(path: &Path, create_new: bool) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    if create_new {
        options.write(true).create_new(true);
    } else {
        options.append(true).create(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}
