//! Anthropic Messages client -> OpenAI Responses provider (`type = "openai-responses"`):
//! `request` (Messages body -> `/v1/responses` body), `response` (Responses JSON -> Anthropic
//! message) and `ToAnthropic` (Responses SSE -> Anthropic SSE, in `stream.rs`; `blocks.rs` turns
//! output items into one-at-a-time content blocks).
//!
//! # Request mapping (`request.rs`, tools in `tools.rs`)
//! | Anthropic | Responses |
//! |---|---|
//! | `model` | the target's model; the client's name is kept in `ClientView` and echoed back |
//! | `system` (string or text blocks) | `instructions` (blocks joined by a blank line; `cache_control` dropped, OpenAI caches prefixes by itself) |
//! | a `system` message inside `messages` (beta `mid-conversation-system-*`, sent by Claude Code) | a `developer` message item in the same place (text blocks only) |
//! | user `text` / `image` (base64 or url) | `message` items with `input_text` / `input_image` (data URL) |
//! | user `tool_result` | `function_call_output` (`output` = its text; `is_error` kept as an `Error: ` prefix); its images go in a user message right after the tool outputs (F19) |
//! | assistant `text` / `tool_use` | `message` with `output_text` / `function_call` (`arguments` JSON string, `{}` when empty) |
//! | assistant `thinking` / `redacted_thinking` | dropped: their signatures only mean something to Anthropic |
//! | `tools` (custom) | `{"type":"function","name","description","parameters","strict"}`; `strict: false` unless the tool asked for it (Responses defaults to strict, which rejects ordinary schemas) |
//! | `tool_choice` auto / any / tool / none | `auto` / `required` / `{"type":"function","name"}` / `none`; `disable_parallel_tool_use` -> `parallel_tool_calls: false` |
//! | `max_tokens` | `max_output_tokens`, raised to 16 when lower (the API's minimum; Claude Code's quota probe asks for 1, and 15 more tokens beat a refused request) |
//! | `temperature`, `top_p` | same |
//! | `stream` | `stream` |
//! | — | `store: false` (Anthropic keeps nothing server-side) |
//!
//! Dropped on purpose (none can make the provider do more than asked): `metadata` (Claude Code's
//! session id; Responses' `metadata`/`user` mean something else), `thinking` and
//! `output_config.effort` (a budget is not an effort level, and non-reasoning models reject
//! `reasoning`; the provider's default applies), `context_management` (server-side pruning of old
//! turns; without it the full history is sent), `service_tier` (different value sets).
//!
//! Refused with `Unmappable` naming the field: non-empty `stop_sequences` (Responses has no stop
//! sequences), `top_k`, `output_config` formats other than `json_schema` (which becomes
//! `text.format` `json_schema`, strict, named `output`: `output_format.rs`) and other keys, server tools
//! (`tools[i].type` other than `custom`), unknown tool fields, unknown `tool_choice` types,
//! `document` / `search_result` / server-tool blocks, image sources other than base64 and url, and
//! any top-level field this table does not list.
//!
//! # Response mapping (`response.rs`, `stream.rs`)
//! - `output_text` (and `refusal`) -> `text` blocks; `function_call` -> `tool_use` with
//!   `id = call_id` and the parsed arguments (`""` -> `{}`).
//! - `reasoning` items and their summaries are **omitted**: an Anthropic `thinking` block needs a
//!   signature Anthropic issued, and an unsigned one could later be sent back to an Anthropic
//!   provider and be rejected. Their tokens still count in `output_tokens` (they are billed).
//! - Stop: `completed` -> `end_turn`, or `tool_use` when a function call was made, or `refusal`
//!   when the model refused; `incomplete` -> `max_tokens` (`refusal` for `content_filter`).
//! - Usage: `input_tokens` = OpenAI input - cached, `cache_read_input_tokens` = cached,
//!   `cache_creation_input_tokens` = 0 (OpenAI does not report cache writes).
//! - Message id: `msg_` + the Responses id without its `resp_` prefix.
//! - A 2xx JSON answer whose status is `failed` (or unfinished) is `TranslateError::Invalid`
//!   carrying the provider's message: the proxy must report it as an upstream failure, never as
//!   a message.
//! - Streams: `message_start` has zero usage (Responses only reports usage at the end); the
//!   real figures come on `message_delta`. A truncated tool call (`incomplete` mid-arguments)
//!   keeps its partial JSON, as Anthropic's own `max_tokens` stop does.

mod blocks;
mod request;
mod response;
mod stream;
mod tools;

pub(crate) use request::translate as request;
pub(crate) use response::translate as response;
pub(crate) use stream::ToAnthropic;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_stream;
