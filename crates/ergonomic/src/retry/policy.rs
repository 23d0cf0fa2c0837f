//! How many times, and how long apart, a failed request is sent again.

use std::time::Duration;

/// How transient failures (429, 5xx, connection errors) are retried, and for how long in all.
///
/// Which requests are repeated depends on what a duplicate would do: requests that may safely be
/// repeated (GET, PUT, DELETE, PATCH, token requests) on any transient failure; a POST only when
/// the server cannot have acted on it (the connection never opened, or it answered 429 or 503,
/// both of which say the request was not handled); creating a job, which only reads, after any
/// transient failure. Waits grow exponentially from `initial_backoff` by `multiplier` up to
/// `max_backoff`, each drawn at random from its upper half (jitter); a `Retry-After` from the
/// server is honoured up to `max_retry_after`. No retry starts once `budget` has passed since the
/// first attempt.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 disables retries.
    pub max_attempts: u32,
    /// Wait before the second attempt.
    pub initial_backoff: Duration,
    /// Growth of the wait per attempt.
    pub multiplier: f64,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
    /// Longest `Retry-After` honoured; a longer one ends the retries.
    pub max_retry_after: Duration,
    /// Longest time from the first attempt to the end of the last wait: a retry that would start
    /// later is not made, and the last failure is returned.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(200),
            multiplier: 2.0,
            max_backoff: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(120),
            budget: Duration::from_secs(15 * 60),
        }
    }
}

impl RetryPolicy {
    /// No retries: every request is sent once.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The same policy with another attempt count (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The same policy with other backoff bounds.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// The same policy with another cap on the server's `Retry-After`.
    pub fn with_max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// The same policy with another overall time budget.
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// The wait before attempt `attempt + 1` (1-based `attempt`), with jitter.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30) as i32;
        let ceiling = self.initial_backoff.as_secs_f64() * self.multiplier.powi(exponent);
        let ceiling = ceiling.min(self.max_backoff.as_secs_f64());
        Duration::from_secs_f64(ceiling * (0.5 + fastrand::f64() * 0.5))
    }

    /// How long to wait before attempt `attempt + 1` after a transient failure, `elapsed` after
    /// the first attempt started; `None` when no further attempt is to be made.
    pub(crate) fn wait(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        elapsed: Duration,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let wait = match retry_after {
            Some(asked) if asked > self.max_retry_after => return None,
            Some(asked) => asked,
            None => self.backoff(attempt),
        };
        (elapsed + wait <= self.budget).then_some(wait)
    }
}
