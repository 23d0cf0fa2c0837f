//! `POST /api/4.0/queries` (identical queries return the same id) and `GET /queries/{id}`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::engine::{self, Spec};
use super::errors::{error, not_found, respond, validation};
use super::{Looker, model};
use crate::shared::lock;
use crate::shared::rng::mix;

/// Stored queries: immutable, never deleted.
#[derive(Debug, Default)]
pub(crate) struct Queries {
    by_id: BTreeMap<u64, StoredQuery>,
    by_key: HashMap<String, u64>,
}

impl Queries {
    pub(crate) fn get(&self, id: &str) -> Option<&StoredQuery> {
        self.by_id.get(&id.parse().ok()?)
    }
}

/// One query: what it computes and how it is shown.
#[derive(Debug, Clone)]
pub(crate) struct StoredQuery {
    pub(crate) spec: Spec,
    pub(crate) body: Value,
}

fn string_list(value: Option<&Value>) -> Result<Vec<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| "must be strings".to_owned())
            })
            .collect(),
        Some(_) => Err("must be an array of strings".into()),
    }
}

/// Reads a `WriteQuery` body into a spec, or the 422 problems.
fn read(body: &Map<String, Value>) -> Result<Spec, Vec<(String, String)>> {
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
    let mut problems = Vec::new();
    let model_name = text("model").unwrap_or_default();
    if model_name.is_empty() {
        problems.push(("model".into(), "model is required".into()));
    } else if model_name != model::MODEL {
        problems.push((
            "model".into(),
            format!(
                "model '{model_name}' not found (haul-sim has '{}')",
                model::MODEL
            ),
        ));
    }
    let view = text("view").unwrap_or_default();
    if view.is_empty() {
        problems.push(("view".into(), "view is required".into()));
    }
    let mut list = |key: &str| {
        string_list(body.get(key)).unwrap_or_else(|m| {
            problems.push((key.to_owned(), m));
            Vec::new()
        })
    };
    let fields = list("fields");
    let sorts = list("sorts");
    let filters = match body.get("filters") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect(),
        Some(_) => {
            problems.push(("filters".into(), "must be an object of strings".into()));
            Vec::new()
        }
    };
    let limit = match body.get("limit") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let spec = Spec {
        view,
        fields,
        filters,
        sorts,
        limit,
    };
    let problems = engine::validate(&spec);
    if problems.is_empty() {
        Ok(spec)
    } else {
        Err(problems)
    }
}

/// The `Query` a response shows: the caller's fields plus the read-only ones.
fn response_body(id: u64, body: &Map<String, Value>) -> Value {
    let mut out = body.clone();
    let slug = format!("{:07x}", mix(id) & 0xFFF_FFFF);
    out.insert("id".into(), json!(id.to_string()));
    out.insert("slug".into(), json!(slug));
    out.insert("share_url".into(), json!(format!("/x/{slug}")));
    out.insert("expanded_share_url".into(), Value::Null);
    out.insert(
        "url".into(),
        json!(format!(
            "/explore/{}/{}?qid={slug}",
            model::MODEL,
            out.get("view").and_then(Value::as_str).unwrap_or_default()
        )),
    );
    out.insert("has_table_calculations".into(), json!(false));
    out.insert(
        "can".into(),
        json!({ "run": true, "see_results": true, "explore": true, "create": true, "show": true }),
    );
    for key in [
        "pivots",
        "fill_fields",
        "filters",
        "filter_expression",
        "sorts",
        "limit",
        "column_limit",
        "total",
        "row_total",
        "subtotals",
        "vis_config",
        "filter_config",
        "visible_ui_sections",
        "dynamic_fields",
        "client_id",
        "query_timezone",
    ] {
        out.entry(key).or_insert(Value::Null);
    }
    Value::Object(out)
}

/// `POST /api/4.0/queries`.
pub(super) async fn create(State(looker): State<Arc<Looker>>, body: Bytes) -> Response {
    let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "Request body must be a JSON object",
        );
    };
    for read_only in [
        "id",
        "slug",
        "share_url",
        "expanded_share_url",
        "url",
        "has_table_calculations",
        "can",
    ] {
        body.remove(read_only);
    }
    let spec = match read(&body) {
        Ok(s) => s,
        Err(problems) => return validation(&problems),
    };
    let key = Value::Object(body.clone()).to_string();
    let mut queries = lock(&looker.queries);
    let id = match queries.by_key.get(&key) {
        Some(&id) => id,
        None => {
            let id = queries.by_id.len() as u64 + 1;
            let stored = StoredQuery {
                spec,
                body: response_body(id, &body),
            };
            queries.by_id.insert(id, stored);
            queries.by_key.insert(key, id);
            id
        }
    };
    respond(StatusCode::OK, &queries.by_id[&id].body)
}

/// `GET /api/4.0/queries/{id}`.
pub(super) async fn get(State(looker): State<Arc<Looker>>, Path(id): Path<String>) -> Response {
    match lock(&looker.queries).get(&id) {
        Some(q) => respond(StatusCode::OK, &q.body),
        None => not_found(),
    }
}
