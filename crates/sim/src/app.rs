//! The router: both families, the `/__sim` routes, and the outer layer.

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::{get, post};

use crate::salesforce::ingest::MAX_UPLOAD;
use crate::state::Shared;
use crate::{looker, middleware, salesforce};

/// The whole application.
pub(crate) fn app(st: Shared) -> Router {
    Router::new()
        .merge(salesforce::router(st.clone()))
        .merge(looker::router(st.clone()))
        .route("/__sim/stats", get(stats))
        .route("/__sim/faults", get(faults))
        .route("/__sim/expire-tokens", post(expire_tokens))
        .fallback(middleware::fallback)
        .layer(from_fn_with_state(st.clone(), middleware::outer))
        // Uploads may be up to the documented 150 MB; anything bigger gets the vendor's error.
        .layer(DefaultBodyLimit::max(MAX_UPLOAD + 1024 * 1024))
        .with_state(st)
}

/// `GET /__sim/stats`: requests by method, route and status, as JSON.
async fn stats(State(st): State<Shared>) -> Response {
    salesforce::errors::json(StatusCode::OK, &st.stats.snapshot())
}

/// `GET /__sim/faults`: faults injected so far, by kind, as JSON (see `FaultCounts`).
async fn faults(State(st): State<Shared>) -> Response {
    salesforce::errors::json(StatusCode::OK, &st.faults.counts())
}

/// `POST /__sim/expire-tokens`: invalidates every access token issued so far, of both realms, as
/// [`crate::Sim::expire_tokens`] does (refresh tokens and client credentials keep working). Lets a
/// test running the binary force token refreshes at moments it chooses. Answers 204.
async fn expire_tokens(State(st): State<Shared>) -> StatusCode {
    st.tokens.expire_all();
    StatusCode::NO_CONTENT
}
