//! [recording] The session search API on the proxy port, read from the SQLite store (and, for raw
//! bodies, the JSONL files):
//! - `GET /sessions?...` filters, sorts and pages sessions (`params` lists the parameters);
//! - `GET /sessions/{id}` one session with its requests, their messages and tool calls;
//! - `GET /sessions/{id}/requests/{request_id}` one request and response exactly as sent;
//! - `GET /stats?days=N` totals by day, model and tool.
//!
//! Who may call these is decided before this module runs (`access::check_sessions`). Each call
//! opens its own read-only connection on a blocking thread (SQLite is synchronous; WAL lets it
//! read while the writer writes), so the async workers never wait on the disk.

mod params;
mod query;

use crate::body::{self, Body};
use crate::config::{expand_home, Config};
use crate::error::ProxyError;
use crate::state::AppState;
use http::{header, HeaderValue, Response, Uri};
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

/// What a path asks for.
enum Ask<'a> {
    List,
    Session(&'a str),
    Raw(&'a str, &'a str),
    Stats,
}

fn parse_path(path: &str) -> Option<Ask<'_>> {
    if path == "/stats" {
        return Some(Ask::Stats);
    }
    let rest = path.strip_prefix("/sessions")?;
    if !rest.is_empty() && !rest.starts_with('/') {
        return None;
    }
    let parts: Vec<&str> = rest.split('/').skip(1).collect();
    match parts.as_slice() {
        [] | [""] => Some(Ask::List),
        [id] if !id.is_empty() => Some(Ask::Session(id)),
        [id, "requests", rid] if !id.is_empty() && !rid.is_empty() => Some(Ask::Raw(id, rid)),
        _ => None,
    }
}

/// Answers a search API request (a `GET` the router has already let through `access`).
pub(crate) async fn handle(state: &AppState, uri: &Uri) -> Result<Response<Body>, ProxyError> {
    let not_found = || ProxyError::NotFound {
        method: "GET".into(),
        path: uri.path().to_string(),
    };
    let config = &state.config;
    let rec = &config.session_recording;
    if !rec.enabled || !rec.sqlite.enabled {
        return Err(ProxyError::FeatureDisabled(
            "session search needs session_recording.enabled and session_recording.sqlite.enabled"
                .into(),
        ));
    }
    let db = expand_home(&rec.sqlite.path);
    let ask = parse_path(uri.path()).ok_or_else(not_found)?;
    let now = params::now_ms();
    let value = match ask {
        Ask::List => {
            let q =
                params::SessionQuery::parse(uri.query(), now).map_err(ProxyError::BadRequest)?;
            read(db, move |conn| query::list_sessions(conn, &q)).await?
        }
        Ask::Stats => {
            let since = params::stats_since(uri.query(), now).map_err(ProxyError::BadRequest)?;
            read(db, move |conn| query::stats(conn, since)).await?
        }
        Ask::Session(id) => {
            params::no_parameters(uri.query()).map_err(ProxyError::BadRequest)?;
            let owned = id.to_string();
            let session = read(db, move |conn| query::session_detail(conn, &owned)).await?;
            let mut session =
                session.ok_or_else(|| ProxyError::Missing(format!("no session `{id}`")))?;
            attach_messages(config, id, &mut session).await;
            Value::Object(session)
        }
        Ask::Raw(id, rid) => {
            params::no_parameters(uri.query()).map_err(ProxyError::BadRequest)?;
            raw_exchange(config, id, rid).await?.ok_or_else(|| {
                ProxyError::Missing(format!("no request `{rid}` in session `{id}`"))
            })?
        }
    };
    Ok(json_response(&value))
}

/// Runs `f` on a fresh read-only connection, on a blocking thread.
async fn read<T: Send + 'static>(
    db: PathBuf,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
) -> Result<T, ProxyError> {
    let task = tokio::task::spawn_blocking(move || {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&db, flags)
            .map_err(|e| format!("opening {}: {e}", db.display()))?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        f(&conn).map_err(|e| format!("reading {}: {e}", db.display()))
    });
    let detail = match task.await {
        Ok(Ok(value)) => return Ok(value),
        Ok(Err(e)) => e,
        Err(e) => format!("search task failed: {e}"),
    };
    // The detail (file paths, SQLite's message) goes to the log only, never to the client.
    tracing::warn!("session search: {detail}");
    Err(ProxyError::Internal(
        "the session store could not be read (details in LunaRoute's log)".into(),
    ))
}

/// The session's requests as exported from JSONL (`recording::export`), when JSONL is on;
/// `None` when it is off or holds nothing for the session.
async fn exported(config: &Config, session_id: &str) -> Option<Vec<Value>> {
    let jsonl = &config.session_recording.jsonl;
    if !jsonl.enabled {
        return None;
    }
    let dir = expand_home(&jsonl.directory);
    let id = session_id.to_string();
    let lines = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        super::export::export_session(&dir, &id, &mut out).ok()?;
        Some(
            out.split(|&b| b == b'\n')
                .filter_map(|line| serde_json::from_slice(line).ok())
                .collect::<Vec<Value>>(),
        )
    });
    lines.await.ok().flatten()
}

/// Adds each request's assembled `message` (from JSONL) to the session detail.
async fn attach_messages(config: &Config, id: &str, session: &mut serde_json::Map<String, Value>) {
    let Some(lines) = exported(config, id).await else {
        return;
    };
    if let Some(Value::Array(requests)) = session.get_mut("requests") {
        for request in requests {
            let message = lines
                .iter()
                .find(|l| l["request_id"] == request["request_id"])
                .map(|l| l["message"].clone());
            if let (Some(message), Some(obj)) = (message, request.as_object_mut()) {
                obj.insert("message".into(), message);
            }
        }
    }
}

/// One exchange as `sessions export` prints it: headers and exact bodies of both sides.
async fn raw_exchange(config: &Config, id: &str, rid: &str) -> Result<Option<Value>, ProxyError> {
    if !config.session_recording.jsonl.enabled {
        return Err(ProxyError::FeatureDisabled(
            "raw bodies are read from JSONL: session_recording.jsonl.enabled is off".into(),
        ));
    }
    let lines = exported(config, id).await.unwrap_or_default();
    Ok(lines.into_iter().find(|l| l["request_id"] == rid))
}

fn json_response(value: &Value) -> Response<Body> {
    let mut response = Response::new(body::json(value));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn store_errors_do_not_reveal_paths() {
        let db = std::env::temp_dir().join("lunaroute-no-such-dir/secret-name/sessions.db");
        let err = read(db, |_| Ok(())).await.unwrap_err();
        assert!(matches!(err, ProxyError::Internal(_)), "{err}");
        let shown = err.to_string();
        assert!(
            !shown.contains("secret-name") && !shown.contains("lunaroute-no-such-dir"),
            "{shown}"
        );
    }

    #[test]
    fn paths() {
        assert!(matches!(parse_path("/sessions"), Some(Ask::List)));
        assert!(matches!(parse_path("/sessions/"), Some(Ask::List)));
        assert!(matches!(
            parse_path("/sessions/abc"),
            Some(Ask::Session("abc"))
        ));
        assert!(matches!(
            parse_path("/sessions/a/requests/r"),
            Some(Ask::Raw("a", "r"))
        ));
        assert!(matches!(parse_path("/stats"), Some(Ask::Stats)));
        for none in [
            "/sessions/a/b",
            "/sessions/a/requests/",
            "/sessionsx",
            "/sessions//x",
        ] {
            assert!(parse_path(none).is_none(), "{none}");
        }
    }
}
