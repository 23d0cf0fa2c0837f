//! A chunk in each result format, as the Statement Execution API documents them:
//!
//! - `JSON_ARRAY`: an array of rows, each an array of values as strings or `null`; compact JSON
//!   (no whitespace) in an external link, the same arrays as `data_array` inline.
//! - `CSV`: RFC 4180 fields (quoted when they hold a comma, quote or line break, quotes doubled),
//!   values printed as in `JSON_ARRAY`, null as the bare word `null`, and a header row of column
//!   names in the first chunk only ("Only the first chunk in the result would contain a header
//!   row"). Lines end with `\n`.
//! - `ARROW_STREAM`: one Arrow IPC stream per chunk, the schema then one record batch: `INT`
//!   Int32, `BIGINT` Int64, `DECIMAL(p,s)` Decimal128(p,s), `DOUBLE` Float64, `BOOLEAN` Boolean,
//!   `DATE` Date32, `TIMESTAMP` Timestamp(µs, "Etc/UTC"), `STRING` Utf8; every field nullable.

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int32Builder, Int64Builder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use serde_json::Value as Json;

use super::result::{Chunk, ResultSet};
use super::tables::{SqlType, Value};

/// A result format of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    JsonArray,
    ArrowStream,
    Csv,
}

impl Format {
    /// The name on the wire.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::JsonArray => "JSON_ARRAY",
            Self::ArrowStream => "ARROW_STREAM",
            Self::Csv => "CSV",
        }
    }

    /// Reads a `format` value.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        [Self::JsonArray, Self::ArrowStream, Self::Csv]
            .into_iter()
            .find(|f| f.name() == name)
    }

    /// The `Content-Type` the storage origin serves a chunk with.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Self::JsonArray => "application/json",
            Self::ArrowStream => "application/vnd.apache.arrow.stream",
            Self::Csv => "text/csv",
        }
    }

    /// The chunk `chunk` of `result` in this format.
    pub(crate) fn render(self, result: &ResultSet, chunk: Chunk) -> Vec<u8> {
        match self {
            Self::JsonArray => serde_json::to_vec(&data_array(result, chunk)).unwrap_or_default(),
            Self::Csv => csv(result, chunk),
            Self::ArrowStream => arrow(result, chunk),
        }
    }
}

/// The rows of `chunk` as `data_array`: arrays of strings and nulls.
pub(crate) fn data_array(result: &ResultSet, chunk: Chunk) -> Json {
    let schema = result.schema();
    let rows = (chunk.row_offset..chunk.row_offset + chunk.row_count)
        .map(|row| {
            let cells = schema
                .iter()
                .enumerate()
                .map(|(c, &(_, ty))| {
                    result
                        .value(row, c)
                        .text(ty)
                        .map_or(Json::Null, Json::String)
                })
                .collect();
            Json::Array(cells)
        })
        .collect();
    Json::Array(rows)
}

fn csv_field(out: &mut Vec<u8>, text: &str) {
    if text.contains([',', '"', '\r', '\n']) {
        out.push(b'"');
        out.extend_from_slice(text.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

fn csv(result: &ResultSet, chunk: Chunk) -> Vec<u8> {
    let schema = result.schema();
    let mut out = Vec::with_capacity(chunk.row_count as usize * 64);
    if chunk.index == 0 {
        for (c, (name, _)) in schema.iter().enumerate() {
            if c > 0 {
                out.push(b',');
            }
            csv_field(&mut out, name);
        }
        out.push(b'\n');
    }
    for row in chunk.row_offset..chunk.row_offset + chunk.row_count {
        for (c, &(_, ty)) in schema.iter().enumerate() {
            if c > 0 {
                out.push(b',');
            }
            match result.value(row, c).text(ty) {
                Some(text) => csv_field(&mut out, &text),
                None => out.extend_from_slice(b"null"),
            }
        }
        out.push(b'\n');
    }
    out
}

/// The Arrow type of a column.
pub(crate) fn arrow_type(ty: SqlType) -> DataType {
    match ty {
        SqlType::Int => DataType::Int32,
        SqlType::BigInt => DataType::Int64,
        SqlType::Decimal(p, s) => DataType::Decimal128(p, s as i8),
        SqlType::Double => DataType::Float64,
        SqlType::Boolean => DataType::Boolean,
        SqlType::Date => DataType::Date32,
        SqlType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("Etc/UTC".into())),
        SqlType::String => DataType::Utf8,
    }
}

fn arrow_column(result: &ResultSet, chunk: Chunk, c: usize, ty: SqlType) -> ArrayRef {
    let rows = chunk.row_offset..chunk.row_offset + chunk.row_count;
    let values = rows.map(|row| result.value(row, c));
    macro_rules! build {
        ($builder:expr, $pattern:pat => $out:expr) => {{
            let mut builder = $builder;
            for value in values {
                match value {
                    $pattern => builder.append_value($out),
                    _ => builder.append_null(),
                }
            }
            Arc::new(builder.finish()) as ArrayRef
        }};
    }
    match ty {
        SqlType::Int => build!(Int32Builder::new(), Value::Int(v) => v as i32),
        SqlType::BigInt => build!(Int64Builder::new(), Value::Int(v) => v),
        SqlType::Decimal(p, s) => {
            let array = build!(Decimal128Builder::new(), Value::Decimal(v) => v);
            let decimal = array
                .as_any()
                .downcast_ref::<arrow_array::Decimal128Array>()
                .cloned()
                .and_then(|a| a.with_precision_and_scale(p, s as i8).ok());
            decimal.map_or(array, |a| Arc::new(a) as ArrayRef)
        }
        SqlType::Double => build!(Float64Builder::new(), Value::Double(v) => v),
        SqlType::Boolean => build!(BooleanBuilder::new(), Value::Bool(v) => v),
        SqlType::Date => build!(Date32Builder::new(), Value::Date(v) => v),
        SqlType::Timestamp => build!(
            TimestampMicrosecondBuilder::new().with_timezone("Etc/UTC"),
            Value::Timestamp(v) => v
        ),
        SqlType::String => build!(StringBuilder::new(), Value::Text(v) => v),
    }
}

fn arrow(result: &ResultSet, chunk: Chunk) -> Vec<u8> {
    let schema = result.schema();
    let fields: Vec<Field> = schema
        .iter()
        .map(|&(name, ty)| Field::new(name, arrow_type(ty), true))
        .collect();
    let arrow_schema = Arc::new(Schema::new(fields));
    let columns = schema
        .iter()
        .enumerate()
        .map(|(c, &(_, ty))| arrow_column(result, chunk, c, ty))
        .collect();
    // Every array is built from the schema's own types, so the batch and the stream accept them.
    let encode = || -> Result<Vec<u8>, arrow_schema::ArrowError> {
        let batch = RecordBatch::try_new(arrow_schema.clone(), columns)?;
        let mut writer = StreamWriter::try_new(Vec::new(), &arrow_schema)?;
        writer.write(&batch)?;
        writer.finish()?;
        writer.into_inner()
    };
    encode().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::databricks::result::Limits;
    use crate::databricks::sql::{Scope, parse};
    use crate::databricks::tables::Data;
    use arrow_array::Array;

    fn result(sql: &str) -> ResultSet {
        let data = Data::new(5, |_| Some(40));
        let scope = Scope {
            catalog: "main",
            schema: "sales",
            params: &[],
        };
        let query = parse(sql, &data, &scope).expect("parses");
        ResultSet::evaluate(&data, &query, Limits::default())
    }

    #[test]
    fn csv_has_one_header_quotes_what_needs_it_and_prints_null() {
        let r = result("SELECT order_id, note FROM orders");
        let chunks = r.chunks(16);
        let first = String::from_utf8(Format::Csv.render(&r, chunks[0])).expect("utf-8");
        let second = String::from_utf8(Format::Csv.render(&r, chunks[1])).expect("utf-8");
        assert!(
            first.starts_with("order_id,note\n9007199254740993,null\n"),
            "{first}"
        );
        assert!(first.contains(",\"Deliver to 1 Main St, Suite 4, Springfield\"\n"));
        assert!(first.contains(",\"He said \"\"ship it\"\" for #2\"\n"));
        assert!(first.contains(",\"line one of 3\nline two\"\n"));
        assert!(!second.contains("order_id"), "{second}");
        let parsed = csv_rows(&first) + csv_rows(&second);
        assert_eq!(parsed, 32 + 1);
    }

    fn csv_rows(text: &str) -> usize {
        let mut rows = 0;
        let mut quoted = false;
        for c in text.chars() {
            match c {
                '"' => quoted = !quoted,
                '\n' if !quoted => rows += 1,
                _ => {}
            }
        }
        rows
    }

    #[test]
    fn json_chunks_are_compact_arrays_of_strings_and_nulls() {
        let r = result("SELECT order_id, amount, note FROM orders LIMIT 2");
        let body = Format::JsonArray.render(&r, r.chunks(10)[0]);
        let text = String::from_utf8(body).expect("utf-8");
        assert!(text.starts_with("[[\"9007199254740993\","), "{text}");
        assert!(!text.contains(": "));
        let rows: Vec<Vec<Option<String>>> = serde_json::from_str(&text).expect("json");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][2], None);
    }

    #[test]
    fn arrow_chunks_read_back_with_the_documented_types() {
        let r = result("SELECT * FROM orders");
        let chunk = r.chunks(25)[1];
        let body = Format::ArrowStream.render(&r, chunk);
        let reader = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(body), None)
            .expect("stream");
        let schema = reader.schema();
        assert_eq!(schema.field(2).data_type(), &DataType::Decimal128(18, 2));
        assert_eq!(
            schema.field(6).data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("Etc/UTC".into()))
        );
        let batches: Vec<_> = reader.collect::<Result<_, _>>().expect("batches");
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].num_rows(), 15);
        let notes = batches[0].column(7);
        assert_eq!(
            notes.null_count(),
            1,
            "row 32 is the one null note of rows 25..40"
        );
    }
}
