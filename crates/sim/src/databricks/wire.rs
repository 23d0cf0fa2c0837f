//! The `StatementResponse` and `ResultData` bodies, as the REST reference and the SDK's
//! dataclasses name their fields: `status` (`state`, and for `FAILED` `error` with `error_code`
//! and `message`, and `sql_state`), `manifest` (`format`, `schema.columns` with `name`,
//! `type_text`, `type_name`, `position` and, for decimals, `type_precision` and `type_scale`;
//! `total_chunk_count`, `chunks`, `total_row_count`, `truncated`, and with external links each
//! chunk's `byte_count` and `total_byte_count`), and `result`, the first chunk: `data_array`
//! inline, or `external_links` (one link, "Currently only a single link is returned") with
//! `external_link`, `expiration`, `http_headers` and the chunk's place. Every chunk but the last
//! names the next by `next_chunk_index` and `next_chunk_internal_link`. Counts are JSON numbers.

use serde_json::{Map, Value, json};

use super::Databricks;
use super::links::Minted;
use super::render::{Format, data_array};
use super::statement::{Disposition, Finished, Request, Snapshot, State};

/// The file extension a chunk object is stored with.
fn extension(format: Format) -> &'static str {
    match format {
        Format::JsonArray => "json",
        Format::ArrowStream => "arrow",
        Format::Csv => "csv",
    }
}

/// The statement `id` as `GET /api/2.0/sql/statements/{id}` shows it now.
pub(crate) fn statement(db: &Databricks, id: &str, statement: &Snapshot) -> Value {
    let state = statement.state;
    let mut status = Map::new();
    status.insert("state".into(), state.name().into());
    if let (State::Failed, Some(error)) = (state, &statement.error) {
        status.insert(
            "error".into(),
            json!({ "error_code": "BAD_REQUEST", "message": error.message }),
        );
        if !error.sql_state.is_empty() {
            status.insert("sql_state".into(), error.sql_state.into());
        }
    }
    let mut body = Map::new();
    body.insert("statement_id".into(), id.into());
    body.insert("status".into(), Value::Object(status));
    if let (State::Succeeded, Some(finished)) = (state, &statement.finished) {
        body.insert("manifest".into(), manifest(&statement.request, finished));
        if !finished.chunks.is_empty() {
            body.insert(
                "result".into(),
                chunk(db, id, &statement.request, finished, 0),
            );
        }
    }
    Value::Object(body)
}

fn manifest(request: &Request, finished: &Finished) -> Value {
    let external = request.disposition == Disposition::ExternalLinks;
    let columns: Vec<Value> = finished
        .result
        .schema()
        .iter()
        .enumerate()
        .map(|(position, &(name, ty))| {
            let mut column = json!({
                "name": name,
                "type_text": ty.type_text(),
                "type_name": ty.type_name(),
                "position": position,
            });
            if let super::tables::SqlType::Decimal(p, s) = ty {
                column["type_precision"] = p.into();
                column["type_scale"] = s.into();
            }
            column
        })
        .collect();
    let chunks: Vec<Value> = finished
        .chunks
        .iter()
        .map(|c| {
            let mut info = json!({
                "chunk_index": c.index,
                "row_offset": c.row_offset,
                "row_count": c.row_count,
            });
            if external {
                info["byte_count"] = finished.bytes[c.index].into();
            }
            info
        })
        .collect();
    let mut manifest = json!({
        "format": request.format.name(),
        "schema": { "column_count": columns.len(), "columns": columns },
        "total_chunk_count": finished.chunks.len(),
        "chunks": chunks,
        "total_row_count": finished.result.len(),
        "truncated": finished.result.truncated,
    });
    if external {
        manifest["total_byte_count"] = finished.bytes.iter().sum::<u64>().into();
    }
    manifest
}

/// Chunk `index` as `ResultData`: `data_array` inline, or one fresh external link.
pub(crate) fn chunk(
    db: &Databricks,
    id: &str,
    request: &Request,
    finished: &Finished,
    index: usize,
) -> Value {
    let c = finished.chunks[index];
    let mut data = json!({
        "chunk_index": c.index,
        "row_offset": c.row_offset,
        "row_count": c.row_count,
    });
    if index + 1 < finished.chunks.len() {
        data["next_chunk_index"] = (index + 1).into();
        data["next_chunk_internal_link"] =
            format!("/api/2.0/sql/statements/{id}/result/chunks/{}", index + 1).into();
    }
    match request.disposition {
        Disposition::Inline => {
            data["data_array"] = data_array(&finished.result, c);
            data
        }
        Disposition::ExternalLinks => {
            let Minted {
                url,
                expiration,
                headers,
            } = db.links.mint(id, index, extension(request.format));
            data["byte_count"] = finished.bytes[index].into();
            if db.core.faults.draw_lie() {
                // The fault plan's `lie`: this link says one row more than its chunk holds.
                data["row_count"] = (c.row_count + 1).into();
            }
            data["external_link"] = url.into();
            data["expiration"] = expiration
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string()
                .into();
            if !headers.is_empty() {
                data["http_headers"] = json!(headers);
            }
            json!({ "external_links": [data] })
        }
    }
}
