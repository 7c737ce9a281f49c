//! Retention of the JSONL session files (`session_recording.jsonl.retention`), run at start and
//! every `cleanup_interval_minutes`. SQLite analytics are not touched (they are small).
//!
//! A session's files in one day folder (`<id>.jsonl.zst` and `<id>.jsonl`) are one unit: deleted
//! together, since a `.jsonl` part may reference request bodies in the `.zst` part. A unit's age
//! is the time since any of its files was last written (file mtime; a compressed file keeps its
//! source's mtime), so a long session is never deleted while it is still going on.
//! - `max_age_days`: units not written for that many days are deleted.
//! - `compress_after_days`: a `.jsonl` not written for that many days (and at least a minute),
//!   in a day folder strictly before today (UTC), is compressed to `.jsonl.zst`: written to
//!   `.jsonl.zst.tmp`, synced, renamed over, then the `.jsonl` is removed. When a `.zst` already
//!   exists, the new part is appended to it as one more zstd frame (readers decode all frames).
//!   If the `.jsonl` changes while it is being compressed, the attempt is dropped.
//! - `max_size_mb`: while the total is above the cap, the least recently written unit is deleted;
//!   units written in the last minute are spared (they are being recorded).
//!
//! Then empty day folders before today are removed, and `.tmp` files left by a crash are swept.
//! Failures on single files are collected in the report; the run goes on.

use super::clock;
use super::jsonl::layout;
use crate::config::RetentionConfig;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Files written more recently than this are never compressed or deleted by size.
const BUSY: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);
const ZSTD_LEVEL: i32 = 3;

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct RetentionReport {
    pub(crate) deleted_files: u64,
    pub(crate) deleted_bytes: u64,
    pub(crate) compressed_files: u64,
    /// Bytes of the `.jsonl` files compressed, and what they take now.
    pub(crate) compressed_from_bytes: u64,
    pub(crate) compressed_to_bytes: u64,
    pub(crate) removed_dirs: u64,
    /// Bytes of session files left.
    pub(crate) total_bytes: u64,
    /// Per-file failures (the run went on).
    pub(crate) errors: Vec<String>,
}

#[derive(Debug)]
struct FileInfo {
    path: PathBuf,
    kind: layout::Kind,
    len: u64,
    modified: SystemTime,
}

/// One session's files in one day folder.
#[derive(Debug)]
struct Unit {
    day: i64,
    day_dir: PathBuf,
    stem: String,
    files: Vec<FileInfo>,
}

impl Unit {
    fn newest(&self) -> SystemTime {
        self.files
            .iter()
            .map(|f| f.modified)
            .max()
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }
    fn len(&self) -> u64 {
        self.files.iter().map(|f| f.len).sum()
    }
}

fn age(now: SystemTime, then: SystemTime) -> Duration {
    now.duration_since(then).unwrap_or_default()
}

/// Applies `cfg` to the files under `dir` as of `now`.
pub(crate) fn run_retention(
    dir: &Path,
    cfg: &RetentionConfig,
    now: SystemTime,
) -> Result<RetentionReport, String> {
    let mut report = RetentionReport::default();
    let now_ms = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let today = clock::day_of_ms(now_ms);
    let days = layout::day_dirs(dir)?;
    let mut units = scan(&days, now, &mut report);

    if let Some(max_age) = cfg.max_age_days {
        let limit = DAY.saturating_mul(u32::try_from(max_age).unwrap_or(u32::MAX));
        units.retain(|unit| {
            let expired = age(now, unit.newest()) >= limit;
            if expired {
                delete(unit, &mut report);
            }
            !expired
        });
    }

    if let Some(after) = cfg.compress_after_days {
        let limit = DAY
            .saturating_mul(u32::try_from(after).unwrap_or(u32::MAX))
            .max(BUSY);
        for unit in units.iter_mut().filter(|u| u.day < today) {
            let Some(jsonl) = unit
                .files
                .iter()
                .position(|f| f.kind == layout::Kind::Jsonl)
            else {
                continue;
            };
            if age(now, unit.files[jsonl].modified) < limit {
                continue;
            }
            match compress(unit, jsonl) {
                Ok(Some((from, to))) => {
                    report.compressed_files += 1;
                    report.compressed_from_bytes += from;
                    report.compressed_to_bytes += to;
                }
                Ok(None) => {}
                Err(e) => report.errors.push(e),
            }
        }
    }

    if let Some(max_mb) = cfg.max_size_mb {
        let cap = max_mb.saturating_mul(1024 * 1024);
        let mut total: u64 = units.iter().map(Unit::len).sum();
        units.sort_by_key(Unit::newest);
        units.retain(|unit| {
            if total <= cap || age(now, unit.newest()) < BUSY {
                return true;
            }
            total = total.saturating_sub(unit.len());
            delete(unit, &mut report);
            false
        });
    }
    report.total_bytes = units.iter().map(Unit::len).sum();

    for (day, day_dir) in days {
        // `remove_dir` only removes an empty folder: a file created meanwhile keeps it.
        if day < today && fs::remove_dir(&day_dir).is_ok() {
            report.removed_dirs += 1;
        }
    }
    Ok(report)
}

/// The units under the day folders; sweeps stale temporary files on the way.
fn scan(days: &[(i64, PathBuf)], now: SystemTime, report: &mut RetentionReport) -> Vec<Unit> {
    let mut units: Vec<Unit> = Vec::new();
    for (day, day_dir) in days {
        let entries = match fs::read_dir(day_dir) {
            Ok(entries) => entries,
            Err(e) => {
                report
                    .errors
                    .push(format!("reading {}: {e}", day_dir.display()));
                continue;
            }
        };
        let first = units.len();
        for entry in entries.flatten() {
            let (path, name) = (
                entry.path(),
                entry.file_name().to_string_lossy().into_owned(),
            );
            let Ok(meta) = entry.metadata() else { continue };
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            if name.ends_with(layout::TMP) {
                if age(now, modified) >= BUSY && fs::remove_file(&path).is_ok() {
                    report.deleted_files += 1;
                    report.deleted_bytes += meta.len();
                }
                continue;
            }
            let Some((stem, kind)) = layout::split_name(&name) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            let file = FileInfo {
                path,
                kind,
                len: meta.len(),
                modified,
            };
            match units[first..].iter_mut().find(|u| u.stem == stem) {
                Some(unit) => unit.files.push(file),
                None => units.push(Unit {
                    day: *day,
                    day_dir: day_dir.clone(),
                    stem: stem.to_string(),
                    files: vec![file],
                }),
            }
        }
    }
    for unit in &mut units {
        unit.files.sort_by_key(|f| f.kind);
    }
    units
}

fn delete(unit: &Unit, report: &mut RetentionReport) {
    for file in &unit.files {
        match fs::remove_file(&file.path) {
            Ok(()) => {
                report.deleted_files += 1;
                report.deleted_bytes += file.len;
            }
            Err(e) => report
                .errors
                .push(format!("deleting {}: {e}", file.path.display())),
        }
    }
}

/// Compresses `unit.files[jsonl]` into the unit's `.zst` (appending a frame to an existing one).
/// `Ok(None)` when the file changed meanwhile. Updates `unit` to what is on disk.
fn compress(unit: &mut Unit, jsonl: usize) -> Result<Option<(u64, u64)>, String> {
    let source = &unit.files[jsonl];
    let zst = unit.day_dir.join(format!("{}{}", unit.stem, layout::ZST));
    let tmp = unit
        .day_dir
        .join(format!("{}{}{}", unit.stem, layout::ZST, layout::TMP));
    let existing = unit.files.iter().find(|f| f.kind == layout::Kind::Zst);
    let modified = existing.map_or(source.modified, |z| z.modified.max(source.modified));
    let result = write_compressed(
        &source.path,
        existing.map(|z| z.path.as_path()),
        &tmp,
        modified,
    );
    let new_len = match result {
        Ok(len) => len,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    // The store appends with O_APPEND: if it wrote meanwhile, keep the `.jsonl` for next time.
    let unchanged = fs::metadata(&source.path)
        .is_ok_and(|m| m.len() == source.len && m.modified().ok() == Some(source.modified));
    if !unchanged {
        let _ = fs::remove_file(&tmp);
        return Ok(None);
    }
    fs::rename(&tmp, &zst).map_err(|e| format!("renaming {}: {e}", tmp.display()))?;
    fs::remove_file(&source.path)
        .map_err(|e| format!("removing {}: {e}", source.path.display()))?;
    let from = source.len;
    let old_zst_len = existing.map_or(0, |z| z.len);
    unit.files = vec![FileInfo {
        path: zst,
        kind: layout::Kind::Zst,
        len: new_len,
        modified,
    }];
    Ok(Some((from, new_len.saturating_sub(old_zst_len))))
}

/// `tmp` = the existing `.zst` (if any) + `source` as a new zstd frame; synced, 0600, mtime set.
fn write_compressed(
    source: &Path,
    existing: Option<&Path>,
    tmp: &Path,
    modified: SystemTime,
) -> Result<u64, String> {
    fn context(what: &Path) -> impl Fn(std::io::Error) -> String + '_ {
        move |e| format!("compressing ({}): {e}", what.display())
    }
    let mut options = layout::private_file_options();
    let mut out = options
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp)
        .map_err(context(tmp))?;
    if let Some(existing) = existing {
        let mut old = File::open(existing).map_err(context(existing))?;
        std::io::copy(&mut old, &mut out).map_err(context(existing))?;
    }
    let input = File::open(source).map_err(context(source))?;
    zstd::stream::copy_encode(input, &mut out, ZSTD_LEVEL).map_err(context(tmp))?;
    out.sync_all().map_err(context(tmp))?;
    out.set_modified(modified).map_err(context(tmp))?;
    Ok(out.metadata().map_err(context(tmp))?.len())
}

#[cfg(test)]
mod tests;
