//! Where the JSONL files live and what they are called, shared by the store, `export` and
//! `retention` so all three agree:
//!
//! ```text
//! <dir>/YYYY-MM-DD/<stem>.jsonl        a session's file (the day its first request started, UTC)
//! <dir>/YYYY-MM-DD/<stem>.jsonl.zst    the same, compressed by retention (older part)
//! <dir>/YYYY-MM-DD/_gaps.jsonl         gap markers of that day
//! ```
//!
//! `<stem>` is the session id, with one `_` prepended when the id starts with `_`, so that no session
//! can ever be called `_gaps` (the mapping is reversible). Ids are refused when they could escape the
//! day folder (path separators, control characters, leading `.`, more than 200 bytes); the session
//! module's sanitiser never produces such ids, this is a second lock.
//! Directories are created 0700 and files 0600 (Unix): session files hold whole conversations.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// The stem of the per-day gap-marker file.
pub(crate) const GAPS_STEM: &str = "_gaps";
pub(crate) const JSONL: &str = ".jsonl";
pub(crate) const ZST: &str = ".jsonl.zst";
/// Suffix of retention's temporary files (a `.zst` being written); never read, swept when stale.
pub(crate) const TMP: &str = ".tmp";

/// The file stem for a session id, or why the id cannot name a file.
pub(crate) fn session_stem(session_id: &str) -> Result<String, String> {
    let bad = session_id.is_empty()
        || session_id.len() > 200
        || session_id.starts_with('.')
        || session_id
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control());
    if bad {
        return Err(format!(
            "session id {session_id:?} cannot be used as a file name"
        ));
    }
    Ok(if session_id.starts_with('_') {
        format!("_{session_id}")
    } else {
        session_id.to_string()
    })
}

/// The session id behind a stem (`None` for the gap file): the mapping's inverse, for tests.
#[cfg(test)]
pub(crate) fn session_of_stem(stem: &str) -> Option<&str> {
    match stem {
        GAPS_STEM => None,
        _ => Some(stem.strip_prefix('_').unwrap_or(stem)),
    }
}

/// What a file in a day folder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// `.jsonl.zst`: always the older part when both exist (see `JsonlStore`).
    Zst,
    Jsonl,
}

/// `("abc", Kind::Jsonl)` for `abc.jsonl`; `None` for anything else (temporary files included).
pub(crate) fn split_name(name: &str) -> Option<(&str, Kind)> {
    if let Some(stem) = name.strip_suffix(ZST) {
        return (!stem.is_empty()).then_some((stem, Kind::Zst));
    }
    let stem = name.strip_suffix(JSONL)?;
    (!stem.is_empty()).then_some((stem, Kind::Jsonl))
}

/// The day folders under `dir` (names `YYYY-MM-DD` only), oldest first. A missing `dir` has none.
pub(crate) fn day_dirs(dir: &Path) -> Result<Vec<(i64, PathBuf)>, String> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("reading {}: {e}", dir.display())),
    };
    let mut days = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(day) = name.to_str().and_then(crate::recording::clock::parse_day) else {
            continue;
        };
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            days.push((day, entry.path()));
        }
    }
    days.sort();
    Ok(days)
}

/// Every file of one session, in reading order: by day folder, then `.jsonl.zst` before `.jsonl`.
pub(crate) fn session_files(dir: &Path, session_id: &str) -> Result<Vec<PathBuf>, String> {
    let stem = session_stem(session_id)?;
    let mut files = Vec::new();
    for (_, day) in day_dirs(dir)? {
        for suffix in [ZST, JSONL] {
            let path = day.join(format!("{stem}{suffix}"));
            if path.is_file() {
                files.push(path);
            }
        }
    }
    Ok(files)
}

/// `mkdir -p` with mode 0700 for what it creates.
pub(crate) fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// Options that create a file with mode 0600.
pub(crate) fn private_file_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Opens `path` for appending, creating it (0600) and its day folder (0700) when missing.
pub(crate) fn open_append(path: &Path) -> io::Result<File> {
    let mut options = private_file_options();
    options.create(true).append(true);
    match options.open(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // The day folder is new, or retention just removed it as empty.
            if let Some(parent) = path.parent() {
                create_private_dir(parent)?;
            }
            options.open(path)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_are_reversible_and_never_the_gap_file() {
        for id in ["abc", "_gaps", "__gaps", "_x", "a.b-c_d"] {
            let stem = session_stem(id).unwrap();
            assert_ne!(stem, GAPS_STEM);
            assert_eq!(session_of_stem(&stem), Some(id));
        }
        assert_eq!(session_of_stem(GAPS_STEM), None);
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "a/b",
            "a\\b",
            "a\nb",
            &"x".repeat(201),
        ] {
            assert!(session_stem(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_split_into_stem_and_kind() {
        assert_eq!(split_name("s1.jsonl"), Some(("s1", Kind::Jsonl)));
        assert_eq!(split_name("s1.jsonl.zst"), Some(("s1", Kind::Zst)));
        assert_eq!(split_name("s1.jsonl.zst.tmp"), None);
        assert_eq!(split_name(".jsonl"), None);
        assert_eq!(split_name("notes.txt"), None);
    }
}
