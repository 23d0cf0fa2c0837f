//! One ingest job: its fields, its JSON job info, and how the shared lifecycle runs it
//! (`UploadComplete` queued, `InProgress` running, `JobComplete` or `Failed` done). Jobs start
//! `Open`; the lifecycle starts when the job is closed.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use haul_types::{ApiVersion, ColumnDelimiter, IngestJobState, IngestOperation, LineEnding};
use serde_json::{Value, json};

use super::IngestJobs;
use super::rows::{self, Outcome, Plan};
use crate::salesforce::rest::{USER_ID, sf_time};
use crate::shared::data::Org;
use crate::shared::data::schema::ObjectSchema;
use crate::shared::lifecycle::{Jobs, Step};
use crate::shared::lock;

/// An ingest job.
#[derive(Debug)]
pub(super) struct IngestJob {
    pub(super) id: String,
    pub(super) object: &'static ObjectSchema,
    pub(super) operation: IngestOperation,
    pub(super) external_id: Option<String>,
    pub(super) assignment_rule_id: Option<String>,
    pub(super) version: ApiVersion,
    pub(super) delimiter: ColumnDelimiter,
    pub(super) line_ending: LineEnding,
    pub(super) created: DateTime<Utc>,
    pub(super) modified: DateTime<Utc>,
    pub(super) state: IngestJobState,
    pub(super) data: Option<Bytes>,
    pub(super) fail: bool,
    pub(super) error_message: Option<String>,
    pub(super) outcome: Option<Arc<Outcome>>,
    pub(super) processing_ms: u64,
}

impl IngestJob {
    /// The job info of creation, close and abort answers.
    pub(super) fn short_info(&self) -> serde_json::Map<String, Value> {
        let Value::Object(mut map) = json!({
            "id": self.id,
            "operation": self.operation,
            "object": self.object.name,
            "createdById": USER_ID,
            "createdDate": sf_time(self.created),
            "systemModstamp": sf_time(self.modified),
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": self.version,
            "contentUrl": format!("services/data/v{}/jobs/ingest/{}/batches", self.version, self.id),
            "lineEnding": self.line_ending,
            "columnDelimiter": self.delimiter,
        }) else {
            unreachable!("a JSON object literal")
        };
        if let Some(key) = &self.external_id {
            map.insert("externalIdFieldName".into(), json!(key));
        }
        if let Some(rule) = &self.assignment_rule_id {
            map.insert("assignmentRuleId".into(), json!(rule));
        }
        map
    }

    /// The job info of `GET /jobs/ingest/{id}`.
    pub(super) fn full_info(&self) -> Value {
        let mut map = self.short_info();
        let (processed, failed) = self.outcome.as_ref().map_or((0, 0), |o| {
            (o.successes.len() + o.failures.len(), o.failures.len())
        });
        map.insert("jobType".into(), json!("V2Ingest"));
        map.insert("numberRecordsProcessed".into(), json!(processed));
        map.insert("numberRecordsFailed".into(), json!(failed));
        map.insert("retries".into(), json!(0));
        map.insert("totalProcessingTime".into(), json!(self.processing_ms));
        map.insert("apiActiveProcessingTime".into(), json!(self.processing_ms));
        map.insert("apexProcessingTime".into(), json!(0));
        if let Some(message) = &self.error_message {
            map.insert("errorMessage".into(), json!(message));
        }
        Value::Object(map)
    }

    /// Moves the job to `state` at `now` (the org's clock).
    pub(super) fn touch(&mut self, state: IngestJobState, now: DateTime<Utc>) {
        self.state = state;
        self.modified = now;
    }

    /// How to apply the job's rows.
    pub(super) fn plan(&self) -> Plan {
        Plan {
            object: self.object,
            operation: self.operation.clone(),
            external_id: self.external_id.clone(),
            delimiter: self.delimiter.as_byte().unwrap_or(b','),
        }
    }
}

/// What a running ingest job applies.
#[derive(Debug)]
pub(crate) struct Work {
    plan: Plan,
    data: Bytes,
    fail: bool,
}

/// The rows applied, or why the job failed (with the rows it did not process).
type Processed = Result<Outcome, (String, Outcome)>;

impl Jobs for IngestJobs {
    type Work = Work;
    type Outcome = Processed;

    fn step(&self, id: &str) -> Step<Work> {
        let mut jobs = lock(&self.jobs);
        let Some(job) = jobs
            .get_mut(id)
            .filter(|j| j.state == IngestJobState::UploadComplete)
        else {
            return Step::Gone;
        };
        job.touch(IngestJobState::InProgress, self.core.calendar.now());
        Step::Running(Work {
            plan: job.plan(),
            data: job.data.clone().unwrap_or_default(),
            fail: job.fail,
        })
    }

    fn work(&self, work: Work) -> Processed {
        process(&self.core.org, &work.plan, &work.data, work.fail)
    }

    /// The rows were applied to the org even if the job was aborted meanwhile, so the outcome
    /// is kept whatever the state; only a job still running becomes done.
    fn finish(&self, id: &str, processed: Processed, ran: Duration) {
        let outcome = match &processed {
            Ok(outcome) | Err((_, outcome)) => outcome,
        };
        self.spend_batches((outcome.successes.len() + outcome.failures.len()) as u64);
        let mut jobs = lock(&self.jobs);
        let Some(job) = jobs.get_mut(id) else { return };
        job.processing_ms = ran.as_millis() as u64;
        let done = match processed {
            Ok(outcome) => {
                job.outcome = Some(Arc::new(outcome));
                IngestJobState::JobComplete
            }
            Err((message, outcome)) => {
                job.outcome = Some(Arc::new(outcome));
                job.error_message = Some(message);
                IngestJobState::Failed
            }
        };
        if job.state == IngestJobState::InProgress {
            job.touch(done, self.core.calendar.now());
        }
    }
}

/// Applies the data, or explains why the job fails (with every row left unprocessed).
fn process(org: &Org, plan: &Plan, data: &[u8], fail: bool) -> Result<Outcome, (String, Outcome)> {
    let (header, columns, rows) = match rows::read(plan, data) {
        Ok(parsed) => parsed,
        Err(message) => return Err((message, Outcome::default())),
    };
    if fail {
        let outcome = Outcome {
            header,
            unprocessed: rows,
            ..Outcome::default()
        };
        return Err((
            "InternalServerError : the simulator was told to fail this job".to_owned(),
            outcome,
        ));
    }
    Ok(rows::apply(org, plan, header, &columns, rows))
}

/// An aborted job that had not processed its rows lists them as unprocessed.
pub(super) fn abort_outcome(job: &mut IngestJob) {
    if job.outcome.is_some() {
        return;
    }
    if let Ok((header, _, rows)) = job
        .data
        .as_deref()
        .map_or(Ok(Default::default()), |d| rows::read(&job.plan(), d))
    {
        job.outcome = Some(Arc::new(Outcome {
            header,
            unprocessed: rows,
            ..Outcome::default()
        }));
    }
}
