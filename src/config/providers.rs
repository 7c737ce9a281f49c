//! `[providers.*]`: the two built-in tables (`anthropic`, `openai`, always present, their type
//! implied by the name) plus any number of named ones (`[providers.openrouter]`, `type` required)
//! that routing rules send requests to. Serialised as one map, so `--print-config` and the
//! TOML file have the same shape.

use super::ProviderConfig;
use serde::de::{Deserializer, Error as _};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which API a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderType {
    /// Anthropic Messages (`/v1/messages`).
    Anthropic,
    /// OpenAI: Chat Completions for translated Anthropic requests; OpenAI clients pass through.
    Openai,
    /// OpenAI, but translated Anthropic requests use the Responses API (`/v1/responses`).
    OpenaiResponses,
}

impl ProviderType {
    /// Whether its clients are the Anthropic family (else OpenAI): the same family passes through.
    pub fn is_anthropic(self) -> bool {
        self == Self::Anthropic
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anthropic => "anthropic",
            Self::Openai => "openai",
            Self::OpenaiResponses => "openai-responses",
        }
    }
}

/// The Chat Completions field that carries the output-token limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxTokensField {
    /// What current OpenAI models expect (reasoning models reject `max_tokens`).
    MaxCompletionTokens,
    /// What many OpenAI-compatible servers (older vLLM, some gateways) still expect.
    MaxTokens,
}

#[derive(Debug, Clone, Default)]
pub struct Providers {
    pub anthropic: ProviderConfig,
    pub openai: ProviderConfig,
    /// Every other `[providers.NAME]`, by name.
    pub named: BTreeMap<String, ProviderConfig>,
}

// === impl Providers ===

impl Providers {
    /// The provider configured under `name`, built-in or named.
    pub fn get(&self, name: &str) -> Option<&ProviderConfig> {
        match name {
            "anthropic" => Some(&self.anthropic),
            "openai" => Some(&self.openai),
            _ => self.named.get(name),
        }
    }

    /// Every provider with its name: the built-in two first, then the named ones in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ProviderConfig)> {
        [("anthropic", &self.anthropic), ("openai", &self.openai)]
            .into_iter()
            .chain(self.named.iter().map(|(k, v)| (k.as_str(), v)))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &mut ProviderConfig)> {
        [
            ("anthropic", &mut self.anthropic),
            ("openai", &mut self.openai),
        ]
        .into_iter()
        .chain(self.named.iter_mut().map(|(k, v)| (k.as_str(), v)))
    }

    /// The type of the provider called `name`: set, or implied by a built-in name. `None` for a
    /// named provider without `type` (validation refuses that).
    pub fn kind_of(&self, name: &str) -> Option<ProviderType> {
        let cfg = self.get(name)?;
        cfg.kind.or(match name {
            "anthropic" => Some(ProviderType::Anthropic),
            "openai" => Some(ProviderType::Openai),
            _ => None,
        })
    }
}

impl Serialize for Providers {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2 + self.named.len()))?;
        for (name, cfg) in self.iter() {
            map.serialize_entry(name, cfg)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Providers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut all = BTreeMap::<String, ProviderConfig>::deserialize(d)?;
        if let Some(bad) = all.keys().find(|k| k.trim().is_empty() || k.contains('.')) {
            return Err(D::Error::custom(format!(
                "`{bad}` is not a usable provider name (no dots, not empty)"
            )));
        }
        Ok(Self {
            anthropic: all.remove("anthropic").unwrap_or_default(),
            openai: all.remove("openai").unwrap_or_default(),
            named: all,
        })
    }
}
