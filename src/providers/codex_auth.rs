//! Codex's ChatGPT sign-in (`~/.codex/auth.json`) as an upstream credential. Codex refreshes the
//! token in that file over time, so it is re-read whenever its size or mtime changes.

use crate::config::Secret;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

#[derive(Clone)]
pub(crate) struct CodexTokens {
    pub access_token: Secret,
    pub account_id: Option<String>,
}

struct Cached {
    stamp: (Option<SystemTime>, u64),
    tokens: Result<CodexTokens, String>,
}

pub(crate) struct CodexAuth {
    path: PathBuf,
    cached: Mutex<Option<Cached>>,
}

impl CodexAuth {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            cached: Mutex::new(None),
        }
    }

    /// The current tokens, or why there are none (the message names the file).
    pub fn tokens(&self) -> Result<CodexTokens, String> {
        let meta = std::fs::metadata(&self.path)
            .map_err(|e| format!("cannot read Codex auth file {}: {e}", self.path.display()))?;
        let stamp = (meta.modified().ok(), meta.len());
        let mut cached = self
            .cached
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(c) = cached.as_ref().filter(|c| c.stamp == stamp) {
            return c.tokens.clone();
        }
        let tokens = self.read();
        *cached = Some(Cached {
            stamp,
            tokens: tokens.clone(),
        });
        tokens
    }

    fn read(&self) -> Result<CodexTokens, String> {
        let shown = self.path.display();
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| format!("cannot read Codex auth file {shown}: {e}"))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("Codex auth file {shown} is not valid JSON: {e}"))?;
        let tokens = &value["tokens"];
        let access = tokens["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                format!("Codex auth file {shown} has no tokens.access_token (run `codex login`)")
            })?;
        Ok(CodexTokens {
            access_token: Secret::new(access),
            account_id: tokens["account_id"].as_str().map(str::to_string),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_rereads_when_the_file_changes() {
        let dir = crate::test_support::TempDir::new("codex");
        std::fs::create_dir_all(&*dir).unwrap();
        let file = dir.join("auth.json");
        let auth = CodexAuth::new(file.clone());
        let err = auth.tokens().err().expect("missing file is an error");
        assert!(err.contains("auth.json"), "{err}");

        std::fs::write(&file, "{not json").unwrap();
        assert!(auth.tokens().err().unwrap().contains("not valid JSON"));

        std::fs::write(
            &file,
            r#"{"tokens":{"access_token":"tok-1","account_id":"acc-9"}}"#,
        )
        .unwrap();
        let t = auth.tokens().unwrap();
        assert_eq!(t.access_token.expose(), "tok-1");
        assert_eq!(t.account_id.as_deref(), Some("acc-9"));

        // A refreshed token of a different length is picked up without a restart.
        std::fs::write(
            &file,
            r#"{"tokens":{"access_token":"tok-22","account_id":"acc-9"}}"#,
        )
        .unwrap();
        assert_eq!(auth.tokens().unwrap().access_token.expose(), "tok-22");
    }
}
