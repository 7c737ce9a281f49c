//! `config::load` end to end: layer precedence, file discovery, every documented `LUNAROUTE_*` name,
//! boolean spellings, `${VAR}` expansion, and the error messages that stop startup. Each test runs in a
//! `figment::Jail` (temp cwd, env restored afterwards) with the environment cleared and HOME pointed
//! at the jail, so neither the developer's shell nor a real ~/.lunaroute/config.toml can leak in.

use figment::Jail;
use lunaroute::config::{self, CliOverrides, Config, Loaded};
use serde_json::{json, Value};
use std::path::PathBuf;

fn jailed(test: impl FnOnce(&mut Jail) -> figment::Result<()>) {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let home = jail.directory().display().to_string();
        jail.set_env("HOME", home);
        test(jail)
    });
}

fn load(cli: &CliOverrides) -> Loaded {
    config::load(cli).unwrap_or_else(|e| panic!("expected the config to load, got: {e}"))
}

/// The config as JSON: compared by path, and the form `--print-config` shows.
fn loaded_json(cli: &CliOverrides) -> Value {
    serde_json::to_value(load(cli).config).expect("config serialises")
}

fn load_err(cli: &CliOverrides) -> String {
    match config::load(cli) {
        Ok(loaded) => panic!("expected an error, got {:?}", loaded.config),
        Err(e) => { eprintln!("MSG: {e}"); e.to_string() }
    }
}

fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "error should mention {part:?}: {message}");
    }
}

fn with_file(path: impl Into<PathBuf>) -> CliOverrides {
    CliOverrides { config: Some(path.into()), ..Default::default() }
}

fn none() -> CliOverrides {
    CliOverrides::default()
}

#[test]
fn each_layer_overrides_the_one_below_for_the_same_key() {
    jailed(|jail| {
        let defaults = loaded_json(&none());
        assert_eq!(defaults["port"], 8081);
        assert_eq!(defaults["host"], "127.0.0.1");
        assert_eq!(defaults["api_dialect"], "both");
        assert_eq!(defaults["logging"]["level"], "info");

        jail.create_file(
            "file.toml",
            "host = \"10.0.0.1\"\nport = 1111\napi_dialect = \"anthropic\"\n[logging]\nlevel = \"warn\"\n",
        )?;
        let file = with_file("file.toml");
        let from_file = loaded_json(&file);
        assert_eq!(
            [&from_file["host"], &from_file["port"], &from_file["api_dialect"], &from_file["logging"]["level"]],
            [&json!("10.0.0.1"), &json!(1111), &json!("anthropic"), &json!("warn")]
        );

        jail.set_env("LUNAROUTE_HOST", "10.0.0.2");
        jail.set_env("LUNAROUTE_PORT", "2222");
        jail.set_env("LUNAROUTE_DIALECT", "openai");
        jail.set_env("LUNAROUTE_LOG_LEVEL", "error");
        let from_env = loaded_json(&file);
        assert_eq!(
            [&from_env["host"], &from_env["port"], &from_env["api_dialect"], &from_env["logging"]["level"]],
            [&json!("10.0.0.2"), &json!(2222), &json!("openai"), &json!("error")]
        );

        let flags = CliOverrides {
            host: Some("10.0.0.3".into()),
            port: Some(3333),
            dialect: Some("both".into()),
            log_level: Some("debug".into()),
            ..file
        };
        let from_flags = loaded_json(&flags);
        assert_eq!(
            [&from_flags["host"], &from_flags["port"], &from_flags["api_dialect"], &from_flags["logging"]["level"]],
            [&json!("10.0.0.3"), &json!(3333), &json!("both"), &json!("debug")]
        );
        Ok(())
    });
}

#[test]
fn the_file_comes_from_the_flag_then_lunaroute_config_then_home() {
    jailed(|jail| {
        let loaded = load(&none());
        assert_eq!(loaded.file, None, "no file anywhere: defaults only");

        jail.create_dir(".lunaroute")?;
        jail.create_file(".lunaroute/config.toml", "port = 1001")?;
        let loaded = load(&none());
        assert_eq!(loaded.config.port, 1001, "~/.lunaroute/config.toml is read when present");
        assert_eq!(loaded.file, Some(jail.directory().join(".lunaroute/config.toml")));

        jail.create_file("env.toml", "port = 1002")?;
        jail.set_env("LUNAROUTE_CONFIG", jail.directory().join("env.toml").display());
        assert_eq!(load(&none()).config.port, 1002, "LUNAROUTE_CONFIG beats the home file");

        jail.create_file("flag.toml", "port = 1003")?;
        assert_eq!(load(&with_file("flag.toml")).config.port, 1003, "--config beats LUNAROUTE_CONFIG");
        Ok(())
    });
}

/// Every documented environment name, each set to a value unlike its default, lands on its key.
#[test]
fn every_documented_env_name_sets_its_key() {
    let names: &[(&str, &str, &str, Value)] = &[
        ("LUNAROUTE_HOST", "0.0.0.0", "/host", json!("0.0.0.0")),
        ("LUNAROUTE_PORT", "9999", "/port", json!(9999)),
        ("LUNAROUTE_DIALECT", "anthropic", "/api_dialect", json!("anthropic")),
        ("LUNAROUTE_LOG_LEVEL", "trace", "/logging/level", json!("trace")),
        ("LUNAROUTE_LOG_REQUESTS", "true", "/logging/log_requests", json!(true)),
        ("LUNAROUTE_MAX_REQUEST_BODY_BYTES", "1024", "/max_request_body_bytes", json!(1024)),
        ("LUNAROUTE_SHUTDOWN_GRACE_SECS", "3", "/shutdown_grace_secs", json!(3)),
        ("LUNAROUTE_ENABLE_SESSION_RECORDING", "false", "/session_recording/enabled", json!(false)),
        ("LUNAROUTE_ENABLE_SQLITE_WRITER", "no", "/session_recording/sqlite/enabled", json!(false)),
        ("LUNAROUTE_SESSIONS_DB_PATH", "/data/s.db", "/session_recording/sqlite/path", json!("/data/s.db")),
        ("LUNAROUTE_ENABLE_JSONL_WRITER", "off", "/session_recording/jsonl/enabled", json!(false)),
        ("LUNAROUTE_SESSIONS_DIR", "/data/jsonl", "/session_recording/jsonl/directory", json!("/data/jsonl")),
        // The nested form reaches keys without a flat name.
        ("LUNAROUTE_UI__ENABLED", "0", "/ui/enabled", json!(false)),
        (
            "LUNAROUTE_SESSION_RECORDING__JSONL__RETENTION__MAX_AGE_DAYS",
            "7",
            "/session_recording/jsonl/retention/max_age_days",
            json!(7),
        ),
        ("LUNAROUTE_PROVIDERS__OPENAI__CODEX_AUTH__ENABLED", "yes", "/providers/openai/codex_auth/enabled", json!(true)),
    ];
    let per_provider: &[(&str, &str)] = &[
        ("TIMEOUT_SECS", "http_client/timeout_secs"),
        ("CONNECT_TIMEOUT_SECS", "http_client/connect_timeout_secs"),
        ("POOL_MAX_IDLE", "http_client/pool_max_idle_per_host"),
        ("POOL_IDLE_TIMEOUT_SECS", "http_client/pool_idle_timeout_secs"),
        ("TCP_KEEPALIVE_SECS", "http_client/tcp_keepalive_secs"),
    ];
    jailed(|jail| {
        let mut expected = Vec::new();
        for (name, value, pointer, want) in names {
            jail.set_env(name, value);
            expected.push((name.to_string(), pointer.to_string(), want.clone()));
        }
        // Distinct numbers per name, so a name mapped to the wrong key cannot pass.
        for (p, provider) in ["ANTHROPIC", "OPENAI"].iter().enumerate() {
            for (i, (suffix, key)) in per_provider.iter().enumerate() {
                let name = format!("LUNAROUTE_{provider}_{suffix}");
                let value = 100 + 10 * p + i;
                jail.set_env(&name, value);
                expected.push((name, format!("/providers/{}/{key}", provider.to_lowercase()), json!(value)));
            }
        }
        let loaded = load(&none());
        assert!(loaded.ignored_env.is_empty(), "all documented: {:?}", loaded.ignored_env);
        let got = serde_json::to_value(&loaded.config).unwrap();
        for (name, pointer, want) in expected {
            assert_eq!(got.pointer(&pointer), Some(&want), "{name} should set {pointer}");
        }
        Ok(())
    });
}

#[test]
fn provider_urls_and_keys_come_from_flat_and_nested_names() {
    jailed(|jail| {
        jail.set_env("LUNAROUTE_PROVIDERS__ANTHROPIC__BASE_URL", "http://127.0.0.1:9000");
        jail.set_env("LUNAROUTE_OPENAI_BASE_URL", "http://127.0.0.1:9001/v1");
        jail.set_env("LUNAROUTE_ANTHROPIC_API_KEY", "sk-ant-from-env");
        jail.set_env("LUNAROUTE_OPENAI_ENABLED", "off");
        let config = load(&none()).config;
        let anthropic = &config.providers.anthropic;
        assert_eq!(anthropic.base_url.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(anthropic.api_key.as_ref().map(|k| k.expose()), Some("sk-ant-from-env"));
        assert_eq!(config.providers.openai.base_url.as_deref(), Some("http://127.0.0.1:9001/v1"));
        assert!(!config.providers.openai.enabled);
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
            assert_eq!(load(&none()).config.logging.log_requests, want, "env {spelling:?}");
        }
        jail.clear_env();
        let home = jail.directory().display().to_string();
        jail.set_env("HOME", home);
        for (spelling, want) in [("true", true), ("0", false), ("1", true), ("\"yes\"", true), ("\"off\"", false)] {
            jail.create_file("b.toml", &format!("[ui]\nenabled = {spelling}\n"))?;
            assert_eq!(load(&with_file("b.toml")).config.ui.enabled, want, "file {spelling}");
        }

        jail.create_file("b.toml", "[logging]\nlog_requests = \"maybe\"\n")?;
        assert_mentions(&load_err(&with_file("b.toml")), &["logging.log_requests", "expected a boolean", "b.toml"]);
        jail.set_env("LUNAROUTE_ENABLE_SQLITE_WRITER", "sometimes");
        assert_mentions(&load_err(&none()), &["session_recording.sqlite.enabled", "expected a boolean"]);
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
        assert_eq!(openai.api_key.as_ref().map(|k| k.expose()), Some("sk-google-123"));
        assert_eq!(openai.base_url.as_deref(), Some("http://127.0.0.1:9100/v1"));
        assert_eq!(config.session_recording.sqlite.path, "/var/lib/lr/sessions.db");

        // A reference supplied through the environment layer expands the same way.
        jail.set_env("LUNAROUTE_ANTHROPIC_API_KEY", "${GOOGLE_API_KEY}");
        let config = load(&with_file("refs.toml")).config;
        assert_eq!(config.providers.anthropic.api_key.as_ref().map(|k| k.expose()), Some("sk-google-123"));

        // Jail can only unset a variable by clearing them all.
        jail.clear_env();
        let home = jail.directory().display().to_string();
        jail.set_env("HOME", home);
        jail.set_env("MOCK_ADDR", "127.0.0.1:9100");
        jail.set_env("DATA_DIR", "/tmp");
        let message = load_err(&with_file("refs.toml"));
        assert_mentions(&message, &["GOOGLE_API_KEY", "providers.openai.api_key", "not set", "refs.toml"]);
        assert!(!message.contains("sk-google"), "{message}");
        Ok(())
    });
}

#[test]
fn an_unknown_key_names_the_key_and_the_file() {
    jailed(|jail| {
        jail.create_file("typo.toml", "prot = 8080\n")?;
        assert_mentions(&load_err(&with_file("typo.toml")), &["prot", "typo.toml"]);

        jail.create_file("nested.toml", "[providers.anthropic]\napi_kye = \"sk\"\n")?;
        assert_mentions(&load_err(&with_file("nested.toml")), &["api_kye", "providers.anthropic", "nested.toml"]);

        jail.create_file("section.toml", "[providers.google]\nenabled = true\n")?;
        assert_mentions(&load_err(&with_file("section.toml")), &["google", "section.toml"]);
        Ok(())
    });
}

#[test]
fn a_wrong_type_names_the_key_and_what_was_expected() {
    jailed(|jail| {
        jail.create_file("port.toml", "port = \"eighty\"\n")?;
        assert_mentions(&load_err(&with_file("port.toml")), &["port", "u16", "port.toml"]);

        jail.create_file("big.toml", "port = 70000\n")?;
        assert_mentions(&load_err(&with_file("big.toml")), &["port", "u16", "70000"]);

        jail.create_file("timeout.toml", "[providers.openai.http_client]\ntimeout_secs = \"long\"\n")?;
        assert_mentions(
            &load_err(&with_file("timeout.toml")),
            &["providers.openai.http_client.timeout_secs", "u64", "timeout.toml"],
        );

        jail.create_file("dialect.toml", "api_dialect = \"gemini\"\n")?;
        assert_mentions(&load_err(&with_file("dialect.toml")), &["api_dialect", "gemini", "anthropic"]);

        jail.set_env("LUNAROUTE_PORT", "not-a-port");
        assert_mentions(&load_err(&none()), &["port", "u16"]);
        Ok(())
    });
}

#[test]
fn a_file_that_cannot_be_read_is_named() {
    jailed(|jail| {
        assert_mentions(&load_err(&with_file("missing.toml")), &["missing.toml", "No such file"]);

        jail.set_env("LUNAROUTE_CONFIG", "/nonexistent/lunaroute.toml");
        assert_mentions(&load_err(&none()), &["/nonexistent/lunaroute.toml"]);

        jail.create_dir("a-directory")?;
        assert_mentions(&load_err(&with_file("a-directory")), &["a-directory"]);

        jail.create_file("broken.toml", "port = \n")?;
        assert_mentions(&load_err(&with_file("broken.toml")), &["broken.toml"]);
        Ok(())
    });
}

#[test]
fn unrelated_lunaroute_variables_are_reported_not_fatal() {
    jailed(|jail| {
        for name in ["LUNAROUTE_FOO", "LUNAROUTE_FOO__BAR", "LUNAROUTE_ANTHROPIC_MODEL", "LUNAROUTE_CONFIGURED"] {
            jail.set_env(name, "whatever");
        }
        let mut loaded = load(&none());
        loaded.ignored_env.sort();
        let want = ["LUNAROUTE_ANTHROPIC_MODEL", "LUNAROUTE_CONFIGURED", "LUNAROUTE_FOO", "LUNAROUTE_FOO__BAR"];
        assert_eq!(loaded.ignored_env, want);
        assert_eq!(serde_json::to_value(&loaded.config).unwrap(), serde_json::to_value(Config::default()).unwrap());
        Ok(())
    });
}

#[test]
fn the_example_file_loads_and_equals_the_defaults() {
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    jailed(|_| {
        let loaded = load(&with_file(&example));
        let defaults = serde_json::to_value(Config::default()).unwrap();
        assert_eq!(serde_json::to_value(&loaded.config).unwrap(), defaults);
        Ok(())
    });

    // And it documents every key: each leaf of the defaults appears as `key =` (set or commented).
    let text = std::fs::read_to_string(&example).unwrap();
    let mut leaves = Vec::new();
    collect_leaves(&serde_json::to_value(Config::default()).unwrap(), &mut leaves);
    for key in leaves {
        assert!(text.contains(&format!("{key} = ")), "config.example.toml does not document `{key}`");
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
fn invalid_values_are_rejected_at_startup() {
    let cases: &[(&str, &[&str])] = &[
        ("[providers.anthropic]\nbase_url = \"not a url\"\n", &["providers.anthropic.base_url", "not a url"]),
        ("[providers.openai]\nbase_url = \"ftp://example.com\"\n", &["providers.openai.base_url", "http://"]),
        ("[providers.openai]\nbase_url = \"http://x/v1?key=1\"\n", &["providers.openai.base_url", "query"]),
        ("[providers.openai.http_client]\ntimeout_secs = 0\n", &["providers.openai.http_client.timeout_secs", "greater than 0"]),
        (
            "[providers.anthropic.http_client]\nconnect_timeout_secs = 0\n",
            &["providers.anthropic.http_client.connect_timeout_secs", "greater than 0"],
        ),
        ("max_request_body_bytes = 0\n", &["max_request_body_bytes", "greater than 0"]),
        ("[providers.anthropic]\napi_key = \"\"\n", &["providers.anthropic.api_key", "empty"]),
        ("[providers.anthropic.codex_auth]\nenabled = true\n", &["providers.anthropic.codex_auth", "openai"]),
        ("api_dialect = \"openai\"\n[providers.openai]\nenabled = false\n", &["api_dialect", "nothing to serve"]),
        ("[logging]\nlevel = \"verbose\"\n", &["logging.level", "verbose"]),
    ];
    jailed(|jail| {
        for (toml, parts) in cases {
            jail.create_file("bad.toml", toml)?;
            let message = load_err(&with_file("bad.toml"));
            assert_mentions(&message, parts);
            assert_mentions(&message, &["bad.toml"]);
        }
        // Flags are validated like everything else.
        let cli = CliOverrides { dialect: Some("gemini".into()), ..none() };
        assert_mentions(&load_err(&cli), &["api_dialect", "gemini"]);
        let cli = CliOverrides { log_level: Some("info,lunaroute=debug".into()), ..none() };
        assert_eq!(load(&cli).config.logging.level, "info,lunaroute=debug", "a tracing filter is a valid level");
        Ok(())
    });
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
