//! A streamed answer's body that holds its request's permit until it is read to the end or dropped,
//! so that the client's request limit counts a download for as long as its bytes flow.

use std::pin::Pin;
use std::task::{Context, Poll};

use haul_client::reqwest;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::OwnedSemaphorePermit;

/// Wraps a response body with the permit it was sent under.
pub(crate) struct PermittedBody {
    body: reqwest::Body,
    permit: Option<OwnedSemaphorePermit>,
}

impl PermittedBody {
    /// The same answer, whose body now holds `permit`.
    pub(crate) fn attach(
        response: reqwest::Response,
        permit: OwnedSemaphorePermit,
    ) -> reqwest::Response {
        let (parts, body) = http::Response::<reqwest::Body>::from(response).into_parts();
        let body = reqwest::Body::wrap(Self {
            body,
            permit: Some(permit),
        });
        reqwest::Response::from(http::Response::from_parts(parts, body))
    }
}

impl Body for PermittedBody {
    type Data = bytes::Bytes;
    type Error = reqwest::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(context);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            // Released at the end, not only on drop: a caller may keep the response around.
            self.permit = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
