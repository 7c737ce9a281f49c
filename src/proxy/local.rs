//! Answers the proxy gives itself when routing rules exist: `GET /v1/models` lists the models
//! the rules name exactly (patterns such as `claude-*` cannot be listed), and
//! `GET /v1/models/{id}` describes a model a rule matches. Each in the asking client's shape:
//! Anthropic `{"data":[{"type":"model",...}],"has_more":false,...}`, OpenAI
//! `{"object":"list","data":[{"object":"model",...}]}`. Without rules these paths pass through.

use crate::providers::Provider;
use crate::routing::Routes;
use serde_json::{json, Value};

/// What a models path asks for.
pub(crate) enum ModelsQuery {
    List,
    One(String),
}

/// Whether `path` is a models path routing answers for: the list always, one model only when
/// a rule matches it (other ids still go to the provider).
pub(crate) fn models_query(routes: &Routes, path: &str) -> Option<ModelsQuery> {
    let rest = path.strip_prefix("/v1").unwrap_or(path);
    match rest.strip_prefix("/models")? {
        "" | "/" => Some(ModelsQuery::List),
        id => {
            let id = id.strip_prefix('/')?;
            (!id.contains('/') && routes.rule_for(id).is_some())
                .then(|| ModelsQuery::One(id.to_string()))
        }
    }
}

fn model(dialect: Provider, id: &str) -> Value {
    match dialect {
        Provider::Anthropic => json!({
            "type": "model",
            "id": id,
            "display_name": id,
            "created_at": "1970-01-01T00:00:00Z",
        }),
        Provider::OpenAi => json!({
            "id": id,
            "object": "model",
            "created": 0,
            "owned_by": "lunaroute",
        }),
    }
}

/// The JSON answer for `query` in `dialect`'s shape.
pub(crate) fn models(routes: &Routes, dialect: Provider, query: &ModelsQuery) -> Value {
    match query {
        ModelsQuery::One(id) => model(dialect, id),
        ModelsQuery::List => {
            let names = routes.listed_models();
            let data: Vec<Value> = names.iter().map(|id| model(dialect, id)).collect();
            match dialect {
                Provider::Anthropic => json!({
                    "data": data,
                    "has_more": false,
                    "first_id": names.first(),
                    "last_id": names.last(),
                }),
                Provider::OpenAi => json!({ "object": "list", "data": data }),
            }
        }
    }
}
