//! The Salesforce side: Bulk API 2.0 query and ingest, Async SOQL, OAuth, limits.

pub(crate) mod async_soql;
pub(crate) mod auth;
pub(crate) mod errors;
pub(crate) mod ingest;
pub(crate) mod ingest_rows;
pub(crate) mod limits;
pub(crate) mod query;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::{MethodRouter, get, post, put};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::state::Shared;

/// The user every job is created by.
pub(crate) const USER_ID: &str = "005Hs0000000001IAA";

/// Path parameters of a versioned collection.
#[derive(Debug, Deserialize)]
pub(crate) struct VersionPath {
    pub(crate) version: String,
}

/// Path parameters of one job.
#[derive(Debug, Deserialize)]
pub(crate) struct JobPath {
    pub(crate) version: String,
    pub(crate) id: String,
}

/// Adds `path` and `path/`: clients differ on trailing slashes (api-facts §5.13).
fn both(router: Router<Shared>, path: &str, handler: MethodRouter<Shared>) -> Router<Shared> {
    router
        .route(path, handler.clone())
        .route(&format!("{path}/"), handler)
}

/// All Salesforce routes.
pub(crate) fn router(st: Shared) -> Router<Shared> {
    let data = "/services/data/{version}";
    let q = format!("{data}/jobs/query");
    let i = format!("{data}/jobs/ingest");
    let a = format!("{data}/async-queries");
    let mut api = Router::new();
    api = both(api, &q, post(query::create).get(query::list));
    api = both(
        api,
        &format!("{q}/{{id}}"),
        get(query::get).patch(query::patch).delete(query::delete),
    );
    api = both(api, &format!("{q}/{{id}}/results"), get(query::results));
    api = both(
        api,
        &format!("{q}/{{id}}/resultPages"),
        get(query::result_pages),
    );
    api = both(
        api,
        &format!("{q}/{{id}}/resultpages"),
        get(query::result_pages),
    );
    api = both(api, &i, post(ingest::create).get(ingest::list));
    api = both(
        api,
        &format!("{i}/{{id}}"),
        get(ingest::get).patch(ingest::patch).delete(ingest::delete),
    );
    api = both(api, &format!("{i}/{{id}}/batches"), put(ingest::upload));
    api = both(
        api,
        &format!("{i}/{{id}}/successfulResults"),
        get(ingest::successful),
    );
    api = both(
        api,
        &format!("{i}/{{id}}/failedResults"),
        get(ingest::failed),
    );
    api = both(
        api,
        &format!("{i}/{{id}}/unprocessedrecords"),
        get(ingest::unprocessed),
    );
    api = both(
        api,
        &format!("{i}/{{id}}/unprocessedRecords"),
        get(ingest::unprocessed),
    );
    api = both(api, &a, post(async_soql::create).get(async_soql::list));
    api = both(
        api,
        &format!("{a}/{{id}}"),
        get(async_soql::get).delete(async_soql::cancel),
    );
    api = both(api, &format!("{data}/limits"), get(limits::limits));
    let api = api.route_layer(from_fn_with_state(st, auth::guard));
    Router::new()
        .route("/services/data", get(limits::versions))
        .route("/services/data/", get(limits::versions))
        .route("/services/oauth2/token", post(auth::token))
        .merge(api)
}

/// One page of a job listing: `{done, records, nextRecordsUrl}`.
pub(crate) fn list_page(
    records: &[Value],
    offset: u64,
    page: usize,
    next_url: impl Fn(u64) -> String,
) -> Response {
    let start = (offset as usize).min(records.len());
    let end = start.saturating_add(page.max(1)).min(records.len());
    let done = end >= records.len();
    let next = (!done).then(|| next_url(end as u64));
    errors::json(
        StatusCode::OK,
        &json!({ "done": done, "records": &records[start..end], "nextRecordsUrl": next }),
    )
}
