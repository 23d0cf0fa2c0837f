//! `haul sf ingest` and `haul sf async-soql`: writing into the org.

use std::path::Path;

use anyhow::{Context as _, Result};
use futures::{Stream, StreamExt};
use haul::CancellationToken;
use haul::salesforce::ingest::{Fields, IngestOutcome};
use serde_json::json;

use crate::Outcome;
use crate::args::{AsyncSoqlArgs, IngestArgs, Operation};
use crate::exit::{Interrupted, Usage};
use crate::progress::Display;
use crate::target::SfTarget;

pub(crate) async fn run_ingest(
    target: &SfTarget,
    args: IngestArgs,
    display: Display,
    cancel: CancellationToken,
) -> Result<Outcome> {
    if !args.file.is_file() {
        return Err(Usage(format!("{}: no such file", args.file.display())).into());
    }
    let builder = target.client.bulk_ingest(&args.object);
    let builder = match (args.operation, &args.external_id) {
        (Operation::Insert, _) => builder.insert(),
        (Operation::Update, _) => builder.update(),
        (Operation::Upsert, Some(field)) => builder.upsert(field),
        (Operation::Upsert, None) => {
            return Err(Usage("--operation upsert needs --external-id".into()).into());
        }
        (Operation::Delete, _) => builder.delete(),
        (Operation::HardDelete, _) => builder.hard_delete(),
    };
    let builder = match args.max_job_bytes {
        Some(bytes) => builder.max_job_bytes(bytes),
        None => builder,
    };
    let handle = builder
        .csv_file(&args.file)
        .concurrency(args.concurrency)
        .cancel_on(cancel)
        .run();
    let outcome = match handle.await {
        Err(error) if error.is_cancelled() => return Err(Interrupted.into()),
        other => other?,
    };
    if let Some(dir) = &args.results {
        write_results(&outcome, dir).await?;
    }
    let summary = &outcome.summary;
    if display != Display::Quiet {
        eprintln!(
            "haul: {} jobs: {} rows processed, {} failed, {} unprocessed",
            summary.jobs.len(),
            summary.records_processed,
            summary.records_failed,
            summary.records_unprocessed
        );
    }
    Ok(Outcome::Json(json!({
        "object": args.object,
        "jobs": summary.jobs.iter().map(|job| json!({
            "id": job.id.as_str(),
            "state": job.state.as_str(),
            "records_processed": job.records_processed,
            "records_failed": job.records_failed,
        })).collect::<Vec<_>>(),
        "records_uploaded": summary.records_uploaded,
        "records_processed": summary.records_processed,
        "records_failed": summary.records_failed,
        "records_unprocessed": summary.records_unprocessed,
    })))
}

/// The three result files, in the vendor's columns.
async fn write_results(outcome: &IngestOutcome, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    let successful = outcome.successful_results().map(|row| {
        row.map(|row| {
            (
                vec![row.id.to_string(), row.created.to_string()],
                row.fields,
            )
        })
    });
    write_csv(
        &dir.join("successful.csv"),
        &["sf__Id", "sf__Created"],
        successful,
    )
    .await?;
    let failed = outcome.failed_results().map(|row| {
        row.map(|row| {
            (
                vec![
                    row.id.map(|id| id.to_string()).unwrap_or_default(),
                    row.error.to_string(),
                ],
                row.fields,
            )
        })
    });
    write_csv(&dir.join("failed.csv"), &["sf__Id", "sf__Error"], failed).await?;
    let unprocessed = outcome
        .unprocessed_records()
        .map(|row| row.map(|row| (Vec::new(), row.fields)));
    write_csv(&dir.join("unprocessed.csv"), &[], unprocessed).await
}

/// Writes rows (leading columns, then the uploaded fields) under a header taken from the first row.
async fn write_csv(
    path: &Path,
    leading: &[&str],
    mut rows: impl Stream<Item = haul::Result<(Vec<String>, Fields)>> + Unpin,
) -> Result<()> {
    let mut writer = csv::Writer::from_path(path).with_context(|| path.display().to_string())?;
    let mut header_written = false;
    while let Some(row) = rows.next().await {
        let (first, fields) = row?;
        if !header_written {
            writer.write_record(
                leading
                    .iter()
                    .copied()
                    .chain(fields.names().iter().map(String::as_str)),
            )?;
            header_written = true;
        }
        writer.write_record(
            first
                .iter()
                .map(String::as_str)
                .chain(fields.values().iter().map(String::as_str)),
        )?;
    }
    if !header_written && !leading.is_empty() {
        writer.write_record(leading)?;
    }
    writer.flush().with_context(|| path.display().to_string())?;
    Ok(())
}

pub(crate) async fn run_async_soql(
    target: &SfTarget,
    args: AsyncSoqlArgs,
    cancel: CancellationToken,
) -> Result<Outcome> {
    let mut builder = target
        .client
        .async_soql(&args.soql)
        .insert_into(&args.target);
    for map in &args.maps {
        let (source, destination) = map
            .split_once('=')
            .ok_or_else(|| Usage(format!("--map {map:?} is not SRC=DST")))?;
        builder = builder.map(source.trim(), destination.trim());
    }
    let job = builder.submit().await?;
    let info = if args.wait {
        match job.wait().cancel_on(cancel).await {
            Err(error) if error.is_cancelled() => return Err(Interrupted.into()),
            other => other?,
        }
    } else {
        job.info().await?
    };
    let json = serde_json::to_value(&info)?;
    Ok(Outcome::Lines {
        lines: vec![format!("{} {}", info.job_id, info.status)],
        json,
    })
}
