//! Anthropic Messages request -> OpenAI Responses request (`POST /v1/responses`). Every top-level
//! field is either mapped, dropped for a stated reason, or refused as `Unmappable` naming it; the
//! full table is in the module docs of `responses/mod.rs`.

use super::super::output_format;
use super::super::{ClientView, Target, TranslateError, Translated};
use super::tools::{map_tools, tool_choice};
use serde_json::{json, Map, Value};

/// The smallest `max_output_tokens` the Responses API accepts.
const MIN_MAX_OUTPUT_TOKENS: u64 = 16;

/// Translates an Anthropic Messages body for a Responses provider.
pub(crate) fn translate(body: &[u8], target: &Target) -> Result<Translated, TranslateError> {
    let req: Value = serde_json::from_slice(body)
        .map_err(|e| TranslateError::Invalid(format!("not JSON: {e}")))?;
    let req = req
        .as_object()
        .ok_or_else(|| TranslateError::Invalid("the body is not a JSON object".into()))?;
    check_fields(req)?;

    let client_model = req
        .get("model")
        .and_then(Value::as_str)
        .ok_or_else(|| TranslateError::Invalid("`model` must be a string".into()))?;
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false);

    let mut out = Map::new();
    out.insert("model".into(), json!(target.model));
    if let Some(system) = req.get("system") {
        let text = system_text(system)?;
        if !text.is_empty() {
            out.insert("instructions".into(), json!(text));
        }
    }
    let messages = req
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| TranslateError::Invalid("`messages` must be an array".into()))?;
    out.insert("input".into(), Value::Array(input_items(messages)?));
    if let Some(max) = req.get("max_tokens") {
        let max = max.as_u64().ok_or_else(|| {
            TranslateError::Invalid("`max_tokens` must be a positive integer".into())
        })?;
        // The Responses API refuses `max_output_tokens` below 16; Claude Code's quota probe asks
        // for 1. Raised to the minimum (at most 15 more tokens) rather than failing the request.
        out.insert(
            "max_output_tokens".into(),
            json!(max.max(MIN_MAX_OUTPUT_TOKENS)),
        );
    }
    for field in ["temperature", "top_p"] {
        if let Some(v) = req.get(field).filter(|v| !v.is_null()) {
            out.insert(field.into(), v.clone());
        }
    }
    if let Some(tools) = req.get("tools").and_then(Value::as_array) {
        if !tools.is_empty() {
            out.insert("tools".into(), Value::Array(map_tools(tools)?));
        }
    }
    if let Some(choice) = req.get("tool_choice").filter(|v| !v.is_null()) {
        let (mapped, parallel) = tool_choice(choice)?;
        out.insert("tool_choice".into(), mapped);
        if let Some(parallel) = parallel {
            out.insert("parallel_tool_calls".into(), json!(parallel));
        }
    }
    if let Some(config) = req.get("output_config") {
        if let Some(schema) = output_format::json_schema(config, "Responses")? {
            out.insert("text".into(), output_format::responses_text(schema));
        }
    }
    // Anthropic keeps nothing server-side; don't let the provider store the exchange either.
    out.insert("store".into(), json!(false));
    if stream {
        out.insert("stream".into(), json!(true));
    }

    let body = serde_json::to_vec(&Value::Object(out))
        .map_err(|e| TranslateError::Invalid(format!("re-encoding failed: {e}")))?;
    Ok(Translated {
        body,
        path: "/v1/responses",
        view: ClientView {
            model: client_model.to_string(),
            stream,
            include_usage: false,
        },
    })
}

pub(super) fn unmappable(field: impl Into<String>, reason: impl Into<String>) -> TranslateError {
    TranslateError::Unmappable {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Top-level fields: known and mapped, known and deliberately dropped, or refused.
fn check_fields(req: &Map<String, Value>) -> Result<(), TranslateError> {
    for (key, value) in req {
        match key.as_str() {
            "model" | "messages" | "system" | "max_tokens" | "temperature" | "top_p" | "tools"
            | "tool_choice" | "stream" => {}
            // Dropped, see the module docs: none of these can make the provider do more than asked.
            "metadata" | "thinking" | "context_management" | "service_tier" => {}
            "stop_sequences" => {
                if value.as_array().is_some_and(|a| !a.is_empty()) {
                    return Err(unmappable(
                        "stop_sequences",
                        "the Responses API has no stop sequences",
                    ));
                }
            }
            // Checked (and its schema taken) by `output_format`.
            "output_config" => {}
            "top_k" => {
                return Err(unmappable(
                    "top_k",
                    "the Responses API has no top_k sampling",
                ))
            }
            other => {
                return Err(unmappable(
                    other,
                    "unknown to the Anthropic -> Responses translation",
                ))
            }
        }
    }
    Ok(())
}

/// `system` as a string or an array of text blocks -> one `instructions` string (blocks joined
/// by a blank line; `cache_control` dropped).
fn system_text(system: &Value) -> Result<String, TranslateError> {
    match system {
        Value::String(s) => Ok(s.clone()),
        Value::Array(blocks) => {
            let mut parts = Vec::with_capacity(blocks.len());
            for (i, block) in blocks.iter().enumerate() {
                if block.get("type").and_then(Value::as_str) != Some("text") {
                    return Err(unmappable(
                        format!("system[{i}].type"),
                        "only text blocks can become instructions",
                    ));
                }
                parts.push(block.get("text").and_then(Value::as_str).unwrap_or(""));
            }
            Ok(parts.join("\n\n"))
        }
        Value::Null => Ok(String::new()),
        _ => Err(TranslateError::Invalid(
            "`system` must be a string or an array of text blocks".into(),
        )),
    }
}

/// Builds the `input` item list. A user message becomes message items interleaved with
/// `function_call_output` items in block order; an assistant message becomes message items
/// interleaved with `function_call` items.
fn input_items(messages: &[Value]) -> Result<Vec<Value>, TranslateError> {
    let mut items = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let role = message.get("role").and_then(Value::as_str);
        let role = match role {
            Some(r @ ("user" | "assistant")) => r,
            // A system message mid-conversation (beta `mid-conversation-system-*`, sent by Claude
            // Code) is a developer message in place (text blocks only, as `block` enforces).
            Some("system") => "developer",
            _ => {
                return Err(unmappable(
                    format!("messages[{i}].role"),
                    "Anthropic Messages has only user, assistant and system roles",
                ))
            }
        };
        let mut builder = Items {
            role,
            items: &mut items,
            parts: Vec::new(),
            tool_images: Vec::new(),
        };
        match message.get("content") {
            Some(Value::String(text)) => builder.text(text),
            Some(Value::Array(blocks)) => {
                for (j, block) in blocks.iter().enumerate() {
                    builder.block(block, &format!("messages[{i}].content[{j}]"))?;
                }
            }
            _ => {
                return Err(TranslateError::Invalid(format!(
                    "messages[{i}].content must be a string or an array"
                )))
            }
        }
        builder.flush();
    }
    Ok(items)
}

/// Collects the parts of one message into items, flushing a message item whenever a tool item
/// has to be placed between parts.
struct Items<'a> {
    role: &'a str,
    items: &'a mut Vec<Value>,
    parts: Vec<Value>,
    /// Images from `tool_result` blocks: sent as a user message right after the tool outputs
    /// (F19: never silently lost; order among images preserved).
    tool_images: Vec<Value>,
}

impl Items<'_> {
    fn text(&mut self, text: &str) {
        self.flush_tool_images();
        let kind = if self.role == "assistant" {
            "output_text"
        } else {
            "input_text"
        };
        self.parts.push(json!({"type": kind, "text": text}));
    }

    fn block(&mut self, block: &Value, path: &str) -> Result<(), TranslateError> {
        let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
        match (self.role, kind) {
            (_, "text") => self.text(block.get("text").and_then(Value::as_str).unwrap_or("")),
            ("user", "image") => {
                self.flush_tool_images();
                let image = image_part(block, path)?;
                self.parts.push(image);
            }
            ("user", "tool_result") => {
                self.flush_parts();
                let (output, images) = tool_result(block, path)?;
                let call_id = block
                    .get("tool_use_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        TranslateError::Invalid(format!("{path}.tool_use_id must be a string"))
                    })?;
                self.items.push(json!({
                    "type": "function_call_output",
                    "call_id": call_id,
                    "output": output,
                }));
                self.tool_images.extend(images);
            }
            ("assistant", "tool_use") => {
                self.flush_parts();
                let id = block.get("id").and_then(Value::as_str);
                let name = block.get("name").and_then(Value::as_str);
                let (Some(id), Some(name)) = (id, name) else {
                    return Err(TranslateError::Invalid(format!(
                        "{path} needs a string `id` and `name`"
                    )));
                };
                self.items.push(json!({
                    "type": "function_call",
                    "call_id": id,
                    "name": name,
                    "arguments": arguments(block.get("input")),
                }));
            }
            // Thinking signatures only mean something to Anthropic; OpenAI reasoning items need
            // OpenAI's own encrypted content. Dropping them loses no instruction.
            ("assistant", "thinking" | "redacted_thinking") => {}
            _ => {
                return Err(unmappable(
                    format!("{path}.type"),
                    format!(
                        "a `{kind}` block in a {} message has no Responses equivalent",
                        self.role
                    ),
                ))
            }
        }
        Ok(())
    }

    fn flush_parts(&mut self) {
        if !self.parts.is_empty() {
            let content = std::mem::take(&mut self.parts);
            self.items
                .push(json!({"type": "message", "role": self.role, "content": content}));
        }
    }

    fn flush_tool_images(&mut self) {
        if !self.tool_images.is_empty() {
            let content = std::mem::take(&mut self.tool_images);
            self.items
                .push(json!({"type": "message", "role": "user", "content": content}));
        }
    }

    fn flush(&mut self) {
        self.flush_tool_images();
        self.flush_parts();
    }
}

/// A tool input object as the JSON string Responses expects; an empty or missing input is `{}`.
fn arguments(input: Option<&Value>) -> String {
    match input {
        None | Some(Value::Null) => "{}".into(),
        Some(v) => serde_json::to_string(v).unwrap_or_else(|_| "{}".into()),
    }
}

fn image_part(block: &Value, path: &str) -> Result<Value, TranslateError> {
    let source = block.get("source").unwrap_or(&Value::Null);
    let url = match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let media = source.get("media_type").and_then(Value::as_str);
            let data = source.get("data").and_then(Value::as_str);
            let (Some(media), Some(data)) = (media, data) else {
                return Err(TranslateError::Invalid(format!(
                    "{path}.source needs `media_type` and `data`"
                )));
            };
            format!("data:{media};base64,{data}")
        }
        Some("url") => source
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| TranslateError::Invalid(format!("{path}.source.url must be a string")))?
            .to_string(),
        other => {
            return Err(unmappable(
                format!("{path}.source.type"),
                format!(
                    "image source `{}` has no Responses equivalent",
                    other.unwrap_or("?")
                ),
            ))
        }
    };
    Ok(json!({"type": "input_image", "image_url": url, "detail": "auto"}))
}

/// A `tool_result` -> (output text, images for a following user message). `is_error` has no
/// Responses field; it is kept in the text so the model still sees the call failed.
fn tool_result(block: &Value, path: &str) -> Result<(String, Vec<Value>), TranslateError> {
    let mut texts = Vec::new();
    let mut images = Vec::new();
    match block.get("content") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => texts.push(s.clone()),
        Some(Value::Array(parts)) => {
            for (k, part) in parts.iter().enumerate() {
                let part_path = format!("{path}.content[{k}]");
                match part.get("type").and_then(Value::as_str) {
                    Some("text") => texts.push(
                        part.get("text")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    ),
                    Some("image") => images.push(image_part(part, &part_path)?),
                    other => {
                        return Err(unmappable(
                            format!("{part_path}.type"),
                            format!(
                                "a `{}` block in a tool result has no Responses equivalent",
                                other.unwrap_or("?")
                            ),
                        ))
                    }
                }
            }
        }
        Some(_) => {
            return Err(TranslateError::Invalid(format!(
                "{path}.content must be a string or an array"
            )))
        }
    }
    let mut output = texts.join("\n");
    if block.get("is_error").and_then(Value::as_bool) == Some(true) {
        output = format!("Error: {output}");
    }
    Ok((output, images))
}
