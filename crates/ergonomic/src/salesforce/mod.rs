//! The Salesforce client: one per org, shared by Bulk API 2.0 query and ingest jobs, Async SOQL and
//! the REST API (describe, limits, SOQL query, identity).

pub mod async_soql;
pub mod auth;
pub mod extract;
pub mod ingest;
pub(crate) mod links;
mod listing;
pub mod query;
pub mod rest;

use std::sync::Arc;

use haul_client::Context;
use haul_client::reqwest;
use haul_types::{ApiUsage, ApiVersion};
use url::Url;

use self::auth::{SalesforceAuth, TokenStore};
use crate::error::{Error, Result, VendorBody};
use crate::http::{ConnectionSettings, connection_setters};
use crate::retry::{self, Replay, RetryPolicy};
use crate::transport::Refresh;

/// A client of one Salesforce org. Cheap to clone; clones share connections and the token.
///
/// ```no_run
/// # async fn example() -> haul::Result<()> {
/// let sf = haul::Salesforce::builder()
///     .instance_url("https://acme.my.salesforce.com")
///     .auth(haul::auth::ClientCredentials::new("3MVG9...", "secret"))
///     .build()?;
/// let report = sf.bulk_query("SELECT Id, Name FROM Account").download_to("accounts.csv").await?;
/// println!("{} rows", report.records);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Salesforce {
    inner: Arc<Inner>,
}

struct Inner {
    instance_url: Url,
    api_version: ApiVersion,
    http: reqwest::Client,
    /// Ordinary calls: retried under the policy, token refreshed on 401.
    retrying: Context,
    /// Status requests of a poll loop: sent once, since the loop itself is the retry.
    single_shot: Context,
    retry: RetryPolicy,
    tokens: Arc<TokenStore>,
}

impl std::fmt::Debug for Salesforce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Salesforce")
            .field("instance_url", &self.inner.instance_url.as_str())
            .field("api_version", &self.inner.api_version)
            .finish_non_exhaustive()
    }
}

impl Salesforce {
    /// Starts configuring a client.
    pub fn builder() -> SalesforceBuilder {
        SalesforceBuilder::default()
    }

    /// The API version requests are made with, unless a job was created with another.
    pub fn api_version(&self) -> ApiVersion {
        self.inner.api_version
    }

    /// The org's API usage as of the last response that reported it (`Sforce-Limit-Info`).
    pub fn api_usage(&self) -> Option<ApiUsage> {
        self.inner.retrying.last_api_usage()
    }

    /// Obtains a token now through the OAuth flow, unless one is already held, so that bad
    /// credentials fail here rather than at the first request. A ready
    /// [`AccessToken`](auth::AccessToken) is sent nowhere: the first request is its first use.
    pub async fn connect(&self) -> Result<()> {
        let tokens = &self.inner.tokens;
        if tokens.can_refresh() {
            tokens.refresh(None).await?;
        }
        Ok(())
    }

    pub(crate) fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    pub(crate) fn instance_url(&self) -> &Url {
        &self.inner.instance_url
    }

    /// Base URL of the versioned REST API, `https://host/services/data/v62.0`.
    pub(crate) fn versioned_base(&self, version: ApiVersion) -> String {
        let host = self.inner.instance_url.as_str().trim_end_matches('/');
        format!("{host}/services/data/{}", version.path_segment())
    }

    /// A generated client whose paths start at the host (the REST API spec), rooted at `origin`: the
    /// instance, or the host that issued the token for its identity URL. It retries under the policy
    /// and refreshes the token on 401, like every ordinary call.
    pub(crate) fn generated_at<C>(
        &self,
        origin: &Url,
        new: fn(&str, reqwest::Client, Context) -> C,
    ) -> C {
        let base = origin.as_str().trim_end_matches('/');
        new(base, self.inner.http.clone(), self.inner.retrying.clone())
    }

    /// As [`generated_at`](Self::generated_at), but each request is sent once (a 401 still renews
    /// the token): for requests that a loop of their own repeats, such as a download's partitions.
    pub(crate) fn generated_at_once<C>(
        &self,
        origin: &Url,
        new: fn(&str, reqwest::Client, Context) -> C,
    ) -> C {
        let base = origin.as_str().trim_end_matches('/');
        new(
            base,
            self.inner.http.clone(),
            self.inner.single_shot.clone(),
        )
    }

    pub(crate) fn tokens(&self) -> &TokenStore {
        &self.inner.tokens
    }

    /// A generated client for `version`; `single_shot` for the status requests of a poll loop.
    pub(crate) fn generated<C>(
        &self,
        version: ApiVersion,
        single_shot: bool,
        new: fn(&str, reqwest::Client, Context) -> C,
    ) -> C {
        let context = if single_shot {
            &self.inner.single_shot
        } else {
            &self.inner.retrying
        };
        new(
            &self.versioned_base(version),
            self.inner.http.clone(),
            context.clone(),
        )
    }
}

impl Salesforce {
    /// Sends `create`, a request creating a job whose duplicate would harm no data (a query job, or
    /// an ingest job still empty and `Open`), under [`Replay::Duplicable`]. `create` must send once
    /// (through a single-shot client), so that the retry loop is the only one repeating it.
    pub(crate) async fn create_job<T: Send, F>(
        &self,
        what: &'static str,
        create: impl FnMut() -> F + Send,
    ) -> Result<T>
    where
        F: std::future::Future<Output = Result<T>> + Send,
    {
        retry::run(self.retry_policy(), Replay::Duplicable, what, create).await
    }
}

/// Salesforce's error bodies, `[{errorCode, message}]`, the same in every Salesforce API: the first
/// entry speaks for the answer.
macro_rules! salesforce_error_list {
    ($($module:ident),+) => {$(
        impl VendorBody for haul_client::$module::types::SalesforceErrorList {
            fn code_and_message(&self) -> (Option<String>, Option<String>) {
                match self.first() {
                    Some(first) => (Some(first.error_code.clone()), Some(first.message.clone())),
                    None => (None, None),
                }
            }
        }
    )+};
}
salesforce_error_list!(
    salesforce_bulk_query,
    salesforce_bulk_ingest,
    salesforce_async_soql,
    salesforce_rest
);

/// Configures a [`Salesforce`] client.
#[derive(Debug)]
#[must_use]
pub struct SalesforceBuilder {
    instance_url: Option<String>,
    api_version: ApiVersion,
    auth: Option<SalesforceAuth>,
    token_url: Option<String>,
    connection: ConnectionSettings,
}

impl Default for SalesforceBuilder {
    fn default() -> Self {
        Self {
            instance_url: None,
            api_version: ApiVersion::LATEST,
            auth: None,
            token_url: None,
            connection: ConnectionSettings::default(),
        }
    }
}

impl SalesforceBuilder {
    /// The org's URL, such as `https://acme.my.salesforce.com` (required).
    pub fn instance_url(mut self, url: impl Into<String>) -> Self {
        self.instance_url = Some(url.into());
        self
    }

    /// The API version (default [`ApiVersion::LATEST`]); parallel result pages need 58.0 or newer.
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.api_version = version;
        self
    }

    /// How to authenticate (required).
    pub fn auth(mut self, auth: impl Into<SalesforceAuth>) -> Self {
        self.auth = Some(auth.into());
        self
    }

    /// The OAuth token endpoint (default: `<instance URL>/services/oauth2/token`).
    pub fn token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = Some(url.into());
        self
    }

    connection_setters!();

    /// Builds the client: checks the settings and sends nothing. Fails on a missing or unusable URL
    /// or credentials; the first request obtains a token (call [`Salesforce::connect`] to do so at
    /// once).
    pub fn build(self) -> Result<Salesforce> {
        let connection = self.connection;
        let instance_url = connection.checked_url(
            self.instance_url
                .as_deref()
                .ok_or_else(|| Error::invalid_input("no instance URL given"))?,
        )?;
        let auth = self
            .auth
            .ok_or_else(|| Error::invalid_input("no credentials given"))?;
        let token_url = match self.token_url {
            Some(url) => connection.checked_url(&url)?.to_string(),
            None => format!(
                "{}/services/oauth2/token",
                instance_url.as_str().trim_end_matches('/')
            ),
        };
        let http = connection.http_client()?;
        let limit = connection.request_limit()?;
        let tokens = TokenStore::new(auth, token_url, http.clone(), connection.retry.clone())?;
        let contexts = connection.contexts(tokens.clone(), &limit);
        Ok(Salesforce {
            inner: Arc::new(Inner {
                instance_url,
                api_version: self.api_version,
                http,
                retrying: contexts.retrying,
                single_shot: contexts.single_shot,
                retry: connection.retry,
                tokens,
            }),
        })
    }
}
