//! Async query tasks: create, poll, results (202 while running, or the legacy 204), multi_results,
//! kill, and the running-queries list. Status runs added → running → complete | error | killed,
//! and complete → expired once the results outlive their time to live.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use haul_types::QueryTaskStatus;
use serde::Deserialize;
use serde_json::{Value, json};

use super::engine::{self, FORMATS};
use super::{error, not_found, respond, validation};
use crate::rng::mix;
use crate::state::{Shared, lock};

/// What a finished task produced.
#[derive(Debug, Clone)]
enum Outcome {
    Done {
        body: Vec<u8>,
        content_type: &'static str,
        data: Value,
    },
    Failed {
        message: String,
        sql: String,
    },
}

/// One query task.
#[derive(Debug)]
pub(crate) struct Task {
    id: String,
    query_id: String,
    query: Value,
    format: String,
    source: Option<String>,
    limit: Option<i64>,
    status: QueryTaskStatus,
    outcome: Option<Outcome>,
    finished: Option<Instant>,
    runtime: Option<f64>,
}

impl Task {
    /// The status now: a complete task whose results outlived `ttl` is expired.
    pub(crate) fn current_status(&self, ttl: std::time::Duration) -> QueryTaskStatus {
        match (&self.status, self.finished) {
            (QueryTaskStatus::Complete, Some(at)) if at.elapsed() > ttl => QueryTaskStatus::Expired,
            (status, _) => status.clone(),
        }
    }

    fn info(&self, ttl: std::time::Duration) -> Value {
        json!({
            "id": self.id,
            "query_id": self.query_id,
            "query": self.query,
            "generate_links": false,
            "force_production": false,
            "path_prefix": null,
            "cache": true,
            "server_table_calcs": false,
            "cache_only": false,
            "cache_key": null,
            "status": self.current_status(ttl),
            "source": self.source,
            "runtime": self.runtime,
            "rebuild_pdts": false,
            "result_source": null,
            "look_id": null,
            "dashboard_id": null,
            "result_format": self.format,
            "can": {},
        })
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct CreateParams {
    limit: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    query_id: Option<Value>,
    result_format: Option<String>,
    source: Option<String>,
}

/// `POST /api/4.0/query_tasks`.
pub(crate) async fn create(
    State(st): State<Shared>,
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
    let Some(query) = lock(&st.looker.queries)
        .get(&query_id)
        .map(|q| q.body.clone())
    else {
        return not_found();
    };
    let serial = st.next_serial();
    let id = format!("{:016x}{:016x}", mix(st.config.seed ^ serial), mix(serial));
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
    let info = task.info(st.config.looker_result_ttl);
    lock(&st.looker.tasks).insert(id.clone(), task);
    tokio::spawn(run(st, id));
    respond(StatusCode::OK, &info)
}

async fn run(st: Shared, id: String) {
    let d = st.config.job_duration;
    if !st.pause(d / 10).await {
        return;
    }
    let (query_id, format, limit) = {
        let mut tasks = lock(&st.looker.tasks);
        let Some(task) = tasks
            .get_mut(&id)
            .filter(|t| t.status == QueryTaskStatus::Added)
        else {
            return;
        };
        task.status = QueryTaskStatus::Running;
        (task.query_id.clone(), task.format.clone(), task.limit)
    };
    let Some(spec) = lock(&st.looker.queries)
        .get(&query_id)
        .map(|q| q.spec.clone())
    else {
        return;
    };
    let started = Instant::now();
    let worker = st.clone();
    let task_id = id.clone();
    let computed =
        tokio::task::spawn_blocking(
            move || match engine::run(&worker.looker.data, &spec, limit) {
                Ok(table) => {
                    let (body, content_type, data) =
                        engine::render(&table, &format, &task_id, started.elapsed().as_secs_f64());
                    Outcome::Done {
                        body,
                        content_type,
                        data,
                    }
                }
                Err(message) => Outcome::Failed {
                    sql: engine::run_sql(&spec),
                    message,
                },
            },
        )
        .await;
    let Ok(outcome) = computed else { return };
    if !st
        .pause(d.saturating_sub(d / 10).saturating_sub(started.elapsed()))
        .await
    {
        return;
    }
    let mut tasks = lock(&st.looker.tasks);
    if let Some(task) = tasks
        .get_mut(&id)
        .filter(|t| t.status == QueryTaskStatus::Running)
    {
        task.status = match outcome {
            Outcome::Done { .. } => QueryTaskStatus::Complete,
            Outcome::Failed { .. } => QueryTaskStatus::Error,
        };
        task.outcome = Some(outcome);
        task.finished = Some(Instant::now());
        task.runtime = Some(started.elapsed().as_secs_f64());
    }
}

/// `GET /api/4.0/query_tasks/{id}`.
pub(crate) async fn get(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    match lock(&st.looker.tasks).get(&id) {
        Some(task) => respond(StatusCode::OK, &task.info(st.config.looker_result_ttl)),
        None => not_found(),
    }
}

/// `GET /api/4.0/query_tasks/{id}/results`.
pub(crate) async fn results(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    let tasks = lock(&st.looker.tasks);
    let Some(task) = tasks.get(&id) else {
        return not_found();
    };
    match (
        task.current_status(st.config.looker_result_ttl),
        &task.outcome,
    ) {
        (status, _) if status.is_pending() => if st.config.legacy_looker_204 {
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
pub(crate) struct MultiParams {
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
pub(crate) async fn multi_results(
    State(st): State<Shared>,
    Query(params): Query<MultiParams>,
) -> Response {
    let Some(ids) = params.query_task_ids.filter(|s| !s.trim().is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "query_task_ids is required");
    };
    let tasks = lock(&st.looker.tasks);
    let mut out = serde_json::Map::new();
    for id in task_ids(&ids) {
        let id = id.as_str();
        let entry = match tasks.get(id) {
            None => json!({ "status": "missing" }),
            Some(task) => match (
                task.current_status(st.config.looker_result_ttl),
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
pub(crate) async fn kill(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    let mut tasks = lock(&st.looker.tasks);
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
pub(crate) async fn running(State(st): State<Shared>) -> Response {
    let tasks = lock(&st.looker.tasks);
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
