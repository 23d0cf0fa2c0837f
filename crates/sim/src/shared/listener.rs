//! Listeners a family serves beside the main one: an origin of its own, such as the storage that
//! its presigned links point at. The family says where to bind and what to serve ([`Extra`]); the
//! simulator binds every such listener the same way, and hands the bound URL back to the family
//! through its [`Origin`] before any request is served.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::middleware::from_fn_with_state;

use crate::shared::Shared;
use crate::shared::middleware::{self, Outer};
use crate::shared::surface::{Surface, Surfaces};

/// The URL a listener was bound at, `http://127.0.0.1:PORT`: set once by the simulator when it
/// binds the listener, read by the family that asked for it (clones share it).
#[derive(Debug, Clone, Default)]
pub(crate) struct Origin(Arc<OnceLock<String>>);

impl Origin {
    /// Records the bound URL; the first one stays (a listener is bound once).
    pub(crate) fn set(&self, url: String) {
        let _ = self.0.set(url);
    }

    /// The bound URL; empty before the listener is bound, which is before anything is served.
    pub(crate) fn url(&self) -> &str {
        self.0.get().map_or("", String::as_str)
    }
}

/// A listener a family wants beside the main one.
#[derive(Debug)]
pub(crate) struct Extra {
    /// Where to bind it (port 0: any free port).
    pub(crate) addr: SocketAddr,
    /// Its routes, without the outer layer.
    pub(crate) routes: Router<Outer>,
    /// The shapes of its injected faults and of its answer to an unknown path.
    pub(crate) surface: Arc<dyn Surface>,
    /// Where its bound URL goes.
    pub(crate) origin: Origin,
}

impl Extra {
    /// Its routes inside the same outer layer as the main listener's: counted in the statistics,
    /// delayed, throttled and faulted, every error in the listener's own shapes.
    pub(crate) fn router(self, core: &Shared) -> Router {
        let outer = Outer {
            core: core.clone(),
            surfaces: Surfaces::new(Vec::new(), self.surface.clone(), self.surface),
        };
        self.routes
            .fallback(middleware::fallback)
            .layer(from_fn_with_state(outer.clone(), middleware::outer))
            .with_state(outer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_is_shared_by_its_clones_and_set_once() {
        let origin = Origin::default();
        let family = origin.clone();
        assert_eq!(family.url(), "");
        origin.set("http://127.0.0.1:9".to_owned());
        origin.set("http://127.0.0.1:10".to_owned());
        assert_eq!(family.url(), "http://127.0.0.1:9");
    }
}
