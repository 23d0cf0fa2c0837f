//! The result resources: `results` (one page of CSV, with `Sforce-Locator` and
//! `Sforce-NumberOfRecords`) and `resultPages` (v58+, links to up to five pages at a time).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use haul_types::{ApiVersion, QueryJobState};
use serde::Deserialize;
use serde_json::json;

use super::QueryJobs;
use crate::salesforce::errors::{self, error, not_found};
use crate::salesforce::rest::{JobPath, decode_locator, encode_locator};
use crate::shared::body;
use crate::shared::csv::Dialect;
use crate::shared::data::query::ResultSet;
use crate::shared::lock;

/// Links per resultPages response, as documented.
const LINKS_PER_PAGE: u64 = 5;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PageQuery {
    locator: Option<String>,
    max_records: Option<String>,
}

/// The finished results of a job, or the vendor's answer why there are none.
fn finished(
    fam: &QueryJobs,
    p: &JobPath,
    min: ApiVersion,
) -> Result<(Arc<ResultSet>, Dialect), Response> {
    let version = errors::version(&p.version, min)?;
    let jobs = lock(&fam.jobs);
    let job = jobs.get(&p.id).ok_or_else(not_found)?;
    if version != job.version {
        return Err(error(
            StatusCode::CONFLICT,
            "API_ERROR",
            format!(
                "The API version of this request (v{version}) doesn't match the API version of the job (v{})",
                job.version
            ),
        ));
    }
    match (&job.state, &job.results) {
        (QueryJobState::JobComplete, Some(results)) => Ok((
            results.clone(),
            Dialect::new(&job.delimiter, &job.line_ending),
        )),
        _ => Err(error(
            StatusCode::PRECONDITION_FAILED,
            "JOB_NOT_COMPLETE",
            format!(
                "can only download query results of successfully completed bulk job with status: JOB_COMPLETE. Current status: {}",
                screaming(&job.state)
            ),
        )),
    }
}

fn screaming(state: &QueryJobState) -> String {
    match state {
        QueryJobState::UploadComplete => "UPLOAD_COMPLETE".into(),
        QueryJobState::InProgress => "IN_PROGRESS".into(),
        QueryJobState::JobComplete => "JOB_COMPLETE".into(),
        other => other.as_str().to_uppercase(),
    }
}

fn page_size(fam: &QueryJobs, max_records: Option<&str>) -> Result<u64, Response> {
    match max_records {
        None | Some("") => Ok(fam.options.default_page_size),
        Some(text) => text.parse::<u64>().ok().filter(|&n| n > 0).ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "INVALID_MAX_RECORDS",
                "maxRecords must be a positive whole number",
            )
        }),
    }
}

fn invalid_locator() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "INVALID_LOCATOR",
        "The locator is not valid for this job",
    )
}

/// `GET /jobs/query/{id}/results`: one page of CSV with its own header row.
pub(super) async fn results(
    State(fam): State<Arc<QueryJobs>>,
    Path(p): Path<JobPath>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let (rows, dialect) = match finished(&fam, &p, ApiVersion::BULK_V2_QUERY) {
        Ok(found) => found,
        Err(r) => return r,
    };
    let size = match page_size(&fam, q.max_records.as_deref()) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let total = rows.len();
    let Some(start) = decode_locator(q.locator.as_deref()).filter(|&s| s < total || s == 0) else {
        return invalid_locator();
    };
    let end = start.saturating_add(size).min(total);
    let next = if end < total {
        encode_locator(end)
    } else {
        "null".to_owned()
    };
    let count = match fam.take_lie() {
        Some(delta) => (end - start) as i64 + delta,
        None => (end - start) as i64,
    };
    let gzip = body::wants_gzip(&headers);
    let mut response = body::csv_page(rows, dialect, start, end, gzip).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv"));
    h.insert("sforce-numberofrecords", HeaderValue::from(count));
    h.insert(
        "sforce-locator",
        HeaderValue::from_str(&next).unwrap_or(HeaderValue::from_static("null")),
    );
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    response
}

/// `GET /jobs/query/{id}/resultPages` (v58+): up to five result links per response.
pub(super) async fn result_pages(
    State(fam): State<Arc<QueryJobs>>,
    Path(p): Path<JobPath>,
    Query(q): Query<PageQuery>,
) -> Response {
    let (rows, _) = match finished(&fam, &p, ApiVersion::RESULT_PAGES) {
        Ok(found) => found,
        Err(r) => return r,
    };
    let size = match page_size(&fam, q.max_records.as_deref()) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let total = rows.len();
    let Some(start) = decode_locator(q.locator.as_deref()).filter(|&s| s < total || s == 0) else {
        return invalid_locator();
    };
    let mut links = Vec::new();
    let mut offset = start;
    while links.len() < LINKS_PER_PAGE as usize && (offset < total || links.is_empty()) {
        let link = format!(
            "/jobs/query/{}/results?locator={}&maxRecords={size}",
            p.id,
            encode_locator(offset)
        );
        links.push(json!({ "resultLink": link }));
        offset = offset.saturating_add(size);
    }
    let done = offset >= total;
    let next = (!done).then(|| {
        format!(
            "/jobs/query/{}/resultpages?locator={}&maxRecords={size}",
            p.id,
            encode_locator(offset)
        )
    });
    errors::json(
        StatusCode::OK,
        &json!({ "resultPages": links, "nextRecordsUrl": next, "done": done }),
    )
}
