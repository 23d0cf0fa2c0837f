//! The layer around every route: request statistics, network latency and bandwidth, fault injection
//! and queued misbehaviours (never on `/__sim/*`).

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;

use crate::shared::Shared;
use crate::shared::faults::{Fault, Injected};
use crate::shared::stats::InFlightGuard;
use crate::shared::surface::Surfaces;
use crate::shared::{misbehave, network};

/// Most bytes held back while deciding where to cut a body.
const CUT_WINDOW: usize = 1024 * 1024;

/// What the outer layer needs: the shared core and the families' error shapes.
#[derive(Debug, Clone)]
pub(crate) struct Outer {
    pub(crate) core: Shared,
    pub(crate) surfaces: Surfaces,
}

/// Records, delays, faults and throttles one request.
pub(crate) async fn outer(State(outer): State<Outer>, request: Request, next: Next) -> Response {
    let st = &outer.core;
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("<unmatched>", MatchedPath::as_str)
        .to_owned();
    let method = request.method().to_string();
    if route.starts_with("/__sim") {
        let response = next.run(request).await;
        st.stats.record(&method, &route, response.status().as_u16());
        return response;
    }
    let guard = st.stats.start(&route);
    let latency = st.config.profile.request_latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let query = request.uri().query().unwrap_or_default().to_owned();
    if let Some(misbehaviour) = st.misbehaviours.take(&method, &route, &query) {
        // Queued by a test for this one request: no fault and no bandwidth cap on top.
        let response = misbehave::respond(st, misbehaviour, request, next).await;
        st.stats.record(&method, &route, response.status().as_u16());
        return hold_until_sent(response, guard);
    }
    let response = match st.faults.roll() {
        Some(Fault::Status(code)) => {
            st.faults.record(Injected::status(code));
            fault_status(&outer, &route, code)
        }
        Some(Fault::Reset) => cut(st, next.run(request).await, false).await,
        Some(Fault::Truncate) => cut(st, next.run(request).await, true).await,
        None => next.run(request).await,
    };
    st.stats.record(&method, &route, response.status().as_u16());
    let response = match st.config.profile.bandwidth() {
        Some(rate) => {
            let (parts, body) = response.into_parts();
            Response::from_parts(parts, network::throttle(body, rate))
        }
        None => response,
    };
    hold_until_sent(response, guard)
}

/// Keeps `guard` (the request counted as in flight) alive until the body is sent or dropped.
fn hold_until_sent(response: Response, guard: InFlightGuard) -> Response {
    let (parts, body) = response.into_parts();
    let body = Body::new(Held {
        body,
        _guard: guard,
    });
    Response::from_parts(parts, body)
}

/// A body that holds an [`InFlightGuard`]; its size hint is the inner body's, so that a
/// `Content-Length` is still sent where there was one.
struct Held {
    body: Body,
    _guard: InFlightGuard,
}

impl http_body::Body for Held {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// An injected 500, 503 or 429 in the shape of the family the route belongs to.
fn fault_status(outer: &Outer, route: &str, code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = outer.surfaces.injected(status, route);
    if code == 429 {
        let after = HeaderValue::from(outer.core.faults.plan.retry_after_secs);
        response.headers_mut().insert(header::RETRY_AFTER, after);
    }
    response
}

/// Sends part of the body and then breaks the connection. With `promise_length`, a
/// `Content-Length` larger than what is sent goes out first (a truncated body); without, the
/// chunked body just stops (a reset). Counted as injected only when a body was actually cut.
async fn cut(st: &Shared, response: Response, promise_length: bool) -> Response {
    let (mut parts, body) = response.into_parts();
    let mut stream = body.into_data_stream();
    let mut head = Vec::new();
    let mut complete = true;
    while head.len() < CUT_WINDOW {
        match stream.next().await {
            Some(Ok(bytes)) => head.extend_from_slice(&bytes),
            Some(Err(_)) | None => break,
        }
        if head.len() >= CUT_WINDOW {
            complete = false;
        }
    }
    if head.len() < 2 {
        // Nothing worth cutting (an empty 201/204): send it whole.
        return Response::from_parts(parts, Body::from(head));
    }
    st.faults.record(if promise_length {
        Injected::Truncate
    } else {
        Injected::Reset
    });
    let promised = if complete { head.len() } else { head.len() * 2 };
    let sent = Bytes::copy_from_slice(&head[..head.len() / 2]);
    if promise_length {
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(promised));
    } else {
        parts.headers.remove(header::CONTENT_LENGTH);
    }
    let broken = std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "connection cut by haul-sim",
    );
    // Pause before breaking so the status line, headers and partial body reach the client first.
    let chunks =
        futures::stream::once(async move { Ok(sent) }).chain(futures::stream::once(async move {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            Err(broken)
        }));
    Response::from_parts(parts, Body::from_stream(chunks))
}

/// Serves `//services/data/...` as `/services/data/...`: clients that join an instance URL
/// ending in `/` with a path starting with `/` send repeated slashes, and real orgs answer them
/// as the single-slash path. Runs before routing (`server.rs` wraps the router with it).
pub(crate) fn collapse_slashes<B>(mut request: axum::http::Request<B>) -> axum::http::Request<B> {
    let uri = request.uri();
    if !uri.path().contains("//") {
        return request;
    }
    let mut path = String::with_capacity(uri.path().len());
    for c in uri.path().chars() {
        if !(c == '/' && path.ends_with('/')) {
            path.push(c);
        }
    }
    if let Some(query) = uri.query() {
        path.push('?');
        path.push_str(query);
    }
    let mut parts = uri.clone().into_parts();
    if let Ok(rewritten) = path.parse() {
        parts.path_and_query = Some(rewritten);
        if let Ok(uri) = axum::http::Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    request
}

/// Unknown URLs: each family's own 404 shape.
pub(crate) async fn fallback(State(outer): State<Outer>, request: Request) -> Response {
    outer.surfaces.not_found(request.uri().path())
}
