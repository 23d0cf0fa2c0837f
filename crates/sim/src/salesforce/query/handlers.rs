//! The job resources: create, get, list, abort (`PATCH`) and delete.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use haul_types::{ApiVersion, ColumnDelimiter, LineEnding, QueryJobState, QueryOperation};
use serde::Deserialize;
use serde_json::Value;

use super::QueryJobs;
use super::job::QueryJob;
use crate::salesforce::errors::{self, error, not_found, parse_body};
use crate::salesforce::rest::{self, JobPath, VersionPath, decode_locator, encode_locator};
use crate::shared::data::schema::FieldType;
use crate::shared::data::soql;
use crate::shared::{ids, lock};

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

/// Validates a create request into a new queued job.
fn new_job(fam: &QueryJobs, version: ApiVersion, req: CreateBody) -> Result<QueryJob, Response> {
    let operation = match req.operation.as_deref().map(QueryOperation::from) {
        Some(op @ (QueryOperation::Query | QueryOperation::QueryAll)) => op,
        Some(other) => return Err(invalid_job(format!("Invalid operation: {other}"))),
        None => return Err(invalid_job("Operation is required")),
    };
    if req.content_type.as_deref().is_some_and(|c| c != "CSV") {
        return Err(invalid_job("ContentType must be CSV"));
    }
    let delimiter = req.column_delimiter.unwrap_or_default();
    let line_ending = req.line_ending.unwrap_or_default();
    if !delimiter.is_known() || !line_ending.is_known() {
        return Err(invalid_job("Invalid columnDelimiter or lineEnding"));
    }
    let Some(text) = req.query else {
        return Err(invalid_job("Query is required"));
    };
    let soql = soql::parse(&text).map_err(|e| error(StatusCode::BAD_REQUEST, e.code, e.message))?;
    bulk_supports(&soql)?;
    let now = fam.core.calendar.now();
    Ok(QueryJob {
        id: ids::id_string("750", fam.core.next_serial()),
        operation,
        soql,
        version,
        delimiter,
        line_ending,
        created: now,
        modified: now,
        state: QueryJobState::UploadComplete,
        results: None,
        // Armed once the job is accepted, so that a refused one does not use the switch up.
        fail: false,
        error_message: None,
        processing_ms: 0,
    })
}

/// Refuses what Bulk API cannot query, with the texts real orgs send:
/// - objects it does not support: `INVALIDENTITY`, "Entity 'X' is not supported by the Bulk API."
///   (Salesforce help article 000383508; airbyte's Salesforce source matches
///   `[{"errorCode": "INVALIDENTITY", "message": "... is not supported by the Bulk API"}]` on job
///   creation);
/// - compound address and geolocation fields ("Bulk API can't access or query compound address or
///   compound geolocation fields", Bulk API Developer Guide, "Use Bulk Query"): the message is
///   "Selecting compound data not supported in Bulk Query", under the code
///   `FUNCTIONALITY_NOT_ENABLED` that real orgs name in it (jsforce#380, haoide#137);
/// - base64 fields: `FeatureNotEnabled`, "Binary field not supported" (Data Loader's error on
///   ContentVersion, help article 000382669).
fn bulk_supports(soql: &soql::Soql) -> Result<(), Response> {
    let object = soql.object;
    if !object.bulk {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "INVALIDENTITY",
            format!("Entity '{}' is not supported by the Bulk API.", object.name),
        ));
    }
    let types = soql.columns.iter().map(|c| c.ty(object));
    if types.clone().any(FieldType::is_compound) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "FUNCTIONALITY_NOT_ENABLED",
            "Selecting compound data not supported in Bulk Query",
        ));
    }
    if types.clone().any(|t| t == FieldType::Base64) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "FeatureNotEnabled",
            "Binary field not supported",
        ));
    }
    Ok(())
}

/// `POST /jobs/query`.
pub(super) async fn create(
    State(fam): State<Arc<QueryJobs>>,
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
    let mut job = match new_job(&fam, version, req) {
        Ok(j) => j,
        Err(r) => return r,
    };
    let asked = fam.created.spend(1);
    if asked > fam.options.daily_jobs {
        let message = format!(
            "Max bulk v2 query jobs ({}) per 24 hrs has been reached ({asked})",
            fam.options.daily_jobs
        );
        return error(StatusCode::BAD_REQUEST, "LIMIT_EXCEEDED", message);
    }
    job.fail = fam.fail_next.take();
    let info = Value::Object(job.short_info());
    let id = job.id.clone();
    lock(&fam.jobs).insert(id.clone(), job);
    fam.core.clock.start(fam.clone(), id).await;
    errors::json(StatusCode::OK, &info)
}

/// `GET /jobs/query/{id}`.
pub(super) async fn get(State(fam): State<Arc<QueryJobs>>, Path(p): Path<JobPath>) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::BULK_V2_QUERY) {
        return r;
    }
    match lock(&fam.jobs).get(&p.id) {
        Some(job) => errors::json(StatusCode::OK, &job.full_info()),
        None => not_found(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListQuery {
    query_locator: Option<String>,
    job_type: Option<String>,
}

/// `GET /jobs/query`: this org has only Bulk 2.0 query jobs, so `jobType` other than `V2Query`
/// lists nothing.
pub(super) async fn list(
    State(fam): State<Arc<QueryJobs>>,
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
    let jobs = lock(&fam.jobs);
    let records: Vec<Value> = if wanted {
        jobs.values().map(QueryJob::listed_info).collect()
    } else {
        Vec::new()
    };
    rest::list_page(&records, offset, fam.options.list_page_size, |next| {
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
pub(super) async fn patch(
    State(fam): State<Arc<QueryJobs>>,
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
    let mut jobs = lock(&fam.jobs);
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
    job.touch(QueryJobState::Aborted, fam.core.calendar.now());
    errors::json(StatusCode::OK, &Value::Object(job.short_info()))
}

/// `DELETE /jobs/query/{id}`: only terminal jobs.
pub(super) async fn delete(State(fam): State<Arc<QueryJobs>>, Path(p): Path<JobPath>) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::BULK_V2_QUERY) {
        return r;
    }
    let mut jobs = lock(&fam.jobs);
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
