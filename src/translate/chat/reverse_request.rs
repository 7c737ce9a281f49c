//! OpenAI Chat Completions request -> Anthropic Messages request (an OpenAI SDK client or
//! OpenCode on Claude). Every decision is listed in `chat/mod.rs`.

use super::json::{
    into_object, invalid, parse_object, reject_leftover, take, take_array, take_str, unmappable,
    Obj,
};
use crate::translate::{ClientView, Target, TranslateError, Translated};
use serde_json::{json, Value};

/// Hints whose absence changes nothing the client can rely on (see the module docs).
const DROPPED: [&str; 8] = [
    "seed",
    "store",
    "metadata",
    "service_tier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "reasoning_effort",
    "verbosity",
];

pub(crate) fn translate(body: &[u8], target: &Target) -> Result<Translated, TranslateError> {
    let mut req = parse_object(body)?;
    let client_model =
        take_str(&mut req, "model", "")?.ok_or_else(|| invalid("`model` is missing"))?;
    let messages =
        take_array(&mut req, "messages", "")?.ok_or_else(|| invalid("`messages` is missing"))?;
    let max_completion = take(&mut req, "max_completion_tokens");
    let max_legacy = take(&mut req, "max_tokens");
    let stop = take(&mut req, "stop");
    let stream = bool_field(&mut req, "stream")?.unwrap_or(false);
    let include_usage = match take(&mut req, "stream_options") {
        Some(options) => matches!(options.get("include_usage"), Some(Value::Bool(true))),
        None => false,
    };
    let temperature = take(&mut req, "temperature");
    let top_p = take(&mut req, "top_p");
    let tools = take_array(&mut req, "tools", "")?;
    let tool_choice = take(&mut req, "tool_choice");
    let parallel = bool_field(&mut req, "parallel_tool_calls")?;
    let user = take_str(&mut req, "user", "")?;
    let safety_id = take_str(&mut req, "safety_identifier", "")?;
    refuse_unkeepable(&mut req)?;
    for key in DROPPED {
        req.remove(key);
    }
    reject_leftover(&req, "", "Anthropic Messages")?;

    let mut out = Obj::new();
    out.insert("model".into(), Value::String(target.model.to_string()));
    let max_tokens = match max_completion.or(max_legacy) {
        Some(v) => v
            .as_u64()
            .ok_or_else(|| invalid("`max_completion_tokens` must be a non-negative integer"))?,
        None => target.default_max_tokens.ok_or_else(|| {
            unmappable(
                "max_tokens",
                "Anthropic requires max_tokens; the request has none and no default is configured",
            )
        })?,
    };
    out.insert("max_tokens".into(), json!(max_tokens));
    let (system, converted) = convert_messages(messages)?;
    if let Some(system) = system {
        out.insert("system".into(), system);
    }
    out.insert("messages".into(), Value::Array(converted));
    match stop {
        None => {}
        Some(Value::String(s)) => {
            out.insert("stop_sequences".into(), json!([s]));
        }
        // An empty list stops on nothing, like no `stop` at all.
        Some(Value::Array(list)) if list.is_empty() => {}
        Some(Value::Array(list)) if list.iter().all(Value::is_string) => {
            out.insert("stop_sequences".into(), Value::Array(list));
        }
        Some(_) => return Err(invalid("`stop` must be a string or an array of strings")),
    }
    if let Some(t) = temperature {
        // OpenAI's scale is 0..2, Anthropic's 0..1; values above 1 cannot be kept.
        if t.as_f64().is_some_and(|t| t > 1.0) {
            return Err(unmappable(
                "temperature",
                "Anthropic accepts 0..1; this value is above 1",
            ));
        }
        out.insert("temperature".into(), t);
    }
    if let Some(p) = top_p {
        out.insert("top_p".into(), p);
    }
    let has_tools = tools.as_ref().is_some_and(|t| !t.is_empty());
    if let Some(tools) = tools.filter(|t| !t.is_empty()) {
        let converted = tools
            .into_iter()
            .enumerate()
            .map(|(i, t)| convert_tool(i, t))
            .collect::<Result<Vec<_>, _>>()?;
        out.insert("tools".into(), Value::Array(converted));
    }
    if let Some(choice) = convert_tool_choice(tool_choice, parallel, has_tools)? {
        out.insert("tool_choice".into(), choice);
    }
    if let Some(id) = safety_id.or(user) {
        out.insert("metadata".into(), json!({"user_id": id}));
    }
    if stream {
        out.insert("stream".into(), Value::Bool(true));
    }
    Ok(Translated {
        body: serde_json::to_vec(&Value::Object(out)).map_err(|e| invalid(&e.to_string()))?,
        path: "/v1/messages",
        view: ClientView {
            model: client_model,
            stream,
            include_usage: stream && include_usage,
        },
    })
}

fn bool_field(req: &mut Obj, key: &str) -> Result<Option<bool>, TranslateError> {
    match take(req, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(_) => Err(invalid(&format!("`{key}` must be a boolean"))),
    }
}

/// Fields whose meaning Anthropic cannot keep: present with a non-default value -> Unmappable.
fn refuse_unkeepable(req: &mut Obj) -> Result<(), TranslateError> {
    if let Some(n) = take(req, "n") {
        if n.as_u64() != Some(1) {
            return Err(unmappable("n", "Anthropic returns exactly one choice"));
        }
    }
    if matches!(take(req, "logprobs"), Some(Value::Bool(true))) {
        return Err(unmappable(
            "logprobs",
            "Anthropic returns no log probabilities",
        ));
    }
    if take(req, "top_logprobs").is_some() {
        return Err(unmappable(
            "top_logprobs",
            "Anthropic returns no log probabilities",
        ));
    }
    for key in ["frequency_penalty", "presence_penalty"] {
        if take(req, key).is_some_and(|v| v.as_f64() != Some(0.0)) {
            return Err(unmappable(key, "Anthropic has no repetition penalties"));
        }
    }
    if take(req, "logit_bias").is_some_and(|v| v.as_object().is_none_or(|m| !m.is_empty())) {
        return Err(unmappable("logit_bias", "Anthropic has no token biasing"));
    }
    if let Some(format) = take(req, "response_format") {
        if format.get("type").and_then(Value::as_str) != Some("text") {
            return Err(unmappable(
                "response_format",
                "JSON modes are not translated; the output would not be guaranteed",
            ));
        }
    }
    if let Some(modalities) = take(req, "modalities") {
        let text_only = modalities
            .as_array()
            .is_some_and(|m| m.iter().all(|x| x.as_str() == Some("text")));
        if !text_only {
            return Err(unmappable("modalities", "Anthropic answers with text only"));
        }
    }
    for key in [
        "audio",
        "prediction",
        "web_search_options",
        "functions",
        "function_call",
    ] {
        if take(req, key).is_some() {
            return Err(unmappable(key, "no Anthropic Messages equivalent"));
        }
    }
    Ok(())
}

/// Leading-or-not `system`/`developer` messages are hoisted into `system` (one string, or one
/// text block each when there are several); `tool` messages become `tool_result` blocks of one
/// user message, which a following user message joins (Anthropic wants every result of a turn in
/// the next user message, results first).
fn convert_messages(messages: Vec<Value>) -> Result<(Option<Value>, Vec<Value>), TranslateError> {
    let mut system = Vec::new();
    let mut out: Vec<Value> = Vec::with_capacity(messages.len());
    for (i, message) in messages.into_iter().enumerate() {
        let path = format!("messages[{i}]");
        let mut message = into_object(message, &path)?;
        let role = take_str(&mut message, "role", &format!("{path}."))?.unwrap_or_default();
        let content = take(&mut message, "content");
        match role.as_str() {
            "system" | "developer" => system.extend(text_blocks(content, &path)?),
            "user" => {
                let blocks = user_blocks(content, &path)?;
                push(&mut out, "user", blocks, false);
            }
            "assistant" => {
                let blocks = assistant_blocks(content, &mut message, &path)?;
                push(&mut out, "assistant", blocks, false);
            }
            "tool" => {
                let id = take_str(&mut message, "tool_call_id", &format!("{path}."))?
                    .ok_or_else(|| invalid(&format!("`{path}.tool_call_id` is missing")))?;
                let text = text_blocks(content, &path)?;
                let mut block = json!({"type": "tool_result", "tool_use_id": id});
                // One text stays a string; an empty result has no `content` at all (an empty
                // string or array is not needed: Anthropic's `content` is optional).
                match text.len() {
                    0 => {}
                    1 => block["content"] = text[0]["text"].clone(),
                    _ => block["content"] = Value::Array(text),
                }
                push(&mut out, "user", vec![block], true);
            }
            other => {
                return Err(unmappable(
                    format!("{path}.role"),
                    format!("role `{other}` has no Anthropic equivalent"),
                ))
            }
        }
    }
    let system = match system.len() {
        0 => None,
        1 => Some(system[0]["text"].clone()),
        _ => Some(Value::Array(system)),
    };
    Ok((system, out))
}

/// Appends a message, joining the previous one when the roles match and the join keeps
/// `tool_result` blocks first. Empty block lists are skipped (Anthropic rejects empty content).
fn push(out: &mut Vec<Value>, role: &str, blocks: Vec<Value>, is_tool_result: bool) {
    if blocks.is_empty() {
        return;
    }
    if let Some(last) = out.last_mut().filter(|m| m["role"] == role) {
        let only_results = last["content"]
            .as_array()
            .is_some_and(|c| c.iter().all(|b| b["type"] == "tool_result"));
        if !is_tool_result || only_results {
            if let Some(content) = last["content"].as_array_mut() {
                content.extend(blocks);
                return;
            }
        }
    }
    out.push(json!({"role": role, "content": blocks}));
}

/// String or text parts -> text blocks (empty texts dropped: Anthropic rejects them).
fn text_blocks(content: Option<Value>, path: &str) -> Result<Vec<Value>, TranslateError> {
    let parts = match content {
        None => return Ok(Vec::new()),
        Some(Value::String(s)) => vec![json!({"type": "text", "text": s})],
        Some(Value::Array(parts)) => parts,
        Some(_) => {
            return Err(invalid(&format!(
                "`{path}.content` must be a string or an array"
            )))
        }
    };
    let mut blocks = Vec::with_capacity(parts.len());
    for (j, part) in parts.into_iter().enumerate() {
        blocks.extend(text_block(&part, &format!("{path}.content[{j}]"))?);
    }
    Ok(blocks)
}

/// One `text` (or `refusal`) part at `path`; None for an empty text. Other part types are
/// Unmappable, named by their own path.
fn text_block(part: &Value, path: &str) -> Result<Option<Value>, TranslateError> {
    let kind = part.get("type").and_then(Value::as_str).unwrap_or("");
    let text = match kind {
        "text" => part.get("text"),
        "refusal" => part.get("refusal"),
        _ => {
            return Err(unmappable(
                path,
                format!("a `{kind}` part is not allowed here"),
            ))
        }
    };
    match text.and_then(Value::as_str) {
        Some("") => Ok(None),
        Some(t) => Ok(Some(json!({"type": "text", "text": t}))),
        None => Err(invalid(&format!("`{path}` has no text"))),
    }
}

fn user_blocks(content: Option<Value>, path: &str) -> Result<Vec<Value>, TranslateError> {
    let parts = match content {
        Some(Value::Array(parts)) => parts,
        other => return text_blocks(other, path),
    };
    let mut blocks = Vec::with_capacity(parts.len());
    for (j, part) in parts.into_iter().enumerate() {
        let ppath = format!("{path}.content[{j}]");
        if part.get("type").and_then(Value::as_str) == Some("image_url") {
            blocks.push(image_block(&part, &ppath)?);
        } else {
            blocks.extend(text_block(&part, &ppath)?);
        }
    }
    Ok(blocks)
}

/// `data:` URLs -> base64 sources, http(s) URLs -> url sources; `detail` has no equivalent and
/// only tunes OpenAI's own resizing, so it is dropped.
fn image_block(part: &Value, path: &str) -> Result<Value, TranslateError> {
    let url = part
        .pointer("/image_url/url")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(&format!("`{path}.image_url.url` is missing")))?;
    if let Some(rest) = url.strip_prefix("data:") {
        let (media, data) = rest.split_once(";base64,").ok_or_else(|| {
            unmappable(
                format!("{path}.image_url.url"),
                "only base64 data URLs can be sent",
            )
        })?;
        return Ok(
            json!({"type": "image", "source": {"type": "base64", "media_type": media, "data": data}}),
        );
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(json!({"type": "image", "source": {"type": "url", "url": url}}));
    }
    Err(unmappable(
        format!("{path}.image_url.url"),
        "not a data: or http(s) URL",
    ))
}

/// Assistant content and `tool_calls`. `reasoning_content` (sent back by some clients) is
/// dropped: Anthropic only accepts thinking with its own signature. `name` is dropped (no
/// per-message names in Anthropic).
fn assistant_blocks(
    content: Option<Value>,
    message: &mut Obj,
    path: &str,
) -> Result<Vec<Value>, TranslateError> {
    let mut blocks = text_blocks(content, path)?;
    if let Some(Value::String(r)) = take(message, "refusal") {
        if blocks.is_empty() && !r.is_empty() {
            blocks.push(json!({"type": "text", "text": r}));
        }
    }
    for key in ["audio", "function_call"] {
        if take(message, key).is_some() {
            return Err(unmappable(
                format!("{path}.{key}"),
                "no Anthropic equivalent",
            ));
        }
    }
    let calls = take_array(message, "tool_calls", &format!("{path}."))?.unwrap_or_default();
    for (j, call) in calls.into_iter().enumerate() {
        let cpath = format!("{path}.tool_calls[{j}]");
        if call
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("function")
            != "function"
        {
            return Err(unmappable(
                format!("{cpath}.type"),
                "only function tool calls are translated",
            ));
        }
        let id = call.get("id").and_then(Value::as_str);
        let name = call.pointer("/function/name").and_then(Value::as_str);
        let (Some(id), Some(name)) = (id, name) else {
            return Err(invalid(&format!(
                "`{cpath}` needs `id` and `function.name`"
            )));
        };
        let args = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or("");
        // Zero-argument tools may carry "" (F17): that is `{}`, not an error.
        let input = if args.trim().is_empty() {
            json!({})
        } else {
            match serde_json::from_str::<Value>(args) {
                Ok(v @ Value::Object(_)) => v,
                _ => {
                    return Err(invalid(&format!(
                        "`{cpath}.function.arguments` is not a JSON object"
                    )))
                }
            }
        };
        blocks.push(json!({"type": "tool_use", "id": id, "name": name, "input": input}));
    }
    Ok(blocks)
}

/// Chat function tool -> Anthropic tool; other tool types (custom, built-in search) have no
/// Anthropic client-tool equivalent.
fn convert_tool(i: usize, tool: Value) -> Result<Value, TranslateError> {
    let path = format!("tools[{i}]");
    if tool.get("type").and_then(Value::as_str) != Some("function") {
        return Err(unmappable(
            format!("{path}.type"),
            "only `function` tools are translated",
        ));
    }
    let function = tool
        .get("function")
        .ok_or_else(|| invalid(&format!("`{path}.function` is missing")))?;
    let name = function
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(&format!("`{path}.function.name` is missing")))?;
    // A function without parameters takes none; Anthropic requires a schema.
    let schema = match function.get("parameters") {
        Some(p) if !p.is_null() => p.clone(),
        _ => json!({"type": "object", "properties": {}}),
    };
    let mut out = json!({"name": name, "input_schema": schema});
    if let Some(d) = function.get("description").filter(|d| !d.is_null()) {
        out["description"] = d.clone();
    }
    if function.get("strict") == Some(&Value::Bool(true)) {
        out["strict"] = Value::Bool(true);
    }
    Ok(out)
}

/// none/auto/required/{function} -> none/auto/any/tool (F22); `parallel_tool_calls: false` ->
/// `disable_parallel_tool_use: true`. `none` stays `none`, never widened.
fn convert_tool_choice(
    choice: Option<Value>,
    parallel: Option<bool>,
    has_tools: bool,
) -> Result<Option<Value>, TranslateError> {
    let mut mapped = match &choice {
        None => json!({"type": "auto"}),
        Some(Value::String(s)) => match s.as_str() {
            "none" => json!({"type": "none"}),
            "auto" => json!({"type": "auto"}),
            "required" => json!({"type": "any"}),
            other => {
                return Err(unmappable(
                    "tool_choice",
                    format!("`{other}` is unknown; it is not guessed"),
                ))
            }
        },
        Some(obj) if obj.get("type").and_then(Value::as_str) == Some("function") => {
            match obj.pointer("/function/name").and_then(Value::as_str) {
                Some(name) => json!({"type": "tool", "name": name}),
                None => return Err(invalid("`tool_choice.function.name` is missing")),
            }
        }
        Some(_) => {
            return Err(unmappable(
                "tool_choice",
                "only none/auto/required/function are translated",
            ))
        }
    };
    if !has_tools {
        // No tools: `auto`/`none` say nothing more; a demanded call cannot happen.
        return match mapped["type"].as_str() {
            Some("auto" | "none") => Ok(None),
            _ => Err(invalid(
                "`tool_choice` demands a tool call but `tools` is empty",
            )),
        };
    }
    let no_parallel = parallel == Some(false) && mapped["type"] != "none";
    if no_parallel {
        mapped["disable_parallel_tool_use"] = Value::Bool(true);
    }
    if choice.is_none() && !no_parallel {
        return Ok(None);
    }
    Ok(Some(mapped))
}
