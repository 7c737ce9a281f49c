//! The JSONL store: every recorded request, one file per session, one JSON object per line.
//!
//! Layout (`layout.rs`): `<dir>/<YYYY-MM-DD of the session's start, UTC>/<session_id>.jsonl`.
//! A session keeps its file across midnight, and across restarts: the first time a run sees a
//! session id, it looks for an existing `<id>.jsonl` or `<id>.jsonl.zst` in every day folder
//! (an index built once at `open`) and continues there. When only the `.zst` exists (retention
//! compressed it), a new `.jsonl` part starts beside it; readers take `.zst` then `.jsonl`, and
//! retention later appends the part to the `.zst` as one more zstd frame.
//!
//! Lines (`lines.rs`): per completed request a `request` line and a `response` line carrying
//! `final_stats` (exactly one per request, so jq sums do not double). Gap markers go to
//! `<dir>/<YYYY-MM-DD of the gap>/_gaps.jsonl` with `type: "gap"` and null ids.
//!
//! Request bodies that repeat a recent request's conversation are stored as deltas (`delta.rs`).
//! The store keeps, per session, what the last few requests looked like (offsets and hashes, no
//! bodies), so memory stays small; after a restart the first request of a session is stored whole.
//!
//! Each `append` is one `write(2)` of both lines to a file opened with `O_APPEND`: lines reach the
//! OS at once (a `kill -9` loses nothing already appended) and an error means exactly that record
//! is lost, which the writer can count. A line torn by a crash or a full disk is closed with a
//! newline before the next write, so only that line is lost.
//!
//! Retention may compress or delete a file the store has open (the writer runs it between
//! batches): every append first checks that its file is still there, and otherwise resolves the
//! session again (a new part beside the `.zst`, or a fresh file whose requests are stored whole).

pub(crate) mod codec;
pub(crate) mod delta;
pub(crate) mod layout;
mod lines;
#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod tests_sharing;

use self::delta::Recent;
use self::lines::Body;
use super::clock;
use super::record::RequestRecord;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Open files kept at once; the least recently used is closed beyond this.
const MAX_OPEN_FILES: usize = 64;
/// Sessions whose recent requests are remembered for prefix sharing; the least recently used is
/// forgotten beyond this (its next request is then stored whole).
const MAX_SESSIONS: usize = 1024;

struct OpenFile {
    path: PathBuf,
    file: File,
    used: u64,
}

#[derive(Default)]
struct SessionState {
    /// Oldest first, at most `delta::CANDIDATES`.
    recent: Vec<Recent>,
    used: u64,
}

pub(crate) struct JsonlStore {
    dir: PathBuf,
    /// Session file stem → the day folder (name) holding its file(s).
    index: HashMap<String, String>,
    open: HashMap<String, OpenFile>,
    sessions: HashMap<String, SessionState>,
    /// A use counter for the two LRU maps.
    tick: u64,
}

// === impl JsonlStore ===

impl JsonlStore {
    /// Creates `dir` (0700) if needed and indexes the session files already there.
    pub(crate) fn open(dir: &Path) -> Result<Self, String> {
        layout::create_private_dir(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            index: build_index(dir)?,
            open: HashMap::new(),
            sessions: HashMap::new(),
            tick: 0,
        })
    }

    /// Appends the record's `request` and `response` lines to its session's file.
    pub(crate) fn append(&mut self, record: &RequestRecord) -> Result<(), String> {
        let stem = layout::session_stem(&record.session_id)?;
        self.tick += 1;
        let tick = self.tick;
        let path = self.ensure_open(&stem, &record.session_id, record.started_at_ms)?;

        let state = self.sessions.entry(record.session_id.clone()).or_default();
        state.used = tick;
        let body = &record.request_body;
        let scanned = delta::remember(&record.request_id, body);
        let stored = match (&scanned, std::str::from_utf8(body)) {
            (Some(new), Ok(text)) => delta::encode(text, new, &state.recent).map(Body::Delta),
            _ => None,
        }
        .unwrap_or_else(|| Body::whole(body));
        let bytes = lines::record_lines(record, &stored)?;

        let result = match self.open.get_mut(&stem) {
            Some(open) => open
                .file
                .write_all(&bytes)
                .map_err(|e| format!("writing {}: {e}", path.display())),
            None => Err(format!("writing {}: file not open", path.display())),
        };
        if result.is_err() {
            // Reopen next time: the directory may have become writable again.
            self.open.remove(&stem);
            return result;
        }
        if let Some(new) = scanned {
            let state = self.sessions.entry(record.session_id.clone()).or_default();
            if state.recent.len() == delta::CANDIDATES {
                state.recent.remove(0);
            }
            state.recent.push(new);
        }
        self.evict();
        Ok(())
    }

    /// Appends a gap marker to `<dir>/<day of at_ms>/_gaps.jsonl`: requests the recorder dropped.
    pub(crate) fn write_gap(
        &mut self,
        lost_requests: u64,
        lost_bytes: u64,
        at_ms: i64,
        reason: &str,
    ) -> Result<(), String> {
        let day = clock::day_name(clock::day_of_ms(at_ms));
        let path = self
            .dir
            .join(day)
            .join(format!("{}{}", layout::GAPS_STEM, layout::JSONL));
        let line = lines::gap_line(lost_requests, lost_bytes, at_ms, reason)?;
        let mut file = open_for_append(&path)?;
        file.write_all(&line)
            .map_err(|e| format!("writing {}: {e}", path.display()))
    }

    /// Lines are written with one `write(2)` per record, so they are with the OS already; this
    /// only closes the files of sessions that have gone quiet (the writer calls it per batch).
    pub(crate) fn flush(&mut self) -> Result<(), String> {
        self.evict();
        Ok(())
    }

    /// Makes sure the session's file is open (and still there), returning its path.
    fn ensure_open(
        &mut self,
        stem: &str,
        session_id: &str,
        started_at_ms: i64,
    ) -> Result<PathBuf, String> {
        if let Some(open) = self.open.get_mut(stem) {
            if open.path.exists() {
                open.used = self.tick;
                return Ok(open.path.clone());
            }
            // Deleted or compressed behind our back: resolve again below.
            self.open.remove(stem);
        }
        let day = self
            .index
            .entry(stem.to_string())
            .or_insert_with(|| clock::day_name(clock::day_of_ms(started_at_ms)))
            .clone();
        let day_dir = self.dir.join(&day);
        let path = day_dir.join(format!("{stem}{}", layout::JSONL));
        let zst = day_dir.join(format!("{stem}{}", layout::ZST));
        if !path.exists() && !zst.exists() {
            // A new session, or one whose files were deleted: no base can be referenced.
            if let Some(state) = self.sessions.get_mut(session_id) {
                state.recent.clear();
            }
        }
        let file = open_for_append(&path)?;
        self.open.insert(
            stem.to_string(),
            OpenFile {
                path: path.clone(),
                file,
                used: self.tick,
            },
        );
        Ok(path)
    }

    /// Closes the least recently used files and forgets the least recently used sessions.
    fn evict(&mut self) {
        if self.open.len() > MAX_OPEN_FILES {
            let mut by_use: Vec<(u64, String)> =
                self.open.iter().map(|(k, v)| (v.used, k.clone())).collect();
            by_use.sort_unstable();
            for (_, stem) in by_use
                .into_iter()
                .take(self.open.len() - MAX_OPEN_FILES / 2)
            {
                self.open.remove(&stem);
            }
        }
        if self.sessions.len() > MAX_SESSIONS {
            let mut by_use: Vec<(u64, String)> = self
                .sessions
                .iter()
                .map(|(k, v)| (v.used, k.clone()))
                .collect();
            by_use.sort_unstable();
            for (_, id) in by_use
                .into_iter()
                .take(self.sessions.len() - MAX_SESSIONS / 2)
            {
                self.sessions.remove(&id);
            }
        }
    }
}

/// Session file stem → the day folder holding its file(s), from what is on disk. Day folders come
/// oldest first, so the earliest wins.
fn build_index(dir: &Path) -> Result<HashMap<String, String>, String> {
    let mut index = HashMap::new();
    for (day, day_dir) in layout::day_dirs(dir)? {
        let entries = std::fs::read_dir(&day_dir)
            .map_err(|e| format!("reading {}: {e}", day_dir.display()))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            if let Some((stem, _)) = name.to_str().and_then(layout::split_name) {
                index
                    .entry(stem.to_string())
                    .or_insert_with(|| clock::day_name(day));
            }
        }
    }
    Ok(index)
}

/// Opens (creating 0600, and the day folder 0700) for appending. If the file does not end with a
/// newline (a line torn by a crash or a full disk), one is written first so the next line is whole.
fn open_for_append(path: &Path) -> Result<File, String> {
    let context = |e: std::io::Error| format!("opening {}: {e}", path.display());
    let mut file = layout::open_append(path).map_err(context)?;
    let len = file.metadata().map_err(context)?.len();
    if len > 0 {
        let mut last = [0u8; 1];
        let mut reader = File::open(path).map_err(context)?;
        reader.seek(SeekFrom::Start(len - 1)).map_err(context)?;
        reader.read_exact(&mut last).map_err(context)?;
        if last[0] != b'\n' {
            file.write_all(b"\n").map_err(context)?;
        }
    }
    Ok(file)
}
