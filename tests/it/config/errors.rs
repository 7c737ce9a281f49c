//! What stops startup, and what the message says: an unknown key, a wrong type, an unreadable file,
//! and values that parse but make no sense. Every assertion is on the message's content: it must name
//! the file (or variable, or flag), the key, and what was expected.

use super::{assert_mentions, jailed, load, load_err, none, with_file};
use lunaroute::config::CliOverrides;

#[test]
fn an_unknown_key_names_the_key_and_the_file() {
    jailed(|jail| {
        jail.create_file("typo.toml", "prot = 8080\n")?;
        assert_mentions(
            &load_err(&with_file("typo.toml")),
            &["prot", "typo.toml", "`port`"],
        );

        jail.create_file("nested.toml", "[providers.anthropic]\napi_kye = \"sk\"\n")?;
        let message = load_err(&with_file("nested.toml"));
        assert_mentions(
            &message,
            &["providers.anthropic.api_kye", "nested.toml", "`api_key`"],
        );

        jail.create_file("section.toml", "[providers.google]\nenabled = true\n")?;
        let message = load_err(&with_file("section.toml"));
        assert_mentions(&message, &["providers.google", "section.toml"]);

        // The nested env form with a known top-level section is checked like the file.
        jail.set_env("LUNAROUTE_LOGGING__LEVLE", "debug");
        assert_mentions(&load_err(&none()), &["levle", "LUNAROUTE_LOGGING__LEVLE"]);
        Ok(())
    });
}

#[test]
fn a_wrong_type_names_the_key_and_what_was_expected() {
    jailed(|jail| {
        jail.create_file("port.toml", "port = \"eighty\"\n")?;
        assert_mentions(
            &load_err(&with_file("port.toml")),
            &["port", "u16", "port.toml"],
        );

        jail.create_file("big.toml", "port = 70000\n")?;
        assert_mentions(&load_err(&with_file("big.toml")), &["port", "u16", "70000"]);

        let toml = "[providers.openai.http_client]\ntimeout_secs = \"long\"\n";
        jail.create_file("timeout.toml", toml)?;
        let message = load_err(&with_file("timeout.toml"));
        let parts = [
            "providers.openai.http_client.timeout_secs",
            "u64",
            "timeout.toml",
        ];
        assert_mentions(&message, &parts);

        jail.create_file("dialect.toml", "api_dialect = \"gemini\"\n")?;
        let message = load_err(&with_file("dialect.toml"));
        assert_mentions(
            &message,
            &["api_dialect", "gemini", "anthropic", "dialect.toml"],
        );

        jail.set_env("LUNAROUTE_PORT", "not-a-port");
        assert_mentions(
            &load_err(&none()),
            &["port", "LUNAROUTE_PORT", "u16", "not-a-port"],
        );
        Ok(())
    });
}

#[test]
fn a_file_that_cannot_be_read_is_named() {
    jailed(|jail| {
        let message = load_err(&with_file("missing.toml"));
        assert_mentions(&message, &["missing.toml", "No such file"]);

        jail.set_env("LUNAROUTE_CONFIG", "/nonexistent/lunaroute.toml");
        assert_mentions(&load_err(&none()), &["/nonexistent/lunaroute.toml"]);

        jail.create_dir("a-directory")?;
        assert_mentions(&load_err(&with_file("a-directory")), &["a-directory"]);

        jail.create_file("broken.toml", "port = \n")?;
        assert_mentions(
            &load_err(&with_file("broken.toml")),
            &["broken.toml", "line 1"],
        );
        Ok(())
    });
}

#[test]
fn invalid_values_are_rejected_at_startup() {
    let cases: &[(&str, &[&str])] = &[
        (
            "[providers.anthropic]\nbase_url = \"not a url\"",
            &["providers.anthropic.base_url", "not a url"],
        ),
        (
            "[providers.openai]\nbase_url = \"ftp://example.com\"",
            &["providers.openai.base_url", "http://"],
        ),
        (
            "[providers.openai]\nbase_url = \"http://x/v1?key=1\"",
            &["providers.openai.base_url", "query"],
        ),
        (
            "[providers.openai.http_client]\ntimeout_secs = 0",
            &["openai.http_client.timeout_secs", "greater than 0"],
        ),
        (
            "[providers.anthropic.http_client]\nconnect_timeout_secs = 0",
            &["connect_timeout_secs", "greater than 0"],
        ),
        (
            "max_request_body_bytes = 0",
            &["max_request_body_bytes", "greater than 0"],
        ),
        (
            "[providers.anthropic]\napi_key = \"\"",
            &["providers.anthropic.api_key", "empty"],
        ),
        (
            "[providers.openai]\napi_key = \"sk-1\\n\"",
            &["providers.openai.api_key", "header"],
        ),
        (
            "[providers.anthropic.codex_auth]\nenabled = true",
            &["providers.anthropic.codex_auth", "openai only"],
        ),
        (
            "api_dialect = \"openai\"\n[providers.openai]\nenabled = false",
            &["api_dialect", "nothing to serve"],
        ),
        (
            "[logging]\nlevel = \"verbose\"",
            &["logging.level", "verbose", "not a log level"],
        ),
    ];
    jailed(|jail| {
        for (toml, parts) in cases {
            jail.create_file("bad.toml", toml)?;
            let message = load_err(&with_file("bad.toml"));
            assert_mentions(&message, parts);
            assert_mentions(&message, &["bad.toml"]);
        }
        // The secret in the bad api_key is never echoed back.
        jail.create_file("bad.toml", "[providers.openai]\napi_key = \"sk-secret\\n\"")?;
        assert!(!load_err(&with_file("bad.toml")).contains("sk-secret"));

        // Flags are checked like everything else, and the message names the flag.
        let cli = CliOverrides {
            dialect: Some("gemini".into()),
            ..none()
        };
        assert_mentions(
            &load_err(&cli),
            &["api_dialect", "gemini", "--dialect flag"],
        );
        let cli = CliOverrides {
            log_level: Some("info,lunaroute=debug".into()),
            ..none()
        };
        let level = load(&cli).config.logging.level;
        assert_eq!(
            level, "info,lunaroute=debug",
            "a tracing filter is a valid level"
        );

        // A bad value from the environment names its variable, not only the file.
        jail.create_file("fine.toml", "port = 1234\n")?;
        jail.set_env("LUNAROUTE_OPENAI_TIMEOUT_SECS", "0");
        let message = load_err(&with_file("fine.toml"));
        let parts = [
            "providers.openai.http_client.timeout_secs",
            "from LUNAROUTE_OPENAI_TIMEOUT_SECS",
        ];
        assert_mentions(&message, &parts);
        Ok(())
    });
}
