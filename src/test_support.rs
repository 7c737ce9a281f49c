//! Helpers shared by unit tests: `TempDir`, a fresh path under the system temp dir that is removed,
//! with everything in it, when the guard drops (also when the test panics and unwinds); `headers`,
//! a `HeaderMap` from name/value pairs.

use http::HeaderMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

pub(crate) struct TempDir(PathBuf);

impl TempDir {
    /// `<tmp>/lunaroute-<name>-<pid>-<n>`, empty and not yet created: the code under test may
    /// create it, and some tests want it missing.
    pub fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("lunaroute-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A header map from `(name, value)` pairs.
pub(crate) fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, value.parse().expect("a valid header value"));
    }
    map
}

#[cfg(test)]
mod tests {
    use super::TempDir;

    #[test]
    fn removed_on_drop_even_after_a_panic() {
        let kept = TempDir::new("test-dir");
        std::fs::create_dir_all(kept.join("a/b")).unwrap();
        std::fs::write(kept.join("a/b/c.txt"), "x").unwrap();
        let path = kept.to_path_buf();
        drop(kept);
        assert!(!path.exists());

        let path = std::panic::catch_unwind(|| {
            let dir = TempDir::new("test-dir-panic");
            std::fs::create_dir_all(&*dir).unwrap();
            std::panic::panic_any(dir.to_path_buf());
        })
        .unwrap_err()
        .downcast::<std::path::PathBuf>()
        .unwrap();
        assert!(!path.exists(), "{path:?}");
    }
}
