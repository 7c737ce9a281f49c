//! Model routing (`[[routing.rules]]`): which configured provider serves a request, decided by the
//! model the request names. Built once at startup from a validated config (`Routes::new`); absent
//! when there are no rules, in which case nothing here runs and every request goes to the
//! provider of its own dialect as before. The proxy side lives in `proxy::routed`.

mod breaker;

pub(crate) use breaker::{Breaker, Permit, Unavailable};

use crate::config::{Config, MaxTokensField, ProviderType};
use crate::error::StartupError;
use crate::providers::Provider;
use crate::proxy::upstream::Upstream;
use std::time::Duration;

/// The API shape of one side of an exchange. The client's comes from the path it called; the
/// provider's from its `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    Anthropic,
    Chat,
    Responses,
}

impl Wire {
    /// Anthropic or OpenAI: within one family requests pass through untranslated.
    pub fn family(self) -> Provider {
        match self {
            Self::Anthropic => Provider::Anthropic,
            Self::Chat | Self::Responses => Provider::OpenAi,
        }
    }
}

/// One provider a rule can send to: its upstream (own connection pool), breaker and settings.
pub(crate) struct RoutedProvider {
    /// The `[providers.NAME]` key; also the `provider` metrics label (bounded by the config).
    pub name: &'static str,
    pub kind: ProviderType,
    pub upstream: Upstream,
    pub breaker: Breaker,
    pub max_tokens: Option<u64>,
    pub max_tokens_field: MaxTokensField,
}

impl RoutedProvider {
    pub fn family(&self) -> Provider {
        if self.kind.is_anthropic() {
            Provider::Anthropic
        } else {
            Provider::OpenAi
        }
    }

    /// The API a request from `client` is sent in: its own when the family matches, else the
    /// one this provider's type translates to.
    pub fn wire_for(&self, client: Wire) -> Wire {
        if client.family() == self.family() {
            return client;
        }
        match self.kind {
            ProviderType::Anthropic => Wire::Anthropic,
            ProviderType::Openai => Wire::Chat,
            ProviderType::OpenaiResponses => Wire::Responses,
        }
    }
}

/// Where one attempt goes: a provider (index into `Routes::providers`) and the model it gets
/// (`None`: the client's own).
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub provider: usize,
    pub model: Option<String>,
}

pub(crate) struct Rule {
    pattern: String,
    /// The provider first, then the fallbacks in order.
    pub candidates: Vec<Candidate>,
    pub max_tokens: Option<u64>,
}

pub(crate) struct Routes {
    providers: Vec<RoutedProvider>,
    rules: Vec<Rule>,
    pub retry_after_cap: Duration,
}

// === impl Routes ===

impl Routes {
    /// Brings every breaker's exported state up to date (see `Breaker::refresh`).
    pub fn refresh_breakers(&self) {
        for provider in &self.providers {
            provider.breaker.refresh();
        }
    }

    /// The routing table, or `None` when the config has no rules. Every provider a rule names
    /// gets its own upstream (pool) and breaker, built-in names included.
    pub fn new(config: &Config) -> Result<Option<Self>, StartupError> {
        let routing = &config.routing;
        if routing.rules.is_empty() {
            return Ok(None);
        }
        let mut providers: Vec<RoutedProvider> = Vec::new();
        let mut index_of = |name: &str| -> Result<usize, StartupError> {
            if let Some(i) = providers.iter().position(|p| p.name == name) {
                return Ok(i);
            }
            let (Some(cfg), Some(kind)) =
                (config.providers.get(name), config.providers.kind_of(name))
            else {
                // `config::load` validated every name; a hand-built Config may not have been.
                return Err(StartupError::new(
                    "setting up routing",
                    format!("a rule names provider `{name}`, which is not configured"),
                ));
            };
            // Leaked once per provider at startup, so metrics labels can be `&'static str`.
            let name: &'static str = Box::leak(name.to_string().into_boxed_str());
            let family = if kind.is_anthropic() {
                Provider::Anthropic
            } else {
                Provider::OpenAi
            };
            let breaker = &routing.circuit_breaker;
            providers.push(RoutedProvider {
                name,
                kind,
                upstream: Upstream::new(family, name, cfg)?,
                breaker: Breaker::new(
                    name,
                    breaker.failure_threshold,
                    Duration::from_secs(breaker.open_secs),
                ),
                max_tokens: cfg.max_tokens,
                max_tokens_field: cfg
                    .max_tokens_field
                    .unwrap_or(MaxTokensField::MaxCompletionTokens),
            });
            Ok(providers.len() - 1)
        };
        let mut rules = Vec::new();
        for rule in &routing.rules {
            let mut candidates = vec![Candidate {
                provider: index_of(&rule.provider)?,
                model: rule.model_rewrite.clone(),
            }];
            for fallback in &rule.fallbacks {
                candidates.push(Candidate {
                    provider: index_of(fallback.provider())?,
                    model: fallback.model().map(str::to_string),
                });
            }
            rules.push(Rule {
                pattern: rule.model.clone(),
                candidates,
                max_tokens: rule.max_tokens,
            });
        }
        Ok(Some(Self {
            providers,
            rules,
            retry_after_cap: Duration::from_secs(routing.retry_after_cap_secs),
        }))
    }

    /// The first rule whose pattern matches `model`.
    pub fn rule_for(&self, model: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| glob_match(&r.pattern, model))
    }

    pub fn provider(&self, index: usize) -> &RoutedProvider {
        &self.providers[index]
    }

    /// The model names rules give exactly (patterns cannot be listed), in rule order, once each:
    /// what `GET /v1/models` answers with when routing is on.
    pub fn listed_models(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for rule in &self.rules {
            if !rule.pattern.contains('*') && !names.contains(&rule.pattern.as_str()) {
                names.push(&rule.pattern);
            }
        }
        names
    }
}

/// `*` matches any run of characters (also none); everything else matches itself.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was, and the text position it currently stands for the end of.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            // Let the star swallow one more character and retry from there.
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs_match_runs_and_exact_names() {
        for (pattern, text) in [
            ("claude-*", "claude-sonnet-4-5"),
            ("claude-*", "claude-"),
            ("*", ""),
            ("*sonnet*", "claude-sonnet-4"),
            ("gpt-*-mini", "gpt-5.4-mini"),
            ("a*b*c", "aXbYbZc"),
            ("exact", "exact"),
        ] {
            assert!(glob_match(pattern, text), "{pattern} vs {text}");
        }
        for (pattern, text) in [
            ("claude-*", "gpt-5"),
            ("claude-*", "claude"),
            ("exact", "exact2"),
            ("gpt-*-mini", "gpt-5-nano"),
            ("a*b*c", "aXbYbZ"),
        ] {
            assert!(!glob_match(pattern, text), "{pattern} vs {text}");
        }
    }
}
