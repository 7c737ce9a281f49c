//! One provider's upstream: its joined base URL, configured credential, pooled hyper-util client
//! (rustls with ring, ALPN h2 + http/1.1, webpki roots) and timeouts. Built once at startup.
//! The connector is wrapped in `Counting`, which feeds `lunaroute_upstream_connections_created_total`.

use crate::body::Body;
use crate::config::{ProviderConfig, Secret};
use crate::error::StartupError;
use crate::providers::codex_auth::CodexAuth;
use crate::providers::{BaseUrl, Provider};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

pub(crate) type HttpClient = Client<Counting<HttpsConnector<HttpConnector>>, Body>;

/// A connector that counts the connections it completes (TCP, and TLS when `https`). The pool only
/// calls the connector when it has no idle connection to hand out, so every call is a new one.
#[derive(Clone)]
pub(crate) struct Counting<C>(C);

type Connecting<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<C> tower_service::Service<http::Uri> for Counting<C>
where
    C: tower_service::Service<http::Uri>,
    C::Future: Send + 'static,
{
    type Response = C::Response;
    type Error = C::Error;
    type Future = Connecting<C::Response, C::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let connecting = self.0.call(uri);
        Box::pin(async move {
            let connection = connecting.await?;
            crate::metrics::connection_created();
            Ok(connection)
        })
    }
}

pub(crate) struct Upstream {
    pub provider: Provider,
    pub base: BaseUrl,
    pub api_key: Option<Secret>,
    pub codex_auth: Option<CodexAuth>,
    pub client: HttpClient,
    /// HTTP/1.1-only TLS settings for WebSocket upgrades (an upgrade cannot ride on h2 here).
    pub ws_tls: Arc<rustls::ClientConfig>,
    /// Silence timeout: waiting for headers, and between body chunks.
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

/// rustls with the ring provider and the webpki root set, built the same way for both uses.
fn tls_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

impl Upstream {
    /// `provider`: the dialect it speaks (credential header, base-URL joins); `name`: its
    /// `[providers.NAME]` key, for error messages.
    pub fn new(provider: Provider, name: &str, cfg: &ProviderConfig) -> Result<Self, StartupError> {
        let doing = format!("setting up providers.{name}");
        let url = cfg
            .base_url
            .as_deref()
            .unwrap_or(provider.default_base_url());
        let base = BaseUrl::parse(url).map_err(|e| StartupError::new(doing.clone(), e))?;
        let http = &cfg.http_client;
        let connect_timeout = Duration::from_secs(http.connect_timeout_secs);

        let mut connector = HttpConnector::new();
        connector.enforce_http(false);
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(connect_timeout));
        if http.tcp_keepalive_secs > 0 {
            connector.set_keepalive(Some(Duration::from_secs(http.tcp_keepalive_secs)));
        }
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config())
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(connector);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(http.pool_max_idle_per_host)
            // The pool's idle timer only touches idle connections, never in-flight ones (F9).
            .pool_idle_timeout(Duration::from_secs(http.pool_idle_timeout_secs))
            .build(Counting(https));

        let mut ws_tls = tls_config();
        ws_tls.alpn_protocols = vec![b"http/1.1".to_vec()];

        let codex_auth = cfg
            .codex_auth
            .enabled
            .then(|| CodexAuth::new(crate::config::expand_home(&cfg.codex_auth.auth_file)));
        Ok(Self {
            provider,
            base,
            api_key: cfg.api_key.clone(),
            codex_auth,
            client,
            ws_tls: Arc::new(ws_tls),
            timeout: Duration::from_secs(http.timeout_secs),
            connect_timeout,
        })
    }
}
