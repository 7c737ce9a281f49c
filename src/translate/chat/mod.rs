//! Anthropic Messages ⇄ OpenAI Chat Completions, both ways: requests, JSON answers and streams
//! (ISSUE 6 items 2 and 4; FIELD_CASES F16–F22). Every mapping decision is listed here; the
//! files below implement them and cite this list.
//!
//! # Anthropic client → Chat provider
//! **Request** (`request.rs`):
//! - `model` → the target's model; the client's name is kept in `ClientView` and echoed back.
//! - `system` (string or text blocks) → ONE `system` message whose content is a string; blocks
//!   join with a blank line. `cache_control` is dropped everywhere (system, blocks, tools): OpenAI
//!   caches prompts by itself and generic providers reject the key (F20).
//! - a `system` message inside `messages` (beta `mid-conversation-system-*`, which Claude Code
//!   sends) → a `system` message in the same place (string content; text blocks joined).
//! - user `text` / `image` blocks → content parts (`text`, `image_url`; base64 → `data:` URL, a
//!   `url` source stays a URL, a `file` source is **Unmappable**). A string content stays a string.
//! - `tool_result` blocks → `tool` messages, emitted before the rest of that user turn (OpenAI
//!   wants them right after the assistant's `tool_calls`). Text parts join with `\n`;
//!   `is_error: true` is kept as an `Error: ` prefix (Chat has no flag). Images inside a result
//!   go into ONE following user message, each result's images after a text part
//!   `Images from tool result <id>:`, in order, followed by the user's own blocks (F19).
//! - assistant `text` blocks join with `\n` into `content` (`null` when there is none);
//!   `tool_use` → `tool_calls` with `arguments` = the input as a JSON string (`"{}"` when empty or
//!   absent, F17).
//! - `thinking` / `redacted_thinking` blocks in the history are **dropped**: OpenAI has no field
//!   that takes signed reasoning back, and the signature only means something to Anthropic. An
//!   assistant turn that held only thinking is left out.
//! - Other block types (`document`, `search_result`, `server_tool_use`, web-search results,
//!   `image` in an assistant turn, …) are **Unmappable** naming `messages[i].content[j]`.
//! - `tools` → `{"type":"function","function":{name, description, parameters, strict}}`; a typed
//!   server tool (`web_search_…`, `bash_…`, …) is **Unmappable** (`tools[i]`): no Chat provider can
//!   run it. Unknown keys on a tool are Unmappable too.
//! - `tool_choice` auto/any/tool/none → `auto`/`required`/`{"type":"function",…}`/`none`;
//!   `disable_parallel_tool_use: true` → `parallel_tool_calls: false` (F22). With no tools,
//!   `auto`/`none` are omitted (OpenAI rejects `tool_choice` without tools; no tools means no
//!   calls, so nothing is widened) and `any`/`tool` are Invalid. An unknown type is
//!   **Unmappable** (`tool_choice.type`), never guessed.
//! - `max_tokens` → `max_completion_tokens` or `max_tokens` per `Target::max_tokens_field`;
//!   `stop_sequences` → `stop`; `temperature`, `top_p` copied; `stream: true` → `stream` plus
//!   `stream_options.include_usage: true` (otherwise no usage comes back).
//! - Dropped on purpose: `metadata` (an Anthropic abuse-tracking id; not sent to another vendor),
//!   `thinking` and `output_config.effort` (reasoning budgets; the provider's model reasons or
//!   not on its own and reasoning is not returned), `context_management` (Anthropic-side context
//!   editing; without it the provider just sees the full history), `service_tier`.
//! - `output_config.format` `json_schema` → `response_format` `json_schema` (strict, named
//!   `output`; see `output_format.rs`).
//! - **Unmappable**: `top_k` (dropping it would widen sampling), other `output_config` formats and
//!   keys, `container`, `mcp_servers` and any other unknown top-level field.
//!
//! **Answer** (`response.rs`, `stream_to_anthropic.rs`, `blocks.rs`):
//! - `id` → `msg_<provider id>`; `model` → the client's model.
//! - Text → `text` blocks; `refusal` text → a `text` block and `stop_reason: refusal`.
//! - Tool calls → `tool_use` blocks. Streaming: `content_block_start` is always
//!   `{"type":"tool_use","id","name","input":{}}`, the arguments only in `input_json_delta`; a
//!   call with no arguments gets one `"{}"` delta (F17). Parallel calls, even interleaved, get
//!   their own blocks (see `blocks.rs` for how one-block-at-a-time is kept). A missing tool id is
//!   made up as `toolu_<provider id>_<n>`; calls sent whole without `index` or `id` (some
//!   compatible servers) are told apart by their function name.
//! - JSON answer: arguments that are not a JSON object are Invalid (the proxy's error), except
//!   under `finish_reason: length`, where the cut-off call is left out and `max_tokens` tells
//!   the client the answer is incomplete. A stream passes such cut-off arguments on as they came
//!   (as Anthropic's own streams do) and ends with `max_tokens`.
//! - Provider reasoning (`reasoning_content` / `reasoning` from DeepSeek, vLLM, OpenRouter) is
//!   **omitted**, JSON and stream alike. The choice: an Anthropic thinking block needs a
//!   signature only Anthropic can produce; a thinking block without one (or with a forged one)
//!   would come back in the client's next request and, routed or fallen back to Anthropic, be
//!   rejected. The reasoning tokens are still counted in `output_tokens` (OpenAI includes them
//!   in `completion_tokens`).
//! - `finish_reason` stop → `end_turn`, length → `max_tokens`, tool_calls → `tool_use`,
//!   content_filter → `refusal` (F21). `stop` after tool calls (some compatible servers) →
//!   `tool_use`, since Claude Code only continues on `tool_use`. An unknown finish reason is an
//!   error, not `end_turn`. `stop_sequence` is always null (OpenAI does not say which matched).
//! - Usage: `input_tokens` = prompt − cached, `cache_read_input_tokens` = cached
//!   (`prompt_tokens_details.cached_tokens`, or DeepSeek's `prompt_cache_hit_tokens`),
//!   `cache_creation_input_tokens` = 0, `output_tokens` = completion. Absent usage → zeros.
//! - Stream end: `[DONE]` after a `finish_reason` → `message_delta` + `message_stop`; EOF after a
//!   `finish_reason` without `[DONE]` → the same (some servers omit it); `[DONE]` or EOF without a
//!   `finish_reason`, a non-JSON chunk, or a `{"error":…}` chunk → an Anthropic `error` event
//!   (never a fake success), and nothing after it. The error's type comes from the OpenAI
//!   `code` / `type` through the same table as HTTP errors (`errors::Kind`: rate limit →
//!   `rate_limit_error`, overload → `overloaded_error`, context overflow → "prompt is too
//!   long: …"), written by `errors::stream_event`, the one writer of mid-stream error events.
//!
//! # Chat client → Anthropic provider
//! **Request** (`reverse_request.rs`):
//! - `system` / `developer` messages → `system` (a string for one, one text block each for
//!   several), wherever they stood: Anthropic's mid-conversation system turn is a beta, hoisting keeps
//!   their content and authority (their position is lost).
//! - `tool` messages → `tool_result` blocks (`content` kept as string or text blocks, left out
//!   when empty) in one user message; a following user message joins it after the results (Anthropic wants all results of
//!   a turn first in the next user message).
//! - assistant `content` → text blocks, `tool_calls` → `tool_use` (`arguments` `""` → `{}`; not a
//!   JSON object → Invalid); `reasoning_content` sent back by a client is dropped (no signature);
//!   message `name` is dropped. Empty texts and empty messages are left out (Anthropic rejects
//!   them).
//! - user `image_url`: `data:…;base64,` → base64 source, http(s) → url source, `detail` dropped;
//!   `input_audio`, `file` and other parts → **Unmappable**.
//! - `max_completion_tokens` (else `max_tokens`) → `max_tokens`; none → `Target::default_max_tokens`;
//!   none configured → **Unmappable** `max_tokens` (Anthropic requires it).
//! - `stop` (string or list) → `stop_sequences`; `temperature` > 1 → **Unmappable** (Anthropic's
//!   range is 0..1); `top_p` copied; `user` / `safety_identifier` → `metadata.user_id`.
//! - `tools` (type `function` only; others Unmappable) → `{name, description, input_schema}`
//!   (no `parameters` → an empty object schema; `strict: true` kept).
//! - `tool_choice` none/auto/required/function → none/auto/any/tool; `none` stays none;
//!   `parallel_tool_calls: false` → `disable_parallel_tool_use: true`; other shapes (e.g.
//!   `allowed_tools`) → **Unmappable**.
//! - `stream_options.include_usage` is remembered in `ClientView` (Anthropic always reports usage).
//! - **Unmappable** when set to anything but the neutral value: `n` ≠ 1, `logprobs: true`,
//!   `top_logprobs`, non-zero `frequency_penalty` / `presence_penalty`, a non-empty `logit_bias`,
//!   `response_format` other than `text`, non-text `modalities`, `audio`, `prediction`,
//!   `web_search_options`, legacy `functions` / `function_call`, any unknown field.
//! - Dropped: `seed` (best effort even at OpenAI), `store`, `metadata`, `service_tier`,
//!   `prompt_cache_key`, `prompt_cache_retention`, `reasoning_effort`, `verbosity` — hints whose
//!   absence changes no guarantee the client relies on.
//!
//! **Answer** (`response.rs`, `stream_to_chat.rs`):
//! - Text blocks join (with nothing between, as citations split one text) into `content`;
//!   `tool_use` → `tool_calls` (`arguments` = input as a JSON string); thinking is NOT turned into
//!   `reasoning_content` (never invented).
//! - `stop_reason` end_turn/stop_sequence → `stop`, max_tokens → `length`, tool_use →
//!   `tool_calls`, refusal → `content_filter`, `model_context_window_exceeded` → `length`,
//!   anything else (`pause_turn`) → `stop`.
//! - Usage: `prompt_tokens` = input + cache read + cache creation, `completion_tokens` = output,
//!   `prompt_tokens_details.cached_tokens` = cache read.
//! - Streaming: a role chunk, then `content` / `tool_calls` deltas (tool `index` = order of the
//!   tool blocks), a `finish_reason` chunk, the usage chunk (`choices: []`) ONLY when the client
//!   asked for `include_usage` (F16), then `data: [DONE]`. A zero-argument `tool_use` (input
//!   `{}`, no or empty `partial_json`) gets arguments `"{}"` at its `content_block_stop`, never
//!   "" (F17). Thinking, `signature_delta` and redacted thinking are not forwarded at all.
//! - The finish reason is sent only at `message_stop`, so a stream cut after `message_delta`
//!   shows no finish reason before its error. An Anthropic `error` event, EOF before
//!   `message_stop`, or a non-JSON event → `data: {"error":{…}}` and nothing after it (no
//!   `[DONE]`), with OpenAI's `type`/`code` for the error kind (`overloaded_error` → `server_error`
//!   / `overloaded`, `rate_limit_error` → `rate_limit_error` / `rate_limit_exceeded`), as for
//!   HTTP errors (`errors.rs`).

pub(crate) mod blocks;
pub(crate) mod json;
pub(crate) mod request;
pub(crate) mod response;
pub(crate) mod reverse_request;
pub(crate) mod stream_to_anthropic;
pub(crate) mod stream_to_chat;

#[cfg(test)]
mod tests;
