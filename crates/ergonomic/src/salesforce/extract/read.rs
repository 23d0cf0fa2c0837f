//! Reading an object's rows: its cursor windows one after another, each by a bulk `queryAll` job
//! (or, for an object the Bulk API refuses, a REST `queryAll`), downloaded through the filter
//! that drops the rows already landed; a window that times out is split and read again.

use std::sync::Arc;

use super::filter::{FilterSpec, Filtered, Tally};
use super::plan::ObjectPlan;
use super::report::{ObjectPhase, ObjectReport, ReadPath, Split, WindowReport};
use super::rest_source::RestRows;
use super::run::{Run, chain};
use super::state::parse_stamp;
use super::window::{Window, Windows, is_query_timeout};
use crate::download::source::Source;
use crate::download::{Destination, DownloadBuilder, Schema};
use crate::error::{Error, Result};

/// Reads the windows from `filter`'s start, splitting those that time out; the run's tally.
pub(super) async fn read_windows(
    run: &Run,
    index: usize,
    plan: &ObjectPlan,
    filter: &FilterSpec,
    schema: Option<Schema>,
    run_folder: &Destination,
    report: &mut ObjectReport,
) -> Result<Tally> {
    let floor_ms = i64::try_from(run.config.split_floor.as_millis()).unwrap_or(i64::MAX);
    let start = report.read_from.as_deref().map(parse_stamp).transpose()?;
    let mut windows = Windows::starting_at(start);
    let mut total = Tally::default();
    let mut via = Via::Bulk;
    while let Some(window) = windows.next() {
        let conditions = match &plan.cursor {
            Some(cursor) => window.conditions(cursor),
            None => Vec::new(),
        };
        let soql = plan.soql(&conditions);
        let name = format!("w{:03}", report.windows.len());
        let folder = run_folder.folder(&name)?;
        let land = Landing {
            filter,
            schema: schema.as_ref(),
            folder: &folder,
        };
        // Admitted first: a window the budget cannot cover is not started at all.
        let admitted = run.budget.admit(via == Via::Bulk).await?;
        let read = read_window(run, index, &via, &soql, land).await;
        drop(admitted);
        match read {
            Ok((tally, job)) => {
                report.windows.push(WindowReport {
                    window: window.shown(),
                    folder: name,
                    job,
                    rows: tally.rows,
                });
                total.add(tally);
                run.progress.send_modify(|p| p.objects[index].windows += 1);
            }
            Err(error) if via == Via::Bulk && bulk_refuses_object(&error) => {
                tracing::info!(object = %plan.object, "the Bulk API refuses the object; reading it through REST queryAll");
                report.api = ReadPath::Rest {
                    reason: chain(&error),
                };
                via = Via::Rest(plan.fields.clone());
                windows.again(window);
            }
            Err(error) if plan.cursor.is_some() && is_query_timeout(&error) => {
                split(run, &window, &mut windows, floor_ms, error, report)?;
            }
            Err(error) => return Err(error),
        }
    }
    Ok(total)
}

/// Queues the halves of a window that timed out, or fails when it is too narrow to split.
fn split(
    run: &Run,
    window: &Window,
    windows: &mut Windows,
    floor_ms: i64,
    error: Error,
    report: &mut ObjectReport,
) -> Result<()> {
    let Some((lower, upper)) = window.halves(run.started_ms, floor_ms) else {
        tracing::warn!(window = %window.shown(), floor = ?run.config.split_floor, "the job timed out and its window is too narrow to split further");
        return Err(error);
    };
    tracing::info!(window = %window.shown(), "the job timed out; splitting its window");
    report.splits.push(Split {
        window: window.shown(),
        error: chain(&error),
    });
    windows.split(lower, upper);
    Ok(())
}

/// How an object's windows are read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Via {
    /// Bulk API 2.0 `queryAll` jobs.
    Bulk,
    /// The REST API's `queryAll` (the Bulk API refused the object), with the fields selected.
    Rest(Vec<String>),
}

/// One window: a `queryAll` job (holding one of the run's job permits until its results are
/// landed, the job deleted after) or a REST `queryAll`, its rows downloaded to `folder` with the
/// landed rows dropped. Answers the tally and the job's id.
async fn read_window(
    run: &Run,
    index: usize,
    via: &Via,
    soql: &str,
    land: Landing<'_>,
) -> Result<(Tally, Option<String>)> {
    let fields = match via {
        Via::Rest(fields) => fields,
        Via::Bulk => return read_bulk_window(run, index, soql, land).await,
    };
    run.progress
        .send_modify(|p| p.objects[index].phase = ObjectPhase::Downloading);
    let rows = RestRows::new(run.config.sf.clone(), soql.to_owned(), fields.clone());
    let tally = download(run, index, Arc::new(rows), soql, land).await?;
    Ok((tally, None))
}

/// Where and how a window's rows land.
#[derive(Clone, Copy)]
struct Landing<'a> {
    filter: &'a FilterSpec,
    schema: Option<&'a Schema>,
    folder: &'a Destination,
}

async fn read_bulk_window(
    run: &Run,
    index: usize,
    soql: &str,
    land: Landing<'_>,
) -> Result<(Tally, Option<String>)> {
    let config = &run.config;
    let _permit = run.jobs.acquire().await.map_err(|_| Error::Cancelled)?;
    run.progress
        .send_modify(|p| p.objects[index].phase = ObjectPhase::Querying);
    let job = config.sf.bulk_query(soql).query_all().submit().await?;
    let done = job
        .wait()
        .wait_options(config.wait.with_abort_on_drop(true))
        .cancel_on(run.cancel.clone())
        .await?;
    run.progress
        .send_modify(|p| p.objects[index].phase = ObjectPhase::Downloading);
    let tally = download(run, index, done.results_source(), soql, land).await?;
    // The results are landed; a job left behind only costs the org storage until it expires.
    if let Err(error) = job.delete().await {
        tracing::warn!(job = %job.id(), error = %error, "could not delete the finished job");
    }
    Ok((tally, Some(job.id().to_string())))
}

/// Downloads `source` with the landed rows dropped, showing its rows in the object's progress.
async fn download(
    run: &Run,
    index: usize,
    source: Arc<dyn Source>,
    soql: &str,
    land: Landing<'_>,
) -> Result<Tally> {
    let config = &run.config;
    let filtered = Arc::new(Filtered::new(source, land.filter.clone()));
    let mut download = DownloadBuilder::new(filtered.clone())
        .format(config.format)
        .concurrency(config.concurrency)
        .query(soql)
        .cancel_on(run.cancel.child_token());
    if let Some(schema) = land.schema {
        download = download.schema(schema.clone());
    }
    let before = run.progress.borrow().objects[index].rows;
    let handle = download.to(land.folder.clone());
    let mut watched = handle.progress();
    let shown = tokio::spawn({
        let progress = run.progress.clone();
        async move {
            while watched.changed().await.is_ok() {
                let landed = watched.borrow_and_update().records;
                progress.send_modify(|p| p.objects[index].rows = before + landed);
            }
        }
    });
    let landed = handle.await;
    shown.abort();
    let landed = landed?;
    run.progress
        .send_modify(|p| p.objects[index].rows = before + landed.records);
    let tally = filtered.tally();
    if tally.rows != landed.records {
        return Err(Error::integrity(format!(
            "{}: the filter let {} rows through, the download wrote {}",
            filtered.describe(),
            tally.rows,
            landed.records
        )));
    }
    Ok(tally)
}

/// Whether the Bulk API refused to query the object at all (so the REST API must).
fn bulk_refuses_object(error: &Error) -> bool {
    error.vendor_code() == Some("INVALIDENTITY")
        || error
            .vendor_message()
            .is_some_and(|m| m.contains("not supported by the Bulk API"))
}
