//! The SQL behind `GET /sessions`, `GET /sessions/{id}` and `GET /stats`, on a read-only
//! connection. Conditions are fixed SQL fragments chosen by `SessionQuery`; every value is a bound
//! parameter (`?N`), so nothing a client sends becomes SQL text.

use super::params::{SessionQuery, Sort};
use rusqlite::types::{Value as Sql, ValueRef};
use rusqlite::{params_from_iter, Connection, Row};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

type Result<T> = std::result::Result<T, rusqlite::Error>;

/// The columns of a session summary, in the order of `session_json`.
const SESSION_COLUMNS: &str = "s.id, s.client, s.provider, s.started_at, s.last_seen_at,
    s.model_used, s.models, s.request_count, s.error_count, s.success, s.input_tokens,
    s.output_tokens, s.cache_read_tokens, s.cache_creation_tokens, s.thinking_tokens,
    s.total_tokens, s.cost_usd, s.tool_call_count, s.total_duration_ms";

/// A column's value as JSON (SQLite has no booleans: those are converted by name).
fn cell(row: &Row<'_>, i: usize) -> Result<Value> {
    Ok(match row.get_ref(i)? {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => json!(n),
        ValueRef::Real(x) => json!(x),
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(_) => Value::Null,
    })
}

/// Every column of `row` as a JSON object keyed by column name; `bools` are turned into booleans
/// and `json_text` columns parsed.
fn row_object(row: &Row<'_>, bools: &[&str], json_text: &[&str]) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    let names: Vec<String> = row
        .as_ref()
        .column_names()
        .into_iter()
        .map(str::to_string)
        .collect();
    for (i, name) in names.into_iter().enumerate() {
        let mut value = cell(row, i)?;
        if bools.contains(&name.as_str()) {
            value = value.as_i64().map_or(Value::Null, |n| Value::Bool(n != 0));
        } else if json_text.contains(&name.as_str()) {
            if let Some(text) = value.as_str() {
                value = serde_json::from_str(text).unwrap_or(value.clone());
            }
        }
        out.insert(name, value);
    }
    Ok(out)
}

fn session_json(row: &Row<'_>) -> Result<Map<String, Value>> {
    row_object(row, &["success"], &["models"])
}

/// WHERE clause and its bound values for `q`.
fn conditions(q: &SessionQuery) -> (String, Vec<Sql>) {
    let mut conds: Vec<String> = Vec::new();
    let mut values: Vec<Sql> = Vec::new();
    let mut bind = |sql: &str, value: Sql, conds: &mut Vec<String>| {
        values.push(value);
        conds.push(sql.replace('?', &format!("?{}", values.len())));
    };
    if let Some(text) = &q.text {
        bind(
            "s.id IN (SELECT session_id FROM requests_fts WHERE requests_fts MATCH ?)",
            Sql::Text(text.clone()),
            &mut conds,
        );
    }
    if let Some(ms) = q.since_ms {
        bind("s.last_seen_at_ms >= ?", Sql::Integer(ms), &mut conds);
    }
    if let Some(ms) = q.until_ms {
        bind("s.started_at_ms < ?", Sql::Integer(ms), &mut conds);
    }
    if let Some(model) = &q.model {
        bind(
            "EXISTS (SELECT 1 FROM json_each(s.models) WHERE value = ?)",
            Sql::Text(model.clone()),
            &mut conds,
        );
    }
    for (column, value) in [("s.provider", &q.provider), ("s.client", &q.client)] {
        if let Some(v) = value {
            bind(&format!("{column} = ?"), Sql::Text(v.clone()), &mut conds);
        }
    }
    if let Some(success) = q.success {
        bind("s.success = ?", Sql::Integer(success.into()), &mut conds);
    }
    if let Some(n) = q.min_total_tokens {
        bind("s.total_tokens >= ?", Sql::Integer(n), &mut conds);
    }
    if let Some(n) = q.max_total_tokens {
        bind("s.total_tokens <= ?", Sql::Integer(n), &mut conds);
    }
    if let Some(cost) = q.min_cost {
        bind("COALESCE(s.cost_usd, 0) >= ?", Sql::Real(cost), &mut conds);
    }
    if let Some(tool) = &q.tool {
        bind(
            "s.id IN (SELECT session_id FROM tool_calls WHERE name = ?)",
            Sql::Text(tool.clone()),
            &mut conds,
        );
    }
    let clause = if conds.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conds.join(" AND "))
    };
    (clause, values)
}

/// Ties broken on `id`, so a page boundary never moves between two requests for the same data.
fn order_by(sort: Sort) -> &'static str {
    match sort {
        Sort::Newest => "s.started_at_ms DESC, s.id DESC",
        Sort::Oldest => "s.started_at_ms ASC, s.id ASC",
        Sort::Tokens => "s.total_tokens DESC, s.id DESC",
        Sort::Cost => "COALESCE(s.cost_usd, 0) DESC, s.id DESC",
        Sort::Duration => "s.total_duration_ms DESC, s.id DESC",
    }
}

/// `GET /sessions`.
pub(super) fn list_sessions(conn: &Connection, q: &SessionQuery) -> Result<Value> {
    let (clause, mut values) = conditions(q);
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM sessions s {clause}"),
        params_from_iter(values.iter()),
        |r| r.get(0),
    )?;
    // The snippet: the session's latest matching request, the hit marked.
    let snippet = match &q.text {
        Some(_) => ", (SELECT snippet(requests_fts, 2, char(57344), char(57345), '…', 16) FROM requests_fts
                       WHERE requests_fts MATCH ?1 AND session_id = s.id ORDER BY rowid DESC LIMIT 1)
                     AS snippet",
        None => "",
    };
    let n = values.len();
    let sql = format!(
        "SELECT {SESSION_COLUMNS}{snippet} FROM sessions s {clause} ORDER BY {} LIMIT ?{} OFFSET ?{}",
        order_by(q.sort),
        n + 1,
        n + 2
    );
    values.push(Sql::Integer(q.limit));
    values.push(Sql::Integer(q.offset));
    let mut stmt = conn.prepare(&sql)?;
    let sessions = stmt
        .query_map(params_from_iter(values.iter()), |row| {
            let mut session = session_json(row)?;
            if let Some(Value::String(snippet)) = session.get_mut("snippet") {
                *snippet = snippet_html(snippet);
            }
            Ok(Value::Object(session))
        })?
        .collect::<Result<Vec<_>>>()?;
    Ok(json!({"sessions": sessions, "total": total, "limit": q.limit, "offset": q.offset}))
}

/// FTS5 marks a hit with these (private-use characters, see `list_sessions`) so the recorded text
/// can be escaped before the marks become HTML.
const MARK_OPEN: char = '\u{E000}';
const MARK_CLOSE: char = '\u{E001}';

/// A snippet as safe HTML: the recorded text escaped, each hit in `<mark>…</mark>`. Marker
/// characters that were in the recorded text itself could only misplace a mark: open and close
/// always alternate, and a mark left open is closed.
fn snippet_html(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 16);
    let mut open = false;
    for c in raw.chars() {
        match c {
            MARK_OPEN if !open => {
                out.push_str("<mark>");
                open = true;
            }
            MARK_CLOSE if open => {
                out.push_str("</mark>");
                open = false;
            }
            MARK_OPEN | MARK_CLOSE => {}
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    if open {
        out.push_str("</mark>");
    }
    out
}

/// `GET /sessions/{id}`: the session row, its requests in order (each with its tool calls), or
/// `None` when the session is unknown.
pub(super) fn session_detail(conn: &Connection, id: &str) -> Result<Option<Map<String, Value>>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.id = ?1"
    ))?;
    let Some(mut session) = stmt.query_map([id], session_json)?.next().transpose()? else {
        return Ok(None);
    };
    let mut calls: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut stmt = conn.prepare(
        "SELECT tool_use_id, name, request_id, input, requested_at_ms, result_request_id,
                completed_at_ms, duration_ms, is_error
         FROM tool_calls WHERE session_id = ?1 ORDER BY id",
    )?;
    for call in stmt.query_map([id], |row| row_object(row, &["is_error"], &["input"]))? {
        let call = call?;
        let owner = call
            .get("request_id")
            .or_else(|| call.get("result_request_id"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        calls.entry(owner).or_default().push(Value::Object(call));
    }
    let mut stmt = conn.prepare(
        "SELECT request_id, started_at, ended_at, endpoint, transport, model, response_model,
                status, outcome, error_type, error_message, stream, message_count, input_tokens,
                output_tokens, cache_read_tokens, cache_creation_tokens, thinking_tokens,
                total_tokens, cost_usd, ttfb_ms, ttft_ms, total_ms, upstream_ms, overhead_us,
                stop_reason, text_preview, tool_call_count, tool_result_count, truncated, redactions
         FROM requests WHERE session_id = ?1 ORDER BY started_at_ms, request_id",
    )?;
    let requests = stmt
        .query_map([id], |row| {
            row_object(row, &["stream", "truncated"], &["redactions"])
        })?
        .map(|request| {
            let mut request = request?;
            let rid = request["request_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let tool_calls = calls.remove(&rid).unwrap_or_default();
            request.insert("tool_calls".into(), Value::Array(tool_calls));
            Ok(Value::Object(request))
        })
        .collect::<Result<Vec<_>>>()?;
    session.insert("requests".into(), Value::Array(requests));
    Ok(Some(session))
}

/// Figures summed over a group of requests (a day, a model) or tool calls.
#[derive(Default)]
struct Group {
    requests: u64,
    errors: u64,
    tokens: [i64; 6],
    /// The sum over priced requests; `None` while none was priced.
    cost: Option<f64>,
    /// Requests with no cost (their model is not in the pricing table).
    unpriced: u64,
    latencies: Vec<f64>,
}

impl Group {
    fn json(mut self) -> Value {
        self.latencies.sort_by(f64::total_cmp);
        let [input, output, cache_read, cache_creation, thinking, total] = self.tokens;
        json!({
            "requests": self.requests,
            "errors": self.errors,
            "tokens": {"input": input, "output": output, "cache_read": cache_read,
                       "cache_creation": cache_creation, "thinking": thinking, "total": total},
            "cost_usd": self.cost,
            "unpriced_requests": self.unpriced,
            "p50_ms": percentile(&self.latencies, 0.50),
            "p95_ms": percentile(&self.latencies, 0.95),
        })
    }
}

/// Nearest-rank percentile of sorted values; `null` for none.
fn percentile(sorted: &[f64], p: f64) -> Value {
    if sorted.is_empty() {
        return Value::Null;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    json!(sorted[rank - 1])
}

/// `GET /stats`: requests since `since_ms`, in total and by day (UTC) and model; tool calls by
/// name (count, errors, p50/p95 of the time the client took to run them).
pub(super) fn stats(conn: &Connection, since_ms: i64) -> Result<Value> {
    let mut total = Group::default();
    let mut by_day: BTreeMap<String, Group> = BTreeMap::new();
    let mut by_model: BTreeMap<String, Group> = BTreeMap::new();
    let mut stmt = conn.prepare(
        "SELECT substr(started_at, 1, 10), COALESCE(model, response_model, 'unknown'),
                outcome NOT IN ('ok', 'client_disconnected'), input_tokens, output_tokens,
                cache_read_tokens, cache_creation_tokens, thinking_tokens, total_tokens,
                cost_usd, total_ms
         FROM requests WHERE started_at_ms >= ?1",
    )?;
    let mut rows = stmt.query([since_ms])?;
    while let Some(row) = rows.next()? {
        let day: String = row.get(0)?;
        let model: String = row.get(1)?;
        let failed: bool = row.get(2)?;
        let mut tokens = [0i64; 6];
        for (i, t) in tokens.iter_mut().enumerate() {
            *t = row.get(3 + i)?;
        }
        let (cost, latency): (Option<f64>, f64) = (row.get(9)?, row.get(10)?);
        for group in [
            &mut total,
            by_day.entry(day).or_default(),
            by_model.entry(model).or_default(),
        ] {
            group.requests += 1;
            group.errors += u64::from(failed);
            for (sum, t) in group.tokens.iter_mut().zip(tokens) {
                *sum += t;
            }
            match cost {
                Some(cost) => group.cost = Some(group.cost.unwrap_or(0.0) + cost),
                None => group.unpriced += 1,
            }
            group.latencies.push(latency);
        }
    }
    let mut by_tool: BTreeMap<String, Group> = BTreeMap::new();
    let mut stmt = conn.prepare(
        "SELECT COALESCE(name, 'unknown'), duration_ms, COALESCE(is_error, 0) FROM tool_calls
         WHERE COALESCE(requested_at_ms, completed_at_ms) >= ?1",
    )?;
    let mut rows = stmt.query([since_ms])?;
    while let Some(row) = rows.next()? {
        let group = by_tool.entry(row.get(0)?).or_default();
        group.requests += 1;
        group.errors += u64::from(row.get::<_, bool>(2)?);
        if let Some(ms) = row.get::<_, Option<f64>>(1)? {
            group.latencies.push(ms);
        }
    }
    let map = |groups: BTreeMap<String, Group>| -> Map<String, Value> {
        groups.into_iter().map(|(k, g)| (k, g.json())).collect()
    };
    let tools: Map<String, Value> = by_tool
        .into_iter()
        .map(|(name, mut g)| {
            g.latencies.sort_by(f64::total_cmp);
            let value = json!({
                "calls": g.requests,
                "errors": g.errors,
                "p50_ms": percentile(&g.latencies, 0.50),
                "p95_ms": percentile(&g.latencies, 0.95),
            });
            (name, value)
        })
        .collect();
    Ok(json!({
        "since": crate::recording::clock::rfc3339(since_ms),
        "total": total.json(),
        "by_day": map(by_day),
        "by_model": map(by_model),
        "by_tool": tools,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_are_escaped_html() {
        let raw =
            "xsstoken <img src=x onerror=alert(1)> </mark> & \"q\" 'a' \u{E000}hit\u{E001} tail";
        assert_eq!(
            snippet_html(raw),
            "xsstoken &lt;img src=x onerror=alert(1)&gt; &lt;/mark&gt; &amp; &quot;q&quot; &#39;a&#39; <mark>hit</mark> tail"
        );
        // Marker characters recorded in the text cannot unbalance the marks.
        assert_eq!(
            snippet_html("\u{E001}a\u{E000}b\u{E000}c"),
            "a<mark>bc</mark>"
        );
    }
}
