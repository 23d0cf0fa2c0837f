//! What an extract reports: per object what was read, how, and what was left out; the run as a
//! whole (also written as `DEST/_runs/<run id>.json`); and the progress while it runs.

use serde::{Deserialize, Serialize};

/// A finished extract run: one entry per object, in the order they were asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExtractReport {
    /// The run's id, also its folders' name (`run=<id>`): its start, UTC.
    pub run_id: String,
    /// Where the run landed (the destination given).
    pub destination: String,
    /// When the run started and finished (RFC 3339, UTC).
    pub started_at: String,
    /// When the run finished.
    pub finished_at: String,
    /// Each object's outcome.
    pub objects: Vec<ObjectReport>,
    /// What the run spent of the org's daily allowances, and whether it stopped on its budget
    /// (empty in the summaries of runs from before budgets).
    #[serde(default)]
    pub budget: BudgetReport,
}

/// What a run spent of the org's daily allowances and what remained; see
/// [`ExtractBuilder::max_api_requests`](super::ExtractBuilder::max_api_requests).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BudgetReport {
    /// Why the run stopped starting objects and windows, when it did: its budget was spent, or
    /// the org refused a request on one of its daily limits.
    pub stopped: Option<String>,
    /// API requests the org counted during the run (requests of other clients meanwhile
    /// included).
    pub requests_spent: u64,
    /// The org's API requests left at the end, as last reported.
    pub requests_remaining: u64,
    /// The org's daily API request allowance (`DailyApiRequests`).
    pub requests_max: u64,
    /// Bulk query jobs the run started.
    pub jobs_spent: u64,
    /// The org's bulk query jobs left, as last read.
    pub jobs_remaining: u64,
    /// The org's daily bulk query job allowance (`DailyBulkV2QueryJobs`).
    pub jobs_max: u64,
    /// The objects left for the next run because the budget or an org limit stopped them (their
    /// state untouched).
    pub left_for_next_run: Vec<String>,
}

impl ExtractReport {
    /// Whether every object landed.
    pub fn is_complete(&self) -> bool {
        self.objects.iter().all(|o| o.error.is_none())
    }

    /// The objects that failed.
    pub fn failed(&self) -> impl Iterator<Item = &ObjectReport> {
        self.objects.iter().filter(|o| o.error.is_some())
    }

    /// Whether the run stopped on its budget or an org limit, leaving objects for the next run.
    pub fn stopped_on_budget(&self) -> bool {
        self.budget.stopped.is_some()
    }

    /// Rows landed, all objects together.
    pub fn rows(&self) -> u64 {
        self.objects.iter().map(|o| o.rows).sum()
    }
}

/// One object's part of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ObjectReport {
    /// The object's API name.
    pub object: String,
    /// Why the object failed; `None` when it landed. A failed object's state is left as it was.
    pub error: Option<String>,
    /// What kind of failure that was, for scripts.
    pub failure: Option<FailureKind>,
    /// The folder of this run's data (`DEST/<Object>/run=<id>/`).
    pub folder: String,
    /// How the rows were read.
    pub api: ReadPath,
    /// The cursor field, `None` for an object read whole every run.
    pub cursor_field: Option<String>,
    /// The cursor where the run started reading (the last cursor minus the lookback), `None` on a
    /// first run.
    pub read_from: Option<String>,
    /// The cursor after the run (the newest stamp landed so far).
    pub cursor: Option<String>,
    /// Rows landed.
    pub rows: u64,
    /// Rows landed with `IsDeleted` true.
    pub deleted_rows: u64,
    /// Rows read again within the lookback and dropped, already landed by an earlier run.
    pub already_landed: u64,
    /// Ids found gone since the last complete run and landed as deleted (`hard_deletes/`), with
    /// [`detect_hard_deletes`](super::ExtractBuilder::detect_hard_deletes).
    pub hard_deleted: u64,
    /// The fields selected.
    pub fields: Vec<String>,
    /// Compound fields replaced by their components.
    pub replaced: Vec<Replaced>,
    /// Fields left out, with the reason.
    pub left_out: Vec<LeftOut>,
    /// The windows read, one bulk job (or REST query) each, in cursor order.
    pub windows: Vec<WindowReport>,
    /// Windows that timed out and were split in halves.
    pub splits: Vec<Split>,
}

/// What kind of failure stopped an object, as the [`Error`](crate::Error) predicates tell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureKind {
    /// Authentication failed ([`Error::is_auth`](crate::Error::is_auth)).
    Auth,
    /// The org's API limit is used up.
    LimitExceeded,
    /// Not started, or not finished, because the run's budget was spent (or the org's limit
    /// reached by another object): the next run lands it.
    BudgetSpent,
    /// A job failed or was aborted.
    JobFailed,
    /// Landed data disagreed with the server's counts, or a value did not read as its type.
    Integrity,
    /// The object, a field, the filter or the state was refused.
    InvalidInput,
    /// The run was cancelled.
    Cancelled,
    /// Anything else (network, storage, an unexpected answer).
    Other,
}

impl FailureKind {
    /// The kind of `error`, the auth and limit predicates first (an expired session that failed
    /// a job is an auth failure).
    pub(crate) fn of(error: &crate::Error) -> Self {
        if error.is_budget_spent() {
            Self::BudgetSpent
        } else if error.is_auth() {
            Self::Auth
        } else if error.is_limit_exceeded() {
            Self::LimitExceeded
        } else if error.is_job_failed() {
            Self::JobFailed
        } else if error.is_integrity() || error.is_invalid_value() {
            Self::Integrity
        } else if error.is_cancelled() {
            Self::Cancelled
        } else if error.is_invalid_input() || error.is_bad_request() || error.is_not_found() {
            Self::InvalidInput
        } else {
            Self::Other
        }
    }
}

/// How an object's rows were read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReadPath {
    /// Bulk API 2.0 `queryAll` jobs.
    #[default]
    Bulk,
    /// The REST API's `queryAll`, because the Bulk API cannot serve the object.
    Rest {
        /// What the Bulk API answered.
        reason: String,
    },
}

/// A compound field replaced by its components.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Replaced {
    /// The compound field (`BillingAddress`).
    pub field: String,
    /// What was selected instead (`BillingStreet`, `BillingCity`, ...).
    pub components: Vec<String>,
}

/// A field left out of the extract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LeftOut {
    /// The field.
    pub field: String,
    /// Why.
    pub reason: String,
}

/// One window of the cursor, read by one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WindowReport {
    /// The window, `[from, to)` (`open` for no bound).
    pub window: String,
    /// The folder it landed in, relative to the run's folder (`w000`).
    pub folder: String,
    /// The bulk job that read it, when one did.
    pub job: Option<String>,
    /// Rows landed.
    pub rows: u64,
}

/// A window that timed out and was split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Split {
    /// The window that timed out.
    pub window: String,
    /// What the server said.
    pub error: String,
}

/// How far an extract has come, object by object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExtractProgress {
    /// Each object, in the order they were asked for.
    pub objects: Vec<ObjectProgress>,
}

impl ExtractProgress {
    /// Rows landed so far, all objects together.
    pub fn rows(&self) -> u64 {
        self.objects.iter().map(|o| o.rows).sum()
    }

    /// Objects finished (landed or failed).
    pub fn finished(&self) -> usize {
        self.objects
            .iter()
            .filter(|o| matches!(o.phase, ObjectPhase::Landed | ObjectPhase::Failed))
            .count()
    }
}

/// One object's progress.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectProgress {
    /// The object.
    pub object: String,
    /// Where it stands.
    pub phase: ObjectPhase,
    /// Rows landed so far by this run.
    pub rows: u64,
    /// Windows read so far.
    pub windows: usize,
}

/// Where an object stands in a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObjectPhase {
    /// Not started.
    #[default]
    Waiting,
    /// Being described and planned.
    Planning,
    /// A job is being waited for.
    Querying,
    /// Results are being downloaded.
    Downloading,
    /// Landed, state saved.
    Landed,
    /// Failed; its state was left as it was.
    Failed,
}
