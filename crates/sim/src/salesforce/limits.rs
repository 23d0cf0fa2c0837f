//! `GET /services/data` (versions, no auth) and `GET /services/data/vXX.X/limits`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use haul_types::ApiVersion;
use serde_json::json;

use super::ingest::IngestJobs;
use super::query::QueryJobs;
use super::rest::both;
use super::{Salesforce, errors};

/// Daily Bulk API 2.0 query jobs per org (api-facts §1.8).
const DAILY_QUERY_JOBS: u64 = 10_000;
/// Daily Bulk API batches shared by Bulk 1.0 and ingest (api-facts §2.8).
const DAILY_BATCHES: u64 = 15_000;

/// The versions this simulator serves, oldest first.
pub(crate) async fn versions() -> Response {
    let list: Vec<_> = (ApiVersion::BULK_V2_INGEST.major()..=ApiVersion::LATEST.major())
        .map(|major| {
            let v = ApiVersion::new(major, 0);
            json!({ "label": format!("API {v}"), "url": format!("/services/data/v{v}"), "version": v.to_string() })
        })
        .collect();
    errors::json(StatusCode::OK, &list)
}

/// What the limits resource counts: API requests and the jobs of the Bulk API families.
#[derive(Debug, Clone)]
struct Counted {
    sf: Arc<Salesforce>,
    query: Arc<QueryJobs>,
    ingest: Arc<IngestJobs>,
}

/// `GET /services/data/vXX.X/limits`.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>(
    sf: &Arc<Salesforce>,
    query: &Arc<QueryJobs>,
    ingest: &Arc<IngestJobs>,
) -> Router<S> {
    let counted = Counted {
        sf: sf.clone(),
        query: query.clone(),
        ingest: ingest.clone(),
    };
    both(
        Router::new(),
        "/services/data/{version}/limits",
        get(limits),
    )
    .with_state(counted)
}

/// The org's limits that matter to these APIs.
async fn limits(State(counted): State<Counted>) -> Response {
    let limit = counted.sf.api_limit;
    let used = counted.sf.usage();
    let query_jobs = counted.query.count() as u64;
    let ingest_jobs = counted.ingest.count() as u64;
    errors::json(
        StatusCode::OK,
        &json!({
            "DailyApiRequests": { "Max": limit, "Remaining": limit.saturating_sub(used) },
            "DailyBulkV2QueryJobs": { "Max": DAILY_QUERY_JOBS, "Remaining": DAILY_QUERY_JOBS.saturating_sub(query_jobs) },
            "DailyBulkV2QueryFileStorageMB": { "Max": 976_562, "Remaining": 976_562 },
            "DailyBulkApiBatches": { "Max": DAILY_BATCHES, "Remaining": DAILY_BATCHES.saturating_sub(ingest_jobs) },
        }),
    )
}
