//! Builds a validated `Config` from its layers: defaults < TOML file < `LUNAROUTE_*` environment <
//! command-line flags. A bad file, key, type or `${VAR}` stops startup with a `StartupError` naming it;
//! nothing falls back to defaults silently.

use super::env::{self, env_names_for, EnvVars, ENV_LAYER};
use super::{expand_home, Config, Dialect};
use crate::error::StartupError;
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider};
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

/// A layer under a name users recognise in errors. Figment's own names would read
/// `for key "PORT" in environment variable(s)` or `in (&str, &String)`; ours read
/// `for key "port (from LUNAROUTE_PORT)" in LUNAROUTE_* environment` and `in --port flag`.
struct Layer<P> {
    name: String,
    inner: P,
}

impl<P: Provider> Provider for Layer<P> {
    fn metadata(&self) -> Metadata {
        let env = self.name == ENV_LAYER;
        Metadata::named(self.name.clone()).interpolater(move |_: &Profile, keys: &[&str]| {
            let key = keys.join(".");
            match env_names_for(&key) {
                names if env && !names.is_empty() => format!("{key} (from {})", names.join(", ")),
                _ => key,
            }
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        self.inner.data()
    }
}

fn env_provider() -> Layer<EnvVars> {
    Layer {
        name: ENV_LAYER.to_string(),
        inner: EnvVars,
    }
}

/// One command-line flag as a layer of its own, so an error names the flag.
fn flag<V: serde::Serialize>(flag: &str, key: &'static str, value: V) -> Layer<(&'static str, V)> {
    Layer {
        name: format!("--{flag} flag"),
        inner: (key, value),
    }
}

/// ` (from LUNAROUTE_X)` or ` (from --x flag)` when `key` was not set by the defaults or the file,
/// so a validation error does not send the user looking in the wrong place.
fn source_note(figment: &Figment, key: &str) -> String {
    match figment.find_metadata(key) {
        Some(md) if md.name == ENV_LAYER => format!(" (from {})", env_names_for(key).join(", ")),
        Some(md) if md.name.starts_with("--") => format!(" (from {})", md.name),
        _ => String::new(),
    }
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
        user = user.merge(Toml::file_exact(path));
    }
    user = user.merge(env_provider());
    if let Some(host) = &cli.host {
        user = user.merge(flag("host", "host", host));
    }
    if let Some(port) = cli.port {
        user = user.merge(flag("port", "port", port));
    }
    if let Some(dialect) = &cli.dialect {
        user = user.merge(flag("dialect", "api_dialect", dialect));
    }
    if let Some(level) = &cli.log_level {
        user = user.merge(flag("log-level", "logging.level", level));
    }

    let doing = match &file {
        Some(path) => format!("reading config {}", path.display()),
        None => "reading config (defaults and LUNAROUTE_* environment)".to_string(),
    };
    let figment = Figment::from(Serialized::defaults(Config::default())).merge(user.clone());
    let mut config: Config = figment
        .extract()
        .map_err(|e| StartupError::new(doing.clone(), first_error(e)))?;
    let referenced =
        expand_env_refs(&mut config).map_err(|why| StartupError::new(doing.clone(), why))?;
    validate(&config).map_err(|(key, why)| {
        StartupError::new(
            doing,
            format!("key `{key}`{}: {why}", source_note(&figment, &key)),
        )
    })?;

    // `session_recording.pii` is listed on its own: a build may have recording but not pii.
    let explicit_sections = ["session_recording", "session_recording.pii", "ui"]
        .iter()
        .filter(|s| user.find_value(s).is_ok())
        .map(|s| s.to_string())
        .collect();
    let mut ignored_env = env::ignored();
    ignored_env.retain(|name| !referenced.contains(name));
    Ok(Loaded {
        config,
        file,
        explicit_sections,
        ignored_env,
    })
}

/// Figment reports every error it found; the first one, with its key and source, is the useful one.
fn first_error(e: figment::Error) -> String {
    let first = e.into_iter().next();
    first
        .map(|e| e.to_string().replace("\"default.", "\""))
        .unwrap_or_default()
}

/// Replaces `${NAME}` in `value` from the environment; a missing variable is an error naming it.
pub(crate) fn expand_vars(key: &str, value: &str) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("key `{key}`: unclosed `${{` in value"))?;
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

/// The names `value` refers to as `${NAME}`.
fn referenced_vars(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split("${")
        .skip(1)
        .filter_map(|after| after.find('}').map(|end| after[..end].to_string()))
}

/// Expands every `${NAME}` the config may hold; returns the names used (a `LUNAROUTE_*` one among
/// them is the user's own variable, not a misspelt setting to warn about).
fn expand_env_refs(config: &mut Config) -> Result<Vec<String>, String> {
    let mut used = Vec::new();
    let mut expand_vars = |key: &str, value: &str| {
        used.extend(referenced_vars(value));
        expand_vars(key, value)
    };
    for (name, provider) in config.providers.iter_mut() {
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
    if let Some(token) = &config.sessions.api_token {
        let expanded = expand_vars("sessions.api_token", token.expose())?;
        config.sessions.api_token = Some(super::Secret::new(expanded));
    }
    let rec = &mut config.session_recording;
    if let Some(secret) = &rec.pii.hmac_secret {
        let expanded = expand_vars("session_recording.pii.hmac_secret", secret.expose())?;
        rec.pii.hmac_secret = Some(super::Secret::new(expanded));
    }
    rec.sqlite.path = expand_vars("session_recording.sqlite.path", &rec.sqlite.path)?;
    rec.jsonl.directory = expand_vars("session_recording.jsonl.directory", &rec.jsonl.directory)?;
    Ok(used)
}

/// Checks made once, before binding: after this nothing on the request path re-validates config.
/// An error is the key at fault and why.
fn validate(config: &Config) -> Result<(), (String, String)> {
    let fail = |key: &str, why: String| Err((key.to_string(), why));
    if config.max_request_body_bytes == 0 {
        return fail("max_request_body_bytes", "must be greater than 0".into());
    }
    check_level(&config.logging.level).or_else(|why| fail("logging.level", why))?;
    for (name, provider) in config.providers.iter() {
        if let Some(url) = &provider.base_url {
            check_base_url(url).or_else(|why| {
                fail(
                    &format!("providers.{name}.base_url"),
                    format!("{why} (got `{url}`)"),
                )
            })?;
        }
        let key = format!("providers.{name}.api_key");
        match &provider.api_key {
            Some(k) if k.is_empty() => {
                return fail(
                    &key,
                    "is empty (leave it out to pass the client's key through)".into(),
                )
            }
            // Caught here rather than as a 500 on every request; the value itself is never shown.
            Some(k) if http::HeaderValue::from_str(k.expose()).is_err() => {
                return fail(
                    &key,
                    "contains characters a header cannot carry (a stray newline?)".into(),
                )
            }
            _ => {}
        }
        let http = &provider.http_client;
        for (field, value) in [
            ("timeout_secs", http.timeout_secs),
            ("connect_timeout_secs", http.connect_timeout_secs),
        ] {
            if value == 0 {
                return fail(
                    &format!("providers.{name}.http_client.{field}"),
                    "must be greater than 0".into(),
                );
            }
        }
    }
    super::routing::validate(config, crate::features::translate::COMPILED)?;
    for (prefix, price) in &config.pricing {
        let key = format!("pricing.\"{prefix}\"");
        if prefix.trim().is_empty() {
            return fail(
                &key,
                "needs a model-name prefix, e.g. [pricing.\"my-model\"]".into(),
            );
        }
        let rates = [
            ("input", Some(price.input)),
            ("output", Some(price.output)),
            ("cache_write", price.cache_write),
            ("cache_read", price.cache_read),
        ];
        for (field, value) in rates {
            if let Some(v) = value.filter(|v| !v.is_finite() || *v < 0.0) {
                return fail(
                    &format!("{key}.{field}"),
                    format!("must be a price in USD per million tokens, 0 or more (got {v})"),
                );
            }
        }
    }
    validate_pii(&config.session_recording.pii)?;
    let anthropic_on = config.api_dialect != Dialect::Openai && config.providers.anthropic.enabled;
    let openai_on = config.api_dialect != Dialect::Anthropic && config.providers.openai.enabled;
    if !anthropic_on && !openai_on {
        let dialect = serde_json::to_value(config.api_dialect).unwrap_or_default();
        return fail(
            "api_dialect",
            format!("{dialect} with its provider disabled leaves nothing to serve"),
        );
    }
    Ok(())
}

/// Names become placeholders, metric labels and JSON keys, so they stay plain. Patterns are
/// compiled here too, whether or not `enabled` is on yet: a typo should stop the config that holds
/// it (and `--print-config`), not wait for the day someone switches redaction on.
fn validate_pii(pii: &super::PiiConfig) -> Result<(), (String, String)> {
    let prefix = "session_recording.pii";
    if pii.hmac_secret.as_ref().is_some_and(|s| s.is_empty()) {
        return Err((
            format!("{prefix}.hmac_secret"),
            "is empty (leave it out to use a random key kept in ~/.lunaroute/pii.key)".into(),
        ));
    }
    for (i, custom) in pii.custom_patterns.iter().enumerate() {
        let key = format!("{prefix}.custom_patterns[{i}]");
        let name = &custom.name;
        let plain = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if name.is_empty() || !plain {
            return Err((
                format!("{key}.name"),
                format!("must be letters, digits, `_` or `-` (got `{name}`)"),
            ));
        }
        if custom.pattern.is_empty() {
            return Err((format!("{key}.pattern"), "is empty".into()));
        }
        if let Some(e) = crate::features::pii::pattern_error(&custom.pattern) {
            return Err((
                format!("{key}.pattern"),
                format!("custom pattern `{name}` is not a valid regex: {e}"),
            ));
        }
        if pii.custom_patterns[..i].iter().any(|c| &c.name == name) {
            return Err((format!("{key}.name"), format!("`{name}` is used twice")));
        }
    }
    Ok(())
}

/// A level name, or a tracing filter with `=`/`,` in it. A lone unknown word would parse as a
/// target name and silently switch every log line off, so it is refused.
fn check_level(level: &str) -> Result<(), String> {
    const LEVELS: &[&str] = &["off", "error", "warn", "info", "debug", "trace"];
    let is_filter = level.contains(['=', ',', '[']);
    if !is_filter && !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
        let levels = LEVELS.join(", ");
        return Err(format!(
            "`{level}` is not a log level (expected one of {levels}, or a filter such as `info,lunaroute=debug`)"
        ));
    }
    tracing_subscriber::EnvFilter::try_new(level)
        .map(drop)
        .map_err(|e| format!("`{level}` is not a log filter ({e})"))
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

#[cfg(test)]
mod tests {
    use super::validate_pii;
    use crate::config::{CustomPattern, PiiConfig, Secret};

    fn custom(name: &str, pattern: &str) -> CustomPattern {
        CustomPattern {
            name: name.into(),
            pattern: pattern.into(),
            placeholder: None,
        }
    }

    #[test]
    fn pii_names_and_secret_are_checked() {
        let mut pii = PiiConfig {
            custom_patterns: vec![custom("employee_id", "EMP-[0-9]+"), custom("a-1", "x")],
            ..PiiConfig::default()
        };
        assert_eq!(validate_pii(&pii), Ok(()));
        let bad = |pii: &PiiConfig| validate_pii(pii).unwrap_err().0;

        pii.custom_patterns.push(custom("has space", "x"));
        assert_eq!(bad(&pii), "session_recording.pii.custom_patterns[2].name");
        pii.custom_patterns[2] = custom("employee_id", "y");
        let (key, why) = validate_pii(&pii).unwrap_err();
        assert_eq!(key, "session_recording.pii.custom_patterns[2].name");
        assert!(why.contains("twice"), "{why}");
        pii.custom_patterns[2] = custom("other", "");
        assert_eq!(
            bad(&pii),
            "session_recording.pii.custom_patterns[2].pattern"
        );
        // Checked while redaction is still off, too.
        if crate::features::pii::COMPILED {
            assert!(!pii.enabled);
            pii.custom_patterns[2] = custom("other", "([");
            let (key, why) = validate_pii(&pii).unwrap_err();
            assert_eq!(key, "session_recording.pii.custom_patterns[2].pattern");
            assert!(why.contains("not a valid regex"), "{why}");
        }
        pii.custom_patterns.pop();

        pii.hmac_secret = Some(Secret::new(""));
        assert_eq!(bad(&pii), "session_recording.pii.hmac_secret");
    }
}
