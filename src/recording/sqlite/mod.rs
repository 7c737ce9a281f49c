//! [recording] The SQLite analytics store (`session_recording.sqlite.path`): one row per session,
//! per request and per tool call, so "why did this session cost $5?" and "which tool is slow?" are
//! one query away. The writer thread owns the only `SqliteStore`; readers (the search API, tests)
//! open their own connections, which WAL lets run while it writes.
//!
//! Pieces: this file opens the database (private directory and file, WAL, migrations) and holds
//! the small read helpers · `schema` (tables, indexes, the migration list) · `write`
//! (`write_batch`: one transaction per batch, session figures summed, tool calls paired with the
//! results that complete them).

mod fts;
mod schema;
mod write;

#[cfg(test)]
mod tests;

use rusqlite::Connection;
#[cfg(test)]
use rusqlite::{OpenFlags, OptionalExtension, Row};
use std::path::Path;
use std::time::Duration;

/// How long a write waits for a reader's lock before giving up (WAL readers rarely block it).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) struct SqliteStore {
    conn: Connection,
}

#[cfg(test)]
/// One `sessions` row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SessionTotals {
    pub id: String,
    pub client: String,
    pub provider: String,
    pub started_at_ms: i64,
    pub last_seen_at_ms: i64,
    pub model_used: Option<String>,
    /// Every model the session used, in order of first use.
    pub models: Vec<String>,
    pub request_count: u64,
    /// Requests that failed (see `write::is_failure`); `success` is `error_count == 0`.
    pub error_count: u64,
    pub success: bool,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_creation_tokens: u64,
    pub thinking_tokens: u64,
    pub total_tokens: u64,
    /// `None` while no request of the session had a known price.
    pub cost_usd: Option<f64>,
    pub tool_call_count: u64,
    pub total_duration_ms: f64,
    pub total_upstream_ms: f64,
    pub total_overhead_us: u64,
}

#[cfg(test)]
/// One `tool_calls` row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToolCallRow {
    pub tool_use_id: String,
    /// `None` when only the result was seen (the call came before recording started).
    pub name: Option<String>,
    /// The request whose response asked for the call.
    pub request_id: Option<String>,
    pub input: Option<serde_json::Value>,
    pub requested_at_ms: Option<i64>,
    /// The request that carried the result.
    pub result_request_id: Option<String>,
    pub completed_at_ms: Option<i64>,
    pub duration_ms: Option<f64>,
    pub is_error: Option<bool>,
}

fn sql_error(doing: &'static str) -> impl Fn(rusqlite::Error) -> String {
    move |e| format!("{doing}: {e}")
}

// === impl SqliteStore ===

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`: missing parent directories are created
    /// 0700 and the file 0600 (on unix), WAL with `synchronous=NORMAL` (a crash loses at most the
    /// last commits, never consistency), then any pending migrations. A database written by a newer
    /// build is refused.
    pub(crate) fn open(path: &Path) -> Result<Self, String> {
        let shown = path.display();
        private_file(path).map_err(|e| format!("creating {shown}: {e}"))?;
        let mut conn =
            Connection::open(path).map_err(|e| format!("opening SQLite database {shown}: {e}"))?;
        configure(&conn).map_err(|e| format!("configuring SQLite database {shown}: {e}"))?;
        schema::migrate(&mut conn).map_err(|e| format!("SQLite database {shown}: {e}"))?;
        Ok(Self { conn })
    }

    #[cfg(test)]
    /// The `sessions` row for `session_id`, if any.
    pub(crate) fn session_totals(&self, session_id: &str) -> Result<Option<SessionTotals>, String> {
        self.conn
            .query_row(
                "SELECT id, client, provider, started_at_ms, last_seen_at_ms, model_used, models,
                        request_count, error_count, success, input_tokens, output_tokens,
                        cache_read_tokens, cache_creation_tokens, thinking_tokens, total_tokens,
                        cost_usd, tool_call_count, total_duration_ms, total_upstream_ms,
                        total_overhead_us
                 FROM sessions WHERE id = ?1",
                [session_id],
                session_from_row,
            )
            .optional()
            .map_err(sql_error("reading a session"))
    }

    #[cfg(test)]
    /// The tool calls of `session_id`, in the order they were first seen.
    pub(crate) fn tool_calls(&self, session_id: &str) -> Result<Vec<ToolCallRow>, String> {
        let fail = sql_error("reading tool calls");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT tool_use_id, name, request_id, input, requested_at_ms, result_request_id,
                        completed_at_ms, duration_ms, is_error
                 FROM tool_calls WHERE session_id = ?1 ORDER BY id",
            )
            .map_err(&fail)?;
        let rows = stmt
            .query_map([session_id], |row| {
                let input: Option<String> = row.get(3)?;
                Ok(ToolCallRow {
                    tool_use_id: row.get(0)?,
                    name: row.get(1)?,
                    request_id: row.get(2)?,
                    input: input
                        .map(|s| serde_json::from_str(&s).unwrap_or(serde_json::Value::String(s))),
                    requested_at_ms: row.get(4)?,
                    result_request_id: row.get(5)?,
                    completed_at_ms: row.get(6)?,
                    duration_ms: row.get(7)?,
                    is_error: row.get(8)?,
                })
            })
            .map_err(&fail)?;
        rows.collect::<Result<_, _>>().map_err(&fail)
    }

    #[cfg(test)]
    /// Rows in `requests` (for tests and the shutdown summary).
    pub(crate) fn request_count(&self) -> Result<u64, String> {
        self.conn
            .query_row("SELECT COUNT(*) FROM requests", [], |row| {
                row.get::<_, i64>(0)
            })
            .map(|n| n.max(0) as u64)
            .map_err(sql_error("counting requests"))
    }
}

#[cfg(test)]
/// `PRAGMA integrity_check` on the database at `path` (which must exist): `Ok(true)` when SQLite
/// answers `ok`. Opening it replays the WAL, as any reader after a crash would.
pub(crate) fn integrity_ok(path: &Path) -> Result<bool, String> {
    let shown = path.display();
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| format!("opening SQLite database {shown}: {e}"))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| format!("configuring SQLite database {shown}: {e}"))?;
    let mut stmt = conn
        .prepare("PRAGMA integrity_check")
        .map_err(|e| format!("checking SQLite database {shown}: {e}"))?;
    let answers = stmt
        .query_map([], |row| row.get::<_, String>(0))
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("checking SQLite database {shown}: {e}"))?;
    Ok(answers == ["ok"])
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // `journal_mode` answers with the mode it ended up in; anything but WAL is worth knowing.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(mode = %mode, "SQLite refused WAL mode; recording still works, slower");
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

/// Creates the missing parent directories (0700) and the file itself (0600) before SQLite does, so
/// it never exists with the umask's looser mode; SQLite gives its `-wal`/`-shm` files the same
/// mode as the database. An existing file readable by others is tightened to 0600.
#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)?;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    let meta = file.metadata()?;
    if meta.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    Ok(())
}

#[cfg(test)]
fn session_from_row(row: &Row<'_>) -> rusqlite::Result<SessionTotals> {
    let count = |i: usize| row.get::<_, i64>(i).map(|n| n.max(0) as u64);
    let models: String = row.get(6)?;
    Ok(SessionTotals {
        id: row.get(0)?,
        client: row.get(1)?,
        provider: row.get(2)?,
        started_at_ms: row.get(3)?,
        last_seen_at_ms: row.get(4)?,
        model_used: row.get(5)?,
        models: serde_json::from_str(&models).unwrap_or_default(),
        request_count: count(7)?,
        error_count: count(8)?,
        success: row.get(9)?,
        input_tokens: count(10)?,
        output_tokens: count(11)?,
        cache_read_tokens: count(12)?,
        cache_creation_tokens: count(13)?,
        thinking_tokens: count(14)?,
        total_tokens: count(15)?,
        cost_usd: row.get(16)?,
        tool_call_count: count(17)?,
        total_duration_ms: row.get(18)?,
        total_upstream_ms: row.get(19)?,
        total_overhead_us: count(20)?,
    })
}
