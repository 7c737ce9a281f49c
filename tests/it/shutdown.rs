//! Shutdown of the real binary: a WebSocket relay gets the grace period like any HTTP request, and a
//! second Ctrl-C quits at once instead of waiting it out. (What the recorder makes of requests cut
//! when the grace period runs out is in `recording/shutdown.rs`.)

use crate::support::process::{server, sigint, sigterm, start, Guard, TempHome};
use crate::support::*;
use futures_util::{SinkExt, StreamExt};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// The binary with both providers at `mock`, recording off, and these variables on top.
fn start_server(
    home: &TempHome,
    mock: &MockHandle,
    env: &[(&str, &str)],
) -> (Guard, std::net::SocketAddr, Stderr) {
    let mut cmd = server(home);
    cmd.args(["--port", "0"])
        .env("LUNAROUTE_HOST", "127.0.0.1")
        .env("LUNAROUTE_ENABLE_SESSION_RECORDING", "false")
        .env("LUNAROUTE_ANTHROPIC_BASE_URL", mock.url())
        .env("LUNAROUTE_OPENAI_BASE_URL", format!("{}/v1", mock.url()))
        .envs(env.iter().copied());
    let (guard, addr, seen, lines) = start(&mut cmd);
    let addr = addr.parse().expect("listening address");
    (guard, addr, Stderr { seen, lines })
}

/// The server's stderr lines, with bounded waits.
struct Stderr {
    seen: Vec<String>,
    lines: mpsc::Receiver<String>,
}

impl Stderr {
    /// The first line (seen already or arriving within `within`) containing every one of `parts`.
    fn wait_for(&mut self, within: Duration, parts: &[&str]) -> Option<String> {
        let hit = |l: &String| parts.iter().all(|p| l.contains(p));
        self.seen.extend(self.lines.try_iter());
        if let Some(line) = self.seen.iter().find(|l| hit(l)) {
            return Some(line.clone());
        }
        let deadline = Instant::now() + within;
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line);
            if self.seen.last().is_some_and(hit) {
                return self.seen.last().cloned();
            }
        }
        None
    }

    fn text(&mut self) -> String {
        self.seen.extend(self.lines.try_iter());
        self.seen.join("\n")
    }
}

/// Ctrl-C with a stream open: the log says how many connections are open and that a second Ctrl-C
/// quits; the second one does, at once (exit 130), instead of waiting out the 30 s grace period.
#[test]
fn a_second_ctrl_c_quits_at_once() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sse = fixture("anthropic/messages_text.sse");
    let first_event = sse.split(|b| *b == b'\n').next().unwrap().len() + 1;
    let mock = runtime.block_on(
        MockUpstream::new()
            .route(
                "/v1/messages",
                Reply::sse(bytes::Bytes::new())
                    .body(Body::StallAfter(vec![sse.slice(..first_event)])),
            )
            .start(),
    );
    let home = TempHome::new();
    let (mut guard, addr, mut log) = start_server(&home, &mock, &[]);

    // A stream that will not end by itself: the provider went quiet after its first bytes.
    let response = runtime.block_on(send(
        addr,
        post_json(
            "/v1/messages",
            r#"{"stream":true}"#,
            &[("x-api-key", "sk-ant-test")],
        ),
    ));
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    runtime
        .block_on(next_data(&mut body, Duration::from_secs(5)))
        .expect("the first bytes");

    sigint(&mut guard);
    let line = log.wait_for(Duration::from_secs(10), &["shutting down"]);
    let line = line.unwrap_or_else(|| panic!("no shutdown line:\n{}", log.text()));
    assert!(
        line.contains("1 connection open") && line.contains("Ctrl-C again"),
        "the shutdown line counts the open connection and tells how to quit: {line}"
    );
    assert!(
        guard.child().try_wait().unwrap().is_none(),
        "still draining after the first Ctrl-C"
    );

    let second = Instant::now();
    sigint(&mut guard);
    let status = guard.wait_exit(Duration::from_secs(5));
    let took = second.elapsed();
    assert_eq!(status.code(), Some(130), "{}", log.text());
    assert!(took < Duration::from_secs(3), "took {took:?} to quit");
    assert!(
        log.wait_for(Duration::from_secs(2), &["second signal"])
            .is_some(),
        "one line says why it quit:\n{}",
        log.text()
    );
}

/// SIGTERM with a Codex WebSocket open: the relay keeps working through the grace period (a turn
/// started after the signal still gets its whole answer), and once the client closes it the
/// server exits at once, without waiting out the grace period.
#[test]
fn sigterm_gives_a_websocket_the_grace_period() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sse = fixture("openai/responses_text.sse");
    let events: Vec<String> = std::str::from_utf8(&sse)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(str::to_string)
        .collect();
    let reply = Reply::json("").body(Body::websocket(events.clone()));
    let mock = runtime.block_on(MockUpstream::new().route("/v1/responses", reply).start());
    let home = TempHome::new();
    let (mut guard, addr, mut log) = start_server(&home, &mock, &[]);

    let mut request = format!("ws://{addr}/v1/responses")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", "Bearer sk-codex".parse().unwrap());
    let (mut ws, _) = runtime
        .block_on(tokio_tungstenite::connect_async(request))
        .expect("handshake");
    let turn = |ws: &mut tokio_tungstenite::WebSocketStream<_>| -> Result<usize, String> {
        runtime.block_on(async {
            let create = r#"{"type":"response.create","model":"gpt-5.4-mini","input":[]}"#;
            ws.send(Message::text(create))
                .await
                .map_err(|e| format!("send: {e}"))?;
            let mut got = 0;
            while got < events.len() {
                match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
                    Ok(Some(Ok(Message::Text(_)))) => got += 1,
                    Ok(Some(Ok(_))) => {}
                    other => return Err(format!("after {got} frames: {other:?}")),
                }
            }
            Ok(got)
        })
    };
    assert_eq!(turn(&mut ws), Ok(events.len()), "a turn before SIGTERM");

    sigterm(&mut guard);
    let line = log.wait_for(Duration::from_secs(10), &["shutting down"]);
    let line = line.unwrap_or_else(|| panic!("no shutdown line:\n{}", log.text()));
    assert!(
        line.contains("1 WebSocket open"),
        "the shutdown line counts the WebSocket: {line}"
    );
    // Well into the grace period (a server that ignored the relay would be long gone), the
    // WebSocket still carries a whole turn.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        guard.child().try_wait().unwrap().is_none(),
        "the server waits while the WebSocket is open:\n{}",
        log.text()
    );
    assert_eq!(
        turn(&mut ws),
        Ok(events.len()),
        "a turn during the grace period:\n{}",
        log.text()
    );

    let closed = Instant::now();
    runtime.block_on(async {
        ws.close(None).await.expect("close");
        drop(ws);
    });
    let status = guard.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{}", log.text());
    assert!(
        closed.elapsed() < Duration::from_secs(5),
        "exit {:?} after the close, not at the end of the 30 s grace period",
        closed.elapsed()
    );
}
