//! The Looker family: API 4.0 login/logout, queries and async query tasks, on the `thelook`
//! model. The family owns its data, its stored queries and tasks, its routes, its error shapes,
//! its settings ([`Options`], given to [`crate::SimBuilder::looker`]) and what a test reads of it
//! ([`Handle`], from [`crate::Sim::looker`]).

mod auth;
mod engine;
mod errors;
mod handle;
mod model;
mod options;
mod queries;
mod task;
mod tasks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::{delete, get, post};
use haul_types::QueryTaskStatus;

pub use self::handle::Handle;
pub use self::options::Options;
use crate::shared::surface::Surface;
use crate::shared::{Shared, lock};

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
    /// No queries or tasks yet, over views of `rows(model.view)` rows.
    pub(crate) fn new(core: Shared, options: Options, rows: &dyn Fn(&str) -> Option<u64>) -> Self {
        Self {
            data: model::Data::new(core.config.seed, rows),
            core,
            options,
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
