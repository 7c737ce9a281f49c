//! The configuration tree, its defaults and its validation. `load.rs` builds it from the layers
//! (defaults < TOML < `LUNAROUTE_*` env < flags); everything else only reads a validated `Config`.
//!
//! Sections of features that are compiled out still parse (one file serves every build);
//! `features::warn_compiled_out` tells the user once.

mod env;
mod load;
mod providers;
mod routing;
mod secret;

pub use load::{load, CliOverrides, Loaded};
pub use providers::{MaxTokensField, ProviderType, Providers};
pub use routing::{CircuitBreakerConfig, Fallback, Routing, RoutingRule};
pub use secret::{fingerprint, Secret};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Accepts true/false/1/0/yes/no/on/off (any case), as TOML booleans, integers or strings.
fn flex_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    use serde::de::Error;
    let value = <figment::value::Value as Deserialize>::deserialize(d)?;
    value.to_bool_lossy().ok_or_else(|| {
        D::Error::custom("expected a boolean (true/false, 1/0, yes/no, on/off)".to_string())
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Anthropic,
    Openai,
    Both,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub api_dialect: Dialect,
    /// Larger request bodies get 413 before anything reaches the provider.
    pub max_request_body_bytes: u64,
    /// How long in-flight requests may run on after SIGINT/SIGTERM.
    pub shutdown_grace_secs: u64,
    /// `[providers.anthropic]`, `[providers.openai]` and any other `[providers.NAME]`.
    pub providers: Providers,
    /// `[[routing.rules]]`: which provider serves which model; empty means no routing at all.
    pub routing: Routing,
    pub logging: Logging,
    pub session_recording: SessionRecording,
    pub ui: Ui,
    /// The session search API (`/sessions`, `/stats`).
    pub sessions: Sessions,
    /// Extra or corrected prices for cost estimates, keyed by model-name prefix
    /// (`[pricing."claude-sonnet-4"]` prices `claude-sonnet-4-20250514` too). Empty by default:
    /// the built-in table is in `recording::pricing`.
    pub pricing: BTreeMap<String, PriceConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProviderConfig {
    #[serde(deserialize_with = "flex_bool")]
    pub enabled: bool,
    /// `None` means the provider's public API (see `providers::Provider::default_base_url`).
    pub base_url: Option<String>,
    /// When set, replaces whatever credential the client sent.
    pub api_key: Option<Secret>,
    pub http_client: HttpClientConfig,
    /// OpenAI only: borrow Codex's ChatGPT sign-in from `~/.codex/auth.json`.
    pub codex_auth: CodexAuthConfig,
    /// Which API the provider speaks. Required for a `[providers.NAME]` of your own; inferred
    /// for `anthropic` and `openai` (where `openai-responses` may be chosen instead of `openai`).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<ProviderType>,
    /// Translated requests toward an Anthropic provider that name no output limit get this one
    /// (Anthropic requires `max_tokens`); a rule's own `max_tokens` wins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// Chat Completions providers: the field translated requests carry the output limit in
    /// (`max_completion_tokens` when unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens_field: Option<MaxTokensField>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpClientConfig {
    /// Silence timeout: the longest wait for response headers, and between two body chunks.
    pub timeout_secs: u64,
    pub connect_timeout_secs: u64,
    pub pool_max_idle_per_host: usize,
    pub pool_idle_timeout_secs: u64,
    pub tcp_keepalive_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CodexAuthConfig {
    #[serde(deserialize_with = "flex_bool")]
    pub enabled: bool,
    pub auth_file: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Logging {
    /// error, warn, info, debug or trace (or a tracing filter such as `lunaroute=debug`).
    pub level: String,
    /// One line per request with provider, model, status and timings; at debug level also the
    /// stream view (`recording::debug_view`).
    #[serde(deserialize_with = "flex_bool")]
    pub log_requests: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionRecording {
    #[serde(deserialize_with = "flex_bool")]
    pub enabled: bool,
    /// A request header that names the session, checked before the clients' own ones.
    pub session_id_header: Option<String>,
    /// Memory the recording queue may hold (captured bodies waiting for the writer); past it,
    /// requests are recorded as an explicit gap instead of blocking anything.
    pub queue_budget_mb: u64,
    pub sqlite: SqliteConfig,
    pub jsonl: JsonlConfig,
    /// PII and secret redaction of everything the recorder persists (needs the `pii` feature).
    pub pii: PiiConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SqliteConfig {
    #[serde(deserialize_with = "flex_bool")]
    pub enabled: bool,
    pub path: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JsonlConfig {
    #[serde(deserialize_with = "flex_bool")]
    pub enabled: bool,
    pub directory: String,
    pub retention: RetentionConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    pub max_age_days: Option<u64>,
    pub max_size_mb: Option<u64>,
    pub compress_after_days: Option<u64>,
    pub cleanup_interval_minutes: u64,
}

/// `[session_recording.pii]`: what is redacted from recordings (and optionally from requests
/// before they reach the provider), and how. Parsed in every build; used only with feature `pii`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PiiConfig {
    /// Personal data detection; secrets are redacted anyway (see `redact_secrets`).
    #[serde(deserialize_with = "flex_bool")]
    pub enabled: bool,
    #[serde(deserialize_with = "flex_bool")]
    pub detect_email: bool,
    #[serde(deserialize_with = "flex_bool")]
    pub detect_phone: bool,
    #[serde(deserialize_with = "flex_bool")]
    pub detect_ssn: bool,
    /// Luhn-checked card numbers.
    #[serde(deserialize_with = "flex_bool")]
    pub detect_credit_card: bool,
    /// IPv4 and IPv6 (compressed forms too).
    #[serde(deserialize_with = "flex_bool")]
    pub detect_ip: bool,
    pub custom_patterns: Vec<CustomPattern>,
    pub redaction_mode: RedactionMode,
    /// Partial mode: how many trailing characters stay visible.
    pub partial_show_chars: usize,
    /// Tokenize mode key material; unset, a random key is kept in `~/.lunaroute/pii.key`.
    pub hmac_secret: Option<Secret>,
    /// API keys, tokens and private keys are redacted even when `enabled` is false.
    #[serde(deserialize_with = "flex_bool")]
    pub redact_secrets: bool,
    /// Also redact user content in requests before they reach the provider.
    #[serde(deserialize_with = "flex_bool")]
    pub apply_to_upstream: bool,
}

/// One user-defined detector: a regular expression and the kind name it reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomPattern {
    /// The kind: `[<NAME uppercased>]` in mask mode, the metrics label, the `redactions` key.
    pub name: String,
    /// A Rust `regex` expression.
    pub pattern: String,
    /// Replaces the default `[<NAME>]` in mask mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RedactionMode {
    /// `[EMAIL]`, `[PHONE]`, ...
    #[default]
    Mask,
    /// The value is dropped.
    Remove,
    /// `[EMAIL:a3f8e9d2]`: deterministic per value, reversible with `pii reveal` and the key.
    Tokenize,
    /// All but the last `partial_show_chars` characters become `*`.
    Partial,
}

/// USD per million tokens for one model-name prefix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceConfig {
    pub input: f64,
    pub output: f64,
    /// Writing the prompt cache (Anthropic `cache_creation_input_tokens`); defaults to `input`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<f64>,
    /// Reading the prompt cache (Anthropic `cache_read_input_tokens`, OpenAI `cached_tokens`);
    /// defaults to `input`, so a missing figure never under-states the cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Sessions {
    /// Required as `Authorization: Bearer <token>` when the proxy listens on a non-loopback
    /// address; unset there, the search API is off. Not needed on loopback.
    pub api_token: Option<Secret>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ui {
    #[serde(deserialize_with = "flex_bool")]
    pub enabled: bool,
}

// === defaults (config.example.toml documents the same values) ===

impl Default for Config {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8081,
            api_dialect: Dialect::Both,
            max_request_body_bytes: 64 * 1024 * 1024,
            shutdown_grace_secs: 30,
            providers: Providers::default(),
            routing: Routing::default(),
            logging: Logging::default(),
            session_recording: SessionRecording::default(),
            ui: Ui::default(),
            sessions: Sessions::default(),
            pricing: BTreeMap::new(),
        }
    }
}

impl Default for ProviderConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            base_url: None,
            api_key: None,
            http_client: HttpClientConfig::default(),
            codex_auth: CodexAuthConfig::default(),
            kind: None,
            max_tokens: None,
            max_tokens_field: None,
        }
    }
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        Self {
            timeout_secs: 600,
            connect_timeout_secs: 10,
            pool_max_idle_per_host: 32,
            pool_idle_timeout_secs: 90,
            tcp_keepalive_secs: 60,
        }
    }
}

impl Default for CodexAuthConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            auth_file: "~/.codex/auth.json".into(),
        }
    }
}

impl Default for Logging {
    fn default() -> Self {
        Self {
            level: "info".into(),
            log_requests: false,
        }
    }
}

impl Default for SessionRecording {
    fn default() -> Self {
        Self {
            enabled: true,
            session_id_header: None,
            queue_budget_mb: 256,
            sqlite: SqliteConfig::default(),
            jsonl: JsonlConfig::default(),
            pii: PiiConfig::default(),
        }
    }
}

impl Default for PiiConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            detect_email: true,
            detect_phone: true,
            detect_ssn: true,
            detect_credit_card: true,
            detect_ip: true,
            custom_patterns: Vec::new(),
            redaction_mode: RedactionMode::Mask,
            partial_show_chars: 4,
            hmac_secret: None,
            redact_secrets: true,
            apply_to_upstream: false,
        }
    }
}

impl Default for SqliteConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            path: "~/.lunaroute/sessions.db".into(),
        }
    }
}

impl Default for JsonlConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            directory: "~/.lunaroute/sessions".into(),
            retention: RetentionConfig::default(),
        }
    }
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            max_age_days: None,
            max_size_mb: None,
            compress_after_days: None,
            cleanup_interval_minutes: 60,
        }
    }
}

impl Default for Ui {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// `~/x` → `$HOME/x`; anything else unchanged.
pub fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}
