//! `haul databricks ...`: Databricks SQL statements into files or object stores.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use haul::CancellationToken;
use haul::databricks::{CompletedStatement, Databricks, Statement, StatementResponse};
use haul::download::{Checkpoint, Destination, DownloadReport};
use serde_json::json;
use tokio::sync::watch;

use crate::args::{Compression, Format};
use crate::exit::{Interrupted, Usage};
use crate::progress::Display;
use crate::{Outcome, Settings};

/// The kind of results a Databricks statement's checkpoint names.
const SOURCE_KIND: &str = "databricks-sql-statement";

#[derive(Debug, Args)]
pub(crate) struct DatabricksArgs {
    #[command(flatten)]
    pub(crate) connection: DatabricksConnection,
    #[command(subcommand)]
    pub(crate) command: DatabricksCommand,
}

/// Where the workspace is and how to authenticate, as Databricks' own tools read them: a
/// personal access token, or a service principal's OAuth client id and secret (machine to
/// machine; a token wins when both are given). Without a host, the built-in simulator is used.
#[derive(Debug, Args)]
pub(crate) struct DatabricksConnection {
    /// The workspace's URL, such as https://dbc-a1b2345c-d6e7.cloud.databricks.com.
    #[arg(long, env = "DATABRICKS_HOST", global = true)]
    pub(crate) host: Option<String>,
    /// A personal access token.
    #[arg(long, env = "DATABRICKS_TOKEN", hide_env_values = true, global = true)]
    pub(crate) token: Option<String>,
    /// A service principal's OAuth client id.
    #[arg(long, env = "DATABRICKS_CLIENT_ID", global = true)]
    pub(crate) client_id: Option<String>,
    /// The service principal's OAuth secret.
    #[arg(
        long,
        env = "DATABRICKS_CLIENT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub(crate) client_secret: Option<String>,
    /// Hosts the result's links may point to, as HOST or HOST:PORT (repeatable; default: the host
    /// and port of the statement's first link). Without a port, only the scheme's default port.
    /// Links elsewhere are refused.
    #[arg(long = "link-host", value_name = "HOST[:PORT]", global = true)]
    pub(crate) link_hosts: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DatabricksCommand {
    /// Run a SQL statement on a SQL warehouse and download its result, chunks in parallel.
    Query(DatabricksQueryArgs),
}

#[derive(Debug, Args)]
pub(crate) struct DatabricksQueryArgs {
    /// The SQL statement; named parameter markers (:name) take --param values.
    pub(crate) sql: String,
    /// The SQL warehouse to run it on (required with a workspace; the built-in simulator's own
    /// warehouse otherwise).
    #[arg(long)]
    pub(crate) warehouse: Option<String>,
    /// The default catalog.
    #[arg(long)]
    pub(crate) catalog: Option<String>,
    /// The default schema.
    #[arg(long)]
    pub(crate) schema: Option<String>,
    /// A parameter marker's value as NAME=VALUE, or NAME:TYPE=VALUE to cast it (repeatable).
    #[arg(long = "param", value_name = "NAME[:TYPE]=VALUE")]
    pub(crate) params: Vec<String>,
    /// Output file; a path ending in `/` gets one file a chunk. Also an object store:
    /// `s3://bucket/prefix/` (one object a chunk), `s3://bucket/out.csv` (one object),
    /// `gs://...`, `az://...`, configured from the environment.
    #[arg(long, short)]
    pub(crate) output: PathBuf,
    /// Output format [default: parquet for an output ending in `.parquet`, jsonl for `.jsonl` or
    /// `.ndjson`, else csv]. JSON lines and Parquet are typed from the result's manifest.
    #[arg(long, value_enum)]
    pub(crate) format: Option<Format>,
    /// With --format parquet: how pages are compressed [default: zstd].
    #[arg(long, value_enum)]
    pub(crate) compression: Option<Compression>,
    /// Chunks downloaded at once.
    #[arg(long, default_value_t = 8)]
    pub(crate) concurrency: usize,
    /// At most this many rows (the result is then marked truncated when cut).
    #[arg(long)]
    pub(crate) row_limit: Option<u64>,
    /// At most this many bytes (the result is then marked truncated when cut).
    #[arg(long)]
    pub(crate) byte_limit: Option<u64>,
    /// Download a truncated result (cut by a limit) instead of failing with exit code 6.
    #[arg(long)]
    pub(crate) allow_truncated: bool,
    /// Replace a complete output (one with its manifest) instead of refusing to.
    #[arg(long)]
    pub(crate) overwrite: bool,
    /// Resume an interrupted download to the same output (and keep a checkpoint for resuming
    /// this one): the statement the checkpoint names is read again, not run again.
    #[arg(long)]
    pub(crate) resume: bool,
}

impl DatabricksQueryArgs {
    fn output_format(&self) -> Format {
        self.format.unwrap_or_else(|| {
            let extension = self.output.extension().and_then(|e| e.to_str());
            match extension.map(str::to_ascii_lowercase).as_deref() {
                Some("parquet") => Format::Parquet,
                Some("jsonl" | "ndjson") => Format::Jsonl,
                _ => Format::Csv,
            }
        })
    }

    fn download_format(&self) -> haul::download::Format {
        use haul::download::Compression as C;
        match self.output_format() {
            Format::Csv => haul::download::Format::Csv,
            Format::Jsonl => haul::download::Format::Jsonl,
            Format::Parquet => haul::download::Format::Parquet(match self.compression {
                None | Some(Compression::Zstd) => C::Zstd,
                Some(Compression::Snappy) => C::Snappy,
                Some(Compression::Gzip) => C::Gzip,
                Some(Compression::None) => C::Uncompressed,
            }),
        }
    }
}

pub(crate) async fn run(
    args: DatabricksArgs,
    settings: &Settings,
    cancel: CancellationToken,
) -> Result<Outcome> {
    let target = target(&args.connection, settings.display == Display::Quiet).await?;
    let outcome = match args.command {
        DatabricksCommand::Query(query) => run_query(&target, query, settings, cancel).await,
    };
    if let Some(sim) = target.simulator {
        sim.shutdown().await;
    }
    outcome
}

/// The workspace to use: the one configured, or the built-in simulator.
struct Target {
    db: Databricks,
    /// The simulator's warehouse, when the simulator is the workspace.
    warehouse: Option<String>,
    simulator: Option<haul_sim::Sim>,
}

async fn target(connection: &DatabricksConnection, quiet: bool) -> Result<Target> {
    let Some(host) = connection.host.as_deref().filter(|h| !h.trim().is_empty()) else {
        let sim = haul_sim::Sim::builder()
            .start()
            .await
            .context("starting the built-in simulator")?;
        if !quiet {
            eprintln!(
                "haul: no Databricks workspace configured (DATABRICKS_HOST); using the built-in \
                 simulator at {}",
                sim.databricks().host()
            );
        }
        let db = Databricks::builder()
            .host(sim.databricks().host())
            .token(sim.databricks().token())
            .build()?;
        return Ok(Target {
            db,
            warehouse: Some(sim.databricks().warehouse_id().to_owned()),
            simulator: Some(sim),
        });
    };
    Ok(Target {
        db: client(host, connection)?,
        warehouse: None,
        simulator: None,
    })
}

fn client(host: &str, connection: &DatabricksConnection) -> Result<Databricks> {
    let mut builder = Databricks::builder().host(host);
    builder = match (
        &connection.token,
        &connection.client_id,
        &connection.client_secret,
    ) {
        (Some(token), _, _) => builder.token(token.as_str()),
        (None, Some(id), Some(secret)) => builder.client_credentials(id, secret.as_str()),
        _ => {
            return Err(Usage(
                "no Databricks credentials: set DATABRICKS_TOKEN, or DATABRICKS_CLIENT_ID and \
                 DATABRICKS_CLIENT_SECRET"
                    .into(),
            )
            .into());
        }
    };
    if !connection.link_hosts.is_empty() {
        builder = builder.link_hosts(connection.link_hosts.clone());
    }
    Ok(builder.build().map_err(|e| Usage(e.to_string()))?)
}

async fn run_query(
    target: &Target,
    args: DatabricksQueryArgs,
    settings: &Settings,
    cancel: CancellationToken,
) -> Result<Outcome> {
    if args.concurrency == 0 {
        return Err(Usage("--concurrency must be at least 1".into()).into());
    }
    let db = &target.db;
    let warehouse = args
        .warehouse
        .clone()
        .or_else(|| target.warehouse.clone())
        .ok_or_else(|| Usage("--warehouse is required: the SQL warehouse to run on".into()))?;
    let destination = checked_destination(&args).await?;
    let statement = match resumable_statement(db, &destination, args.resume).await? {
        Some(statement) => statement,
        None => submit(db, &warehouse, &args).await?,
    };
    let done = wait(&statement, settings.display, args.resume, &cancel)
        .await?
        .allow_truncated(args.allow_truncated);
    if done.truncated() {
        eprintln!(
            "haul: warning: the result of statement {} was truncated by its row or byte limit{}",
            statement.id(),
            if args.allow_truncated {
                ""
            } else {
                " (--allow-truncated to download it)"
            }
        );
    }
    let report = download(&done, &args, destination, settings.display, &cancel).await?;
    if settings.display != Display::Quiet {
        eprintln!(
            "haul: wrote {} rows in {} chunks to {}",
            report.records,
            report.pages,
            args.output.display()
        );
    }
    Ok(Outcome::Json(json!({
        "statement_id": statement.id(),
        "records": report.records,
        "chunks": report.pages,
        "resumed_chunks": report.resumed_pages,
        "bytes": report.bytes,
        "truncated": done.truncated(),
        "path": args.output,
        "format": args.download_format().to_string(),
        "elapsed_ms": report.elapsed.as_millis() as u64,
        "simulator": target.simulator.is_some(),
    })))
}

async fn submit(db: &Databricks, warehouse: &str, args: &DatabricksQueryArgs) -> Result<Statement> {
    let mut builder = db
        .statement(&args.sql)
        .warehouse(warehouse)
        .output(args.download_format());
    if let Some(catalog) = &args.catalog {
        builder = builder.catalog(catalog);
    }
    if let Some(schema) = &args.schema {
        builder = builder.schema(schema);
    }
    for param in &args.params {
        let (name, value) = param
            .split_once('=')
            .ok_or_else(|| Usage(format!("--param {param:?}: expected NAME=VALUE")))?;
        builder = match name.split_once(':') {
            Some((name, ty)) => builder.typed_parameter(name, value, ty),
            None => builder.parameter(name, value),
        };
    }
    if let Some(rows) = args.row_limit {
        builder = builder.row_limit(rows);
    }
    if let Some(bytes) = args.byte_limit {
        builder = builder.byte_limit(bytes);
    }
    Ok(builder.submit().await?)
}

/// The destination `-o` names, refusing what a download cannot write there.
async fn checked_destination(args: &DatabricksQueryArgs) -> Result<Destination> {
    let destination = Destination::parse(&args.output.to_string_lossy())
        .map_err(|error| Usage(error.to_string()))?;
    let format = args.output_format();
    if args.compression.is_some() && format != Format::Parquet {
        return Err(Usage("--compression works with --format parquet only".into()).into());
    }
    if format == Format::Parquet
        && !destination.is_folder()
        && (args.resume || destination.is_store())
    {
        return Err(Usage(
            "one Parquet file cannot be resumed or stored in an object store (its footer is \
             written last): give a folder (a path ending in /) for one Parquet file a chunk"
                .into(),
        )
        .into());
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

/// With `--resume` and a checkpoint beside the output, the statement it belongs to.
async fn resumable_statement(
    db: &Databricks,
    destination: &Destination,
    resume: bool,
) -> Result<Option<Statement>> {
    if !resume {
        return Ok(None);
    }
    let Some(checkpoint) = destination.checkpoint().await? else {
        return Ok(None);
    };
    let source = &checkpoint.source;
    if source.kind != SOURCE_KIND {
        let shown = match destination.is_store() {
            true => format!("the checkpoint in {destination}"),
            false => Checkpoint::path_for(std::path::Path::new(&destination.to_string()))
                .display()
                .to_string(),
        };
        return Err(Usage(format!(
            "{shown} belongs to {source}, not to a Databricks statement; remove it to start over"
        ))
        .into());
    }
    eprintln!(
        "haul: resuming the download of statement {} ({} chunks written)",
        source.job,
        checkpoint.pages.len()
    );
    Ok(Some(db.statement_by_id(&source.job)))
}

/// Waits for the statement; Ctrl-C cancels it unless the download is meant to be resumed.
async fn wait(
    statement: &Statement,
    display: Display,
    resume: bool,
    cancel: &CancellationToken,
) -> Result<CompletedStatement> {
    let poller = statement
        .wait()
        .timeout(Duration::from_secs(24 * 3600))
        .cancel_on(cancel.clone());
    let shown = show_states(display, statement.id().to_owned(), poller.progress());
    let outcome = poller.await;
    if let Some(task) = shown {
        task.abort();
    }
    match outcome {
        Err(error) if error.is_cancelled() => {
            if !resume {
                let _ = statement.cancel().await;
                eprintln!("haul: cancelled statement {}", statement.id());
            }
            Err(Interrupted.into())
        }
        other => Ok(other?),
    }
}

/// Prints each state the statement passes through (not with --quiet).
fn show_states(
    display: Display,
    id: String,
    mut states: watch::Receiver<Option<StatementResponse>>,
) -> Option<tokio::task::JoinHandle<()>> {
    if display == Display::Quiet {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut last = String::new();
        while states.changed().await.is_ok() {
            let state = states
                .borrow_and_update()
                .as_ref()
                .and_then(|r| r.status.as_ref())
                .and_then(|s| s.state.as_ref())
                .map(ToString::to_string);
            if let Some(state) = state.filter(|s| *s != last) {
                eprintln!("haul: statement {id} {state}");
                last = state;
            }
        }
    }))
}

async fn download(
    done: &CompletedStatement,
    args: &DatabricksQueryArgs,
    destination: Destination,
    display: Display,
    cancel: &CancellationToken,
) -> Result<DownloadReport> {
    let builder = done
        .download()
        .concurrency(args.concurrency)
        .resume(args.resume)
        .format(args.download_format())
        .overwrite(args.overwrite)
        .query(&args.sql)
        .cancel_on(cancel.clone());
    crate::sf::run_download(builder, destination, display).await
}
