//! Bulk API 2.0 ingest jobs: load a CSV (or records) of any size into an object, split into jobs of
//! at most 100 MB, several at once, and read back what each row became.
//!
//! ```no_run
//! # async fn example(sf: haul::Salesforce) -> haul::Result<()> {
//! use futures::TryStreamExt;
//!
//! let outcome = sf
//!     .bulk_ingest("Account")
//!     .upsert("External_Id__c")
//!     .csv_file("accounts.csv")
//!     .concurrency(4)
//!     .run()
//!     .await?;
//! println!("{} rows written, {} failed", outcome.summary.records_succeeded(), outcome.summary.records_failed);
//! let mut failed = outcome.failed_results();
//! while let Some(row) = failed.try_next().await? {
//!     println!("{:?}: {}", row.fields.get("External_Id__c"), row.error);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Each job is created, receives exactly one upload, is closed, and is waited for. A job that ends
//! `JobComplete` succeeded even when some of its rows failed: those are in its failed results. A job
//! that ends `Failed` or `Aborted` makes the ingest fail with [`Error::JobFailed`] carrying the
//! server's `errorMessage`, once the other jobs have finished (or, with
//! [`abort_remaining_on_failure`](IngestBuilder::abort_remaining_on_failure), been aborted).

mod header;
mod input;
mod job;
mod list;
mod results;
mod rows;
mod run;
mod split;
mod spool;
mod summary;
mod upload_body;

pub(crate) use split::split_in_memory;

#[cfg(feature = "fuzzing")]
pub(crate) use split::last_record_end;

use std::path::PathBuf;
use std::time::Duration;

use futures::{Stream, StreamExt};
use haul_client::salesforce_bulk_ingest::types::CreateIngestJobRequest;
use haul_types::{ColumnDelimiter, ContentType, IngestOperation, LineEnding};
use serde::Serialize;
use tokio::io::AsyncRead;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use haul_client::salesforce_bulk_ingest::types::IngestJobInfo;
pub use job::{IngestJob, failed_job};
pub use rows::{FailedRow, Fields, RowError, SuccessfulRow, UnprocessedRow};
pub use summary::{IngestOutcome, IngestSummary, JobSummary};

use super::Salesforce;
use crate::error::{Error, Result};
use crate::poll::BackoffPolicy;
use input::Input;

/// The most a job may hold: the server's limit is 150 MB after it base64-encodes the upload.
pub const MAX_JOB_BYTES: usize = 100 * 1024 * 1024;

impl Salesforce {
    /// Starts describing an ingest into `object`; choose an operation and an input, then
    /// [`run`](IngestBuilder::run) it.
    pub fn bulk_ingest(&self, object: impl Into<String>) -> IngestBuilder {
        IngestBuilder {
            sf: self.clone(),
            object: object.into(),
            operation: None,
            external_id: None,
            assignment_rule_id: None,
            column_delimiter: ColumnDelimiter::Comma,
            line_ending: LineEnding::Lf,
            input: None,
            max_job_bytes: MAX_JOB_BYTES,
            concurrency: 4,
            abort_remaining: false,
            backoff: BackoffPolicy::default(),
            job_timeout: Duration::from_secs(3600),
            spool_dir: None,
            cancel: CancellationToken::new(),
        }
    }

    /// A handle on an existing ingest job, addressed with this client's API version.
    pub fn ingest_job(&self, id: &str) -> Result<IngestJob> {
        let id = id
            .parse()
            .map_err(|e| Error::invalid_input(format!("{e}")))?;
        Ok(IngestJob::new(self.clone(), id, self.api_version()))
    }

    /// Every ingest job of the org, page by page as the stream is read (nothing is sent until then).
    pub fn ingest_jobs(
        &self,
    ) -> impl Stream<Item = Result<IngestJobInfo>> + Send + Unpin + 'static + use<> {
        list::list_jobs(self.clone()).boxed()
    }
}

/// Describes an ingest before it runs. An operation and an input are required.
#[must_use]
pub struct IngestBuilder {
    sf: Salesforce,
    object: String,
    operation: Option<IngestOperation>,
    external_id: Option<String>,
    assignment_rule_id: Option<String>,
    column_delimiter: ColumnDelimiter,
    line_ending: LineEnding,
    input: Option<Input>,
    max_job_bytes: usize,
    concurrency: usize,
    abort_remaining: bool,
    backoff: BackoffPolicy,
    job_timeout: Duration,
    spool_dir: Option<PathBuf>,
    cancel: CancellationToken,
}

impl std::fmt::Debug for IngestBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestBuilder")
            .field("object", &self.object)
            .field("operation", &self.operation)
            .field("external_id", &self.external_id)
            .field("input", &self.input)
            .field("max_job_bytes", &self.max_job_bytes)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl IngestBuilder {
    fn operation(mut self, operation: IngestOperation) -> Self {
        self.operation = Some(operation);
        self
    }

    /// Creates records.
    pub fn insert(self) -> Self {
        self.operation(IngestOperation::Insert)
    }

    /// Updates records by `Id`.
    pub fn update(self) -> Self {
        self.operation(IngestOperation::Update)
    }

    /// Inserts or updates records by `external_id_field`, which must be a column of the input.
    pub fn upsert(mut self, external_id_field: impl Into<String>) -> Self {
        self.external_id = Some(external_id_field.into());
        self.operation(IngestOperation::Upsert)
    }

    /// Moves records to the recycle bin; the input must hold only an `Id` column.
    pub fn delete(self) -> Self {
        self.operation(IngestOperation::Delete)
    }

    /// Deletes records for good (needs the "Bulk API Hard Delete" permission); the input must hold
    /// only an `Id` column.
    pub fn hard_delete(self) -> Self {
        self.operation(IngestOperation::HardDelete)
    }

    /// The Case or Lead assignment rule to apply (API 49.0+).
    pub fn assignment_rule_id(mut self, id: impl Into<String>) -> Self {
        self.assignment_rule_id = Some(id.into());
        self
    }

    /// The input's column delimiter (default comma); records are serialised with it too.
    pub fn column_delimiter(mut self, delimiter: ColumnDelimiter) -> Self {
        self.column_delimiter = delimiter;
        self
    }

    /// The input's line ending (default LF); records are serialised with it too.
    pub fn line_ending(mut self, line_ending: LineEnding) -> Self {
        self.line_ending = line_ending;
        self
    }

    /// Reads the input from a CSV file whose first row names the fields.
    pub fn csv_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.input = Some(Input::File(path.into()));
        self
    }

    /// Reads the input from a CSV stream whose first row names the fields.
    pub fn csv_reader(mut self, reader: impl AsyncRead + Send + Unpin + 'static) -> Self {
        self.input = Some(Input::Reader(Box::new(reader)));
        self
    }

    /// Serialises `records` as the input, with a header row of the first record's field names (use
    /// `#[serde(rename = "Name")]` for API names). Records are serialised as the upload proceeds.
    pub fn records<I, T>(mut self, records: I) -> Self
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
        T: Serialize + 'static,
    {
        self.input = Some(Input::Records(input::record_encoder(records)));
        self
    }

    /// The most bytes one job's CSV may hold, header included (default and maximum
    /// [`MAX_JOB_BYTES`], 100 MiB). Larger inputs are split into several jobs at record boundaries.
    pub fn max_job_bytes(mut self, bytes: usize) -> Self {
        self.max_job_bytes = bytes;
        self
    }

    /// Jobs processed at once (default 4, at least 1). Each in-flight job holds one spooled chunk on
    /// disk, never in memory.
    pub fn concurrency(mut self, jobs: usize) -> Self {
        self.concurrency = jobs.max(1);
        self
    }

    /// When a job fails, abort the jobs still running and start no more (default false: every job
    /// runs, and the first failure is reported at the end).
    pub fn abort_remaining_on_failure(mut self, abort: bool) -> Self {
        self.abort_remaining = abort;
        self
    }

    /// How often each job's status is asked for (default [`BackoffPolicy::default`]); the same name
    /// as every family's wait option ([`WaitOptions`](crate::WaitOptions)).
    pub fn backoff(mut self, policy: BackoffPolicy) -> Self {
        self.backoff = policy;
        self
    }

    /// The longest wait for one job to finish after it is closed (default one hour); a job that
    /// takes longer is aborted and the ingest fails with [`Error::Timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.job_timeout = timeout;
        self
    }

    /// Where chunks wait for their upload (default the system's temporary folder).
    pub fn spool_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spool_dir = Some(dir.into());
        self
    }

    /// Stops the ingest, with [`Error::Cancelled`], when `token` is cancelled: jobs still running are
    /// aborted first.
    pub fn cancel_on(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }

    /// Starts the ingest (on the current Tokio runtime); await the handle for its
    /// [`IngestOutcome`]. The input's header is checked against the operation before any request is
    /// sent.
    pub fn run(self) -> IngestHandle {
        let cancel = self.cancel.child_token();
        let (progress, watcher) = watch::channel(IngestProgress::default());
        IngestHandle::spawn(cancel.clone(), watcher, self.execute(cancel, progress))
    }

    async fn execute(
        self,
        cancel: CancellationToken,
        progress: watch::Sender<IngestProgress>,
    ) -> Result<IngestOutcome> {
        let (request, delimiter) = self.request()?;
        if self.max_job_bytes > MAX_JOB_BYTES {
            return Err(Error::invalid_input(format!(
                "max_job_bytes {} is above the {MAX_JOB_BYTES}-byte limit of a job",
                self.max_job_bytes
            )));
        }
        let input = self
            .input
            .ok_or_else(|| {
                Error::invalid_input("no input given: use csv_file, csv_reader or records")
            })?
            .open(delimiter, &self.line_ending)
            .await?;
        let spool_dir = self.spool_dir.unwrap_or_else(std::env::temp_dir);
        let splitter = split::Splitter::start(input, self.max_job_bytes, spool_dir).await?;
        let columns = header::columns(splitter.header(), delimiter)?;
        header::check(&request.operation, self.external_id.as_deref(), &columns)?;
        let plan = run::Plan {
            sf: self.sf,
            request,
            concurrency: self.concurrency,
            abort_remaining: self.abort_remaining,
            backoff: self.backoff,
            job_timeout: self.job_timeout,
        };
        run::run(plan, splitter, cancel, progress).await
    }

    /// The job creation request shared by every job, and the delimiter's byte.
    fn request(&self) -> Result<(CreateIngestJobRequest, u8)> {
        if self.object.trim().is_empty() {
            return Err(Error::invalid_input("no object given"));
        }
        let operation = self.operation.clone().ok_or_else(|| {
            Error::invalid_input(
                "no operation given: use insert, update, upsert, delete or hard_delete",
            )
        })?;
        if self
            .external_id
            .as_deref()
            .is_some_and(|k| k.trim().is_empty())
        {
            return Err(Error::invalid_input(
                "the upsert's external id field is empty",
            ));
        }
        let delimiter = self.column_delimiter.as_byte().ok_or_else(|| {
            Error::invalid_input(format!(
                "unknown column delimiter {}",
                self.column_delimiter
            ))
        })?;
        if self.line_ending.as_bytes().is_none() {
            return Err(Error::invalid_input(format!(
                "unknown line ending {}",
                self.line_ending
            )));
        }
        let request = CreateIngestJobRequest {
            assignment_rule_id: self.assignment_rule_id.clone(),
            column_delimiter: Some(self.column_delimiter.clone()),
            content_type: Some(ContentType::Csv),
            external_id_field_name: self.external_id.clone(),
            line_ending: Some(self.line_ending.clone()),
            object: self.object.clone(),
            operation,
        };
        Ok((request, delimiter))
    }
}

/// How far an ingest has got.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IngestProgress {
    /// Jobs started so far.
    pub jobs_started: u64,
    /// Records handed to those jobs.
    pub records_uploaded: u64,
    /// Every job that has finished, in the order they finished. Kept after a failed ingest, so that
    /// the caller still learns what each job did.
    pub finished: Vec<JobSummary>,
}

/// An ingest under way. Await it for the [`IngestOutcome`]; [`cancel`](crate::Handle::cancel) or
/// dropping it aborts the jobs still running.
pub type IngestHandle = crate::Handle<IngestOutcome, IngestProgress>;
