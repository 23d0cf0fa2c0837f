//! Bulk API 2.0 query jobs: submit, wait, then page through or download the results.
//!
//! ```no_run
//! # async fn example(sf: haul::Salesforce) -> haul::Result<()> {
//! use std::time::Duration;
//!
//! let job = sf.bulk_query("SELECT Id, Name FROM Account").query_all().submit().await?;
//! let done = job.wait().timeout(Duration::from_secs(3600)).abort_on_drop(true).await?;
//! let report = done.download().concurrency(8).to_file("accounts.csv").await?;
//! assert_eq!(report.records, done.info().number_records_processed.unwrap_or_default() as u64);
//! # Ok(())
//! # }
//! ```

mod pages;
mod records;
mod results;

use futures::future::BoxFuture;
use futures::{Stream, StreamExt};
use haul_client::salesforce_bulk_query::{Client, types};
use haul_types::{
    ApiVersion, ColumnDelimiter, LineEnding, QueryJobState, QueryOperation, SalesforceId,
};

pub use crate::download::{
    Checkpoint, DownloadBuilder, DownloadHandle, DownloadProgress, DownloadReport,
};
pub use pages::Page;
pub use types::QueryJobInfo;

use super::Salesforce;
use crate::error::{Error, Result, from_client};
use crate::poll::{Phase, Pollable, Poller};

impl Salesforce {
    /// Starts describing a query job for `soql`.
    pub fn bulk_query(&self, soql: impl Into<String>) -> QueryJobBuilder {
        QueryJobBuilder {
            sf: self.clone(),
            soql: soql.into(),
            operation: QueryOperation::Query,
            column_delimiter: ColumnDelimiter::Comma,
            line_ending: LineEnding::Lf,
        }
    }

    /// A handle on an existing query job, created with this client's API version.
    pub fn query_job(&self, id: &str) -> Result<QueryJob> {
        self.query_job_with_version(id, self.api_version())
    }

    /// A handle on an existing query job created with `version`: results must be read with the version
    /// that created the job.
    pub fn query_job_with_version(&self, id: &str, version: ApiVersion) -> Result<QueryJob> {
        let id = id
            .parse()
            .map_err(|e| Error::invalid_input(format!("{e}")))?;
        Ok(QueryJob {
            sf: self.clone(),
            id,
            version,
        })
    }

    /// Every query job of the org, page by page as the stream is read (nothing is sent until then).
    pub fn query_jobs(&self) -> impl Stream<Item = Result<QueryJobInfo>> + Send + Unpin + 'static {
        pages::list_jobs(self.clone()).boxed()
    }
}

/// Describes a query job before it is created.
#[derive(Debug, Clone)]
#[must_use]
pub struct QueryJobBuilder {
    sf: Salesforce,
    soql: String,
    operation: QueryOperation,
    column_delimiter: ColumnDelimiter,
    line_ending: LineEnding,
}

impl QueryJobBuilder {
    /// Includes records deleted by merge or delete, and archived Task and Event records (`queryAll`).
    pub fn query_all(mut self) -> Self {
        self.operation = QueryOperation::QueryAll;
        self
    }

    /// The results' column delimiter (default comma).
    pub fn column_delimiter(mut self, delimiter: ColumnDelimiter) -> Self {
        self.column_delimiter = delimiter;
        self
    }

    /// The results' line ending (default LF).
    pub fn line_ending(mut self, line_ending: LineEnding) -> Self {
        self.line_ending = line_ending;
        self
    }

    /// Creates the job. A transient failure, even one that may have reached the server, is answered
    /// by creating it again: a duplicate query job reads the same rows and changes no data.
    pub async fn submit(self) -> Result<QueryJob> {
        if self.soql.trim().is_empty() {
            return Err(Error::invalid_input("the SOQL query is empty"));
        }
        let version = self.sf.api_version();
        let body = types::CreateQueryJobRequest {
            operation: self.operation,
            query: self.soql,
            column_delimiter: Some(self.column_delimiter),
            line_ending: Some(self.line_ending),
            content_type: None,
        };
        let client = self.sf.generated(version, true, Client::new_with_client);
        let info = self
            .sf
            .create_job("creating the query job", || async {
                client
                    .create_query_job()
                    .sforce_call_options("client=haul")
                    .body(body.clone())
                    .send()
                    .await
                    .map_err(|e| from_client("create_query_job", e))
            })
            .await?
            .into_inner();
        tracing::info!(job = %info.id, object = info.object.as_deref().unwrap_or("?"), "created query job");
        Ok(QueryJob {
            sf: self.sf,
            id: info.id,
            version,
        })
    }

    /// The common case in one call: submit, wait (aborting the job if the wait is abandoned), and
    /// download the results to one CSV file, with its manifest beside it. A complete output
    /// already there is kept and the call fails; use
    /// [`download`](CompletedQueryJob::download)`().overwrite(true)` to replace it.
    pub async fn download_to(self, path: impl Into<std::path::PathBuf>) -> Result<DownloadReport> {
        let soql = self.soql.clone();
        let job = self.submit().await?;
        let done = job.wait().abort_on_drop(true).await?;
        done.download().query(soql).to_file(path).await
    }
}

/// A query job on the server.
#[derive(Debug, Clone)]
pub struct QueryJob {
    sf: Salesforce,
    id: SalesforceId,
    version: ApiVersion,
}

impl QueryJob {
    /// The job's id.
    pub fn id(&self) -> &SalesforceId {
        &self.id
    }

    /// The API version the job was created with (its results are read with the same).
    pub fn api_version(&self) -> ApiVersion {
        self.version
    }

    pub(crate) fn client(&self, single_shot: bool) -> Client {
        self.sf
            .generated(self.version, single_shot, Client::new_with_client)
    }

    pub(crate) fn salesforce(&self) -> &Salesforce {
        &self.sf
    }

    /// The job's current information.
    pub async fn info(&self) -> Result<QueryJobInfo> {
        fetch_info(&self.client(false), &self.id).await
    }

    /// Aborts the job (only possible while it is `UploadComplete` or `InProgress`).
    pub async fn abort(&self) -> Result<QueryJobInfo> {
        abort(&self.client(false), &self.id).await
    }

    /// Deletes the job and its results (only possible once it has finished).
    pub async fn delete(&self) -> Result<()> {
        self.client(false)
            .delete_query_job()
            .job_id(self.id.clone())
            .send()
            .await
            .map_err(|e| from_client("delete_query_job", e))?;
        Ok(())
    }

    /// Waits until the job has finished; `Failed` and `Aborted` become [`Error::JobFailed`].
    pub fn wait(&self) -> Poller<QueryJobInfo, CompletedQueryJob> {
        let job = self.clone();
        let status = Status {
            poll: self.client(true),
            control: self.client(false),
            id: self.id.clone(),
        };
        Poller::new(status, move |info| CompletedQueryJob { job, info })
    }
}

async fn fetch_info(client: &Client, id: &SalesforceId) -> Result<QueryJobInfo> {
    Ok(client
        .get_query_job()
        .job_id(id.clone())
        .send()
        .await
        .map_err(|e| from_client("get_query_job", e))?
        .into_inner())
}

async fn abort(client: &Client, id: &SalesforceId) -> Result<QueryJobInfo> {
    let body = types::AbortQueryJobRequest {
        state: types::AbortQueryJobRequestState::Aborted,
    };
    Ok(client
        .abort_query_job()
        .job_id(id.clone())
        .body(body)
        .send()
        .await
        .map_err(|e| from_client("abort_query_job", e))?
        .into_inner())
}

/// A job that finished successfully: its results can be read.
#[derive(Debug, Clone)]
pub struct CompletedQueryJob {
    job: QueryJob,
    info: QueryJobInfo,
}

impl CompletedQueryJob {
    /// The job.
    pub fn job(&self) -> &QueryJob {
        &self.job
    }

    /// The job's information when it finished.
    pub fn info(&self) -> &QueryJobInfo {
        &self.info
    }

    /// The number of rows the server says the results hold.
    pub fn expected_records(&self) -> Option<u64> {
        self.info
            .number_records_processed
            .and_then(|n| u64::try_from(n).ok())
    }

    /// The results page by page, following `Sforce-Locator` (lazy: nothing is sent until polled).
    /// Each page is held in memory whole; [`download`](Self::download) streams instead.
    pub fn pages(&self) -> impl Stream<Item = Result<Page>> + Send + Unpin + 'static {
        pages::result_pages(self.clone(), None).boxed()
    }

    /// The results page by page, at most `max_records` rows a page.
    pub fn pages_with_max_records(
        &self,
        max_records: u64,
    ) -> impl Stream<Item = Result<Page>> + Send + Unpin + 'static {
        pages::result_pages(self.clone(), Some(max_records)).boxed()
    }

    /// The rows deserialised into `T` by column name (lazy; one page in memory at a time).
    pub fn records<T>(&self) -> impl Stream<Item = Result<T>> + Send + Unpin + 'static
    where
        T: serde::de::DeserializeOwned + Send + 'static,
    {
        records::typed_records(self.clone()).boxed()
    }

    /// Configures a download of the results to a file or a folder.
    pub fn download(&self) -> DownloadBuilder {
        DownloadBuilder::new(self.results_source())
    }

    /// The results as the download engine's source, for a caller that wraps it (the extract
    /// filters rows already landed).
    pub(crate) fn results_source(&self) -> std::sync::Arc<dyn crate::download::source::Source> {
        std::sync::Arc::new(results::QueryResults { done: self.clone() })
    }
}

/// The query family's view of a job for the [`Poller`].
struct Status {
    /// Sends each status request once: the poll loop is the retry.
    poll: Client,
    /// Aborts with retries.
    control: Client,
    id: SalesforceId,
}

impl Pollable for Status {
    type Status = QueryJobInfo;

    fn describe(&self) -> String {
        format!("query job {}", self.id)
    }

    fn fetch(&self) -> BoxFuture<'_, Result<QueryJobInfo>> {
        Box::pin(fetch_info(&self.poll, &self.id))
    }

    fn phase(info: &QueryJobInfo) -> Phase {
        match &info.state {
            QueryJobState::JobComplete => Phase::Succeeded,
            QueryJobState::Failed | QueryJobState::Aborted => Phase::Failed {
                message: info.error_message.clone(),
            },
            // UploadComplete, InProgress, and states this version does not know yet: keep waiting,
            // the overall timeout still bounds the wait.
            _ => Phase::Pending,
        }
    }

    fn state_name(info: &QueryJobInfo) -> String {
        info.state.to_string()
    }

    fn abort(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move { abort(&self.control, &self.id).await.map(drop) })
    }
}

/// The query job's information as the server last gave it, when `error` is a wait for a query job
/// that ended `Failed` or `Aborted` ([`Error::JobFailed`]).
pub fn failed_job(error: &Error) -> Option<&QueryJobInfo> {
    error.failed_job()
}
