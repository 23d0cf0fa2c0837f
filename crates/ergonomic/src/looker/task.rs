//! One query task: start it, wait for it by asking for its results, read them, or kill it.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use haul_client::looker_query_tasks::{ByteStream, Client, types};
use haul_types::{LookerResultFormat, QueryTaskStatus};
use serde::de::DeserializeOwned;

use super::results::{Body, TaskResults, failure_message};
use super::status::{TaskProgress, describe};
use super::typed::ParquetResults;
use super::{Looker, QueryTaskInfo, api_error};
use crate::download::Compression;
use crate::error::{Error, Result};
use crate::poll::{BackoffPolicy, Phase, Pollable, Poller, WaitOptions};
use crate::retry::{self, Replay};

impl Looker {
    /// Starts describing a task that runs the stored query `query_id` (default format `json`).
    pub fn run_query(&self, query_id: impl Into<String>) -> RunQuery {
        RunQuery {
            looker: self.clone(),
            query_id: query_id.into(),
            task: TaskOptions::default(),
            wait: WaitOptions::default(),
        }
    }

    /// A handle on a task started elsewhere, rendering its results in `format`. Fails, before any
    /// request, on an id that is not one: 1 to 128 ASCII letters, digits, `-` and `_`.
    pub fn query_task(
        &self,
        task_id: impl Into<String>,
        format: LookerResultFormat,
    ) -> Result<QueryTask> {
        Ok(QueryTask {
            looker: self.clone(),
            id: checked_task_id(task_id.into())?,
            format,
            wait: WaitOptions::default(),
        })
    }
}

/// A query task id fit to be put in a URL path or a comma-separated list: 1 to 128 ASCII letters,
/// digits, `-` and `_` (Looker's are 32 hexadecimal digits). Anything else, such as `../x`, could
/// address another resource, so it is refused, whether a caller or a server sent it.
pub(crate) fn checked_task_id(id: String) -> Result<String> {
    let fits = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if fits {
        return Ok(id);
    }
    let shown: String = id.chars().take(40).collect();
    Err(Error::invalid_input(format!(
        "{shown:?} is not a Looker query task id (ASCII letters, digits, - and _)"
    )))
}

/// How a task is started: shared by [`RunQuery`] and [`RunQueries`](super::RunQueries).
#[derive(Debug, Clone)]
pub(crate) struct TaskOptions {
    pub(crate) format: LookerResultFormat,
    pub(crate) limit: Option<i64>,
    pub(crate) cache: Option<bool>,
}

impl Default for TaskOptions {
    fn default() -> Self {
        Self {
            format: LookerResultFormat::Json,
            limit: None,
            cache: None,
        }
    }
}

impl TaskOptions {
    /// `POST /query_tasks`; returns the new task's id. A transient failure, even one that may have
    /// reached Looker, is answered by creating the task again: a duplicate only runs the same
    /// read-only query twice.
    pub(crate) async fn create(&self, looker: &Looker, query_id: &str) -> Result<String> {
        let body = types::WriteCreateQueryTask {
            query_id: Some(query_id.to_owned()),
            result_format: self.format.clone(),
            source: Some("haul".into()),
            deferred: None,
            look_id: None,
            dashboard_id: None,
        };
        let client = looker.client(true);
        let task = retry::run(
            looker.retry_policy(),
            Replay::Duplicable,
            "creating the Looker query task",
            || async {
                let mut request = client.create_query_task().body(body.clone());
                if let Some(limit) = self.limit {
                    request = request.limit(limit);
                }
                if let Some(cache) = self.cache {
                    request = request.cache(cache);
                }
                request
                    .send()
                    .await
                    .map_err(|e| api_error("create_query_task", e))
            },
        )
        .await?
        .into_inner();
        let id = checked_task_id(task.id).map_err(|e| {
            Error::invalid_response(
                "create_query_task",
                format!("Looker answered a bad id: {e}"),
            )
        })?;
        tracing::debug!(task = %id, query = query_id, format = %self.format, "started Looker query task");
        Ok(id)
    }
}

/// Describes a task before it is started. Finish with [`submit`](Self::submit) for a handle, or
/// with [`bytes`](Self::bytes), [`text`](Self::text), [`rows`](Self::rows),
/// [`parquet`](Self::parquet) or [`stream`](Self::stream) to start it, wait, and read the results in one call.
#[derive(Debug, Clone)]
#[must_use]
pub struct RunQuery {
    looker: Looker,
    query_id: String,
    task: TaskOptions,
    wait: WaitOptions,
}

impl RunQuery {
    /// The format to render the results in (default `json`).
    pub fn format(mut self, format: LookerResultFormat) -> Self {
        self.task.format = format;
        self
    }

    /// Overrides the query's row limit (`-1` for none).
    pub fn limit(mut self, rows: i64) -> Self {
        self.task.limit = Some(rows);
        self
    }

    /// Whether Looker may answer from its cache (Looker's default: yes).
    pub fn cache(mut self, cache: bool) -> Self {
        self.task.cache = Some(cache);
        self
    }

    /// Kills the task (Looker's abort) when a wait for it is dropped, cancelled or times out before
    /// it finished (default false).
    pub fn abort_on_drop(mut self, abort: bool) -> Self {
        self.wait.abort_on_drop = abort;
        self
    }

    /// Waits as `options` say: their backoff, timeout and abort on drop.
    pub fn wait_options(mut self, options: WaitOptions) -> Self {
        self.wait = options;
        self
    }

    /// Waits between rounds according to `policy` (default [`BackoffPolicy::default`]).
    pub fn backoff(mut self, policy: BackoffPolicy) -> Self {
        self.wait.backoff = policy;
        self
    }

    /// Gives up waiting after `timeout` (default one hour).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.wait.timeout = timeout;
        self
    }

    /// Starts the task. A transient failure, even one that may have reached Looker, is answered by
    /// creating it again: a duplicate only runs the same read-only query twice.
    pub async fn submit(self) -> Result<QueryTask> {
        let id = self.task.create(&self.looker, &self.query_id).await?;
        Ok(QueryTask {
            looker: self.looker,
            id,
            format: self.task.format,
            wait: self.wait,
        })
    }

    /// Starts the task, waits, and returns the results as Looker rendered them.
    pub async fn bytes(self) -> Result<Bytes> {
        self.submit().await?.bytes().await
    }

    /// Starts the task, waits, and returns the results as text.
    pub async fn text(self) -> Result<String> {
        self.submit().await?.text().await
    }

    /// Starts the task, waits, and returns its rows (JSON formats; see [`QueryResults::rows`]).
    ///
    /// [`QueryResults::rows`]: super::QueryResults::rows
    pub async fn rows<T: DeserializeOwned>(self) -> Result<Vec<T>> {
        self.submit().await?.rows().await
    }

    /// Starts the task, waits, and returns the results as a stream of chunks.
    pub async fn stream(self) -> Result<BoxStream<'static, Result<Bytes>>> {
        self.submit().await?.stream().await
    }

    /// Starts the task in a format that carries field types (`json_detail`, unless `json_bi` was
    /// chosen), waits, and returns the results as one typed Parquet file (see
    /// [`QueryResults::to_parquet`]).
    ///
    /// [`QueryResults::to_parquet`]: super::QueryResults::to_parquet
    pub async fn parquet(mut self, compression: Compression) -> Result<ParquetResults> {
        if self.task.format != LookerResultFormat::JsonBi {
            self.task.format = LookerResultFormat::JsonDetail;
        }
        let task = self.submit().await?;
        task.wait().await?.read().await?.to_parquet(compression)
    }
}

/// A query task on the server. Cheap to clone.
#[derive(Debug, Clone)]
pub struct QueryTask {
    looker: Looker,
    id: String,
    format: LookerResultFormat,
    wait: WaitOptions,
}

impl QueryTask {
    /// The task's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The format its results are rendered in.
    pub fn format(&self) -> &LookerResultFormat {
        &self.format
    }

    /// The task as Looker describes it now (`GET /query_tasks/{id}`).
    pub async fn info(&self) -> Result<QueryTaskInfo> {
        Ok(self
            .looker
            .client(false)
            .query_task()
            .query_task_id(&self.id)
            .send()
            .await
            .map_err(|e| api_error("query_task", e))?
            .into_inner())
    }

    /// Kills the task (`DELETE /running_queries/{id}`). Killing a task that already finished does
    /// nothing: Looker's 404 is not an error here.
    pub async fn kill(&self) -> Result<()> {
        kill(&self.looker.client(false), &self.id).await
    }

    /// Waits until the task has finished. `error`, `killed` and `expired` become
    /// [`Error::JobFailed`] with that state and Looker's message.
    pub fn wait(&self) -> Poller<TaskProgress, TaskResults> {
        let ready = Arc::new(Mutex::new(None));
        let waiter = Waiter {
            poll: self.looker.client(true),
            control: self.looker.client(false),
            id: self.id.clone(),
            format: self.format.clone(),
            ready: ready.clone(),
        };
        let (id, format) = (self.id.clone(), self.format.clone());
        let poller = Poller::new(waiter, move |_| {
            let body = take(&ready).expect("a complete task's results arrive with its status");
            TaskResults::new(id, format, body)
        });
        poller.wait_options(self.wait)
    }

    /// Waits, then returns the results as Looker rendered them.
    pub async fn bytes(&self) -> Result<Bytes> {
        Ok(self.wait().await?.read().await?.into_bytes())
    }

    /// Waits, then returns the results as text.
    pub async fn text(&self) -> Result<String> {
        Ok(self.wait().await?.read().await?.text()?.to_owned())
    }

    /// Waits, then returns the rows (JSON formats; see [`QueryResults::rows`]).
    ///
    /// [`QueryResults::rows`]: super::QueryResults::rows
    pub async fn rows<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        self.wait().await?.read().await?.rows()
    }

    /// Waits, then returns the results as a stream of chunks, read as they arrive.
    pub async fn stream(&self) -> Result<BoxStream<'static, Result<Bytes>>> {
        Ok(self.wait().await?.into_stream().boxed())
    }
}

/// `DELETE /running_queries/{id}`, tolerating the 404 of a task that already finished.
pub(crate) async fn kill(client: &Client, id: &str) -> Result<()> {
    match client.kill_query().query_task_id(id).send().await {
        Ok(_) => {
            tracing::info!(task = id, "killed Looker query task");
            Ok(())
        }
        Err(e) => match api_error("kill_query", e) {
            error if error.is_not_found() => Ok(()),
            error => Err(error),
        },
    }
}

fn take(slot: &Mutex<Option<Body>>) -> Option<Body> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}

/// One task seen through its results endpoint, for the [`Poller`].
struct Waiter {
    /// Sends each round's request once: the poll loop is the retry.
    poll: Client,
    /// Kills with retries.
    control: Client,
    id: String,
    format: LookerResultFormat,
    /// The results, handed from the round that found them to the poller's output.
    ready: Arc<Mutex<Option<Body>>>,
}

impl Waiter {
    /// One round: 200 holds the results, 202 and the legacy 204 mean not finished yet.
    async fn round(&self) -> Result<TaskProgress> {
        let answer = self
            .poll
            .query_task_results()
            .query_task_id(&self.id)
            .send()
            .await;
        match answer {
            Ok(response) if response.status().as_u16() == 200 => {
                self.arrived(response.into_inner()).await
            }
            Ok(_) => Ok(TaskProgress::new(QueryTaskStatus::Running, None)),
            Err(error) => {
                let error = api_error("query_task_results", error);
                match error.status() {
                    // A SQL error of a non-json_detail task.
                    Some(400) => Ok(TaskProgress::new(
                        QueryTaskStatus::Error,
                        error.vendor_message().map(str::to_owned),
                    )),
                    Some(404) => self.after_not_found(error).await,
                    _ => Err(error),
                }
            }
        }
    }

    /// Keeps the results; `json_detail` is read first, since its SQL errors come with a 200.
    async fn arrived(&self, stream: ByteStream) -> Result<TaskProgress> {
        let body = if self.format == LookerResultFormat::JsonDetail {
            let results = TaskResults::new(
                self.id.clone(),
                self.format.clone(),
                Body::Streaming(stream),
            );
            let bytes = results.read().await?.into_bytes();
            let failure = serde_json::from_slice(&bytes)
                .ok()
                .and_then(|json| failure_message(&json));
            if let Some(message) = failure {
                return Ok(TaskProgress::new(QueryTaskStatus::Error, Some(message)));
            }
            Body::Buffered(bytes)
        } else {
            Body::Streaming(stream)
        };
        *self.ready.lock().unwrap_or_else(PoisonError::into_inner) = Some(body);
        Ok(TaskProgress::new(QueryTaskStatus::Complete, None))
    }

    /// A 404 means killed, expired, or no such task: the task's status says which.
    async fn after_not_found(&self, not_found: Error) -> Result<TaskProgress> {
        let info = match self.poll.query_task().query_task_id(&self.id).send().await {
            Ok(info) => info.into_inner(),
            Err(e) => {
                let error = api_error("query_task", e);
                return Err(if error.is_not_found() {
                    not_found
                } else {
                    error
                });
            }
        };
        let status = match info.status {
            // The task finished, yet its results are gone: they expired in between.
            Some(QueryTaskStatus::Complete) | None => QueryTaskStatus::Expired,
            Some(status) => status,
        };
        Ok(TaskProgress::new(status, None))
    }
}

impl Pollable for Waiter {
    type Status = TaskProgress;

    fn describe(&self) -> String {
        describe(&self.id)
    }

    fn fetch(&self) -> BoxFuture<'_, Result<TaskProgress>> {
        Box::pin(self.round())
    }

    fn phase(progress: &TaskProgress) -> Phase {
        progress.phase()
    }

    fn state_name(progress: &TaskProgress) -> String {
        progress.status.to_string()
    }

    fn abort(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(kill(&self.control, &self.id))
    }
}
