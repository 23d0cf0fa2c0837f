//! `GET /services/data` (versions, no auth) and `GET /services/data/vXX.X/limits`.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use haul_types::ApiVersion;
use serde_json::json;

use super::errors;
use crate::state::{Shared, lock};

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

/// The org's limits that matter to these APIs.
pub(crate) async fn limits(State(st): State<Shared>) -> Response {
    let limit = st.config.api_limit;
    let used = st.api_usage.load(Ordering::SeqCst);
    let query_jobs = lock(&st.query_jobs).len() as u64;
    let ingest_jobs = lock(&st.ingest_jobs).len() as u64;
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
