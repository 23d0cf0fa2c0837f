//! `haul sf extract`: objects of an org kept in a folder or an object store, run after run.

use std::future::IntoFuture;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result};
use haul::CancellationToken;
use haul::download::{Compression as C, Destination, Format as Written};
use haul::salesforce::extract::{
    BudgetReport, ExtractBuilder, ExtractReport, FailureKind, ObjectReport, ObjectSpec, ReadPath,
};
use serde::Deserialize;

use crate::Outcome;
use crate::args::{Compression, ExtractArgs, Format};
use crate::exit::{self, Interrupted, Usage};
use crate::progress::{self, Display};
use crate::target::SfTarget;

/// `--config`: per object, its fields, filter and cursor.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    object: Vec<ObjectSpec>,
}

pub(crate) async fn run(
    target: &SfTarget,
    args: ExtractArgs,
    display: Display,
    cancel: CancellationToken,
) -> Result<Outcome> {
    let builder = builder(target, &args)?;
    let handle = builder.start();
    let shown = progress::extracting(display, handle.progress());
    let report = tokio::select! {
        report = handle.into_future() => report,
        () = cancel.cancelled() => return Err(Interrupted.into()),
    };
    drop(shown);
    let report = report?;
    let lines = summary_lines(&report);
    let json = serde_json::to_value(&report)?;
    if report.is_complete() {
        return Ok(Outcome::Lines { lines, json });
    }
    if let Some(why) = &report.budget.stopped {
        // The run stopped on purpose: its own code, whatever else failed, so that a scheduler
        // knows to run again once the org's day turns.
        return Ok(Outcome::Incomplete {
            lines,
            json,
            message: format!(
                "the run stopped on its budget ({why}); left for the next run: {}",
                report.budget.left_for_next_run.join(", ")
            ),
            code: exit::BUDGET_SPENT,
        });
    }
    let failed: Vec<&ObjectReport> = report.failed().collect();
    let names: Vec<&str> = failed.iter().map(|o| o.object.as_str()).collect();
    // Some objects landed: the distinct code. None did: the code of the first failure's kind,
    // as any other command would exit with it.
    let code = match failed.len() == report.objects.len() {
        true => exit::code_of_failure(failed[0].failure),
        false => exit::PARTIAL,
    };
    Ok(Outcome::Incomplete {
        lines,
        json,
        message: format!(
            "{} of {} objects failed ({}); their state is kept, the next run lands what they \
             missed",
            failed.len(),
            report.objects.len(),
            names.join(", ")
        ),
        code,
    })
}

/// The extract the arguments describe, checked before anything is sent.
fn builder(target: &SfTarget, args: &ExtractArgs) -> Result<ExtractBuilder> {
    let usage = |text: &str| anyhow::Error::from(Usage(text.to_owned()));
    if args.objects.is_empty() && !args.all && args.config.is_none() {
        return Err(usage(
            "name the objects (--objects), or give --all or --config",
        ));
    }
    if args.max_jobs == 0 || args.concurrency == 0 {
        return Err(usage("--max-jobs and --concurrency must be at least 1"));
    }
    if !(0.0..=100.0).contains(&args.reserve) {
        return Err(usage("--reserve is a percentage, from 0 to 100"));
    }
    if args.compression.is_some() && args.format != Format::Parquet {
        return Err(usage("--compression works with --format parquet only"));
    }
    let destination = Destination::parse(&args.to).map_err(|e| Usage(e.to_string()))?;
    if !destination.is_folder() {
        return Err(usage(
            "--to must be a folder: a path ending in / or an existing folder, or a store prefix \
             ending in /",
        ));
    }
    let mut builder = target
        .client
        .extract(destination)
        .objects(
            args.objects
                .iter()
                .map(|o| o.trim())
                .filter(|o| !o.is_empty()),
        )
        .all(args.all)
        .exclude(args.exclude.iter().map(|o| o.trim()))
        .format(written(args.format, args.compression))
        .lookback(Duration::from_secs(args.lookback))
        .split_floor(Duration::from_secs(args.split_floor))
        .max_jobs(args.max_jobs)
        .concurrency(args.concurrency)
        .detect_hard_deletes(args.detect_hard_deletes)
        .reserve(args.reserve / 100.0);
    if let Some(requests) = args.max_api_requests {
        builder = builder.max_api_requests(requests);
    }
    if let Some(path) = &args.config {
        for spec in config(path)?.object {
            builder = builder.object(spec);
        }
    }
    Ok(builder)
}

fn config(path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}", path.display()))
        .map_err(|e| Usage(format!("{e:#}")))?;
    toml::from_str(&text).map_err(|e| {
        Usage(format!(
            "{} is not an extract configuration: {e}",
            path.display()
        ))
        .into()
    })
}

fn written(format: Format, compression: Option<Compression>) -> Written {
    match format {
        Format::Csv => Written::Csv,
        Format::Jsonl => Written::Jsonl,
        Format::Parquet => Written::Parquet(match compression {
            None | Some(Compression::Zstd) => C::Zstd,
            Some(Compression::Snappy) => C::Snappy,
            Some(Compression::Gzip) => C::Gzip,
            Some(Compression::None) => C::Uncompressed,
        }),
    }
}

/// One line an object, then the run.
fn summary_lines(report: &ExtractReport) -> Vec<String> {
    let mut lines: Vec<String> = report.objects.iter().map(object_line).collect();
    lines.push(format!(
        "run {}: {} rows, {} of {} objects landed in {}",
        report.run_id,
        report.rows(),
        report.objects.len() - report.failed().count(),
        report.objects.len(),
        report.destination
    ));
    lines.push(budget_line(&report.budget));
    lines
}

/// What the run spent of the org's allowances, and what it left for the next run.
fn budget_line(budget: &BudgetReport) -> String {
    let mut line = format!(
        "spent {} API requests ({} of {} left) and {} bulk jobs ({} of {} left)",
        budget.requests_spent,
        budget.requests_remaining,
        budget.requests_max,
        budget.jobs_spent,
        budget.jobs_remaining,
        budget.jobs_max
    );
    if let Some(why) = &budget.stopped {
        line.push_str(&format!(
            "; stopped: {why}; left for the next run: {}",
            budget.left_for_next_run.join(", ")
        ));
    }
    line
}

fn object_line(object: &ObjectReport) -> String {
    if let Some(error) = &object.error {
        if object.failure == Some(FailureKind::BudgetSpent) {
            return format!("{}: left for the next run: {error}", object.object);
        }
        return format!("{}: FAILED: {error}", object.object);
    }
    let mut line = format!(
        "{}: {} rows ({} deleted), {} windows",
        object.object,
        object.rows,
        object.deleted_rows,
        object.windows.len()
    );
    if !object.splits.is_empty() {
        line.push_str(&format!(
            ", {} timed-out windows split",
            object.splits.len()
        ));
    }
    if let ReadPath::Rest { reason } = &object.api {
        line.push_str(&format!("; read through REST queryAll ({reason})"));
    }
    if !object.replaced.is_empty() {
        let names: Vec<&str> = object.replaced.iter().map(|r| r.field.as_str()).collect();
        line.push_str(&format!("; read as components: {}", names.join(", ")));
    }
    if !object.left_out.is_empty() {
        let names: Vec<&str> = object.left_out.iter().map(|l| l.field.as_str()).collect();
        line.push_str(&format!("; left out: {}", names.join(", ")));
    }
    line
}
