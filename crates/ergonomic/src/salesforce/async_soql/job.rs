//! One Async SOQL query on the server: its information, cancelling it, and waiting for it.

use futures::future::BoxFuture;
use haul_client::salesforce_async_soql::Client;
use haul_types::{ApiVersion, AsyncQueryStatus};

use super::AsyncQueryInfo;
use crate::error::{Error, Result, from_client};
use crate::poll::{Phase, Pollable, Poller};
use crate::salesforce::Salesforce;

/// An Async SOQL query on the server. Cheap to clone; `Send + Sync`.
#[derive(Debug, Clone)]
pub struct AsyncQueryJob {
    sf: Salesforce,
    /// Checked to be ASCII letters and digits, so it is safe in a URL path.
    id: String,
    version: ApiVersion,
}

impl AsyncQueryJob {
    pub(crate) fn new(sf: Salesforce, id: String, version: ApiVersion) -> Self {
        Self { sf, id, version }
    }

    /// The query's id (a BackgroundOperation record id, key prefix `08P`).
    pub fn id(&self) -> &str {
        &self.id
    }

    fn client(&self, single_shot: bool) -> Client {
        self.sf
            .generated(self.version, single_shot, Client::new_with_client)
    }

    /// The query's current information.
    pub async fn info(&self) -> Result<AsyncQueryInfo> {
        fetch_info(&self.client(false), &self.id).await
    }

    /// Cancels the query (possible until it has finished); its status becomes `Canceled`.
    pub async fn cancel(&self) -> Result<()> {
        cancel(&self.client(false), &self.id).await
    }

    /// Waits until the query has finished: `Complete` is success; `Failed` (or the older `Error`)
    /// and `Canceled` become [`Error::JobFailed`](crate::Error::JobFailed) with the query's `message`.
    pub fn wait(&self) -> Poller<AsyncQueryInfo> {
        let status = Status {
            poll: self.client(true),
            control: self.client(false),
            id: self.id.clone(),
        };
        Poller::new(status, |info| info)
    }
}

async fn fetch_info(client: &Client, id: &str) -> Result<AsyncQueryInfo> {
    Ok(client
        .get_async_query()
        .job_id(id)
        .send()
        .await
        .map_err(|e| from_client("get_async_query", e))?
        .into_inner())
}

async fn cancel(client: &Client, id: &str) -> Result<()> {
    client
        .cancel_async_query()
        .job_id(id)
        .send()
        .await
        .map_err(|e| from_client("cancel_async_query", e))?;
    Ok(())
}

/// Where an Async SOQL query stands: the one place its statuses map onto [`Phase`].
fn phase(info: &AsyncQueryInfo) -> Phase {
    match &info.status {
        AsyncQueryStatus::Complete => Phase::Succeeded,
        AsyncQueryStatus::Failed | AsyncQueryStatus::Error | AsyncQueryStatus::Canceled => {
            Phase::Failed {
                // The server often sends an empty message.
                message: info.message.clone().filter(|m| !m.trim().is_empty()),
            }
        }
        // New, Scheduled, Running, and statuses this version does not know yet: the overall
        // timeout still bounds the wait.
        _ => Phase::Pending,
    }
}

/// The Async SOQL family's view of a query for the [`Poller`].
struct Status {
    /// Sends each status request once: the poll loop is the retry.
    poll: Client,
    /// Cancels with retries.
    control: Client,
    id: String,
}

impl Pollable for Status {
    type Status = AsyncQueryInfo;

    fn describe(&self) -> String {
        format!("async query {}", self.id)
    }

    fn fetch(&self) -> BoxFuture<'_, Result<AsyncQueryInfo>> {
        Box::pin(fetch_info(&self.poll, &self.id))
    }

    fn phase(info: &AsyncQueryInfo) -> Phase {
        phase(info)
    }

    fn state_name(info: &AsyncQueryInfo) -> String {
        info.status.to_string()
    }

    fn abort(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(cancel(&self.control, &self.id))
    }
}

/// The query's information as the server last gave it, when `error` is a wait for an Async SOQL
/// query that ended `Failed` or `Canceled` ([`Error::JobFailed`]).
pub fn failed_job(error: &Error) -> Option<&AsyncQueryInfo> {
    error.failed_job()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(status: &str, message: &str) -> AsyncQueryInfo {
        serde_json::from_value(serde_json::json!({
            "jobId": "08PD000000003kiT",
            "status": status,
            "message": message,
        }))
        .unwrap()
    }

    #[test]
    fn maps_every_status_onto_a_phase() {
        assert_eq!(phase(&info("Complete", "")), Phase::Succeeded);
        for failed in ["Failed", "Error", "Canceled"] {
            assert_eq!(
                phase(&info(failed, "limit exceeded")),
                Phase::Failed {
                    message: Some("limit exceeded".into())
                }
            );
        }
        assert_eq!(phase(&info("Failed", "")), Phase::Failed { message: None });
        for pending in ["New", "Scheduled", "Running", "Paused"] {
            assert_eq!(phase(&info(pending, "")), Phase::Pending);
        }
    }
}
