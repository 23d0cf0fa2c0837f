//! The command line, as clap reads it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Exit codes, shown at the end of `haul --help` and documented in the README.
pub(crate) const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  other failure (network, file system, unexpected server answer)
  2  usage: bad arguments or input (malformed SOQL, unknown object, field or job, missing file)
  3  authentication failed (bad or expired token, refused credentials)
  4  the job failed or was aborted
  5  the org's API limit is used up (REQUEST_LIMIT_EXCEEDED)
  6  integrity: downloaded data disagrees with the server's counts, or a value is not of its type
     (also a Databricks result truncated by a limit, without --allow-truncated)
  7  extract: some objects failed (the run summary names each with its error), the others landed;
     when every object failed, the code of the first one's failure
  8  extract: the run stopped on its API budget (--max-api-requests, --reserve) or an org daily
     limit; the objects it left are named, their state kept, and the next run lands them
  130 interrupted (Ctrl-C)";

/// Bulk queries, ingests, Looker results and Databricks statements into files.
///
/// Without a configured org, Looker instance or Databricks workspace, haul starts its built-in
/// simulator and says so.
#[derive(Debug, Parser)]
#[command(name = "haul", version, after_help = EXIT_CODES)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    /// Print nothing on stderr but errors.
    #[arg(long, short, global = true)]
    pub(crate) quiet: bool,
    /// Print a machine-readable summary on stdout.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// More log output on stderr (-v, -vv).
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Salesforce: Bulk API 2.0 query and ingest jobs, Async SOQL, REST query, describe and limits.
    Sf(Box<SfArgs>),
    /// Looker: run queries as tasks and save their results.
    Looker(LookerArgs),
    /// Databricks: run SQL statements on a SQL warehouse and download their results.
    Databricks(Box<crate::databricks::DatabricksArgs>),
    /// Run the simulator in the foreground (as `haul-sim` does).
    Sim(haul_sim::cli::SimArgs),
}

#[derive(Debug, Args)]
pub(crate) struct SfArgs {
    #[command(flatten)]
    pub(crate) connection: SfConnection,
    #[command(subcommand)]
    pub(crate) command: SfCommand,
}

/// Where the org is and how to log in. Without an instance URL or `--target-org`, the built-in
/// simulator is used.
///
/// With an instance URL, the credentials are taken in this order: SF_ACCESS_TOKEN; SF_REFRESH_TOKEN
/// with SF_CLIENT_ID (and SF_CLIENT_SECRET when the app needs it); SF_USERNAME with SF_CLIENT_ID and
/// a private key (SF_JWT_KEY_FILE, the JWT bearer flow against SF_LOGIN_URL); SF_CLIENT_ID with
/// SF_CLIENT_SECRET (client credentials).
#[derive(Debug, Args)]
pub(crate) struct SfConnection {
    /// An org already authorised with Salesforce's CLI: its alias or username. haul runs
    /// `sf org display --json --target-org ALIAS` and uses the token, instance URL and API version
    /// it prints.
    #[arg(long, global = true, value_name = "ALIAS")]
    pub(crate) target_org: Option<String>,
    /// The org's URL, such as https://acme.my.salesforce.com.
    #[arg(long, env = "SF_INSTANCE_URL", global = true)]
    pub(crate) instance_url: Option<String>,
    /// An access token (session id).
    #[arg(long, env = "SF_ACCESS_TOKEN", hide_env_values = true, global = true)]
    pub(crate) access_token: Option<String>,
    /// A connected app's consumer key, for the client-credentials flow.
    #[arg(long, env = "SF_CLIENT_ID", global = true)]
    pub(crate) client_id: Option<String>,
    /// The connected app's consumer secret.
    #[arg(long, env = "SF_CLIENT_SECRET", hide_env_values = true, global = true)]
    pub(crate) client_secret: Option<String>,
    /// A refresh token, for the refresh-token flow (with --client-id).
    #[arg(long, env = "SF_REFRESH_TOKEN", hide_env_values = true, global = true)]
    pub(crate) refresh_token: Option<String>,
    /// The user to log in as, for the JWT bearer flow (with --client-id and --jwt-key-file).
    #[arg(long, env = "SF_USERNAME", global = true)]
    pub(crate) username: Option<String>,
    /// The connected app's private key (PEM), for the JWT bearer flow.
    #[arg(long, env = "SF_JWT_KEY_FILE", global = true, value_name = "FILE")]
    pub(crate) jwt_key_file: Option<PathBuf>,
    /// Where tokens are obtained, such as https://login.salesforce.com or https://test.salesforce.com
    /// (default: the instance URL); also the JWT's audience (default https://login.salesforce.com).
    #[arg(long, env = "SF_LOGIN_URL", global = true)]
    pub(crate) login_url: Option<String>,
    /// The API version, such as 62.0.
    #[arg(long, env = "SF_API_VERSION", global = true)]
    pub(crate) api_version: Option<String>,
    /// Ask for uncompressed answers. gzip saves bandwidth on slow links but costs CPU on fast ones.
    #[arg(long, global = true)]
    pub(crate) no_gzip: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SfCommand {
    /// Run a query and download its results to a file (or, with Bulk API, a folder, one file a page).
    Query(QueryArgs),
    /// Show an object's fields: name, type, size, nillable, label (--json: the whole describe).
    Describe(DescribeArgs),
    /// List the objects that can be queried (--json: the whole global describe).
    Objects,
    /// Show the org's limits: maximum, remaining and used (--json: the limits as Salesforce sends them).
    Limits,
    /// List jobs.
    Jobs(JobsArgs),
    /// Show one job.
    Job(JobIdArgs),
    /// Abort a job that has not finished.
    Abort(JobIdArgs),
    /// Delete a finished job and its results.
    Delete(JobIdArgs),
    /// Load a CSV file into an object with Bulk API 2.0 ingest jobs.
    Ingest(IngestArgs),
    /// Copy rows into another object with Async SOQL.
    AsyncSoql(AsyncSoqlArgs),
    /// Keep objects in a folder or an object store, run after run: the first run lands every
    /// row, each later run the rows changed or deleted since (see `haul sf extract --help`).
    Extract(ExtractArgs),
}

/// Lands each object in DEST/<Object>/run=<run id>/ (part files and their manifests; `_run.json`
/// marks a complete run), its cursor in DEST/<Object>/_state.json, and the run's summary in
/// DEST/_runs/<run id>.json. A run reads from the last cursor minus the lookback with queryAll
/// (deleted rows land with IsDeleted true) and drops the rows it already landed. Compound fields
/// are replaced by their components, base64 fields left out; the summary names both. An object
/// that fails keeps its last state, and the next run lands what it missed (exit code 7 when
/// others landed).
#[derive(Debug, Args)]
pub(crate) struct ExtractArgs {
    /// The objects, comma-separated (Account,Contact).
    #[arg(long, value_delimiter = ',', value_name = "OBJECTS")]
    pub(crate) objects: Vec<String>,
    /// Every queryable, replicateable object of the org.
    #[arg(long)]
    pub(crate) all: bool,
    /// Objects to leave out of --all, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "OBJECTS", requires = "all")]
    pub(crate) exclude: Vec<String>,
    /// A TOML file of `[[object]]` tables, each with `name` and optionally `fields` (a list),
    /// `filter` (a SOQL condition) and `cursor` (a date-time field).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Where to land: a folder (lake/) or an object-store prefix (s3://bucket/lake/).
    #[arg(long, value_name = "DEST")]
    pub(crate) to: String,
    /// What the part files are.
    #[arg(long, value_enum, default_value = "parquet")]
    pub(crate) format: Format,
    /// Parquet's compression (default zstd).
    #[arg(long, value_enum)]
    pub(crate) compression: Option<Compression>,
    /// Seconds before the last cursor that a run reads again (rows committed late).
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub(crate) lookback: u64,
    /// The narrowest cursor window, in seconds, that a timed-out job is split into.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub(crate) split_floor: u64,
    /// At most this many bulk jobs at once, all objects together.
    #[arg(long, default_value_t = 4)]
    pub(crate) max_jobs: usize,
    /// Result pages downloaded at once within a job.
    #[arg(long, default_value_t = 4)]
    pub(crate) concurrency: usize,
    /// Also land the records hard-deleted since the last run (which queryAll never shows), found
    /// by comparing Id sets: one more bulk job an object a run.
    #[arg(long)]
    pub(crate) detect_hard_deletes: bool,
    /// Spend at most about this many API requests: no object or window starts once what is left
    /// would not cover it (the objects left are named; the next run lands them).
    #[arg(long, value_name = "N")]
    pub(crate) max_api_requests: Option<u64>,
    /// The share of the org's daily API requests and bulk query jobs left for others, in percent:
    /// nothing starts once what remains would fall below it.
    #[arg(long, default_value_t = 20.0, value_name = "PERCENT")]
    pub(crate) reserve: f64,
}

#[derive(Debug, Args)]
pub(crate) struct DescribeArgs {
    /// The object's API name, such as Account.
    pub(crate) object: String,
}

#[derive(Debug, Args)]
pub(crate) struct IngestArgs {
    /// The object to write to, such as Account.
    pub(crate) object: String,
    /// The CSV file; the first row names the fields.
    pub(crate) file: PathBuf,
    /// What to do with each row.
    #[arg(long, value_enum)]
    pub(crate) operation: Operation,
    /// The external id field (required with --operation upsert).
    #[arg(long)]
    pub(crate) external_id: Option<String>,
    /// Write successful.csv, failed.csv and unprocessed.csv into this folder.
    #[arg(long)]
    pub(crate) results: Option<PathBuf>,
    /// Jobs run at once.
    #[arg(long, default_value_t = 4)]
    pub(crate) concurrency: usize,
    /// Split the file into jobs of at most this many bytes each (default and maximum: 100 MiB).
    #[arg(long, value_name = "BYTES")]
    pub(crate) max_job_bytes: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Operation {
    /// Create records.
    Insert,
    /// Update records by Id.
    Update,
    /// Insert or update by --external-id.
    Upsert,
    /// Move records to the recycle bin (the file holds only Id).
    Delete,
    /// Delete records permanently (the file holds only Id).
    HardDelete,
}

#[derive(Debug, Args)]
pub(crate) struct AsyncSoqlArgs {
    /// The SOQL query whose rows are copied.
    pub(crate) soql: String,
    /// The object the rows are written to.
    #[arg(long)]
    pub(crate) target: String,
    /// A source field and the target field it is written to, as SRC=DST (repeatable).
    #[arg(long = "map", value_name = "SRC=DST", required = true)]
    pub(crate) maps: Vec<String>,
    /// Wait until the copy has finished.
    #[arg(long)]
    pub(crate) wait: bool,
}

#[derive(Debug, Args)]
pub(crate) struct LookerArgs {
    #[command(flatten)]
    pub(crate) connection: LookerConnection,
    #[command(subcommand)]
    pub(crate) command: LookerCommand,
}

/// Where Looker is and the API key. Without a base URL, the built-in simulator is used.
#[derive(Debug, Args)]
pub(crate) struct LookerConnection {
    /// The instance's URL, such as https://acme.cloud.looker.com.
    #[arg(long, env = "LOOKER_BASE_URL", global = true)]
    pub(crate) base_url: Option<String>,
    /// The API key's client id.
    #[arg(long, env = "LOOKER_CLIENT_ID", global = true)]
    pub(crate) client_id: Option<String>,
    /// The API key's client secret.
    #[arg(
        long,
        env = "LOOKER_CLIENT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub(crate) client_secret: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum LookerCommand {
    /// Run one saved query as a task and save its results.
    Run(LookerRunArgs),
    /// Run several saved queries at once and save each one's results.
    RunMany(LookerRunManyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct LookerRunArgs {
    /// The query's id.
    pub(crate) query_id: String,
    /// The result format, such as csv, json, json_detail or txt; or parquet: typed Parquet, each
    /// column's type from the field metadata of a json_detail result [default: parquet for an
    /// output ending in `.parquet`, else csv].
    #[arg(long)]
    pub(crate) format: Option<String>,
    /// Output file.
    #[arg(long, short)]
    pub(crate) output: PathBuf,
    /// With --format parquet: how pages are compressed [default: zstd].
    #[arg(long, value_enum)]
    pub(crate) compression: Option<Compression>,
}

impl LookerRunArgs {
    /// The format: as given, else by the output's extension (`.parquet`), else CSV.
    pub(crate) fn output_format(&self) -> String {
        self.format.clone().unwrap_or_else(|| {
            let parquet = self
                .output
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
            if parquet { "parquet" } else { "csv" }.to_owned()
        })
    }
}

#[derive(Debug, Args)]
pub(crate) struct LookerRunManyArgs {
    /// The queries' ids.
    #[arg(required = true)]
    pub(crate) query_ids: Vec<String>,
    /// The result format, such as csv, json, json_detail or txt; or parquet: typed Parquet, each
    /// column's type from the field metadata of a json_detail result.
    #[arg(long, default_value = "csv")]
    pub(crate) format: String,
    /// Output folder: one file a query, named after its id.
    #[arg(long, short)]
    pub(crate) output: PathBuf,
    /// With --format parquet: how pages are compressed [default: zstd].
    #[arg(long, value_enum)]
    pub(crate) compression: Option<Compression>,
}

#[derive(Debug, Args)]
pub(crate) struct QueryArgs {
    /// The SOQL query.
    pub(crate) soql: String,
    /// Output file; a path ending in `/` or an existing folder gets one file a page. With --api
    /// bulk (or --api rest with --format jsonl or parquet), also an object store: `s3://bucket/prefix/` (one object a page), `s3://bucket/out.csv`
    /// (one object), `gs://...`, `az://...`, configured from the environment (`AWS_*`, with
    /// `AWS_ENDPOINT_URL` for S3-compatible stores; `GOOGLE_*`; `AZURE_*`).
    #[arg(long, short)]
    pub(crate) output: PathBuf,
    /// Replace a complete output (one with its manifest) instead of refusing to.
    #[arg(long)]
    pub(crate) overwrite: bool,
    /// Include deleted and archived records (queryAll).
    #[arg(long)]
    pub(crate) all: bool,
    /// Pages downloaded at once.
    #[arg(long, default_value_t = 8)]
    pub(crate) concurrency: usize,
    /// At most this many rows a page.
    #[arg(long)]
    pub(crate) max_records: Option<u64>,
    /// Output format [default: parquet for an output ending in `.parquet`, jsonl for `.jsonl` or
    /// `.ndjson`, else csv].
    #[arg(long, value_enum)]
    pub(crate) format: Option<Format>,
    /// With --format parquet: how pages are compressed [default: zstd].
    #[arg(long, value_enum)]
    pub(crate) compression: Option<Compression>,
    /// Resume an interrupted download to the same output (and keep a checkpoint for resuming this one).
    #[arg(long)]
    pub(crate) resume: bool,
    /// Which API runs the query: Bulk API 2.0 jobs, or the REST API's query resource (small results,
    /// aggregates; the same outputs and the same typed values, columns in the order of the SELECT
    /// list, relationships flattened as Owner.Name; CSV to one local file only).
    #[arg(long, value_enum, default_value_t = Api::Bulk)]
    pub(crate) api: Api,
    /// With --api rest: records a batch, 200 to 2000 (the server may answer with other sizes).
    #[arg(long)]
    pub(crate) batch_size: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Api {
    /// Bulk API 2.0 query jobs: any size, parallel download, resumable.
    Bulk,
    /// The REST API's query resource, batch by batch.
    Rest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// CSV as the server sends it, with one header row.
    Csv,
    /// One JSON object a row, keyed by column, each value typed from describe: numbers as
    /// numbers, decimals as strings of their exact value, dates and times as ISO 8601 strings
    /// (date-times in UTC), multi-selects as arrays; empty values become null (a folder gets one
    /// `.jsonl` file a page, a batch with --api rest). With --api rest too, each value is read
    /// from the number or text the REST API sent, so it equals the bulk query's.
    Jsonl,
    /// Typed Parquet, each column's type from describe (a folder gets one `.parquet` file a page,
    /// a batch with --api rest), with --api bulk or --api rest alike.
    Parquet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum Compression {
    /// Zstandard.
    #[default]
    Zstd,
    /// Snappy.
    Snappy,
    /// Gzip.
    Gzip,
    /// No compression.
    None,
}

impl QueryArgs {
    /// The output format: as given, else by the output's extension (`.parquet`; `.jsonl` or
    /// `.ndjson`), else CSV.
    pub(crate) fn output_format(&self) -> Format {
        self.format.unwrap_or_else(|| {
            let extension = self.output.extension().and_then(|e| e.to_str());
            match extension.map(str::to_ascii_lowercase).as_deref() {
                Some("parquet") => Format::Parquet,
                Some("jsonl" | "ndjson") => Format::Jsonl,
                _ => Format::Csv,
            }
        })
    }
}

#[derive(Debug, Args)]
pub(crate) struct JobsArgs {
    /// Which jobs to list.
    #[arg(long = "type", value_enum, default_value_t = JobKind::Query)]
    pub(crate) kind: JobKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum JobKind {
    /// Bulk API 2.0 query jobs.
    Query,
    /// Bulk API 2.0 ingest jobs.
    Ingest,
}

#[derive(Debug, Args)]
pub(crate) struct JobIdArgs {
    /// The job's id (18 characters, starting 750): a query job, or else an ingest job.
    pub(crate) id: String,
}

impl Compression {
    /// The library's compression of the same name.
    pub(crate) fn library(self) -> haul::download::Compression {
        match self {
            Self::Zstd => haul::download::Compression::Zstd,
            Self::Snappy => haul::download::Compression::Snappy,
            Self::Gzip => haul::download::Compression::Gzip,
            Self::None => haul::download::Compression::Uncompressed,
        }
    }
}
