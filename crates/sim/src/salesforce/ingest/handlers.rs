//! The job resources: create (JSON or multipart), upload, close or abort (`PATCH`), delete, get
//! and list.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use haul_types::{ApiVersion, ColumnDelimiter, IngestJobState, IngestOperation, LineEnding};
use serde::Deserialize;
use serde_json::{Value, json};

use super::job::{IngestJob, abort_outcome};
use super::{IngestJobs, MAX_UPLOAD};
use crate::salesforce::errors::{self, error, not_found, parse_body};
use crate::salesforce::rest::{self, JobPath, VersionPath, decode_locator, encode_locator};
use crate::shared::data::schema;
use crate::shared::{ids, lock};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    object: Option<String>,
    operation: Option<String>,
    external_id_field_name: Option<String>,
    assignment_rule_id: Option<String>,
    content_type: Option<String>,
    column_delimiter: Option<ColumnDelimiter>,
    line_ending: Option<LineEnding>,
}

fn invalid_job(message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, "INVALIDJOB", message)
}

/// Validates a create request into a new Open job.
fn new_job(fam: &IngestJobs, version: ApiVersion, req: CreateBody) -> Result<IngestJob, Response> {
    let Some(name) = req.object else {
        return Err(invalid_job("Object is required"));
    };
    let object = schema::object(&name).ok_or_else(|| {
        error(
            StatusCode::BAD_REQUEST,
            "INVALIDENTITY",
            format!("Entity '{name}' is not supported by the Bulk API"),
        )
    })?;
    let operation = match req.operation.as_deref().map(IngestOperation::from) {
        Some(op) if op.is_known() => op,
        Some(other) => return Err(invalid_job(format!("Invalid operation: {other}"))),
        None => return Err(invalid_job("Operation is required")),
    };
    if operation == IngestOperation::Upsert && req.external_id_field_name.is_none() {
        return Err(invalid_job("External ID field name is required for upsert"));
    }
    if req.content_type.as_deref().is_some_and(|c| c != "CSV") {
        return Err(invalid_job("ContentType must be CSV"));
    }
    let delimiter = req.column_delimiter.unwrap_or_default();
    let line_ending = req.line_ending.unwrap_or_default();
    if !delimiter.is_known() || !line_ending.is_known() {
        return Err(invalid_job("Invalid columnDelimiter or lineEnding"));
    }
    let now = fam.core.calendar.now();
    Ok(IngestJob {
        id: ids::id_string("750", fam.core.next_serial()),
        object,
        operation,
        external_id: req.external_id_field_name,
        assignment_rule_id: req.assignment_rule_id,
        version,
        delimiter,
        line_ending,
        created: now,
        modified: now,
        state: IngestJobState::Open,
        data: None,
        fail: fam.fail_next.take(),
        error_message: None,
        outcome: None,
        processing_ms: 0,
    })
}

/// `POST /jobs/ingest`: JSON (job starts Open) or multipart with `job` and `content` parts (job
/// starts UploadComplete).
pub(super) async fn create(
    State(fam): State<Arc<IngestJobs>>,
    Path(p): Path<VersionPath>,
    request: Request,
) -> Response {
    let version = match errors::version(&p.version, ApiVersion::BULK_V2_INGEST) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let (job_json, content) = if multipart {
        match read_multipart(request, &fam).await {
            Ok(parts) => parts,
            Err(r) => return r,
        }
    } else {
        match Bytes::from_request(request, &fam).await {
            Ok(b) => (b, None),
            Err(e) => return e.into_response(),
        }
    };
    let req: CreateBody = match parse_body(&job_json) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut job = match new_job(&fam, version, req) {
        Ok(j) => j,
        Err(r) => return r,
    };
    if let Some(content) = content {
        job.data = Some(content);
        job.state = IngestJobState::UploadComplete;
    }
    let info = Value::Object(job.short_info());
    let (id, closed) = (job.id.clone(), job.state == IngestJobState::UploadComplete);
    lock(&fam.jobs).insert(id.clone(), job);
    if closed {
        fam.core.clock.start(fam.clone(), id).await;
    }
    errors::json(StatusCode::OK, &info)
}

async fn read_multipart(
    request: Request,
    fam: &Arc<IngestJobs>,
) -> Result<(Bytes, Option<Bytes>), Response> {
    let mut form = Multipart::from_request(request, fam)
        .await
        .map_err(IntoResponse::into_response)?;
    let (mut job, mut content) = (None, None);
    while let Some(field) = form
        .next_field()
        .await
        .map_err(IntoResponse::into_response)?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(IntoResponse::into_response)?;
        match name.as_str() {
            "job" => job = Some(bytes),
            "content" => content = Some(bytes),
            _ => {}
        }
    }
    match (job, content) {
        (Some(job), Some(content)) => Ok((job, Some(content))),
        _ => Err(invalid_job(
            "A multipart request needs a 'job' part and a 'content' part",
        )),
    }
}

/// `PUT /jobs/ingest/{id}/batches`: the job's one upload.
pub(super) async fn upload(
    State(fam): State<Arc<IngestJobs>>,
    Path(p): Path<JobPath>,
    body: Bytes,
) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::BULK_V2_INGEST) {
        return r;
    }
    let mut jobs = lock(&fam.jobs);
    let Some(job) = jobs.get_mut(&p.id) else {
        return not_found();
    };
    if job.state != IngestJobState::Open {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALIDJOBSTATE",
            "Data can only be uploaded to a job in the Open state",
        );
    }
    if job.data.is_some() {
        let message = format!(
            "Found multiple contents for job: <{}>, please 'Close' / 'Abort' / 'Delete' the current Job then create a new Job and make sure you only do 'PUT' once on a given Job.",
            job.id
        );
        return error(StatusCode::BAD_REQUEST, "INVALIDJOBSTATE", message);
    }
    if body.len() > MAX_UPLOAD {
        return error(
            StatusCode::BAD_REQUEST,
            "API_ERROR",
            "Maximum content size exceeded (150 MB)",
        );
    }
    job.data = Some(body);
    errors::empty(StatusCode::CREATED)
}

#[derive(Debug, Deserialize)]
struct StateChange {
    state: Option<String>,
}

/// `PATCH /jobs/ingest/{id}`: `UploadComplete` (close) or `Aborted`.
pub(super) async fn patch(
    State(fam): State<Arc<IngestJobs>>,
    Path(p): Path<JobPath>,
    body: Bytes,
) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::BULK_V2_INGEST) {
        return r;
    }
    let change: StateChange = match parse_body(&body) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (closing, info) = match change_state(&fam, &p.id, change) {
        Ok(changed) => changed,
        Err(refusal) => return refusal,
    };
    if closing {
        fam.core.clock.start(fam.clone(), p.id).await;
    }
    errors::json(StatusCode::OK, &info)
}

/// Applies a `PATCH`'s state change to job `id` under the jobs' lock, which it releases before
/// the caller awaits anything: whether the job is closing (to be started), and its info.
fn change_state(
    fam: &IngestJobs,
    id: &str,
    change: StateChange,
) -> Result<(bool, Value), Response> {
    let mut jobs = lock(&fam.jobs);
    let Some(job) = jobs.get_mut(id) else {
        return Err(not_found());
    };
    let wanted = change.state.map(IngestJobState::from);
    let allowed = match (&wanted, &job.state) {
        (Some(IngestJobState::UploadComplete), IngestJobState::Open) => true,
        (Some(IngestJobState::Aborted), state) => !state.is_terminal(),
        _ => false,
    };
    if !allowed {
        let target = wanted.as_ref().map_or("(none)", IngestJobState::as_str);
        let message = format!(
            "Unable to change the job's state from {} to {target}",
            job.state
        );
        return Err(error(StatusCode::BAD_REQUEST, "INVALIDJOBSTATE", message));
    }
    let closing = wanted == Some(IngestJobState::UploadComplete);
    if let Some(state) = wanted {
        job.touch(state, fam.core.calendar.now());
    }
    if job.state == IngestJobState::Aborted {
        abort_outcome(job);
    }
    Ok((closing, Value::Object(job.short_info())))
}

/// `DELETE /jobs/ingest/{id}`: allowed in UploadComplete, JobComplete, Aborted and Failed.
pub(super) async fn delete(State(fam): State<Arc<IngestJobs>>, Path(p): Path<JobPath>) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::BULK_V2_INGEST) {
        return r;
    }
    let mut jobs = lock(&fam.jobs);
    let Some(job) = jobs.get(&p.id) else {
        return not_found();
    };
    if matches!(job.state, IngestJobState::Open | IngestJobState::InProgress) {
        return error(
            StatusCode::BAD_REQUEST,
            "API_ERROR",
            "Error encountered when deleting the job because the job is not terminated",
        );
    }
    jobs.remove(&p.id);
    errors::empty(StatusCode::NO_CONTENT)
}

/// `GET /jobs/ingest/{id}`.
pub(super) async fn get(State(fam): State<Arc<IngestJobs>>, Path(p): Path<JobPath>) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::BULK_V2_INGEST) {
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

/// `GET /jobs/ingest`.
pub(super) async fn list(
    State(fam): State<Arc<IngestJobs>>,
    Path(p): Path<VersionPath>,
    Query(q): Query<ListQuery>,
) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::BULK_V2_INGEST) {
        return r;
    }
    let offset = match q.query_locator.as_deref() {
        None | Some("") => 0,
        Some(l) => match decode_locator(Some(l)) {
            Some(o) => o,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_QUERY_LOCATOR",
                    "invalid query locator",
                );
            }
        },
    };
    let wanted = q.job_type.as_deref().is_none_or(|t| t == "V2Ingest");
    let jobs = lock(&fam.jobs);
    let records: Vec<Value> = if wanted {
        jobs.values()
            .map(|j| {
                let mut map = j.short_info();
                map.insert("jobType".into(), json!("V2Ingest"));
                Value::Object(map)
            })
            .collect()
    } else {
        Vec::new()
    };
    rest::list_page(&records, offset, fam.list_page_size, |next| {
        format!(
            "/services/data/{}/jobs/ingest?queryLocator={}",
            p.version,
            encode_locator(next)
        )
    })
}
