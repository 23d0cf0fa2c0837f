//! The layer around every route: request statistics, network latency and bandwidth, and fault
//! injection (never on `/__sim/*`).

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;

use crate::faults::Fault;
use crate::state::Shared;
use crate::{looker, network, salesforce};

/// Most bytes held back while deciding where to cut a body.
const CUT_WINDOW: usize = 1024 * 1024;

/// Records, delays, faults and throttles one request.
pub(crate) async fn outer(State(st): State<Shared>, request: Request, next: Next) -> Response {
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
    let latency = st.config.profile.request_latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let response = match st.faults.roll() {
        Some(Fault::Status(code)) => fault_status(&st, &route, code),
        Some(Fault::Reset) => cut(next.run(request).await, false).await,
        Some(Fault::Truncate) => cut(next.run(request).await, true).await,
        None => next.run(request).await,
    };
    st.stats.record(&method, &route, response.status().as_u16());
    match st.config.profile.bandwidth() {
        Some(rate) => {
            let (parts, body) = response.into_parts();
            Response::from_parts(parts, network::throttle(body, rate))
        }
        None => response,
    }
}

/// An injected 500, 503 or 429 in the shape of the family the route belongs to.
fn fault_status(st: &Shared, route: &str, code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = if route.starts_with("/services") {
        let (error_code, message) = match code {
            503 => (
                "SERVER_UNAVAILABLE",
                "Server temporarily unavailable (injected by haul-sim)",
            ),
            429 => (
                "REQUEST_LIMIT_EXCEEDED",
                "ConcurrentPerOrgLongTxn Limit exceeded. (injected by haul-sim)",
            ),
            _ => (
                "UNKNOWN_EXCEPTION",
                "An unexpected error occurred (injected by haul-sim)",
            ),
        };
        let response = salesforce::errors::error(status, error_code, message);
        let used = st.api_usage.load(std::sync::atomic::Ordering::SeqCst);
        if route.starts_with("/services/data/") {
            salesforce::auth::with_usage(st, response, used)
        } else {
            response
        }
    } else {
        looker::error(
            status,
            &format!(
                "{} (injected by haul-sim)",
                status.canonical_reason().unwrap_or("error")
            ),
        )
    };
    if code == 429 {
        let after = HeaderValue::from(st.faults.plan.retry_after_secs);
        response.headers_mut().insert(header::RETRY_AFTER, after);
    }
    response
}

/// Sends part of the body and then breaks the connection. With `promise_length`, a
/// `Content-Length` larger than what is sent goes out first (a truncated body); without, the
/// chunked body just stops (a reset).
async fn cut(response: Response, promise_length: bool) -> Response {
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

/// Unknown URLs: each family's own 404 shape.
pub(crate) async fn fallback(request: Request) -> Response {
    let path = request.uri().path();
    if path.starts_with("/services") {
        salesforce::errors::not_found()
    } else if path.starts_with("/api") {
        looker::not_found()
    } else {
        (StatusCode::NOT_FOUND, "not found").into_response()
    }
}
