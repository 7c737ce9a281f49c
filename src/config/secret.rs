//! `Secret`: a string that cannot be printed. Debug, Display and Serialize show a short fingerprint
//! (`***#1a2b3c`) so two keys can be told apart in logs without revealing either.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The real value, for the one place that puts it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `***#` and six hex digits of SHA-256: stable per value, useless for recovering it.
pub fn fingerprint(value: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, value);
    let hex: String = digest.as_ref()[..3]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("***#{hex}")
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&fingerprint(self.0.as_bytes()))
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&fingerprint(self.0.as_bytes()))
    }
}

// SECURITY: serialising is only used by `--print-config`; it must never emit the value.
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&fingerprint(self.0.as_bytes()))
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let key = Secret::new("sk-ant-api03-very-secret");
        for shown in [
            format!("{key:?}"),
            format!("{key}"),
            serde_json::to_string(&key).unwrap(),
        ] {
            assert!(!shown.contains("very-secret"), "{shown}");
            assert!(shown.contains("***#"), "{shown}");
        }
        assert_ne!(format!("{key}"), format!("{}", Secret::new("sk-other")));
        assert_eq!(key.expose(), "sk-ant-api03-very-secret");
    }
}
