//! The hand-written runtime every generated client carries: authorization and API-usage tracking.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::BoxFuture;
use haul_types::ApiUsage;
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue, InvalidHeaderValue};

/// The header progenitor adds to every request (the spec's `info.version`); neither vendor defines it.
const GENERATOR_VERSION_HEADER: HeaderName = HeaderName::from_static("api-version");
const LIMIT_INFO_HEADER: HeaderName = HeaderName::from_static("sforce-limit-info");

/// Supplies the `Authorization` header for each request.
///
/// Implementations keep the current token and may replace it (after a refresh) at any time; each
/// request reads it just before it is sent.
pub trait TokenSource: Send + Sync + 'static {
    /// The header value to send, such as `Bearer 00D...`, or `None` to send no `Authorization`.
    fn authorization(&self) -> Option<HeaderValue>;
}

/// Sends one request. The default sends it once; the `haul` crate installs one that retries transient
/// failures and refreshes an expired token, so that every generated operation gets that behaviour.
pub trait Execute: Send + Sync + 'static {
    /// Sends `request` through `client` (its `Authorization` header is already set) and returns the
    /// final response: a retried request returns the response of its last attempt.
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
    ) -> BoxFuture<'a, reqwest::Result<reqwest::Response>>;
}

/// A fixed bearer token: `Authorization: Bearer <token>`. Its value never appears in `Debug` output.
#[derive(Clone)]
pub struct BearerToken(HeaderValue);

impl BearerToken {
    /// A bearer token; fails when the token holds characters a header cannot carry.
    pub fn new(token: &str) -> Result<Self, InvalidHeaderValue> {
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))?;
        value.set_sensitive(true);
        Ok(Self(value))
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

impl TokenSource for BearerToken {
    fn authorization(&self) -> Option<HeaderValue> {
        Some(self.0.clone())
    }
}

/// No `Authorization` header, for requests that obtain a token (such as Looker's login).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoToken;

impl TokenSource for NoToken {
    fn authorization(&self) -> Option<HeaderValue> {
        None
    }
}

/// State shared by a generated client's requests: where the token comes from, and the org's API usage
/// seen last. Cloning is cheap and clones share the state.
#[derive(Clone)]
pub struct Context {
    token: Arc<dyn TokenSource>,
    executor: Option<Arc<dyn Execute>>,
    last_api_usage: Arc<Mutex<Option<ApiUsage>>>,
}

impl Context {
    /// A context that authorizes every request through `token`.
    pub fn new(token: impl TokenSource) -> Self {
        Self::from_shared(Arc::new(token))
    }

    /// A context over a token source that others share, for example one that a refresh task updates.
    pub fn from_shared(token: Arc<dyn TokenSource>) -> Self {
        Self {
            token,
            executor: None,
            last_api_usage: Arc::default(),
        }
    }

    /// The same context, sending requests through `executor` instead of once each.
    pub fn with_executor(mut self, executor: Arc<dyn Execute>) -> Self {
        self.executor = Some(executor);
        self
    }

    /// The API usage of the most recent Salesforce response that reported it, if any.
    pub fn last_api_usage(&self) -> Option<ApiUsage> {
        *self
            .last_api_usage
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Called before each request is sent.
    pub(crate) fn prepare_request(&self, request: &mut reqwest::Request) {
        let headers = request.headers_mut();
        headers.remove(GENERATOR_VERSION_HEADER);
        match self.token.authorization() {
            Some(value) => headers.insert(AUTHORIZATION, value),
            None => headers.remove(AUTHORIZATION),
        };
    }

    /// Sends a request, through the executor when one is installed.
    pub(crate) async fn execute(
        &self,
        client: &reqwest::Client,
        request: reqwest::Request,
    ) -> reqwest::Result<reqwest::Response> {
        match &self.executor {
            Some(executor) => executor.execute(client, request).await,
            None => client.execute(request).await,
        }
    }

    /// Called after each response arrives.
    pub(crate) fn observe_response(&self, response: &reqwest::Response) {
        let usage = response
            .headers()
            .get(LIMIT_INFO_HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| text.parse::<ApiUsage>().ok());
        if let Some(usage) = usage {
            *self
                .last_api_usage
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(usage);
        }
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("executor", &self.executor.is_some())
            .field("last_api_usage", &self.last_api_usage())
            .finish_non_exhaustive()
    }
}

/// Implements progenitor's hooks for each generated `Client` so that they run through [`Context`].
///
/// The generator also emits an empty `impl ClientHooks for &Client`; the generated code calls the hooks
/// on a `&Client`, where method resolution picks this `impl ClientHooks for Client` first.
macro_rules! install_hooks {
    ($($module:ident),+ $(,)?) => {
        $(
            impl ::progenitor_client::ClientHooks<$crate::Context> for $module::Client {
                async fn pre<E>(
                    &self,
                    request: &mut ::reqwest::Request,
                    _info: &::progenitor_client::OperationInfo,
                ) -> ::std::result::Result<(), ::progenitor_client::Error<E>> {
                    ::progenitor_client::ClientInfo::inner(self).prepare_request(request);
                    Ok(())
                }

                async fn exec(
                    &self,
                    request: ::reqwest::Request,
                    _info: &::progenitor_client::OperationInfo,
                ) -> ::reqwest::Result<::reqwest::Response> {
                    let client = ::progenitor_client::ClientInfo::client(self);
                    ::progenitor_client::ClientInfo::inner(self).execute(client, request).await
                }

                async fn post<E>(
                    &self,
                    result: &::reqwest::Result<::reqwest::Response>,
                    _info: &::progenitor_client::OperationInfo,
                ) -> ::std::result::Result<(), ::progenitor_client::Error<E>> {
                    if let Ok(response) = result {
                        ::progenitor_client::ClientInfo::inner(self).observe_response(response);
                    }
                    Ok(())
                }
            }
        )+
    };
}
pub(crate) use install_hooks;
