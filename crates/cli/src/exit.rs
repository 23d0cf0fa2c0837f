//! Exit codes: one per kind of failure a script may want to tell apart (see `args::EXIT_CODES`).

use std::process::ExitCode;

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

fn haul_code(error: &haul::Error) -> u8 {
    if error.is_auth() {
        3
    } else if error.is_limit_exceeded() {
        5
    } else {
        match error {
            haul::Error::JobFailed { .. } => 4,
            haul::Error::Integrity { .. } => 6,
            haul::Error::InvalidInput { .. } => 2,
            haul::Error::Cancelled => 130,
            // The server refused the user's input: malformed SOQL, unknown object or field, no such job.
            haul::Error::Api {
                status: 400 | 404, ..
            } => 2,
            _ => 1,
        }
    }
}
