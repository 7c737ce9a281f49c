//! The search API over 10,000 recorded sessions (issue 4: answers in under 50 ms). The database is
//! made the way the proxy makes it (the real migrations run when `AppState` starts the recorder),
//! then filled through SQL: 10,000 sessions over 30 days, 3 indexed requests each (~60 words of
//! text apiece), 2 tool calls each. Then the in-process server answers `GET /sessions` queries over
//! HTTP on 127.0.0.1 and each is timed end to end (client included); prints p50 and p95.
//!
//! `cargo bench --bench search` (about half a minute, most of it filling the database).

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use lunaroute::config::Config;
use lunaroute::state::AppState;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SESSIONS: usize = 10_000;
const RUNS: usize = 60;
const DAY_MS: i64 = 86_400_000;

/// A small deterministic generator (no rand dependency).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn fill(db: &std::path::Path) {
    let mut conn = rusqlite::Connection::open(db).expect("open the bench database");
    let tx = conn.transaction().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut rng = Lcg(7);
    let models = [
        "claude-sonnet-4-6",
        "claude-haiku-4-5",
        "gpt-5.4-mini",
        "claude-opus-4-1",
    ];
    let tools = ["Read", "Edit", "Bash", "Grep", "get_weather"];
    for s in 0..SESSIONS {
        let id = format!("session-{s:05}");
        let start = now - (rng.next() as i64 % (30 * DAY_MS));
        let model = models[s % models.len()];
        let tokens = (rng.next() % 200_000) as i64;
        tx.execute(
            "INSERT INTO sessions (id, client, provider, started_at, started_at_ms, last_seen_at,
                 last_seen_at_ms, model_used, models, request_count, error_count, success,
                 total_tokens, cost_usd, tool_call_count, total_duration_ms)
             VALUES (?1, 'claude-code', 'anthropic', '', ?2, '', ?3, ?4, json_array(?4), 3, ?5,
                     ?6, ?7, ?8, 2, ?9)",
            rusqlite::params![
                id,
                start,
                start + 60_000,
                model,
                (s % 17 == 0) as i64,
                (s % 17 != 0) as i64,
                tokens,
                tokens as f64 * 3e-6,
                (rng.next() % 90_000) as f64
            ],
        )
        .unwrap();
        for r in 0..3 {
            let words: Vec<String> = (0..60).map(|_| format!("w{}", rng.next() % 5000)).collect();
            let mut text = words.join(" ");
            if s % 1000 == 0 && r == 2 {
                text.push_str(" TypeError: cannot read properties of undefined");
            }
            tx.execute(
                "INSERT INTO requests_fts (session_id, request_id, content) VALUES (?1, ?2, ?3)",
                rusqlite::params![id, format!("{id}-{r}"), text],
            )
            .unwrap();
        }
        for t in 0..2 {
            tx.execute(
                "INSERT INTO tool_calls (session_id, tool_use_id, name, requested_at_ms, duration_ms)
                 VALUES (?1, ?2, ?3, ?4, 120.0)",
                rusqlite::params![id, format!("t{t}"), tools[(s + t) % tools.len()], start],
            )
            .unwrap();
        }
    }
    tx.commit().unwrap();
}

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, Bytes) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get(path)
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(req).await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.into_body().collect().await.unwrap().to_bytes(),
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("lunaroute-bench-search-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut config = Config::default();
    let rec = &mut config.session_recording;
    rec.jsonl.enabled = false;
    rec.sqlite.path = dir.join("sessions.db").display().to_string();
    let state = AppState::new(config).expect("bench config is valid");
    let filling = Instant::now();
    fill(&dir.join("sessions.db"));
    println!(
        "filled {SESSIONS} sessions in {:.1} s",
        filling.elapsed().as_secs_f64()
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(lunaroute::server::run(vec![listener], state, async {
        let _ = stopped.await;
    }));
    let queries = [
        "/sessions",
        "/sessions?text_search=TypeError",
        "/sessions?text_search=w42+w4242",
        "/sessions?model=claude-haiku-4-5&days=7",
        "/sessions?sort=tokens&min_total_tokens=100000",
        "/sessions?tool=get_weather&success=false",
        "/sessions?sort=cost&offset=5000&limit=100",
    ];
    let runs = if std::env::args().any(|a| a == "--bench") {
        RUNS
    } else {
        3
    };
    println!(
        "{:<50} {:>9} {:>9} {:>7}",
        "query", "p50 ms", "p95 ms", "total"
    );
    for query in queries {
        let mut times = Vec::with_capacity(runs);
        let mut total = String::new();
        for _ in 0..runs {
            let started = Instant::now();
            let (status, body) = get(addr, query).await;
            times.push(started.elapsed());
            assert_eq!(status, 200, "{query}: {}", String::from_utf8_lossy(&body));
            let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
            total = value["total"].to_string();
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{query:<50} {:>9.2} {:>9.2} {total:>7}",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.95))
        );
    }
    let _ = stop.send(());
    let _ = server.await;
    let _ = std::fs::remove_dir_all(&dir);
}
