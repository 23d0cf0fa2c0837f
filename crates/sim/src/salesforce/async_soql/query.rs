//! One Async SOQL query: what it copies where, how it shows in the API, and the validation of a
//! create request.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;
use haul_types::{AsyncQueryOperation, AsyncQueryStatus};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AsyncQueries;
use crate::salesforce::errors::error;
use crate::shared::data::schema::{self, ObjectSchema};
use crate::shared::data::soql::{self, Soql};
use crate::shared::ids;

/// One Async SOQL query.
#[derive(Debug)]
pub(super) struct AsyncQuery {
    pub(super) id: String,
    pub(super) text: String,
    pub(super) soql: Soql,
    pub(super) operation: AsyncQueryOperation,
    pub(super) target: &'static ObjectSchema,
    /// Source field index → target field index, plus the names as the caller wrote them.
    pub(super) field_map: Vec<(usize, usize)>,
    pub(super) field_map_names: BTreeMap<String, String>,
    /// Literal (or `$JOB_ID`) → target field index, plus the names as written.
    pub(super) value_map: Vec<(String, usize)>,
    pub(super) value_map_names: BTreeMap<String, String>,
    pub(super) external_id: Option<String>,
    pub(super) status: AsyncQueryStatus,
    pub(super) message: String,
    pub(super) fail: bool,
}

impl AsyncQuery {
    /// The query as the API shows it.
    pub(super) fn info(&self) -> Value {
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
pub(super) struct CreateBody {
    query: Option<String>,
    operation: Option<String>,
    target_object: Option<String>,
    target_field_map: Option<BTreeMap<String, String>>,
    target_value_map: Option<BTreeMap<String, String>>,
    target_external_id_field: Option<String>,
}

pub(super) fn bad(code: &str, message: impl Into<String>) -> Response {
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

/// An upsert needs a target that is not a big object, and an external id field of it.
fn upsert_key(target: &ObjectSchema, key: Option<&str>) -> Result<(), Response> {
    if target.name.ends_with("__b") {
        return Err(bad(
            "INVALID_INPUT",
            "upsert is not supported into big objects",
        ));
    }
    let key = key.ok_or_else(|| {
        bad(
            "MISSING_ARGUMENT",
            "targetExternalIdField is required for upsert",
        )
    })?;
    target_field(target, key).map(drop)
}

/// `targetFieldMap` as field indexes: each key a field the query selects, each value a field of
/// the target.
fn field_map(
    soql: &Soql,
    target: &ObjectSchema,
    names: &BTreeMap<String, String>,
) -> Result<Vec<(usize, usize)>, Response> {
    let mut map = Vec::new();
    for (source, dest) in names {
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
        map.push((field, target_field(target, dest)?));
    }
    Ok(map)
}

/// Validates a create request into a new query.
pub(super) fn validate(fam: &AsyncQueries, req: CreateBody) -> Result<AsyncQuery, Response> {
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
        upsert_key(target, req.target_external_id_field.as_deref())?;
    }
    let field_map_names = req
        .target_field_map
        .filter(|m| !m.is_empty())
        .ok_or_else(|| bad("MISSING_ARGUMENT", "targetFieldMap is required"))?;
    let field_map = field_map(&soql, target, &field_map_names)?;
    let value_map_names = req.target_value_map.unwrap_or_default();
    let value_map = value_map_names
        .iter()
        .map(|(value, dest)| Ok((value.clone(), target_field(target, dest)?)))
        .collect::<Result<Vec<_>, Response>>()?;
    Ok(AsyncQuery {
        id: ids::id_string("08P", fam.core.next_serial()),
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
        fail: fam.fail_next.take(),
    })
}
