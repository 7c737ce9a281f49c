//! Accepting connections: `bind` opens the listeners (both loopback addresses when the host is
//! local, since `localhost` may resolve to `::1` first), `run` serves them until `shutdown` resolves,
//! then stops accepting, lets in-flight requests finish within the grace period and returns.

use crate::error::StartupError;
use crate::router;
use crate::state::AppState;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
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

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Serves every listener until `shutdown` resolves, then drains for `shutdown_grace_secs`.
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

    let builder = auto::Builder::new(TokioExecutor::new());
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
                tokio::spawn(async move {
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
    let grace = Duration::from_secs(state.config.shutdown_grace_secs);
    tracing::info!(
        "shutting down: waiting up to {} s for in-flight requests",
        grace.as_secs()
    );
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("grace period over; closing the remaining connections");
    }
    // Joins the writer thread: off the runtime's worker threads.
    let recorder_state = state.clone();
    let _ = tokio::task::spawn_blocking(move || recorder_state.shutdown_recorder()).await;
}
