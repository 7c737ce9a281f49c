//! `[routing]`: model rules (`[[routing.rules]]`), the circuit breaker and the retry-after cap, and
//! their validation together with the named providers they point at. Without rules nothing here
//! has any effect: every request goes to the provider of its own dialect, as it always did.

use super::{Config, Dialect, ProviderType};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Routing {
    /// Checked in order; the first whose `model` matches the request's model decides.
    pub rules: Vec<RoutingRule>,
    /// A provider that answers 429/503 with `retry-after` gets no request for that long, at most
    /// this many seconds (0 ignores `retry-after`).
    pub retry_after_cap_secs: u64,
    pub circuit_breaker: CircuitBreakerConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingRule {
    /// An exact model name, or a pattern with `*` (any run of characters), e.g. `claude-*`.
    pub model: String,
    /// A `[providers.NAME]`.
    pub provider: String,
    /// The model name the provider gets instead of the client's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_rewrite: Option<String>,
    /// Tried in order when the provider cannot be reached or answers 5xx/429 before anything
    /// reached the client: a provider name, or `{ provider = "...", model = "..." }`.
    #[serde(default)]
    pub fallbacks: Vec<Fallback>,
    /// Output limit for translated requests toward Anthropic that name none (over the provider's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Fallback {
    /// The provider, with the client's model name.
    Name(String),
    /// The provider with a model name of its own.
    Target {
        provider: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CircuitBreakerConfig {
    /// Consecutive failures (unreachable, timeout, 5xx) that open a provider's breaker.
    pub failure_threshold: u32,
    /// How long an open breaker keeps requests away before one probe request is let through.
    pub open_secs: u64,
}

// === impl Fallback ===

impl Fallback {
    pub fn provider(&self) -> &str {
        match self {
            Self::Name(name) => name,
            Self::Target { provider, .. } => provider,
        }
    }

    pub fn model(&self) -> Option<&str> {
        match self {
            Self::Name(_) => None,
            Self::Target { model, .. } => model.as_deref(),
        }
    }
}

// === defaults ===

impl Default for Routing {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            retry_after_cap_secs: 60,
            circuit_breaker: CircuitBreakerConfig::default(),
        }
    }
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            open_secs: 30,
        }
    }
}

// === validation ===

type Invalid = (String, String);

fn fail<T>(key: impl Into<String>, why: impl Into<String>) -> Result<T, Invalid> {
    Err((key.into(), why.into()))
}

/// The named providers and the rules: every name a rule uses exists, is enabled and has a type;
/// settings are on providers they apply to. `translate_compiled`: without translation a rule that
/// can only work translated is refused here rather than failing on every request.
pub(super) fn validate(config: &Config, translate_compiled: bool) -> Result<(), Invalid> {
    let providers = &config.providers;
    for (name, cfg) in &providers.named {
        if cfg.kind.is_none() {
            return fail(
                format!("providers.{name}.type"),
                "is required for a provider of your own: \"anthropic\", \"openai\" or \"openai-responses\"",
            );
        }
    }
    if providers
        .anthropic
        .kind
        .is_some_and(|k| k != ProviderType::Anthropic)
    {
        return fail("providers.anthropic.type", "can only be \"anthropic\"");
    }
    if providers.openai.kind == Some(ProviderType::Anthropic) {
        return fail(
            "providers.openai.type",
            "can only be \"openai\" or \"openai-responses\"",
        );
    }
    for (name, cfg) in providers.iter() {
        let anthropic = providers
            .kind_of(name)
            .is_some_and(ProviderType::is_anthropic);
        if anthropic && cfg.codex_auth.enabled {
            return fail(
                format!("providers.{name}.codex_auth.enabled"),
                "Codex sign-in applies to providers of type openai only",
            );
        }
        if anthropic && cfg.max_tokens_field.is_some() {
            return fail(
                format!("providers.{name}.max_tokens_field"),
                "applies to providers of type openai only (Chat Completions)",
            );
        }
        if cfg.max_tokens == Some(0) {
            return fail(
                format!("providers.{name}.max_tokens"),
                "must be greater than 0",
            );
        }
    }

    let routing = &config.routing;
    if routing.circuit_breaker.failure_threshold == 0 {
        return fail(
            "routing.circuit_breaker.failure_threshold",
            "must be greater than 0",
        );
    }
    if routing.circuit_breaker.open_secs == 0 {
        return fail(
            "routing.circuit_breaker.open_secs",
            "must be greater than 0",
        );
    }
    for (i, rule) in routing.rules.iter().enumerate() {
        let key = |field: &str| format!("routing.rules[{i}].{field}");
        if rule.model.trim().is_empty() {
            return fail(
                key("model"),
                "needs a model name or a pattern such as \"claude-*\"",
            );
        }
        if rule
            .model_rewrite
            .as_deref()
            .is_some_and(|m| m.trim().is_empty())
        {
            return fail(
                key("model_rewrite"),
                "is empty (leave it out to keep the client's model)",
            );
        }
        if rule.max_tokens == Some(0) {
            return fail(key("max_tokens"), "must be greater than 0");
        }
        // Rules are tried in order and the first match wins: a rule an earlier one covers
        // entirely would never be used, which is never what its author meant.
        if let Some(earlier) = routing.rules[..i]
            .iter()
            .position(|e| crate::routing::glob_match(&e.model, &rule.model))
        {
            return fail(
                key("model"),
                format!(
                    "`{}` is never reached: routing.rules[{earlier}] (`{}`) comes first and matches \
                     every model this rule would (put the narrower rule first)",
                    rule.model, routing.rules[earlier].model
                ),
            );
        }
        check_provider(config, &key("provider"), &rule.provider)?;
        // A target without a model sends the client's; for an exact-name rule that is the name.
        let exact = (!rule.model.contains('*')).then_some(rule.model.as_str());
        let mut targets = vec![(
            rule.provider.as_str(),
            rule.model_rewrite.as_deref().or(exact),
        )];
        for (j, fallback) in rule.fallbacks.iter().enumerate() {
            let at = format!("{}[{j}]", key("fallbacks"));
            check_provider(config, &at, fallback.provider())?;
            if fallback.model().is_some_and(|m| m.trim().is_empty()) {
                return fail(format!("{at}.model"), "is empty");
            }
            let target = (fallback.provider(), fallback.model().or(exact));
            if targets.contains(&target) {
                return fail(
                    at,
                    format!(
                        "sends to `{}` with the same model as an earlier target of this rule, \
                         which would only repeat the request that just failed",
                        target.0
                    ),
                );
            }
            targets.push(target);
        }
        if !translate_compiled {
            check_untranslated(config, rule).or_else(|why| fail(key("provider"), why))?;
        }
    }
    Ok(())
}

fn check_provider(config: &Config, key: &str, name: &str) -> Result<(), Invalid> {
    let Some(cfg) = config.providers.get(name) else {
        let mut known: Vec<&str> = config.providers.iter().map(|(n, _)| n).collect();
        known.sort_unstable();
        return fail(
            key,
            format!(
                "names provider `{name}`, which is not configured (known: {}); add a [providers.{name}] table",
                known.join(", ")
            ),
        );
    };
    if !cfg.enabled {
        return fail(
            key,
            format!("names provider `{name}`, which is disabled (providers.{name}.enabled)"),
        );
    }
    Ok(())
}

/// In a build without `translate`: the rule must be usable by some client without translation,
/// i.e. all its providers speak one family and that family's client API is served.
fn check_untranslated(config: &Config, rule: &RoutingRule) -> Result<(), String> {
    let names = std::iter::once(rule.provider.as_str())
        .chain(rule.fallbacks.iter().map(Fallback::provider));
    let mut families =
        names.filter_map(|n| config.providers.kind_of(n).map(ProviderType::is_anthropic));
    let first = families.next().unwrap_or(true);
    if families.any(|f| f != first) {
        return Err("mixes Anthropic and OpenAI providers, which needs translation, and this build has no `translate` feature".into());
    }
    let served = match config.api_dialect {
        Dialect::Both => true,
        Dialect::Anthropic => first,
        Dialect::Openai => !first,
    };
    if !served {
        return Err("sends the only clients served (api_dialect) to a provider of the other dialect, which needs translation, and this build has no `translate` feature".into());
    }
    Ok(())
}
