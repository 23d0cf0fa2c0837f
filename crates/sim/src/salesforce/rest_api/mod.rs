//! The REST API around a bulk job: what tools read before and after they run one. Written from
//! the REST API Developer Guide
//! (<https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/>):
//! - Versions (`GET /services/data/`, no session needed) and Resources by Version
//!   (`GET /services/data/vXX.X/`): `versions.rs`;
//! - Describe Global (`GET .../sobjects`), sObject Describe (`GET .../sobjects/{object}/describe`):
//!   `describe.rs`; sObject Rows (`GET .../sobjects/{object}/{id}`): `records.rs`;
//! - Query and QueryAll (`GET .../query?q=`, `GET .../queryAll?q=`, continued through
//!   `nextRecordsUrl`), with the `Sforce-Query-Options: batchSize=N` header: `query.rs`;
//! - the identity URL the token response's `id` names (`/id/{orgId}/{userId}`) and OpenID
//!   Connect's `/services/oauth2/userinfo`: `identity.rs`.
//!
//! The versioned resources sit behind the bearer-token guard, so each request spends one of the
//! org's daily API requests, as on a real org; the versions list and the identity resources do
//! not count against API limits.

mod columns;
mod describe;
mod identity;
mod query;
mod records;
mod versions;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;

use super::rest::both;
use crate::shared::Shared;
use crate::shared::data::query::ResultSet;

/// Most query cursors kept at once; older ones answer `INVALID_QUERY_LOCATOR`, as expired
/// cursors do on a real org.
const MAX_CURSORS: usize = 64;

/// A query's rows, fixed when the query ran, continued page by page through `nextRecordsUrl`.
#[derive(Debug)]
struct Cursor {
    results: Arc<ResultSet>,
    /// Rows per page, from `Sforce-Query-Options: batchSize` when the query began.
    batch: u64,
    /// Whether it was a `queryAll` (its `nextRecordsUrl` continues under `queryAll`).
    all: bool,
}

/// The REST family: the org (through the shared core) and the open query cursors.
#[derive(Debug)]
pub(crate) struct RestApi {
    core: Shared,
    cursors: Mutex<BTreeMap<String, Arc<Cursor>>>,
}

impl RestApi {
    /// No cursors yet.
    pub(crate) fn new(core: Shared) -> Self {
        Self {
            core,
            cursors: Mutex::default(),
        }
    }
}

/// The resources under `/services/data/vXX.X/`, for the bearer-token guard to wrap.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>(rest: &Arc<RestApi>) -> Router<S> {
    let v = "/services/data/{version}";
    let mut api = Router::new();
    api = both(api, v, get(versions::resources));
    api = both(api, &format!("{v}/sobjects"), get(describe::global));
    api = both(
        api,
        &format!("{v}/sobjects/{{object}}"),
        get(describe::basic),
    );
    api = both(
        api,
        &format!("{v}/sobjects/{{object}}/describe"),
        get(describe::object),
    );
    api = both(
        api,
        &format!("{v}/sobjects/{{object}}/{{id}}"),
        get(records::record_route),
    );
    for resource in ["query", "queryAll"] {
        api = both(api, &format!("{v}/{resource}"), get(query::start));
        api = both(api, &format!("{v}/{resource}/{{cursor}}"), get(query::more));
    }
    api.with_state(rest.clone())
}

/// The resources that need no session (the versions list) or check it themselves (identity).
pub(crate) fn open_routes<S: Clone + Send + Sync + 'static>(rest: &Arc<RestApi>) -> Router<S> {
    let mut api = Router::new();
    api = both(api, "/services/data", get(versions::list));
    api = api.route("/services/oauth2/userinfo", get(identity::userinfo));
    api = both(api, "/id/{org}/{user}", get(identity::identity));
    api.with_state(rest.clone())
}
