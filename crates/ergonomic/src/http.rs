//! How every haul client connects: HTTP settings, URL checks, and the contexts the generated clients
//! run under. Shared by [`Salesforce`](crate::Salesforce) and [`Looker`](crate::Looker).

use std::sync::Arc;
use std::time::Duration;

use haul_client::{Context, reqwest};
use url::Url;

use crate::error::{Error, Result};
use crate::retry::RetryPolicy;
use crate::transport::{Refresh, Transport};

/// Connection settings a client builder collects.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionSettings {
    pub(crate) retry: RetryPolicy,
    pub(crate) request_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) read_timeout: Duration,
    pub(crate) gzip: bool,
    pub(crate) allow_insecure_http: bool,
    pub(crate) max_concurrent_requests: usize,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(600),
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(120),
            gzip: true,
            allow_insecure_http: false,
            max_concurrent_requests: 64,
        }
    }
}

impl ConnectionSettings {
    pub(crate) fn http_client(&self) -> Result<reqwest::Client> {
        reqwest::Client::builder()
            .user_agent(concat!("haul/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout)
            .timeout(self.request_timeout)
            .gzip(self.gzip)
            // A redirect could carry the token to another origin; these APIs never redirect.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|source| Error::invalid_input(format!("building the HTTP client: {source}")))
    }

    /// The limit on requests in flight that every context of one client shares.
    pub(crate) fn request_limit(&self) -> Result<RequestLimit> {
        if self.max_concurrent_requests == 0 {
            return Err(Error::invalid_input(
                "max_concurrent_requests must be at least 1",
            ));
        }
        Ok(Arc::new(tokio::sync::Semaphore::new(
            self.max_concurrent_requests,
        )))
    }

    /// The contexts generated clients run under: one that retries under the policy, and one that
    /// sends once, for the status requests of a poll loop (the loop itself is the retry).
    pub(crate) fn contexts(&self, tokens: Arc<dyn Refresh>, limit: &RequestLimit) -> Contexts {
        let transport = |retry: RetryPolicy| {
            Arc::new(Transport {
                retry,
                auth: tokens.clone(),
                limit: limit.clone(),
            })
        };
        let retrying =
            Context::from_shared(tokens.clone()).with_executor(transport(self.retry.clone()));
        // A clone shares the API usage seen last, whichever context's answer reported it.
        let single_shot = retrying
            .clone()
            .with_executor(transport(RetryPolicy::none()));
        Contexts {
            retrying,
            single_shot,
        }
    }

    pub(crate) fn checked_url(&self, text: &str) -> Result<Url> {
        checked_url(text, self.allow_insecure_http)
    }
}

/// Permits for requests in flight, one a request until its answer's body is read or dropped.
pub(crate) type RequestLimit = Arc<tokio::sync::Semaphore>;

/// See [`ConnectionSettings::contexts`].
pub(crate) struct Contexts {
    pub(crate) retrying: Context,
    pub(crate) single_shot: Context,
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

/// The connection setters every client builder offers; the builder keeps a `connection` field.
macro_rules! connection_setters {
    () => {
        /// How transient failures are retried (default [`RetryPolicy::default`](crate::RetryPolicy)).
        pub fn retry(mut self, policy: crate::RetryPolicy) -> Self {
            self.connection.retry = policy;
            self
        }

        /// Longest time one request may take in all, body included (default 10 minutes).
        pub fn request_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.connection.request_timeout = timeout;
            self
        }

        /// Longest silence while reading a response before giving up on it (default 2 minutes): a
        /// server that stalls mid-body fails the request instead of hanging it.
        pub fn read_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.connection.read_timeout = timeout;
            self
        }

        /// Longest time to open a connection (default 15 s).
        pub fn connect_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.connection.connect_timeout = timeout;
            self
        }

        /// Whether to ask for gzip-compressed answers (default true). Compression saves bandwidth on
        /// slow links and costs CPU on fast ones.
        pub fn gzip(mut self, gzip: bool) -> Self {
            self.connection.gzip = gzip;
            self
        }

        /// Most requests this client has in flight at once, streamed answers counted until their body
        /// is read or dropped (default 64). Many jobs run through one client then share its
        /// connections instead of opening one each; every download's and ingest's own
        /// `concurrency` still applies within it.
        pub fn max_concurrent_requests(mut self, requests: usize) -> Self {
            self.connection.max_concurrent_requests = requests;
            self
        }

        /// Allows `http://` to hosts other than loopback (default false: tokens travel in the clear).
        pub fn allow_insecure_http(mut self, allow: bool) -> Self {
            self.connection.allow_insecure_http = allow;
            self
        }
    };
}
pub(crate) use connection_setters;
