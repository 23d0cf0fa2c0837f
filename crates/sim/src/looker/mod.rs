//! The Looker side: API 4.0 login/logout, queries and async query tasks, on the `thelook` model.

pub(crate) mod auth;
pub(crate) mod engine;
pub(crate) mod model;
pub(crate) mod queries;
pub(crate) mod tasks;

use std::sync::Mutex;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::json;

use crate::state::Shared;

/// Where Looker's error bodies point.
pub(crate) const DOCS: &str = "http://docs.looker.com/";

/// Looker's state: stored queries and tasks.
#[derive(Debug)]
pub(crate) struct LookerState {
    pub(crate) data: model::Data,
    pub(crate) queries: Mutex<queries::Queries>,
    pub(crate) tasks: Mutex<std::collections::HashMap<String, tasks::Task>>,
}

impl LookerState {
    pub(crate) fn new(data: model::Data) -> Self {
        Self {
            data,
            queries: Mutex::default(),
            tasks: Mutex::default(),
        }
    }
}

/// A JSON response.
pub(crate) fn respond(status: StatusCode, body: &serde_json::Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response()
}

/// Looker's `Error` body.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    respond(
        status,
        &json!({ "message": message, "documentation_url": DOCS }),
    )
}

/// 404 `Not found`: unknown ids (and, on Looker, things the caller may not see).
pub(crate) fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not found")
}

/// 422 `ValidationError` with one entry per problem.
pub(crate) fn validation(problems: &[(String, String)]) -> Response {
    let errors: Vec<_> = problems
        .iter()
        .map(|(field, message)| json!({ "field": field, "code": "invalid", "message": message, "documentation_url": DOCS }))
        .collect();
    respond(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({ "message": "Validation Failed", "errors": errors, "documentation_url": DOCS }),
    )
}

/// All Looker routes.
pub(crate) fn router(st: Shared) -> Router<Shared> {
    let api = Router::new()
        .route("/api/4.0/queries", post(queries::create))
        .route("/api/4.0/queries/{id}", get(queries::get))
        .route("/api/4.0/query_tasks", post(tasks::create))
        .route(
            "/api/4.0/query_tasks/multi_results",
            get(tasks::multi_results),
        )
        .route("/api/4.0/query_tasks/{id}", get(tasks::get))
        .route("/api/4.0/query_tasks/{id}/results", get(tasks::results))
        .route("/api/4.0/running_queries", get(tasks::running))
        .route("/api/4.0/running_queries/{id}", delete(tasks::kill))
        .route("/api/4.0/logout", delete(auth::logout))
        .route("/api/logout", delete(auth::logout))
        .route_layer(from_fn_with_state(st, auth::guard));
    Router::new()
        .route("/api/4.0/login", post(auth::login))
        .merge(api)
}
