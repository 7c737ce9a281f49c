//! A local `count_tokens` answer for targets that are not Anthropic (they have no such endpoint):
//! an estimate of the input tokens of an Anthropic Messages request, computed without a tokenizer.
//!
//! # Method
//! Text is counted in *weighted characters*: an ASCII byte weighs 1/4 token (the usual rule of
//! thumb for BPE vocabularies such as OpenAI's o200k on English and code), any other character
//! weighs 1 token (CJK characters are about one token each; accented Latin letters are
//! overcounted, but they are a small share of such text). Counted text:
//! - `system` text, message `text` blocks, `tool_result` text;
//! - `tool_use` name + its input serialized as JSON;
//! - each tool's name, description and `input_schema` serialized as JSON.
//!
//! Fixed overheads are added for structure the text does not show: 4 tokens per message and per
//! content block (role and separators in chat templates), 8 per tool definition, 3 for the
//! request, and 1,600 per image (the cost Anthropic documents for a full-size ~1.15 megapixel
//! image; smaller images are overcounted). Thinking blocks are not counted: they are not sent to
//! a non-Anthropic target (see `responses` and `chat` docs).
//!
//! # Expected error
//! Not calibrated against a real tokenizer in this repository. From the rule of thumb, expect
//! roughly ±15% on English prose, an undercount of up to ~25% on dense JSON and code (about 3–3.5
//! characters per token there), and overcounts for small images. Clients use the figure for
//! context-window decisions, so being near is what matters; it is never billed.

use super::TranslateError;
use serde_json::Value;

const PER_REQUEST: u64 = 3;
const PER_MESSAGE: u64 = 4;
const PER_BLOCK: u64 = 4;
const PER_TOOL: u64 = 8;
const PER_IMAGE: u64 = 1_600;

/// Estimated input tokens of an Anthropic Messages request body.
pub(crate) fn estimate_input_tokens(body: &[u8]) -> Result<u64, TranslateError> {
    let req: Value = serde_json::from_slice(body)
        .map_err(|e| TranslateError::Invalid(format!("not JSON: {e}")))?;
    let messages = req
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| TranslateError::Invalid("`messages` must be an array".into()))?;

    let mut count = Counter::default();
    count.fixed += PER_REQUEST;
    match req.get("system") {
        Some(Value::String(s)) => count.text(s),
        Some(Value::Array(blocks)) => blocks.iter().for_each(|b| count.block(b)),
        _ => {}
    }
    for message in messages {
        count.fixed += PER_MESSAGE;
        match message.get("content") {
            Some(Value::String(s)) => count.text(s),
            Some(Value::Array(blocks)) => blocks.iter().for_each(|b| count.block(b)),
            _ => {}
        }
    }
    for tool in req
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        count.fixed += PER_TOOL;
        for key in ["name", "description"] {
            if let Some(s) = tool.get(key).and_then(Value::as_str) {
                count.text(s);
            }
        }
        if let Some(schema) = tool.get("input_schema") {
            count.json(schema);
        }
    }
    Ok(count.total())
}

#[derive(Default)]
struct Counter {
    ascii_bytes: u64,
    other_chars: u64,
    fixed: u64,
}

// === impl Counter ===

impl Counter {
    fn text(&mut self, s: &str) {
        let ascii = s.bytes().filter(u8::is_ascii).count() as u64;
        self.ascii_bytes += ascii;
        self.other_chars += s.chars().filter(|c| !c.is_ascii()).count() as u64;
    }

    fn json(&mut self, v: &Value) {
        self.text(&v.to_string());
    }

    fn block(&mut self, block: &Value) {
        self.fixed += PER_BLOCK;
        let str_of = |key: &str| block.get(key).and_then(Value::as_str).unwrap_or("");
        match str_of("type") {
            "text" => self.text(str_of("text")),
            "image" => self.fixed += PER_IMAGE,
            "tool_use" => {
                self.text(str_of("name"));
                if let Some(input) = block.get("input") {
                    self.json(input);
                }
            }
            "tool_result" => match block.get("content") {
                Some(Value::String(s)) => self.text(s),
                Some(Value::Array(parts)) => parts.iter().for_each(|p| self.block(p)),
                _ => {}
            },
            // Dropped toward OpenAI providers, so not part of what they will count.
            "thinking" | "redacted_thinking" => self.fixed -= PER_BLOCK,
            // Anything else (documents, …): count its JSON rather than nothing.
            _ => self.json(block),
        }
    }

    fn total(&self) -> u64 {
        self.ascii_bytes.div_ceil(4) + self.other_chars + self.fixed
    }
}

#[cfg(test)]
mod tests;
