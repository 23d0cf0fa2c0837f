use std::time::Duration;

use haul_client::reqwest::{self, Method};
use tokio::time::Instant;

use super::*;
use crate::Error;

fn answer(status: u16, retry_after: Option<u64>) -> reqwest::Result<reqwest::Response> {
    let mut response = http::Response::builder().status(status);
    if let Some(secs) = retry_after {
        response = response.header("retry-after", secs.to_string());
    }
    Ok(reqwest::Response::from(response.body("").unwrap()))
}

fn api(status: u16, retry_after: Option<u64>) -> crate::Result<()> {
    Err(Error::Api {
        operation: "test",
        status,
        code: None,
        message: None,
        retry_after: retry_after.map(Duration::from_secs),
    })
}

/// An attempt that answers `outcomes` in turn (the last one again once they run out), counting
/// attempts and refreshes.
struct Script {
    outcomes: Vec<(u16, Option<u64>)>,
    attempts: usize,
    refreshes: usize,
    refresh_works: bool,
}

impl Script {
    fn new(outcomes: &[(u16, Option<u64>)]) -> Self {
        Self {
            outcomes: outcomes.to_vec(),
            attempts: 0,
            refreshes: 0,
            refresh_works: true,
        }
    }

    async fn drive(&mut self, policy: &RetryPolicy, replay: Replay) -> crate::Result<()> {
        drive(policy, replay, "test", self).await
    }
}

impl Attempt for Script {
    type Output = crate::Result<()>;

    async fn attempt(&mut self) -> crate::Result<()> {
        let (status, retry_after) = self.outcomes[self.attempts.min(self.outcomes.len() - 1)];
        self.attempts += 1;
        match status {
            200 => Ok(()),
            _ => api(status, retry_after),
        }
    }

    async fn refresh(&mut self) -> bool {
        self.refreshes += 1;
        self.refresh_works
    }
}

#[test]
fn a_post_is_repeated_only_when_the_server_says_it_did_not_handle_it() {
    for (status, post, get) in [
        (429, true, true),
        (503, true, true),
        (500, false, true),
        (502, false, true),
        (504, false, true),
        (400, false, false),
        (404, false, false),
        (200, false, false),
    ] {
        for (method, expected) in [(Method::POST, post), (Method::GET, get)] {
            let replay = Replay::for_method(&method);
            let retried = |verdict| matches!(verdict, Verdict::Transient { .. });
            assert_eq!(
                retried(answer(status, None).classify(replay)),
                expected,
                "{method} answered {status}"
            );
            assert_eq!(
                retried(api(status, None).classify(replay)),
                expected && status != 200,
                "{method} failed with {status}"
            );
        }
    }
}

#[test]
fn job_creation_and_uploads_are_repeated_after_any_transient_failure() {
    for replay in [Replay::Duplicable, Replay::Guarded] {
        for status in [429, 500, 502, 503, 504] {
            assert!(matches!(
                api(status, None).classify(replay),
                Verdict::Transient { .. }
            ));
        }
        assert_eq!(api(400, None).classify(replay), Verdict::Done);
    }
}

#[test]
fn a_401_asks_for_a_token_whatever_the_method() {
    for replay in [Replay::Idempotent, Replay::IfNotHandled, Replay::Duplicable] {
        assert_eq!(answer(401, None).classify(replay), Verdict::Unauthorized);
        assert_eq!(api(401, None).classify(replay), Verdict::Unauthorized);
    }
}

#[test]
fn retry_after_is_read_from_the_answer() {
    assert_eq!(
        answer(429, Some(7)).classify(Replay::IfNotHandled),
        Verdict::Transient {
            retry_after: Some(Duration::from_secs(7))
        }
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

#[tokio::test(start_paused = true)]
async fn attempts_are_capped() {
    let mut script = Script::new(&[(503, None)]);
    let policy = RetryPolicy::default().with_max_attempts(4);
    let outcome = script.drive(&policy, Replay::Idempotent).await;
    assert_eq!(outcome.unwrap_err().status(), Some(503));
    assert_eq!(script.attempts, 4);
}

#[tokio::test(start_paused = true)]
async fn a_transient_failure_is_followed_by_success() {
    let mut script = Script::new(&[(500, None), (502, None), (200, None)]);
    let outcome = script
        .drive(&RetryPolicy::default(), Replay::Idempotent)
        .await;
    assert!(outcome.is_ok());
    assert_eq!(script.attempts, 3);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_up_to_its_cap() {
    let policy = RetryPolicy::default().with_max_retry_after(Duration::from_secs(60));
    let started = Instant::now();
    let mut honoured = Script::new(&[(429, Some(30)), (200, None)]);
    assert!(honoured.drive(&policy, Replay::Idempotent).await.is_ok());
    assert_eq!(started.elapsed(), Duration::from_secs(30));

    let started = Instant::now();
    let mut too_long = Script::new(&[(429, Some(61)), (200, None)]);
    let outcome = too_long.drive(&policy, Replay::Idempotent).await;
    assert_eq!(outcome.unwrap_err().status(), Some(429));
    assert_eq!(
        too_long.attempts, 1,
        "a longer Retry-After ends the retries"
    );
    assert_eq!(started.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn no_retry_starts_past_the_budget() {
    let policy = RetryPolicy::default()
        .with_max_attempts(100)
        .with_budget(Duration::from_secs(10));
    let started = Instant::now();
    let mut script = Script::new(&[(503, Some(4))]);
    assert!(script.drive(&policy, Replay::Idempotent).await.is_err());
    // Attempts at 0, 4 and 8 s; one more would start at 12 s.
    assert_eq!(script.attempts, 3);
    assert_eq!(started.elapsed(), Duration::from_secs(8));

    let mut asked = Script::new(&[(503, Some(11))]);
    assert!(asked.drive(&policy, Replay::Idempotent).await.is_err());
    assert_eq!(
        asked.attempts, 1,
        "a Retry-After past the budget is not waited out"
    );
}

#[tokio::test(start_paused = true)]
async fn a_401_is_refreshed_once_each_time_up_to_the_cap() {
    let mut once = Script::new(&[(401, None), (200, None)]);
    assert!(
        once.drive(&RetryPolicy::none(), Replay::IfNotHandled)
            .await
            .is_ok()
    );
    assert_eq!((once.attempts, once.refreshes), (2, 1));

    let mut always = Script::new(&[(401, None)]);
    let outcome = always
        .drive(&RetryPolicy::default(), Replay::Idempotent)
        .await;
    assert_eq!(outcome.unwrap_err().status(), Some(401));
    assert_eq!(always.refreshes, MAX_REFRESHES as usize);
    assert_eq!(always.attempts, MAX_REFRESHES as usize + 1);

    let mut no_token = Script::new(&[(401, None), (200, None)]);
    no_token.refresh_works = false;
    assert!(
        no_token
            .drive(&RetryPolicy::default(), Replay::Idempotent)
            .await
            .is_err()
    );
    assert_eq!((no_token.attempts, no_token.refreshes), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn refreshes_do_not_use_up_attempts() {
    let mut script = Script::new(&[(401, None), (503, None), (401, None), (200, None)]);
    let policy = RetryPolicy::default().with_max_attempts(2);
    assert!(script.drive(&policy, Replay::Idempotent).await.is_ok());
    assert_eq!((script.attempts, script.refreshes), (4, 2));
}

#[tokio::test(start_paused = true)]
async fn run_repeats_a_closure() {
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let outcome = run(
        &RetryPolicy::default(),
        Replay::Duplicable,
        "creating",
        || async {
            match calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) {
                0 => api(500, None),
                _ => Ok(()),
            }
        },
    )
    .await;
    assert!(outcome.is_ok());
    assert_eq!(calls.into_inner(), 2);
}

/// An attempt whose outcomes are the verdicts given, in turn.
struct Verdicts {
    verdicts: Vec<Verdict>,
    attempts: usize,
}

struct Judged(Verdict);

impl Classify for Judged {
    fn classify(&self, _replay: Replay) -> Verdict {
        self.0
    }

    fn describe(&self) -> String {
        format!("{:?}", self.0)
    }
}

impl Attempt for Verdicts {
    type Output = Judged;

    async fn attempt(&mut self) -> Judged {
        let verdict = self.verdicts[self.attempts.min(self.verdicts.len() - 1)];
        self.attempts += 1;
        Judged(verdict)
    }
}

#[tokio::test(start_paused = true)]
async fn renewals_do_not_use_up_attempts_up_to_their_cap() {
    let renewed = |n: usize| std::iter::repeat_n(Verdict::Renewed, n);
    let policy = RetryPolicy::none();
    let mut within = Verdicts {
        verdicts: renewed(MAX_RENEWALS as usize)
            .chain([Verdict::Done])
            .collect(),
        attempts: 0,
    };
    let started = Instant::now();
    let last = drive(&policy, Replay::Idempotent, "test", &mut within).await;
    assert_eq!(last.0, Verdict::Done);
    assert_eq!(within.attempts, MAX_RENEWALS as usize + 1);
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "renewals are tried again at once"
    );
    // Beyond the cap a renewal is a transient failure: with no retries left, it is the last.
    let mut beyond = Verdicts {
        verdicts: renewed(MAX_RENEWALS as usize + 1)
            .chain([Verdict::Done])
            .collect(),
        attempts: 0,
    };
    let last = drive(&policy, Replay::Idempotent, "test", &mut beyond).await;
    assert_eq!(last.0, Verdict::Renewed);
    assert_eq!(beyond.attempts, MAX_RENEWALS as usize + 1);
}
