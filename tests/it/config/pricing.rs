//! `[pricing."prefix"]`: extra or corrected model prices, from the file or the nested env form,
//! checked once at startup like every other key.

use super::{assert_mentions, jailed, load, load_err, none, with_file};
use lunaroute::config::PriceConfig;

#[test]
fn price_entries_load_from_the_file_with_optional_cache_rates() {
    jailed(|jail| {
        let toml = r#"
[pricing."claude-sonnet-4"]
input = 3
output = 15.0

[pricing."gpt-5.1"]
input = 1.25
output = 10
cache_write = 1.25
cache_read = 0.125
"#;
        jail.create_file("prices.toml", toml)?;
        let pricing = load(&with_file("prices.toml")).config.pricing;
        let sonnet = PriceConfig {
            input: 3.0,
            output: 15.0,
            cache_write: None,
            cache_read: None,
        };
        let gpt = PriceConfig {
            input: 1.25,
            output: 10.0,
            cache_write: Some(1.25),
            cache_read: Some(0.125),
        };
        assert_eq!(pricing.get("claude-sonnet-4"), Some(&sonnet));
        // A dotted model name stays one key.
        assert_eq!(pricing.get("gpt-5.1"), Some(&gpt));
        assert_eq!(pricing.len(), 2);
        Ok(())
    });
}

#[test]
fn price_entries_load_from_the_nested_env_form() {
    jailed(|jail| {
        jail.set_env("LUNAROUTE_PRICING__MY_MODEL__INPUT", "2");
        jail.set_env("LUNAROUTE_PRICING__MY_MODEL__OUTPUT", "4.5");
        let loaded = load(&none());
        assert!(loaded.ignored_env.is_empty(), "{:?}", loaded.ignored_env);
        let entry = &loaded.config.pricing["my_model"];
        assert_eq!((entry.input, entry.output), (2.0, 4.5));
        Ok(())
    });
}

#[test]
fn bad_price_entries_stop_startup_naming_the_key() {
    jailed(|jail| {
        jail.create_file(
            "typo.toml",
            "[pricing.\"m\"]\ninput = 1\noutput = 2\ncache_reed = 1\n",
        )?;
        assert_mentions(
            &load_err(&with_file("typo.toml")),
            &["cache_reed", "typo.toml"],
        );

        jail.create_file("missing.toml", "[pricing.\"m\"]\ninput = 1\n")?;
        assert_mentions(
            &load_err(&with_file("missing.toml")),
            &["output", "missing.toml"],
        );

        jail.create_file("negative.toml", "[pricing.\"m\"]\ninput = -1\noutput = 2\n")?;
        let message = load_err(&with_file("negative.toml"));
        assert_mentions(&message, &["pricing.\"m\".input", "0 or more", "-1"]);

        jail.create_file(
            "text.toml",
            "[pricing.\"m\"]\ninput = \"cheap\"\noutput = 2\n",
        )?;
        assert_mentions(&load_err(&with_file("text.toml")), &["input", "text.toml"]);
        Ok(())
    });
}
