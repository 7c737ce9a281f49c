//! Anthropic `tools` and `tool_choice` -> their Responses forms (F22: `none` stays `none`, an
//! unknown choice or server tool is refused, never widened).

use super::super::TranslateError;
use super::request::unmappable;
use serde_json::{json, Map, Value};

/// Anthropic tool definitions -> Responses function tools. `strict` is sent as `false` unless
/// the client asked for strict schemas: Responses defaults to strict, which rejects ordinary
/// JSON schemas (optional properties, no `additionalProperties: false`).
pub(super) fn map_tools(tools: &[Value]) -> Result<Vec<Value>, TranslateError> {
    let mut out = Vec::with_capacity(tools.len());
    for (i, tool) in tools.iter().enumerate() {
        let obj = tool
            .as_object()
            .ok_or_else(|| TranslateError::Invalid(format!("tools[{i}] must be an object")))?;
        for (key, value) in obj {
            match key.as_str() {
                "name" | "description" | "input_schema" | "cache_control" | "strict" => {}
                "type" if value.as_str() == Some("custom") => {}
                "type" => {
                    return Err(unmappable(
                        format!("tools[{i}].type"),
                        format!(
                            "server tool `{}` has no Responses function equivalent",
                            value.as_str().unwrap_or("?")
                        ),
                    ))
                }
                other => {
                    return Err(unmappable(
                        format!("tools[{i}].{other}"),
                        "unknown tool field",
                    ))
                }
            }
        }
        let name = obj
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| TranslateError::Invalid(format!("tools[{i}].name must be a string")))?;
        let mut f = Map::new();
        f.insert("type".into(), json!("function"));
        f.insert("name".into(), json!(name));
        if let Some(d) = obj.get("description").and_then(Value::as_str) {
            f.insert("description".into(), json!(d));
        }
        let params = obj
            .get("input_schema")
            .cloned()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
        f.insert("parameters".into(), params);
        let strict = obj.get("strict").and_then(Value::as_bool).unwrap_or(false);
        f.insert("strict".into(), json!(strict));
        out.push(Value::Object(f));
    }
    Ok(out)
}

/// `tool_choice` -> (Responses `tool_choice`, `parallel_tool_calls`). `none` stays `none`; a
/// type this code does not know is refused rather than guessed (F22).
pub(super) fn tool_choice(choice: &Value) -> Result<(Value, Option<bool>), TranslateError> {
    let kind = choice.get("type").and_then(Value::as_str).unwrap_or("");
    let mapped = match kind {
        "auto" => json!("auto"),
        "any" => json!("required"),
        "none" => json!("none"),
        "tool" => {
            let name = choice.get("name").and_then(Value::as_str).ok_or_else(|| {
                TranslateError::Invalid("tool_choice.name must be a string".into())
            })?;
            json!({"type": "function", "name": name})
        }
        other => {
            return Err(unmappable(
                "tool_choice.type",
                format!("unknown tool_choice type `{other}`"),
            ))
        }
    };
    let parallel = match choice
        .get("disable_parallel_tool_use")
        .and_then(Value::as_bool)
    {
        Some(true) => Some(false),
        _ => None,
    };
    Ok((mapped, parallel))
}
