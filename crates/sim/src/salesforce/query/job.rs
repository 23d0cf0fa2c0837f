//! One query job: its fields, its JSON job info, and how the shared lifecycle runs it
//! (`UploadComplete` queued, `InProgress` running, `JobComplete` or `Failed` done).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use haul_types::{ApiVersion, ColumnDelimiter, LineEnding, QueryJobState, QueryOperation};
use serde_json::{Value, json};

use super::QueryJobs;
use crate::salesforce::rest::{USER_ID, sf_time};
use crate::shared::data::Snapshot;
use crate::shared::data::query::{ResultSet, evaluate, parents};
use crate::shared::data::soql::Soql;
use crate::shared::lifecycle::{Jobs, Step};
use crate::shared::lock;

/// A query job and, once it ran, its results.
#[derive(Debug)]
pub(super) struct QueryJob {
    pub(super) id: String,
    pub(super) operation: QueryOperation,
    pub(super) soql: Soql,
    pub(super) version: ApiVersion,
    pub(super) delimiter: ColumnDelimiter,
    pub(super) line_ending: LineEnding,
    pub(super) created: DateTime<Utc>,
    pub(super) modified: DateTime<Utc>,
    pub(super) state: QueryJobState,
    pub(super) results: Option<Arc<ResultSet>>,
    /// A test told this job to fail.
    pub(super) fail: bool,
    /// Why the job failed, when the org says (`errorMessage` of the job info).
    pub(super) error_message: Option<String>,
    pub(super) processing_ms: u64,
}

/// The `errorMessage` of a job whose query ran past the org's time limit.
pub(super) const QUERY_TIMEOUT: &str =
    "QUERY_TIMEOUT : Your query request was running for too long.";

impl QueryJob {
    /// The job info of creation and abort answers.
    pub(super) fn short_info(&self) -> serde_json::Map<String, Value> {
        let Value::Object(map) = json!({
            "id": self.id,
            "operation": self.operation,
            "object": self.soql.object.name,
            "createdById": USER_ID,
            "createdDate": sf_time(self.created),
            "systemModstamp": sf_time(self.modified),
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": self.version,
            "lineEnding": self.line_ending,
            "columnDelimiter": self.delimiter,
        }) else {
            unreachable!("a JSON object literal")
        };
        map
    }

    /// The job info of a listing.
    pub(super) fn listed_info(&self) -> Value {
        let mut map = self.short_info();
        map.insert("jobType".into(), json!("V2Query"));
        Value::Object(map)
    }

    /// The job info of `GET /jobs/query/{id}`.
    pub(super) fn full_info(&self) -> Value {
        let mut map = self.short_info();
        map.insert("jobType".into(), json!("V2Query"));
        map.insert(
            "numberRecordsProcessed".into(),
            json!(self.results.as_ref().map_or(0, |r| r.len())),
        );
        map.insert("retries".into(), json!(0));
        map.insert("totalProcessingTime".into(), json!(self.processing_ms));
        map.insert("isPkChunkingSupported".into(), json!(true));
        if let Some(message) = &self.error_message {
            map.insert("errorMessage".into(), json!(message));
        }
        Value::Object(map)
    }

    /// Moves the job to `state` at `now` (the org's clock).
    pub(super) fn touch(&mut self, state: QueryJobState, now: DateTime<Utc>) {
        self.state = state;
        self.modified = now;
    }
}

/// What a running query job evaluates: the object as it was when the job started.
#[derive(Debug)]
pub(crate) struct Work {
    snapshot: Snapshot,
    parents: Vec<Snapshot>,
    soql: Soql,
    query_all: bool,
}

impl Jobs for QueryJobs {
    type Work = Work;
    type Outcome = ResultSet;

    fn step(&self, id: &str) -> Step<Work> {
        let mut jobs = lock(&self.jobs);
        let Some(job) = jobs
            .get_mut(id)
            .filter(|j| j.state == QueryJobState::UploadComplete)
        else {
            return Step::Gone;
        };
        job.touch(QueryJobState::InProgress, self.core.calendar.now());
        Step::Running(Work {
            snapshot: self.core.org.snapshot(job.soql.object),
            parents: parents(&self.core.org, &job.soql),
            soql: job.soql.clone(),
            query_all: job.operation == QueryOperation::QueryAll,
        })
    }

    fn work(&self, work: Work) -> ResultSet {
        evaluate(work.snapshot, work.parents, &work.soql, work.query_all)
    }

    fn finish(&self, id: &str, results: ResultSet, ran: Duration) {
        let mut jobs = lock(&self.jobs);
        let Some(job) = jobs
            .get_mut(id)
            .filter(|j| j.state == QueryJobState::InProgress)
        else {
            return;
        };
        job.processing_ms = ran.as_millis() as u64;
        let timed_out = self
            .options
            .timeout_rows
            .is_some_and(|limit| results.len() > limit);
        if timed_out {
            job.error_message = Some(QUERY_TIMEOUT.to_owned());
        }
        if job.fail || timed_out {
            job.touch(QueryJobState::Failed, self.core.calendar.now());
        } else {
            job.results = Some(Arc::new(results));
            job.touch(QueryJobState::JobComplete, self.core.calendar.now());
        }
    }
}
