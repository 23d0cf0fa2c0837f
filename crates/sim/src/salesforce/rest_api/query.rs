//! Query and QueryAll (`GET .../query?q=`, `GET .../queryAll?q=`) and their continuation
//! (`GET .../query/{cursor}-{offset}`), from the REST API Developer Guide ("Query", "QueryAll",
//! "Execute a SOQL Query", "Query Options Header"):
//! - the answer is `{totalSize, done, records, nextRecordsUrl}`; `nextRecordsUrl` (only while
//!   `done` is false) looks like `/services/data/v62.0/query/01gD0000002HU6KIAW-2000`: the query
//!   locator, a dash, and the offset of the next batch;
//! - batches are 2,000 records unless `Sforce-Query-Options: batchSize=N` asks otherwise; the guide
//!   gives 200 as the minimum and 2,000 as the maximum, so other values are held to those bounds;
//! - `query` leaves deleted records out; `queryAll` includes the ones in the Recycle Bin, with
//!   `IsDeleted` true.
//!
//! With `columns=true` the query is not run: the answer describes its columns (`columns.rs`).
//!
//! The rows are fixed when the query runs (a later change does not move a batch), as a cursor on
//! a real org.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use haul_types::ApiVersion;
use serde::{Deserialize, Serialize};

use super::columns;
use super::records::{Ordered, record};
use super::{Cursor, MAX_CURSORS, RestApi};
use crate::salesforce::errors::{self, error};
use crate::shared::data::query::{evaluate, parents};
use crate::shared::data::soql;
use crate::shared::{ids, lock};

/// Records per batch when the client does not ask.
const DEFAULT_BATCH: u64 = 2_000;
/// The bounds the guide gives for `batchSize`.
const MIN_BATCH: u64 = 200;

#[derive(Debug, Deserialize)]
pub(super) struct VersionOnly {
    version: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct QueryText {
    q: Option<String>,
    /// `columns=true`: describe the query's columns instead of running it.
    columns: Option<String>,
}

/// Whether the request went to `queryAll` (the route is shared with `query`).
fn is_query_all(uri: &Uri) -> bool {
    uri.path().contains("/queryAll")
}

/// The batch size `Sforce-Query-Options: batchSize=N` asks for, within the documented bounds.
fn batch_size(headers: &HeaderMap) -> u64 {
    headers
        .get("sforce-query-options")
        .and_then(|v| v.to_str().ok())
        .into_iter()
        .flat_map(|options| options.split(','))
        .find_map(|option| {
            let (key, value) = option.split_once('=')?;
            key.trim()
                .eq_ignore_ascii_case("batchSize")
                .then(|| value.trim().parse::<u64>().ok())?
        })
        .map_or(DEFAULT_BATCH, |n| n.clamp(MIN_BATCH, DEFAULT_BATCH))
}

/// `GET .../query?q=` and `GET .../queryAll?q=`: runs the query and answers its first batch.
pub(super) async fn start(
    State(rest): State<Arc<RestApi>>,
    Path(p): Path<VersionOnly>,
    Query(q): Query<QueryText>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::BULK_V2_INGEST) {
        return r;
    }
    let Some(text) = q.q.filter(|t| !t.trim().is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "MALFORMED_QUERY",
            "A query string has to be specified",
        );
    };
    let parsed = match soql::parse(&text) {
        Ok(parsed) => parsed,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.code, e.message),
    };
    if q.columns.as_deref() == Some("true") {
        return errors::json(StatusCode::OK, &columns::metadata(&parsed));
    }
    let all = is_query_all(&uri);
    let org = &rest.core.org;
    let results = evaluate(
        org.snapshot(parsed.object),
        parents(org, &parsed),
        &parsed,
        all,
    );
    let cursor = Arc::new(Cursor {
        results: Arc::new(results),
        batch: batch_size(&headers),
        all,
    });
    let locator = ids::id_string("01g", rest.core.next_serial());
    {
        let mut cursors = lock(&rest.cursors);
        cursors.insert(locator.clone(), cursor.clone());
        while cursors.len() > MAX_CURSORS {
            cursors.pop_first();
        }
    }
    page(&cursor, &locator, 0, &p.version)
}

#[derive(Debug, Deserialize)]
pub(super) struct CursorPath {
    version: String,
    cursor: String,
}

/// `GET .../query/{locator}-{offset}`: the batch that starts at `offset`.
pub(super) async fn more(State(rest): State<Arc<RestApi>>, Path(p): Path<CursorPath>) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::BULK_V2_INGEST) {
        return r;
    }
    let found = p.cursor.rsplit_once('-').and_then(|(locator, offset)| {
        let offset = offset.parse::<u64>().ok()?;
        let cursor = lock(&rest.cursors).get(locator).cloned()?;
        (offset <= cursor.results.len()).then(|| (locator.to_owned(), offset, cursor))
    });
    match found {
        Some((locator, offset, cursor)) => page(&cursor, &locator, offset, &p.version),
        None => error(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_LOCATOR",
            "invalid query locator",
        ),
    }
}

/// The batch of `cursor` that starts at `offset`.
fn page(cursor: &Cursor, locator: &str, offset: u64, version: &str) -> Response {
    let results = &cursor.results;
    let total = results.len();
    let end = offset.saturating_add(cursor.batch).min(total);
    let records: Vec<Ordered> = (offset..end)
        .map(|position| {
            let row = results.row_index(position);
            record(results, row, version)
        })
        .collect();
    let done = end >= total;
    let resource = if cursor.all { "queryAll" } else { "query" };
    let body = Page {
        total_size: total,
        done,
        next_records_url: (!done)
            .then(|| format!("/services/data/{version}/{resource}/{locator}-{end}")),
        records,
    };
    errors::json(StatusCode::OK, &body)
}

/// One batch of a query, its keys in the order real orgs print them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    total_size: u64,
    done: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_records_url: Option<String>,
    records: Vec<Ordered>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_size_is_read_and_held_to_the_documented_bounds() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("Sforce-Query-Options", value.parse().expect("header"));
            batch_size(&headers)
        };
        assert_eq!(batch_size(&HeaderMap::new()), 2_000);
        assert_eq!(with("batchSize=500"), 500);
        assert_eq!(with("batchSize=50"), 200);
        assert_eq!(with("batchSize=9000"), 2_000);
        assert_eq!(with("other=1, batchSize=300"), 300);
    }
}
