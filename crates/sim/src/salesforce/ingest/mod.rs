//! Bulk API 2.0 ingest jobs (api-facts §2): create (JSON or multipart), one upload, close, abort,
//! delete, job info, listing, and the three result files. The family owns its jobs, its routes,
//! its fault hook (a job told to fail) and the accessors [`crate::Sim`] reads.
//!
//! Choices: closing a job without data processes zero rows (JobComplete); result files are
//! served once the job is terminal, before that 400 `INVALIDJOBSTATE`; a second upload is 400
//! `INVALIDJOBSTATE` with the vendor's "Found multiple contents" text.
//!
//! Batches: Bulk API 2.0 "creates a separate batch for every 10,000 records in your job data",
//! besides an empty parent batch that does not count ("Understanding Bulk API 2.0 Ingest";
//! "Bulk API and Bulk API 2.0 Limits and Allocations"), so a processed job spends one of the
//! org's daily batches (`DailyBulkApiBatches`) for each 10 000 rows it processed.

mod handlers;
mod job;
mod results;
mod rows;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::{get, put};
use haul_types::IngestJobState;

use self::job::IngestJob;
use super::rest::both;
use crate::shared::calendar::Daily;
use crate::shared::faults::Switch;
use crate::shared::{Shared, lock};

/// Largest upload accepted: the documented 150 MB (of base64, which the simulator does not apply).
pub(crate) const MAX_UPLOAD: usize = 150 * 1024 * 1024;

/// Records a Bulk API 2.0 batch holds.
const BATCH_ROWS: u64 = 10_000;

/// The ingest family: its jobs and fault hook.
#[derive(Debug)]
pub(crate) struct IngestJobs {
    core: Shared,
    /// Jobs per page of the job listing.
    list_page_size: usize,
    jobs: Mutex<BTreeMap<String, IngestJob>>,
    fail_next: Switch,
    /// Batches processed today.
    batches: Daily,
}

impl IngestJobs {
    /// No jobs yet; listings show `list_page_size` jobs a page.
    pub(crate) fn new(core: Shared, list_page_size: usize) -> Self {
        Self {
            batches: Daily::new(&core.calendar),
            core,
            list_page_size,
            jobs: Mutex::default(),
            fail_next: Switch::default(),
        }
    }

    /// The state of a job, or `None` if there is no such job.
    pub(crate) fn job_state(&self, id: &str) -> Option<IngestJobState> {
        lock(&self.jobs).get(id).map(|j| j.state.clone())
    }

    /// Batches processed today (of the org's daily batch allocation).
    pub(crate) fn batches_used(&self) -> u64 {
        self.batches.used()
    }

    /// Spends the batches a job that processed `rows` rows took.
    fn spend_batches(&self, rows: u64) {
        self.batches.spend(rows.div_ceil(BATCH_ROWS));
    }

    /// The next job created ends in `Failed`, with an `errorMessage`.
    pub(crate) fn fail_next(&self) {
        self.fail_next.arm();
    }
}

/// The family's routes, under `/services/data/{version}/jobs/ingest`.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>(jobs: &Arc<IngestJobs>) -> Router<S> {
    let i = "/services/data/{version}/jobs/ingest";
    let mut api = Router::new();
    api = both(api, i, get(handlers::list).post(handlers::create));
    api = both(
        api,
        &format!("{i}/{{id}}"),
        get(handlers::get)
            .patch(handlers::patch)
            .delete(handlers::delete),
    );
    api = both(api, &format!("{i}/{{id}}/batches"), put(handlers::upload));
    api = both(
        api,
        &format!("{i}/{{id}}/successfulResults"),
        get(results::successful),
    );
    api = both(
        api,
        &format!("{i}/{{id}}/failedResults"),
        get(results::failed),
    );
    for spelling in ["unprocessedrecords", "unprocessedRecords"] {
        api = both(
            api,
            &format!("{i}/{{id}}/{spelling}"),
            get(results::unprocessed),
        );
    }
    api.with_state(jobs.clone())
}
