//! Looker API 4.0: stored queries and the async query tasks that run them.
//!
//! ```no_run
//! # async fn example() -> haul::Result<()> {
//! use haul::looker::{Looker, LookerResultFormat, Query};
//!
//! let looker = Looker::builder()
//!     .base_url("https://acme.cloud.looker.com")
//!     .client_credentials("client-id", "client-secret")
//!     .build()?;
//! let query = Query::new("thelook", "orders")
//!     .fields(["orders.status", "orders.count"])
//!     .filter("orders.status", "-Cancelled")
//!     .sort("orders.count desc")
//!     .limit(500);
//! let id = looker.create_query(query).await?;
//! let csv = looker.run_query(&id).format(LookerResultFormat::Csv).text().await?;
//!
//! // Many tasks at once: one multi_results request per round of waiting covers them all.
//! let each = looker.run_queries([id.clone(), id]).format(LookerResultFormat::Json).await?;
//! for results in each {
//!     println!("{} bytes", results?.bytes().len());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! How haul waits, and why:
//! - **One task** ([`RunQuery`], [`QueryTask`]) is waited for by asking for its results directly:
//!   202 (or the legacy 204) means "not finished", 200 carries the results. Each round is one request
//!   and the last one already holds the results, which can then be streamed as they arrive. Only
//!   when the answer is 404 (killed, expired, or unknown) does haul ask `query_task` which it was.
//! - **Many tasks** ([`RunQueries`]) are waited for through `query_tasks/multi_results`: one request
//!   per round names every task still pending (in batches of at most [`MAX_IDS_PER_REQUEST`] ids to
//!   keep URLs short) and brings back the results of those that finished, so no task is polled on its
//!   own and no result is fetched twice.

mod batch;
mod query;
mod results;
mod session;
mod status;
mod task;
mod typed;

use std::sync::Arc;

use haul_client::looker_query_tasks::{Client, types};
use haul_client::progenitor_client::Error as ClientError;
use haul_client::{Context, NoToken, reqwest};

pub use batch::{BatchProgress, MAX_IDS_PER_REQUEST, RunQueries};
pub use haul_types::{LookerResultFormat, QueryTaskStatus};
pub use query::Query;
pub use results::{QueryResults, TaskResults};
pub use status::{TaskProgress, failed_job};
pub use task::{QueryTask, RunQuery};
pub use typed::ParquetResults;
pub use types::QueryTask as QueryTaskInfo;

use self::session::Session;
use crate::error::{Error, Result, VendorBody, from_client};
use crate::http::{ConnectionSettings, connection_setters};
use crate::secret::Secret;

/// A client of one Looker instance, logged in with an API key. Cheap to clone; clones share the
/// connections and the session.
///
/// The token is renewed shortly before it expires and whenever Looker answers 401. See the
/// [module documentation](self) for an example.
#[derive(Clone)]
pub struct Looker {
    inner: Arc<Inner>,
}

struct Inner {
    api_base: String,
    http: reqwest::Client,
    session: Arc<Session>,
    /// Ordinary calls: retried under the policy, token renewed on 401.
    retrying: Context,
    /// Status requests of a poll loop: sent once, since the loop itself is the retry.
    single_shot: Context,
    /// The retry policy, for loops outside the transport (creating a task again).
    retry: crate::RetryPolicy,
    logout_on_drop: bool,
}

impl std::fmt::Debug for Looker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Looker")
            .field("api_base", &self.inner.api_base)
            .field("logged_in", &self.inner.session.access_token().is_some())
            .field("logout_on_drop", &self.inner.logout_on_drop)
            .finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if !self.logout_on_drop || self.session.access_token().is_none() {
            return;
        }
        let session = self.session.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Err(error) = session.log_out().await {
                        tracing::warn!(%error, "could not log out of Looker");
                    }
                });
            }
            Err(_) => tracing::warn!("no runtime left to log out of Looker"),
        }
    }
}

impl Looker {
    /// Starts configuring a client.
    pub fn builder() -> LookerBuilder {
        LookerBuilder::default()
    }

    /// The API's base URL, `https://host/api/4.0`.
    pub fn api_base(&self) -> &str {
        &self.inner.api_base
    }

    /// The access token in use, for calling Looker endpoints haul does not cover (`None` once logged
    /// out). It never prints.
    pub fn access_token(&self) -> Option<Secret> {
        self.inner.session.access_token()
    }

    /// Ends the session: Looker revokes the token. The client stays usable; its next request logs
    /// in again.
    pub async fn logout(&self) -> Result<()> {
        self.inner.session.log_out().await
    }

    /// Stores `query` and returns its id. Queries are immutable: an identical query returns the id of
    /// the one stored before.
    pub async fn create_query(&self, query: Query) -> Result<String> {
        let stored = self
            .client(false)
            .create_query()
            .body(query.into_body())
            .send()
            .await
            .map_err(|e| api_error("create_query", e))?
            .into_inner();
        Ok(stored.id)
    }

    /// Logs in now, unless a token is already held, so that bad credentials fail here rather than
    /// at the first request.
    pub async fn connect(&self) -> Result<()> {
        self.inner.session.renew(None).await
    }

    /// A generated client; `single_shot` for the status requests of a poll loop.
    pub(crate) fn retry_policy(&self) -> &crate::RetryPolicy {
        &self.inner.retry
    }

    pub(crate) fn client(&self, single_shot: bool) -> Client {
        let context = if single_shot {
            &self.inner.single_shot
        } else {
            &self.inner.retrying
        };
        Client::new_with_client(
            &self.inner.api_base,
            self.inner.http.clone(),
            context.clone(),
        )
    }
}

/// Looker's error body: a message, and no code.
impl VendorBody for types::Error {
    fn code_and_message(&self) -> (Option<String>, Option<String>) {
        (None, self.message.clone())
    }
}

/// Maps a generated client's error, adding the field problems of a 422 to Looker's message
/// ("Validation Failed" alone says little).
pub(crate) fn api_error(operation: &'static str, error: ClientError<types::Error>) -> Error {
    let problems = match &error {
        ClientError::ErrorResponse(body) => body.errors.as_ref().map(|errors| {
            errors
                .iter()
                .filter_map(|e| e.message.as_deref())
                .collect::<Vec<_>>()
                .join("; ")
        }),
        _ => None,
    };
    let mut mapped = from_client(operation, error);
    if let (Error::Api { message, .. }, Some(problems)) = (&mut mapped, problems)
        && !problems.is_empty()
    {
        let head = message.take().unwrap_or_else(|| "invalid".into());
        *message = Some(format!("{head}: {problems}"));
    }
    mapped
}

/// Configures a [`Looker`] client.
#[derive(Debug, Default)]
#[must_use]
pub struct LookerBuilder {
    base_url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<Secret>,
    connection: ConnectionSettings,
    logout_on_drop: bool,
}

impl LookerBuilder {
    /// The instance's URL, such as `https://acme.cloud.looker.com` or `https://looker.acme.com:19999`
    /// (required). The API is under `/api/4.0`; a URL that already ends so is taken as it is.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The API key to log in with (required).
    pub fn client_credentials(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
    ) -> Self {
        self.client_id = Some(client_id.into());
        self.client_secret = Some(client_secret.into());
        self
    }

    connection_setters!();

    /// Logs out when the last clone of the client is dropped (default false), in a task spawned on
    /// the current Tokio runtime: best effort, unlike [`Looker::logout`].
    pub fn logout_on_drop(mut self, logout: bool) -> Self {
        self.logout_on_drop = logout;
        self
    }

    /// Builds the client: checks the settings and sends nothing. The first request logs in; call
    /// [`Looker::connect`] to log in at once.
    pub fn build(self) -> Result<Looker> {
        let base = self
            .base_url
            .as_deref()
            .ok_or_else(|| Error::invalid_input("no Looker base URL given"))?;
        let connection = self.connection;
        let api_base = api_base(connection.checked_url(base)?.as_str());
        let (Some(client_id), Some(client_secret)) = (self.client_id, self.client_secret) else {
            return Err(Error::invalid_input("no Looker API credentials given"));
        };
        let http = connection.http_client()?;
        let limit = connection.request_limit()?;
        // The login itself carries no token and is not refreshed; the session repeats it itself.
        let login = connection.contexts(Arc::new(NoToken), &limit).single_shot;
        let session = Session::new(
            client_id,
            client_secret,
            api_base.clone(),
            http.clone(),
            login,
            connection.retry.clone(),
        );
        let contexts = connection.contexts(session.clone(), &limit);
        let looker = Looker {
            inner: Arc::new(Inner {
                retrying: contexts.retrying,
                single_shot: contexts.single_shot,
                retry: connection.retry.clone(),
                api_base,
                http,
                session,
                logout_on_drop: self.logout_on_drop,
            }),
        };
        Ok(looker)
    }
}

/// `https://host[:port]/api/4.0`, whether or not the given URL already names the API path.
fn api_base(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    if trimmed.ends_with("/api/4.0") {
        trimmed.to_owned()
    } else {
        format!("{trimmed}/api/4.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_base_is_found_with_or_without_its_path() {
        assert_eq!(
            api_base("https://acme.cloud.looker.com/"),
            "https://acme.cloud.looker.com/api/4.0"
        );
        assert_eq!(
            api_base("https://looker.acme.com:19999/api/4.0/"),
            "https://looker.acme.com:19999/api/4.0"
        );
    }
}
