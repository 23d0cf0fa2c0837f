//! Bulk API 2.0 ingest jobs (api-facts §2): create (JSON or multipart), one upload, close, abort,
//! delete, job info, listing, and the three result files. The family owns its jobs, its routes,
//! its fault hook (a job told to fail) and the accessors [`crate::Sim`] reads.
//!
//! Choices: closing a job without data processes zero rows (JobComplete); result files are
//! served once the job is terminal, before that 400 `INVALIDJOBSTATE`; a second upload is 400
//! `INVALIDJOBSTATE` with the vendor's "Found multiple contents" text.

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
use crate::shared::faults::Switch;
use crate::shared::{Shared, lock};

/// Largest upload accepted: the documented 150 MB (of base64, which the simulator does not apply).
pub(crate) const MAX_UPLOAD: usize = 150 * 1024 * 1024;

/// The ingest family: its jobs and fault hook.
#[derive(Debug)]
pub(crate) struct IngestJobs {
    core: Shared,
    /// Jobs per page of the job listing.
    list_page_size: usize,
    jobs: Mutex<BTreeMap<String, IngestJob>>,
    fail_next: Switch,
}

impl IngestJobs {
    /// No jobs yet; listings show `list_page_size` jobs a page.
    pub(crate) fn new(core: Shared, list_page_size: usize) -> Self {
        Self {
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

    /// Jobs that exist now (deleted ones not counted).
    pub(crate) fn count(&self) -> usize {
        lock(&self.jobs).len()
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
