//! `output_config` toward OpenAI providers. `effort` only tunes thinking and is dropped (like
//! `thinking`); `format` (Anthropic structured outputs, `{"type": "json_schema", "schema": …}`,
//! which Claude Code sends on its title request) is the same promise as OpenAI's strict JSON
//! schema output, so it is carried over under the name `output` (Anthropic's format has none).
//! Any other key or format type is refused naming it: dropping it would widen what the model may
//! answer.

use super::TranslateError;
use serde_json::{json, Value};

/// The JSON schema the answer must follow, if `output_config` asks for one.
pub(crate) fn json_schema(config: &Value, api: &str) -> Result<Option<Value>, TranslateError> {
    let unmappable = |field: &str, reason: String| TranslateError::Unmappable {
        field: field.to_string(),
        reason,
    };
    let Some(config) = config.as_object() else {
        return Err(TranslateError::Invalid(
            "`output_config` must be an object".into(),
        ));
    };
    if let Some(other) = config
        .keys()
        .find(|k| !matches!(k.as_str(), "effort" | "format"))
    {
        return Err(unmappable(
            &format!("output_config.{other}"),
            format!("not known to the translator; no {api} equivalent is translated"),
        ));
    }
    let Some(format) = config.get("format").filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    match format.get("type").and_then(Value::as_str) {
        Some("json_schema") => {}
        _ => {
            return Err(unmappable(
                "output_config.format.type",
                format!("only `json_schema` formats are translated to {api}"),
            ))
        }
    }
    if let Some(other) = format
        .as_object()
        .and_then(|f| f.keys().find(|k| !matches!(k.as_str(), "type" | "schema")))
    {
        return Err(unmappable(
            &format!("output_config.format.{other}"),
            format!("no {api} equivalent is translated"),
        ));
    }
    match format.get("schema") {
        Some(schema @ Value::Object(_)) => Ok(Some(schema.clone())),
        _ => Err(TranslateError::Invalid(
            "`output_config.format.schema` must be an object".into(),
        )),
    }
}

/// Chat Completions' `response_format` for `schema`.
pub(crate) fn chat_response_format(schema: Value) -> Value {
    json!({"type": "json_schema", "json_schema": {"name": "output", "strict": true, "schema": schema}})
}

/// The Responses API's `text` for `schema`.
pub(crate) fn responses_text(schema: Value) -> Value {
    json!({"format": {"type": "json_schema", "name": "output", "strict": true, "schema": schema}})
}
