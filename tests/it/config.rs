//! `config::load` end to end. This file: layer precedence, where the file comes from, the example
//! file, unrelated variables. `config/env.rs`: every `LUNAROUTE_*` name, booleans, `${VAR}`.
//! `config/errors.rs`: the messages that stop startup. Each test runs in a `figment::Jail` (temp cwd,
//! env restored afterwards) with HOME pointed at the jail and any `LUNAROUTE_*` from the shell
//! cleared, so neither the developer's shell nor a real ~/.lunaroute/config.toml can leak in.

// `figment::Jail` closures return `figment::Result`, whose error type is large; that is its API.
#![allow(clippy::result_large_err)]

mod env;
mod errors;
mod pricing;
mod routing;

use figment::Jail;
use lunaroute::config::{self, CliOverrides, Config, Loaded};
use serde_json::{json, Value};
use std::path::PathBuf;

fn jailed(test: impl FnOnce(&mut Jail) -> figment::Result<()>) {
    Jail::expect_with(|jail| {
        // NOTE: `clear_env` is process-wide and would take PATH away from tests running alongside
        // (the SDK tests spawn programs), so it is only used when the shell has something to hide.
        let leaks = |k: &str| k.starts_with("LUNAROUTE_") || k == "GOOGLE_API_KEY";
        if std::env::vars_os().any(|(k, _)| leaks(&k.to_string_lossy())) {
            jail.clear_env();
        }
        let home = jail.directory().display().to_string();
        jail.set_env("HOME", home);
        test(jail)
    });
}

fn load(cli: &CliOverrides) -> Loaded {
    config::load(cli).unwrap_or_else(|e| panic!("expected the config to load, got: {e}"))
}

/// The config as JSON (the form `--print-config` shows), for comparing by path.
fn as_json(config: &Config) -> Value {
    serde_json::to_value(config).expect("config serialises")
}

fn load_err(cli: &CliOverrides) -> String {
    match config::load(cli) {
        Ok(loaded) => panic!("expected an error, got {:?}", loaded.config),
        Err(e) => e.to_string(),
    }
}

fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            message.contains(part),
            "error should mention {part:?}: {message}"
        );
    }
}

fn with_file(path: impl Into<PathBuf>) -> CliOverrides {
    CliOverrides {
        config: Some(path.into()),
        ..Default::default()
    }
}

fn none() -> CliOverrides {
    CliOverrides::default()
}

/// host, port, api_dialect and logging.level: the keys that exist in every layer.
fn flag_keys(cli: &CliOverrides) -> Value {
    let c = as_json(&load(cli).config);
    json!([
        c["host"],
        c["port"],
        c["api_dialect"],
        c["logging"]["level"]
    ])
}

#[test]
fn each_layer_overrides_the_one_below_for_the_same_key() {
    jailed(|jail| {
        assert_eq!(
            flag_keys(&none()),
            json!(["127.0.0.1", 8081, "both", "info"]),
            "defaults"
        );

        let toml = "host = \"10.0.0.1\"\nport = 1111\napi_dialect = \"anthropic\"\n[logging]\nlevel = \"warn\"\n";
        jail.create_file("file.toml", toml)?;
        let file = with_file("file.toml");
        assert_eq!(
            flag_keys(&file),
            json!(["10.0.0.1", 1111, "anthropic", "warn"]),
            "file"
        );

        jail.set_env("LUNAROUTE_HOST", "10.0.0.2");
        jail.set_env("LUNAROUTE_PORT", "2222");
        jail.set_env("LUNAROUTE_DIALECT", "openai");
        jail.set_env("LUNAROUTE_LOG_LEVEL", "error");
        assert_eq!(
            flag_keys(&file),
            json!(["10.0.0.2", 2222, "openai", "error"]),
            "env"
        );

        let flags = CliOverrides {
            host: Some("10.0.0.3".into()),
            port: Some(3333),
            dialect: Some("both".into()),
            log_level: Some("debug".into()),
            ..file
        };
        assert_eq!(
            flag_keys(&flags),
            json!(["10.0.0.3", 3333, "both", "debug"]),
            "flags"
        );
        Ok(())
    });
}

#[test]
fn layers_merge_key_by_key_not_section_by_section() {
    jailed(|jail| {
        jail.create_file(
            "p.toml",
            "[providers.openai.http_client]\ntimeout_secs = 30\n",
        )?;
        jail.set_env("LUNAROUTE_OPENAI_CONNECT_TIMEOUT_SECS", "5");
        let http = load(&with_file("p.toml"))
            .config
            .providers
            .openai
            .http_client;
        assert_eq!((http.timeout_secs, http.connect_timeout_secs), (30, 5));
        assert_eq!(
            http.pool_max_idle_per_host, 32,
            "untouched keys keep their default"
        );
        Ok(())
    });
}

#[test]
fn the_file_comes_from_the_flag_then_lunaroute_config_then_home() {
    jailed(|jail| {
        assert_eq!(load(&none()).file, None, "no file anywhere: defaults only");

        jail.create_dir(".lunaroute")?;
        jail.create_file(".lunaroute/config.toml", "port = 1001")?;
        let loaded = load(&none());
        assert_eq!(
            loaded.config.port, 1001,
            "~/.lunaroute/config.toml is read when present"
        );
        assert_eq!(
            loaded.file,
            Some(jail.directory().join(".lunaroute/config.toml"))
        );

        jail.create_file("env.toml", "port = 1002")?;
        jail.set_env(
            "LUNAROUTE_CONFIG",
            jail.directory().join("env.toml").display(),
        );
        assert_eq!(
            load(&none()).config.port,
            1002,
            "LUNAROUTE_CONFIG beats the home file"
        );

        jail.create_file("flag.toml", "port = 1003")?;
        let port = load(&with_file("flag.toml")).config.port;
        assert_eq!(port, 1003, "--config beats LUNAROUTE_CONFIG");
        Ok(())
    });
}

#[test]
fn unrelated_lunaroute_variables_are_reported_not_fatal() {
    jailed(|jail| {
        let names = [
            "LUNAROUTE_ANTHROPIC_MODEL",
            "LUNAROUTE_CONFIGURED",
            "LUNAROUTE_FOO",
            "LUNAROUTE_FOO__BAR",
        ];
        for name in names {
            jail.set_env(name, "whatever");
        }
        let loaded = load(&none());
        assert_eq!(loaded.ignored_env, names);
        assert_eq!(as_json(&loaded.config), as_json(&Config::default()));
        Ok(())
    });
}

#[test]
fn a_lunaroute_variable_the_config_refers_to_is_not_reported() {
    jailed(|jail| {
        // The names README and config.example.toml suggest for `${VAR}` references.
        jail.create_file(
            "refs.toml",
            "[sessions]\napi_token = \"${LUNAROUTE_SESSIONS_TOKEN}\"\n\
             [session_recording.pii]\nhmac_secret = \"${LUNAROUTE_PII_SECRET}\"\n",
        )?;
        jail.set_env("LUNAROUTE_SESSIONS_TOKEN", "t0ken-for-the-api");
        jail.set_env("LUNAROUTE_PII_SECRET", "a-long-hmac-secret");
        jail.set_env("LUNAROUTE_PROT", "9000");
        let loaded = load(&with_file("refs.toml"));
        assert_eq!(loaded.ignored_env, ["LUNAROUTE_PROT"], "only the typo");
        let pii = &loaded.config.session_recording.pii;
        assert_eq!(
            pii.hmac_secret.as_ref().map(|s| s.expose()),
            Some("a-long-hmac-secret")
        );
        Ok(())
    });
}

#[test]
fn the_example_file_loads_and_equals_the_defaults() {
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    jailed(|_| {
        let loaded = load(&with_file(&example));
        assert_eq!(as_json(&loaded.config), as_json(&Config::default()));
        Ok(())
    });

    // And it documents every key: each leaf of the defaults appears as `key = ` (set or commented).
    let text = std::fs::read_to_string(&example).unwrap();
    let mut leaves = Vec::new();
    collect_leaves(&as_json(&Config::default()), &mut leaves);
    assert!(leaves.len() > 20, "{leaves:?}");
    for key in leaves {
        assert!(
            text.contains(&format!("{key} = ")),
            "config.example.toml does not document `{key}`"
        );
    }
}

fn collect_leaves(value: &Value, out: &mut Vec<String>) {
    if let Value::Object(map) = value {
        for (key, child) in map {
            match child {
                Value::Object(_) => collect_leaves(child, out),
                _ => out.push(key.clone()),
            }
        }
    }
}

#[test]
fn explicit_sections_are_reported_for_compiled_out_warnings() {
    jailed(|jail| {
        assert!(load(&none()).explicit_sections.is_empty());
        jail.create_file("s.toml", "[ui]\nenabled = false\n")?;
        jail.set_env("LUNAROUTE_ENABLE_SESSION_RECORDING", "0");
        let mut sections = load(&with_file("s.toml")).explicit_sections;
        sections.sort();
        assert_eq!(sections, ["session_recording", "ui"]);
        Ok(())
    });
}
