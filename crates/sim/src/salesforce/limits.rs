//! `GET /services/data/vXX.X/limits`: the org's limits that matter to these APIs, each
//! `{"Max": .., "Remaining": ..}` (REST API Developer Guide, "Limits" and "List Organization
//! Limits"). The daily counts are spent over the simulated day (`shared/calendar.rs`) and all
//! come back at `Sim::next_day`: `DailyApiRequests` is the count the bearer-token guard spends
//! and enforces (every versioned REST and Bulk API request, "Each HTTP request counts as one
//! call", Salesforce Help 000382576), `DailyBulkV2QueryJobs` every query job asked for (enforced
//! by the query family), `DailyBulkApiBatches` one per 10 000 rows an ingest job processed (not
//! enforced); `DataStorageMB` the live rows at 2 KB each (Salesforce Help, "Data and File
//! Storage Allocations": most records count 2 KB).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use super::ingest::IngestJobs;
use super::query::QueryJobs;
use super::rest::both;
use super::{Salesforce, errors};
use crate::shared::data::schema::OBJECTS;

/// Daily Bulk API batches shared by Bulk 1.0 and ingest (api-facts §2.8).
const DAILY_BATCHES: u64 = 15_000;
/// Data storage of the org (an Enterprise Edition's 10 GB base allocation).
const DATA_STORAGE_MB: u64 = 10_240;
/// Storage a record counts for.
const RECORD_KB: u64 = 2;

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
    let (query_jobs, daily_query_jobs) = (counted.query.created(), counted.query.daily_limit());
    let rows: u64 = OBJECTS
        .iter()
        .map(|o| counted.sf.core.org.snapshot(o).live_count())
        .sum();
    let used_mb = (rows * RECORD_KB).div_ceil(1024);
    let batches = counted.ingest.batches_used();
    errors::json(
        StatusCode::OK,
        &json!({
            "DailyApiRequests": { "Max": limit, "Remaining": limit.saturating_sub(used) },
            "DailyBulkV2QueryJobs": { "Max": daily_query_jobs, "Remaining": daily_query_jobs.saturating_sub(query_jobs) },
            "DailyBulkV2QueryFileStorageMB": { "Max": 976_562, "Remaining": 976_562 },
            "DailyBulkApiBatches": { "Max": DAILY_BATCHES, "Remaining": DAILY_BATCHES.saturating_sub(batches) },
            "DataStorageMB": { "Max": DATA_STORAGE_MB, "Remaining": DATA_STORAGE_MB.saturating_sub(used_mb) },
        }),
    )
}
