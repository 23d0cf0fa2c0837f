//! Retries, token refreshes and `Retry-After`, decided in one loop under one [`RetryPolicy`].
//!
//! Every repetition of a request haul makes is made by [`drive`] (or [`run`], its form for a
//! closure), and by nothing else: the executor every generated request goes through
//! (`transport.rs`) drives single HTTP exchanges with it, and haul-level operations whose one
//! attempt is more than one exchange's headers (a body that may be cut mid-stream, an upload
//! streamed from a file, creating a job) drive their attempts with it too. What the loop decides:
//!
//! - whether an outcome is final, transient (try again, after the server's `Retry-After` when it
//!   gave one), or a 401 that a new token may mend: the outcome's [`Classify`] impl, for
//!   `reqwest` outcomes and for `crate::Result<T>` alike, under the request's [`Replay`] mode;
//! - how long to wait: [`RetryPolicy`]'s backoff, or `Retry-After` up to its cap (a longer one ends
//!   the retries), never past the policy's overall budget, and never more attempts than its cap;
//! - token refreshes: at most [`MAX_REFRESHES`] per request, however long its retries last;
//! - renewals of what an attempt holds (an expired presigned link): at most [`MAX_RENEWALS`] that
//!   do not use up attempts.
//!
//! # Using it on a new request path
//!
//! Write one attempt as a closure whose future yields `crate::Result<T>`, say how the request may
//! be repeated, and call [`run`]:
//!
//! ```ignore
//! use crate::retry::{self, Replay};
//!
//! let client = job.client(true); // single-shot: this loop must be the only one repeating it
//! let info = retry::run(sf.retry_policy(), Replay::Idempotent, "reading the job", || async {
//!     client.get_query_job().job_id(id.clone()).send().await.map_err(|e| from_client("get_query_job", e))
//! })
//! .await?;
//! ```
//!
//! When an attempt needs `&mut` state kept from one attempt to the next (a sink to restart, a
//! stream resumed where it was cut), or can renew the token itself, implement [`Attempt`] on a
//! small struct holding that state and call [`drive`] with it (see `IngestJob::upload` and the
//! ingest result reader for both).
//!
//! Rules for an attempt:
//! - Send its requests through a single-shot client (`generated(version, true, ..)` in the
//!   Salesforce family, `client(true)` in Looker): that transport sends once (still renewing the
//!   token on 401), so that retries do not nest, six attempts of six.
//! - Start from scratch or resume explicitly: the loop calls the attempt again as it is, so clear a
//!   sink (or skip what was received) inside the attempt.
//! - Return what no repetition can mend as the error it is ([`Error::integrity`](crate::Error),
//!   an invalid response): only 429, 5xx, connection failures and 401 are ever repeated.
//! - Pick the [`Replay`] mode by what a duplicate would do on the server, not by what is convenient.

mod classify;
mod policy;
#[cfg(test)]
mod tests;

use std::future::Future;

pub(crate) use classify::{Classify, Replay, Verdict, retry_after};
pub use policy::RetryPolicy;

/// Token refreshes one request may cause, however long its retries last: a token may expire again
/// while a request waits out its retries, and the cap ends a request whose fresh tokens are refused
/// too.
pub(crate) const MAX_REFRESHES: u32 = 3;

/// Renewals ([`Verdict::Renewed`]) one operation may make without using up attempts: a link may
/// expire again while a partition waits out its retries, and the cap ends an operation whose
/// renewed links keep failing (each later renewal counts as a transient failure).
pub(crate) const MAX_RENEWALS: u32 = 10;

/// One attempt of an operation [`drive`] repeats, with the state it keeps between attempts.
pub(crate) trait Attempt: Send {
    /// What one attempt ends in.
    type Output: Classify + Send;

    /// Makes one attempt.
    fn attempt(&mut self) -> impl Future<Output = Self::Output> + Send;

    /// Obtains a new token after a 401; false when none could be obtained (the 401 is then
    /// final). By default there is no way to: the transport below already renews tokens.
    fn refresh(&mut self) -> impl Future<Output = bool> + Send {
        async { false }
    }
}

/// Makes attempts of `op` until one is final, under `policy` and `replay`; returns the last
/// outcome. `what` names the operation in logs.
pub(crate) async fn drive<A: Attempt>(
    policy: &RetryPolicy,
    replay: Replay,
    what: &str,
    op: &mut A,
) -> A::Output {
    let started = tokio::time::Instant::now();
    let (mut attempt, mut refreshes, mut renewals) = (1, 0, 0);
    loop {
        let outcome = op.attempt().await;
        let retry_after = match outcome.classify(replay) {
            Verdict::Done => return outcome,
            Verdict::Unauthorized if refreshes < MAX_REFRESHES => {
                refreshes += 1;
                if op.refresh().await {
                    continue;
                }
                return outcome;
            }
            Verdict::Unauthorized => return outcome,
            Verdict::Renewed if renewals < MAX_RENEWALS => {
                renewals += 1;
                continue;
            }
            Verdict::Renewed => None,
            Verdict::Transient { retry_after } => retry_after,
        };
        let Some(wait) = policy.wait(attempt, retry_after, started.elapsed()) else {
            return outcome;
        };
        log_retry(replay, what, attempt, wait, &outcome.describe());
        drop(outcome);
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

/// [`drive`] for an attempt written as a closure: `attempt` is called once per attempt.
pub(crate) async fn run<F, Fut>(
    policy: &RetryPolicy,
    replay: Replay,
    what: &str,
    attempt: F,
) -> Fut::Output
where
    F: FnMut() -> Fut + Send,
    Fut: Future + Send,
    Fut::Output: Classify + Send,
{
    drive(policy, replay, what, &mut Repeated(attempt)).await
}

struct Repeated<F>(F);

impl<F, Fut> Attempt for Repeated<F>
where
    F: FnMut() -> Fut + Send,
    Fut: Future + Send,
    Fut::Output: Classify + Send,
{
    type Output = Fut::Output;

    fn attempt(&mut self) -> impl Future<Output = Self::Output> + Send {
        (self.0)()
    }
}

/// A repetition of a request whose duplicate the server may act on is worth a warning; the others
/// are routine.
fn log_retry(replay: Replay, what: &str, attempt: u32, wait: std::time::Duration, failure: &str) {
    let wait_ms = wait.as_millis() as u64;
    if replay == Replay::Duplicable {
        tracing::warn!(
            error = failure,
            attempt,
            wait_ms,
            "{what}: a transient failure; sending it again (if the failed request reached the \
             server, it is done twice)"
        );
    } else {
        tracing::debug!(error = failure, attempt, wait_ms, "{what}: retrying");
    }
}
