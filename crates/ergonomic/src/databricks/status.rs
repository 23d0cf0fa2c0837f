//! Waiting for a statement: the one place its states map onto the common [`Phase`].

use std::sync::Mutex;

use futures::future::BoxFuture;
use haul_client::databricks_sql_statements::{Client, types};
use haul_types::StatementState;

use super::{Databricks, api_error};
use crate::error::{Error, Result};
use crate::poll::{Phase, Pollable};

/// The statement family's view of a statement for the [`Poller`](crate::Poller).
pub(crate) struct StatementPoll {
    /// Sends each status request once: the poll loop is the retry.
    poll: Client,
    /// Cancels with retries.
    control: Client,
    id: String,
    /// The submission's answer: the first round reads it instead of asking again, so that a
    /// statement that finished within the server's wait costs no status request.
    first: Mutex<Option<types::StatementResponse>>,
}

impl StatementPoll {
    pub(crate) fn new(
        db: &Databricks,
        id: String,
        first: Option<types::StatementResponse>,
    ) -> Self {
        Self {
            poll: db.client(true),
            control: db.client(false),
            id,
            first: Mutex::new(first),
        }
    }
}

impl Pollable for StatementPoll {
    type Status = types::StatementResponse;

    fn describe(&self) -> String {
        describe(&self.id)
    }

    fn fetch(&self) -> BoxFuture<'_, Result<types::StatementResponse>> {
        let first = self
            .first
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        Box::pin(async move {
            match first {
                Some(answer) => Ok(answer),
                None => fetch(&self.poll, &self.id).await,
            }
        })
    }

    fn phase(response: &types::StatementResponse) -> Phase {
        let status = response.status.as_ref();
        match status.and_then(|s| s.state.as_ref()) {
            Some(StatementState::Succeeded) => Phase::Succeeded,
            Some(
                state
                @ (StatementState::Failed | StatementState::Canceled | StatementState::Closed),
            ) => Phase::Failed {
                message: status
                    .and_then(|s| s.error.as_ref())
                    .and_then(|e| e.message.clone())
                    .or_else(|| explain(state).map(str::to_owned)),
            },
            // PENDING, RUNNING, no state yet, and states this version does not know: keep
            // waiting, the overall timeout still bounds the wait.
            _ => Phase::Pending,
        }
    }

    fn state_name(response: &types::StatementResponse) -> String {
        response
            .status
            .as_ref()
            .and_then(|s| s.state.as_ref())
            .map_or_else(|| "unknown".to_owned(), ToString::to_string)
    }

    fn abort(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(cancel(&self.control, &self.id))
    }
}

/// `GET /api/2.0/sql/statements/{id}`.
pub(crate) async fn fetch(client: &Client, id: &str) -> Result<types::StatementResponse> {
    Ok(client
        .get_statement()
        .statement_id(id)
        .send()
        .await
        .map_err(|e| api_error("get_statement", e))?
        .into_inner())
}

/// `POST /api/2.0/sql/statements/{id}/cancel`.
pub(crate) async fn cancel(client: &Client, id: &str) -> Result<()> {
    client
        .cancel_statement()
        .statement_id(id)
        .send()
        .await
        .map_err(|e| api_error("cancel_statement", e))?;
    Ok(())
}

/// Names a statement in errors and logs.
pub(crate) fn describe(id: &str) -> String {
    format!("Databricks statement {id}")
}

/// What a final state means when Databricks gives no message of its own.
fn explain(state: &StatementState) -> Option<&'static str> {
    match state {
        StatementState::Canceled => Some("the statement was cancelled"),
        StatementState::Closed => Some("its result was closed and can no longer be read"),
        _ => None,
    }
}

/// The statement as the server last gave it (its `status.error` says why it failed), when
/// `error` is a wait for a Databricks statement that ended `FAILED`, `CANCELED` or `CLOSED`
/// ([`Error::JobFailed`]).
pub fn failed_job(error: &Error) -> Option<&types::StatementResponse> {
    error.failed_job()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(json: &str) -> types::StatementResponse {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn states_map_onto_phases() {
        let phase = |state: &str| {
            StatementPoll::phase(&response(&format!(
                r#"{{"statement_id":"s","status":{{"state":"{state}"}}}}"#
            )))
        };
        assert_eq!(phase("PENDING"), Phase::Pending);
        assert_eq!(phase("RUNNING"), Phase::Pending);
        assert_eq!(phase("SOMETHING_NEW"), Phase::Pending);
        assert_eq!(phase("SUCCEEDED"), Phase::Succeeded);
        assert_eq!(
            phase("CANCELED"),
            Phase::Failed {
                message: Some("the statement was cancelled".into())
            }
        );
        let failed = response(
            r#"{"statement_id":"s","status":{"state":"FAILED","error":{"error_code":"BAD_REQUEST","message":"[TABLE_OR_VIEW_NOT_FOUND] nope"}}}"#,
        );
        assert_eq!(
            StatementPoll::phase(&failed),
            Phase::Failed {
                message: Some("[TABLE_OR_VIEW_NOT_FOUND] nope".into())
            }
        );
        assert_eq!(StatementPoll::state_name(&failed), "FAILED");
        assert_eq!(StatementPoll::phase(&response("{}")), Phase::Pending);
    }
}
