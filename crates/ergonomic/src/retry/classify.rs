//! What an attempt's outcome means for the retry loop, under the request's replay mode.

use std::time::Duration;

use haul_client::reqwest::{self, Method, StatusCode, header::HeaderMap, header::RETRY_AFTER};

/// How a request may be repeated, by what a duplicate would do on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replay {
    /// Repeating it changes nothing (GET, PUT, DELETE, PATCH; a token request): repeated on 429,
    /// 5xx and connection failures.
    Idempotent,
    /// The server would act on each copy (a POST): repeated only when it cannot have acted on the
    /// failed one: the connection never opened, or it answered 429 or 503.
    IfNotHandled,
    /// Creates something whose duplicate harms no data (a query job or task, which only reads; an
    /// ingest job still empty and `Open`; a login): repeated after any transient failure, even one
    /// that may have reached the server, with a warning. A cut connection must not end a long
    /// export, and a stray duplicate costs only quota or compute.
    Duplicable,
    /// The server refuses a duplicate and the attempt itself recognises that refusal as success
    /// (an ingest upload: a second upload to one job is refused): repeated after any transient
    /// failure.
    Guarded,
}

impl Replay {
    /// The mode a bare HTTP request gets from its method.
    pub(crate) fn for_method(method: &Method) -> Self {
        if method == Method::POST {
            Self::IfNotHandled
        } else {
            Self::Idempotent
        }
    }

    /// Whether a failure that may have reached the server is repeated.
    fn after_reaching(self) -> bool {
        self != Self::IfNotHandled
    }
}

/// What the loop does after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Final: success, or a failure no repetition can mend.
    Done,
    /// Transient: try again, after `retry_after` when the server asked for that wait.
    Transient { retry_after: Option<Duration> },
    /// 401: try again once a new token is in place.
    Unauthorized,
    /// The attempt failed on something it has since renewed itself (a presigned link that had
    /// expired, now forgotten so that the next attempt asks for a new one): try again at once,
    /// without using up an attempt, up to [`MAX_RENEWALS`](super::MAX_RENEWALS) times; then as
    /// a transient failure.
    Renewed,
}

/// An attempt's outcome, as the retry loop sees it.
pub(crate) trait Classify {
    /// What the loop does next under `replay`.
    fn classify(&self, replay: Replay) -> Verdict;
    /// The failure, for logs.
    fn describe(&self) -> String;
}

/// The one rule for an error answer: 429 and 503 say the request was not handled; other 5xx may
/// have been acted on; 401 asks for a new token; anything else is final.
fn by_status(status: StatusCode, retry_after: Option<Duration>, replay: Replay) -> Verdict {
    if status == StatusCode::UNAUTHORIZED {
        return Verdict::Unauthorized;
    }
    let not_handled =
        status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE;
    if not_handled || (replay.after_reaching() && status.is_server_error()) {
        Verdict::Transient { retry_after }
    } else {
        Verdict::Done
    }
}

/// A connection failure: repeated when the connection never opened, or when a duplicate is
/// acceptable.
fn by_connection(never_opened: bool, replay: Replay) -> Verdict {
    if never_opened || replay.after_reaching() {
        Verdict::Transient { retry_after: None }
    } else {
        Verdict::Done
    }
}

impl Classify for reqwest::Result<reqwest::Response> {
    fn classify(&self, replay: Replay) -> Verdict {
        match self {
            Ok(response) => by_status(response.status(), retry_after(response.headers()), replay),
            Err(error) if error.is_connect() || is_transient(error) => {
                by_connection(error.is_connect(), replay)
            }
            Err(_) => Verdict::Done,
        }
    }

    fn describe(&self) -> String {
        match self {
            Ok(response) => response.status().to_string(),
            Err(error) => error.to_string(),
        }
    }
}

impl<T> Classify for crate::Result<T> {
    fn classify(&self, replay: Replay) -> Verdict {
        let Err(error) = self else {
            return Verdict::Done;
        };
        match (error.status(), error.connection_failure()) {
            (Some(status), _) => match StatusCode::from_u16(status) {
                Ok(status) => by_status(status, error.retry_after(), replay),
                Err(_) => Verdict::Done,
            },
            (None, Some(never_opened)) => by_connection(never_opened, replay),
            (None, None) => Verdict::Done,
        }
    }

    fn describe(&self) -> String {
        match self {
            Ok(_) => "success".into(),
            Err(error) => error.to_string(),
        }
    }
}

/// Failures after the connection opened that another attempt may not meet.
fn is_transient(error: &reqwest::Error) -> bool {
    error.is_timeout() || error.is_request() || error.is_body() || error.is_decode()
}

/// `Retry-After` in seconds (the HTTP-date form is rare on these APIs and falls back to backoff).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?;
    text.trim().parse::<u64>().ok().map(Duration::from_secs)
}
