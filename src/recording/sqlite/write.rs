//! `SqliteStore::write_batch`: a batch of `RequestRecord`s in one transaction. Each new request
//! gets its `requests` row; the tool calls its response asked for get `tool_calls` rows, which the
//! results in later requests complete; and each session's row is upserted once per batch with the
//! batch's figures added (tokens, cost and durations are sums, never maxima).
//!
//! Each request's new text also goes into the full-text index (`fts`).
//!
//! A record whose `request_id` is already stored is skipped entirely, so writing the same batch
//! twice (a retry after an unclear failure) counts nothing twice.

use super::{sql_error, SqliteStore};
use crate::recording::clock::rfc3339;
use crate::recording::record::{ClientKind, Outcome, RequestRecord};
use rusqlite::{params, Transaction};
use std::collections::HashMap;

/// Characters of the response text kept in `requests.text_preview`.
const PREVIEW_CHARS: usize = 500;

fn client_name(client: ClientKind) -> &'static str {
    match client {
        ClientKind::ClaudeCode => "claude-code",
        ClientKind::Codex => "codex",
        ClientKind::Opencode => "opencode",
        ClientKind::Sdk => "sdk",
        ClientKind::Other => "other",
    }
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Ok => "ok",
        Outcome::ProviderError => "provider_error",
        Outcome::ClientDisconnected => "client_disconnected",
        Outcome::UpstreamFailed => "upstream_failed",
        Outcome::Timeout => "timeout",
        Outcome::Refused => "refused",
    }
}

/// A request that failed: the provider answered with an error, the upstream broke, or it timed
/// out. A client that hangs up (the user pressed Esc) is its own choice, not a failure.
pub(super) fn is_failure(outcome: Outcome) -> bool {
    !matches!(outcome, Outcome::Ok | Outcome::ClientDisconnected)
}

/// SQLite integers are i64; token counts beyond that are not real, so they saturate.
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The model a request is filed under: what the client asked for, else what the provider said.
fn model_of(record: &RequestRecord) -> Option<&str> {
    record
        .request
        .model
        .as_deref()
        .or(record.response.model.as_deref())
        .filter(|m| !m.is_empty())
}

/// One session's share of a batch, in the order its records came.
struct SessionDelta<'a> {
    id: &'a str,
    client: &'static str,
    provider: &'static str,
    first_ms: i64,
    last_ms: i64,
    last_model: Option<&'a str>,
    models: Vec<&'a str>,
    requests: u64,
    errors: u64,
    input: u64,
    output: u64,
    cache_read: u64,
    cache_creation: u64,
    thinking: u64,
    total: u64,
    cost: Option<f64>,
    tool_calls: u64,
    duration_ms: f64,
    upstream_ms: f64,
    overhead_us: u64,
}

// === impl SessionDelta ===

impl<'a> SessionDelta<'a> {
    fn new(record: &'a RequestRecord) -> Self {
        Self {
            id: &record.session_id,
            client: client_name(record.client),
            provider: record.provider,
            first_ms: record.started_at_ms,
            last_ms: record.ended_at_ms,
            last_model: None,
            models: Vec::new(),
            requests: 0,
            errors: 0,
            input: 0,
            output: 0,
            cache_read: 0,
            cache_creation: 0,
            thinking: 0,
            total: 0,
            cost: None,
            tool_calls: 0,
            duration_ms: 0.0,
            upstream_ms: 0.0,
            overhead_us: 0,
        }
    }

    fn add(&mut self, record: &'a RequestRecord) {
        let usage = &record.response.usage;
        self.first_ms = self.first_ms.min(record.started_at_ms);
        self.last_ms = self.last_ms.max(record.ended_at_ms);
        if let Some(model) = model_of(record) {
            self.last_model = Some(model);
            if !self.models.contains(&model) {
                self.models.push(model);
            }
        }
        self.requests += 1;
        self.errors += u64::from(is_failure(record.outcome));
        self.input = self.input.saturating_add(usage.input);
        self.output = self.output.saturating_add(usage.output);
        self.cache_read = self.cache_read.saturating_add(usage.cache_read);
        self.cache_creation = self.cache_creation.saturating_add(usage.cache_creation);
        self.thinking = self.thinking.saturating_add(usage.thinking);
        self.total = self.total.saturating_add(usage.total);
        if let Some(cost) = record.cost_usd.filter(|c| c.is_finite()) {
            self.cost = Some(self.cost.unwrap_or(0.0) + cost);
        }
        self.tool_calls += record.response.tool_calls.len() as u64;
        self.duration_ms += record.timings.total_ms;
        self.upstream_ms += record.timings.upstream_ms;
        self.overhead_us = self.overhead_us.saturating_add(record.timings.overhead_us);
    }
}

// === impl SqliteStore ===

impl SqliteStore {
    /// Writes `records` in one transaction: all of them, or (on error) none.
    pub(crate) fn write_batch(&mut self, records: &[RequestRecord]) -> Result<(), String> {
        if records.is_empty() {
            return Ok(());
        }
        let fail = sql_error("writing to SQLite");
        let tx = self.conn.transaction().map_err(&fail)?;
        let mut deltas: Vec<SessionDelta<'_>> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for record in records {
            if !insert_request(&tx, record).map_err(&fail)? {
                continue; // stored by an earlier batch
            }
            insert_tool_calls(&tx, record).map_err(&fail)?;
            index_text(&tx, record).map_err(&fail)?;
            complete_tool_calls(&tx, record).map_err(&fail)?;
            let i = *index.entry(&record.session_id).or_insert_with(|| {
                deltas.push(SessionDelta::new(record));
                deltas.len() - 1
            });
            deltas[i].add(record);
        }
        for delta in &deltas {
            upsert_session(&tx, delta).map_err(&fail)?;
        }
        tx.commit().map_err(&fail)
    }
}

/// Inserts the `requests` row; `false` when a row with this `request_id` already exists.
fn insert_request(tx: &Transaction<'_>, r: &RequestRecord) -> rusqlite::Result<bool> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO requests (
            request_id, session_id, client, provider, endpoint, transport, model, response_model,
            response_id, started_at, started_at_ms, ended_at, ended_at_ms, status, outcome,
            error_type, error_message, retry_after, stream, message_count, input_tokens,
            output_tokens, cache_read_tokens, cache_creation_tokens, thinking_tokens, total_tokens,
            usage_raw, cost_usd, ttfb_ms, ttft_ms, total_ms, upstream_ms, overhead_us, chunks,
            events, stop_reason, text_preview, tool_call_count, tool_result_count, betas, truncated,
            redactions, served_provider, served_model
         ) VALUES (
            ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
            ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, ?36,
            ?37, ?38, ?39, ?40, ?41, ?42, ?43, ?44
         ) ON CONFLICT (request_id) DO NOTHING",
    )?;
    let usage = &r.response.usage;
    let timings = &r.timings;
    let preview: String = r.response.text.chars().take(PREVIEW_CHARS).collect();
    let usage_raw = usage.raw.as_ref().map(|v| v.to_string());
    let betas = serde_json::to_string(&r.request.betas).unwrap_or_else(|_| "[]".into());
    let cost = r.cost_usd.filter(|c| c.is_finite());
    let redactions = (!r.redactions.is_empty())
        .then(|| serde_json::to_string(&r.redactions).ok())
        .flatten();
    let changed = stmt.execute(params![
        r.request_id,
        r.session_id,
        client_name(r.client),
        r.provider,
        r.endpoint,
        r.transport,
        r.request.model,
        r.response.model,
        r.response.id,
        rfc3339(r.started_at_ms),
        r.started_at_ms,
        rfc3339(r.ended_at_ms),
        r.ended_at_ms,
        r.status,
        outcome_name(r.outcome),
        r.response.error_type,
        r.response.error_message,
        r.retry_after,
        r.request.stream,
        int(r.request.message_count),
        int(usage.input),
        int(usage.output),
        int(usage.cache_read),
        int(usage.cache_creation),
        int(usage.thinking),
        int(usage.total),
        usage_raw,
        cost,
        timings.ttfb_ms,
        timings.ttft_ms,
        timings.total_ms,
        timings.upstream_ms,
        int(timings.overhead_us),
        int(timings.chunks),
        int(r.response.events),
        r.response.stop_reason,
        preview,
        r.response.tool_calls.len() as i64,
        r.request.tool_results.len() as i64,
        betas,
        r.truncated,
        redactions,
        r.served.as_ref().map(|s| &s.provider),
        r.served.as_ref().and_then(|s| s.model.as_ref()),
    ])?;
    Ok(changed == 1)
}

/// The request's new text in the full-text index (see `fts`).
fn index_text(tx: &Transaction<'_>, r: &RequestRecord) -> rusqlite::Result<()> {
    let Some(text) = super::fts::indexed_text(r) else {
        return Ok(());
    };
    tx.prepare_cached(
        "INSERT INTO requests_fts (session_id, request_id, content) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![r.session_id, r.request_id, text])?;
    Ok(())
}

/// A row per call the response asked for, requested when the response ended. A row that already
/// exists for the id (a result seen first) gains the call's details it was missing.
fn insert_tool_calls(tx: &Transaction<'_>, r: &RequestRecord) -> rusqlite::Result<()> {
    if r.response.tool_calls.is_empty() {
        return Ok(());
    }
    let mut stmt = tx.prepare_cached(
        "INSERT INTO tool_calls (session_id, tool_use_id, request_id, name, input, requested_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (session_id, tool_use_id) DO UPDATE SET
            request_id = COALESCE(request_id, excluded.request_id),
            name = COALESCE(name, excluded.name),
            input = COALESCE(input, excluded.input),
            requested_at_ms = COALESCE(requested_at_ms, excluded.requested_at_ms)",
    )?;
    for call in &r.response.tool_calls {
        stmt.execute(params![
            r.session_id,
            call.id,
            r.request_id,
            call.name,
            call.input.to_string(),
            r.ended_at_ms,
        ])?;
    }
    Ok(())
}

/// Completes the calls whose results this request carries. The tracker's `tool_executions` come
/// first (exact durations); a result it could not pair (the call came before a restart) completes
/// a stored call from its `requested_at_ms`, and a result whose call was never stored still gets a
/// row of its own, name unknown. A call is completed once: clients resend old results with every
/// later turn, and those repeats change nothing.
fn complete_tool_calls(tx: &Transaction<'_>, r: &RequestRecord) -> rusqlite::Result<()> {
    if r.tool_executions.is_empty() && r.request.tool_results.is_empty() {
        return Ok(());
    }
    let arrived = r.started_at_ms;
    let mut complete_exact = tx.prepare_cached(
        "UPDATE tool_calls SET result_request_id = ?3, completed_at_ms = ?4, duration_ms = ?5,
                               is_error = ?6
         WHERE session_id = ?1 AND tool_use_id = ?2 AND completed_at_ms IS NULL",
    )?;
    let mut complete_stored = tx.prepare_cached(
        "UPDATE tool_calls SET result_request_id = ?3, completed_at_ms = ?4,
                               duration_ms = MAX(?4 - requested_at_ms, 0), is_error = ?5
         WHERE session_id = ?1 AND tool_use_id = ?2 AND completed_at_ms IS NULL
           AND requested_at_ms IS NOT NULL",
    )?;
    let mut insert_orphan = tx.prepare_cached(
        "INSERT INTO tool_calls (session_id, tool_use_id, name, result_request_id,
                                 completed_at_ms, duration_ms, is_error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (session_id, tool_use_id) DO NOTHING",
    )?;
    for exec in &r.tool_executions {
        let id = &exec.tool_use_id;
        let changed = complete_exact.execute(params![
            r.session_id,
            id,
            r.request_id,
            arrived,
            exec.duration_ms,
            exec.is_error
        ])?;
        if changed == 0 {
            // The call's own row was lost (a gap) or never written: keep what the tracker knows.
            let name = Some(exec.name.as_str()).filter(|n| !n.is_empty());
            insert_orphan.execute(params![
                r.session_id,
                id,
                name,
                r.request_id,
                arrived,
                exec.duration_ms,
                exec.is_error
            ])?;
        }
    }
    for result in &r.request.tool_results {
        let id = &result.tool_use_id;
        if r.tool_executions.iter().any(|e| &e.tool_use_id == id) {
            continue;
        }
        let changed = complete_stored.execute(params![
            r.session_id,
            id,
            r.request_id,
            arrived,
            result.is_error
        ])?;
        if changed == 0 {
            let no_name: Option<&str> = None;
            let no_duration: Option<f64> = None;
            insert_orphan.execute(params![
                r.session_id,
                id,
                no_name,
                r.request_id,
                arrived,
                no_duration,
                result.is_error
            ])?;
        }
    }
    Ok(())
}

/// Adds one session's share of the batch to its row (creating it on first sight).
fn upsert_session(tx: &Transaction<'_>, d: &SessionDelta<'_>) -> rusqlite::Result<()> {
    // Distinct models in order of first use: the stored list, then this batch's new ones.
    let stored: Option<String> = {
        let mut stmt = tx.prepare_cached("SELECT models FROM sessions WHERE id = ?1")?;
        let mut rows = stmt.query([d.id])?;
        match rows.next()? {
            Some(row) => row.get(0)?,
            None => None,
        }
    };
    let mut models: Vec<String> = stored
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    for model in &d.models {
        if !models.iter().any(|m| m == model) {
            models.push(model.to_string());
        }
    }
    let models = serde_json::to_string(&models).unwrap_or_else(|_| "[]".into());

    let mut stmt = tx.prepare_cached(
        "INSERT INTO sessions (
            id, client, provider, started_at, started_at_ms, last_seen_at, last_seen_at_ms,
            model_used, models, request_count, error_count, success, input_tokens, output_tokens,
            cache_read_tokens, cache_creation_tokens, thinking_tokens, total_tokens, cost_usd,
            tool_call_count, total_duration_ms, total_upstream_ms, total_overhead_us
         ) VALUES (
            ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
            ?20, ?21, ?22, ?23
         ) ON CONFLICT (id) DO UPDATE SET
            started_at = CASE WHEN excluded.started_at_ms < started_at_ms
                              THEN excluded.started_at ELSE started_at END,
            started_at_ms = MIN(started_at_ms, excluded.started_at_ms),
            last_seen_at = CASE WHEN excluded.last_seen_at_ms > last_seen_at_ms
                                THEN excluded.last_seen_at ELSE last_seen_at END,
            last_seen_at_ms = MAX(last_seen_at_ms, excluded.last_seen_at_ms),
            model_used = COALESCE(excluded.model_used, model_used),
            models = excluded.models,
            request_count = request_count + excluded.request_count,
            error_count = error_count + excluded.error_count,
            success = MIN(success, excluded.success),
            input_tokens = input_tokens + excluded.input_tokens,
            output_tokens = output_tokens + excluded.output_tokens,
            cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
            cache_creation_tokens = cache_creation_tokens + excluded.cache_creation_tokens,
            thinking_tokens = thinking_tokens + excluded.thinking_tokens,
            total_tokens = total_tokens + excluded.total_tokens,
            cost_usd = CASE WHEN excluded.cost_usd IS NULL THEN cost_usd
                            ELSE COALESCE(cost_usd, 0) + excluded.cost_usd END,
            tool_call_count = tool_call_count + excluded.tool_call_count,
            total_duration_ms = total_duration_ms + excluded.total_duration_ms,
            total_upstream_ms = total_upstream_ms + excluded.total_upstream_ms,
            total_overhead_us = total_overhead_us + excluded.total_overhead_us",
    )?;
    stmt.execute(params![
        d.id,
        d.client,
        d.provider,
        rfc3339(d.first_ms),
        d.first_ms,
        rfc3339(d.last_ms),
        d.last_ms,
        d.last_model,
        models,
        int(d.requests),
        int(d.errors),
        d.errors == 0,
        int(d.input),
        int(d.output),
        int(d.cache_read),
        int(d.cache_creation),
        int(d.thinking),
        int(d.total),
        d.cost,
        int(d.tool_calls),
        d.duration_ms,
        d.upstream_ms,
        int(d.overhead_us),
    ])?;
    Ok(())
}
