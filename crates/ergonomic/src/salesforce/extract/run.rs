//! One extract run: the objects resolved, each planned, read (`read.rs`), its run recorded and
//! its state saved; then the run's summary.

use std::sync::Arc;

use chrono::Utc;
use futures::{FutureExt, StreamExt};
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;

use super::budget::{Allowance, Budget};
use super::filter::{FilterSpec, Tally};
use super::hard_deletes::{self, Detect};
use super::plan::ObjectPlan;
use super::read::read_windows;
use super::report::{
    ExtractProgress, ExtractReport, FailureKind, ObjectPhase, ObjectProgress, ObjectReport,
    ReadPath,
};
use super::state::{ObjectState, RunOutcome, format_stamp};
use super::{Config, ObjectSpec};
use crate::download::{Destination, Format};
use crate::error::{Error, Result};
use crate::salesforce::rest::SObjectDescribe;

/// The run summaries' folder in the destination.
const RUNS_FOLDER: &str = "_runs";
/// The object's record of a complete run, in the run's folder.
const RUN_RECORD: &str = "_run.json";

/// What every object of a run shares.
pub(super) struct Run {
    pub(super) config: Arc<Config>,
    pub(super) run_id: String,
    /// The run's start, in milliseconds: the "now" an open window is split against.
    pub(super) started_ms: i64,
    /// Bulk jobs at once: a job holds a permit from its creation until its rows are landed.
    pub(super) jobs: Semaphore,
    /// What the run may still spend of the org's allowances.
    pub(super) budget: Budget,
    pub(super) progress: Arc<watch::Sender<ExtractProgress>>,
    pub(super) cancel: CancellationToken,
}

/// Runs the extract `config` describes.
pub(super) async fn run(
    config: Arc<Config>,
    progress: watch::Sender<ExtractProgress>,
    cancel: CancellationToken,
) -> Result<ExtractReport> {
    let started = Utc::now();
    let specs = objects(&config).await?;
    let allowance = Allowance {
        max_requests: config.max_api_requests,
        reserve: config.reserve,
    };
    let budget = Budget::open(config.sf.clone(), allowance).await?;
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
        budget,
        config: config.clone(),
        progress: Arc::new(progress),
        cancel: cancel.clone(),
    };
    // Objects in flight are bounded too, so that `--all` on an org of hundreds of objects does
    // not describe them all at once.
    let order = priority(&config, &specs).await;
    let mut done: Vec<(usize, ObjectReport)> = futures::stream::iter(order)
        .map(|index| object_run(&run, index, &specs[index]).map(move |report| (index, report)))
        .buffered(config.max_jobs)
        .collect()
        .await;
    done.sort_by_key(|(index, _)| *index);
    let objects: Vec<ObjectReport> = done.into_iter().map(|(_, report)| report).collect();
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    let mut budget = run.budget.report();
    budget.left_for_next_run = objects
        .iter()
        .filter(|o| {
            matches!(
                o.failure,
                Some(FailureKind::BudgetSpent | FailureKind::LimitExceeded)
            )
        })
        .map(|o| o.object.clone())
        .collect();
    let report = ExtractReport {
        run_id: run.run_id.clone(),
        destination: config.destination.to_string(),
        started_at: started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        finished_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        objects,
        budget,
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

/// The order objects are worked in: those never landed first, then by their last complete run,
/// oldest first, so that when budgets stop runs every day, the objects left by one run go first
/// in the next instead of being left again. A state that cannot be read counts as none (landing
/// the object reports why).
async fn priority(config: &Config, specs: &[ObjectSpec]) -> Vec<usize> {
    // By index: a closure over `&ObjectSpec` would not be `Send` for every lifetime.
    let last_runs: Vec<Option<String>> = futures::stream::iter(0..specs.len())
        .map(|index| last_run(config, &specs[index]))
        .buffered(16)
        .collect()
        .await;
    let mut order: Vec<usize> = (0..specs.len()).collect();
    // Stable: objects alike keep the order they were asked for; `None` sorts first.
    order.sort_by(|a, b| last_runs[*a].cmp(&last_runs[*b]));
    order
}

/// The object's last complete run, as its state says.
async fn last_run(config: &Config, spec: &ObjectSpec) -> Option<String> {
    let folder = config.destination.folder(&spec.name).ok()?;
    let state = ObjectState::load(&folder, &spec.name).await.ok()??;
    Some(state.last_run)
}

/// One object's part of the run; its failure is reported, not raised.
async fn object_run(run: &Run, index: usize, spec: &ObjectSpec) -> ObjectReport {
    let mut report = ObjectReport {
        object: spec.name.clone(),
        ..ObjectReport::default()
    };
    let outcome = match run.budget.check() {
        Ok(()) => land_object(run, index, spec, &mut report).await,
        Err(spent) => Err(spent),
    };
    let phase = match outcome.map_err(|e| run.budget.stop_on(e)) {
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
pub(super) fn chain(error: &Error) -> String {
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
    let (plan, describe) = plan_object(config, spec, report).await?;
    let folder = config.destination.folder(&plan.object)?;
    let previous = last_state(&folder, &plan).await?;
    let lookback_ms = i64::try_from(config.lookback.as_millis()).unwrap_or(i64::MAX);
    let mut filter = resume_point(previous.as_ref(), &plan, lookback_ms, report)?;
    filter.collect_ids = config.detect_hard_deletes;
    let schema = match config.format {
        Format::Csv => None,
        _ => Some(
            config
                .sf
                .query_schema_knowing(&plan.soql(&[]), describe)
                .await?,
        ),
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
        // The Id set is one more window (a job, unless the object is read through REST).
        let _admitted = run.budget.admit(report.api == ReadPath::Bulk).await?;
        hard_deletes::detect(detect, previous.as_ref(), landed, places, report).await?;
    }
    let next = record_run(run, &plan, previous.as_ref(), tally, lookback_ms, report);
    // The run's record, then the state: a reader trusts a run folder only once both are there.
    let record = serde_json::to_vec_pretty(&*report).expect("a report serialises");
    run_folder.write_file(RUN_RECORD, record).await?;
    next.save(&folder).await
}

/// The object's plan from its describe, noted in the report; the describe is handed on, so
/// that typing the object's columns does not read it again.
async fn plan_object(
    config: &Config,
    spec: &ObjectSpec,
    report: &mut ObjectReport,
) -> Result<(ObjectPlan, SObjectDescribe)> {
    let describe = config.sf.describe(&spec.name).await?;
    let plan = ObjectPlan::new(spec, &describe)?;
    report.object = plan.object.clone();
    report.fields = plan.fields.clone();
    report.replaced = plan.replaced.clone();
    report.left_out = plan.left_out.clone();
    report.cursor_field = plan.cursor.clone();
    Ok((plan, describe))
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
