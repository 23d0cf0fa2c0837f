//! The task resources: create, poll, results (202 while running, or the legacy 204),
//! multi_results, kill, and the running-queries list.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use haul_types::QueryTaskStatus;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Looker;
use super::engine::{self, FORMATS};
use super::errors::{error, not_found, respond, validation};
use super::task::{Outcome, Task};
use crate::shared::lock;
use crate::shared::rng::mix;

#[derive(Debug, Deserialize)]
pub(super) struct CreateParams {
    limit: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    query_id: Option<Value>,
    result_format: Option<String>,
    source: Option<String>,
}

/// `POST /api/4.0/query_tasks`.
pub(super) async fn create(
    State(looker): State<Arc<Looker>>,
    Query(params): Query<CreateParams>,
    body: Bytes,
) -> Response {
    let Ok(req) = serde_json::from_slice::<CreateBody>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "Request body must be a CreateQueryTask JSON object",
        );
    };
    let query_id = match req.query_id {
        Some(Value::String(s)) => s,
        Some(Value::Number(n)) => n.to_string(),
        _ => return validation(&[("query_id".into(), "query_id is required".into())]),
    };
    let format = req.result_format.unwrap_or_default();
    if !FORMATS.contains(&format.as_str()) {
        let message = format!(
            "result_format '{format}' is not one haul-sim renders ({})",
            FORMATS.join(", ")
        );
        return validation(&[("result_format".into(), message)]);
    }
    let Some(query) = lock(&looker.queries).get(&query_id).map(|q| q.body.clone()) else {
        return not_found();
    };
    let serial = looker.core.next_serial();
    let seed = looker.core.config.seed;
    let id = format!("{:016x}{:016x}", mix(seed ^ serial), mix(serial));
    let task = Task {
        id: id.clone(),
        query_id,
        query,
        format,
        source: req.source,
        limit: params.limit,
        status: QueryTaskStatus::Added,
        outcome: None,
        finished: None,
        runtime: None,
    };
    let info = task.info(looker.options.result_ttl);
    lock(&looker.tasks).insert(id.clone(), task);
    looker.core.clock.start(looker.clone(), id).await;
    respond(StatusCode::OK, &info)
}

/// `GET /api/4.0/query_tasks/{id}`.
pub(super) async fn get(State(looker): State<Arc<Looker>>, Path(id): Path<String>) -> Response {
    match lock(&looker.tasks).get(&id) {
        Some(task) => respond(StatusCode::OK, &task.info(looker.options.result_ttl)),
        None => not_found(),
    }
}

/// `GET /api/4.0/query_tasks/{id}/results`.
pub(super) async fn results(State(looker): State<Arc<Looker>>, Path(id): Path<String>) -> Response {
    let tasks = lock(&looker.tasks);
    let Some(task) = tasks.get(&id) else {
        return not_found();
    };
    match (
        task.current_status(looker.options.result_ttl),
        &task.outcome,
    ) {
        (status, _) if status.is_pending() => if looker.options.legacy_204 {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::ACCEPTED
        }
        .into_response(),
        (
            QueryTaskStatus::Complete,
            Some(Outcome::Done {
                body, content_type, ..
            }),
        ) => {
            let mut response = body.clone().into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            response
        }
        (QueryTaskStatus::Error, Some(Outcome::Failed { message, sql }))
            if task.format == "json_detail" =>
        {
            respond(
                StatusCode::OK,
                &engine::error_detail(&task.id, sql, message),
            )
        }
        (QueryTaskStatus::Error, Some(Outcome::Failed { message, .. })) => {
            error(StatusCode::BAD_REQUEST, message)
        }
        _ => not_found(),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct MultiParams {
    query_task_ids: Option<String>,
}

/// The ids of `query_task_ids`: comma-separated as the spec says (`a,b`), or a JSON array
/// (`["a","b"]`), which is what the official Python SDK sends.
fn task_ids(text: &str) -> Vec<String> {
    let text = text.trim();
    if text.starts_with('[')
        && let Ok(ids) = serde_json::from_str::<Vec<String>>(text)
    {
        return ids;
    }
    text.split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `GET /api/4.0/query_tasks/multi_results?query_task_ids=a,b`.
pub(super) async fn multi_results(
    State(looker): State<Arc<Looker>>,
    Query(params): Query<MultiParams>,
) -> Response {
    let Some(ids) = params.query_task_ids.filter(|s| !s.trim().is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "query_task_ids is required");
    };
    let tasks = lock(&looker.tasks);
    let mut out = serde_json::Map::new();
    for id in task_ids(&ids) {
        let id = id.as_str();
        let entry = match tasks.get(id) {
            None => json!({ "status": "missing" }),
            Some(task) => match (
                task.current_status(looker.options.result_ttl),
                &task.outcome,
            ) {
                (QueryTaskStatus::Complete, Some(Outcome::Done { data, .. })) => {
                    json!({ "status": "complete", "data": data })
                }
                (QueryTaskStatus::Error, Some(Outcome::Failed { message, sql }))
                    if task.format == "json_detail" =>
                {
                    json!({ "status": "error", "data": engine::error_detail(&task.id, sql, message) })
                }
                (QueryTaskStatus::Error, Some(Outcome::Failed { message, sql })) => {
                    json!({ "status": "error", "data": { "id": task.id, "error": message, "runtime": 0.0, "sql": sql } })
                }
                (status, _) => json!({ "status": status }),
            },
        };
        out.insert(id.to_owned(), entry);
    }
    respond(StatusCode::OK, &Value::Object(out))
}

/// `DELETE /api/4.0/running_queries/{id}`: kills a task that has not finished; 404 otherwise.
pub(super) async fn kill(State(looker): State<Arc<Looker>>, Path(id): Path<String>) -> Response {
    let mut tasks = lock(&looker.tasks);
    match tasks.get_mut(&id) {
        Some(task) if task.status.is_pending() => {
            task.status = QueryTaskStatus::Killed;
            task.finished = Some(Instant::now());
            StatusCode::NO_CONTENT.into_response()
        }
        _ => not_found(),
    }
}

/// `GET /api/4.0/running_queries`.
pub(super) async fn running(State(looker): State<Arc<Looker>>) -> Response {
    let tasks = lock(&looker.tasks);
    let list: Vec<Value> = tasks
        .values()
        .filter(|t| t.status.is_pending())
        .map(|t| json!({ "id": t.id, "query_task_id": t.id, "query_id": t.query_id, "status": t.status, "source": t.source }))
        .collect();
    respond(StatusCode::OK, &Value::from(list))
}

#[cfg(test)]
mod tests {
    use super::task_ids;

    #[test]
    fn task_ids_come_comma_separated_or_as_a_json_array() {
        assert_eq!(task_ids("a, b,,c"), ["a", "b", "c"]);
        assert_eq!(task_ids(r#"["a","b"]"#), ["a", "b"]);
        assert_eq!(task_ids("[broken"), ["[broken"]);
    }
}
