//! The environment layer: every documented `LUNAROUTE_*` name lands on its key, nested
//! `LUNAROUTE_A__B` names work, booleans accept every spelling, text stays text, and `${VAR}`
//! references expand (a missing one is an error naming it).

use super::{as_json, assert_mentions, jailed, load, load_err, none, with_file};
use serde_json::Value;

/// A documented name, a value unlike the default, and the JSON pointer of the key it must set. The
/// expected value is `value` read as JSON, or as a string when it is not JSON.
const NAMES: &[(&str, &str, &str)] = &[
    ("LUNAROUTE_HOST", "0.0.0.0", "/host"),
    ("LUNAROUTE_PORT", "9999", "/port"),
    ("LUNAROUTE_DIALECT", "anthropic", "/api_dialect"),
    ("LUNAROUTE_LOG_LEVEL", "trace", "/logging/level"),
    ("LUNAROUTE_LOG_REQUESTS", "true", "/logging/log_requests"),
    (
        "LUNAROUTE_MAX_REQUEST_BODY_BYTES",
        "1024",
        "/max_request_body_bytes",
    ),
    ("LUNAROUTE_SHUTDOWN_GRACE_SECS", "3", "/shutdown_grace_secs"),
    (
        "LUNAROUTE_ENABLE_SESSION_RECORDING",
        "false",
        "/session_recording/enabled",
    ),
    (
        "LUNAROUTE_ENABLE_SQLITE_WRITER",
        "false",
        "/session_recording/sqlite/enabled",
    ),
    (
        "LUNAROUTE_SESSIONS_DB_PATH",
        "/data/s.db",
        "/session_recording/sqlite/path",
    ),
    (
        "LUNAROUTE_ENABLE_JSONL_WRITER",
        "false",
        "/session_recording/jsonl/enabled",
    ),
    (
        "LUNAROUTE_SESSIONS_DIR",
        "/data/jsonl",
        "/session_recording/jsonl/directory",
    ),
    // The nested form reaches every key, including those without a flat name.
    ("LUNAROUTE_UI__ENABLED", "false", "/ui/enabled"),
    (
        "LUNAROUTE_PROVIDERS__OPENAI__CODEX_AUTH__ENABLED",
        "true",
        "/providers/openai/codex_auth/enabled",
    ),
    (
        "LUNAROUTE_SESSION_RECORDING__JSONL__RETENTION__MAX_AGE_DAYS",
        "7",
        "/session_recording/jsonl/retention/max_age_days",
    ),
];

/// `LUNAROUTE_{ANTHROPIC,OPENAI}_<suffix>` and the key under `providers.<name>` it sets.
const PER_PROVIDER: &[(&str, &str)] = &[
    ("TIMEOUT_SECS", "http_client/timeout_secs"),
    ("CONNECT_TIMEOUT_SECS", "http_client/connect_timeout_secs"),
    ("POOL_MAX_IDLE", "http_client/pool_max_idle_per_host"),
    (
        "POOL_IDLE_TIMEOUT_SECS",
        "http_client/pool_idle_timeout_secs",
    ),
    ("TCP_KEEPALIVE_SECS", "http_client/tcp_keepalive_secs"),
];

#[test]
fn every_documented_env_name_sets_its_key() {
    jailed(|jail| {
        let mut expected = Vec::new();
        for (name, value, pointer) in NAMES {
            jail.set_env(name, value);
            let want = serde_json::from_str(value).unwrap_or_else(|_| Value::from(*value));
            expected.push((name.to_string(), pointer.to_string(), want));
        }
        // Distinct numbers per name, so a name mapped to the wrong key cannot pass.
        for (p, provider) in ["anthropic", "openai"].iter().enumerate() {
            for (i, (suffix, key)) in PER_PROVIDER.iter().enumerate() {
                let name = format!("LUNAROUTE_{}_{suffix}", provider.to_uppercase());
                let value = 100 + 10 * p + i;
                jail.set_env(&name, value);
                expected.push((name, format!("/providers/{provider}/{key}"), value.into()));
            }
        }
        let loaded = load(&none());
        assert!(
            loaded.ignored_env.is_empty(),
            "all documented: {:?}",
            loaded.ignored_env
        );
        let got = as_json(&loaded.config);
        for (name, pointer, want) in expected {
            assert_eq!(
                got.pointer(&pointer),
                Some(&want),
                "{name} should set {pointer}"
            );
        }
        Ok(())
    });
}

#[test]
fn provider_urls_and_keys_come_from_flat_and_nested_names() {
    jailed(|jail| {
        jail.set_env(
            "LUNAROUTE_PROVIDERS__ANTHROPIC__BASE_URL",
            "http://127.0.0.1:9000",
        );
        jail.set_env("LUNAROUTE_OPENAI_BASE_URL", "http://127.0.0.1:9001/v1");
        jail.set_env("LUNAROUTE_ANTHROPIC_API_KEY", "sk-ant-from-env");
        jail.set_env("LUNAROUTE_OPENAI_ENABLED", "off");
        let config = load(&none()).config;
        let anthropic = &config.providers.anthropic;
        assert_eq!(anthropic.base_url.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(
            anthropic.api_key.as_ref().map(|k| k.expose()),
            Some("sk-ant-from-env")
        );
        assert_eq!(
            config.providers.openai.base_url.as_deref(),
            Some("http://127.0.0.1:9001/v1")
        );
        assert!(!config.providers.openai.enabled);

        // Text keys keep the variable's text even when it looks like a number or an array.
        jail.set_env("LUNAROUTE_OPENAI_API_KEY", "12345");
        jail.set_env("LUNAROUTE_SESSIONS_DIR", "[x]");
        let config = load(&none()).config;
        assert_eq!(
            config.providers.openai.api_key.as_ref().map(|k| k.expose()),
            Some("12345")
        );
        assert_eq!(config.session_recording.jsonl.directory, "[x]");
        Ok(())
    });
}

#[test]
fn booleans_accept_every_spelling_from_env_and_file() {
    let spellings = [
        ("true", true),
        ("false", false),
        ("1", true),
        ("0", false),
        ("yes", true),
        ("no", false),
        ("on", true),
        ("off", false),
        ("TRUE", true),
        ("Off", false),
    ];
    jailed(|jail| {
        for (spelling, want) in spellings {
            jail.set_env("LUNAROUTE_LOG_REQUESTS", spelling);
            assert_eq!(
                load(&none()).config.logging.log_requests,
                want,
                "env {spelling:?}"
            );
        }
        for (spelling, want) in spellings {
            // TOML booleans and integers as themselves, the other spellings as strings.
            let literal = match spelling {
                "true" | "false" | "1" | "0" => spelling.to_string(),
                _ => format!("{spelling:?}"),
            };
            jail.create_file("b.toml", &format!("[ui]\nenabled = {literal}\n"))?;
            assert_eq!(
                load(&with_file("b.toml")).config.ui.enabled,
                want,
                "file {literal}"
            );
        }

        jail.create_file("b.toml", "[ui]\nenabled = \"maybe\"\n")?;
        let message = load_err(&with_file("b.toml"));
        assert_mentions(&message, &["ui.enabled", "expected a boolean", "b.toml"]);
        jail.set_env("LUNAROUTE_ENABLE_SQLITE_WRITER", "sometimes");
        let message = load_err(&none());
        let parts = [
            "session_recording.sqlite.enabled",
            "LUNAROUTE_ENABLE_SQLITE_WRITER",
            "expected a boolean",
        ];
        assert_mentions(&message, &parts);
        Ok(())
    });
}

#[test]
fn env_references_expand_and_a_missing_one_is_named() {
    jailed(|jail| {
        jail.create_file(
            "refs.toml",
            r#"
            [providers.openai]
            api_key = "${GOOGLE_API_KEY}"
            base_url = "http://${MOCK_ADDR}/v1"
            [session_recording.sqlite]
            path = "${DATA_DIR}/sessions.db"
            "#,
        )?;
        jail.set_env("GOOGLE_API_KEY", "sk-google-123");
        jail.set_env("MOCK_ADDR", "127.0.0.1:9100");
        jail.set_env("DATA_DIR", "/var/lib/lr");
        let config = load(&with_file("refs.toml")).config;
        let openai = &config.providers.openai;
        assert_eq!(
            openai.api_key.as_ref().map(|k| k.expose()),
            Some("sk-google-123")
        );
        assert_eq!(openai.base_url.as_deref(), Some("http://127.0.0.1:9100/v1"));
        assert_eq!(
            config.session_recording.sqlite.path,
            "/var/lib/lr/sessions.db"
        );

        // A reference supplied through the environment layer expands the same way.
        jail.set_env("LUNAROUTE_ANTHROPIC_API_KEY", "${GOOGLE_API_KEY}");
        let anthropic = load(&with_file("refs.toml")).config.providers.anthropic;
        assert_eq!(
            anthropic.api_key.as_ref().map(|k| k.expose()),
            Some("sk-google-123")
        );

        Ok(())
    });
}

#[test]
fn a_missing_env_reference_is_an_error_naming_it() {
    jailed(|jail| {
        jail.create_file(
            "refs.toml",
            "[providers.openai]\napi_key = \"${GOOGLE_API_KEY}\"\n",
        )?;
        let message = load_err(&with_file("refs.toml"));
        let parts = [
            "GOOGLE_API_KEY",
            "providers.openai.api_key",
            "not set",
            "refs.toml",
        ];
        assert_mentions(&message, &parts);

        jail.create_file("open.toml", "[providers.openai]\napi_key = \"${OOPS\"\n")?;
        let message = load_err(&with_file("open.toml"));
        assert_mentions(&message, &["providers.openai.api_key", "unclosed"]);
        Ok(())
    });
}
