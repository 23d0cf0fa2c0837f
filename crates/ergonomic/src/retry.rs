//! When and how long to wait before sending a failed request again.

use std::time::Duration;

use haul_client::reqwest::{self, Method, StatusCode, header::RETRY_AFTER};

/// How transient failures (429, 5xx, connection errors) are retried.
///
/// Requests that may safely be repeated (GET, PUT, DELETE, PATCH) are retried on all of those;
/// a job-creating POST only when the server cannot have acted on it: the connection never opened, or
/// the server answered 429 or 503 (both say the request was not handled). Waits grow exponentially from `initial_backoff` by `multiplier` up to
/// `max_backoff`, each drawn at random from its upper half (jitter), and a `Retry-After` from the server
/// is honoured up to `max_retry_after`.
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
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(200),
            multiplier: 2.0,
            max_backoff: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(120),
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

    /// The wait before attempt `attempt + 1` (1-based `attempt`), with jitter.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30) as i32;
        let ceiling = self.initial_backoff.as_secs_f64() * self.multiplier.powi(exponent);
        let ceiling = ceiling.min(self.max_backoff.as_secs_f64());
        Duration::from_secs_f64(ceiling * (0.5 + fastrand::f64() * 0.5))
    }

    /// Whether a failed attempt should be repeated, and after how long.
    pub(crate) fn decide(
        &self,
        method: &Method,
        attempt: u32,
        outcome: &reqwest::Result<reqwest::Response>,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let repeatable = method != Method::POST;
        match outcome {
            Ok(response) => {
                let status = response.status();
                let not_handled = status == StatusCode::TOO_MANY_REQUESTS
                    || status == StatusCode::SERVICE_UNAVAILABLE;
                let transient = not_handled || (repeatable && status.is_server_error());
                if !transient {
                    return None;
                }
                match retry_after(response) {
                    Some(wait) if wait > self.max_retry_after => None,
                    Some(wait) => Some(wait),
                    None => Some(self.backoff(attempt)),
                }
            }
            Err(error) if error.is_connect() || (repeatable && is_transient(error)) => {
                Some(self.backoff(attempt))
            }
            Err(_) => None,
        }
    }
}

/// Sends `create`, a request whose duplicate would harm no data (creating a query job or task, which
/// only reads; a login), again after any transient failure, even one that may have reached the
/// server: a cut connection must not end a long export, and a stray duplicate costs only quota or
/// compute. `create` must send once (through a single-shot context), so that this loop is the only
/// retry; each repetition is logged with a warning naming `what`.
pub(crate) async fn replay_create<T, F>(
    policy: &RetryPolicy,
    what: &'static str,
    mut create: impl FnMut() -> F,
) -> crate::Result<T>
where
    F: std::future::Future<Output = crate::Result<T>>,
{
    let mut attempt = 1;
    loop {
        match create().await {
            Err(error) if error.is_retryable() && attempt < policy.max_attempts => {
                let wait = error
                    .retry_after()
                    .filter(|wait| *wait <= policy.max_retry_after)
                    .unwrap_or_else(|| policy.backoff(attempt));
                tracing::warn!(
                    %error,
                    attempt,
                    "{what}: a transient failure; sending it again (if the failed request \
                     reached the server, it is done twice)"
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}

fn is_transient(error: &reqwest::Error) -> bool {
    error.is_timeout() || error.is_request() || error.is_body() || error.is_decode()
}

/// `Retry-After` in seconds (the HTTP-date form is rare on these APIs and falls back to backoff).
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let text = response.headers().get(RETRY_AFTER)?.to_str().ok()?;
    text.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16) -> reqwest::Result<reqwest::Response> {
        let response = http::Response::builder().status(status).body("").unwrap();
        Ok(reqwest::Response::from(response))
    }

    #[test]
    fn a_post_is_repeated_only_when_the_server_says_it_did_not_handle_it() {
        let policy = RetryPolicy::default();
        for (status, post, get) in [
            (429, true, true),
            (503, true, true),
            (500, false, true),
            (502, false, true),
            (504, false, true),
            (400, false, false),
            (404, false, false),
        ] {
            let decide = |method| policy.decide(&method, 1, &answer(status)).is_some();
            assert_eq!(decide(Method::POST), post, "POST answered {status}");
            assert_eq!(decide(Method::GET), get, "GET answered {status}");
        }
        assert_eq!(
            policy.decide(&Method::GET, 6, &answer(503)),
            None,
            "attempts are capped"
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy =
            RetryPolicy::default().with_backoff(Duration::from_millis(100), Duration::from_secs(1));
        for attempt in 1..20 {
            let wait = policy.backoff(attempt);
            let ceiling = (0.1 * 2f64.powi(attempt as i32 - 1)).min(1.0);
            assert!(
                wait.as_secs_f64() <= ceiling + 1e-9,
                "attempt {attempt}: {wait:?}"
            );
            assert!(
                wait.as_secs_f64() >= ceiling / 2.0 - 1e-9,
                "attempt {attempt}: {wait:?}"
            );
        }
    }
}
