//! Async SOQL (api-facts §3; retired by the vendor in Summer '23, simulated from the v35–v46
//! docs): New → Scheduled → Running → Complete | Failed, cancel via DELETE, and rows copied from the
//! source query into the target object per `targetFieldMap` / `targetValueMap` (`$JOB_ID` becomes
//! the job id).
//!
//! Choices: values are copied as text without type conversion; cancelling a query that already
//! finished is 400 `INVALID_STATE`.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use haul_types::{ApiVersion, AsyncQueryOperation, AsyncQueryStatus};
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::{self, error, not_found, parse_body};
use super::{JobPath, VersionPath};
use crate::data::query::evaluate;
use crate::data::schema::{self, ObjectSchema};
use crate::data::soql::{self, Soql};
use crate::data::{Editor, Snapshot};
use crate::faults::JobKind;
use crate::ids;
use crate::state::{Shared, lock};

/// The first version with Async SOQL.
const MIN_VERSION: ApiVersion = ApiVersion::new(35, 0);

/// One Async SOQL query.
#[derive(Debug)]
pub(crate) struct AsyncQuery {
    id: String,
    text: String,
    soql: Soql,
    operation: AsyncQueryOperation,
    target: &'static ObjectSchema,
    /// Source field index → target field index, plus the names as the caller wrote them.
    field_map: Vec<(usize, usize)>,
    field_map_names: BTreeMap<String, String>,
    /// Literal (or `$JOB_ID`) → target field index, plus the names as written.
    value_map: Vec<(String, usize)>,
    value_map_names: BTreeMap<String, String>,
    external_id: Option<String>,
    pub(crate) status: AsyncQueryStatus,
    message: String,
    fail: bool,
}

impl AsyncQuery {
    fn info(&self) -> Value {
        json!({
            "jobId": self.id,
            "message": self.message,
            "operation": self.operation,
            "query": self.text,
            "status": self.status,
            "targetExternalIdField": self.external_id,
            "targetFieldMap": self.field_map_names,
            "targetObject": self.target.name,
            "targetValueMap": self.value_map_names,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    query: Option<String>,
    operation: Option<String>,
    target_object: Option<String>,
    target_field_map: Option<BTreeMap<String, String>>,
    target_value_map: Option<BTreeMap<String, String>>,
    target_external_id_field: Option<String>,
}

fn bad(code: &str, message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, code, message)
}

fn target_field(target: &ObjectSchema, name: &str) -> Result<usize, Response> {
    target.field_index(name).ok_or_else(|| {
        bad(
            "INVALID_FIELD",
            format!("No such column '{name}' on entity '{}'", target.name),
        )
    })
}

fn validate(st: &Shared, req: CreateBody) -> Result<AsyncQuery, Response> {
    let text = req
        .query
        .ok_or_else(|| bad("MISSING_ARGUMENT", "query is required"))?;
    let soql = soql::parse(&text).map_err(|e| bad(e.code, e.message))?;
    let target_name = req
        .target_object
        .ok_or_else(|| bad("MISSING_ARGUMENT", "targetObject is required"))?;
    let target = schema::object(&target_name).ok_or_else(|| {
        bad(
            "INVALID_TYPE",
            format!("sObject type '{target_name}' is not supported."),
        )
    })?;
    let operation = AsyncQueryOperation::from(req.operation.as_deref().unwrap_or("insert"));
    if !operation.is_known() {
        return Err(bad(
            "INVALID_INPUT",
            format!("Invalid operation: {operation}"),
        ));
    }
    if operation == AsyncQueryOperation::Upsert {
        if target.name.ends_with("__b") {
            return Err(bad(
                "INVALID_INPUT",
                "upsert is not supported into big objects",
            ));
        }
        let key = req.target_external_id_field.as_deref().ok_or_else(|| {
            bad(
                "MISSING_ARGUMENT",
                "targetExternalIdField is required for upsert",
            )
        })?;
        target_field(target, key)?;
    }
    let field_map_names = req
        .target_field_map
        .filter(|m| !m.is_empty())
        .ok_or_else(|| bad("MISSING_ARGUMENT", "targetFieldMap is required"))?;
    let mut field_map = Vec::new();
    for (source, dest) in &field_map_names {
        let field = soql
            .object
            .field_index(source)
            .filter(|f| soql.fields.contains(f))
            .ok_or_else(|| {
                bad(
                    "INVALID_FIELD",
                    format!("targetFieldMap key '{source}' is not a field selected by the query"),
                )
            })?;
        field_map.push((field, target_field(target, dest)?));
    }
    let value_map_names = req.target_value_map.unwrap_or_default();
    let value_map = value_map_names
        .iter()
        .map(|(value, dest)| Ok((value.clone(), target_field(target, dest)?)))
        .collect::<Result<Vec<_>, Response>>()?;
    Ok(AsyncQuery {
        id: ids::id_string("08P", st.next_serial()),
        text,
        soql,
        operation,
        target,
        field_map,
        field_map_names,
        value_map,
        value_map_names,
        external_id: req.target_external_id_field,
        status: AsyncQueryStatus::New,
        message: String::new(),
        fail: st.faults.take_fail(JobKind::AsyncQuery),
    })
}

/// `POST /async-queries`.
pub(crate) async fn create(
    State(st): State<Shared>,
    Path(p): Path<VersionPath>,
    body: Bytes,
) -> Response {
    if let Err(r) = errors::version(&p.version, MIN_VERSION) {
        return r;
    }
    let req: CreateBody = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let query = match validate(&st, req) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let (id, info) = (query.id.clone(), query.info());
    lock(&st.async_queries).insert(id.clone(), query);
    tokio::spawn(run(st, id));
    errors::json(StatusCode::CREATED, &info)
}

/// Sets the status if the query is still in `from`; false if it moved on (cancelled).
fn advance(st: &Shared, id: &str, from: &AsyncQueryStatus, to: AsyncQueryStatus) -> bool {
    let mut queries = lock(&st.async_queries);
    match queries.get_mut(id) {
        Some(q) if &q.status == from => {
            q.status = to;
            true
        }
        _ => false,
    }
}

async fn run(st: Shared, id: String) {
    let d = st.config.job_duration;
    if !st.pause(d / 10).await
        || !advance(
            &st,
            &id,
            &AsyncQueryStatus::New,
            AsyncQueryStatus::Scheduled,
        )
    {
        return;
    }
    if !st.pause(d / 10).await
        || !advance(
            &st,
            &id,
            &AsyncQueryStatus::Scheduled,
            AsyncQueryStatus::Running,
        )
    {
        return;
    }
    let started = std::time::Instant::now();
    let worker = st.clone();
    let job = id.clone();
    let Ok(outcome) = tokio::task::spawn_blocking(move || copy_rows(&worker, &job)).await else {
        return;
    };
    if !st
        .pause(d.saturating_sub(d / 5).saturating_sub(started.elapsed()))
        .await
    {
        return;
    }
    let mut queries = lock(&st.async_queries);
    if let Some(q) = queries
        .get_mut(&id)
        .filter(|q| q.status == AsyncQueryStatus::Running)
    {
        match outcome {
            Some(Ok(())) => q.status = AsyncQueryStatus::Complete,
            Some(Err(message)) => {
                q.status = AsyncQueryStatus::Failed;
                q.message = message;
            }
            None => {}
        }
    }
}

/// Runs the query and writes its rows into the target; `None` if the query vanished.
fn copy_rows(st: &Shared, id: &str) -> Option<Result<(), String>> {
    // Copy what is needed and let go of the lock before the (possibly long) query runs.
    let (soql, plan) = {
        let queries = lock(&st.async_queries);
        let q = queries.get(id)?;
        if q.fail {
            return Some(Err("The simulator was told to fail this query".to_owned()));
        }
        let plan = CopyPlan {
            id: q.id.clone(),
            target: q.target,
            field_map: q.field_map.clone(),
            value_map: q.value_map.clone(),
            key: q
                .external_id
                .as_deref()
                .and_then(|k| q.target.field_index(k)),
        };
        (q.soql.clone(), plan)
    };
    // One snapshot for both selecting the rows and reading their values.
    let snapshot = st.org.snapshot(soql.object);
    let source = evaluate(snapshot.clone(), &soql, false);
    st.org
        .edit(plan.target, |editor| plan.write(editor, &snapshot, &source));
    Some(Ok(()))
}

struct CopyPlan {
    id: String,
    target: &'static ObjectSchema,
    field_map: Vec<(usize, usize)>,
    value_map: Vec<(String, usize)>,
    key: Option<usize>,
}

impl CopyPlan {
    fn write(
        &self,
        editor: &mut Editor<'_>,
        snapshot: &Snapshot,
        rows: &crate::data::query::ResultSet,
    ) {
        let mut index: HashMap<String, u64> = HashMap::new();
        if let Some(key) = self.key {
            let view = editor.current();
            for row in (0..view.slots()).filter(|&r| view.is_live(r)) {
                if let Some(value) = view.value(key, row) {
                    index.insert(value, row);
                }
            }
        }
        for position in 0..rows.len() {
            let row = rows.row_index(position);
            let mut values = vec![None; self.target.fields.len()];
            for &(source, dest) in &self.field_map {
                values[dest] = snapshot.value(source, row);
            }
            for (literal, dest) in &self.value_map {
                values[*dest] = Some(if literal == "$JOB_ID" {
                    self.id.clone()
                } else {
                    literal.clone()
                });
            }
            let existing = self
                .key
                .and_then(|k| values[k].as_ref())
                .and_then(|v| index.get(v).copied());
            match existing {
                Some(target_row) => {
                    let changes: Vec<_> = values
                        .into_iter()
                        .enumerate()
                        .skip(1)
                        .filter(|(_, v)| v.is_some())
                        .collect();
                    editor.update(target_row, &changes);
                }
                None => {
                    let key_value = self.key.and_then(|k| values[k].clone());
                    let new_id = editor.insert(values);
                    if let (Some(v), Some(r)) = (key_value, editor.row_of_id(&new_id)) {
                        index.insert(v, r);
                    }
                }
            }
        }
    }
}

/// `GET /async-queries/{id}`.
pub(crate) async fn get(State(st): State<Shared>, Path(p): Path<JobPath>) -> Response {
    if let Err(r) = errors::version(&p.version, MIN_VERSION) {
        return r;
    }
    match lock(&st.async_queries).get(&p.id) {
        Some(q) => errors::json(StatusCode::OK, &q.info()),
        None => not_found(),
    }
}

/// `GET /async-queries` (v36+).
pub(crate) async fn list(State(st): State<Shared>, Path(p): Path<VersionPath>) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::new(36, 0)) {
        return r;
    }
    let all: Vec<Value> = lock(&st.async_queries)
        .values()
        .map(AsyncQuery::info)
        .collect();
    errors::json(StatusCode::OK, &json!({ "asyncQueries": all }))
}

/// `DELETE /async-queries/{id}` (v36+): cancels a query that has not finished.
pub(crate) async fn cancel(State(st): State<Shared>, Path(p): Path<JobPath>) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::new(36, 0)) {
        return r;
    }
    let mut queries = lock(&st.async_queries);
    let Some(q) = queries.get_mut(&p.id) else {
        return not_found();
    };
    if q.status.is_terminal() {
        return bad(
            "INVALID_STATE",
            format!("The query is already {} and cannot be canceled", q.status),
        );
    }
    q.status = AsyncQueryStatus::Canceled;
    errors::empty(StatusCode::NO_CONTENT)
}
