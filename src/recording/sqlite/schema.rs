//! The SQLite schema as an ordered list of migrations, and the code that applies them. The database
//! records how many it has had in `PRAGMA user_version`; opening applies the missing ones, each in
//! its own transaction, and refuses a database from a newer build rather than guessing at it.
//!
//! To change the schema, append a step to `MIGRATIONS` (never edit a shipped one).

use rusqlite::{Connection, TransactionBehavior};

/// Step `i` takes the database from version `i` to `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[V1_TABLES, V2_SEARCH, V3_REDACTIONS, V4_SERVED];

/// Sessions, requests and tool calls. Token counts are normalised as in `record::Usage` (`input`
/// excludes cache reads and writes); session figures are sums over its requests. Times are both
/// RFC 3339 UTC text (`..._at`, for people and `ORDER BY`) and ms since the epoch (`..._at_ms`).
const V1_TABLES: &str = "
CREATE TABLE sessions (
    id                    TEXT PRIMARY KEY,
    client                TEXT NOT NULL,
    provider              TEXT NOT NULL,
    started_at            TEXT NOT NULL,
    started_at_ms         INTEGER NOT NULL,
    last_seen_at          TEXT NOT NULL,
    last_seen_at_ms       INTEGER NOT NULL,
    model_used            TEXT,
    models                TEXT NOT NULL DEFAULT '[]',
    request_count         INTEGER NOT NULL DEFAULT 0,
    error_count           INTEGER NOT NULL DEFAULT 0,
    success               INTEGER NOT NULL DEFAULT 1,
    input_tokens          INTEGER NOT NULL DEFAULT 0,
    output_tokens         INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens     INTEGER NOT NULL DEFAULT 0,
    cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
    thinking_tokens       INTEGER NOT NULL DEFAULT 0,
    total_tokens          INTEGER NOT NULL DEFAULT 0,
    cost_usd              REAL,
    tool_call_count       INTEGER NOT NULL DEFAULT 0,
    total_duration_ms     REAL NOT NULL DEFAULT 0,
    total_upstream_ms     REAL NOT NULL DEFAULT 0,
    total_overhead_us     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_started_at ON sessions (started_at);
CREATE INDEX sessions_started_at_ms ON sessions (started_at_ms);
CREATE INDEX sessions_last_seen_at_ms ON sessions (last_seen_at_ms);
CREATE INDEX sessions_model_used ON sessions (model_used, started_at);

CREATE TABLE requests (
    request_id            TEXT PRIMARY KEY,
    session_id            TEXT NOT NULL,
    client                TEXT NOT NULL,
    provider              TEXT NOT NULL,
    endpoint              TEXT NOT NULL,
    transport             TEXT NOT NULL,
    model                 TEXT,
    response_model        TEXT,
    response_id           TEXT,
    started_at            TEXT NOT NULL,
    started_at_ms         INTEGER NOT NULL,
    ended_at              TEXT NOT NULL,
    ended_at_ms           INTEGER NOT NULL,
    status                INTEGER NOT NULL,
    outcome               TEXT NOT NULL,
    error_type            TEXT,
    error_message         TEXT,
    retry_after           TEXT,
    stream                INTEGER NOT NULL,
    message_count         INTEGER NOT NULL,
    input_tokens          INTEGER NOT NULL,
    output_tokens         INTEGER NOT NULL,
    cache_read_tokens     INTEGER NOT NULL,
    cache_creation_tokens INTEGER NOT NULL,
    thinking_tokens       INTEGER NOT NULL,
    total_tokens          INTEGER NOT NULL,
    usage_raw             TEXT,
    cost_usd              REAL,
    ttfb_ms               REAL,
    ttft_ms               REAL,
    total_ms              REAL NOT NULL,
    upstream_ms           REAL NOT NULL,
    overhead_us           INTEGER NOT NULL,
    chunks                INTEGER NOT NULL,
    events                INTEGER NOT NULL,
    stop_reason           TEXT,
    text_preview          TEXT NOT NULL,
    tool_call_count       INTEGER NOT NULL,
    tool_result_count     INTEGER NOT NULL,
    betas                 TEXT NOT NULL,
    truncated             INTEGER NOT NULL
);
CREATE INDEX requests_session ON requests (session_id, started_at_ms);
CREATE INDEX requests_started_at_ms ON requests (started_at_ms);
CREATE INDEX requests_model ON requests (model, started_at_ms);

CREATE TABLE tool_calls (
    id                    INTEGER PRIMARY KEY,
    session_id            TEXT NOT NULL,
    tool_use_id           TEXT NOT NULL,
    request_id            TEXT,
    name                  TEXT,
    input                 TEXT,
    requested_at_ms       INTEGER,
    result_request_id     TEXT,
    completed_at_ms       INTEGER,
    duration_ms           REAL,
    is_error              INTEGER,
    UNIQUE (session_id, tool_use_id)
);
CREATE INDEX tool_calls_name ON tool_calls (name, requested_at_ms);
CREATE INDEX tool_calls_request ON tool_calls (request_id);
";

/// Full-text search (issue 4): one row per request with the text that is new in it (`fts.rs`),
/// searched with FTS5 `MATCH`; `session_id` and `request_id` ride along unindexed. Requests
/// recorded before this step are not indexed (their text is in the JSONL files).
const V2_SEARCH: &str = "
CREATE VIRTUAL TABLE requests_fts USING fts5(
    session_id UNINDEXED,
    request_id UNINDEXED,
    content,
    tokenize = 'unicode61 remove_diacritics 2'
);
";

/// PII redaction (issue 5): per request, which kinds were redacted and how many, as JSON text
/// (`{"email":2,"secret:aws_access_key":1}`), never the values; NULL when nothing was.
const V3_REDACTIONS: &str = "
ALTER TABLE requests ADD COLUMN redactions TEXT;
";

/// Routing (issue 6): the configured provider and the model that served a routed request (after
/// `model_rewrite` and any fallback); `provider` and `model` stay the client's. NULL when the
/// request was not routed.
const V4_SERVED: &str = "
ALTER TABLE requests ADD COLUMN served_provider TEXT;
ALTER TABLE requests ADD COLUMN served_model TEXT;
";

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: usize = MIGRATIONS.len();

pub(super) fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// Brings the database up to `SCHEMA_VERSION`. Each step runs in an IMMEDIATE transaction that
/// re-reads the version first, so two processes opening a fresh file at once do not both migrate.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), String> {
    let fail = |e: rusqlite::Error| format!("migrating the schema: {e}");
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        let version = user_version(&tx).map_err(fail)?;
        let known = SCHEMA_VERSION as i64;
        if version > known {
            return Err(format!(
                "the database has schema version {version}, newer than this build knows \
                 ({known}); use a newer lunaroute or another sessions.db path"
            ));
        }
        if version < 0 {
            return Err(format!(
                "the database has a negative schema version ({version})"
            ));
        }
        let Some(step) = MIGRATIONS.get(version as usize) else {
            return Ok(()); // up to date; the empty transaction rolls back on drop
        };
        tx.execute_batch(step).map_err(fail)?;
        tx.pragma_update(None, "user_version", version + 1)
            .map_err(fail)?;
        tx.commit().map_err(fail)?;
    }
}
