//! What the bench can see of the recorder from outside the proxy process: rows in the SQLite
//! `requests` table (read-only; WAL lets a reader in while the writer commits), the writer
//! thread's CPU time (`/proc/<pid>/task/*`, the thread named `lunaroute-recorder`), gap markers
//! and bytes on disk. The recorder's types are `pub(crate)`, so this is how its rate is measured.

use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::proxy_process;

/// A read-only connection to the recorder's database.
pub struct Rows {
    conn: Connection,
}

// === impl Rows ===

impl Rows {
    pub fn open(path: &Path) -> Result<Self, String> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| format!("opening {}: {e}", path.display()))?;
        // The writer holds its write lock only while committing a batch; wait that out.
        conn.busy_timeout(Duration::from_secs(2))
            .map_err(|e| e.to_string())?;
        Ok(Self { conn })
    }

    /// Rows in `requests` now (one per recorded request).
    pub fn count(&self) -> Result<u64, String> {
        self.conn
            .query_row("SELECT count(*) FROM requests", [], |row| {
                row.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(|e| format!("counting requests: {e}"))
    }
}

/// Row counts seen while waiting, and when the wanted count was reached.
pub struct Progress {
    pub samples: Vec<(Instant, u64)>,
    pub reached: Option<Instant>,
    pub last: u64,
}

// === impl Progress ===

impl Progress {
    /// The last count seen at or before `at`.
    pub fn at(&self, at: Instant) -> u64 {
        self.samples
            .iter()
            .take_while(|(t, _)| *t <= at)
            .last()
            .map(|(_, n)| *n)
            .unwrap_or(0)
    }
}

/// Polls `path` every `every` until `requests` has `target` rows, `limit` has passed, or the count
/// has not moved for `stall` (the recorder lost some, or stopped). Blocking: run it on its own thread.
pub fn wait_for_rows(
    path: &Path,
    target: u64,
    every: Duration,
    limit: Duration,
    stall: Duration,
) -> Result<Progress, String> {
    let rows = Rows::open(path)?;
    let started = Instant::now();
    let mut progress = Progress {
        samples: Vec::new(),
        reached: None,
        last: 0,
    };
    let mut moved = started;
    // Bounded by `limit` (and by the iteration count, in case the clock misbehaves).
    for _ in 0..(limit.as_millis() / every.as_millis().max(1) + 1) {
        let n = rows.count()?;
        let now = Instant::now();
        if progress.samples.last().is_none_or(|(_, last)| *last != n) {
            progress.samples.push((now, n));
            moved = now;
        }
        progress.last = n;
        if n >= target {
            progress.reached = Some(now);
            break;
        }
        if now - started >= limit || now - moved >= stall {
            break;
        }
        std::thread::sleep(every);
    }
    Ok(progress)
}

/// CPU time of the recorder's writer thread in `pid` (Linux truncates thread names to 15 bytes).
pub fn writer_cpu(pid: u32) -> Option<Duration> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end().starts_with("lunaroute-rec") {
            // Not `/proc/<tid>/stat`: that one reports the whole process.
            return proxy_process::read_stat_cpu_time(&task.path().join("stat").to_string_lossy());
        }
    }
    None
}

/// Bytes of all files under `path` (0 if it is missing).
pub fn disk_bytes(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries.flatten().map(|e| disk_bytes(&e.path())).sum()
}

/// Lines in every `_gaps.jsonl` under `dir`: requests the recorder had to drop and marked as such.
pub fn gap_markers(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                gap_markers(&path)
            } else if e.file_name() == "_gaps.jsonl" {
                std::fs::read_to_string(&path)
                    .map(|s| s.lines().count() as u64)
                    .unwrap_or(0)
            } else {
                0
            }
        })
        .sum()
}

/// How much CPU time passed between two readings (`None` if either is missing).
pub fn cpu_delta(before: Option<Duration>, after: Option<Duration>) -> Option<Duration> {
    Some(after?.saturating_sub(before?))
}

/// A temporary directory for the recording (sessions and database), removed when dropped.
pub struct Scratch(pub PathBuf);

// === impl Scratch ===

impl Scratch {
    pub fn create() -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let dir =
            std::env::temp_dir().join(format!("lunaroute-bench-recording-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // `BENCH_KEEP_RECORDING=1` keeps the sessions and database for a look at what was stored.
        if std::env::var_os("BENCH_KEEP_RECORDING").is_some() {
            eprintln!("bench: kept the recording in {}", self.0.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
