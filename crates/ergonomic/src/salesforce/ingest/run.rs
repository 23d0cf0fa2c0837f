//! Running an ingest: chunks from the splitter become jobs, at most `concurrency` at once, each
//! created, uploaded once, closed, waited for, and accounted for.

use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use haul_client::salesforce_bulk_ingest::types::CreateIngestJobRequest;
use haul_types::IngestJobState;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::split::{Chunk, Splitter};
use super::summary::{IngestOutcome, IngestSummary, JobSummary};
use super::{IngestJob, IngestJobInfo, IngestProgress};
use crate::error::{Error, Result};
use crate::poll::BackoffPolicy;
use crate::salesforce::Salesforce;

/// Everything a job needs, shared by all of them.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) sf: Salesforce,
    pub(crate) request: CreateIngestJobRequest,
    pub(crate) concurrency: usize,
    pub(crate) abort_remaining: bool,
    pub(crate) backoff: BackoffPolicy,
    pub(crate) job_timeout: Duration,
}

/// What became of one chunk.
struct Report {
    sequence: usize,
    job: Option<IngestJob>,
    bytes: u64,
    records: u64,
    info: Option<IngestJobInfo>,
    unprocessed: u64,
    error: Option<Error>,
}

/// Runs every chunk of `splitter` as a job. The first failure (of the input or of a job) is the
/// answer, once every job has finished or, with `abort_remaining`, been aborted.
pub(crate) async fn run(
    plan: Plan,
    mut splitter: Splitter,
    cancel: CancellationToken,
    progress: watch::Sender<IngestProgress>,
) -> Result<IngestOutcome> {
    let plan = Arc::new(plan);
    let stop = cancel.child_token();
    let mut running = JoinSet::new();
    let mut reports = Vec::new();
    let mut first_error = None;
    let mut settle = |mut report: Report, first_error: &mut Option<Error>| {
        match report.error.take() {
            // Jobs stopped because of another's failure, or by the caller, are not the cause.
            None | Some(Error::Cancelled) => {}
            Some(error) if first_error.is_some() => {
                tracing::warn!(%error, "another ingest job failed too");
            }
            Some(error) => {
                *first_error = Some(error);
                if plan.abort_remaining {
                    stop.cancel();
                }
            }
        }
        if let Some(summary) = summarise(&report) {
            progress.send_modify(|p| p.finished.push(summary));
        }
        reports.push(report);
    };
    for sequence in 0.. {
        let chunk = tokio::select! {
            chunk = splitter.next_chunk() => chunk,
            () = stop.cancelled() => break,
        };
        let chunk = match chunk {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(error) => {
                first_error.get_or_insert(error);
                if plan.abort_remaining {
                    stop.cancel();
                }
                break;
            }
        };
        while running.len() >= plan.concurrency {
            let report = joined(running.join_next().await.expect("a job is running"));
            settle(report, &mut first_error);
        }
        if stop.is_cancelled() {
            break;
        }
        progress.send_modify(|p| {
            p.jobs_started += 1;
            p.records_uploaded += chunk.records;
        });
        running.spawn(run_job(plan.clone(), sequence, chunk, stop.clone()));
    }
    while let Some(result) = running.join_next().await {
        settle(joined(result), &mut first_error);
    }
    finish(reports, first_error, &cancel)
}

fn finish(
    mut reports: Vec<Report>,
    first_error: Option<Error>,
    cancel: &CancellationToken,
) -> Result<IngestOutcome> {
    reports.sort_by_key(|r| r.sequence);
    let summaries: Vec<JobSummary> = reports.iter().filter_map(summarise).collect();
    let summary = IngestSummary::new(summaries);
    tracing::info!(
        jobs = summary.jobs.len(),
        processed = summary.records_processed,
        failed = summary.records_failed,
        unprocessed = summary.records_unprocessed,
        "ingest finished"
    );
    if let Some(error) = first_error {
        return Err(error);
    }
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    let jobs = reports.into_iter().filter_map(|r| r.job).collect();
    Ok(IngestOutcome::new(summary, jobs))
}

fn joined(result: std::result::Result<Report, tokio::task::JoinError>) -> Report {
    match result {
        Ok(report) => report,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        // The set is never aborted while this function runs; dropping it aborts it with us.
        Err(join) => unreachable!("an ingest job task was cancelled: {join}"),
    }
}

/// One chunk through create, upload, close and wait; a job abandoned midway is aborted.
async fn run_job(
    plan: Arc<Plan>,
    sequence: usize,
    chunk: Chunk,
    stop: CancellationToken,
) -> Report {
    let mut report = Report {
        sequence,
        job: None,
        bytes: chunk.bytes,
        records: chunk.records,
        info: None,
        unprocessed: 0,
        error: None,
    };
    let created = tokio::select! {
        created = IngestJob::create(&plan.sf, plan.request.clone()) => created,
        () = stop.cancelled() => Err(Error::Cancelled),
    };
    let job = match created {
        Ok(job) => job,
        Err(error) => {
            report.error = Some(error);
            return report;
        }
    };
    report.job = Some(job.clone());
    let outcome = tokio::select! {
        outcome = process(&plan, &job, chunk) => outcome,
        () = stop.cancelled() => Err(Error::Cancelled),
    };
    match outcome {
        Ok(info) => report.info = Some(info),
        Err(error) => {
            report.info = bring_to_an_end(&job).await;
            report.error = Some(error);
        }
    }
    if report
        .info
        .as_ref()
        .is_some_and(|i| matches!(i.state, IngestJobState::Failed | IngestJobState::Aborted))
    {
        report.unprocessed = count_unprocessed(&job).await;
    }
    report
}

async fn process(plan: &Plan, job: &IngestJob, chunk: Chunk) -> Result<IngestJobInfo> {
    job.upload(chunk.spool.path()).await?;
    // The spool file is no longer needed once the server has the data.
    drop(chunk);
    job.close().await?;
    job.wait_closed()
        .backoff(plan.backoff)
        .timeout(plan.job_timeout)
        .await
}

/// Aborts a job that is not finished, so that nothing stays Open or running; returns its last
/// information.
async fn bring_to_an_end(job: &IngestJob) -> Option<IngestJobInfo> {
    let info = job.info().await.ok();
    if info.as_ref().is_some_and(|i| i.state.is_terminal()) {
        return info;
    }
    match job.abort().await {
        Ok(_) => job.info().await.ok().or(info),
        Err(error) => {
            tracing::warn!(job = %job.id(), %error, "could not abort an abandoned ingest job");
            info
        }
    }
}

async fn count_unprocessed(job: &IngestJob) -> u64 {
    let counted = job
        .unprocessed_records()
        .try_fold(0u64, |n, _| async move { Ok(n + 1) })
        .await;
    counted.unwrap_or_else(|error| {
        tracing::warn!(job = %job.id(), %error, "could not count the unprocessed records");
        0
    })
}

fn summarise(report: &Report) -> Option<JobSummary> {
    let job = report.job.as_ref()?;
    let info = report.info.as_ref();
    let count = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
    let summary = JobSummary {
        id: job.id().clone(),
        state: info.map_or_else(|| IngestJobState::from("Unknown"), |i| i.state.clone()),
        bytes_uploaded: report.bytes,
        records_uploaded: report.records,
        records_processed: count(info.and_then(|i| i.number_records_processed)),
        records_failed: count(info.and_then(|i| i.number_records_failed)),
        records_unprocessed: report.unprocessed,
        error_message: info.and_then(|i| i.error_message.clone()),
    };
    let accounted = summary.records_processed + summary.records_unprocessed;
    if summary.state.is_terminal() && accounted != summary.records_uploaded {
        tracing::warn!(job = %summary.id, uploaded = summary.records_uploaded, accounted, "the job accounts for a different number of records than were uploaded");
    }
    Some(summary)
}
