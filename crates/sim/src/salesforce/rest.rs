//! What the Salesforce families' REST resources have in common: path parameters, both spellings of
//! a path, the job listing page, locators, the creating user and the date-time format.

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::MethodRouter;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors;

/// The user every job is created by, and whom every token speaks for: row 1 of `User`.
pub(crate) const USER_ID: &str = "005Hs0000000001IAA";

/// The simulated org's id (`00D` is the Organization key prefix).
pub(crate) const ORG_ID: &str = "00DHs0000000simEAA";

/// The instance URL as the client reached it (`http://` and its `Host`), for absolute URLs in
/// answers (the token response's `instance_url` and `id`, the identity URL's `urls`).
pub(crate) fn instance_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// Path parameters of a versioned collection.
#[derive(Debug, Deserialize)]
pub(crate) struct VersionPath {
    pub(crate) version: String,
}

/// Path parameters of one job.
#[derive(Debug, Deserialize)]
pub(crate) struct JobPath {
    pub(crate) version: String,
    pub(crate) id: String,
}

/// Adds `path` and `path/`: clients differ on trailing slashes (api-facts §5.13).
pub(crate) fn both<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    path: &str,
    handler: MethodRouter<S>,
) -> Router<S> {
    router
        .route(path, handler.clone())
        .route(&format!("{path}/"), handler)
}

/// One page of a job listing: `{done, records, nextRecordsUrl}`.
pub(crate) fn list_page(
    records: &[Value],
    offset: u64,
    page: usize,
    next_url: impl Fn(u64) -> String,
) -> Response {
    let start = (offset as usize).min(records.len());
    let end = start.saturating_add(page.max(1)).min(records.len());
    let done = end >= records.len();
    let next = (!done).then(|| next_url(end as u64));
    errors::json(
        StatusCode::OK,
        &json!({ "done": done, "records": &records[start..end], "nextRecordsUrl": next }),
    )
}

/// The offset a locator names: absent, empty or `null` is the first page.
pub(crate) fn decode_locator(locator: Option<&str>) -> Option<u64> {
    match locator {
        None | Some("") | Some("null") => Some(0),
        Some(text) => {
            let digits = URL_SAFE_NO_PAD.decode(text).ok()?;
            std::str::from_utf8(&digits).ok()?.parse().ok()
        }
    }
}

/// An opaque locator for a row offset (base64 of its decimal digits, like the vendor's `MTAwMDA`).
pub(crate) fn encode_locator(offset: u64) -> String {
    URL_SAFE_NO_PAD.encode(offset.to_string())
}

/// Salesforce's date-time format in job info: `2018-12-10T17:50:19.000+0000`.
pub(crate) fn sf_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locators_round_trip_and_look_like_the_vendors() {
        assert_eq!(encode_locator(10_000), "MTAwMDA");
        assert_eq!(decode_locator(Some("MTAwMDA")), Some(10_000));
        assert_eq!(decode_locator(None), Some(0));
        assert_eq!(decode_locator(Some("null")), Some(0));
        assert_eq!(decode_locator(Some("!!")), None);
    }
}
