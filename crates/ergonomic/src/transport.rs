//! The executor every generated request goes through: retries, and one token refresh on 401.

use std::sync::Arc;

use futures::future::BoxFuture;
use haul_client::reqwest::{
    self, StatusCode,
    header::{ACCEPT, AUTHORIZATION, HeaderValue},
};
use haul_client::{Execute, TokenSource};

use crate::error::Result;
use crate::http::RequestLimit;
use crate::permit::PermittedBody;
use crate::retry::RetryPolicy;

/// A token source that can obtain a new token: Salesforce's OAuth flows, Looker's login.
pub(crate) trait Refresh: TokenSource {
    /// Whether a new token can be obtained at all (a fixed access token cannot be).
    fn can_refresh(&self) -> bool;

    /// Obtains a new token unless another request already replaced `stale` (the value it was sent
    /// with) in the meantime; many requests failing at once cause one token request.
    fn refresh<'a>(&'a self, stale: Option<&'a HeaderValue>) -> BoxFuture<'a, Result<()>>;
}

/// Sends requests under a [`RetryPolicy`], obtaining a token first when there is none yet and
/// refreshing it once when the server answers 401.
pub(crate) struct Transport {
    pub(crate) retry: RetryPolicy,
    pub(crate) auth: Arc<dyn Refresh>,
    /// Shared by every context of one client.
    pub(crate) limit: RequestLimit,
}

/// Token refreshes one request may cause, however long its retries last.
const MAX_REFRESHES: u32 = 3;

impl Execute for Transport {
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
    ) -> BoxFuture<'a, reqwest::Result<reqwest::Response>> {
        Box::pin(self.send(client, request))
    }
}

impl Transport {
    async fn send(
        &self,
        client: &reqwest::Client,
        mut request: reqwest::Request,
    ) -> reqwest::Result<reqwest::Response> {
        if self.auth.authorization().is_none() && self.auth.can_refresh() {
            self.refresh_into(&mut request, None).await;
        }
        let method = request.method().clone();
        // A token may expire again while a request waits out its retries, so one request may need
        // more than one refresh; the cap ends a request whose fresh tokens are refused too.
        let mut refreshes = 0;
        let mut attempt = 1;
        loop {
            let spare = request.try_clone();
            let buffered = expects_json(&request);
            let outcome = self.send_once(client, request, buffered).await;
            let unauthorized =
                matches!(&outcome, Ok(response) if response.status() == StatusCode::UNAUTHORIZED);
            if unauthorized && refreshes < MAX_REFRESHES && self.auth.can_refresh() {
                if let Some(mut again) = spare {
                    refreshes += 1;
                    let stale = again.headers().get(AUTHORIZATION).cloned();
                    if self.refresh_into(&mut again, stale).await {
                        request = again;
                        continue;
                    }
                }
                return outcome;
            }
            match (self.retry.decide(&method, attempt, &outcome), spare) {
                (Some(wait), Some(again)) => {
                    tracing::debug!(
                        %method,
                        path = again.url().path(),
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        outcome = %describe(&outcome),
                        "retrying"
                    );
                    tokio::time::sleep(wait).await;
                    request = again;
                    attempt += 1;
                }
                _ => return outcome,
            }
        }
    }

    /// Sends one attempt under a permit of the client's request limit, held until the answer's body
    /// is read: here for buffered answers, by the caller (through the body) for streamed ones.
    async fn send_once(
        &self,
        client: &reqwest::Client,
        request: reqwest::Request,
        buffered: bool,
    ) -> reqwest::Result<reqwest::Response> {
        // The semaphore is never closed, so acquiring only fails if that changes.
        let permit = self.limit.clone().acquire_owned().await.ok();
        match client.execute(request).await {
            // Reading the body here puts a connection cut mid-body under the retry policy too.
            // Error answers are read here whatever they hold, so that their size is capped.
            Ok(response) if buffered || is_error(response.status()) => read_whole(response).await,
            Ok(response) => Ok(match permit {
                Some(permit) => PermittedBody::attach(response, permit),
                None => response,
            }),
            Err(error) => Err(error),
        }
    }

    /// Refreshes the token and puts it on `request`; false when no token could be obtained.
    async fn refresh_into(
        &self,
        request: &mut reqwest::Request,
        stale: Option<HeaderValue>,
    ) -> bool {
        if let Err(error) = self.auth.refresh(stale.as_ref()).await {
            tracing::warn!(%error, "could not obtain an access token");
            return false;
        }
        match self.auth.authorization() {
            Some(value) => {
                request.headers_mut().insert(AUTHORIZATION, value);
                true
            }
            None => false,
        }
    }
}

/// JSON answers are small and parsed whole, so they are read inside the retry loop; CSV results and
/// Looker results (which do not ask for JSON) stay streamed to their callers.
fn expects_json(request: &reqwest::Request) -> bool {
    request
        .headers()
        .get(ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.starts_with("application/json"))
}

/// Whether `status` is an error answer, whose body the generated client reads whole.
fn is_error(status: StatusCode) -> bool {
    status.is_client_error() || status.is_server_error()
}

/// The most of a JSON body kept; a larger one is cut here and then fails to parse, so a hostile
/// server cannot make haul hold an unbounded body.
const MAX_JSON_BODY: usize = 64 << 20;

/// Reads the whole body and returns an equivalent response that holds it in memory.
async fn read_whole(mut response: reqwest::Response) -> reqwest::Result<reqwest::Response> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_JSON_BODY - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() == MAX_JSON_BODY {
            break;
        }
    }
    let mut rebuilt = http::Response::new(body);
    *rebuilt.status_mut() = response.status();
    *rebuilt.version_mut() = response.version();
    *rebuilt.headers_mut() = response.headers().clone();
    Ok(reqwest::Response::from(rebuilt))
}

fn describe(outcome: &reqwest::Result<reqwest::Response>) -> String {
    match outcome {
        Ok(response) => response.status().to_string(),
        Err(error) => error.to_string(),
    }
}
