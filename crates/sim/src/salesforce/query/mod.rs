//! Bulk API 2.0 query jobs (api-facts §1): create, get, list, abort, delete, results and
//! resultPages. The family owns its jobs, its routes, its fault hooks (a job told to fail, a
//! result page that lies about its row count) and the accessors [`crate::Sim`] reads.
//!
//! Choices where the vendor is silent or inconsistent (api-facts §5):
//! - Results requested before `JobComplete`: 412 `JOB_NOT_COMPLETE`, the body of the v46 docs.
//! - Results or resultPages under another API version than the job's: 409 `API_ERROR`.
//! - A locator is the base64 (URL-safe, unpadded) of the row offset where its page starts; a
//!   locator that decodes to no page is 400 `INVALID_LOCATOR`.
//! - `maxRecords` omitted: the configured default page size (50 000 unless set).
//! - A query that "runs past its two minutes" (the Bulk API's documented QUERY_TIMEOUT, seen by
//!   users as `Your query request was running for too long.`): a job whose results would exceed
//!   the configured rows ends in `Failed` with `errorMessage` `QUERY_TIMEOUT : Your query request
//!   was running for too long.`, in the `CODE : message` form of the Bulk API's job errors.
//! - The daily allocation of query jobs (`DailyBulkV2QueryJobs`, 10 000 per rolling 24 hours,
//!   "Bulk API and Bulk API 2.0 Limits and Allocations"; counted per simulated day, see
//!   `shared/calendar.rs`): every creation request that passes validation spends one, refused
//!   ones too; once more than the allocation are spent, creation is refused with 400
//!   `LIMIT_EXCEEDED` "Max bulk v2 query jobs (10000) per 24 hrs has been reached (N)", N the
//!   jobs asked for today. The Bulk API 2.0 Errors page names the code `ExceededQuota` ("The job
//!   or batch you tried to create exceeds the allowed number for the past 24-hour period"); the
//!   code, status and text here are what real orgs answer (airbyte's Salesforce source tests,
//!   estuary's connector matching the text seen in production; api-facts §1.8).

mod handlers;
mod job;
mod results;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use haul_types::QueryJobState;

use self::job::QueryJob;
use super::rest::both;
use crate::shared::calendar::Daily;
use crate::shared::faults::{Injected, Switch};
use crate::shared::{Shared, lock};

/// Settings of the query family.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Rows per result page when a request has no `maxRecords`.
    pub(crate) default_page_size: u64,
    /// Jobs per page of the job listing.
    pub(crate) list_page_size: usize,
    /// Jobs whose results would exceed this many rows fail with `QUERY_TIMEOUT`.
    pub(crate) timeout_rows: Option<u64>,
    /// Jobs that may be created a simulated day.
    pub(crate) daily_jobs: u64,
}

/// The query family: its jobs and fault hooks.
#[derive(Debug)]
pub(crate) struct QueryJobs {
    core: Shared,
    options: Options,
    jobs: Mutex<BTreeMap<String, QueryJob>>,
    fail_next: Switch,
    /// Record-count errors queued by tests, oldest last.
    lies: Mutex<Vec<i64>>,
    /// Jobs asked for today, deleted and refused ones too: what the daily job limit counts.
    created: Daily,
}

impl QueryJobs {
    /// No jobs yet.
    pub(crate) fn new(core: Shared, options: Options) -> Self {
        Self {
            created: Daily::new(&core.calendar),
            core,
            options,
            jobs: Mutex::default(),
            fail_next: Switch::default(),
            lies: Mutex::default(),
        }
    }

    /// The state of a job, or `None` if there is no such job.
    pub(crate) fn job_state(&self, id: &str) -> Option<QueryJobState> {
        lock(&self.jobs).get(id).map(|j| j.state.clone())
    }

    /// Jobs asked for today, deleted ones included (each spends one of the org's daily jobs).
    pub(crate) fn created(&self) -> u64 {
        self.created.used()
    }

    /// Jobs that may be created a day.
    pub(crate) fn daily_limit(&self) -> u64 {
        self.options.daily_jobs
    }

    /// The next job created ends in `Failed`.
    pub(crate) fn fail_next(&self) {
        self.fail_next.arm();
    }

    /// The next result page served reports its row count off by `delta`.
    pub(crate) fn lie_next(&self, delta: i64) {
        lock(&self.lies).insert(0, delta);
    }

    /// The error to add to the next result page's row count, if it should lie: a queued one
    /// first, else as the fault plan draws.
    fn take_lie(&self) -> Option<i64> {
        let queued = lock(&self.lies).pop();
        if queued.is_some() {
            self.core.faults.record(Injected::Lie);
            return queued;
        }
        self.core.faults.draw_lie().then_some(1)
    }
}

/// The family's routes, under `/services/data/{version}/jobs/query`.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>(jobs: &Arc<QueryJobs>) -> Router<S> {
    let q = "/services/data/{version}/jobs/query";
    let mut api = Router::new();
    api = both(api, q, get(handlers::list).post(handlers::create));
    api = both(
        api,
        &format!("{q}/{{id}}"),
        get(handlers::get)
            .patch(handlers::patch)
            .delete(handlers::delete),
    );
    api = both(api, &format!("{q}/{{id}}/results"), get(results::results));
    for spelling in ["resultPages", "resultpages"] {
        api = both(
            api,
            &format!("{q}/{{id}}/{spelling}"),
            get(results::result_pages),
        );
    }
    api.with_state(jobs.clone())
}
