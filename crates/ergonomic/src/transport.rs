//! The executor every generated request goes through: retries and token refreshes (decided by the
//! retry loop), the client's limit on requests in flight, and bounded reading of JSON answers.

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
use crate::retry::{self, Attempt, Classify, Replay, RetryPolicy, Verdict};

/// A token source that can obtain a new token: Salesforce's OAuth flows, Looker's login.
pub(crate) trait Refresh: TokenSource {
    /// Whether a new token can be obtained at all (a fixed access token cannot be).
    fn can_refresh(&self) -> bool;

    /// Obtains a new token unless another request already replaced `stale` (the value it was sent
    /// with) in the meantime; many requests failing at once cause one token request.
    fn refresh<'a>(&'a self, stale: Option<&'a HeaderValue>) -> BoxFuture<'a, Result<()>>;

    /// Whether the service answers a token it no longer accepts with 403 rather than 401 (a
    /// Databricks workspace: `Invalid access token.`), so that a 403 also asks for a new token.
    fn refreshes_on_forbidden(&self) -> bool {
        false
    }
}

/// Sends requests under a [`RetryPolicy`] through the one retry loop ([`retry::drive`]), obtaining a
/// token first when there is none yet and a new one when the server answers 401.
pub(crate) struct Transport {
    pub(crate) retry: RetryPolicy,
    pub(crate) auth: Arc<dyn Refresh>,
    /// Shared by every context of one client.
    pub(crate) limit: RequestLimit,
}

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
    /// Sends `request` under the retry loop. A request whose body cannot be copied (streamed from a
    /// file) is sent once: nothing could send it again, and its caller repeats it if it can.
    async fn send(
        &self,
        client: &reqwest::Client,
        mut request: reqwest::Request,
    ) -> reqwest::Result<reqwest::Response> {
        if self.auth.authorization().is_none() && self.auth.can_refresh() {
            self.refresh_into(&mut request, None).await;
        }
        let buffered = expects_json(&request);
        if request.try_clone().is_none() {
            return self.send_once(client, request, buffered).await;
        }
        let replay = Replay::for_method(request.method());
        let what = format!("{} {}", request.method(), request.url().path());
        let mut exchange = Exchange {
            transport: self,
            client,
            request,
            buffered,
        };
        retry::drive(&self.retry, replay, &what, &mut exchange)
            .await
            .response
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
            Ok(response) if buffered || is_error(response.status()) => {
                read_whole(response, MAX_JSON_BODY).await
            }
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

/// Reads the whole body, cut at `limit` bytes (a cut answer then fails to parse), and returns an
/// equivalent response that holds it in memory.
pub(crate) async fn read_whole(
    mut response: reqwest::Response,
    limit: usize,
) -> reqwest::Result<reqwest::Response> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() == limit {
            break;
        }
    }
    let mut rebuilt = http::Response::new(body);
    *rebuilt.status_mut() = response.status();
    *rebuilt.version_mut() = response.version();
    *rebuilt.headers_mut() = response.headers().clone();
    Ok(reqwest::Response::from(rebuilt))
}

/// One HTTP exchange as the retry loop repeats it: each attempt sends a copy of `request`, which
/// keeps the token the last attempt carried.
struct Exchange<'a> {
    transport: &'a Transport,
    client: &'a reqwest::Client,
    request: reqwest::Request,
    buffered: bool,
}

impl Attempt for Exchange<'_> {
    type Output = Answer;

    fn attempt(&mut self) -> impl Future<Output = Self::Output> + Send {
        // `send` only builds an exchange for a request whose body can be copied, and a refresh
        // changes only its headers.
        let copy = self
            .request
            .try_clone()
            .expect("the request's body can be copied");
        let forbidden_refreshes =
            self.transport.auth.refreshes_on_forbidden() && self.transport.auth.can_refresh();
        let sent = self.transport.send_once(self.client, copy, self.buffered);
        async move {
            Answer {
                response: sent.await,
                forbidden_refreshes,
            }
        }
    }

    async fn refresh(&mut self) -> bool {
        let stale = self.request.headers().get(AUTHORIZATION).cloned();
        self.transport.refresh_into(&mut self.request, stale).await
    }
}

/// One attempt's answer, classified as any answer is, except that a 403 asks for a new token
/// when the token source says its service refuses stale tokens so.
struct Answer {
    response: reqwest::Result<reqwest::Response>,
    forbidden_refreshes: bool,
}

impl Classify for Answer {
    fn classify(&self, replay: Replay) -> Verdict {
        match &self.response {
            Ok(response)
                if self.forbidden_refreshes && response.status() == StatusCode::FORBIDDEN =>
            {
                Verdict::Unauthorized
            }
            response => response.classify(replay),
        }
    }

    fn describe(&self) -> String {
        self.response.describe()
    }
}
