//! A task's status as haul sees it, and the one place Looker's statuses map onto the common phase.

use haul_types::QueryTaskStatus;

use crate::error::{Error, JobDetails};
use crate::poll::Phase;

/// What one round of waiting saw of a query task.
///
/// While a task runs, its results answer 202 (or 204) without saying whether it is queued or
/// running; haul reports both as [`QueryTaskStatus::Running`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskProgress {
    /// The task's status.
    pub status: QueryTaskStatus,
    /// Looker's explanation of a failure (the database error of a task in `error`).
    pub message: Option<String>,
}

impl TaskProgress {
    pub(crate) fn new(status: QueryTaskStatus, message: Option<String>) -> Self {
        Self { status, message }
    }

    /// Maps the status onto the common phase: the single place the Looker family does so, for one
    /// task and for many alike.
    pub(crate) fn phase(&self) -> Phase {
        match &self.status {
            QueryTaskStatus::Complete => Phase::Succeeded,
            QueryTaskStatus::Error
            | QueryTaskStatus::Killed
            | QueryTaskStatus::Expired
            | QueryTaskStatus::Missing => Phase::Failed {
                message: self
                    .message
                    .clone()
                    .or_else(|| explain(&self.status).map(str::to_owned)),
            },
            // added, running, and statuses this version does not know: keep waiting, the overall
            // timeout still bounds the wait.
            _ => Phase::Pending,
        }
    }

    /// The error a task that ended in this state is reported as, if it failed.
    pub(crate) fn failure(&self, task_id: &str) -> Option<Error> {
        match self.phase() {
            Phase::Failed { message } => Some(Error::JobFailed {
                what: describe(task_id),
                state: self.status.to_string(),
                message,
                job: Some(JobDetails::new(self.clone())),
            }),
            Phase::Pending | Phase::Succeeded => None,
        }
    }
}

/// The task's status as last seen, when `error` is a wait for a Looker query task that ended
/// `error`, `killed`, `expired` or `missing` ([`Error::JobFailed`]); the error names the task.
pub fn failed_job(error: &Error) -> Option<&TaskProgress> {
    error.failed_job()
}

/// Names a task in errors and logs.
pub(crate) fn describe(task_id: &str) -> String {
    format!("Looker query task {task_id}")
}

/// What a failed status means when Looker gives no message of its own.
fn explain(status: &QueryTaskStatus) -> Option<&'static str> {
    match status {
        QueryTaskStatus::Killed => Some("the task was killed before it finished"),
        QueryTaskStatus::Expired => {
            Some("its cached results expired before they were read; run the query again")
        }
        QueryTaskStatus::Missing => Some("no such task, or one this user may not see"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_onto_phases() {
        let phase = |s: &str| TaskProgress::new(s.into(), None).phase();
        assert_eq!(phase("added"), Phase::Pending);
        assert_eq!(phase("running"), Phase::Pending);
        assert_eq!(phase("something_new"), Phase::Pending);
        assert_eq!(phase("complete"), Phase::Succeeded);
        assert_eq!(phase("error"), Phase::Failed { message: None });
        let expired = TaskProgress::new(QueryTaskStatus::Expired, None)
            .failure("t1")
            .unwrap();
        assert_eq!(
            expired.to_string(),
            "Looker query task t1 ended expired: its cached results expired before they were read; run the query again"
        );
    }
}
