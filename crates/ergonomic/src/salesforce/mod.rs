//! The Salesforce client: one per org, shared by Bulk API 2.0 query and ingest jobs and Async SOQL.

pub mod async_soql;
pub mod ingest;
pub mod query;

use std::sync::Arc;
use std::time::Duration;

use haul_client::Context;
use haul_client::reqwest;
use haul_types::{ApiUsage, ApiVersion};
use url::Url;

use crate::auth::{SalesforceAuth, TokenStore};
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;
use crate::transport::Transport;

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

/// Configures a [`Salesforce`] client.
#[derive(Debug)]
#[must_use]
pub struct SalesforceBuilder {
    instance_url: Option<String>,
    api_version: ApiVersion,
    auth: Option<SalesforceAuth>,
    token_url: Option<String>,
    retry: RetryPolicy,
    request_timeout: Duration,
    connect_timeout: Duration,
    read_timeout: Duration,
    gzip: bool,
    allow_insecure_http: bool,
}

impl Default for SalesforceBuilder {
    fn default() -> Self {
        Self {
            instance_url: None,
            api_version: ApiVersion::LATEST,
            auth: None,
            token_url: None,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(600),
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(120),
            gzip: true,
            allow_insecure_http: false,
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

    /// How transient failures are retried (default [`RetryPolicy::default`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Longest time one request may take in all, body included (default 10 minutes).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Longest silence while reading a response before giving up on it (default 2 minutes): a server
    /// that stalls mid-body fails the request instead of hanging it.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Longest time to open a connection (default 15 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Whether to ask for gzip-compressed results (default true). Compression saves bandwidth on slow
    /// links and costs CPU on fast ones.
    pub fn gzip(mut self, gzip: bool) -> Self {
        self.gzip = gzip;
        self
    }

    /// Allows `http://` to hosts other than loopback (default false: tokens travel in the clear).
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Builds the client. Fails on a missing or unusable URL or credentials.
    pub fn build(self) -> Result<Salesforce> {
        let instance_url = checked_url(
            self.instance_url
                .as_deref()
                .ok_or_else(|| Error::invalid_input("no instance URL given"))?,
            self.allow_insecure_http,
        )?;
        let auth = self
            .auth
            .ok_or_else(|| Error::invalid_input("no credentials given"))?;
        let token_url = match self.token_url {
            Some(url) => checked_url(&url, self.allow_insecure_http)?.to_string(),
            None => format!(
                "{}/services/oauth2/token",
                instance_url.as_str().trim_end_matches('/')
            ),
        };
        let http = reqwest::Client::builder()
            .user_agent(concat!("haul/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout)
            .timeout(self.request_timeout)
            .gzip(self.gzip)
            // A redirect could carry the token to another origin; these APIs never redirect.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|source| Error::InvalidInput {
                detail: format!("building the HTTP client: {source}"),
            })?;
        let tokens = TokenStore::new(auth, token_url, http.clone())?;
        let context = |retry: RetryPolicy| {
            Context::from_shared(tokens.clone()).with_executor(Arc::new(Transport {
                retry,
                auth: tokens.clone(),
            }))
        };
        Ok(Salesforce {
            inner: Arc::new(Inner {
                instance_url,
                api_version: self.api_version,
                http,
                retrying: context(self.retry.clone()),
                single_shot: context(RetryPolicy::none()),
                retry: self.retry,
            }),
        })
    }
}

/// Parses a server URL, refusing `http://` to anything but loopback unless allowed.
pub(crate) fn checked_url(text: &str, allow_insecure_http: bool) -> Result<Url> {
    let url = Url::parse(text)
        .map_err(|e| Error::invalid_input(format!("{text:?} is not a URL: {e}")))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback || allow_insecure_http => Ok(url),
        "http" => Err(Error::invalid_input(format!(
            "{text} uses http:// to a host other than loopback; use https:// (or allow_insecure_http)"
        ))),
        other => Err(Error::invalid_input(format!(
            "{text}: unsupported scheme {other}"
        ))),
    }
}
