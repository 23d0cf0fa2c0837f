//! The seam between the shared layer and the families' wire shapes: when the middleware answers
//! on a family's behalf (an injected error status, an unknown URL), the family says what that
//! answer looks like.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A part of the API with its own error shapes.
pub(crate) trait Surface: Send + Sync + std::fmt::Debug {
    /// An injected error `status` for a request to `route` (a route template, or `<unmatched>`).
    fn injected(&self, status: StatusCode, route: &str) -> Response;

    /// The answer to a URL no route matches.
    fn not_found(&self) -> Response;
}

/// The surfaces by path prefix.
#[derive(Debug, Clone)]
pub(crate) struct Surfaces {
    owned: Vec<(&'static str, Arc<dyn Surface>)>,
    /// Shapes injected faults on routes no prefix owns (`<unmatched>`).
    rest: Arc<dyn Surface>,
}

impl Surfaces {
    /// `owned` pairs a path prefix with its surface; `rest` shapes injected faults elsewhere.
    pub(crate) fn new(
        owned: Vec<(&'static str, Arc<dyn Surface>)>,
        rest: Arc<dyn Surface>,
    ) -> Self {
        Self { owned, rest }
    }

    fn owner(&self, path: &str) -> Option<&Arc<dyn Surface>> {
        self.owned
            .iter()
            .find(|(prefix, _)| path.starts_with(prefix))
            .map(|(_, surface)| surface)
    }

    /// An injected error status in the shape of the surface `route` belongs to.
    pub(crate) fn injected(&self, status: StatusCode, route: &str) -> Response {
        self.owner(route)
            .unwrap_or(&self.rest)
            .injected(status, route)
    }

    /// 404 for an unknown URL, in its surface's shape (plain text outside every surface).
    pub(crate) fn not_found(&self, path: &str) -> Response {
        match self.owner(path) {
            Some(surface) => surface.not_found(),
            None => (StatusCode::NOT_FOUND, "not found").into_response(),
        }
    }
}
