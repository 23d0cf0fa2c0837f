//! The seam between the shared layer and the families' wire shapes: when the middleware answers
//! on a family's behalf (an injected error status, an unknown URL), the family says what that
//! answer looks like.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;

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
    /// Shapes the 404 of a path no prefix owns.
    strays: Arc<dyn Surface>,
}

impl Surfaces {
    /// `owned` pairs a path prefix with its surface; `elsewhere` shapes injected faults on every
    /// other route, `strays` the 404 of every other path.
    pub(crate) fn new(
        owned: Vec<(&'static str, Arc<dyn Surface>)>,
        elsewhere: Arc<dyn Surface>,
        strays: Arc<dyn Surface>,
    ) -> Self {
        Self {
            owned,
            elsewhere,
            strays,
        }
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
        self.owner(path).unwrap_or(&self.strays).not_found()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;

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
        let surfaces = Surfaces::new(vec![("/a", a.clone()), ("/b", b.clone())], b, a);
        let injected = surfaces.injected(StatusCode::SERVICE_UNAVAILABLE, "/a/{id}");
        assert_eq!(injected.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(name(&injected), Some("a"));
        let unmatched = surfaces.injected(StatusCode::INTERNAL_SERVER_ERROR, "<unmatched>");
        assert_eq!(name(&unmatched), Some("b"));
        assert_eq!(name(&surfaces.not_found("/a/x")), Some("a"));
        let stray = surfaces.not_found("/elsewhere");
        assert_eq!(
            (stray.status(), name(&stray)),
            (StatusCode::NOT_FOUND, Some("a"))
        );
    }
}
