//! Waiting for server-side work: one [`Poller`] for every family.
//!
//! Each family describes its job through [`Pollable`]: how to fetch its status, how that status maps onto
//! the common [`Phase`], and how to abort it. The poller then owns the loop: backoff between status
//! requests, the overall limits, cancellation, progress, and aborting a job its caller abandons.
//! The status request is sent once per round, never retried inside the round: a transient failure
//! simply waits for the next round.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::{Stream, StreamExt};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, JobDetails, Result};

/// Where a job stands, in terms common to every family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Queued or running.
    Pending,
    /// Finished successfully.
    Succeeded,
    /// Finished without success, with the server's explanation when it gave one.
    Failed { message: Option<String> },
}

/// A piece of server-side work that can be waited for.
pub(crate) trait Pollable: Send + Sync + 'static {
    /// What the family reports about the job; the last one seen is kept, whole, in the error of a
    /// job that failed ([`Error::failed_job`]).
    type Status: Clone + std::fmt::Debug + Send + Sync + 'static;

    /// Names the job in errors and logs, such as `query job 750...`.
    fn describe(&self) -> String;
    /// Fetches the current status (one request, no retries).
    fn fetch(&self) -> BoxFuture<'_, Result<Self::Status>>;
    /// Maps the status onto the common phase: the single place each family does so.
    fn phase(status: &Self::Status) -> Phase
    where
        Self: Sized;
    /// The state's name as the vendor spells it.
    fn state_name(status: &Self::Status) -> String
    where
        Self: Sized;
    /// Asks the server to stop the job.
    fn abort(&self) -> BoxFuture<'_, Result<()>>;
}

/// How long to wait between status requests: from `initial`, growing by `factor`, up to `max`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct BackoffPolicy {
    /// Wait before the second status request.
    pub initial: Duration,
    /// Growth per round.
    pub factor: f64,
    /// Longest wait.
    pub max: Duration,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(500),
            factor: 1.5,
            max: Duration::from_secs(10),
        }
    }
}

impl BackoffPolicy {
    /// A policy with these bounds (`factor` below 1 is taken as 1).
    pub fn new(initial: Duration, factor: f64, max: Duration) -> Self {
        Self {
            initial,
            factor: factor.max(1.0),
            max: max.max(initial),
        }
    }

    /// The same wait every round.
    pub fn fixed(interval: Duration) -> Self {
        Self::new(interval, 1.0, interval)
    }

    fn delay(&self, round: u32) -> Duration {
        let exponent = round.min(60) as i32;
        let secs = self.initial.as_secs_f64() * self.factor.powi(exponent);
        Duration::from_secs_f64(secs.min(self.max.as_secs_f64()))
    }
}

/// How a wait runs, the same in every family: the builders of every family offer these as
/// `backoff`, `timeout` and `abort_on_drop` (and take them whole with `wait_options`), and so does
/// [`Poller`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct WaitOptions {
    /// Waits between status requests.
    pub backoff: BackoffPolicy,
    /// Longest wait in all (default one hour); then the wait fails with
    /// [`Error::Timeout`](crate::Error::Timeout).
    pub timeout: Duration,
    /// Whether the job is aborted (a Looker task: killed) when the wait is dropped, cancelled or
    /// times out before the job finished (default false: it is left running).
    pub abort_on_drop: bool,
}

impl Default for WaitOptions {
    fn default() -> Self {
        Self {
            backoff: BackoffPolicy::default(),
            timeout: Duration::from_secs(3600),
            abort_on_drop: false,
        }
    }
}

impl WaitOptions {
    /// The same options with another backoff.
    pub fn with_backoff(mut self, backoff: BackoffPolicy) -> Self {
        self.backoff = backoff;
        self
    }

    /// The same options with another timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The same options, aborting the job when the wait is abandoned, or not.
    pub fn with_abort_on_drop(mut self, abort: bool) -> Self {
        self.abort_on_drop = abort;
        self
    }
}

/// Where a job stood at one [`Poller::poll`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Polled<T> {
    /// Queued or running, with the status seen.
    Pending(T),
    /// Finished successfully, with its final status.
    Finished(T),
}

/// Waits for a job to finish. Await it (it is [`IntoFuture`]) for the finished job: `O`, built from the
/// final status `T` (for a query job, a handle whose results can be read).
///
/// Defaults: those of [`WaitOptions`] (the [`BackoffPolicy`] default, a one-hour timeout, the job
/// left running when the wait is abandoned; see [`abort_on_drop`](Poller::abort_on_drop)), and no
/// attempt cap.
#[must_use = "a Poller does nothing until awaited"]
pub struct Poller<T: Clone + std::fmt::Debug + Send + Sync + 'static, O = T> {
    target: Arc<dyn Pollable<Status = T>>,
    finish: Box<dyn FnOnce(T) -> O + Send + Sync>,
    phase: fn(&T) -> Phase,
    state_name: fn(&T) -> String,
    details: fn(&T) -> JobDetails,
    backoff: BackoffPolicy,
    timeout: Duration,
    max_attempts: Option<u32>,
    abort_on_drop: bool,
    abort_on_timeout: bool,
    cancel: Option<CancellationToken>,
    progress: watch::Sender<Option<T>>,
}

impl<T: Clone + std::fmt::Debug + Send + Sync + 'static, O> std::fmt::Debug for Poller<T, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("target", &self.target.describe())
            .field("backoff", &self.backoff)
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("abort_on_drop", &self.abort_on_drop)
            .field("abort_on_timeout", &self.abort_on_timeout)
            .finish_non_exhaustive()
    }
}

impl<T: Clone + std::fmt::Debug + Send + Sync + 'static, O: Send + 'static> Poller<T, O> {
    pub(crate) fn new<P: Pollable<Status = T>>(
        target: P,
        finish: impl FnOnce(T) -> O + Send + Sync + 'static,
    ) -> Self {
        let defaults = WaitOptions::default();
        Self {
            target: Arc::new(target),
            finish: Box::new(finish),
            phase: P::phase,
            state_name: P::state_name,
            details: |status| JobDetails::new(status.clone()),
            backoff: defaults.backoff,
            timeout: defaults.timeout,
            max_attempts: None,
            abort_on_drop: defaults.abort_on_drop,
            abort_on_timeout: false,
            cancel: None,
            progress: watch::Sender::new(None),
        }
    }

    /// Waits as `options` say: their backoff, timeout and abort on drop.
    pub fn wait_options(self, options: WaitOptions) -> Self {
        self.backoff(options.backoff)
            .timeout(options.timeout)
            .abort_on_drop(options.abort_on_drop)
    }

    /// Waits between status requests according to `policy`.
    pub fn backoff(mut self, policy: BackoffPolicy) -> Self {
        self.backoff = policy;
        self
    }

    /// Gives up after `timeout` in all (default one hour).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Gives up after `attempts` status requests.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts.max(1));
        self
    }

    /// Aborts the job when the wait is dropped, cancelled or times out before the job finished.
    pub fn abort_on_drop(mut self, abort: bool) -> Self {
        self.abort_on_drop = abort;
        self.abort_on_timeout |= abort;
        self
    }

    /// Aborts the job when the wait times out (implied by [`abort_on_drop`](Self::abort_on_drop)).
    pub fn abort_on_timeout(mut self, abort: bool) -> Self {
        self.abort_on_timeout = abort;
        self
    }

    /// Stops waiting, with [`Error::Cancelled`], when `token` is cancelled.
    pub fn cancel_on(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Every status the poller sees, as it sees it (`None` until the first arrives).
    pub fn progress(&self) -> watch::Receiver<Option<T>> {
        self.progress.subscribe()
    }

    /// The statuses the poller sees, as a stream that ends once the poller is gone. A reader slower
    /// than the rounds sees the latest status, not every one.
    pub fn progress_stream(&self) -> impl Stream<Item = T> + Send + Unpin + 'static {
        futures::stream::unfold(self.progress.subscribe(), |mut seen| async move {
            loop {
                seen.changed().await.ok()?;
                let status = seen.borrow_and_update().clone();
                if let Some(status) = status {
                    return Some((status, seen));
                }
            }
        })
        .boxed()
    }

    /// One round by hand: asks for the job's status once, without waiting or retrying, and says
    /// where the job stands; a job that ended without success is [`Error::JobFailed`]. Await the
    /// poller instead for the whole wait, with its backoff, limits and abort on drop.
    pub async fn poll(&self) -> Result<Polled<T>> {
        let status = self.target.fetch().await?;
        self.progress.send_replace(Some(status.clone()));
        match (self.phase)(&status) {
            Phase::Succeeded => Ok(Polled::Finished(status)),
            Phase::Pending => Ok(Polled::Pending(status)),
            Phase::Failed { message } => Err(Error::JobFailed {
                what: self.target.describe(),
                state: (self.state_name)(&status),
                message,
                job: Some((self.details)(&status)),
            }),
        }
    }

    async fn run(self) -> Result<O> {
        let mut guard = AbortGuard::new(self.abort_on_drop.then(|| self.target.clone()));
        let cancel = self.cancel.clone().unwrap_or_default();
        let outcome = tokio::select! {
            outcome = self.rounds() => outcome,
            () = cancel.cancelled() => Err(Error::Cancelled),
        };
        let timed_out = matches!(outcome, Err(Error::Timeout { .. }));
        if timed_out && self.abort_on_timeout && !self.abort_on_drop {
            abort_quietly(&*self.target).await;
        }
        if !(self.abort_on_drop
            && matches!(outcome, Err(Error::Cancelled) | Err(Error::Timeout { .. })))
        {
            guard.disarm();
        }
        outcome.map(self.finish)
    }

    async fn rounds(&self) -> Result<T> {
        let started = Instant::now();
        let deadline = started + self.timeout;
        let mut last_state = String::from("unknown");
        for round in 0u32.. {
            if self.max_attempts.is_some_and(|cap| round >= cap) {
                return Err(self.timed_out(started, last_state));
            }
            let wait = match self.poll().await {
                Ok(Polled::Finished(status)) => return Ok(status),
                Ok(Polled::Pending(status)) => {
                    last_state = (self.state_name)(&status);
                    self.backoff.delay(round)
                }
                Err(error) if error.is_retryable() => {
                    tracing::debug!(job = %self.target.describe(), %error, "status request failed; next round");
                    error
                        .retry_after()
                        .unwrap_or_default()
                        .max(self.backoff.delay(round))
                }
                Err(error) => return Err(error),
            };
            let now = Instant::now();
            if now >= deadline {
                return Err(self.timed_out(started, last_state));
            }
            tokio::time::sleep(wait.min(deadline - now)).await;
        }
        unreachable!("the round counter does not run out before the deadline")
    }

    fn timed_out(&self, started: Instant, last_state: String) -> Error {
        Error::Timeout {
            what: self.target.describe(),
            waited: started.elapsed(),
            last_state,
        }
    }
}

impl<T: Clone + std::fmt::Debug + Send + Sync + 'static, O: Send + 'static> IntoFuture
    for Poller<T, O>
{
    type Output = Result<O>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<O>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// Aborts the job if dropped while armed: the wait was abandoned before the job finished.
struct AbortGuard<T: Clone + std::fmt::Debug + Send + Sync + 'static> {
    target: Option<Arc<dyn Pollable<Status = T>>>,
}

impl<T: Clone + std::fmt::Debug + Send + Sync + 'static> AbortGuard<T> {
    fn new(target: Option<Arc<dyn Pollable<Status = T>>>) -> Self {
        Self { target }
    }

    fn disarm(&mut self) {
        self.target = None;
    }
}

impl<T: Clone + std::fmt::Debug + Send + Sync + 'static> Drop for AbortGuard<T> {
    fn drop(&mut self) {
        let Some(target) = self.target.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move { abort_quietly(&*target).await });
            }
            Err(_) => {
                tracing::warn!(job = %target.describe(), "no runtime left to abort the abandoned job")
            }
        }
    }
}

async fn abort_quietly<T: Clone + std::fmt::Debug + Send + Sync + 'static>(
    target: &dyn Pollable<Status = T>,
) {
    match target.abort().await {
        Ok(()) => tracing::info!(job = %target.describe(), "aborted the abandoned job"),
        Err(error) => {
            tracing::warn!(job = %target.describe(), %error, "could not abort the abandoned job")
        }
    }
}
