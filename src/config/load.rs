//! Builds a validated `Config` from its layers: defaults < TOML file < `LUNAROUTE_*` environment <
//! command-line flags. A bad file, key, type or `${VAR}` stops startup with a `StartupError` naming it;
//! nothing falls back to defaults silently.

use super::{expand_home, Config, Dialect};
use crate::error::StartupError;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use std::path::PathBuf;

/// What the command line may override (the last layer).
#[derive(Debug, Default, Clone)]
pub struct CliOverrides {
    pub config: Option<PathBuf>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub dialect: Option<String>,
    pub log_level: Option<String>,
}

/// A validated config plus what startup should tell the user about how it was made.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    /// The TOML file that was read, if any.
    pub file: Option<PathBuf>,
    /// Top-level sections the user set explicitly (file or env), e.g. to warn about compiled-out features.
    pub explicit_sections: Vec<String>,
    /// `LUNAROUTE_*` variables that matched nothing we know; warned about, never fatal.
    pub ignored_env: Vec<String>,
}

/// The documented flat environment names and the key each one sets.
const ENV_TABLE: &[(&str, &str)] = &[
    ("HOST", "host"),
    ("PORT", "port"),
    ("DIALECT", "api_dialect"),
    ("API_DIALECT", "api_dialect"),
    ("MAX_REQUEST_BODY_BYTES", "max_request_body_bytes"),
    ("SHUTDOWN_GRACE_SECS", "shutdown_grace_secs"),
    ("LOG_LEVEL", "logging.level"),
    ("LOG_REQUESTS", "logging.log_requests"),
    ("ENABLE_SESSION_RECORDING", "session_recording.enabled"),
    ("ENABLE_SQLITE_WRITER", "session_recording.sqlite.enabled"),
    ("SESSIONS_DB_PATH", "session_recording.sqlite.path"),
    ("ENABLE_JSONL_WRITER", "session_recording.jsonl.enabled"),
    ("SESSIONS_DIR", "session_recording.jsonl.directory"),
];

/// Per-provider flat names: `LUNAROUTE_{ANTHROPIC,OPENAI}_<suffix>`.
const PROVIDER_ENV_TABLE: &[(&str, &str)] = &[
    ("ENABLED", "enabled"),
    ("BASE_URL", "base_url"),
    ("API_KEY", "api_key"),
    ("TIMEOUT_SECS", "http_client.timeout_secs"),
    ("CONNECT_TIMEOUT_SECS", "http_client.connect_timeout_secs"),
    ("POOL_MAX_IDLE", "http_client.pool_max_idle_per_host"),
    ("POOL_IDLE_TIMEOUT_SECS", "http_client.pool_idle_timeout_secs"),
    ("TCP_KEEPALIVE_SECS", "http_client.tcp_keepalive_secs"),
];

/// Top-level keys the nested `LUNAROUTE_A__B` form may start with.
const TOP_LEVEL_KEYS: &[&str] = &[
    "host",
    "port",
    "api_dialect",
    "max_request_body_bytes",
    "shutdown_grace_secs",
    "providers",
    "logging",
    "session_recording",
    "ui",
];

/// Maps one environment variable name to the config key it sets, if it is one of ours.
fn env_key(name: &str) -> Option<String> {
    let rest = name.strip_prefix("LUNAROUTE_")?;
    if rest == "CONFIG" {
        return None; // names the file, not a key
    }
    if rest.contains("__") {
        let key = rest.to_ascii_lowercase().replace("__", ".");
        let top = key.split('.').next().unwrap_or_default();
        return TOP_LEVEL_KEYS.contains(&top).then_some(key);
    }
    if let Some((_, key)) = ENV_TABLE.iter().find(|(n, _)| *n == rest) {
        return Some((*key).to_string());
    }
    for provider in ["ANTHROPIC", "OPENAI"] {
        let Some(suffix) = rest.strip_prefix(provider).and_then(|s| s.strip_prefix('_')) else {
            continue;
        };
        if let Some((_, key)) = PROVIDER_ENV_TABLE.iter().find(|(n, _)| *n == suffix) {
            return Some(format!("providers.{}.{key}", provider.to_ascii_lowercase()));
        }
    }
    None
}

/// The environment layer: only names `env_key` knows, so a stray variable never stops startup.
fn env_provider() -> Env {
    Env::raw().filter_map(|name| env_key(name.as_str()).map(Into::into)).lowercase(false)
}

/// Which file to read: `--config`, else `LUNAROUTE_CONFIG`, else `~/.lunaroute/config.toml` if present.
fn config_file(cli: &CliOverrides) -> Option<PathBuf> {
    if let Some(path) = &cli.config {
        return Some(path.clone());
    }
    if let Some(path) = std::env::var_os("LUNAROUTE_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let default = expand_home("~/.lunaroute/config.toml");
    default.is_file().then_some(default)
}

pub fn load(cli: &CliOverrides) -> Result<Loaded, StartupError> {
    let file = config_file(cli);
    let mut user = Figment::new();
    if let Some(path) = &file {
        // Figment skips a missing file silently; a file the user named must exist and be readable.
        std::fs::read_to_string(path)
            .map_err(|e| StartupError::new(format!("reading config {}", path.display()), e))?;
        user = user.merge(Toml::file(path));
    }
    user = user.merge(env_provider());
    if let Some(host) = &cli.host {
        user = user.merge(("host", host));
    }
    if let Some(port) = cli.port {
        user = user.merge(("port", port));
    }
    if let Some(dialect) = &cli.dialect {
        user = user.merge(("api_dialect", dialect));
    }
    if let Some(level) = &cli.log_level {
        user = user.merge(("logging.level", level));
    }

    let doing = match &file {
        Some(path) => format!("reading config {}", path.display()),
        None => "reading config (defaults and LUNAROUTE_* environment)".to_string(),
    };
    let figment = Figment::from(Serialized::defaults(Config::default())).merge(user.clone());
    let mut config: Config =
        figment.extract().map_err(|e| StartupError::new(doing.clone(), first_error(e)))?;
    expand_env_refs(&mut config).map_err(|why| StartupError::new(doing.clone(), why))?;
    validate(&config).map_err(|why| StartupError::new(doing, why))?;

    let explicit_sections = ["session_recording", "ui"]
        .iter()
        .filter(|s| user.find_value(s).is_ok())
        .map(|s| s.to_string())
        .collect();
    let ignored_env = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with("LUNAROUTE_") && k != "LUNAROUTE_CONFIG" && env_key(k).is_none())
        .collect();
    Ok(Loaded { config, file, explicit_sections, ignored_env })
}

/// Figment reports every error it found; the first one, with its key and source, is the useful one.
fn first_error(e: figment::Error) -> String {
    let first = e.into_iter().next();
    first.map(|e| e.to_string().replace("\"default.", "\"")).unwrap_or_default()
}

/// Replaces `${NAME}` in `value` from the environment; a missing variable is an error naming it.
pub(crate) fn expand_vars(key: &str, value: &str) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| format!("key `{key}`: unclosed `${{` in value"))?;
        let name = &after[..end];
        let resolved = std::env::var(name).map_err(|_| {
            format!("key `{key}` refers to environment variable `{name}`, which is not set")
        })?;
        out.push_str(&resolved);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn expand_env_refs(config: &mut Config) -> Result<(), String> {
    for (name, provider) in
        [("anthropic", &mut config.providers.anthropic), ("openai", &mut config.providers.openai)]
    {
        if let Some(url) = &provider.base_url {
            provider.base_url = Some(expand_vars(&format!("providers.{name}.base_url"), url)?);
        }
        if let Some(key) = &provider.api_key {
            let expanded = expand_vars(&format!("providers.{name}.api_key"), key.expose())?;
            provider.api_key = Some(super::Secret::new(expanded));
        }
        let auth_key = format!("providers.{name}.codex_auth.auth_file");
        provider.codex_auth.auth_file = expand_vars(&auth_key, &provider.codex_auth.auth_file)?;
    }
    let rec = &mut config.session_recording;
    rec.sqlite.path = expand_vars("session_recording.sqlite.path", &rec.sqlite.path)?;
    rec.jsonl.directory = expand_vars("session_recording.jsonl.directory", &rec.jsonl.directory)?;
    Ok(())
}

/// Checks made once, before binding: after this nothing on the request path re-validates config.
fn validate(config: &Config) -> Result<(), String> {
    if config.max_request_body_bytes == 0 {
        return Err("key `max_request_body_bytes`: must be greater than 0".into());
    }
    tracing_subscriber::EnvFilter::try_new(&config.logging.level).map_err(|e| {
        format!("key `logging.level`: `{}` is not a log level ({e})", config.logging.level)
    })?;
    let providers = [("anthropic", &config.providers.anthropic), ("openai", &config.providers.openai)];
    for (name, provider) in providers {
        if let Some(url) = &provider.base_url {
            check_base_url(url)
                .map_err(|why| format!("key `providers.{name}.base_url`: {why} (got `{url}`)"))?;
        }
        if provider.api_key.as_ref().is_some_and(|k| k.is_empty()) {
            return Err(format!("key `providers.{name}.api_key`: is empty (leave it out to pass the client's key through)"));
        }
        let http = &provider.http_client;
        for (field, value) in
            [("timeout_secs", http.timeout_secs), ("connect_timeout_secs", http.connect_timeout_secs)]
        {
            if value == 0 {
                return Err(format!("key `providers.{name}.http_client.{field}`: must be greater than 0"));
            }
        }
    }
    if config.providers.anthropic.codex_auth.enabled {
        return Err("key `providers.anthropic.codex_auth`: Codex sign-in applies to providers.openai only".into());
    }
    let anthropic_on = config.api_dialect != Dialect::Openai && config.providers.anthropic.enabled;
    let openai_on = config.api_dialect != Dialect::Anthropic && config.providers.openai.enabled;
    if !anthropic_on && !openai_on {
        return Err(format!(
            "key `api_dialect`: `{:?}` with its provider disabled leaves nothing to serve",
            config.api_dialect
        ));
    }
    Ok(())
}

fn check_base_url(url: &str) -> Result<(), String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("not a URL ({e})"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return Err("must start with http:// or https://".into()),
    }
    if uri.authority().is_none() {
        return Err("has no host".into());
    }
    if uri.query().is_some() {
        return Err("must not have a query string".into());
    }
    Ok(())
}
