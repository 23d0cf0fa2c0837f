//! The query resources: create, get, list and cancel (`DELETE`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use haul_types::{ApiVersion, AsyncQueryStatus};
use serde_json::{Value, json};

use super::AsyncQueries;
use super::query::{AsyncQuery, CreateBody, bad, validate};
use crate::salesforce::errors::{self, not_found, parse_body};
use crate::salesforce::rest::{JobPath, VersionPath};
use crate::shared::lock;

/// The first version with Async SOQL.
const MIN_VERSION: ApiVersion = ApiVersion::new(35, 0);

/// `POST /async-queries`.
pub(super) async fn create(
    State(fam): State<Arc<AsyncQueries>>,
    Path(p): Path<VersionPath>,
    body: Bytes,
) -> Response {
    if let Err(r) = errors::version(&p.version, MIN_VERSION) {
        return r;
    }
    let req: CreateBody = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let query = match validate(&fam, req) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let (id, info) = (query.id.clone(), query.info());
    lock(&fam.queries).insert(id.clone(), query);
    fam.core.clock.start(fam.clone(), id).await;
    errors::json(StatusCode::CREATED, &info)
}

/// `GET /async-queries/{id}`.
pub(super) async fn get(State(fam): State<Arc<AsyncQueries>>, Path(p): Path<JobPath>) -> Response {
    if let Err(r) = errors::version(&p.version, MIN_VERSION) {
        return r;
    }
    match lock(&fam.queries).get(&p.id) {
        Some(q) => errors::json(StatusCode::OK, &q.info()),
        None => not_found(),
    }
}

/// `GET /async-queries` (v36+).
pub(super) async fn list(
    State(fam): State<Arc<AsyncQueries>>,
    Path(p): Path<VersionPath>,
) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::new(36, 0)) {
        return r;
    }
    let all: Vec<Value> = lock(&fam.queries).values().map(AsyncQuery::info).collect();
    errors::json(StatusCode::OK, &json!({ "asyncQueries": all }))
}

/// `DELETE /async-queries/{id}` (v36+): cancels a query that has not finished.
pub(super) async fn cancel(
    State(fam): State<Arc<AsyncQueries>>,
    Path(p): Path<JobPath>,
) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::new(36, 0)) {
        return r;
    }
    let mut queries = lock(&fam.queries);
    let Some(q) = queries.get_mut(&p.id) else {
        return not_found();
    };
    if q.status.is_terminal() {
        return bad(
            "INVALID_STATE",
            format!("The query is already {} and cannot be canceled", q.status),
        );
    }
    q.status = AsyncQueryStatus::Canceled;
    errors::empty(StatusCode::NO_CONTENT)
}
