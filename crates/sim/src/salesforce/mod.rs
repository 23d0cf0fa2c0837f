//! The Salesforce side: what its families share (OAuth and the API usage count, limits, the
//! error shapes, paths, listings and locators), and the router that puts the families (Bulk API
//! 2.0 query, Bulk API 2.0 ingest, Async SOQL, the REST API around them) behind the bearer-token
//! guard.

pub(crate) mod async_soql;
pub(crate) mod auth;
pub(crate) mod errors;
pub(crate) mod ingest;
pub(crate) mod limits;
pub(crate) mod query;
pub(crate) mod rest;
pub(crate) mod rest_api;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::post;

use crate::shared::Shared;
use crate::shared::calendar::Daily;
use crate::shared::surface::Surface;

/// The org-wide state of the Salesforce side: the API requests counted against the daily limit.
#[derive(Debug)]
pub(crate) struct Salesforce {
    pub(crate) core: Shared,
    pub(crate) api_limit: u64,
    usage: Daily,
}

impl Salesforce {
    /// The Salesforce side of `core`, allowing `api_limit` API requests a simulated day.
    pub(crate) fn new(core: Shared, api_limit: u64) -> Self {
        Self {
            usage: Daily::new(&core.calendar),
            core,
            api_limit,
        }
    }

    /// API requests counted today.
    pub(crate) fn usage(&self) -> u64 {
        self.usage.used()
    }

    /// Counts one more API request; today's count including it.
    fn count_request(&self) -> u64 {
        self.usage.spend(1)
    }
}

impl Surface for Salesforce {
    fn injected(&self, status: StatusCode, route: &str) -> Response {
        let (code, message) = match status.as_u16() {
            503 => (
                "SERVER_UNAVAILABLE",
                "Server temporarily unavailable (injected by haul-sim)",
            ),
            429 => (
                "REQUEST_LIMIT_EXCEEDED",
                "ConcurrentPerOrgLongTxn Limit exceeded. (injected by haul-sim)",
            ),
            _ => (
                "UNKNOWN_EXCEPTION",
                "An unexpected error occurred (injected by haul-sim)",
            ),
        };
        let response = errors::error(status, code, message);
        // Only the versioned API carries the usage header; the OAuth endpoint does not.
        if route.starts_with("/services/data/") {
            auth::with_usage(self, response, self.usage())
        } else {
            response
        }
    }

    fn not_found(&self) -> Response {
        errors::not_found()
    }
}

/// All Salesforce routes: the unguarded ones, and every family's behind the guard.
pub(crate) fn router<S: Clone + Send + Sync + 'static>(
    sf: &Arc<Salesforce>,
    query: &Arc<query::QueryJobs>,
    ingest: &Arc<ingest::IngestJobs>,
    async_soql: &Arc<async_soql::AsyncQueries>,
    rest: &Arc<rest_api::RestApi>,
) -> Router<S> {
    let guarded = Router::new()
        .merge(query::routes(query))
        .merge(ingest::routes(ingest))
        .merge(async_soql::routes(async_soql))
        .merge(rest_api::routes(rest))
        .merge(limits::routes(sf, query, ingest))
        .route_layer(from_fn_with_state(sf.clone(), auth::guard));
    let open = Router::new()
        .route("/services/oauth2/token", post(auth::token))
        .with_state(sf.clone());
    open.merge(rest_api::open_routes(rest)).merge(guarded)
}
