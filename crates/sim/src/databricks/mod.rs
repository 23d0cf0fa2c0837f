//! The Databricks family: the SQL Statement Execution API 2.0 of a workspace with one SQL
//! warehouse, over generated tables, with `EXTERNAL_LINKS` results on a second origin that
//! stands in for cloud storage. Its settings are [`Options`] (given to
//! [`crate::SimBuilder::databricks`]); what a test reads of it and controls is [`Handle`] (from
//! [`crate::Sim::databricks`]).
//!
//! In short: one SQL warehouse ([`Handle::warehouse_id`]) over the generated tables
//! `main.sales.orders` and `main.sales.customers`, a personal access token ([`Handle::token`])
//! and an OAuth M2M client; statements run a SQL subset (`SELECT ... FROM ... [WHERE ...] [LIMIT
//! n]`) on the shared job clock, results come in chunks of [`Options::chunk_rows`] rows, inline
//! or as external links to a second listener ([`Handle::storage_url`]) that checks an S3-style
//! presigned signature and expiry and refuses an `Authorization` header.
//!
//! What each behaviour is based on:
//! - The REST reference of the Statement Execution API (`POST /api/2.0/sql/statements`, `GET
//!   .../{statement_id}`, `GET .../result/chunks/{chunk_index}`, `POST .../cancel`) and its
//!   overview, as the Databricks SDK for Python 0.162.0 carries them in
//!   `databricks/sdk/service/sql.py` (`StatementExecutionAPI` and the dataclasses
//!   `StatementResponse`, `StatementStatus`, `ServiceError`, `ResultManifest`, `ResultSchema`,
//!   `ColumnInfo`, `BaseChunkInfo`, `ResultData`, `ExternalLink`): request fields and defaults
//!   (`statements.rs`), states (`statement.rs`), bodies (`wire.rs`), formats (`render.rs`).
//! - The SDK's authentication (`config.py`, `credentials_provider.py`, `oauth.py`): the bearer
//!   token, the host metadata and OIDC discovery it reads, and its client credentials request
//!   (`auth.rs`). Its error parsing (`errors/`) reads `error_code` and `message`.
//! - Databricks SQL's error classes and messages (`PARSE_SYNTAX_ERROR`,
//!   `TABLE_OR_VIEW_NOT_FOUND`, ...) as workspaces print them, in `sql/`.
//! - S3's answers to presigned URLs, for the storage origin (`links.rs`, `storage.rs`).
//!
//! Where the documentation is silent the module that chooses says so.

mod args;
mod auth;
mod errors;
mod handle;
mod links;
mod options;
mod render;
mod result;
mod sql;
mod statement;
mod statements;
mod storage;
mod tables;
mod wire;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::{get, post};

pub use self::args::Args;
pub use self::handle::Handle;
use self::links::Links;
pub use self::options::Options;
use self::statement::Statement;
use self::storage::Storage;
use self::tables::Data;
use crate::shared::listener::{Extra, Origin};
use crate::shared::rng::mix;
use crate::shared::surface::Surface;
use crate::shared::tokens::Realm;
use crate::shared::{Shared, lock};

/// The table [`Options::rows`] sizes.
const ORDERS: &str = "main.sales.orders";

/// The Databricks family: its warehouse, tables, statements and links.
#[derive(Debug)]
pub(crate) struct Databricks {
    core: Shared,
    options: Options,
    data: Data,
    warehouse_id: String,
    workspace_id: u64,
    /// The personal access token [`Handle::token`] gives out.
    token: String,
    /// Where the storage listener was bound; external links point at it.
    storage: Origin,
    links: Links,
    statements: Mutex<HashMap<String, Statement>>,
    /// Bytes of chunk bodies the statements keep, all together (see [`Databricks::keep_bodies`]).
    kept: AtomicU64,
}

/// Most bytes of chunk bodies all statements together keep in memory; the results of statements
/// past it are rendered again for each download (the same bytes, at some CPU cost).
const KEPT_BODIES: u64 = 256 * 1024 * 1024;

impl Databricks {
    /// No statements yet, over tables of `rows(full name)` rows ([`Options::rows`] first), with a
    /// personal access token issued; external links point at the storage listener once
    /// [`listeners`] has had it bound.
    pub(crate) fn new(core: Shared, options: Options, rows: &dyn Fn(&str) -> Option<u64>) -> Self {
        let seed = core.config.seed;
        let rows = |name: &str| match options.rows {
            Some(orders) if name == ORDERS => Some(orders),
            _ => rows(name),
        };
        let storage = Origin::default();
        Self {
            warehouse_id: format!("{:016x}", mix(seed ^ 0x5741_5245)),
            workspace_id: 1_000_000_000_000_000 + mix(seed ^ 0x5753) % 1_000_000_000_000_000,
            token: core
                .tokens
                .issue(Realm::Databricks, core.config.token_lifetime),
            links: Links::new(
                seed,
                storage.clone(),
                options.link_lifetime,
                options.link_headers,
            ),
            storage,
            data: Data::new(seed, rows),
            core,
            options,
            statements: Mutex::default(),
            kept: AtomicU64::new(0),
        }
    }

    /// Whether a statement may keep `bytes` of chunk bodies (counted if so): while all kept
    /// bodies stay within [`KEPT_BODIES`].
    pub(crate) fn keep_bodies(&self, bytes: u64) -> bool {
        self.kept
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |kept| {
                kept.checked_add(bytes)
                    .filter(|&total| total <= KEPT_BODIES)
            })
            .is_ok()
    }

    /// The personal access token issued when the workspace started.
    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    /// The SQL warehouse's id.
    pub(crate) fn warehouse_id(&self) -> &str {
        &self.warehouse_id
    }

    /// The storage origin's URL.
    pub(crate) fn storage_url(&self) -> &str {
        self.links.origin()
    }

    /// Every external link issued so far expires now.
    pub(crate) fn expire_links(&self) {
        self.links.expire_all();
    }

    /// A statement's `status.state` now (`PENDING`, ..., `CLOSED`), or `None` if unknown.
    pub(crate) fn statement_state(&self, id: &str) -> Option<&'static str> {
        lock(&self.statements)
            .get(id)
            .map(|s| s.current(self.options.result_ttl).name())
    }
}

impl Surface for Databricks {
    fn injected(&self, status: StatusCode, _route: &str) -> Response {
        let (code, message) = match status.as_u16() {
            429 => (
                "REQUEST_LIMIT_EXCEEDED",
                "Too many requests. Please wait a moment and try again. (injected by haul-sim)",
            ),
            503 => (
                "TEMPORARILY_UNAVAILABLE",
                "The service at /api/2.0/sql/statements is temporarily unavailable. Please try again later. (injected by haul-sim)",
            ),
            _ => ("INTERNAL_ERROR", "Internal error (injected by haul-sim)"),
        };
        errors::error(status, code, message)
    }

    fn not_found(&self) -> Response {
        errors::error(
            StatusCode::NOT_FOUND,
            "ENDPOINT_NOT_FOUND",
            "No API found for this path.",
        )
    }
}

/// The workspace's routes: discovery and the token endpoint, and the statement API behind the
/// token guard; and the control route that expires every link.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>(db: &Arc<Databricks>) -> Router<S> {
    const STATEMENTS: &str = "/api/2.0/sql/statements";
    let api = Router::new()
        .route(STATEMENTS, post(statements::execute))
        .route(
            &format!("{STATEMENTS}/{{statement_id}}"),
            get(statements::get),
        )
        .route(
            &format!("{STATEMENTS}/{{statement_id}}/cancel"),
            post(statements::cancel),
        )
        .route(
            &format!("{STATEMENTS}/{{statement_id}}/result/chunks/{{chunk_index}}"),
            get(statements::chunk),
        )
        .route_layer(from_fn_with_state(db.clone(), auth::guard));
    Router::new()
        .route("/.well-known/databricks-config", get(auth::host_metadata))
        .route(
            "/oidc/.well-known/oauth-authorization-server",
            get(auth::discovery),
        )
        .route("/oidc/v1/token", post(auth::token))
        .route("/__sim/databricks/expire-links", post(expire_links))
        .merge(api)
        .with_state(db.clone())
}

/// `POST /__sim/databricks/expire-links`: as [`Handle::expire_links`]; 204.
async fn expire_links(
    axum::extract::State(db): axum::extract::State<Arc<Databricks>>,
) -> StatusCode {
    db.expire_links();
    StatusCode::NO_CONTENT
}

/// The listener beside the main one: the storage origin external links point at, in S3's shapes.
pub(crate) fn listeners(db: &Arc<Databricks>) -> Vec<Extra> {
    let routes = Router::new()
        .route(
            &format!("/{}/{{statement}}/{{file}}", links::BUCKET),
            get(storage::object),
        )
        .with_state(db.clone());
    vec![Extra {
        addr: db.options.storage_addr,
        routes,
        surface: Arc::new(Storage),
        origin: db.storage.clone(),
    }]
}
