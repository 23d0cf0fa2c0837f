//! The statement resources: execute (holding the call up to `wait_timeout`), get, cancel, and a
//! result chunk by index.
//!
//! Request checks, each a 400 `INVALID_PARAMETER_VALUE` unless said otherwise: `statement` and
//! `warehouse_id` are required; a warehouse id that is not 16 hex digits "is not a valid
//! endpoint id."; a well-formed id of another warehouse is 403 `PERMISSION_DENIED`;
//! `disposition` is `INLINE` (default) or `EXTERNAL_LINKS`, `format` `JSON_ARRAY` (default),
//! `ARROW_STREAM` or `CSV`, and `INLINE` takes only `JSON_ARRAY` ("The format field must be
//! JSON_ARRAY when the disposition field is INLINE.", as workspaces word it); `wait_timeout` is `Ns` with N 0 or
//! 5 to 50 (default 10s); `on_wait_timeout` `CONTINUE` (default) or `CANCEL`; `row_limit` and
//! `byte_limit` are not negative. A body that is not a JSON object is 400 `MALFORMED_REQUEST`.
//!
//! Where the reference is silent, the simulator chooses: a result chunk of a statement that has
//! not `SUCCEEDED` (or whose results are `CLOSED`) is 400 `BAD_REQUEST`, a chunk index past the
//! last 400 `INVALID_PARAMETER_VALUE`, and an unknown statement 404 `NOT_FOUND`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Databricks;
use super::errors::{error, invalid, no_statement, respond};
use super::render::Format;
use super::result::Limits;
use super::sql::Param;
use super::statement::{Disposition, Request, State as Phase, Statement};
use super::wire;
use crate::shared::lock;
use crate::shared::rng::mix;

#[derive(Debug, Deserialize)]
struct ParamBody {
    name: String,
    value: Option<String>,
    #[serde(rename = "type")]
    ty: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ExecuteBody {
    statement: Option<String>,
    warehouse_id: Option<String>,
    catalog: Option<String>,
    schema: Option<String>,
    parameters: Option<Vec<ParamBody>>,
    disposition: Option<String>,
    format: Option<String>,
    wait_timeout: Option<String>,
    on_wait_timeout: Option<String>,
    row_limit: Option<i64>,
    byte_limit: Option<i64>,
}

/// What to do when the wait runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnTimeout {
    Continue,
    Cancel,
}

/// `wait_timeout`: `0s`, or 5 to 50 seconds.
fn wait_timeout(text: Option<&str>) -> Result<Duration, Response> {
    let Some(text) = text else {
        return Ok(Duration::from_secs(10));
    };
    match text.strip_suffix('s').and_then(|n| n.parse::<u64>().ok()) {
        Some(n) if n == 0 || (5..=50).contains(&n) => Ok(Duration::from_secs(n)),
        _ => Err(invalid(&format!(
            "wait_timeout must be 0 seconds (disables wait), or between 5 seconds and 50 seconds, but was `{text}`."
        ))),
    }
}

fn limit(name: &str, value: Option<i64>) -> Result<Option<u64>, Response> {
    match value {
        Some(v) if v < 0 => Err(invalid(&format!(
            "{name} must be non-negative, but was {v}."
        ))),
        v => Ok(v.map(|v| v as u64)),
    }
}

/// The request's options, or the answer refusing them.
fn read_request(
    db: &Databricks,
    body: ExecuteBody,
) -> Result<(Request, Duration, OnTimeout), Response> {
    let Some(statement) = body.statement.filter(|s| !s.trim().is_empty()) else {
        return Err(invalid("Missing required field: statement"));
    };
    let Some(warehouse) = body.warehouse_id.filter(|w| !w.is_empty()) else {
        return Err(invalid("Missing required field: warehouse_id"));
    };
    if warehouse.len() != 16 || !warehouse.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(&format!("{warehouse} is not a valid endpoint id.")));
    }
    if warehouse != db.warehouse_id {
        return Err(error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "You do not have permission to use the SQL Warehouse. Please contact your administrator.",
        ));
    }
    let disposition = match body.disposition.as_deref() {
        None | Some("INLINE") => Disposition::Inline,
        Some("EXTERNAL_LINKS") => Disposition::ExternalLinks,
        Some(other) => return Err(invalid(&format!("Invalid disposition: {other}"))),
    };
    let format = match body.format.as_deref() {
        None => Format::JsonArray,
        Some(name) => {
            Format::parse(name).ok_or_else(|| invalid(&format!("Invalid format: {name}")))?
        }
    };
    if disposition == Disposition::Inline && format != Format::JsonArray {
        return Err(invalid(
            "The format field must be JSON_ARRAY when the disposition field is INLINE.",
        ));
    }
    let wait = wait_timeout(body.wait_timeout.as_deref())?;
    let on_timeout = match body.on_wait_timeout.as_deref() {
        None | Some("CONTINUE") => OnTimeout::Continue,
        Some("CANCEL") => OnTimeout::Cancel,
        Some(other) => return Err(invalid(&format!("Invalid on_wait_timeout: {other}"))),
    };
    let limits = Limits {
        rows: limit("row_limit", body.row_limit)?,
        bytes: limit("byte_limit", body.byte_limit)?,
    };
    let params = body
        .parameters
        .unwrap_or_default()
        .into_iter()
        .map(|p| Param {
            name: p.name,
            value: p.value,
            ty: p.ty,
        })
        .collect();
    let request = Request {
        statement,
        catalog: body.catalog.unwrap_or_else(|| "main".to_owned()),
        schema: body.schema.unwrap_or_else(|| "default".to_owned()),
        params,
        disposition,
        format,
        limits,
    };
    Ok((request, wait, on_timeout))
}

/// A statement id: a UUID, as Databricks spells them (`01ef…`).
fn statement_id(db: &Databricks) -> String {
    let serial = db.core.next_serial();
    let a = mix(db.core.config.seed ^ serial ^ 0xDB);
    let b = mix(a ^ serial);
    format!(
        "01ef{:04x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a as u16,
        (a >> 16) as u16,
        (a >> 32) as u16,
        (b >> 48) as u16,
        b & 0xffff_ffff_ffff
    )
}

/// `POST /api/2.0/sql/statements`.
pub(super) async fn execute(State(db): State<Arc<Databricks>>, body: Bytes) -> Response {
    let body = match serde_json::from_slice::<Value>(&body) {
        Ok(value @ Value::Object(_)) => serde_json::from_value::<ExecuteBody>(value),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "MALFORMED_REQUEST",
                "Invalid JSON given in the body of the request - expected a map",
            );
        }
    };
    let body = match body {
        Ok(body) => body,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "MALFORMED_REQUEST",
                &format!("Could not parse request object: {e}"),
            );
        }
    };
    let (request, wait, on_timeout) = match read_request(&db, body) {
        Ok(read) => read,
        Err(refusal) => return refusal,
    };
    let id = statement_id(&db);
    let statement = Statement::new(request);
    let mut done = statement.done.subscribe();
    lock(&db.statements).insert(id.clone(), statement);
    db.core.clock.start(db.clone(), id.clone()).await;
    if !wait.is_zero() {
        // Until the statement ends, the wait runs out, or the simulator shuts down (the clock's
        // pause returns early then), whichever comes first.
        tokio::select! {
            _ = done.wait_for(|d| *d) => {}
            _ = db.core.clock.pause(wait) => {}
        }
    }
    let snapshot = {
        let mut statements = lock(&db.statements);
        let Some(statement) = statements.get_mut(&id) else {
            return no_statement(&id);
        };
        if !wait.is_zero() && on_timeout == OnTimeout::Cancel && !statement.state.is_terminal() {
            statement.end(Phase::Canceled);
        }
        statement.snapshot(db.options.result_ttl)
    };
    respond(StatusCode::OK, &wire::statement(&db, &id, &snapshot))
}

/// `GET /api/2.0/sql/statements/{statement_id}`.
pub(super) async fn get(State(db): State<Arc<Databricks>>, Path(id): Path<String>) -> Response {
    let snapshot = lock(&db.statements)
        .get(&id)
        .map(|s| s.snapshot(db.options.result_ttl));
    match snapshot {
        Some(snapshot) => respond(StatusCode::OK, &wire::statement(&db, &id, &snapshot)),
        None => no_statement(&id),
    }
}

/// `POST /api/2.0/sql/statements/{statement_id}/cancel`: an empty object; a statement that
/// already ended stays as it was ("Cancelation might silently fail").
pub(super) async fn cancel(State(db): State<Arc<Databricks>>, Path(id): Path<String>) -> Response {
    let mut statements = lock(&db.statements);
    let Some(statement) = statements.get_mut(&id) else {
        return no_statement(&id);
    };
    if !statement.state.is_terminal() {
        statement.end(Phase::Canceled);
    }
    respond(StatusCode::OK, &json!({}))
}

/// `GET /api/2.0/sql/statements/{statement_id}/result/chunks/{chunk_index}`: the chunk's
/// `ResultData`; an external link is minted afresh on every call.
pub(super) async fn chunk(
    State(db): State<Arc<Databricks>>,
    Path((id, index)): Path<(String, String)>,
) -> Response {
    let snapshot = lock(&db.statements)
        .get(&id)
        .map(|s| s.snapshot(db.options.result_ttl));
    let Some(snapshot) = snapshot else {
        return no_statement(&id);
    };
    let Some(finished) = snapshot
        .finished
        .as_ref()
        .filter(|_| snapshot.state == Phase::Succeeded)
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            &format!(
                "The statement {id} is {}: result chunks are only available while it is SUCCEEDED.",
                snapshot.state.name()
            ),
        );
    };
    match index.parse::<usize>() {
        Ok(n) if n < finished.chunks.len() => respond(
            StatusCode::OK,
            &wire::chunk(&db, &id, &snapshot.request, finished, n),
        ),
        _ => invalid(&format!(
            "chunk_index {index} is out of range: the result has {} chunks.",
            finished.chunks.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_timeouts_are_zero_or_five_to_fifty_seconds() {
        assert_eq!(wait_timeout(None).ok(), Some(Duration::from_secs(10)));
        assert_eq!(wait_timeout(Some("0s")).ok(), Some(Duration::ZERO));
        assert_eq!(
            wait_timeout(Some("50s")).ok(),
            Some(Duration::from_secs(50))
        );
        for bad in ["4s", "51s", "10", "ten", "-5s"] {
            assert!(wait_timeout(Some(bad)).is_err(), "{bad}");
        }
    }
}
