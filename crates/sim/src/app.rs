//! The whole simulator: the shared core, every family, and the router that puts them together
//! with the `/__sim` routes and the outer layer. The one place that knows every family.

use std::sync::Arc;

use tokio::sync::watch;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;

use crate::SimBuilder;
use crate::control;
use crate::databricks::{self, Databricks};
use crate::looker::{self, Looker};
use crate::salesforce::async_soql::AsyncQueries;
use crate::salesforce::ingest::{IngestJobs, MAX_UPLOAD};
use crate::salesforce::query::{self, QueryJobs};
use crate::salesforce::rest_api::RestApi;
use crate::salesforce::{self, Salesforce};
use crate::shared::calendar::Calendar;
use crate::shared::data::{Org, Shape};
use crate::shared::faults::Faults;
use crate::shared::lifecycle::Clock;
use crate::shared::listener::Extra;
use crate::shared::middleware::{self, Outer};
use crate::shared::surface::{Surface, Surfaces};
use crate::shared::{Config, Core, Shared};

/// The shared core and the families, each owning its store.
#[derive(Debug, Clone)]
pub(crate) struct App {
    pub(crate) core: Shared,
    pub(crate) salesforce: Arc<Salesforce>,
    pub(crate) query: Arc<QueryJobs>,
    pub(crate) ingest: Arc<IngestJobs>,
    pub(crate) async_soql: Arc<AsyncQueries>,
    pub(crate) rest: Arc<RestApi>,
    pub(crate) looker: Arc<Looker>,
    pub(crate) databricks: Arc<Databricks>,
}

impl App {
    /// The simulator `builder` describes; its jobs stop when `shutdown` turns true.
    pub(crate) fn new(builder: &SimBuilder, shutdown: watch::Receiver<bool>) -> Self {
        let rows = |name: &str| builder.rows.get(name).copied();
        let bursts = |name: &str| builder.modstamp_bursts.get(name).copied();
        let config = Config {
            seed: builder.seed,
            profile: builder.profile,
            token_lifetime: builder.token_lifetime,
        };
        let shape = Shape {
            seed: builder.seed,
            rows: &rows,
            bursts: &bursts,
        };
        let core = Arc::new(Core::new(
            config,
            Clock::new(builder.job_duration, shutdown),
            Org::new(&shape, Calendar::default()),
            Faults::new(builder.faults.clone()),
        ));
        let query = query::Options {
            default_page_size: builder.default_page_size,
            list_page_size: builder.list_page_size,
            timeout_rows: builder.query_timeout_rows,
            daily_jobs: builder.daily_query_jobs,
        };
        Self {
            databricks: Arc::new(Databricks::new(
                core.clone(),
                builder.databricks.clone(),
                &rows,
            )),
            salesforce: Arc::new(Salesforce::new(core.clone(), builder.api_limit)),
            query: Arc::new(QueryJobs::new(core.clone(), query)),
            ingest: Arc::new(IngestJobs::new(core.clone(), builder.list_page_size)),
            async_soql: Arc::new(AsyncQueries::new(core.clone())),
            rest: Arc::new(RestApi::new(core.clone())),
            looker: Arc::new(Looker::new(core.clone(), builder.looker.clone(), &rows)),
            core,
        }
    }

    /// Every route, with the outer layer around them.
    pub(crate) fn router(&self) -> Router {
        let salesforce: Arc<dyn Surface> = self.salesforce.clone();
        let looker: Arc<dyn Surface> = self.looker.clone();
        let databricks: Arc<dyn Surface> = self.databricks.clone();
        let outer = Outer {
            core: self.core.clone(),
            // Looker's plain `{message}` error has long been the shape of injected faults on
            // unknown URLs; kept so that nothing changes on the wire. An unknown path outside
            // both APIs gets Salesforce's JSON error array: the simulator's address is first an
            // org's instance URL, and real orgs never answer in plain text.
            surfaces: Surfaces::new(
                vec![
                    ("/services", salesforce.clone()),
                    ("/id/", salesforce.clone()),
                    ("/api/2.0/", databricks.clone()),
                    ("/oidc/", databricks.clone()),
                    ("/.well-known/", databricks),
                    ("/api", looker.clone()),
                ],
                looker,
                salesforce,
            ),
        };
        let salesforce = salesforce::router(
            &self.salesforce,
            &self.query,
            &self.ingest,
            &self.async_soql,
            &self.rest,
        );
        Router::new()
            .merge(salesforce)
            .merge(looker::routes(&self.looker))
            .merge(databricks::routes(&self.databricks))
            .merge(control::routes(&self.core))
            .fallback(middleware::fallback)
            .layer(from_fn_with_state(outer.clone(), middleware::outer))
            // Uploads may be up to the documented 150 MB; anything bigger gets the vendor's error.
            .layer(DefaultBodyLimit::max(MAX_UPLOAD + 1024 * 1024))
            .with_state(outer)
    }

    /// The listeners the families serve beside the main one (Databricks' storage origin).
    pub(crate) fn extra_listeners(&self) -> Vec<Extra> {
        databricks::listeners(&self.databricks)
    }
}
