//! The offline price list: USD per million tokens (input, output, cache write, cache read) for
//! Anthropic and OpenAI models, matched by the longest model-name prefix, extended or overridden by
//! `[pricing."prefix"]` in the config. A model the table does not know costs `None`: never a guess.
//! Nothing here touches the network.
//!
//! Sources (list prices, standard tier, checked 2026-12-03):
//! - Anthropic: platform.claude.com/docs/en/about-claude/pricing and the per-model overview pages
//!   (`/docs/en/models/<model>/overview`). Cache write is the 5-minute rate (1.25× input); usage
//!   does not split 5-minute from 1-hour writes in `Usage`, so 1-hour writes (2× input) are
//!   under-counted. Sonnet 5.5's cache-read cut to $0.10 (2026-10-07) is from the pricing-page
//!   change as reported by several price trackers. Not modelled: `inference_geo: "us"` (1.1×),
//!   fast mode, Batch API discounts.
//! - OpenAI: developers.openai.com/api/docs/pricing and the per-model pages; GPT-5.2/5.1/5-pro
//!   from the GPT-5.2 launch post. OpenAI has no cache-write charge, so cache write = input (its
//!   usage never reports cache creation anyway). Not modelled: the >270K-context rates of
//!   GPT-5.4/5.5, flex/priority tiers, Batch discounts.
//!
//! Matching: the longest table key that is a prefix of the (lower-cased) model name and ends where
//! the name does or at a separator (`-`, `@`, `:`, `_`, `[`), so `claude-sonnet-4` matches
//! `claude-sonnet-4-20250514` but `gpt-5` never matches `gpt-5.5` (`.` is part of the version).
//! A new minor version such as `claude-opus-4-9` still inherits its family key (`claude-opus-4`)
//! until the table learns it; add a `[pricing."claude-opus-4-9"]` entry if the price differs.

use super::record::Usage;
use crate::config::PriceConfig;
use std::collections::BTreeMap;

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rates {
    pub input: f64,
    pub output: f64,
    pub cache_write: f64,
    pub cache_read: f64,
}

/// One table entry: the base rates, and for models billed by prompt length, the rates every token
/// of a request pays once its prompt (input + cache reads + cache writes) exceeds a threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Entry {
    base: Rates,
    long_prompt: Option<(u64, Rates)>,
}

#[derive(Debug, Clone)]
pub(crate) struct Pricing {
    /// Keyed by lower-cased model-name prefix.
    entries: BTreeMap<String, Entry>,
}

const fn r(input: f64, output: f64, cache_write: f64, cache_read: f64) -> Rates {
    Rates {
        input,
        output,
        cache_write,
        cache_read,
    }
}

/// OpenAI: no cache-write premium, so cache write is billed (if ever reported) as input.
const fn oa(input: f64, cached: f64, output: f64) -> Rates {
    r(input, output, input, cached)
}

/// Anthropic's usual shape: 5-minute cache writes at 1.25× input, cache hits at 0.1× input.
const fn an(input: f64, output: f64) -> Rates {
    r(input, output, input * 1.25, input * 0.1)
}

const BUILTIN: &[(&str, Rates)] = &[
    // --- Anthropic: Claude 5 generation ---
    ("claude-fable-5", r(10.0, 50.0, 12.5, 1.0)),
    ("claude-fable-5-1", r(10.0, 50.0, 12.5, 0.25)),
    ("claude-fable-5-2", r(8.0, 40.0, 10.0, 0.2)),
    ("claude-mythos-5", r(10.0, 50.0, 12.5, 1.0)),
    ("claude-mythos-5-1", r(10.0, 50.0, 12.5, 0.25)),
    ("claude-mythos-5-2", r(8.0, 40.0, 10.0, 0.2)),
    ("claude-opus-5", an(5.0, 25.0)),
    ("claude-opus-5-5", r(4.0, 20.0, 5.0, 0.2)),
    ("claude-sonnet-5", r(2.0, 10.0, 2.5, 0.2)),
    ("claude-sonnet-5-5", r(2.0, 10.0, 2.5, 0.1)),
    // Haiku 5.5: see LONG_PROMPT for prompts over 100K tokens.
    ("claude-haiku-5-5", r(0.1, 0.5, 0.125, 0.01)),
    // --- Anthropic: Claude 4 generation ---
    ("claude-opus-4", an(15.0, 75.0)), // claude-opus-4-0, claude-opus-4-20250514
    ("claude-opus-4-1", an(15.0, 75.0)),
    ("claude-opus-4-5", an(5.0, 25.0)),
    ("claude-opus-4-6", an(5.0, 25.0)),
    ("claude-opus-4-7", an(5.0, 25.0)),
    ("claude-opus-4-8", an(5.0, 25.0)),
    // Sonnet 4 and 4.5: see LONG_PROMPT for the 1M-context beta over 200K tokens.
    ("claude-sonnet-4", an(3.0, 15.0)),
    ("claude-sonnet-4-5", an(3.0, 15.0)),
    ("claude-sonnet-4-6", an(3.0, 15.0)),
    ("claude-haiku-4-5", an(1.0, 5.0)),
    // --- Anthropic: Claude 3 generation (ids put the version first) ---
    ("claude-3-7-sonnet", an(3.0, 15.0)),
    ("claude-3-5-sonnet", an(3.0, 15.0)),
    ("claude-3-5-haiku", r(0.8, 4.0, 1.0, 0.08)),
    ("claude-3-opus", an(15.0, 75.0)),
    ("claude-3-haiku", r(0.25, 1.25, 0.3, 0.03)),
    // --- OpenAI: GPT-5 family ---
    ("gpt-5", oa(1.25, 0.125, 10.0)), // also gpt-5-chat-latest, gpt-5-codex, dated snapshots
    ("gpt-5-mini", oa(0.25, 0.025, 2.0)),
    ("gpt-5-nano", oa(0.05, 0.005, 0.4)),
    ("gpt-5-pro", oa(15.0, 15.0, 120.0)),
    ("gpt-5.1", oa(1.25, 0.125, 10.0)), // also gpt-5.1-codex, gpt-5.1-codex-max
    ("gpt-5.1-codex-mini", oa(0.25, 0.025, 2.0)),
    ("gpt-5.2", oa(1.75, 0.175, 14.0)), // also gpt-5.2-codex
    ("gpt-5.2-pro", oa(21.0, 21.0, 168.0)),
    ("gpt-5.3-codex", oa(1.75, 0.175, 14.0)),
    ("gpt-5.4", oa(2.5, 0.25, 15.0)),
    ("gpt-5.4-mini", oa(0.75, 0.075, 4.5)),
    ("gpt-5.4-nano", oa(0.2, 0.02, 1.25)),
    ("gpt-5.4-pro", oa(30.0, 30.0, 180.0)),
    ("gpt-5.5", oa(5.0, 0.5, 30.0)),
    ("gpt-5.5-pro", oa(30.0, 30.0, 180.0)),
    ("codex-mini-latest", oa(1.5, 0.375, 6.0)),
    // --- OpenAI: GPT-4.1 and GPT-4o ---
    ("gpt-4.1", oa(2.0, 0.5, 8.0)),
    ("gpt-4.1-mini", oa(0.4, 0.1, 1.6)),
    ("gpt-4.1-nano", oa(0.1, 0.025, 0.4)),
    ("gpt-4o", oa(2.5, 1.25, 10.0)),
    ("gpt-4o-2024-05-13", oa(5.0, 5.0, 15.0)),
    ("gpt-4o-mini", oa(0.15, 0.075, 0.6)),
    ("chatgpt-4o-latest", oa(5.0, 5.0, 15.0)),
    // --- OpenAI: o-series reasoning models ---
    ("o1", oa(15.0, 7.5, 60.0)),
    ("o1-mini", oa(1.1, 0.55, 4.4)),
    ("o1-pro", oa(150.0, 150.0, 600.0)),
    ("o3", oa(2.0, 0.5, 8.0)),
    ("o3-mini", oa(1.1, 0.55, 4.4)),
    ("o3-pro", oa(20.0, 20.0, 80.0)),
    ("o3-deep-research", oa(10.0, 2.5, 40.0)),
    ("o4-mini", oa(1.1, 0.275, 4.4)),
    ("o4-mini-deep-research", oa(2.0, 0.5, 8.0)),
];

/// Entries billed by prompt length: (key, threshold in prompt tokens, rates above it).
const LONG_PROMPT: &[(&str, u64, Rates)] = &[
    ("claude-sonnet-4", 200_000, r(6.0, 22.5, 7.5, 0.6)),
    ("claude-sonnet-4-5", 200_000, r(6.0, 22.5, 7.5, 0.6)),
    ("claude-haiku-5-5", 100_000, r(0.5, 2.5, 0.625, 0.05)),
];

/// Characters that may follow a matched prefix: a model name goes on after one of these.
const SEPARATORS: &[char] = &['-', '@', ':', '_', '['];

// === impl Pricing ===

impl Pricing {
    /// The built-in table (see the module docs for sources and date).
    pub(crate) fn builtin() -> Self {
        let mut entries: BTreeMap<String, Entry> = BUILTIN
            .iter()
            .map(|(key, base)| {
                let entry = Entry {
                    base: *base,
                    long_prompt: None,
                };
                (key.to_string(), entry)
            })
            .collect();
        for (key, threshold, rates) in LONG_PROMPT {
            if let Some(entry) = entries.get_mut(*key) {
                entry.long_prompt = Some((*threshold, *rates));
            }
        }
        Self { entries }
    }

    /// Config entries replace a built-in entry with the same prefix, or add a new one. An entry
    /// from config has flat rates (no prompt-length tier).
    pub(crate) fn with_overrides(mut self, overrides: &BTreeMap<String, PriceConfig>) -> Self {
        for (prefix, price) in overrides {
            let base = r(
                price.input,
                price.output,
                price.cache_write.unwrap_or(price.input),
                price.cache_read.unwrap_or(price.input),
            );
            let entry = Entry {
                base,
                long_prompt: None,
            };
            self.entries
                .insert(prefix.trim().to_ascii_lowercase(), entry);
        }
        self
    }

    /// The rates the longest matching prefix gives `model`, before any prompt-length tier.
    #[cfg(test)]
    pub(crate) fn rates(&self, model: &str) -> Option<Rates> {
        self.entry(model).map(|e| e.base)
    }

    fn entry(&self, model: &str) -> Option<&Entry> {
        let model = model.trim().to_ascii_lowercase();
        // Every place the name could be cut: at each separator, and at its end. Longest first.
        let cuts = model
            .char_indices()
            .filter(|(_, c)| SEPARATORS.contains(c))
            .map(|(i, _)| i)
            .chain(std::iter::once(model.len()));
        let mut cuts: Vec<usize> = cuts.collect();
        cuts.reverse();
        cuts.into_iter()
            .filter(|&i| i > 0)
            .find_map(|i| self.entries.get(&model[..i]))
    }

    /// The cost of one request in USD, or `None` when no table entry matches `model`.
    /// `usage.input` already excludes cache reads and writes, and `usage.output` includes
    /// thinking/reasoning tokens, so the four counts are disjoint and each is billed once.
    pub(crate) fn cost(&self, model: &str, usage: &Usage) -> Option<f64> {
        let entry = self.entry(model)?;
        let prompt = usage
            .input
            .saturating_add(usage.cache_read)
            .saturating_add(usage.cache_creation);
        let rates = match entry.long_prompt {
            Some((threshold, long)) if prompt > threshold => long,
            _ => entry.base,
        };
        let tokens = |n: u64| n as f64;
        let usd = tokens(usage.input) * rates.input
            + tokens(usage.output) * rates.output
            + tokens(usage.cache_creation) * rates.cache_write
            + tokens(usage.cache_read) * rates.cache_read;
        Some(usd / 1_000_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(input: u64, output: u64, cache_creation: u64, cache_read: u64) -> Usage {
        Usage {
            input,
            output,
            cache_read,
            cache_creation,
            thinking: 0,
            total: input + output + cache_read + cache_creation,
            raw: None,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn longest_prefix_wins_and_dated_ids_match() {
        let p = Pricing::builtin();
        // Sonnet 4.5 by its dated id, via its own key; Sonnet 4 by its dated id, via the family key.
        assert_eq!(p.rates("claude-sonnet-4-5-20250929"), Some(an(3.0, 15.0)));
        assert_eq!(p.rates("claude-sonnet-4-20250514"), Some(an(3.0, 15.0)));
        // Opus 4.5 is a third of Opus 4's price: the longer key must win.
        assert_eq!(
            p.rates("claude-opus-4-5-20251101").map(|r| r.input),
            Some(5.0)
        );
        assert_eq!(
            p.rates("claude-opus-4-20250514").map(|r| r.input),
            Some(15.0)
        );
        assert_eq!(p.rates("claude-opus-4-1").map(|r| r.input), Some(15.0));
        assert_eq!(
            p.rates("gpt-5-mini-2025-08-07").map(|r| r.input),
            Some(0.25)
        );
        assert_eq!(p.rates("gpt-5-2025-08-07").map(|r| r.input), Some(1.25));
        assert_eq!(p.rates("gpt-5.1-codex-mini").map(|r| r.input), Some(0.25));
        assert_eq!(p.rates("gpt-5.1-codex-max").map(|r| r.input), Some(1.25));
        assert_eq!(
            p.rates("gpt-4o-mini-2024-07-18").map(|r| r.input),
            Some(0.15)
        );
        assert_eq!(p.rates("o4-mini-2025-04-16").map(|r| r.input), Some(1.1));
        assert_eq!(
            p.rates("claude-3-5-haiku-latest").map(|r| r.input),
            Some(0.8)
        );
        // Vertex-style `@` date and Claude Code's `[1m]` suffix.
        assert_eq!(
            p.rates("claude-sonnet-4-5@20250929").map(|r| r.input),
            Some(3.0)
        );
        assert_eq!(p.rates("Claude-Sonnet-4-5[1m]").map(|r| r.input), Some(3.0));
    }

    #[test]
    fn a_prefix_only_matches_at_a_separator() {
        let p = Pricing::builtin();
        // `.` is part of the version: gpt-5.9 is not gpt-5, gpt-4.5 is not gpt-4.1 or gpt-4o.
        assert_eq!(p.rates("gpt-5.9"), None);
        assert_eq!(p.rates("gpt-4.5-preview"), None);
        assert_eq!(p.rates("o3x"), None);
        assert_eq!(p.rates("claude-sonnet-45"), None);
    }

    #[test]
    fn unknown_models_cost_nothing_rather_than_a_guess() {
        let p = Pricing::builtin();
        let u = usage(1000, 1000, 0, 0);
        assert_eq!(p.cost("llama-3-70b", &u), None);
        assert_eq!(p.cost("", &u), None);
        assert_eq!(p.cost("-", &u), None);
        assert_eq!(p.cost("gemini-2.5-pro", &u), None);
    }

    #[test]
    fn cost_adds_the_four_disjoint_counts() {
        let p = Pricing::builtin();
        // Sonnet 4.5: 1000 in × $3 + 500 out × $15 + 2000 write × $3.75 + 10000 read × $0.30.
        let cost = p
            .cost(
                "claude-sonnet-4-5-20250929",
                &usage(1000, 500, 2000, 10_000),
            )
            .unwrap();
        let want = (1000.0 * 3.0 + 500.0 * 15.0 + 2000.0 * 3.75 + 10_000.0 * 0.3) / 1e6;
        assert!(close(cost, want), "{cost} != {want}");
        // gpt-5: cached input at $0.125, no cache writes.
        let cost = p.cost("gpt-5", &usage(1000, 100, 0, 4000)).unwrap();
        assert!(close(
            cost,
            (1000.0 * 1.25 + 100.0 * 10.0 + 4000.0 * 0.125) / 1e6
        ));
        assert_eq!(p.cost("gpt-5", &usage(0, 0, 0, 0)), Some(0.0));
    }

    #[test]
    fn long_prompts_pay_the_long_context_rates() {
        let p = Pricing::builtin();
        let at = |u: &Usage| p.cost("claude-sonnet-4-5", u).unwrap();
        // 200K exactly is still the base tier; one more token (cache counts too) is not.
        assert!(close(at(&usage(200_000, 0, 0, 0)), 200_000.0 * 3.0 / 1e6));
        let over = usage(1, 1000, 0, 200_000);
        assert!(close(
            at(&over),
            (6.0 + 1000.0 * 22.5 + 200_000.0 * 0.6) / 1e6
        ));
        // Sonnet 4.6 has no such tier.
        let cost = p.cost("claude-sonnet-4-6", &over).unwrap();
        assert!(close(cost, (3.0 + 1000.0 * 15.0 + 200_000.0 * 0.3) / 1e6));
    }

    #[test]
    fn config_overrides_replace_and_extend() {
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "claude-sonnet-4-5".to_string(),
            PriceConfig {
                input: 1.0,
                output: 2.0,
                cache_write: Some(3.0),
                cache_read: Some(0.5),
            },
        );
        overrides.insert(
            "My-Model".to_string(),
            PriceConfig {
                input: 4.0,
                output: 8.0,
                cache_write: None,
                cache_read: None,
            },
        );
        let p = Pricing::builtin().with_overrides(&overrides);
        assert_eq!(
            p.rates("claude-sonnet-4-5-20250929"),
            Some(r(1.0, 2.0, 3.0, 0.5))
        );
        // An override is flat: the built-in long-context tier is gone with the entry it replaced.
        let long = usage(300_000, 0, 0, 0);
        let cost = p.cost("claude-sonnet-4-5", &long).unwrap();
        assert!(close(cost, 300_000.0 / 1e6));
        // Other built-in entries are untouched; the family key still prices Sonnet 4.
        assert_eq!(
            p.rates("claude-sonnet-4-20250514").map(|r| r.input),
            Some(3.0)
        );
        // A new prefix, case-insensitive, cache rates defaulting to input.
        assert_eq!(p.rates("my-model-v2"), Some(r(4.0, 8.0, 4.0, 4.0)));
        assert_eq!(Pricing::builtin().rates("my-model-v2"), None);
    }

    #[test]
    fn every_builtin_rate_is_sane() {
        for (key, rates) in BUILTIN {
            assert_eq!(*key, key.to_ascii_lowercase());
            for v in [
                rates.input,
                rates.output,
                rates.cache_write,
                rates.cache_read,
            ] {
                assert!(v.is_finite() && v >= 0.0, "{key}: {rates:?}");
            }
            assert!(
                rates.output >= rates.input,
                "{key}: output cheaper than input?"
            );
            assert!(
                rates.cache_read <= rates.input,
                "{key}: cache read dearer than input?"
            );
        }
        let keys: std::collections::BTreeSet<_> = BUILTIN.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys.len(), BUILTIN.len(), "duplicate key");
        for (key, _, _) in LONG_PROMPT {
            assert!(keys.contains(key), "long-prompt tier for unknown key {key}");
        }
    }
}
