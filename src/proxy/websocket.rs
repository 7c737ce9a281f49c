//! WebSocket relay for the Responses API (Codex's preferred transport): the client's upgrade is
//! replayed to the provider on a dedicated HTTP/1.1 connection (`ws://` or `wss://` from `base_url`),
//! and once both sides have switched protocols the two sockets are piped byte-for-byte until either
//! closes. The handshake key and extensions pass through unchanged, so the provider's
//! `sec-websocket-accept` is valid for the client as it is. A refused upgrade is passed back at once
//! (status and body), so Codex falls back to HTTP instead of waiting.

use super::passthrough::{prepare_request_headers, strip_hop_by_hop};
use super::upstream::Upstream;
use super::CUT_AT_SHUTDOWN;
use crate::body::{self, Body, BoxError};
use crate::error::ProxyError;
use crate::features::WsTap;
use crate::state::AppState;
use bytes::{Bytes, BytesMut};
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// A GET that asks to switch to the WebSocket protocol.
pub(crate) fn is_upgrade(req: &Request<Incoming>) -> bool {
    req.method() == http::Method::GET
        && req
            .headers()
            .get(header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub(crate) async fn relay(
    state: &AppState,
    upstream: &Upstream,
    mut req: Request<Incoming>,
) -> Result<Response<Body>, ProxyError> {
    let started = std::time::Instant::now();
    let log = state
        .config
        .logging
        .log_requests
        .then(|| (state.next_request_id(), req.uri().path().to_string()));
    let path = req.uri().path().to_string();
    let client_upgrade = hyper::upgrade::on(&mut req);
    let (mut parts, _empty_body) = req.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let target = upstream
        .base
        .join(upstream.provider, path_and_query)
        .map_err(ProxyError::Internal)?;
    prepare_request_headers(upstream, &mut parts.headers, true)?;
    let authority = upstream.base.authority.clone();
    let host_value = HeaderValue::from_str(authority.as_str())
        .map_err(|e| ProxyError::Internal(format!("upstream host is not a header value: {e}")))?;
    parts.headers.insert(header::HOST, host_value);
    // An HTTP/1.1 connection of our own takes the origin-form target.
    parts.uri = target
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .parse()
        .map_err(|e| ProxyError::Internal(format!("bad upstream path: {e}")))?;
    parts.version = http::Version::HTTP_11;

    let io = connect(upstream).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| unreachable(upstream, &e))?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "websocket upstream connection ended with an error");
        }
    });

    let request_headers = parts.headers.clone();
    let handshake = Request::from_parts(parts, body::empty());
    let mut response = tokio::time::timeout(upstream.timeout, sender.send_request(handshake))
        .await
        .map_err(|_| ProxyError::UpstreamTimeout {
            secs: upstream.timeout.as_secs(),
        })?
        .map_err(|e| unreachable(upstream, &e))?;

    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        let (mut head, body) = response.into_parts();
        strip_hop_by_hop(&mut head.headers, false);
        let body = body.map_err(|e| -> BoxError { Box::new(e) }).boxed();
        return Ok(Response::from_parts(head, body));
    }

    let upstream_upgrade = hyper::upgrade::on(&mut response);
    let provider_name = upstream.provider.name();
    let mut switched = Response::new(body::empty());
    *switched.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    *switched.headers_mut() = response.headers().clone();
    let id = state.next_request_id();
    let tap = state.recorder.ws_open(
        id,
        upstream.provider,
        &path,
        &request_headers,
        response.headers(),
    );
    // Counted, so shutdown waits for the relay within the grace period; past it the relay ends
    // itself on the cut and closes its tap first, so the open turn is still recorded.
    let cut = state.websockets.cut_signal();
    state.websockets.spawn(async move {
        let (client, provider) = match tokio::try_join!(client_upgrade, upstream_upgrade) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "websocket upgrade did not complete");
                return;
            }
        };
        crate::metrics::websocket_opened();
        let (mut client, mut provider) = (TokioIo::new(client), TokioIo::new(provider));
        let relay = async {
            match &tap {
                Some(tap) => relay_observed(client, provider, tap).await,
                None => tokio::io::copy_bidirectional(&mut client, &mut provider).await,
            }
        };
        let result = tokio::select! {
            result = relay => result,
            () = cut => Err(std::io::Error::other(CUT_AT_SHUTDOWN)),
        };
        crate::metrics::websocket_closed();
        if let Some(tap) = &tap {
            tap.close(result.as_ref().err().map(|e| e.to_string()));
        }
        let (up, down, outcome) = match &result {
            Ok((up, down)) => (*up, *down, "closed".to_string()),
            Err(e) => (0, 0, format!("error ({e})")),
        };
        match log {
            Some((id, path)) => tracing::info!(
                target: "lunaroute::request",
                "#{id} GET {path} provider={provider_name} websocket status=101 total_ms={} bytes_up={up} bytes_down={down} outcome={outcome}",
                started.elapsed().as_millis()
            ),
            None => tracing::debug!(bytes_up = up, bytes_down = down, "websocket {outcome}"),
        }
    });
    Ok(switched)
}

/// Copies bytes both ways like `copy_bidirectional`, showing each chunk to the recorder's tap after
/// it was forwarded (one reference-counted clone, no copy). The first error in either direction
/// ends both; a clean EOF is passed on as a shutdown of the other side's write half.
async fn relay_observed<C, P>(client: C, provider: P, tap: &WsTap) -> std::io::Result<(u64, u64)>
where
    C: AsyncRead + AsyncWrite + Unpin,
    P: AsyncRead + AsyncWrite + Unpin,
{
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut provider_read, mut provider_write) = tokio::io::split(provider);
    let up = pump(&mut client_read, &mut provider_write, |b| {
        tap.client_bytes(b)
    });
    let down = pump(&mut provider_read, &mut client_write, |b| {
        tap.server_bytes(b)
    });
    tokio::try_join!(up, down)
}

async fn pump<R, W>(from: &mut R, to: &mut W, observe: impl Fn(&Bytes)) -> std::io::Result<u64>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut total = 0;
    loop {
        buf.reserve(16 * 1024);
        if from.read_buf(&mut buf).await? == 0 {
            to.shutdown().await?;
            return Ok(total);
        }
        let chunk = buf.split().freeze();
        to.write_all(&chunk).await?;
        total += chunk.len() as u64;
        observe(&chunk);
    }
}

/// TCP (and TLS with ALPN http/1.1 for `https` bases) to the provider, within the connect timeout.
async fn connect(upstream: &Upstream) -> Result<Box<dyn Io>, ProxyError> {
    let host = upstream
        .base
        .authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = upstream
        .base
        .authority
        .port_u16()
        .unwrap_or(if upstream.base.is_https() { 443 } else { 80 });
    let tcp = tokio::time::timeout(
        upstream.connect_timeout,
        TcpStream::connect((host.as_str(), port)),
    )
    .await
    .map_err(|_| ProxyError::UpstreamUnreachable(format!("{host}:{port}: connect timed out")))?
    .map_err(|e| ProxyError::UpstreamUnreachable(format!("{host}:{port}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    if !upstream.base.is_https() {
        return Ok(Box::new(tcp));
    }
    let name = rustls::pki_types::ServerName::try_from(host.clone())
        .map_err(|e| ProxyError::UpstreamUnreachable(format!("{host}: {e}")))?;
    let tls = tokio_rustls::TlsConnector::from(upstream.ws_tls.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| ProxyError::UpstreamUnreachable(format!("{host}:{port}: TLS: {e}")))?;
    Ok(Box::new(tls))
}

fn unreachable(upstream: &Upstream, e: &hyper::Error) -> ProxyError {
    ProxyError::UpstreamUnreachable(format!(
        "{}: websocket handshake: {e}",
        upstream.base.authority
    ))
}
