//! `AppState`: what every request shares (config, one upstream per enabled provider, the routing
//! table, the draining flag), built once at startup and handed around as `Arc<AppState>`.

use crate::config::{Config, Dialect};
use crate::error::StartupError;
use crate::features::{pii, Recorder};
use crate::providers::Provider;
use crate::proxy::upstream::Upstream;
use crate::routing::Routes;
use crate::tasks::Tasks;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

pub struct AppState {
    pub config: Config,
    pub(crate) recorder: Recorder,
    /// The PII redactor (`None` when there is nothing to redact), shared with the recorder's
    /// writer; the debug stream view uses it too.
    pub(crate) pii: Option<Arc<pii::Redactor>>,
    /// `pii.apply_to_upstream`: requests are redacted before they are sent (`proxy::redact_upstream`).
    pub(crate) pii_upstream: bool,
    anthropic: Option<Upstream>,
    openai: Option<Upstream>,
    /// Model routing; `None` without `[[routing.rules]]` (then nothing is routed by model).
    routes: Option<Routes>,
    draining: AtomicBool,
    /// Open connections (and their HTTP/2 streams), and relayed WebSockets: what shutdown waits for.
    pub(crate) connections: Tasks,
    pub(crate) websockets: Tasks,
    loopback_only: bool,
    next_request_id: AtomicU64,
}

impl AppState {
    pub fn new(config: Config) -> Result<Arc<Self>, StartupError> {
        let serves =
            |dialect_off: Dialect, enabled: bool| config.api_dialect != dialect_off && enabled;
        let anthropic = if serves(Dialect::Openai, config.providers.anthropic.enabled) {
            Some(Upstream::new(
                Provider::Anthropic,
                Provider::Anthropic.config_key(),
                &config.providers.anthropic,
            )?)
        } else {
            None
        };
        let openai = if serves(Dialect::Anthropic, config.providers.openai.enabled) {
            Some(Upstream::new(
                Provider::OpenAi,
                Provider::OpenAi.config_key(),
                &config.providers.openai,
            )?)
        } else {
            None
        };
        if let Some(auth) = openai.as_ref().and_then(|u| u.codex_auth.as_ref()) {
            if let Err(why) = auth.tokens() {
                tracing::warn!("codex_auth is enabled but {why}; OpenAI requests without their own key will get 401");
            }
        }
        crate::metrics::install();
        let pii = pii::build(&config)?;
        let recorder = Recorder::start(&config, pii.clone())?;
        let pii_upstream = pii.is_some() && config.session_recording.pii.apply_to_upstream;
        // After `install`: the breakers export their state from the start.
        let routes = Routes::new(&config)?;
        let loopback_only = crate::access::listens_on_loopback(&config.host);
        Ok(Arc::new(Self {
            recorder,
            pii,
            pii_upstream,
            config,
            anthropic,
            openai,
            routes,
            draining: AtomicBool::new(false),
            connections: Tasks::default(),
            websockets: Tasks::default(),
            loopback_only,
            next_request_id: AtomicU64::new(1),
        }))
    }

    /// The upstream for `provider`, or `None` when its dialect or provider is switched off.
    pub(crate) fn upstream(&self, provider: Provider) -> Option<&Upstream> {
        match provider {
            Provider::Anthropic => self.anthropic.as_ref(),
            Provider::OpenAi => self.openai.as_ref(),
        }
    }

    pub(crate) fn routes(&self) -> Option<&Routes> {
        self.routes.as_ref()
    }

    /// `text` as a log line may carry it: redacted when PII redaction is configured. An error can
    /// quote what the provider said, and that may quote the user.
    pub(crate) fn loggable(&self, text: String) -> String {
        match &self.pii {
            // Not counted: the recorder counts the values it replaces in what it stores.
            Some(pii) => pii.text(&text, &mut pii::Counts::default()).into_owned(),
            None => text,
        }
    }

    /// The only provider served when just one dialect is on (ambiguous paths go to it).
    pub(crate) fn sole_provider(&self) -> Option<Provider> {
        match (&self.anthropic, &self.openai) {
            (Some(_), None) => Some(Provider::Anthropic),
            (None, Some(_)) => Some(Provider::OpenAi),
            _ => None,
        }
    }

    pub(crate) fn next_request_id(&self) -> u64 {
        self.next_request_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether the server listens on loopback only, where foreign `Host` names are refused.
    pub(crate) fn loopback_only(&self) -> bool {
        self.loopback_only
    }

    /// Set on SIGINT/SIGTERM: `/readyz` answers 503 from then on.
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// After the server stopped: writes what the recorder still holds and prints the summary.
    pub fn shutdown_recorder(&self) {
        self.recorder.shutdown();
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}
