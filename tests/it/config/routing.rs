//! `[providers.NAME]` and `[routing]`: named providers and rules load as written (`${VAR}` in
//! their keys too), and every mistake in them stops startup naming the key: a rule naming an
//! unknown or disabled provider, a bad or missing `type`, settings on the wrong provider type.

use super::{assert_mentions, jailed, load_err, with_file};
use crate::support::process::{run, server, TempHome};

const ROUTED: &str = r#"
[providers.openrouter]
type = "openai"
base_url = "https://openrouter.ai/api/v1"
api_key = "${OR_TEST_KEY}"
max_tokens_field = "max_tokens"

[providers.claude]
type = "anthropic"
max_tokens = 8192

[providers.openai]
type = "openai-responses"

[routing]
retry_after_cap_secs = 5

[routing.circuit_breaker]
failure_threshold = 3
open_secs = 7

[[routing.rules]]
model = "claude-*"
provider = "openrouter"
model_rewrite = "anthropic/claude-sonnet-4.5"
fallbacks = ["anthropic", { provider = "claude", model = "claude-haiku-4-5" }]

[[routing.rules]]
model = "gpt-5"
provider = "claude"
max_tokens = 1000
"#;

// The rules mix dialects, which only a build with translation accepts (the slim build's refusal
// is `a_slim_build_refuses_rules_that_need_translation`).
#[cfg(feature = "translate")]
#[test]
fn named_providers_and_rules_load_as_written() {
    use super::{as_json, load};
    use lunaroute::config::{Fallback, MaxTokensField, ProviderType};
    jailed(|jail| {
        jail.create_file("routed.toml", ROUTED)?;
        jail.set_env("OR_TEST_KEY", "sk-or-test-123");
        let config = load(&with_file("routed.toml")).config;
        let providers = &config.providers;
        let openrouter = &providers.named["openrouter"];
        assert_eq!(openrouter.kind, Some(ProviderType::Openai));
        assert_eq!(
            openrouter.api_key.as_ref().map(|k| k.expose()),
            Some("sk-or-test-123"),
            "${{VAR}} is expanded in named providers too"
        );
        assert_eq!(openrouter.max_tokens_field, Some(MaxTokensField::MaxTokens));
        assert_eq!(providers.named["claude"].max_tokens, Some(8192));
        assert_eq!(
            providers.kind_of("anthropic"),
            Some(ProviderType::Anthropic)
        );
        assert_eq!(
            providers.kind_of("openai"),
            Some(ProviderType::OpenaiResponses)
        );
        let names: Vec<&str> = providers.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["anthropic", "openai", "claude", "openrouter"]);

        let routing = &config.routing;
        assert_eq!(routing.retry_after_cap_secs, 5);
        assert_eq!(routing.circuit_breaker.failure_threshold, 3);
        assert_eq!(routing.circuit_breaker.open_secs, 7);
        let first = &routing.rules[0];
        assert_eq!(
            (first.model.as_str(), first.provider.as_str()),
            ("claude-*", "openrouter")
        );
        assert_eq!(
            first.fallbacks,
            [
                Fallback::Name("anthropic".into()),
                Fallback::Target {
                    provider: "claude".into(),
                    model: Some("claude-haiku-4-5".into())
                }
            ]
        );
        assert_eq!(routing.rules[1].max_tokens, Some(1000));

        // `--print-config` shape: one providers map, the key masked.
        let shown = as_json(&config);
        assert_eq!(shown["providers"]["openrouter"]["type"], "openai");
        assert_eq!(shown["providers"]["openai"]["type"], "openai-responses");
        let key = shown["providers"]["openrouter"]["api_key"].to_string();
        assert!(key.contains("***#") && !key.contains("sk-or"), "{key}");
        assert_eq!(shown["routing"]["rules"][0]["fallbacks"][0], "anthropic");
        Ok(())
    });
}

#[cfg(not(feature = "translate"))]
#[test]
fn a_slim_build_refuses_rules_that_need_translation() {
    jailed(|jail| {
        jail.create_file("routed.toml", ROUTED)?;
        jail.set_env("OR_TEST_KEY", "sk-or-test-123");
        let message = load_err(&with_file("routed.toml"));
        assert_mentions(
            &message,
            &[
                "routing.rules[0].provider",
                "needs translation",
                "no `translate` feature",
            ],
        );
        assert!(!message.contains("sk-or-test-123"), "{message}");
        Ok(())
    });
}

#[test]
fn a_narrower_rule_first_and_another_model_on_the_same_provider_are_fine() {
    jailed(|jail| {
        let toml = r#"
[[routing.rules]]
model = "gpt-5-mini"
provider = "openai"
fallbacks = [{ provider = "openai", model = "gpt-5-nano" }]

[[routing.rules]]
model = "gpt-*"
provider = "openai"
model_rewrite = "gpt-5"
fallbacks = ["openai"]
"#;
        jail.create_file("ordered.toml", toml)?;
        let loaded = lunaroute::config::load(&with_file("ordered.toml"));
        let rules = loaded.map(|l| l.config.routing.rules.len());
        assert_eq!(rules.map_err(|e| e.to_string()), Ok(2));
        Ok(())
    });
}

#[test]
fn mistakes_in_providers_and_rules_name_the_key() {
    let rule =
        |provider: &str| format!("[[routing.rules]]\nmodel = \"m\"\nprovider = \"{provider}\"\n");
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            rule("nowhere"),
            vec![
                "routing.rules[0].provider",
                "`nowhere`",
                "not configured",
                "anthropic, openai",
            ],
        ),
        (
            format!("{}fallbacks = [\"ghost\"]\n", rule("openai")),
            vec!["routing.rules[0].fallbacks[0]", "`ghost`"],
        ),
        (
            format!("[providers.openai]\nenabled = false\n{}", rule("openai")),
            vec!["routing.rules[0].provider", "disabled"],
        ),
        (
            "[providers.gw]\ntype = \"gemini\"\n".into(),
            vec!["providers.gw.type", "gemini", "openai-responses"],
        ),
        (
            "[providers.gw]\nbase_url = \"http://x\"\n".into(),
            vec!["providers.gw.type", "required"],
        ),
        (
            "[providers.gw]\ntype = \"openai\"\nbase_url = \"ftp://x\"\n".into(),
            vec!["providers.gw.base_url", "http://"],
        ),
        (
            "[providers.gw]\ntype = \"openai\"\nbas_url = \"http://x\"\n".into(),
            vec!["bas_url", "base_url"],
        ),
        (
            "[providers.anthropic]\ntype = \"openai\"\n".into(),
            vec!["providers.anthropic.type", "anthropic"],
        ),
        (
            "[providers.gw]\ntype = \"anthropic\"\nmax_tokens_field = \"max_tokens\"\n".into(),
            vec!["providers.gw.max_tokens_field", "openai"],
        ),
        (
            "[providers.gw]\ntype = \"anthropic\"\n[providers.gw.codex_auth]\nenabled = true\n"
                .into(),
            vec!["providers.gw.codex_auth.enabled", "openai only"],
        ),
        (
            "[routing.circuit_breaker]\nfailure_threshold = 0\n".into(),
            vec![
                "routing.circuit_breaker.failure_threshold",
                "greater than 0",
            ],
        ),
        (
            "[[routing.rules]]\nmodel = \"\"\nprovider = \"openai\"\n".into(),
            vec!["routing.rules[0].model"],
        ),
        (
            "[[routing.rules]]\nprovider = \"openai\"\n".into(),
            vec!["model"],
        ),
        // A rule an earlier one covers is never used: same pattern, a wider glob, or `*`.
        (
            format!(
                "{}[[routing.rules]]\nmodel = \"gpt-5-mini\"\nprovider = \"openai\"\n",
                rule("openai").replace("\"m\"", "\"gpt-*\"")
            ),
            vec![
                "routing.rules[1].model",
                "never reached",
                "routing.rules[0] (`gpt-*`)",
            ],
        ),
        (
            format!(
                "{}[[routing.rules]]\nmodel = \"gpt-*-mini\"\nprovider = \"openai\"\n",
                rule("openai").replace("\"m\"", "\"*\"")
            ),
            vec!["routing.rules[1].model", "never reached"],
        ),
        (
            format!("{}{}", rule("openai"), rule("anthropic")),
            vec!["routing.rules[1].model", "`m`"],
        ),
        // A fallback to the target that just failed.
        (
            format!("{}fallbacks = [\"openai\"]\n", rule("openai")),
            vec!["routing.rules[0].fallbacks[0]", "`openai`", "same model"],
        ),
        (
            format!(
                "{}fallbacks = [\"anthropic\", {{ provider = \"anthropic\" }}]\n",
                rule("openai")
            ),
            vec!["routing.rules[0].fallbacks[1]", "`anthropic`"],
        ),
        // Naming the client's own model on the same provider is the same request again.
        (
            format!(
                "{}fallbacks = [{{ provider = \"openai\", model = \"m\" }}]\n",
                rule("openai")
            ),
            vec!["routing.rules[0].fallbacks[0]", "same model"],
        ),
    ];
    jailed(|jail| {
        for (i, (toml, parts)) in cases.iter().enumerate() {
            let file = format!("case{i}.toml");
            jail.create_file(&file, toml)?;
            let message = load_err(&with_file(&file));
            assert_mentions(&message, parts);
            assert_mentions(&message, &[&file]);
        }
        Ok(())
    });
}

#[test]
fn a_rule_for_an_unknown_provider_exits_2() {
    let home = TempHome::new();
    let file = home.write(
        "rules.toml",
        "[[routing.rules]]\nmodel = \"claude-*\"\nprovider = \"openrouter\"\n",
    );
    let (code, stdout, stderr) = run(server(&home).arg("--config").arg(&file));
    assert_eq!(code, Some(2), "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stderr.contains("routing.rules[0].provider") && stderr.contains("openrouter"),
        "{stderr}"
    );
}
