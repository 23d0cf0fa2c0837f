//! The Looker family: API 4.0 login/logout, queries and async query tasks, on the `thelook`
//! model. The family owns its data, its stored queries and tasks, its routes, its error shapes
//! and the accessors [`crate::Sim`] reads.

mod auth;
mod engine;
mod errors;
pub(crate) mod model;
mod queries;
mod task;
mod tasks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::{delete, get, post};
use haul_types::QueryTaskStatus;

use crate::shared::surface::Surface;
use crate::shared::{Shared, lock};

/// Settings of the Looker family.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Answer results of unfinished tasks with the legacy 204 instead of 202.
    pub(crate) legacy_204: bool,
    /// How long finished results stay before the task is `expired`.
    pub(crate) result_ttl: Duration,
}

/// The Looker family: its data, stored queries and tasks.
#[derive(Debug)]
pub(crate) struct Looker {
    core: Shared,
    options: Options,
    data: model::Data,
    queries: Mutex<queries::Queries>,
    tasks: Mutex<HashMap<String, task::Task>>,
}

impl Looker {
    /// No queries or tasks yet, over `data`.
    pub(crate) fn new(core: Shared, options: Options, data: model::Data) -> Self {
        Self {
            core,
            options,
            data,
            queries: Mutex::default(),
            tasks: Mutex::default(),
        }
    }

    /// The status of a task, as `GET /query_tasks/{id}` would show it, or `None`.
    pub(crate) fn task_status(&self, id: &str) -> Option<QueryTaskStatus> {
        lock(&self.tasks)
            .get(id)
            .map(|t| t.current_status(self.options.result_ttl))
    }
}

impl Surface for Looker {
    fn injected(&self, status: StatusCode, _route: &str) -> Response {
        let reason = status.canonical_reason().unwrap_or("error");
        errors::error(status, &format!("{reason} (injected by haul-sim)"))
    }

    fn not_found(&self) -> Response {
        errors::not_found()
    }
}

/// All Looker routes: login, and the rest behind the token guard.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>(looker: &Arc<Looker>) -> Router<S> {
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
        .route_layer(from_fn_with_state(looker.clone(), auth::guard));
    Router::new()
        .route("/api/4.0/login", post(auth::login))
        .merge(api)
        .with_state(looker.clone())
}
