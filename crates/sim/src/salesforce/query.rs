//! Bulk API 2.0 query jobs (api-facts §1): create, get, list, abort, delete, results and
//! resultPages.
//!
//! Choices where the vendor is silent or inconsistent (api-facts §5):
//! - Results requested before `JobComplete`: 412 `JOB_NOT_COMPLETE`, the body of the v46 docs.
//! - Results or resultPages under another API version than the job's: 409 `API_ERROR`.
//! - A locator is the base64 (URL-safe, unpadded) of the row offset where its page starts; a
//!   locator that decodes to no page is 400 `INVALID_LOCATOR`.
//! - `maxRecords` omitted: the configured default page size (50 000 unless set).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use haul_types::{ApiVersion, ColumnDelimiter, LineEnding, QueryJobState, QueryOperation};
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::{self, error, not_found, parse_body};
use super::{JobPath, USER_ID, VersionPath};
use crate::body;
use crate::csv::Dialect;
use crate::data::query::{ResultSet, evaluate};
use crate::data::soql::{self, Soql};
use crate::faults::JobKind;
use crate::ids;
use crate::state::{Shared, lock, sf_time};

/// Links per resultPages response, as documented.
const LINKS_PER_PAGE: u64 = 5;

/// A query job and, once it ran, its results.
#[derive(Debug)]
pub(crate) struct QueryJob {
    id: String,
    operation: QueryOperation,
    soql: Soql,
    version: ApiVersion,
    delimiter: ColumnDelimiter,
    line_ending: LineEnding,
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
    pub(crate) state: QueryJobState,
    results: Option<Arc<ResultSet>>,
    fail: bool,
    processing_ms: u64,
}

impl QueryJob {
    fn short_info(&self) -> serde_json::Map<String, Value> {
        let Value::Object(map) = json!({
            "id": self.id,
            "operation": self.operation,
            "object": self.soql.object.name,
            "createdById": USER_ID,
            "createdDate": sf_time(self.created),
            "systemModstamp": sf_time(self.modified),
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": self.version,
            "lineEnding": self.line_ending,
            "columnDelimiter": self.delimiter,
        }) else {
            unreachable!("a JSON object literal")
        };
        map
    }

    fn listed_info(&self) -> Value {
        let mut map = self.short_info();
        map.insert("jobType".into(), json!("V2Query"));
        Value::Object(map)
    }

    fn full_info(&self) -> Value {
        let mut map = self.short_info();
        map.insert("jobType".into(), json!("V2Query"));
        map.insert(
            "numberRecordsProcessed".into(),
            json!(self.results.as_ref().map_or(0, |r| r.len())),
        );
        map.insert("retries".into(), json!(0));
        map.insert("totalProcessingTime".into(), json!(self.processing_ms));
        map.insert("isPkChunkingSupported".into(), json!(true));
        Value::Object(map)
    }

    fn touch(&mut self, state: QueryJobState) {
        self.state = state;
        self.modified = Utc::now();
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    operation: Option<String>,
    query: Option<String>,
    content_type: Option<String>,
    column_delimiter: Option<ColumnDelimiter>,
    line_ending: Option<LineEnding>,
}

fn invalid_job(message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, "INVALIDJOB", message)
}

/// `POST /jobs/query`.
pub(crate) async fn create(
    State(st): State<Shared>,
    Path(p): Path<VersionPath>,
    body: Bytes,
) -> Response {
    let version = match errors::version(&p.version, ApiVersion::BULK_V2_QUERY) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let req: CreateBody = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let operation = match req.operation.as_deref().map(QueryOperation::from) {
        Some(op @ (QueryOperation::Query | QueryOperation::QueryAll)) => op,
        Some(other) => return invalid_job(format!("Invalid operation: {other}")),
        None => return invalid_job("Operation is required"),
    };
    if req.content_type.as_deref().is_some_and(|c| c != "CSV") {
        return invalid_job("ContentType must be CSV");
    }
    let delimiter = req.column_delimiter.unwrap_or_default();
    let line_ending = req.line_ending.unwrap_or_default();
    if !delimiter.is_known() || !line_ending.is_known() {
        return invalid_job("Invalid columnDelimiter or lineEnding");
    }
    let Some(text) = req.query else {
        return invalid_job("Query is required");
    };
    let soql = match soql::parse(&text) {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.code, e.message),
    };
    let now = Utc::now();
    let job = QueryJob {
        id: ids::id_string("750", st.next_serial()),
        operation,
        soql,
        version,
        delimiter,
        line_ending,
        created: now,
        modified: now,
        state: QueryJobState::UploadComplete,
        results: None,
        fail: st.faults.take_fail(JobKind::Query),
        processing_ms: 0,
    };
    let info = Value::Object(job.short_info());
    let id = job.id.clone();
    lock(&st.query_jobs).insert(id.clone(), job);
    tokio::spawn(run(st, id));
    errors::json(StatusCode::OK, &info)
}

/// Moves a job through InProgress to JobComplete (or Failed), unless it is aborted meanwhile.
async fn run(st: Shared, id: String) {
    let total = st.config.job_duration;
    if !st.pause(total / 10).await {
        return;
    }
    let started = std::time::Instant::now();
    let work = {
        let mut jobs = lock(&st.query_jobs);
        let Some(job) = jobs
            .get_mut(&id)
            .filter(|j| j.state == QueryJobState::UploadComplete)
        else {
            return;
        };
        job.touch(QueryJobState::InProgress);
        (
            st.org.snapshot(job.soql.object),
            job.soql.clone(),
            job.operation == QueryOperation::QueryAll,
        )
    };
    let (snapshot, soql, query_all) = work;
    let Ok(results) =
        tokio::task::spawn_blocking(move || evaluate(snapshot, &soql, query_all)).await
    else {
        return;
    };
    if !st
        .pause(
            total
                .saturating_sub(total / 10)
                .saturating_sub(started.elapsed()),
        )
        .await
    {
        return;
    }
    let mut jobs = lock(&st.query_jobs);
    if let Some(job) = jobs
        .get_mut(&id)
        .filter(|j| j.state == QueryJobState::InProgress)
    {
        job.processing_ms = started.elapsed().as_millis() as u64;
        if job.fail {
            job.touch(QueryJobState::Failed);
        } else {
            job.results = Some(Arc::new(results));
            job.touch(QueryJobState::JobComplete);
        }
    }
}

/// `GET /jobs/query/{id}`.
pub(crate) async fn get(State(st): State<Shared>, Path(p): Path<JobPath>) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::BULK_V2_QUERY) {
        return r;
    }
    match lock(&st.query_jobs).get(&p.id) {
        Some(job) => errors::json(StatusCode::OK, &job.full_info()),
        None => not_found(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListQuery {
    query_locator: Option<String>,
    job_type: Option<String>,
}

/// `GET /jobs/query`: this org has only Bulk 2.0 query jobs, so `jobType` other than `V2Query`
/// lists nothing.
pub(crate) async fn list(
    State(st): State<Shared>,
    Path(p): Path<VersionPath>,
    Query(q): Query<ListQuery>,
) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::BULK_V2_QUERY) {
        return r;
    }
    let Some(offset) = decode_locator(q.query_locator.as_deref()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_LOCATOR",
            "invalid query locator",
        );
    };
    let wanted = q.job_type.as_deref().is_none_or(|t| t == "V2Query");
    let jobs = lock(&st.query_jobs);
    let records: Vec<Value> = if wanted {
        jobs.values().map(QueryJob::listed_info).collect()
    } else {
        Vec::new()
    };
    super::list_page(&records, offset, st.config.list_page_size, |next| {
        format!(
            "/services/data/{}/jobs/query?queryLocator={}",
            p.version,
            encode_locator(next)
        )
    })
}

#[derive(Debug, Deserialize)]
struct StateChange {
    state: Option<String>,
}

/// `PATCH /jobs/query/{id}` with `{"state":"Aborted"}`.
pub(crate) async fn patch(
    State(st): State<Shared>,
    Path(p): Path<JobPath>,
    body: Bytes,
) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::BULK_V2_QUERY) {
        return r;
    }
    let change: StateChange = match parse_body(&body) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let mut jobs = lock(&st.query_jobs);
    let Some(job) = jobs.get_mut(&p.id) else {
        return not_found();
    };
    if change.state.as_deref() != Some("Aborted") {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALIDJOBSTATE",
            "The state of a query job can only be set to Aborted",
        );
    }
    if job.state.is_terminal() {
        let was = match &job.state {
            QueryJobState::JobComplete => "Completed",
            QueryJobState::Failed => "Failed",
            _ => "Aborted",
        };
        return error(
            StatusCode::BAD_REQUEST,
            "INVALIDJOBSTATE",
            format!("Aborting already {was} Job not allowed"),
        );
    }
    job.touch(QueryJobState::Aborted);
    errors::json(StatusCode::OK, &Value::Object(job.short_info()))
}

/// `DELETE /jobs/query/{id}`: only terminal jobs.
pub(crate) async fn delete(State(st): State<Shared>, Path(p): Path<JobPath>) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::BULK_V2_QUERY) {
        return r;
    }
    let mut jobs = lock(&st.query_jobs);
    let Some(job) = jobs.get(&p.id) else {
        return not_found();
    };
    if !job.state.is_terminal() {
        return error(
            StatusCode::BAD_REQUEST,
            "API_ERROR",
            "Error encountered when deleting the job because the job is not terminated",
        );
    }
    jobs.remove(&p.id);
    errors::empty(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PageQuery {
    locator: Option<String>,
    max_records: Option<String>,
}

/// The finished results of a job, or the vendor's answer why there are none.
fn finished(
    st: &Shared,
    p: &JobPath,
    min: ApiVersion,
) -> Result<(Arc<ResultSet>, Dialect), Response> {
    let version = errors::version(&p.version, min)?;
    let jobs = lock(&st.query_jobs);
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

fn page_size(st: &Shared, max_records: Option<&str>) -> Result<u64, Response> {
    match max_records {
        None | Some("") => Ok(st.config.default_page_size),
        Some(text) => text.parse::<u64>().ok().filter(|&n| n > 0).ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "INVALID_MAX_RECORDS",
                "maxRecords must be a positive whole number",
            )
        }),
    }
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

fn invalid_locator() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "INVALID_LOCATOR",
        "The locator is not valid for this job",
    )
}

/// `GET /jobs/query/{id}/results`: one page of CSV with its own header row.
pub(crate) async fn results(
    State(st): State<Shared>,
    Path(p): Path<JobPath>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let (rows, dialect) = match finished(&st, &p, ApiVersion::BULK_V2_QUERY) {
        Ok(found) => found,
        Err(r) => return r,
    };
    let size = match page_size(&st, q.max_records.as_deref()) {
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
    let count = match st.faults.take_lie() {
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
pub(crate) async fn result_pages(
    State(st): State<Shared>,
    Path(p): Path<JobPath>,
    Query(q): Query<PageQuery>,
) -> Response {
    let (rows, _) = match finished(&st, &p, ApiVersion::RESULT_PAGES) {
        Ok(found) => found,
        Err(r) => return r,
    };
    let size = match page_size(&st, q.max_records.as_deref()) {
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
