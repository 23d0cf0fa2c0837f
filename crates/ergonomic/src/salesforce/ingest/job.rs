//! One ingest job on the server: creating it, its single upload, closing, aborting, deleting, and
//! waiting for it.

use std::path::Path;

use futures::future::BoxFuture;
use haul_client::salesforce_bulk_ingest::{Client, types};
use haul_types::{ApiVersion, IngestJobState, SalesforceId};

use super::{IngestJobInfo, upload_body};
use crate::error::{Error, Result, from_client};
use crate::poll::{Phase, Pollable, Poller};
use crate::retry::{self, Attempt, Replay};
use crate::salesforce::Salesforce;

/// An ingest job on the server. Cheap to clone; `Send + Sync`.
#[derive(Debug, Clone)]
pub struct IngestJob {
    sf: Salesforce,
    id: SalesforceId,
    version: ApiVersion,
}

impl IngestJob {
    pub(crate) fn new(sf: Salesforce, id: SalesforceId, version: ApiVersion) -> Self {
        Self { sf, id, version }
    }

    /// Creates a job (state `Open`) as `request` describes, again after a transient failure: a
    /// duplicate is an empty `Open` job that holds no data and is never closed.
    pub(crate) async fn create(
        sf: &Salesforce,
        request: types::CreateIngestJobRequest,
    ) -> Result<Self> {
        let version = sf.api_version();
        let client = sf.generated(version, true, Client::new_with_client);
        let info = sf
            .create_job("creating the ingest job", || async {
                client
                    .create_ingest_job()
                    .sforce_call_options("client=haul")
                    .body(request.clone())
                    .send()
                    .await
                    .map_err(|e| from_client("create_ingest_job", e))
            })
            .await?
            .into_inner();
        tracing::info!(job = %info.id, object = info.object.as_deref().unwrap_or("?"), "created ingest job");
        Ok(Self::new(sf.clone(), info.id, version))
    }

    /// The job's id.
    pub fn id(&self) -> &SalesforceId {
        &self.id
    }

    /// The API version the job is addressed with.
    pub fn api_version(&self) -> ApiVersion {
        self.version
    }

    /// The client's retry policy, for retries outside the transport (a result file cut mid-body).
    pub(crate) fn retry_policy(&self) -> &crate::RetryPolicy {
        self.sf.retry_policy()
    }

    pub(crate) fn client(&self, single_shot: bool) -> Client {
        self.sf
            .generated(self.version, single_shot, Client::new_with_client)
    }

    /// The job's current information.
    pub async fn info(&self) -> Result<IngestJobInfo> {
        fetch_info(&self.client(false), &self.id).await
    }

    /// Closes the job (`UploadComplete`) so that the server processes it; no data can be added after.
    pub async fn close(&self) -> Result<IngestJobInfo> {
        let closing = types::IngestJobStateChangeState::UploadComplete;
        let outcome = set_state(&self.client(false), &self.id, closing).await;
        self.already_done(outcome, |state| {
            use IngestJobState::*;
            matches!(state, UploadComplete | InProgress | JobComplete | Failed)
        })
        .await
    }

    /// A state change that the server refuses as `INVALIDJOBSTATE` may be the repetition of one
    /// whose answer was lost (the transport repeats a PATCH after a cut connection): when the job
    /// now stands where the change leads (`done`), that is success.
    async fn already_done(
        &self,
        outcome: Result<IngestJobInfo>,
        done: impl FnOnce(&IngestJobState) -> bool,
    ) -> Result<IngestJobInfo> {
        match outcome {
            Err(error) if error.vendor_code() == Some("INVALIDJOBSTATE") => {
                let info = self.info().await?;
                if done(&info.state) {
                    tracing::debug!(job = %self.id, state = %info.state, "the state change had been made");
                    Ok(info)
                } else {
                    Err(error)
                }
            }
            other => other,
        }
    }

    /// Aborts the job (possible while it is `Open`, `UploadComplete` or `InProgress`); rows it had
    /// not processed are listed by [`unprocessed_records`](Self::unprocessed_records).
    pub async fn abort(&self) -> Result<IngestJobInfo> {
        let outcome = abort(&self.client(false), &self.id).await;
        self.already_done(outcome, |state| *state == IngestJobState::Aborted)
            .await
    }

    /// Deletes the job and its results (possible once it is closed: `UploadComplete`, `JobComplete`,
    /// `Aborted` or `Failed`).
    pub async fn delete(&self) -> Result<()> {
        self.client(false)
            .delete_ingest_job()
            .job_id(self.id.clone())
            .send()
            .await
            .map_err(|e| from_client("delete_ingest_job", e))?;
        Ok(())
    }

    /// Uploads the job's one CSV from `path`, streamed from the file.
    ///
    /// The body streams from the file, so the transport cannot send it again; the retry loop does,
    /// through [`Upload`].
    pub(crate) async fn upload(&self, path: &Path) -> Result<()> {
        let mut upload = Upload {
            job: self,
            path,
            maybe_delivered: false,
        };
        let policy = self.retry_policy();
        retry::drive(
            policy,
            Replay::Guarded,
            "uploading the job's data",
            &mut upload,
        )
        .await
    }

    async fn put(&self, path: &Path) -> Result<()> {
        let body = upload_body::file_body(path).await?;
        self.client(true)
            .upload_ingest_job_data()
            .job_id(self.id.clone())
            .content_type("text/csv")
            .body(body)
            .send()
            .await
            .map_err(|e| from_client("upload_ingest_job_data", e))?;
        Ok(())
    }

    /// Waits until the job has finished. `JobComplete` is success even when rows failed (they are in
    /// [`failed_results`](Self::failed_results)); `Failed` and `Aborted` become
    /// [`Error::JobFailed`](crate::Error::JobFailed) with the job's `errorMessage`. A job still `Open` fails at once: nothing
    /// happens to it until it is [closed](Self::close).
    pub fn wait(&self) -> Poller<IngestJobInfo> {
        Poller::new(Status::<false>::new(self), |info| info)
    }

    /// Waits for a job this client has just closed (where `Open` can only be a stale answer).
    pub(crate) fn wait_closed(&self) -> Poller<IngestJobInfo> {
        Poller::new(Status::<true>::new(self), |info| info)
    }
}

async fn fetch_info(client: &Client, id: &SalesforceId) -> Result<IngestJobInfo> {
    Ok(client
        .get_ingest_job()
        .job_id(id.clone())
        .send()
        .await
        .map_err(|e| from_client("get_ingest_job", e))?
        .into_inner())
}

async fn set_state(
    client: &Client,
    id: &SalesforceId,
    state: types::IngestJobStateChangeState,
) -> Result<IngestJobInfo> {
    Ok(client
        .set_ingest_job_state()
        .job_id(id.clone())
        .body(types::IngestJobStateChange { state })
        .send()
        .await
        .map_err(|e| from_client("set_ingest_job_state", e))?
        .into_inner())
}

async fn abort(client: &Client, id: &SalesforceId) -> Result<IngestJobInfo> {
    set_state(client, id, types::IngestJobStateChangeState::Aborted).await
}

/// Where an ingest job stands: the one place ingest states map onto [`Phase`].
fn phase(info: &IngestJobInfo, closed: bool) -> Phase {
    match &info.state {
        // Rows that failed are reported in the results, not as a failure of the job.
        IngestJobState::JobComplete => Phase::Succeeded,
        IngestJobState::Failed | IngestJobState::Aborted => Phase::Failed {
            message: info.error_message.clone(),
        },
        IngestJobState::Open if !closed => Phase::Failed {
            message: Some(
                "the job is still Open: it is processed only once closed (UploadComplete)".into(),
            ),
        },
        // UploadComplete, InProgress, and states this version does not know yet: the overall
        // timeout still bounds the wait.
        _ => Phase::Pending,
    }
}

/// The ingest family's view of a job for the [`Poller`]; `CLOSED` when this client closed it.
struct Status<const CLOSED: bool> {
    /// Sends each status request once: the poll loop is the retry.
    poll: Client,
    /// Aborts with retries.
    control: Client,
    id: SalesforceId,
}

impl<const CLOSED: bool> Status<CLOSED> {
    fn new(job: &IngestJob) -> Self {
        Self {
            poll: job.client(true),
            control: job.client(false),
            id: job.id.clone(),
        }
    }
}

impl<const CLOSED: bool> Pollable for Status<CLOSED> {
    type Status = IngestJobInfo;

    fn describe(&self) -> String {
        format!("ingest job {}", self.id)
    }

    fn fetch(&self) -> BoxFuture<'_, Result<IngestJobInfo>> {
        Box::pin(fetch_info(&self.poll, &self.id))
    }

    fn phase(info: &IngestJobInfo) -> Phase {
        phase(info, CLOSED)
    }

    fn state_name(info: &IngestJobInfo) -> String {
        info.state.to_string()
    }

    fn abort(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move { abort(&self.control, &self.id).await.map(drop) })
    }
}

/// One attempt at a job's upload. A job takes one upload only: when an attempt failed in a way that
/// may have delivered the data (a cut connection, a 5xx) and the next one is refused as a second
/// upload, the data did arrive, and that is success.
struct Upload<'a> {
    job: &'a IngestJob,
    path: &'a Path,
    maybe_delivered: bool,
}

impl Attempt for Upload<'_> {
    type Output = Result<()>;

    async fn attempt(&mut self) -> Result<()> {
        let error = match self.job.put(self.path).await {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        if self.maybe_delivered && is_second_upload(&error) {
            tracing::info!(job = %self.job.id, "an interrupted upload had delivered the data");
            return Ok(());
        }
        // 429 and 503 say the request was not handled; a refused token, that it was not taken.
        self.maybe_delivered |= error.is_retryable() && !matches!(error.status(), Some(429 | 503));
        Err(error)
    }

    /// The transport cannot renew the token and resend a streamed body; a status request, which it
    /// can resend, renews the token first.
    async fn refresh(&mut self) -> bool {
        self.job.info().await.is_ok()
    }
}

/// The ingest job's information as the server last gave it, when `error` is a wait for an ingest
/// job that ended `Failed` or `Aborted` ([`Error::JobFailed`]).
pub fn failed_job(error: &Error) -> Option<&IngestJobInfo> {
    error.failed_job()
}

/// Salesforce's refusal of a second upload to one job ("Found multiple contents for job").
fn is_second_upload(error: &Error) -> bool {
    error.status() == Some(400)
        && error.vendor_code() == Some("INVALIDJOBSTATE")
        && error
            .vendor_message()
            .is_some_and(|message| message.contains("multiple contents"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(state: &str, error: Option<&str>) -> IngestJobInfo {
        serde_json::from_value(serde_json::json!({
            "id": "750R0000000zlh9IAA",
            "state": state,
            "errorMessage": error,
            "numberRecordsFailed": 3,
        }))
        .unwrap()
    }

    #[test]
    fn maps_every_state_onto_a_phase() {
        assert_eq!(phase(&info("JobComplete", None), true), Phase::Succeeded);
        assert_eq!(
            phase(&info("Failed", Some("InvalidBatch : x")), true),
            Phase::Failed {
                message: Some("InvalidBatch : x".into())
            }
        );
        assert_eq!(
            phase(&info("Aborted", None), true),
            Phase::Failed { message: None }
        );
        assert_eq!(phase(&info("Open", None), true), Phase::Pending);
        assert!(matches!(
            phase(&info("Open", None), false),
            Phase::Failed { .. }
        ));
        for pending in ["UploadComplete", "InProgress", "SomethingNew"] {
            assert_eq!(phase(&info(pending, None), false), Phase::Pending);
        }
    }
}
