//! `haul sf ...`: Salesforce commands.

use anyhow::Result;
use futures::TryStreamExt;
use haul::CancellationToken;
use haul::download::Destination;
use haul::salesforce::ingest::{IngestJob, IngestJobInfo};
use haul::salesforce::query::{
    Checkpoint, CompletedQueryJob, DownloadReport, QueryJob, QueryJobInfo,
};
use serde_json::json;

use crate::args::{
    Api, Compression, Format, JobIdArgs, JobKind, JobsArgs, QueryArgs, SfArgs, SfCommand,
};
use crate::exit::{Interrupted, Usage};
use crate::progress::{self, Display};
use crate::target::{self, SfTarget};
use crate::{Outcome, Settings};

pub(crate) async fn run(
    args: SfArgs,
    settings: &Settings,
    cancel: CancellationToken,
) -> Result<Outcome> {
    let target = target::salesforce(&args.connection, settings.display == Display::Quiet).await?;
    let outcome = match args.command {
        SfCommand::Query(query) if query.api == Api::Rest => {
            crate::rest_query::run(&target, query, settings, cancel).await
        }
        SfCommand::Query(query) => run_query(&target, query, settings, cancel).await,
        SfCommand::Describe(describe) => crate::rest::describe(&target, describe).await,
        SfCommand::Objects => crate::rest::objects(&target).await,
        SfCommand::Limits => crate::rest::limits(&target).await,
        SfCommand::Jobs(jobs) => list_jobs(&target, jobs).await,
        SfCommand::Job(job) => show_job(&target, job).await,
        SfCommand::Abort(job) => abort_job(&target, job).await,
        SfCommand::Delete(job) => delete_job(&target, job).await,
        SfCommand::Ingest(ingest) => {
            crate::ingest::run_ingest(&target, ingest, settings.display, cancel).await
        }
        SfCommand::AsyncSoql(copy) => crate::ingest::run_async_soql(&target, copy, cancel).await,
        SfCommand::Extract(extract) => {
            crate::extract::run(&target, extract, settings.display, cancel).await
        }
    };
    if let Some(sim) = target.simulator {
        sim.shutdown().await;
    }
    outcome
}

async fn run_query(
    target: &SfTarget,
    args: QueryArgs,
    settings: &Settings,
    cancel: CancellationToken,
) -> Result<Outcome> {
    if args.concurrency == 0 {
        return Err(Usage("--concurrency must be at least 1".into()).into());
    }
    if args.batch_size.is_some() {
        return Err(Usage("--batch-size works with --api rest only".into()).into());
    }
    let destination = checked_destination(&args).await?;
    let sf = &target.client;
    // Typed before the job is submitted, so that a field describe cannot type costs no job.
    let schema = typed_schema(sf, &args).await?;
    let job = match resumable_job(sf, &destination, args.resume).await? {
        Some(job) => job,
        None => {
            let mut builder = sf.bulk_query(&args.soql);
            if args.all {
                builder = builder.query_all();
            }
            builder.submit().await?
        }
    };
    let done = wait(&job, settings.display, args.resume, &cancel).await?;
    let report = download(&done, &args, schema, destination, settings.display, &cancel).await?;
    if settings.display != Display::Quiet {
        eprintln!(
            "haul: wrote {} rows in {} pages to {}",
            report.records,
            report.pages,
            args.output.display()
        );
    }
    Ok(Outcome::Json(json!({
        "job_id": job.id().as_str(),
        "api_version": job.api_version().to_string(),
        "records": report.records,
        "pages": report.pages,
        "resumed_pages": report.resumed_pages,
        "bytes": report.bytes,
        "path": args.output,
        "format": output_format(&args).to_string(),
        "elapsed_ms": report.elapsed.as_millis() as u64,
        "simulator": target.simulator.is_some(),
    })))
}

/// The destination `-o` names, with what a download cannot write there refused as a usage error:
/// `--compression` without Parquet, a resumed or stored single Parquet file, and a complete
/// output without `--overwrite`.
pub(crate) async fn checked_destination(args: &QueryArgs) -> Result<Destination> {
    let destination = Destination::parse(&args.output.to_string_lossy())
        .map_err(|error| Usage(error.to_string()))?;
    let format = args.output_format();
    if args.compression.is_some() && format != Format::Parquet {
        return Err(Usage("--compression works with --format parquet only".into()).into());
    }
    if format == Format::Parquet && !destination.is_folder() {
        if args.resume {
            return Err(Usage(
                "--resume cannot resume one Parquet file (its footer is written last): give a \
                 folder (a path ending in /) to get one Parquet file a page, which resumes"
                    .into(),
            )
            .into());
        }
        if destination.is_store() {
            return Err(Usage(
                "one Parquet object in a store is not supported: give a prefix ending in / to \
                 get one Parquet object a page"
                    .into(),
            )
            .into());
        }
    }
    if !args.overwrite && destination.manifest().await?.is_some() {
        return Err(Usage(format!(
            "{destination} is a complete download (it has its manifest); pass --overwrite to \
             replace it"
        ))
        .into());
    }
    Ok(destination)
}

/// The columns' types from describe, for the typed formats (Parquet, JSON lines); `None` for CSV.
/// A query describe cannot type is a usage error.
pub(crate) async fn typed_schema(
    sf: &haul::Salesforce,
    args: &QueryArgs,
) -> Result<Option<haul::download::Schema>> {
    let format = args.output_format();
    if format == Format::Csv {
        return Ok(None);
    }
    let schema = sf.query_schema(&args.soql).await.map_err(|error| {
        if !error.is_invalid_input() {
            return error.into();
        }
        let hint = match format {
            Format::Jsonl => {
                " (--format jsonl types each column from describe; --format csv keeps the \
                 server's text as it is)"
            }
            _ => "",
        };
        anyhow::Error::from(Usage(format!("{error}{hint}")))
    })?;
    Ok(Some(schema))
}

/// With `--resume` and a checkpoint beside the output, the job the checkpoint belongs to.
async fn resumable_job(
    sf: &haul::Salesforce,
    destination: &Destination,
    resume: bool,
) -> Result<Option<QueryJob>> {
    if !resume {
        return Ok(None);
    }
    let Some(checkpoint) = destination.checkpoint().await? else {
        return Ok(None);
    };
    let shown = || match destination.is_store() {
        true => format!("the checkpoint in {destination}"),
        false => Checkpoint::path_for(std::path::Path::new(&destination.to_string()))
            .display()
            .to_string(),
    };
    let source = &checkpoint.source;
    let version = match (source.kind.as_str(), &source.version) {
        ("salesforce-bulk-query", Some(version)) => version
            .parse()
            .map_err(|e| Usage(format!("{}: {e}", shown())))?,
        _ => {
            return Err(Usage(format!(
                "{} belongs to {source}, not to a Salesforce query job; remove it to start over",
                shown()
            ))
            .into());
        }
    };
    eprintln!(
        "haul: resuming the download of job {} ({} pages written)",
        source.job,
        checkpoint.pages.len()
    );
    Ok(Some(sf.query_job_with_version(&source.job, version)?))
}

/// Waits for the job; Ctrl-C aborts it unless the download is meant to be resumed.
async fn wait(
    job: &QueryJob,
    display: Display,
    resume: bool,
    cancel: &CancellationToken,
) -> Result<CompletedQueryJob> {
    let poller = job
        .wait()
        .timeout(std::time::Duration::from_secs(24 * 3600))
        .cancel_on(cancel.clone());
    let _shown = progress::waiting(display, job.id().to_string(), poller.progress());
    match poller.await {
        Err(error) if error.is_cancelled() => {
            if !resume {
                let _ = job.abort().await;
                eprintln!("haul: aborted job {}", job.id());
            }
            Err(Interrupted.into())
        }
        other => Ok(other?),
    }
}

async fn download(
    done: &CompletedQueryJob,
    args: &QueryArgs,
    schema: Option<haul::download::Schema>,
    destination: Destination,
    display: Display,
    cancel: &CancellationToken,
) -> Result<DownloadReport> {
    let mut builder = done
        .download()
        .concurrency(args.concurrency)
        .resume(args.resume)
        .format(output_format(args))
        .overwrite(args.overwrite)
        .query(&args.soql)
        .cancel_on(cancel.clone());
    if let Some(schema) = schema {
        builder = builder.schema(schema);
    }
    if let Some(max) = args.max_records {
        builder = builder.max_records(max);
    }
    run_download(builder, destination, display).await
}

/// Runs a download to `destination`, showing its progress; Ctrl-C stops it.
pub(crate) async fn run_download(
    builder: haul::download::DownloadBuilder,
    destination: Destination,
    display: Display,
) -> Result<DownloadReport> {
    let handle = builder.to(destination);
    let _shown = progress::downloading(display, handle.progress());
    match handle.await {
        // The download has cleaned up (or kept its checkpoint, with --resume) before answering.
        Err(error) if error.is_cancelled() => Err(Interrupted.into()),
        other => Ok(other?),
    }
}

/// The download format `--format` (or the output's extension) and `--compression` name.
pub(crate) fn output_format(args: &QueryArgs) -> haul::download::Format {
    use haul::download::Compression as C;
    match args.output_format() {
        Format::Csv => haul::download::Format::Csv,
        Format::Jsonl => haul::download::Format::Jsonl,
        Format::Parquet => haul::download::Format::Parquet(match args.compression {
            None | Some(Compression::Zstd) => C::Zstd,
            Some(Compression::Snappy) => C::Snappy,
            Some(Compression::Gzip) => C::Gzip,
            Some(Compression::None) => C::Uncompressed,
        }),
    }
}

async fn list_jobs(target: &SfTarget, args: JobsArgs) -> Result<Outcome> {
    let jobs: Vec<JobLine> = match args.kind {
        JobKind::Query => {
            target
                .client
                .query_jobs()
                .map_ok(|job| JobLine::of_query(&job))
                .try_collect()
                .await?
        }
        JobKind::Ingest => {
            target
                .client
                .ingest_jobs()
                .map_ok(|job| JobLine::of_ingest(&job))
                .try_collect()
                .await?
        }
    };
    let lines = jobs.iter().map(|job| {
        format!(
            "{}  {:<14}  {:<10}  {}",
            job.id, job.state, job.operation, job.object
        )
    });
    let json = jobs.iter().map(|job| job.json.clone()).collect();
    Ok(Outcome::Lines {
        lines: lines.collect(),
        json: serde_json::Value::Array(json),
    })
}

/// One job of a listing, whichever its kind.
struct JobLine {
    id: String,
    state: String,
    operation: String,
    object: String,
    json: serde_json::Value,
}

impl JobLine {
    fn of_query(job: &QueryJobInfo) -> Self {
        Self {
            id: job.id.to_string(),
            state: job.state.to_string(),
            operation: job
                .operation
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            object: job.object.clone().unwrap_or_default(),
            json: serde_json::to_value(job).unwrap_or_default(),
        }
    }

    fn of_ingest(job: &IngestJobInfo) -> Self {
        Self {
            id: job.id.to_string(),
            state: job.state.to_string(),
            operation: job
                .operation
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            object: job.object.clone().unwrap_or_default(),
            json: serde_json::to_value(job).unwrap_or_default(),
        }
    }
}

/// A job id names a query job or an ingest job (the query endpoint is asked first), with the
/// information that lookup returned.
enum AnyJob {
    Query(QueryJob, Box<QueryJobInfo>),
    Ingest(IngestJob, Box<IngestJobInfo>),
}

async fn find_job(target: &SfTarget, args: &JobIdArgs) -> Result<AnyJob> {
    let query = target
        .client
        .query_job(&args.id)
        .map_err(|e| Usage(e.to_string()))?;
    match query.info().await {
        Ok(info) => Ok(AnyJob::Query(query, Box::new(info))),
        Err(error) if error.is_not_found() => {
            let ingest = target.client.ingest_job(&args.id)?;
            let info = ingest.info().await?;
            Ok(AnyJob::Ingest(ingest, Box::new(info)))
        }
        Err(error) => Err(error.into()),
    }
}

async fn show_job(target: &SfTarget, args: JobIdArgs) -> Result<Outcome> {
    let json = match find_job(target, &args).await? {
        AnyJob::Query(_, info) => serde_json::to_value(info)?,
        AnyJob::Ingest(_, info) => serde_json::to_value(info)?,
    };
    Ok(Outcome::Lines {
        lines: vec![serde_json::to_string_pretty(&json)?],
        json,
    })
}

async fn abort_job(target: &SfTarget, args: JobIdArgs) -> Result<Outcome> {
    let (id, state, json) = match find_job(target, &args).await? {
        AnyJob::Query(job, _) => {
            let info = job.abort().await?;
            (
                info.id.to_string(),
                info.state.to_string(),
                serde_json::to_value(&info)?,
            )
        }
        AnyJob::Ingest(job, _) => {
            let info = job.abort().await?;
            (
                info.id.to_string(),
                info.state.to_string(),
                serde_json::to_value(&info)?,
            )
        }
    };
    Ok(Outcome::Lines {
        lines: vec![format!("{id} {state}")],
        json,
    })
}

async fn delete_job(target: &SfTarget, args: JobIdArgs) -> Result<Outcome> {
    match find_job(target, &args).await? {
        AnyJob::Query(job, _) => job.delete().await?,
        AnyJob::Ingest(job, _) => job.delete().await?,
    }
    Ok(Outcome::Lines {
        lines: vec![format!("{} deleted", args.id)],
        json: json!({"id": args.id, "deleted": true}),
    })
}
