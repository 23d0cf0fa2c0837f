//! Many tasks at once: one `multi_results` request per round covers every task still pending.
//!
//! Looker's own SDKs poll each task on its own, then fetch each task's results: two requests a task
//! at the very least, and one per task per round while they run. Here a round is one request for up
//! to [`MAX_IDS_PER_REQUEST`] pending tasks, and its answer already carries the results of those that
//! finished; a finished task leaves the next round's list, so nothing is fetched twice.

use std::collections::HashSet;
use std::future::IntoFuture;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::future::{BoxFuture, join_all};
use futures::{Future, StreamExt};
use haul_client::looker_query_tasks::{Client, types};
use haul_types::LookerResultFormat;

use super::results::{QueryResults, TaskResults, body_from_data, failure_message};
use super::status::TaskProgress;
use super::task::{QueryTask, TaskOptions};
use super::{Looker, api_error};
use crate::error::{Error, Result};
use crate::poll::{BackoffPolicy, Phase, Pollable, Poller, WaitOptions};

/// Most task ids one `multi_results` request names; more pending tasks take more requests a round.
pub const MAX_IDS_PER_REQUEST: usize = 100;
/// Longest `query_task_ids` value, escaped, so that URLs stay well under common 8 KiB limits.
const MAX_IDS_CHARS: usize = 4000;
/// A comma travels escaped, as `%2C`.
const ESCAPED_COMMA: usize = 3;

impl Looker {
    /// Starts describing one task per stored query in `query_ids` (default format `json`), all to be
    /// waited for together. Await it for the results in the order of `query_ids`.
    pub fn run_queries<I, S>(&self, query_ids: I) -> RunQueries
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        RunQueries {
            looker: self.clone(),
            query_ids: query_ids.into_iter().map(Into::into).collect(),
            task: TaskOptions::default(),
            wait: WaitOptions::default(),
            concurrency: 8,
        }
    }

    /// Waits for all of `tasks` through `multi_results`, one request per round for all those still
    /// pending. The output holds each task's results or failure, in the order of `tasks`.
    pub fn wait_all(
        &self,
        tasks: impl IntoIterator<Item = QueryTask>,
    ) -> Poller<BatchProgress, Vec<Result<QueryResults>>> {
        let entries = tasks
            .into_iter()
            .map(|task| Entry::pending(task.id().to_owned(), task.format().clone()))
            .collect();
        Batch::new(self, entries).into_poller()
    }
}

/// Describes many tasks before they are started; await it (or call [`wait_all`](Self::wait_all)) to
/// start them and wait for all.
#[derive(Debug, Clone)]
#[must_use]
pub struct RunQueries {
    looker: Looker,
    query_ids: Vec<String>,
    task: TaskOptions,
    wait: WaitOptions,
    concurrency: usize,
}

impl RunQueries {
    /// The format to render every task's results in (default `json`).
    pub fn format(mut self, format: LookerResultFormat) -> Self {
        self.task.format = format;
        self
    }

    /// Overrides every query's row limit (`-1` for none).
    pub fn limit(mut self, rows: i64) -> Self {
        self.task.limit = Some(rows);
        self
    }

    /// Whether Looker may answer from its cache (Looker's default: yes).
    pub fn cache(mut self, cache: bool) -> Self {
        self.task.cache = Some(cache);
        self
    }

    /// Tasks started at once (default 8): Looker has no call that starts many.
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.concurrency = requests.max(1);
        self
    }

    /// Kills the tasks still running (Looker's abort) when the wait is dropped, cancelled or times
    /// out (default false). It covers the wait, which begins once every task has been started.
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

    /// Gives up waiting after `timeout` in all (default one hour).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.wait.timeout = timeout;
        self
    }

    /// Starts the tasks, `concurrency` at a time; each start succeeds or fails on its own, in the
    /// order of the query ids.
    pub async fn submit(self) -> Vec<Result<QueryTask>> {
        let Self {
            looker,
            query_ids,
            task,
            concurrency,
            ..
        } = self;
        let starts = query_ids.into_iter().map(|query_id| {
            let (looker, task) = (looker.clone(), task.clone());
            async move {
                let id = task.create(&looker, &query_id).await?;
                looker.query_task(id, task.format)
            }
        });
        futures::stream::iter(starts)
            .buffered(concurrency)
            .collect()
            .await
    }

    /// Starts the tasks and waits for all of them. The outer error ends the whole wait (timeout,
    /// cancellation, authentication); each task's own failure, to start or to run, is its entry's.
    pub async fn wait_all(self) -> Result<Vec<Result<QueryResults>>> {
        let looker = self.looker.clone();
        let format = self.task.format.clone();
        let wait = self.wait;
        let entries = self
            .submit()
            .await
            .into_iter()
            .map(|started| match started {
                Ok(task) => Entry::pending(task.id().to_owned(), format.clone()),
                Err(error) => Entry::failed(format.clone(), error),
            })
            .collect();
        Batch::new(&looker, entries)
            .into_poller()
            .wait_options(wait)
            .await
    }
}

impl IntoFuture for RunQueries {
    type Output = Result<Vec<Result<QueryResults>>>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.wait_all())
    }
}

/// How far a batch has come, after each round.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchProgress {
    /// Tasks in the batch.
    pub total: usize,
    /// Tasks still queued or running.
    pub pending: usize,
    /// Tasks whose results arrived.
    pub succeeded: usize,
    /// Tasks that failed (to start, or to run).
    pub failed: usize,
    /// Rounds so far.
    pub rounds: u32,
    /// `multi_results` requests so far: one a round per [`MAX_IDS_PER_REQUEST`] pending tasks.
    pub requests: u64,
}

/// One task of a batch and, once it is known, its outcome.
struct Entry {
    id: Option<String>,
    format: LookerResultFormat,
    outcome: Option<Result<QueryResults>>,
}

impl Entry {
    fn pending(id: String, format: LookerResultFormat) -> Self {
        Self {
            id: Some(id),
            format,
            outcome: None,
        }
    }

    fn failed(format: LookerResultFormat, error: Error) -> Self {
        Self {
            id: None,
            format,
            outcome: Some(Err(error)),
        }
    }

    fn pending_id(&self) -> Option<&str> {
        self.outcome
            .is_none()
            .then_some(self.id.as_deref())
            .flatten()
    }
}

/// What a round learnt of one task.
enum Settled {
    Pending,
    Done(Result<QueryResults>),
    /// Complete, but the answer carried no data: read the results endpoint.
    Fetch,
}

/// A batch seen through `multi_results`, for the [`Poller`].
struct Batch {
    /// Sends each round's requests once: the poll loop is the retry.
    poll: Client,
    /// Kills with retries.
    control: Client,
    entries: Arc<Mutex<Vec<Entry>>>,
    rounds: AtomicU32,
    requests: AtomicU64,
}

impl Batch {
    fn new(looker: &Looker, entries: Vec<Entry>) -> Self {
        Self {
            poll: looker.client(true),
            control: looker.client(false),
            entries: Arc::new(Mutex::new(entries)),
            rounds: AtomicU32::new(0),
            requests: AtomicU64::new(0),
        }
    }

    fn into_poller(self) -> Poller<BatchProgress, Vec<Result<QueryResults>>> {
        let entries = self.entries.clone();
        Poller::new(self, move |_| {
            lock(&entries)
                .drain(..)
                .map(|e| {
                    e.outcome
                        .expect("a batch ends when every task has an outcome")
                })
                .collect()
        })
    }

    fn pending_ids(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        lock(&self.entries)
            .iter()
            .filter_map(|e| e.pending_id())
            .filter(|id| seen.insert(*id))
            .map(str::to_owned)
            .collect()
    }

    /// One round: one request per [`MAX_IDS_PER_REQUEST`] pending ids, sent together.
    async fn round(&self) -> Result<BatchProgress> {
        let rounds = self.rounds.fetch_add(1, Ordering::Relaxed) + 1;
        let lists = id_lists(&self.pending_ids());
        self.requests
            .fetch_add(lists.len() as u64, Ordering::Relaxed);
        let requests = lists.into_iter().map(|ids| {
            self.poll
                .query_task_multi_results()
                .query_task_ids(ids)
                .send()
        });
        let mut failure = None;
        for answer in join_all(requests).await {
            match answer {
                Ok(answer) => self.record(answer.into_inner()).await,
                // The other requests' news is kept; the failed ones' tasks wait for the next round.
                Err(error) => {
                    failure.get_or_insert(api_error("query_task_multi_results", error));
                }
            }
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(self.progress(rounds)),
        }
    }

    async fn record(&self, answer: types::QueryTaskMultiResults) {
        for (id, result) in answer.0 {
            let Some(format) = self.format_of(&id) else {
                continue;
            };
            let settled = match settle(&id, &format, result) {
                Settled::Fetch => self.fetch_results(&id, format).await,
                settled => settled,
            };
            if let Settled::Done(outcome) = settled {
                self.finish(&id, outcome);
            }
        }
    }

    /// The format of the pending task `id`, or `None` when no pending task has that id.
    fn format_of(&self, id: &str) -> Option<LookerResultFormat> {
        lock(&self.entries)
            .iter()
            .find(|e| e.pending_id() == Some(id))
            .map(|e| e.format.clone())
    }

    /// Gives every pending entry of task `id` its outcome: a task named twice is waited for once,
    /// and a failure is told in full at its first place only (errors do not clone).
    fn finish(&self, id: &str, outcome: Result<QueryResults>) {
        let mut entries = lock(&self.entries);
        let mut slots = entries.iter_mut().filter(|e| e.pending_id() == Some(id));
        let Some(first) = slots.next() else { return };
        for copy in slots {
            copy.outcome = Some(match &outcome {
                Ok(results) => Ok(results.clone()),
                Err(_) => Err(Error::invalid_input(format!(
                    "task {id} was named more than once; its failure is reported at its first place"
                ))),
            });
        }
        first.outcome = Some(outcome);
    }

    /// Reads one complete task's results from the results endpoint, for an answer without data.
    async fn fetch_results(&self, id: &str, format: LookerResultFormat) -> Settled {
        let answer = self
            .poll
            .query_task_results()
            .query_task_id(id)
            .send()
            .await;
        match answer {
            Ok(response) if response.status().as_u16() == 200 => {
                let body = super::results::Body::Streaming(response.into_inner());
                Settled::Done(TaskResults::new(id.to_owned(), format, body).read().await)
            }
            Ok(_) => Settled::Pending,
            Err(error) => match api_error("query_task_results", error) {
                error if error.is_retryable() => Settled::Pending,
                error => Settled::Done(Err(error)),
            },
        }
    }

    fn progress(&self, rounds: u32) -> BatchProgress {
        let entries = lock(&self.entries);
        let count = |f: fn(&Entry) -> bool| entries.iter().filter(|e| f(e)).count();
        BatchProgress {
            total: entries.len(),
            pending: count(|e| e.outcome.is_none()),
            succeeded: count(|e| matches!(e.outcome, Some(Ok(_)))),
            failed: count(|e| matches!(e.outcome, Some(Err(_)))),
            rounds,
            requests: self.requests.load(Ordering::Relaxed),
        }
    }

    /// Kills every task still pending, all at once.
    async fn kill_pending(&self) -> Result<()> {
        let ids = self.pending_ids();
        let kills = ids.iter().map(|id| super::task::kill(&self.control, id));
        join_all(kills).await.into_iter().collect()
    }
}

impl Pollable for Batch {
    type Status = BatchProgress;

    fn describe(&self) -> String {
        format!("{} Looker query tasks", lock(&self.entries).len())
    }

    fn fetch(&self) -> BoxFuture<'_, Result<BatchProgress>> {
        Box::pin(self.round())
    }

    fn phase(progress: &BatchProgress) -> Phase {
        // Failures are each task's own; the batch is done once nothing is pending.
        if progress.pending == 0 {
            Phase::Succeeded
        } else {
            Phase::Pending
        }
    }

    fn state_name(progress: &BatchProgress) -> String {
        format!("{} of {} pending", progress.pending, progress.total)
    }

    fn abort(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.kill_pending())
    }
}

/// Maps one task's entry of a `multi_results` answer through the family's single phase mapping.
fn settle(id: &str, format: &LookerResultFormat, result: types::QueryTaskMultiResult) -> Settled {
    let types::QueryTaskMultiResult { status, data, .. } = result;
    let message = match (&status, &data) {
        (haul_types::QueryTaskStatus::Error, Some(data)) => failure_message(data),
        _ => None,
    };
    // json_detail reports a SQL error as a complete task whose data lists `errors`.
    let progress = match (&status, &data) {
        (haul_types::QueryTaskStatus::Complete, Some(data))
            if *format == LookerResultFormat::JsonDetail =>
        {
            match failure_message(data) {
                Some(message) => {
                    TaskProgress::new(haul_types::QueryTaskStatus::Error, Some(message))
                }
                None => TaskProgress::new(status, None),
            }
        }
        _ => TaskProgress::new(status, message),
    };
    if let Some(error) = progress.failure(id) {
        return Settled::Done(Err(error));
    }
    match (progress.phase(), data) {
        (Phase::Succeeded, Some(data)) => Settled::Done(Ok(QueryResults::new(
            id.to_owned(),
            format.clone(),
            body_from_data(data),
        ))),
        (Phase::Succeeded, None) => Settled::Fetch,
        _ => Settled::Pending,
    }
}

/// Comma-joined id lists, each naming at most [`MAX_IDS_PER_REQUEST`] ids in at most
/// [`MAX_IDS_CHARS`] escaped characters.
fn id_lists(ids: &[String]) -> Vec<String> {
    let mut lists = Vec::new();
    let (mut current, mut count, mut escaped) = (String::new(), 0, 0);
    for id in ids {
        let full =
            count == MAX_IDS_PER_REQUEST || escaped + ESCAPED_COMMA + id.len() > MAX_IDS_CHARS;
        if count > 0 && full {
            lists.push(std::mem::take(&mut current));
            (count, escaped) = (0, 0);
        }
        if count > 0 {
            current.push(',');
            escaped += ESCAPED_COMMA;
        }
        current.push_str(id);
        escaped += id.len();
        count += 1;
    }
    if count > 0 {
        lists.push(current);
    }
    lists
}

fn lock(entries: &Mutex<Vec<Entry>>) -> MutexGuard<'_, Vec<Entry>> {
    entries.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn ids_are_batched_by_count_and_by_length() {
        let short: Vec<String> = (0..250).map(|i| format!("{i:032x}")).collect();
        let lists = id_lists(&short);
        let sizes: Vec<usize> = lists.iter().map(|l| l.split(',').count()).collect();
        assert_eq!(sizes, [100, 100, 50]);
        assert_eq!(lists.join(","), short.join(","), "every id once, in order");
        let long: Vec<String> = (0..10).map(|i| format!("{i}{}", "x".repeat(999))).collect();
        let sizes: Vec<usize> = id_lists(&long)
            .iter()
            .map(|l| l.split(',').count())
            .collect();
        assert_eq!(
            sizes,
            [3, 3, 3, 1],
            "at most {MAX_IDS_CHARS} escaped characters a request"
        );
        assert!(id_lists(&[]).is_empty());
    }

    fn entry(status: &str, data: serde_json::Value) -> types::QueryTaskMultiResult {
        serde_json::from_value(json!({"status": status, "data": data})).unwrap()
    }

    #[test]
    fn each_answer_settles_its_task() {
        let csv = LookerResultFormat::Csv;
        let detail = LookerResultFormat::JsonDetail;
        let pending: types::QueryTaskMultiResult =
            serde_json::from_value(json!({"status": "running"})).unwrap();
        assert!(matches!(settle("t", &csv, pending), Settled::Pending));
        match settle("t", &csv, entry("complete", json!("A\n1\n"))) {
            Settled::Done(Ok(results)) => assert_eq!(results.text().unwrap(), "A\n1\n"),
            _ => panic!("complete csv should carry its text"),
        }
        let sql_error = json!({"data": [], "errors": [{"message": "no such column"}]});
        match settle("t", &detail, entry("complete", sql_error)) {
            Settled::Done(Err(Error::JobFailed { state, message, .. })) => {
                assert_eq!(state, "error");
                assert_eq!(message.as_deref(), Some("no such column"));
            }
            _ => panic!("json_detail errors are a failure"),
        }
        match settle("t", &csv, entry("killed", json!(null))) {
            Settled::Done(Err(error)) => assert!(error.to_string().contains("ended killed")),
            _ => panic!("killed is a failure"),
        }
        let no_data: types::QueryTaskMultiResult =
            serde_json::from_value(json!({"status": "complete"})).unwrap();
        assert!(matches!(settle("t", &csv, no_data), Settled::Fetch));
    }
}
