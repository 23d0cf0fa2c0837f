//! Answers that break the rules, one request at a time, for tests of how clients cope with broken or
//! hostile servers: malformed or empty bodies, wrong content types, huge error bodies, redirects and
//! bodies that stall midway. Tests queue them with [`Sim::misbehave_next`](crate::Sim::misbehave_next);
//! each is used by exactly one request. Never applied to `/__sim/*`.

use std::sync::Mutex;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;

use crate::shared::Shared;

/// One way to answer a request wrongly.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Misbehaviour {
    /// The handler runs and its status and headers are kept, but the body is replaced by `body`
    /// (sent uncompressed; `Content-Length` follows it) and each of `headers` is set, replacing
    /// any of that name.
    Body {
        /// The body sent instead.
        body: Bytes,
        /// Headers set on top of the handler's, such as `Sforce-NumberOfRecords` or `Content-Type`.
        headers: Vec<(String, String)>,
    },
    /// The handler's answer with its `Content-Type` replaced.
    ContentType(String),
    /// The handler runs, but the answer is `status` with `body` as `application/json`.
    Status {
        /// The status sent.
        status: u16,
        /// The body sent.
        body: Bytes,
    },
    /// `307 Temporary Redirect` to `location`; the handler does not run.
    Redirect(String),
    /// The handler's status, headers and first `after` bytes of its body are sent, then nothing
    /// more until the simulator shuts down (a server that stalls mid-body).
    Stall {
        /// Bytes of the body sent before stalling.
        after: usize,
    },
}

impl Misbehaviour {
    /// [`Misbehaviour::Body`] with no extra headers.
    pub fn body(body: impl Into<Bytes>) -> Self {
        Self::Body {
            body: body.into(),
            headers: Vec::new(),
        }
    }

    /// A Salesforce-shaped error list (`UNKNOWN_EXCEPTION`) whose message makes the body `bytes`
    /// long (at least the JSON around it), answered with `status`.
    pub fn huge_error(status: u16, bytes: usize) -> Self {
        let (head, tail) = (r#"[{"errorCode":"UNKNOWN_EXCEPTION","message":""#, r#""}]"#);
        let filler = bytes.saturating_sub(head.len() + tail.len());
        let mut body = Vec::with_capacity(head.len() + filler + tail.len());
        body.extend_from_slice(head.as_bytes());
        body.resize(head.len() + filler, b'x');
        body.extend_from_slice(tail.as_bytes());
        Self::Status {
            status,
            body: body.into(),
        }
    }
}

/// A queued misbehaviour and the requests it applies to.
#[derive(Debug)]
struct Entry {
    method: String,
    route: String,
    query_contains: Option<String>,
    misbehaviour: Misbehaviour,
}

/// The queue of misbehaviours tests asked for, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Misbehaviours {
    queue: Mutex<Vec<Entry>>,
}

impl Misbehaviours {
    /// Queues `misbehaviour` for the next request with this method and route template whose query
    /// string contains `query_contains` (any query when `None`).
    pub(crate) fn push(
        &self,
        method: &str,
        route: &str,
        query_contains: Option<&str>,
        misbehaviour: Misbehaviour,
    ) {
        crate::shared::lock(&self.queue).push(Entry {
            method: method.to_ascii_uppercase(),
            route: route.to_owned(),
            query_contains: query_contains.map(str::to_owned),
            misbehaviour,
        });
    }

    /// Takes the oldest misbehaviour queued for this request, if any.
    pub(crate) fn take(&self, method: &str, route: &str, query: &str) -> Option<Misbehaviour> {
        let mut queue = crate::shared::lock(&self.queue);
        let position = queue.iter().position(|e| {
            e.method == method
                && e.route == route
                && e.query_contains
                    .as_deref()
                    .is_none_or(|q| query.contains(q))
        })?;
        Some(queue.remove(position).misbehaviour)
    }
}

/// Answers `request` as `misbehaviour` says, running the handler (`next`) unless it redirects.
pub(crate) async fn respond(
    st: &Shared,
    misbehaviour: Misbehaviour,
    request: Request,
    next: Next,
) -> Response {
    let response = match misbehaviour {
        Misbehaviour::Redirect(_) => Response::default(),
        _ => next.run(request).await,
    };
    apply(st, misbehaviour, response)
}

/// Turns the handler's `response` (a placeholder when it did not run) into the misbehaving answer.
fn apply(st: &Shared, misbehaviour: Misbehaviour, response: Response) -> Response {
    match misbehaviour {
        Misbehaviour::Body { body, headers } => {
            let (mut parts, _) = response.into_parts();
            // The new body goes out as given: uncompressed, with its own length.
            parts.headers.remove(header::CONTENT_LENGTH);
            parts.headers.remove(header::CONTENT_ENCODING);
            for (name, value) in headers {
                if let (Ok(name), Ok(value)) = (
                    HeaderName::try_from(name.as_str()),
                    HeaderValue::try_from(value.as_str()),
                ) {
                    parts.headers.insert(name, value);
                }
            }
            Response::from_parts(parts, Body::from(body))
        }
        Misbehaviour::ContentType(content_type) => {
            let (mut parts, body) = response.into_parts();
            if let Ok(value) = HeaderValue::try_from(content_type.as_str()) {
                parts.headers.insert(header::CONTENT_TYPE, value);
            }
            Response::from_parts(parts, body)
        }
        Misbehaviour::Status { status, body } => Response::builder()
            .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap_or_default(),
        Misbehaviour::Redirect(location) => Response::builder()
            .status(StatusCode::TEMPORARY_REDIRECT)
            .header(header::LOCATION, location)
            .body(Body::empty())
            .unwrap_or_default(),
        Misbehaviour::Stall { after } => stall(st.clone(), response, after),
    }
}

/// Sends the first `after` bytes of the body, then waits for the simulator to shut down and breaks
/// the connection.
fn stall(st: Shared, response: Response, after: usize) -> Response {
    let (mut parts, body) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let head = async move {
        let mut stream = body.into_data_stream();
        let mut head = Vec::new();
        while head.len() < after {
            match stream.next().await {
                Some(Ok(bytes)) => head.extend_from_slice(&bytes),
                Some(Err(_)) | None => break,
            }
        }
        head.truncate(after);
        Ok::<_, std::io::Error>(Bytes::from(head))
    };
    let silence = async move {
        // A year is "forever" for a test; shutting the simulator down ends it at once.
        st.clock.pause(Duration::from_secs(365 * 86_400)).await;
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "stalled body ended by haul-sim",
        ))
    };
    let chunks = futures::stream::once(head).chain(futures::stream::once(silence));
    Response::from_parts(parts, Body::from_stream(chunks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_match_method_route_and_query_and_are_used_once() {
        let queue = Misbehaviours::default();
        let route = "/services/data/{version}/jobs/query/{id}/results";
        queue.push("get", route, Some("locator=MTA"), Misbehaviour::body("a"));
        queue.push("GET", route, None, Misbehaviour::body("b"));
        assert_eq!(queue.take("POST", route, ""), None);
        assert_eq!(queue.take("GET", route, ""), Some(Misbehaviour::body("b")));
        assert_eq!(queue.take("GET", route, "maxRecords=5"), None);
        assert_eq!(
            queue.take("GET", route, "locator=MTA&maxRecords=5"),
            Some(Misbehaviour::body("a"))
        );
        assert_eq!(queue.take("GET", route, "locator=MTA"), None);
    }

    #[test]
    fn a_huge_error_is_a_salesforce_error_list_of_the_size_asked() {
        let Misbehaviour::Status { status, body } = Misbehaviour::huge_error(400, 10_000) else {
            panic!("not a status answer");
        };
        assert_eq!((status, body.len()), (400, 10_000));
        let parsed: serde_json::Value = serde_json::from_slice(&body).expect("valid JSON");
        assert_eq!(parsed[0]["errorCode"], "UNKNOWN_EXCEPTION");
    }
}
