//! Async SOQL (api-facts §3; retired by the vendor in Summer '23, simulated from the v35–v46
//! docs): New → Scheduled → Running → Complete | Failed, cancel via DELETE, and rows copied from the
//! source query into the target object per `targetFieldMap` / `targetValueMap` (`$JOB_ID` becomes
//! the job id).
//!
//! Choices: values are copied as text without type conversion; cancelling a query that already
//! finished is 400 `INVALID_STATE`.
//!
//! The family owns its queries, its routes, its fault hook (a query told to fail) and the
//! accessors [`crate::Sim`] reads.

mod copy;
mod handlers;
mod query;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use haul_types::AsyncQueryStatus;

use self::query::AsyncQuery;
use super::rest::both;
use crate::shared::faults::Switch;
use crate::shared::{Shared, lock};

/// The Async SOQL family: its queries and fault hook.
#[derive(Debug)]
pub(crate) struct AsyncQueries {
    core: Shared,
    queries: Mutex<BTreeMap<String, AsyncQuery>>,
    fail_next: Switch,
}

impl AsyncQueries {
    /// No queries yet.
    pub(crate) fn new(core: Shared) -> Self {
        Self {
            core,
            queries: Mutex::default(),
            fail_next: Switch::default(),
        }
    }

    /// The status of a query, or `None` if there is no such query.
    pub(crate) fn status(&self, id: &str) -> Option<AsyncQueryStatus> {
        lock(&self.queries).get(id).map(|q| q.status.clone())
    }

    /// The next query created ends in `Failed`, with a `message`.
    pub(crate) fn fail_next(&self) {
        self.fail_next.arm();
    }
}

/// The family's routes, under `/services/data/{version}/async-queries`.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>(queries: &Arc<AsyncQueries>) -> Router<S> {
    let a = "/services/data/{version}/async-queries";
    let mut api = Router::new();
    api = both(api, a, get(handlers::list).post(handlers::create));
    api = both(
        api,
        &format!("{a}/{{id}}"),
        get(handlers::get).delete(handlers::cancel),
    );
    api.with_state(queries.clone())
}
