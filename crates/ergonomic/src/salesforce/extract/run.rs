//! One extract run: the objects resolved, each planned, read window by window (bulk jobs bounded
//! by `max_jobs`), landed, and its state saved; then the run's summary.

use std::sync::Arc;

use chrono::Utc;
use futures::StreamExt;
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;

use super::filter::{FilterSpec, Filtered, Tally};
use super::hard_deletes::{self, Detect};
use super::plan::ObjectPlan;
use super::report::{
    ExtractProgress, ExtractReport, FailureKind, ObjectPhase, ObjectProgress, ObjectReport,
    ReadPath, Split, WindowReport,
};
use super::rest_source::RestRows;
use super::state::{ObjectState, RunOutcome, format_stamp};
use super::window::{Window, Windows, is_query_timeout};
use super::{Config, ObjectSpec};
use crate::download::source::Source;
use crate::download::{Destination, DownloadBuilder, Format, Schema};
use crate::error::{Error, Result};

/// The run summaries' folder in the destination.
const RUNS_FOLDER: &str = "_runs";
/// The object's record of a complete run, in the run's folder.
const RUN_RECORD: &str = "_run.json";

/// What every object of a run shares.
struct Run {
    config: Arc<Config>,
    run_id: String,
    /// The run's start, in milliseconds: the "now" an open window is split against.
    started_ms: i64,
    jobs: Semaphore,
    progress: Arc<watch::Sender<ExtractProgress>>,
    cancel: CancellationToken,
}

/// Runs the extract `config` describes.
pub(super) async fn run(
    config: Arc<Config>,
    progress: watch::Sender<ExtractProgress>,
    cancel: CancellationToken,
) -> Result<ExtractReport> {
    let started = Utc::now();
    let specs = objects(&config).await?;
    progress.send_modify(|p| {
        p.objects = specs
            .iter()
            .map(|s| ObjectProgress {
                object: s.name.clone(),
                ..ObjectProgress::default()
            })
            .collect();
    });
    let run = Run {
        run_id: started.format("%Y%m%dT%H%M%S%.3fZ").to_string(),
        started_ms: started.timestamp_millis(),
        jobs: Semaphore::new(config.max_jobs),
        config: config.clone(),
        progress: Arc::new(progress),
        cancel: cancel.clone(),
    };
    // Objects in flight are bounded too, so that `--all` on an org of hundreds of objects does
    // not describe them all at once.
    let objects: Vec<ObjectReport> = futures::stream::iter(0..specs.len())
        .map(|index| object_run(&run, index, &specs[index]))
        .buffered(config.max_jobs)
        .collect()
        .await;
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    let report = ExtractReport {
        run_id: run.run_id.clone(),
        destination: config.destination.to_string(),
        started_at: started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        finished_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        objects,
    };
    let summary = serde_json::to_vec_pretty(&report).expect("a report serialises");
    config
        .destination
        .folder(RUNS_FOLDER)?
        .write_file(&format!("{}.json", run.run_id), summary)
        .await?;
    Ok(report)
}

/// The objects to extract: those given, and with `all` every queryable, replicateable object of
/// the global describe not excluded (a given one keeps its spec).
async fn objects(config: &Config) -> Result<Vec<ObjectSpec>> {
    let mut specs = config.objects.clone();
    if config.all {
        let global = config.sf.global_describe().await?;
        for object in global.sobjects {
            let wanted = object.queryable == Some(true) && object.replicateable == Some(true);
            let excluded = config
                .exclude
                .iter()
                .any(|e| e.eq_ignore_ascii_case(&object.name));
            let given = specs
                .iter()
                .any(|s| s.name.eq_ignore_ascii_case(&object.name));
            if wanted && !excluded && !given {
                specs.push(ObjectSpec::new(object.name));
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    for spec in &specs {
        if !seen.insert(spec.name.to_ascii_lowercase()) {
            return Err(Error::invalid_input(format!(
                "{} is asked for twice",
                spec.name
            )));
        }
    }
    if specs.is_empty() {
        return Err(Error::invalid_input(
            "no objects to extract: name some, or ask for all",
        ));
    }
    Ok(specs)
}

/// One object's part of the run; its failure is reported, not raised.
async fn object_run(run: &Run, index: usize, spec: &ObjectSpec) -> ObjectReport {
    let mut report = ObjectReport {
        object: spec.name.clone(),
        ..ObjectReport::default()
    };
    let outcome = land_object(run, index, spec, &mut report).await;
    let phase = match outcome {
        Ok(()) => ObjectPhase::Landed,
        Err(error) => {
            tracing::warn!(object = %spec.name, error = %chain(&error), "the object failed");
            report.error = Some(chain(&error));
            report.failure = Some(FailureKind::of(&error));
            ObjectPhase::Failed
        }
    };
    run.progress.send_modify(|p| p.objects[index].phase = phase);
    report
}

/// An error with its sources, for the report.
fn chain(error: &Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Plans, reads every window, records the run and saves the state.
async fn land_object(
    run: &Run,
    index: usize,
    spec: &ObjectSpec,
    report: &mut ObjectReport,
) -> Result<()> {
    let config = &run.config;
    run.progress
        .send_modify(|p| p.objects[index].phase = ObjectPhase::Planning);
    let plan = plan_object(config, spec, report).await?;
    let folder = config.destination.folder(&plan.object)?;
    let previous = last_state(&folder, &plan).await?;
    let lookback_ms = i64::try_from(config.lookback.as_millis()).unwrap_or(i64::MAX);
    let mut filter = resume_point(previous.as_ref(), &plan, lookback_ms, report)?;
    filter.collect_ids = config.detect_hard_deletes;
    let schema = match config.format {
        Format::Csv => None,
        _ => Some(config.sf.query_schema(&plan.soql(&[])).await?),
    };
    let run_folder = folder.folder(&format!("run={}", run.run_id))?;
    report.folder = run_folder.to_string();
    let mut tally = read_windows(run, index, &plan, &filter, schema, &run_folder, report).await?;
    if config.detect_hard_deletes {
        let detect = Detect {
            sf: &config.sf,
            wait: config.wait,
            format: config.format,
            run_id: &run.run_id,
            started_ms: run.started_ms,
            object: &plan.object,
            cursor: plan.cursor.as_deref(),
            jobs: &run.jobs,
            cancel: &run.cancel,
        };
        let landed = std::mem::take(&mut tally.ids);
        let places = (&folder, &run_folder);
        hard_deletes::detect(detect, previous.as_ref(), landed, places, report).await?;
    }
    let next = record_run(run, &plan, previous.as_ref(), tally, lookback_ms, report);
    // The run's record, then the state: a reader trusts a run folder only once both are there.
    let record = serde_json::to_vec_pretty(&*report).expect("a report serialises");
    run_folder.write_file(RUN_RECORD, record).await?;
    next.save(&folder).await
}

/// The object's plan from its describe, noted in the report.
async fn plan_object(
    config: &Config,
    spec: &ObjectSpec,
    report: &mut ObjectReport,
) -> Result<ObjectPlan> {
    let describe = config.sf.describe(&spec.name).await?;
    let plan = ObjectPlan::new(spec, &describe)?;
    report.object = plan.object.clone();
    report.fields = plan.fields.clone();
    report.replaced = plan.replaced.clone();
    report.left_out = plan.left_out.clone();
    report.cursor_field = plan.cursor.clone();
    Ok(plan)
}

/// The state of the object's last good run, if it was kept with the same cursor.
async fn last_state(folder: &Destination, plan: &ObjectPlan) -> Result<Option<ObjectState>> {
    let state = ObjectState::load(folder, &plan.object).await?;
    if let Some(state) = &state
        && state.cursor_field != plan.cursor
    {
        return Err(Error::invalid_input(format!(
            "{} was extracted with cursor {:?}, now {:?}: keep the cursor, or start a new \
             destination",
            plan.object, state.cursor_field, plan.cursor
        )));
    }
    Ok(state)
}

/// Where this run starts reading (noted in the report) and what it drops as already landed.
fn resume_point(
    previous: Option<&ObjectState>,
    plan: &ObjectPlan,
    lookback_ms: i64,
    report: &mut ObjectReport,
) -> Result<FilterSpec> {
    let read_from = previous
        .map(ObjectState::cursor_millis)
        .transpose()?
        .flatten()
        .map(|cursor| cursor.saturating_sub(lookback_ms));
    report.read_from = read_from.map(format_stamp);
    let landed = previous
        .map(ObjectState::landed)
        .transpose()?
        .unwrap_or_default();
    Ok(FilterSpec {
        cursor: plan.cursor.clone(),
        landed: Arc::new(landed),
        lookback_ms,
        collect_ids: false,
    })
}

/// Notes the run's tally in the report; the object's next state.
fn record_run(
    run: &Run,
    plan: &ObjectPlan,
    previous: Option<&ObjectState>,
    tally: Tally,
    lookback_ms: i64,
    report: &mut ObjectReport,
) -> ObjectState {
    report.rows = tally.rows;
    report.deleted_rows = tally.deleted;
    report.already_landed = tally.dropped;
    let next = ObjectState::after_run(
        previous,
        RunOutcome {
            object: plan.object.clone(),
            cursor_field: plan.cursor.clone(),
            run_id: run.run_id.clone(),
            rows: tally.rows,
            max_stamp: tally.max_stamp,
            near_cursor: tally.near,
            lookback_ms,
        },
    );
    report.cursor = next.cursor.clone();
    next
}

/// Reads the windows from `filter`'s start, splitting those that time out; the run's tally.
async fn read_windows(
    run: &Run,
    index: usize,
    plan: &ObjectPlan,
    filter: &FilterSpec,
    schema: Option<Schema>,
    run_folder: &Destination,
    report: &mut ObjectReport,
) -> Result<Tally> {
    let floor_ms = i64::try_from(run.config.split_floor.as_millis()).unwrap_or(i64::MAX);
    let start = report
        .read_from
        .as_deref()
        .map(super::state::parse_stamp)
        .transpose()?;
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
        match read_window(run, index, &via, &soql, land).await {
            Ok((tally, job)) => {
                report.windows.push(WindowReport {
                    window: window.shown(),
                    folder: name,
                    job,
                    rows: tally.rows,
                });
                add(&mut total, tally);
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
                split(run, &window, &mut windows, floor_ms, &error, report)?;
            }
            Err(error) => return Err(error),
        }
    }
    Ok(total)
}

fn add(total: &mut Tally, tally: Tally) {
    total.rows += tally.rows;
    total.dropped += tally.dropped;
    total.deleted += tally.deleted;
    total.max_stamp = total.max_stamp.max(tally.max_stamp);
    total.near.extend(tally.near);
    total.ids.extend(tally.ids);
}

/// Queues the halves of a window that timed out, or fails when it is too narrow to split.
fn split(
    run: &Run,
    window: &Window,
    windows: &mut Windows,
    floor_ms: i64,
    error: &Error,
    report: &mut ObjectReport,
) -> Result<()> {
    let Some((lower, upper)) = window.halves(run.started_ms, floor_ms) else {
        return Err(Error::invalid_input(format!(
            "window {} timed out and is too narrow to split further (floor {:?}): {}",
            window.shown(),
            run.config.split_floor,
            chain(error)
        )));
    };
    tracing::info!(window = %window.shown(), "the job timed out; splitting its window");
    report.splits.push(Split {
        window: window.shown(),
        error: chain(error),
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
