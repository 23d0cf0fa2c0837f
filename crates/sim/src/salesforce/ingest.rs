//! Bulk API 2.0 ingest jobs (api-facts §2): create (JSON or multipart), one upload, close, abort,
//! delete, job info, listing, and the three result files.
//!
//! Choices: closing a job without data processes zero rows (JobComplete); result files are
//! served once the job is terminal, before that 400 `INVALIDJOBSTATE`; a second upload is 400
//! `INVALIDJOBSTATE` with the vendor's "Found multiple contents" text.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use haul_types::{ApiVersion, ColumnDelimiter, IngestJobState, IngestOperation, LineEnding};
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::{self, error, not_found, parse_body};
use super::ingest_rows::{self, Outcome, Plan};
use super::{JobPath, USER_ID, VersionPath};
use crate::body;
use crate::csv::{self, Dialect};
use crate::data::schema::{self, ObjectSchema};
use crate::faults::JobKind;
use crate::ids;
use crate::state::{Shared, lock, sf_time};

/// Largest upload accepted: the documented 150 MB (of base64, which the simulator does not apply).
pub(crate) const MAX_UPLOAD: usize = 150 * 1024 * 1024;

/// An ingest job.
#[derive(Debug)]
pub(crate) struct IngestJob {
    id: String,
    object: &'static ObjectSchema,
    operation: IngestOperation,
    external_id: Option<String>,
    assignment_rule_id: Option<String>,
    version: ApiVersion,
    delimiter: ColumnDelimiter,
    line_ending: LineEnding,
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
    pub(crate) state: IngestJobState,
    data: Option<Bytes>,
    fail: bool,
    error_message: Option<String>,
    outcome: Option<Arc<Outcome>>,
    processing_ms: u64,
}

impl IngestJob {
    fn short_info(&self) -> serde_json::Map<String, Value> {
        let Value::Object(mut map) = json!({
            "id": self.id,
            "operation": self.operation,
            "object": self.object.name,
            "createdById": USER_ID,
            "createdDate": sf_time(self.created),
            "systemModstamp": sf_time(self.modified),
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": self.version,
            "contentUrl": format!("services/data/v{}/jobs/ingest/{}/batches", self.version, self.id),
            "lineEnding": self.line_ending,
            "columnDelimiter": self.delimiter,
        }) else {
            unreachable!("a JSON object literal")
        };
        if let Some(key) = &self.external_id {
            map.insert("externalIdFieldName".into(), json!(key));
        }
        if let Some(rule) = &self.assignment_rule_id {
            map.insert("assignmentRuleId".into(), json!(rule));
        }
        map
    }

    fn full_info(&self) -> Value {
        let mut map = self.short_info();
        let (processed, failed) = self.outcome.as_ref().map_or((0, 0), |o| {
            (o.successes.len() + o.failures.len(), o.failures.len())
        });
        map.insert("jobType".into(), json!("V2Ingest"));
        map.insert("numberRecordsProcessed".into(), json!(processed));
        map.insert("numberRecordsFailed".into(), json!(failed));
        map.insert("retries".into(), json!(0));
        map.insert("totalProcessingTime".into(), json!(self.processing_ms));
        map.insert("apiActiveProcessingTime".into(), json!(self.processing_ms));
        map.insert("apexProcessingTime".into(), json!(0));
        if let Some(message) = &self.error_message {
            map.insert("errorMessage".into(), json!(message));
        }
        Value::Object(map)
    }

    fn touch(&mut self, state: IngestJobState) {
        self.state = state;
        self.modified = Utc::now();
    }

    fn plan(&self) -> Plan {
        Plan {
            object: self.object,
            operation: self.operation.clone(),
            external_id: self.external_id.clone(),
            delimiter: self.delimiter.as_byte().unwrap_or(b','),
        }
    }
}

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
fn new_job(st: &Shared, version: ApiVersion, req: CreateBody) -> Result<IngestJob, Response> {
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
    let now = Utc::now();
    Ok(IngestJob {
        id: ids::id_string("750", st.next_serial()),
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
        fail: st.faults.take_fail(JobKind::Ingest),
        error_message: None,
        outcome: None,
        processing_ms: 0,
    })
}

/// `POST /jobs/ingest`: JSON (job starts Open) or multipart with `job` and `content` parts (job
/// starts UploadComplete).
pub(crate) async fn create(
    State(st): State<Shared>,
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
        match read_multipart(request, &st).await {
            Ok(parts) => parts,
            Err(r) => return r,
        }
    } else {
        match Bytes::from_request(request, &st).await {
            Ok(b) => (b, None),
            Err(e) => return e.into_response(),
        }
    };
    let req: CreateBody = match parse_body(&job_json) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut job = match new_job(&st, version, req) {
        Ok(j) => j,
        Err(r) => return r,
    };
    if let Some(content) = content {
        job.data = Some(content);
        job.state = IngestJobState::UploadComplete;
    }
    let info = Value::Object(job.short_info());
    let (id, closed) = (job.id.clone(), job.state == IngestJobState::UploadComplete);
    lock(&st.ingest_jobs).insert(id.clone(), job);
    if closed {
        tokio::spawn(run(st, id));
    }
    errors::json(StatusCode::OK, &info)
}

async fn read_multipart(request: Request, st: &Shared) -> Result<(Bytes, Option<Bytes>), Response> {
    let mut form = Multipart::from_request(request, st)
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

/// Processes a closed job: InProgress, apply rows, then JobComplete (or Failed).
async fn run(st: Shared, id: String) {
    let total = st.config.job_duration;
    if !st.pause(total / 10).await {
        return;
    }
    let started = std::time::Instant::now();
    let (plan, data, fail) = {
        let mut jobs = lock(&st.ingest_jobs);
        let Some(job) = jobs
            .get_mut(&id)
            .filter(|j| j.state == IngestJobState::UploadComplete)
        else {
            return;
        };
        job.touch(IngestJobState::InProgress);
        (job.plan(), job.data.clone().unwrap_or_default(), job.fail)
    };
    let worker = st.clone();
    let processed = tokio::task::spawn_blocking(move || process(&worker, &plan, &data, fail)).await;
    let Ok(result) = processed else { return };
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
    let mut jobs = lock(&st.ingest_jobs);
    let Some(job) = jobs.get_mut(&id) else { return };
    job.processing_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(outcome) => {
            job.outcome = Some(Arc::new(outcome));
            if job.state == IngestJobState::InProgress {
                job.touch(IngestJobState::JobComplete);
            }
        }
        Err((message, outcome)) => {
            job.outcome = Some(Arc::new(outcome));
            job.error_message = Some(message);
            if job.state == IngestJobState::InProgress {
                job.touch(IngestJobState::Failed);
            }
        }
    }
}

/// Applies the data, or explains why the job fails (with every row left unprocessed).
fn process(
    st: &Shared,
    plan: &Plan,
    data: &[u8],
    fail: bool,
) -> Result<Outcome, (String, Outcome)> {
    let (header, columns, rows) = match ingest_rows::read(plan, data) {
        Ok(parsed) => parsed,
        Err(message) => return Err((message, Outcome::default())),
    };
    if fail {
        let outcome = Outcome {
            header,
            unprocessed: rows,
            ..Outcome::default()
        };
        return Err((
            "InternalServerError : the simulator was told to fail this job".to_owned(),
            outcome,
        ));
    }
    Ok(ingest_rows::apply(&st.org, plan, header, &columns, rows))
}

/// `PUT /jobs/ingest/{id}/batches`: the job's one upload.
pub(crate) async fn upload(
    State(st): State<Shared>,
    Path(p): Path<JobPath>,
    body: Bytes,
) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::BULK_V2_INGEST) {
        return r;
    }
    let mut jobs = lock(&st.ingest_jobs);
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
pub(crate) async fn patch(
    State(st): State<Shared>,
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
    let mut jobs = lock(&st.ingest_jobs);
    let Some(job) = jobs.get_mut(&p.id) else {
        return not_found();
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
        return error(StatusCode::BAD_REQUEST, "INVALIDJOBSTATE", message);
    }
    let closing = wanted == Some(IngestJobState::UploadComplete);
    if let Some(state) = wanted {
        job.touch(state);
    }
    if job.state == IngestJobState::Aborted {
        abort_outcome(job);
    }
    let info = Value::Object(job.short_info());
    drop(jobs);
    if closing {
        tokio::spawn(run(st, p.id));
    }
    errors::json(StatusCode::OK, &info)
}

/// An aborted job that had not processed its rows lists them as unprocessed.
fn abort_outcome(job: &mut IngestJob) {
    if job.outcome.is_some() {
        return;
    }
    if let Ok((header, _, rows)) = job.data.as_deref().map_or(Ok(Default::default()), |d| {
        ingest_rows::read(&job.plan(), d)
    }) {
        job.outcome = Some(Arc::new(Outcome {
            header,
            unprocessed: rows,
            ..Outcome::default()
        }));
    }
}

/// `DELETE /jobs/ingest/{id}`: allowed in UploadComplete, JobComplete, Aborted and Failed.
pub(crate) async fn delete(State(st): State<Shared>, Path(p): Path<JobPath>) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::BULK_V2_INGEST) {
        return r;
    }
    let mut jobs = lock(&st.ingest_jobs);
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
pub(crate) async fn get(State(st): State<Shared>, Path(p): Path<JobPath>) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::BULK_V2_INGEST) {
        return r;
    }
    match lock(&st.ingest_jobs).get(&p.id) {
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

/// `GET /jobs/ingest`.
pub(crate) async fn list(
    State(st): State<Shared>,
    Path(p): Path<VersionPath>,
    Query(q): Query<ListQuery>,
) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::BULK_V2_INGEST) {
        return r;
    }
    let offset = match q.query_locator.as_deref() {
        None | Some("") => 0,
        Some(l) => match super::query::decode_locator(Some(l)) {
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
    let jobs = lock(&st.ingest_jobs);
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
    super::list_page(&records, offset, st.config.list_page_size, |next| {
        format!(
            "/services/data/{}/jobs/ingest?queryLocator={}",
            p.version,
            super::query::encode_locator(next)
        )
    })
}

#[derive(Debug, Clone, Copy)]
enum ResultKind {
    Successful,
    Failed,
    Unprocessed,
}

fn render(outcome: &Outcome, kind: ResultKind, dialect: Dialect) -> Vec<u8> {
    let mut out = Vec::new();
    let original = outcome.header.iter().map(|h| Some(h.as_str()));
    fn cells(row: &[String]) -> impl Iterator<Item = Option<&str>> {
        row.iter().map(|v| (!v.is_empty()).then_some(v.as_str()))
    }
    match kind {
        ResultKind::Successful => {
            csv::write_record(
                &mut out,
                dialect,
                [Some("sf__Id"), Some("sf__Created")]
                    .into_iter()
                    .chain(original),
            );
            for (id, created, row) in &outcome.successes {
                let created = if *created { "true" } else { "false" };
                csv::write_record(
                    &mut out,
                    dialect,
                    [Some(id.as_str()), Some(created)]
                        .into_iter()
                        .chain(cells(row)),
                );
            }
        }
        ResultKind::Failed => {
            csv::write_record(
                &mut out,
                dialect,
                [Some("sf__Id"), Some("sf__Error")]
                    .into_iter()
                    .chain(original),
            );
            for (id, message, row) in &outcome.failures {
                let id = (!id.is_empty()).then_some(id.as_str());
                csv::write_record(
                    &mut out,
                    dialect,
                    [id, Some(message.as_str())].into_iter().chain(cells(row)),
                );
            }
        }
        ResultKind::Unprocessed => {
            csv::write_record(&mut out, dialect, original);
            for row in &outcome.unprocessed {
                csv::write_record(&mut out, dialect, cells(row));
            }
        }
    }
    out
}

fn result_file(st: &Shared, p: &JobPath, headers: &HeaderMap, kind: ResultKind) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::BULK_V2_INGEST) {
        return r;
    }
    let (outcome, dialect) = {
        let jobs = lock(&st.ingest_jobs);
        let Some(job) = jobs.get(&p.id) else {
            return not_found();
        };
        if !job.state.is_terminal() {
            let message = format!(
                "Results are available once the job is complete; the job is {}",
                job.state
            );
            return error(StatusCode::BAD_REQUEST, "INVALIDJOBSTATE", message);
        }
        (
            job.outcome.clone().unwrap_or_default(),
            Dialect::new(&job.delimiter, &job.line_ending),
        )
    };
    let bytes = render(&outcome, kind, dialect);
    let gzip = body::wants_gzip(headers);
    let mut response = if gzip { body::gzip(&bytes) } else { bytes }.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv"));
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// `GET /jobs/ingest/{id}/successfulResults`.
pub(crate) async fn successful(
    State(st): State<Shared>,
    Path(p): Path<JobPath>,
    headers: HeaderMap,
) -> Response {
    result_file(&st, &p, &headers, ResultKind::Successful)
}

/// `GET /jobs/ingest/{id}/failedResults`.
pub(crate) async fn failed(
    State(st): State<Shared>,
    Path(p): Path<JobPath>,
    headers: HeaderMap,
) -> Response {
    result_file(&st, &p, &headers, ResultKind::Failed)
}

/// `GET /jobs/ingest/{id}/unprocessedrecords` (and the `unprocessedRecords` spelling).
pub(crate) async fn unprocessed(
    State(st): State<Shared>,
    Path(p): Path<JobPath>,
    headers: HeaderMap,
) -> Response {
    result_file(&st, &p, &headers, ResultKind::Unprocessed)
}
