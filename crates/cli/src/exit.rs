//! Exit codes: one per kind of failure a script may want to tell apart (see `args::EXIT_CODES`).

use std::process::ExitCode;

use haul::salesforce::extract::FailureKind;

/// Work that partly failed: an extract some of whose objects failed while the others landed.
pub(crate) const PARTIAL: u8 = 7;

/// An extract that stopped on its API budget or an org's daily limit, leaving objects for the
/// next run.
pub(crate) const BUDGET_SPENT: u8 = 8;

/// Raised when the user interrupts with Ctrl-C.
#[derive(Debug)]
pub(crate) struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// Bad input caught before anything was sent.
#[derive(Debug)]
pub(crate) struct Usage(pub(crate) String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

pub(crate) fn code_for(error: &anyhow::Error) -> ExitCode {
    if error.downcast_ref::<Interrupted>().is_some() {
        return ExitCode::from(130);
    }
    if error.downcast_ref::<Usage>().is_some() {
        return ExitCode::from(2);
    }
    match error.downcast_ref::<haul::Error>() {
        Some(error) => ExitCode::from(haul_code(error)),
        None => ExitCode::from(1),
    }
}

/// The exit code of an extract whose every object failed, by the first failure's kind: the code
/// the same error would give any other command.
pub(crate) fn code_of_failure(kind: Option<FailureKind>) -> u8 {
    match kind {
        Some(FailureKind::Auth) => 3,
        Some(FailureKind::LimitExceeded) => 5,
        Some(FailureKind::BudgetSpent) => BUDGET_SPENT,
        Some(FailureKind::JobFailed) => 4,
        Some(FailureKind::Integrity) => 6,
        Some(FailureKind::Cancelled) => 130,
        Some(FailureKind::InvalidInput) => 2,
        _ => 1,
    }
}

/// By predicate, in order of precedence: an expired session that made a job fail is reported as
/// authentication, not as the job.
fn haul_code(error: &haul::Error) -> u8 {
    if error.is_auth() {
        3
    } else if error.is_limit_exceeded() {
        5
    } else if error.is_job_failed() {
        4
    } else if error.is_integrity() || error.is_invalid_value() {
        6
    } else if error.is_cancelled() {
        130
    } else if error.is_invalid_input() || error.is_bad_request() || error.is_not_found() {
        // Refused before sending, or by the server: malformed SOQL, unknown object, field or job.
        2
    } else {
        1
    }
}
