//! The `LUNAROUTE_*` environment layer. It is an explicit table of the documented names (the flat
//! ones such as `LUNAROUTE_PORT`, plus the nested `LUNAROUTE_A__B` form for any key), so an unrelated
//! `LUNAROUTE_SOMETHING` in a user's shell is reported by `ignored()` and never stops startup.

use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};

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
    ("ENABLE_PII", "session_recording.pii.enabled"),
    ("PII_REDACTION_MODE", "session_recording.pii.redaction_mode"),
    ("PII_HMAC_SECRET", "session_recording.pii.hmac_secret"),
];

/// Per-provider flat names: `LUNAROUTE_{ANTHROPIC,OPENAI}_<suffix>`.
const PROVIDER_ENV_TABLE: &[(&str, &str)] = &[
    ("ENABLED", "enabled"),
    ("BASE_URL", "base_url"),
    ("API_KEY", "api_key"),
    ("TIMEOUT_SECS", "http_client.timeout_secs"),
    ("CONNECT_TIMEOUT_SECS", "http_client.connect_timeout_secs"),
    ("POOL_MAX_IDLE", "http_client.pool_max_idle_per_host"),
    (
        "POOL_IDLE_TIMEOUT_SECS",
        "http_client.pool_idle_timeout_secs",
    ),
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
    "routing",
    "logging",
    "session_recording",
    "ui",
    "sessions",
    "pricing",
];

/// Maps one environment variable name to the config key it sets, if it is one of ours.
pub(super) fn env_key(name: &str) -> Option<String> {
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
        let Some(suffix) = rest
            .strip_prefix(provider)
            .and_then(|s| s.strip_prefix('_'))
        else {
            continue;
        };
        if let Some((_, key)) = PROVIDER_ENV_TABLE.iter().find(|(n, _)| *n == suffix) {
            return Some(format!("providers.{}.{key}", provider.to_ascii_lowercase()));
        }
    }
    None
}

/// The variables that set `key`, e.g. `LUNAROUTE_PORT` for `port`.
pub(super) fn env_names_for(key: &str) -> Vec<String> {
    let mut names: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| env_key(k).as_deref() == Some(key))
        .collect();
    names.sort();
    names
}

pub(super) const ENV_LAYER: &str = "LUNAROUTE_* environment";

/// Keys (by last segment) whose values are text. Figment's `Env` would parse every value as a TOML-ish
/// literal, so `LUNAROUTE_OPENAI_API_KEY=12345` or `LUNAROUTE_SESSIONS_DIR=[x]` failed as "found
/// unsigned int / sequence, expected a string"; these keep the variable's text as it is.
const TEXT_KEYS: &[&str] = &[
    "host",
    "api_dialect",
    "level",
    "base_url",
    "api_key",
    "auth_file",
    "path",
    "directory",
    "redaction_mode",
    "hmac_secret",
];

/// The `LUNAROUTE_*` variables `env_key` knows, in name order (so a duplicate, e.g. `LUNAROUTE_DIALECT`
/// and `LUNAROUTE_API_DIALECT`, resolves the same way every run); a stray variable never stops startup.
pub(super) struct EnvVars;

impl Provider for EnvVars {
    fn metadata(&self) -> Metadata {
        Metadata::named(ENV_LAYER)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut vars: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        vars.sort();
        let mut dict = Dict::new();
        for (name, raw) in vars {
            let Some(key) = env_key(&name) else { continue };
            let last = key.rsplit('.').next().unwrap_or_default();
            let value = if TEXT_KEYS.contains(&last) {
                Value::from(raw)
            } else {
                raw.parse().expect("parsing a figment Value is infallible")
            };
            if let Value::Dict(_, nested) = figment::util::nest(&key, value) {
                merge_into(&mut dict, nested);
            }
        }
        Ok(Profile::Default.collect(dict))
    }
}

/// Deep merge, `add` winning (figment's own `Coalescible` is private).
fn merge_into(dict: &mut Dict, add: Dict) {
    for (key, value) in add {
        match (dict.get_mut(&key), value) {
            (Some(Value::Dict(_, existing)), Value::Dict(_, inner)) => merge_into(existing, inner),
            (_, value) => {
                dict.insert(key, value);
            }
        }
    }
}

/// `LUNAROUTE_*` variables that match nothing we know: warned about at startup, never fatal.
pub(super) fn ignored() -> Vec<String> {
    let mut names: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with("LUNAROUTE_") && k != "LUNAROUTE_CONFIG" && env_key(k).is_none())
        .collect();
    names.sort();
    names
}
