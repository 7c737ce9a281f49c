//! Accepting connections: `bind` opens the listeners (both loopback addresses when the host is
//! local, since `localhost` may resolve to `::1` first), `run` serves them until `shutdown` resolves,
//! then stops accepting, lets in-flight requests and WebSocket relays finish within the grace period,
//! cuts whatever is left (so its requests are still recorded) and shuts the recorder down.

use crate::error::StartupError;
use crate::router;
use crate::state::AppState;
use crate::tasks::TrackedExecutor;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// Binds `host:port`. For `127.0.0.1`/`localhost` it also binds `[::1]` on the same port (best
/// effort: a machine without IPv6 just gets the IPv4 listener).
pub async fn bind(host: &str, port: u16) -> Result<Vec<TcpListener>, StartupError> {
    let local = matches!(host, "localhost" | "127.0.0.1");
    let first: SocketAddr = if local {
        (IpAddr::V4(Ipv4Addr::LOCALHOST), port).into()
    } else {
        let ip: IpAddr = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|e| StartupError::new(format!("parsing host `{host}`"), e))?;
        (ip, port).into()
    };
    let listener = TcpListener::bind(first)
        .await
        .map_err(|e| StartupError::new(format!("binding {first}"), e))?;
    let mut listeners = vec![listener];
    if local {
        let bound = listeners[0].local_addr().map(|a| a.port()).unwrap_or(port);
        match TcpListener::bind((IpAddr::V6(Ipv6Addr::LOCALHOST), bound)).await {
            Ok(v6) => listeners.push(v6),
            Err(e) => tracing::debug!(error = %e, "not listening on [::1]"),
        }
    }
    Ok(listeners)
}

/// Resolves on the first SIGINT or SIGTERM. A second one, while the server drains, exits the
/// process at once (130 after Ctrl-C, 143 after SIGTERM): whoever presses Ctrl-C twice does not
/// want to wait out the grace period.
///
/// The handlers are registered when this is called, not when the future is first polled: call it
/// before announcing the listener, or a supervisor's SIGTERM right after "listening on" meets the
/// default action and kills the process uncleanly (a `--no-default-features` CI run caught this).
pub fn shutdown_signal() -> impl Future<Output = ()> {
    let mut signals = Signals::new();
    async move {
        signals.next().await;
        tokio::spawn(async move {
            let code = signals.next().await;
            tracing::warn!("second signal: exiting now, without waiting for open connections");
            std::process::exit(code);
        });
    }
}

/// SIGINT and SIGTERM, each registered once, so a signal that comes right after the first is not
/// missed between two registrations.
struct Signals {
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Self {
                int: signal(SignalKind::interrupt()).ok(),
                term: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Waits for the next signal; returns the exit code it calls for (128 + its number).
    async fn next(&mut self) -> i32 {
        #[cfg(unix)]
        {
            async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                () = recv(&mut self.int) => 130,
                () = recv(&mut self.term) => 143,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            130
        }
    }
}

/// Serves every listener until `shutdown` resolves, then drains (`drain`) and stops the recorder.
pub async fn run(
    listeners: Vec<TcpListener>,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) {
    for addr in listeners.iter().filter_map(|l| l.local_addr().ok()) {
        tracing::info!(
            "LunaRoute {} listening on http://{addr}",
            env!("CARGO_PKG_VERSION")
        );
    }
    let (tx, mut accepted) = tokio::sync::mpsc::channel::<TcpStream>(64);
    let acceptors: Vec<_> = listeners
        .into_iter()
        .map(|listener| {
            let tx = tx.clone();
            tokio::spawn(async move {
                loop {
                    match listener.accept().await {
                        Ok((stream, _)) => {
                            if tx.send(stream).await.is_err() {
                                return;
                            }
                        }
                        // Out of file descriptors and the like: back off instead of spinning.
                        Err(e) => {
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            })
        })
        .collect();
    drop(tx);

    let connections = &state.connections;
    let builder = auto::Builder::new(TrackedExecutor(connections.clone()));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            Some(stream) = accepted.recv() => {
                // Latency first: SSE events must not wait for Nagle.
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                let service = service_fn(move |req| router::handle(state.clone(), req));
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
                let conn = graceful.watch(conn);
                connections.spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }

    state.set_draining();
    for acceptor in acceptors {
        acceptor.abort();
    }
    drop(accepted);
    drain(&state, graceful).await;
    // Joins the writer thread: off the runtime's worker threads.
    let recorder_state = state.clone();
    let _ = tokio::task::spawn_blocking(move || recorder_state.shutdown_recorder()).await;
}

/// How long cut tasks get to run their drops (a response body's end phase is quick).
const CUT_WAIT: Duration = Duration::from_secs(5);

/// Lets open connections and WebSocket relays finish within `shutdown_grace_secs`, then cuts the
/// rest and waits until they are gone, so every request they carried reaches the recorder (as
/// `upstream_failed`, "cut at shutdown") before it shuts down.
async fn drain(state: &AppState, graceful: GracefulShutdown) {
    let (connections, websockets) = (&state.connections, &state.websockets);
    let grace = Duration::from_secs(state.config.shutdown_grace_secs);
    tracing::info!(
        "shutting down: {} open; waiting up to {} s for them (press Ctrl-C again to quit at once)",
        open(connections.len(), websockets.len()),
        grace.as_secs(),
    );
    let all_done = async {
        tokio::join!(graceful.shutdown(), connections.idle(), websockets.idle());
    };
    if tokio::time::timeout(grace, all_done).await.is_ok() {
        return;
    }
    tracing::warn!(
        "grace period over: cutting {}",
        open(connections.len(), websockets.len())
    );
    connections.cut();
    websockets.cut();
    let all_gone = async {
        tokio::join!(connections.idle(), websockets.idle());
    };
    if tokio::time::timeout(CUT_WAIT, all_gone).await.is_err() {
        tracing::warn!(
            "{} did not stop within {} s of the cut; their requests may be missing from the recording",
            open(connections.len(), websockets.len()),
            CUT_WAIT.as_secs()
        );
    }
}

/// "3 connections and 1 WebSocket", for the shutdown log lines.
fn open(connections: usize, websockets: usize) -> String {
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let connections = plural(connections, "connection");
    match websockets {
        0 => connections,
        n => format!("{connections} and {}", plural(n, "WebSocket")),
    }
}
