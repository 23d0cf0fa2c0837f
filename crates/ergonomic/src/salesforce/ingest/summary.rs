//! What an ingest did: per job and in total, and the way to its result rows.

use futures::{Stream, StreamExt};
use haul_types::{IngestJobState, SalesforceId};

use super::IngestJob;
use super::rows::{FailedRow, SuccessfulRow, UnprocessedRow};
use crate::error::Result;

/// What one job of an ingest did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobSummary {
    /// The job's id.
    pub id: SalesforceId,
    /// Its final state (`JobComplete`, `Failed` or `Aborted`; the last state seen if it could not be
    /// brought to an end).
    pub state: IngestJobState,
    /// Size of the CSV uploaded to it, header included.
    pub bytes_uploaded: u64,
    /// Records uploaded to it (header not counted).
    pub records_uploaded: u64,
    /// Records the server processed, failed ones included (`numberRecordsProcessed`).
    pub records_processed: u64,
    /// Records that failed (`numberRecordsFailed`); see the failed results for why.
    pub records_failed: u64,
    /// Records never processed because the job failed or was aborted, as counted in its
    /// `unprocessedrecords` file.
    pub records_unprocessed: u64,
    /// Why the job failed, as the server put it (`errorMessage`).
    pub error_message: Option<String>,
}

/// What an ingest did, in total and per job (in input order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IngestSummary {
    /// One entry per job.
    pub jobs: Vec<JobSummary>,
    /// Records uploaded in all.
    pub records_uploaded: u64,
    /// Records the server processed, failed ones included.
    pub records_processed: u64,
    /// Records that failed.
    pub records_failed: u64,
    /// Records never processed.
    pub records_unprocessed: u64,
}

impl IngestSummary {
    pub(crate) fn new(jobs: Vec<JobSummary>) -> Self {
        let total = |count: fn(&JobSummary) -> u64| jobs.iter().map(count).sum();
        Self {
            records_uploaded: total(|j| j.records_uploaded),
            records_processed: total(|j| j.records_processed),
            records_failed: total(|j| j.records_failed),
            records_unprocessed: total(|j| j.records_unprocessed),
            jobs,
        }
    }

    /// Records written successfully.
    pub fn records_succeeded(&self) -> u64 {
        self.records_processed.saturating_sub(self.records_failed)
    }
}

/// The result of an ingest whose jobs all completed (rows may still have failed: see
/// [`failed_results`](Self::failed_results)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IngestOutcome {
    /// Counts, per job and in total.
    pub summary: IngestSummary,
    jobs: Vec<IngestJob>,
}

impl IngestOutcome {
    pub(crate) fn new(summary: IngestSummary, jobs: Vec<IngestJob>) -> Self {
        Self { summary, jobs }
    }

    /// The jobs, in input order.
    pub fn jobs(&self) -> &[IngestJob] {
        &self.jobs
    }

    /// The rows written, job after job, read lazily from the server.
    pub fn successful_results(
        &self,
    ) -> impl Stream<Item = Result<SuccessfulRow>> + Send + Unpin + 'static + use<> {
        futures::stream::iter(self.jobs.clone())
            .flat_map(|job| job.successful_results())
            .boxed()
    }

    /// The rows refused, with their errors, job after job, read lazily from the server.
    pub fn failed_results(
        &self,
    ) -> impl Stream<Item = Result<FailedRow>> + Send + Unpin + 'static + use<> {
        futures::stream::iter(self.jobs.clone())
            .flat_map(|job| job.failed_results())
            .boxed()
    }

    /// The rows never processed, job after job, read lazily from the server.
    pub fn unprocessed_records(
        &self,
    ) -> impl Stream<Item = Result<UnprocessedRow>> + Send + Unpin + 'static + use<> {
        futures::stream::iter(self.jobs.clone())
            .flat_map(|job| job.unprocessed_records())
            .boxed()
    }
}
