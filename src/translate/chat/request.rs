//! Anthropic Messages request -> OpenAI Chat Completions request (an Anthropic client, e.g.
//! Claude Code, on an OpenAI-compatible provider). Every decision is listed in `chat/mod.rs`.

use super::json::{
    into_object, invalid, parse_object, reject_leftover, take, take_array, take_str, unmappable,
    Obj,
};
use crate::translate::output_format;
use crate::translate::{ClientView, MaxTokensField, Target, TranslateError, Translated};
use serde_json::{json, Value};

/// Top-level fields dropped on purpose (see the module docs for why each one is safe to drop).
const DROPPED: [&str; 5] = [
    "metadata",
    "thinking",
    "context_management",
    "service_tier",
    "anthropic_version",
];

pub(crate) fn translate(body: &[u8], target: &Target) -> Result<Translated, TranslateError> {
    let mut req = parse_object(body)?;
    let client_model =
        take_str(&mut req, "model", "")?.ok_or_else(|| invalid("`model` is missing"))?;
    let messages =
        take_array(&mut req, "messages", "")?.ok_or_else(|| invalid("`messages` is missing"))?;
    let system = take(&mut req, "system");
    let max_tokens = take(&mut req, "max_tokens");
    let stop = take_array(&mut req, "stop_sequences", "")?;
    let stream = match take(&mut req, "stream") {
        None => false,
        Some(Value::Bool(b)) => b,
        Some(_) => return Err(invalid("`stream` must be a boolean")),
    };
    let temperature = take(&mut req, "temperature");
    let top_p = take(&mut req, "top_p");
    let tools = take_array(&mut req, "tools", "")?;
    let tool_choice = take(&mut req, "tool_choice");
    let schema = match take(&mut req, "output_config") {
        Some(config) => output_format::json_schema(&config, "Chat Completions")?,
        None => None,
    };
    for key in DROPPED {
        req.remove(key);
    }
    // `top_k`, `container`, `mcp_servers` and anything unknown: Unmappable, named.
    if req.contains_key("top_k") {
        return Err(unmappable(
            "top_k",
            "Chat Completions has no top_k; dropping it would widen sampling",
        ));
    }
    reject_leftover(&req, "", "Chat Completions")?;

    let mut out = Obj::new();
    out.insert("model".into(), Value::String(target.model.to_string()));
    let mut chat_messages = Vec::with_capacity(messages.len() + 1);
    if let Some(system) = system {
        chat_messages.push(json!({"role": "system", "content": system_text(system)?}));
    }
    for (i, message) in messages.into_iter().enumerate() {
        convert_message(i, message, &mut chat_messages)?;
    }
    out.insert("messages".into(), Value::Array(chat_messages));
    if let Some(max) = max_tokens {
        if !max.is_u64() {
            return Err(invalid("`max_tokens` must be a non-negative integer"));
        }
        let field = match target.max_tokens_field {
            MaxTokensField::MaxCompletionTokens => "max_completion_tokens",
            MaxTokensField::MaxTokens => "max_tokens",
        };
        out.insert(field.into(), max);
    }
    if let Some(stop) = stop.filter(|s| !s.is_empty()) {
        out.insert("stop".into(), Value::Array(stop));
    }
    if let Some(t) = temperature {
        out.insert("temperature".into(), t);
    }
    if let Some(p) = top_p {
        out.insert("top_p".into(), p);
    }
    let has_tools = tools.as_ref().is_some_and(|t| !t.is_empty());
    if let Some(tools) = tools.filter(|t| !t.is_empty()) {
        let functions = tools
            .into_iter()
            .enumerate()
            .map(|(i, tool)| convert_tool(i, tool))
            .collect::<Result<Vec<_>, _>>()?;
        out.insert("tools".into(), Value::Array(functions));
    }
    if let Some(choice) = tool_choice {
        convert_tool_choice(choice, has_tools, &mut out)?;
    }
    if let Some(schema) = schema {
        out.insert(
            "response_format".into(),
            output_format::chat_response_format(schema),
        );
    }
    if stream {
        out.insert("stream".into(), Value::Bool(true));
        // Without it an OpenAI stream carries no usage at all (F16).
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Ok(Translated {
        body: serde_json::to_vec(&Value::Object(out)).map_err(|e| invalid(&e.to_string()))?,
        path: "/v1/chat/completions",
        view: ClientView {
            model: client_model,
            stream,
            include_usage: false,
        },
    })
}

/// `system` as a string or text blocks -> one string; blocks are joined with a blank line and
/// lose their `cache_control` (F20).
fn system_text(system: Value) -> Result<String, TranslateError> {
    match system {
        Value::String(s) => Ok(s),
        Value::Array(blocks) => {
            let mut texts = Vec::with_capacity(blocks.len());
            for (j, block) in blocks.into_iter().enumerate() {
                match (block.get("type").and_then(Value::as_str), block.get("text")) {
                    (Some("text"), Some(Value::String(t))) => texts.push(t.clone()),
                    _ => return Err(invalid(&format!("`system[{j}]` must be a text block"))),
                }
            }
            Ok(texts.join("\n\n"))
        }
        _ => Err(invalid(
            "`system` must be a string or an array of text blocks",
        )),
    }
}

/// A mid-conversation system message's text: a string or text blocks (their `cache_control`
/// dropped like the top-level system's).
fn message_system_text(path: &str, content: Value) -> Result<String, TranslateError> {
    match content {
        Value::String(s) => Ok(s),
        Value::Array(blocks) => {
            let mut texts = Vec::with_capacity(blocks.len());
            for (j, block) in blocks.iter().enumerate() {
                let bpath = format!("{path}.content[{j}]");
                match block_type(block, &bpath)? {
                    "text" => texts.push(
                        block
                            .get("text")
                            .and_then(Value::as_str)
                            .ok_or_else(|| invalid(&format!("`{bpath}.text` must be a string")))?
                            .to_string(),
                    ),
                    other => return Err(unsupported_block(&bpath, other)),
                }
            }
            Ok(texts.join("\n\n"))
        }
        _ => Err(invalid(&format!(
            "`{path}.content` must be a string or an array"
        ))),
    }
}

fn convert_message(i: usize, message: Value, out: &mut Vec<Value>) -> Result<(), TranslateError> {
    let path = format!("messages[{i}]");
    let mut message = into_object(message, &path)?;
    let role = take_str(&mut message, "role", &format!("{path}."))?;
    let content = take(&mut message, "content")
        .ok_or_else(|| invalid(&format!("`{path}.content` is missing")))?;
    match role.as_deref() {
        Some("user") => user_message(&path, content, out),
        Some("assistant") => assistant_message(&path, content, out),
        // A system message mid-conversation (beta `mid-conversation-system-*`, sent by Claude
        // Code): Chat has system messages anywhere, so it stays one, in place.
        Some("system") => {
            let text = message_system_text(&path, content)?;
            out.push(json!({"role": "system", "content": text}));
            Ok(())
        }
        _ => Err(invalid(&format!(
            "`{path}.role` must be `user`, `assistant` or `system`"
        ))),
    }
}

/// Tool results become `tool` messages first (OpenAI wants them right after the assistant's
/// `tool_calls`); images they held, then the user's own blocks, follow in one user message (F19).
fn user_message(path: &str, content: Value, out: &mut Vec<Value>) -> Result<(), TranslateError> {
    let blocks = match content {
        Value::String(s) => {
            out.push(json!({"role": "user", "content": s}));
            return Ok(());
        }
        Value::Array(blocks) => blocks,
        _ => {
            return Err(invalid(&format!(
                "`{path}.content` must be a string or an array"
            )))
        }
    };
    let mut tool_images = Vec::new();
    let mut parts = Vec::new();
    for (j, block) in blocks.into_iter().enumerate() {
        let bpath = format!("{path}.content[{j}]");
        match block_type(&block, &bpath)? {
            "text" => parts.push(text_part(&block, &bpath)?),
            "image" => parts.push(image_part(&block, &bpath)?),
            "tool_result" => {
                let (message, images) = tool_result(block, &bpath)?;
                out.push(message);
                if !images.is_empty() {
                    tool_images.push(images.0);
                    tool_images.extend(images.1);
                }
            }
            other => return Err(unsupported_block(&bpath, other)),
        }
    }
    tool_images.extend(parts);
    if !tool_images.is_empty() {
        out.push(json!({"role": "user", "content": tool_images}));
    }
    Ok(())
}

/// Images taken out of one tool result: a label part naming the call, then the image parts.
struct ToolImages(Value, Vec<Value>);

impl ToolImages {
    fn is_empty(&self) -> bool {
        self.1.is_empty()
    }
}

fn tool_result(block: Value, path: &str) -> Result<(Value, ToolImages), TranslateError> {
    let mut block = into_object(block, path)?;
    let id = take_str(&mut block, "tool_use_id", &format!("{path}."))?
        .ok_or_else(|| invalid(&format!("`{path}.tool_use_id` is missing")))?;
    let is_error = matches!(block.get("is_error"), Some(Value::Bool(true)));
    let mut texts = Vec::new();
    let mut images = Vec::new();
    match take(&mut block, "content") {
        None => {}
        Some(Value::String(s)) => texts.push(s),
        Some(Value::Array(items)) => {
            for (k, item) in items.into_iter().enumerate() {
                let ipath = format!("{path}.content[{k}]");
                match block_type(&item, &ipath)? {
                    "text" => texts.push(
                        item.get("text")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    ),
                    "image" => images.push(image_part(&item, &ipath)?),
                    other => return Err(unsupported_block(&ipath, other)),
                }
            }
        }
        Some(_) => {
            return Err(invalid(&format!(
                "`{path}.content` must be a string or an array"
            )))
        }
    }
    let mut text = texts.join("\n");
    if is_error {
        // Chat has no error flag on tool messages; the model still has to know the call failed.
        text.insert_str(0, "Error: ");
    }
    let label = json!({"type": "text", "text": format!("Images from tool result {id}:")});
    let message = json!({"role": "tool", "tool_call_id": id, "content": text});
    Ok((message, ToolImages(label, images)))
}

/// Assistant text blocks join with a newline into `content`; `tool_use` -> `tool_calls`;
/// thinking blocks are dropped (OpenAI cannot take signed reasoning back).
fn assistant_message(
    path: &str,
    content: Value,
    out: &mut Vec<Value>,
) -> Result<(), TranslateError> {
    let blocks = match content {
        Value::String(s) => {
            out.push(json!({"role": "assistant", "content": s}));
            return Ok(());
        }
        Value::Array(blocks) => blocks,
        _ => {
            return Err(invalid(&format!(
                "`{path}.content` must be a string or an array"
            )))
        }
    };
    let mut texts = Vec::new();
    let mut calls = Vec::new();
    for (j, block) in blocks.into_iter().enumerate() {
        let bpath = format!("{path}.content[{j}]");
        match block_type(&block, &bpath)? {
            "text" => texts.push(
                block
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            ),
            "tool_use" => calls.push(tool_call(block, &bpath)?),
            "thinking" | "redacted_thinking" => {}
            other => return Err(unsupported_block(&bpath, other)),
        }
    }
    if texts.is_empty() && calls.is_empty() {
        // Only thinking: nothing the provider can be shown.
        return Ok(());
    }
    let content = if texts.is_empty() {
        Value::Null
    } else {
        Value::String(texts.join("\n"))
    };
    let mut message = json!({"role": "assistant", "content": content});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    out.push(message);
    Ok(())
}

fn tool_call(block: Value, path: &str) -> Result<Value, TranslateError> {
    let mut block = into_object(block, path)?;
    let id = take_str(&mut block, "id", &format!("{path}."))?
        .ok_or_else(|| invalid(&format!("`{path}.id` is missing")))?;
    let name = take_str(&mut block, "name", &format!("{path}."))?
        .ok_or_else(|| invalid(&format!("`{path}.name` is missing")))?;
    // OpenAI arguments are a JSON string; an absent or empty input is `{}` (F17), never "".
    let arguments = match take(&mut block, "input") {
        None => "{}".to_string(),
        Some(input) => serde_json::to_string(&input).map_err(|e| invalid(&e.to_string()))?,
    };
    Ok(json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}))
}

fn block_type<'a>(block: &'a Value, path: &str) -> Result<&'a str, TranslateError> {
    block
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(&format!("`{path}.type` is missing")))
}

fn unsupported_block(path: &str, kind: &str) -> TranslateError {
    unmappable(
        path,
        format!("a `{kind}` block has no Chat Completions equivalent here"),
    )
}

fn text_part(block: &Value, path: &str) -> Result<Value, TranslateError> {
    match block.get("text") {
        Some(Value::String(t)) => Ok(json!({"type": "text", "text": t})),
        _ => Err(invalid(&format!("`{path}.text` must be a string"))),
    }
}

/// base64 sources become data URLs, URL sources stay URLs; a Files API id means nothing to an
/// OpenAI provider.
fn image_part(block: &Value, path: &str) -> Result<Value, TranslateError> {
    let source = block.get("source").unwrap_or(&Value::Null);
    let url = match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let media = source.get("media_type").and_then(Value::as_str);
            let data = source.get("data").and_then(Value::as_str);
            match (media, data) {
                (Some(media), Some(data)) => format!("data:{media};base64,{data}"),
                _ => {
                    return Err(invalid(&format!(
                        "`{path}.source` needs `media_type` and `data`"
                    )))
                }
            }
        }
        Some("url") => match source.get("url").and_then(Value::as_str) {
            Some(url) => url.to_string(),
            None => return Err(invalid(&format!("`{path}.source.url` is missing"))),
        },
        Some(other) => {
            return Err(unmappable(
                format!("{path}.source.type"),
                format!("image source `{other}` cannot be sent to an OpenAI provider"),
            ))
        }
        None => return Err(invalid(&format!("`{path}.source.type` is missing"))),
    };
    Ok(json!({"type": "image_url", "image_url": {"url": url}}))
}

/// Anthropic tool -> Chat function. Server tools (typed, e.g. `web_search_20250305`) run at
/// Anthropic: no Chat provider can execute them.
fn convert_tool(i: usize, tool: Value) -> Result<Value, TranslateError> {
    let path = format!("tools[{i}]");
    let mut tool = into_object(tool, &path)?;
    match take_str(&mut tool, "type", &format!("{path}."))?.as_deref() {
        None | Some("custom") => {}
        Some(other) => {
            return Err(unmappable(
                path,
                format!(
                    "server tool `{other}` runs at Anthropic; a Chat provider cannot execute it"
                ),
            ))
        }
    }
    let name = take_str(&mut tool, "name", &format!("{path}."))?
        .ok_or_else(|| invalid(&format!("`{path}.name` is missing")))?;
    let description = take(&mut tool, "description");
    let schema = take(&mut tool, "input_schema")
        .ok_or_else(|| invalid(&format!("`{path}.input_schema` is missing")))?;
    let strict = take(&mut tool, "strict");
    tool.remove("cache_control");
    reject_leftover(&tool, &format!("{path}."), "Chat Completions")?;
    let mut function = json!({"name": name, "parameters": schema});
    if let Some(d) = description {
        function["description"] = d;
    }
    if let Some(s) = strict {
        function["strict"] = s;
    }
    Ok(json!({"type": "function", "function": function}))
}

/// auto/any/tool/none -> auto/required/{function}/none (F22). Without tools, `auto` and `none`
/// mean the same as saying nothing (OpenAI rejects tool_choice without tools); `any`/`tool` would
/// demand a call that cannot happen: Invalid, as Anthropic itself would answer.
fn convert_tool_choice(
    choice: Value,
    has_tools: bool,
    out: &mut Obj,
) -> Result<(), TranslateError> {
    let mut choice = into_object(choice, "tool_choice")?;
    let kind = take_str(&mut choice, "type", "tool_choice.")?
        .ok_or_else(|| invalid("`tool_choice.type` is missing"))?;
    let no_parallel = match take(&mut choice, "disable_parallel_tool_use") {
        None => false,
        Some(Value::Bool(b)) => b,
        Some(_) => {
            return Err(invalid(
                "`tool_choice.disable_parallel_tool_use` must be a boolean",
            ))
        }
    };
    let name = take_str(&mut choice, "name", "tool_choice.")?;
    reject_leftover(&choice, "tool_choice.", "Chat Completions")?;
    let mapped = match (kind.as_str(), name) {
        ("auto", None) => json!("auto"),
        ("any", None) => json!("required"),
        ("none", None) => json!("none"),
        ("tool", Some(name)) => json!({"type": "function", "function": {"name": name}}),
        ("tool", None) => return Err(invalid("`tool_choice.name` is missing")),
        ("auto" | "any" | "none", Some(_)) => {
            return Err(invalid("`tool_choice.name` is only for type `tool`"))
        }
        (other, _) => {
            return Err(unmappable(
                "tool_choice.type",
                format!("tool_choice type `{other}` is unknown; it is not guessed"),
            ))
        }
    };
    if !has_tools {
        return match kind.as_str() {
            "auto" | "none" => Ok(()),
            _ => Err(invalid(
                "`tool_choice` demands a tool call but `tools` is empty",
            )),
        };
    }
    out.insert("tool_choice".into(), mapped);
    if no_parallel && kind != "none" {
        out.insert("parallel_tool_calls".into(), Value::Bool(false));
    }
    Ok(())
}
