//! The download engine: a job's results fetched partition by partition, in parallel, checked, written
//! in order, and resumable. Every family's downloads run on it.
//!
//! It has three parts, each in its own file:
//! - a **source** (`source.rs`) lists a job's result partitions lazily (all at once through a listing
//!   such as Salesforce's `resultPages`, or one after another as each names the next, like the
//!   `Sforce-Locator` chain) and fetches one partition as a stream of bytes (CSV, or an Arrow IPC
//!   stream, written as Parquet only), with the row count the server declares for it when it does.
//!   A family implements it; the engine knows no family.
//! - a **format** ([`Format`]) turns each partition's body into what is written (CSV passed through,
//!   JSON lines, or Parquet; Parquet, and JSON lines when given one, typed by a [`Schema`] that the
//!   family takes from the service's metadata), counts its rows and checks them against the
//!   declared count.
//! - a **sink** (`sink.rs`) is where the partitions land: one file (CSV parts concatenated with one
//!   header row, or Parquet parts' row groups appended under one footer) or a folder of part
//!   files, on local disk or in an object store (S3, Google Cloud Storage, Azure; see
//!   [`Destination`]).
//!
//! Every complete output has a [`Manifest`] beside it, written last (`<folder>/_manifest.json`, or
//! `<file>.manifest.json`): the source, the query, the format, the columns (with their types when
//! the download has a [`Schema`]), and every file with its rows, bytes and SHA-256. An output
//! without one is incomplete. A complete output is never replaced unless the download is told to
//! ([`DownloadBuilder::overwrite`]).
//!
//! The engine (`engine.rs`) runs the workers, commits partitions strictly in order, keeps the
//! [`Checkpoint`] (keyed by the source, see [`SourceKey`]) that lets an interrupted download resume,
//! checks the total against the job's, reports progress, and honours cancellation.

mod checkpoint;
mod decimal;
mod digest;
mod engine;
mod fetch;
mod format;
mod jsonl;
mod manifest;
mod multipart;
mod output;
mod parquet;
mod parquet_file;
mod part;
mod records;
mod schema;
mod sink;
pub(crate) mod source;
mod store;
#[cfg(test)]
mod test_source;
mod value;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use checkpoint::{Checkpoint, CommittedPage, SourceKey};
pub(crate) use fetch::fetch_partition;
pub(crate) use format::Encoding;
pub use format::Format;
pub use manifest::{Manifest, ManifestColumn, ManifestFile, ManifestSource};
pub use parquet::Compression;
pub(crate) use parquet::RowWriter;
pub use schema::{Column, ColumnType, Schema};
use sink::Target;
use source::Source;
pub use store::Destination;

/// The default of [`DownloadBuilder::memory`]: a quarter of the 64 MB that a download aims to stay
/// within, whatever its size.
const DEFAULT_MEMORY: usize = 16 << 20;

/// Configures a download; finish with [`to`](Self::to), [`to_file`](Self::to_file) or
/// [`to_dir`](Self::to_dir).
#[derive(Clone)]
#[must_use]
pub struct DownloadBuilder {
    source: Arc<dyn Source>,
    concurrency: usize,
    max_records: Option<u64>,
    resume: bool,
    format: Format,
    schema: Option<Schema>,
    memory: usize,
    overwrite: bool,
    query: Option<String>,
    cancel: CancellationToken,
}

impl std::fmt::Debug for DownloadBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownloadBuilder")
            .field("source", &self.source.describe())
            .field("concurrency", &self.concurrency)
            .field("max_records", &self.max_records)
            .field("resume", &self.resume)
            .field("format", &self.format)
            .field("schema", &self.schema)
            .field("memory", &self.memory)
            .field("overwrite", &self.overwrite)
            .finish_non_exhaustive()
    }
}

impl DownloadBuilder {
    pub(crate) fn new(source: Arc<dyn Source>) -> Self {
        Self {
            source,
            concurrency: 4,
            max_records: None,
            resume: false,
            format: Format::Csv,
            schema: None,
            memory: DEFAULT_MEMORY,
            overwrite: false,
            query: None,
            cancel: CancellationToken::new(),
        }
    }

    /// Partitions fetched at once (default 4). Above 1, a source that can list its partitions ahead
    /// (Salesforce's `resultPages`, API 58.0+) is fetched in parallel; a chain of partitions, each
    /// naming the next, is fetched one at a time.
    pub fn concurrency(mut self, partitions: usize) -> Self {
        self.concurrency = partitions;
        self
    }

    /// At most this many rows a partition, for sources that let the client choose (Salesforce's
    /// `maxRecords`); the server's default when unset. A source that cannot honour it refuses the
    /// download with [`Error::InvalidInput`](crate::Error::InvalidInput).
    pub fn max_records(mut self, rows: u64) -> Self {
        self.max_records = Some(rows);
        self
    }

    /// What is written (default [`Format::Csv`]).
    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// The columns' types, which [`Format::Parquet`] needs and [`Format::Jsonl`] is typed by
    /// (without one, JSON lines hold strings; CSV passes through as received, whatever the
    /// schema): take it from the service's metadata, such as
    /// [`Salesforce::query_schema`](crate::Salesforce::query_schema). A value that does not read as
    /// its column's type stops the download with [`Error::InvalidValue`](crate::Error::InvalidValue),
    /// and nothing is published. The schema is kept in the checkpoint: a resumed download must be
    /// given the same.
    pub fn schema(mut self, schema: Schema) -> Self {
        self.schema = Some(schema);
        self
    }

    /// Bytes that fetched partitions may hold in memory, all together, while they wait to be
    /// written (default 16 MiB). A partition that does not fit goes to a part file beside the output
    /// instead, which costs more disk traffic but no more memory; 0 sends every partition there.
    pub fn memory(mut self, bytes: usize) -> Self {
        self.memory = bytes;
        self
    }

    /// Resumes an interrupted download to the same output from its checkpoint, and keeps a checkpoint
    /// while downloading so that this one can be resumed too (default false). A Parquet download
    /// resumes into a folder only: one Parquet file is refused, its footer being written at the end.
    pub fn resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// Replaces a complete output (one with its [`Manifest`]) at the destination (default false:
    /// such a download fails with [`Error::InvalidInput`](crate::Error::InvalidInput) before it
    /// writes anything). The old manifest is removed first, then the files it listed.
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// The query to name in the [`Manifest`], for sources that do not know their own (a Salesforce
    /// query job does).
    pub fn query(mut self, query: impl Into<String>) -> Self {
        self.query = Some(query.into());
        self
    }

    /// Stops the download, with [`Error::Cancelled`](crate::Error::Cancelled), when `token` is
    /// cancelled; the download cleans up (or keeps its checkpoint, when resumable) before it answers.
    pub fn cancel_on(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }

    /// Downloads into one file: CSV with a single header row, JSON lines, or one Parquet file.
    /// Starts at once; await the handle.
    pub fn to_file(self, path: impl Into<PathBuf>) -> DownloadHandle {
        engine::start(self, Target::File(path.into()))
    }

    /// Downloads into a folder, one file a partition (`part-00000.csv`, ...), each CSV file with its
    /// header row, each Parquet file whole.
    pub fn to_dir(self, path: impl Into<PathBuf>) -> DownloadHandle {
        engine::start(self, Target::Dir(path.into()))
    }

    /// Downloads to `destination`: a local file or folder, or an object store's object or prefix
    /// (see [`Destination`]). A store destination that cannot be configured answers with the
    /// error at once.
    pub fn to(self, destination: Destination) -> DownloadHandle {
        match destination.target() {
            Ok(target) => engine::start(self, target),
            Err(error) => engine::refuse(self, error),
        }
    }
}

/// How far a download has come.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DownloadProgress {
    /// Partitions (pages) written.
    pub pages: usize,
    /// Rows written.
    pub records: u64,
    /// Bytes written (header rows of later pages not counted in single-file CSV downloads).
    pub bytes: u64,
    /// Rows the job holds, when the server said.
    pub expected_records: Option<u64>,
}

/// What a finished download wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DownloadReport {
    /// The file or folder written; for an object store, its URL (`s3://bucket/prefix/`).
    pub path: PathBuf,
    /// Partitions (pages) downloaded in all, resumed ones included.
    pub pages: usize,
    /// Partitions that an earlier, interrupted run had already written.
    pub resumed_pages: usize,
    /// Rows written, equal to the job's total when the server states one.
    pub records: u64,
    /// Bytes of the output.
    pub bytes: u64,
    /// Time this run took.
    pub elapsed: Duration,
}

/// A download under way. Await it for the [`DownloadReport`]; [`cancel`](crate::Handle::cancel) or
/// dropping it stops the download (a resumable one keeps its checkpoint).
pub type DownloadHandle = crate::Handle<DownloadReport, DownloadProgress>;
