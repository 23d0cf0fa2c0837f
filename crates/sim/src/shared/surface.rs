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
    elsewhere: Arc<dyn Surface>,
}

impl Surfaces {
    /// `owned` pairs a path prefix with its surface; `elsewhere` shapes injected faults on every
    /// other route.
    pub(crate) fn new(
        owned: Vec<(&'static str, Arc<dyn Surface>)>,
        elsewhere: Arc<dyn Surface>,
    ) -> Self {
        Self { owned, elsewhere }
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
            .unwrap_or(&self.elsewhere)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A surface that answers with a header naming itself.
    #[derive(Debug)]
    struct Named(&'static str);

    impl Surface for Named {
        fn injected(&self, status: StatusCode, _route: &str) -> Response {
            (status, [("x-surface", self.0)]).into_response()
        }

        fn not_found(&self) -> Response {
            (StatusCode::NOT_FOUND, [("x-surface", self.0)]).into_response()
        }
    }

    fn name(response: &Response) -> Option<&str> {
        response.headers().get("x-surface")?.to_str().ok()
    }

    #[test]
    fn answers_come_in_the_shape_of_the_surface_owning_the_path() {
        let a: Arc<dyn Surface> = Arc::new(Named("a"));
        let b: Arc<dyn Surface> = Arc::new(Named("b"));
        let surfaces = Surfaces::new(vec![("/a", a), ("/b", b.clone())], b);
        let injected = surfaces.injected(StatusCode::SERVICE_UNAVAILABLE, "/a/{id}");
        assert_eq!(injected.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(name(&injected), Some("a"));
        let unmatched = surfaces.injected(StatusCode::INTERNAL_SERVER_ERROR, "<unmatched>");
        assert_eq!(name(&unmatched), Some("b"));
        assert_eq!(name(&surfaces.not_found("/a/x")), Some("a"));
        let plain = surfaces.not_found("/elsewhere");
        assert_eq!(
            (plain.status(), name(&plain)),
            (StatusCode::NOT_FOUND, None)
        );
    }
}
