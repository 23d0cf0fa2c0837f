//! The one error type of haul.

use std::any::Any;
use std::path::PathBuf;
use std::time::Duration;

/// Errors of every sort that haul reports.
///
/// Use the predicates ([`is_retryable`](Error::is_retryable), [`is_not_found`](Error::is_not_found),
/// [`is_auth`](Error::is_auth), [`is_timeout`](Error::is_timeout),
/// [`is_job_failed`](Error::is_job_failed), [`is_integrity`](Error::is_integrity),
/// [`is_invalid_input`](Error::is_invalid_input), [`is_cancelled`](Error::is_cancelled), ...) and
/// accessors ([`status`](Error::status), [`vendor_code`](Error::vendor_code),
/// [`vendor_message`](Error::vendor_message), [`failed_job`](Error::failed_job)) rather than
/// matching variants where you can. The underlying cause is kept as the
/// [`source`](std::error::Error::source), never repeated in `Display`: print the whole chain (as
/// `anyhow`'s `{:#}` does) to show it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error status.
    #[error("{operation}: the server answered {status}{}", vendor_suffix(*status, code.as_deref(), message.as_deref()))]
    #[non_exhaustive]
    Api {
        /// The operation, such as `get_query_job`.
        operation: &'static str,
        /// The HTTP status.
        status: u16,
        /// The vendor's error code, such as `INVALID_SESSION_ID`.
        code: Option<String>,
        /// The vendor's message.
        message: Option<String>,
        /// How long the server asked the client to wait (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// The request could not be sent, or the response could not be read (connection refused or reset,
    /// timeout, truncated body).
    #[error("{operation}: the connection failed")]
    #[non_exhaustive]
    Transport {
        /// The operation.
        operation: &'static str,
        /// Whether the failure was a request timeout.
        timed_out: bool,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// Obtaining or refreshing a token failed.
    #[error("authentication failed: {detail}")]
    #[non_exhaustive]
    Auth {
        /// What failed, without any secret.
        detail: String,
        /// The cause, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// Waiting for a job took longer than its limit.
    #[error("gave up waiting for {what} after {waited:?} (last state: {last_state})")]
    #[non_exhaustive]
    Timeout {
        /// What was awaited, such as `query job 750...`.
        what: String,
        /// How long haul waited.
        waited: Duration,
        /// The state last seen.
        last_state: String,
    },
    /// A job ended in failure, or was aborted.
    #[error("{what} ended {state}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    #[non_exhaustive]
    JobFailed {
        /// The job, such as `query job 750...`.
        what: String,
        /// Its final state, such as `Failed` or `Aborted`.
        state: String,
        /// The server's explanation, when it gives one.
        message: Option<String>,
        /// Everything the server last said about the job, in its family's own type: read it with
        /// [`Error::failed_job`].
        job: Option<JobDetails>,
    },
    /// Downloaded data disagrees with what the server said it would hold.
    #[error("integrity check failed: {detail}")]
    #[non_exhaustive]
    Integrity {
        /// What disagreed.
        detail: String,
    },
    /// A downloaded value does not read as its column's type (a typed format: Parquet, or JSON
    /// lines given a schema): the download stops and publishes nothing.
    #[error("row {row}, column {column}: {value:?} is not {expected}")]
    #[non_exhaustive]
    InvalidValue {
        /// The row's number in the whole result, from 1 (the header row not counted).
        row: u64,
        /// The column's name.
        column: String,
        /// The value as received (its first 200 characters).
        value: String,
        /// The type expected, and why the value is not one.
        expected: String,
    },
    /// The caller's input cannot be used.
    #[error("invalid input: {detail}")]
    #[non_exhaustive]
    InvalidInput {
        /// What is wrong with it.
        detail: String,
    },
    /// The server's answer is not what the API promises.
    #[error("{operation}: unexpected response: {detail}")]
    #[non_exhaustive]
    InvalidResponse {
        /// The operation.
        operation: &'static str,
        /// What was unexpected.
        detail: String,
    },
    /// Reading or writing a local file failed.
    #[error("{}: file access failed", path.display())]
    #[non_exhaustive]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An object store (S3, Google Cloud Storage, Azure Blob Storage) refused or failed a request,
    /// after the store client's own retries.
    #[error("object store: {operation} {location} failed ({kind})")]
    #[non_exhaustive]
    Store {
        /// The operation, such as `upload` or `write manifest`.
        operation: &'static str,
        /// The object or prefix, as a URL (`s3://bucket/key`); never holds a secret.
        location: String,
        /// What sort of failure it was.
        kind: StoreFailure,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// Work was not started because the budget the caller set for it is spent (an extract's
    /// API requests or jobs); nothing of it was sent.
    #[error("budget spent: {detail}")]
    #[non_exhaustive]
    BudgetSpent {
        /// Which budget, and how much of it was spent.
        detail: String,
    },
    /// The work was cancelled by the caller.
    #[error("cancelled")]
    Cancelled,
}

/// What sort of failure an object store reported ([`Error::Store`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreFailure {
    /// The bucket, container or object does not exist.
    NotFound,
    /// The credentials were refused, or lack the permission.
    Denied,
    /// A condition of the request failed (the object exists, or changed).
    Conflict,
    /// The store does not offer the operation.
    Unsupported,
    /// Anything else: the connection, or an error answer that the store client does not name
    /// (a 5xx its own retries did not get past, or a 4xx such as a part too small). Counted as
    /// retryable, since the store client does not say which.
    Unavailable,
}

impl std::fmt::Display for StoreFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NotFound => "not found",
            Self::Denied => "access denied",
            Self::Conflict => "precondition failed",
            Self::Unsupported => "not supported by the store",
            Self::Unavailable => "the store failed or could not be reached",
        })
    }
}

/// What the server last said about a job that failed or was aborted, kept in its family's own type
/// (each family documents which, and offers a typed accessor). Read it with
/// [`Error::failed_job`] or [`downcast_ref`](JobDetails::downcast_ref).
pub struct JobDetails(Box<dyn Details>);

/// A family's job status, as kept in [`JobDetails`].
trait Details: Any + std::fmt::Debug + Send + Sync {}

impl<T: Any + std::fmt::Debug + Send + Sync> Details for T {}

impl JobDetails {
    pub(crate) fn new<T: Any + std::fmt::Debug + Send + Sync>(status: T) -> Self {
        Self(Box::new(status))
    }

    /// The status, if it is a `T`.
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        let any: &dyn Any = &*self.0;
        any.downcast_ref()
    }
}

impl std::fmt::Debug for JobDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A boxed cause.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with haul's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The vendor's code and message after the status. A code that only repeats the status (as
/// Databricks' `"error_code": 403` does) is left out, so that the status is not said twice.
fn vendor_suffix(status: u16, code: Option<&str>, message: Option<&str>) -> String {
    let code = code.filter(|code| *code != status.to_string());
    match (code, message) {
        (Some(code), Some(message)) => format!(" {code}: {message}"),
        (Some(text), None) | (None, Some(text)) => format!(": {text}"),
        (None, None) => String::new(),
    }
}

impl Error {
    /// Whether trying the same request again may succeed: 429, 5xx, and connection failures.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api { status, .. } => *status == 429 || (500..600).contains(status),
            Self::Transport { .. } => true,
            Self::Store { kind, .. } => *kind == StoreFailure::Unavailable,
            _ => false,
        }
    }

    /// Whether the server says the resource does not exist (404, or Salesforce's `NOT_FOUND`).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::Api { status: 404, .. }
                | Self::Store {
                    kind: StoreFailure::NotFound,
                    ..
                }
        ) || self.vendor_code() == Some("NOT_FOUND")
    }

    /// Whether credentials were refused or could not be obtained.
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            Self::Auth { .. }
                | Self::Api { status: 401, .. }
                | Self::Store {
                    kind: StoreFailure::Denied,
                    ..
                }
        ) || self.vendor_code() == Some("INVALID_SESSION_ID")
    }

    /// Whether a wait or a request ran out of time.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            Self::Timeout { .. }
                | Self::Transport {
                    timed_out: true,
                    ..
                }
        )
    }

    /// Whether a job ended in failure or was aborted ([`Error::JobFailed`]).
    pub fn is_job_failed(&self) -> bool {
        matches!(self, Self::JobFailed { .. })
    }

    /// Whether downloaded data disagrees with what the server said it would hold.
    pub fn is_integrity(&self) -> bool {
        matches!(self, Self::Integrity { .. })
    }

    /// Whether a downloaded value does not read as its column's type ([`Error::InvalidValue`]).
    pub fn is_invalid_value(&self) -> bool {
        matches!(self, Self::InvalidValue { .. })
    }

    /// Whether the caller's input cannot be used (found before anything was sent).
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, Self::InvalidInput { .. })
    }

    /// Whether the server refused the request as malformed (400): bad SOQL, an unknown object or
    /// field.
    pub fn is_bad_request(&self) -> bool {
        self.status() == Some(400)
    }

    /// Whether an object store refused or failed a request ([`Error::Store`]).
    pub fn is_store(&self) -> bool {
        matches!(self, Self::Store { .. })
    }

    /// Whether the caller cancelled the work.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Self::Cancelled)
    }

    /// Whether the org's allocation is used up: its daily API requests (`REQUEST_LIMIT_EXCEEDED`)
    /// or another daily limit, such as bulk query jobs (`LIMIT_EXCEEDED`).
    pub fn is_limit_exceeded(&self) -> bool {
        matches!(
            self.vendor_code(),
            Some("REQUEST_LIMIT_EXCEEDED" | "LIMIT_EXCEEDED")
        )
    }

    /// Whether work was not started because its caller's budget is spent
    /// ([`Error::BudgetSpent`]).
    pub fn is_budget_spent(&self) -> bool {
        matches!(self, Self::BudgetSpent { .. })
    }

    /// The HTTP status of an error answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The vendor's error code, such as `INVALID_SESSION_ID`.
    pub fn vendor_code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// What the server last said about a job that failed ([`Error::JobFailed`]), if it is a `T`:
    /// each family names its type (such as `haul::salesforce::query::QueryJobInfo`) and offers a
    /// typed accessor of its own.
    pub fn failed_job<T: Any>(&self) -> Option<&T> {
        match self {
            Self::JobFailed { job: Some(job), .. } => job.downcast_ref(),
            _ => None,
        }
    }

    /// How long the server asked to wait before trying again (`Retry-After` in seconds).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The vendor's error message.
    pub fn vendor_message(&self) -> Option<&str> {
        match self {
            Self::Api { message, .. } => message.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn budget_spent(detail: impl Into<String>) -> Self {
        Self::BudgetSpent {
            detail: detail.into(),
        }
    }

    pub(crate) fn invalid_input(detail: impl Into<String>) -> Self {
        Self::InvalidInput {
            detail: detail.into(),
        }
    }

    pub(crate) fn invalid_response(operation: &'static str, detail: impl Into<String>) -> Self {
        Self::InvalidResponse {
            operation,
            detail: detail.into(),
        }
    }

    pub(crate) fn integrity(detail: impl Into<String>) -> Self {
        Self::Integrity {
            detail: detail.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// For a failed connection, whether it never opened (so the server cannot have seen the
    /// request); `None` for every other error.
    pub(crate) fn connection_failure(&self) -> Option<bool> {
        match self {
            Self::Transport { source, .. } => Some(
                source
                    .downcast_ref::<reqwest_error::Error>()
                    .is_some_and(reqwest_error::Error::is_connect),
            ),
            _ => None,
        }
    }

    pub(crate) fn transport(operation: &'static str, source: reqwest_error::Error) -> Self {
        Self::Transport {
            operation,
            timed_out: source.is_timeout(),
            source: Box::new(source),
        }
    }
}

// Kept private: reqwest is an implementation detail and never named in haul's public API.
mod reqwest_error {
    pub(crate) use haul_client::reqwest::Error;
}

pub(crate) use convert::{VendorBody, bounded, from_client};

mod convert {
    use haul_client::progenitor_client::Error as ClientError;

    use super::Error;
    use crate::retry::retry_after;

    /// A generated error body from which the vendor's code and message can be read. Each family
    /// implements it for its own generated error types.
    pub(crate) trait VendorBody {
        /// The vendor's error code and message, as the body gives them.
        fn code_and_message(&self) -> (Option<String>, Option<String>);
    }

    /// Maps an error of the generated client onto [`Error`].
    pub(crate) fn from_client<E: VendorBody>(
        operation: &'static str,
        error: ClientError<E>,
    ) -> Error {
        match error {
            ClientError::ErrorResponse(response) => {
                let status = response.status().as_u16();
                let retry_after = retry_after(response.headers());
                let (code, message) = response.into_inner().code_and_message();
                Error::Api {
                    operation,
                    status,
                    code: code.map(bounded),
                    message: message.map(bounded),
                    retry_after,
                }
            }
            ClientError::UnexpectedResponse(response) => Error::Api {
                operation,
                status: response.status().as_u16(),
                code: None,
                message: redirect_note(&response),
                retry_after: retry_after(response.headers()),
            },
            ClientError::CommunicationError(source)
            | ClientError::ResponseBodyError(source)
            | ClientError::InvalidUpgrade(source) => Error::transport(operation, source),
            ClientError::InvalidResponsePayload(body, source) => Error::invalid_response(
                operation,
                format!("{source} (body starts {:?})", preview(&body)),
            ),
            ClientError::InvalidRequest(detail) | ClientError::Custom(detail) => {
                Error::invalid_input(format!("{operation}: {detail}"))
            }
        }
    }

    /// Why a redirect is an error: these APIs never redirect, and following one could carry the
    /// token to whoever the `Location` names.
    fn redirect_note(response: &haul_client::reqwest::Response) -> Option<String> {
        if !response.status().is_redirection() {
            return None;
        }
        let location = response
            .headers()
            .get(haul_client::reqwest::header::LOCATION)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .unwrap_or_else(|| "nowhere".to_owned());
        Some(bounded(format!(
            "a redirect to {location} was not followed: haul never follows redirects, so that \
             the token cannot be sent elsewhere"
        )))
    }

    /// The longest vendor code or message kept, in characters; a server may send megabytes.
    pub(super) const MAX_VENDOR_TEXT: usize = 1000;

    /// `text`, cut to [`MAX_VENDOR_TEXT`] characters with a note of how long it was.
    pub(crate) fn bounded(text: String) -> String {
        match text.char_indices().nth(MAX_VENDOR_TEXT) {
            None => text,
            Some((end, _)) => format!("{}... (cut; {} bytes in all)", &text[..end], text.len()),
        }
    }

    /// The first bytes of a body, for error messages: bounded, whatever the server sent.
    fn preview(body: &[u8]) -> String {
        String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Every error of the chain leaves its cause to the chain: its `Display` does not hold its
    /// source's, so printing the chain shows each cause once.
    fn assert_each_cause_printed_once(error: &(dyn std::error::Error + 'static)) {
        let mut current = Some(error);
        while let Some(error) = current {
            if let Some(source) = error.source() {
                let (shown, cause) = (error.to_string(), source.to_string());
                assert!(
                    !shown.contains(&cause),
                    "{shown:?} repeats its source {cause:?}"
                );
            }
            current = error.source();
        }
    }

    fn api(status: u16) -> Error {
        Error::Api {
            operation: "login",
            status,
            code: Some("NOT_FOUND".into()),
            message: Some("not found".into()),
            retry_after: Some(Duration::from_secs(1)),
        }
    }

    #[test]
    fn a_code_that_repeats_the_status_is_not_shown() {
        let error = Error::Api {
            operation: "get_statement",
            status: 403,
            code: Some("403".into()),
            message: Some("Invalid access token.".into()),
            retry_after: None,
        };
        assert_eq!(
            error.to_string(),
            "get_statement: the server answered 403: Invalid access token."
        );
        assert_eq!(
            api(404).to_string(),
            "login: the server answered 404 NOT_FOUND: not found"
        );
    }

    #[test]
    fn display_never_repeats_the_source() {
        let unbuildable = haul_client::reqwest::Client::new()
            .get("http://[::1")
            .build()
            .unwrap_err();
        let errors = [
            api(404),
            Error::transport("get_query_job", unbuildable),
            Error::Auth {
                detail: "Looker refused the API key \"id\" (HTTP 404)".into(),
                source: Some(Box::new(api(404))),
            },
            Error::Auth {
                detail: "the token endpoint could not be reached".into(),
                source: Some(Box::new(Error::io("x", std::io::Error::other("reset")))),
            },
            Error::Timeout {
                what: "query job 750".into(),
                waited: Duration::from_secs(1),
                last_state: "InProgress".into(),
            },
            Error::JobFailed {
                what: "query job 750".into(),
                state: "Failed".into(),
                message: Some("INVALID_FIELD".into()),
                job: Some(JobDetails::new("the job's status")),
            },
            Error::integrity("3 rows, not 4"),
            Error::invalid_input("no instance URL given"),
            Error::invalid_response("get_query_job", "no id"),
            Error::io("out/accounts.csv", std::io::Error::other("disk full")),
            Error::Cancelled,
        ];
        for error in &errors {
            assert_each_cause_printed_once(error);
        }
        let io = Error::io("out/accounts.csv", std::io::Error::other("disk full"));
        assert_eq!(io.to_string(), "out/accounts.csv: file access failed");
        assert_eq!(
            std::error::Error::source(&io).map(ToString::to_string),
            Some("disk full".into())
        );
    }

    #[test]
    fn predicates_tell_the_kinds_apart() {
        let failed = Error::JobFailed {
            what: "query job 750".into(),
            state: "Failed".into(),
            message: None,
            job: Some(JobDetails::new(42u32)),
        };
        assert!(failed.is_job_failed() && !failed.is_retryable());
        assert_eq!(failed.failed_job::<u32>(), Some(&42));
        assert_eq!(failed.failed_job::<String>(), None);
        assert!(Error::integrity("x").is_integrity());
        assert!(Error::invalid_input("x").is_invalid_input());
        assert!(Error::Cancelled.is_cancelled());
        assert!(api(400).is_bad_request() && !api(404).is_bad_request());
        assert!(api(404).is_not_found());
        for error in [Error::integrity("x"), Error::Cancelled, api(503)] {
            assert!(!error.is_job_failed() && !error.is_invalid_input());
        }
    }
}
