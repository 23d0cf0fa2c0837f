//! Looker results as typed Parquet. The schema comes from the field metadata that the
//! `json_detail` (`fields`) and `json_bi` (`metadata.fields`) formats carry, never from the values;
//! each cell is converted from the JSON literal Looker sent, so no number passes through a lossy
//! path on its way to its column.
//!
//! What the metadata holds (Looker API 4.0 reference, types `JsonBiFields`/`JsonBiField` and
//! `LookmlModelExploreField`, <https://cloud.google.com/looker/docs/reference/looker-api/latest>):
//! `dimensions[]`, `measures[]` (and in `json_detail` `table_calculations[]`, `pivots[]`), each field
//! with its `name` (`view.field`, the key of its cells in every row) and `type`, the LookML type
//! (`string`, `number`, `yesno`, `zipcode`, `tier`, ...) or, for a dimension group's timeframe,
//! `date_<timeframe>` (`date_date`, `date_time`, `date_month`, ...), or for a measure its aggregate
//! (`count`, `count_distinct`, `sum`, `average`, ...). `json_detail` fields also say `is_numeric`;
//! `json_bi` fields do not. Neither says a precision or scale: `value_format` is a display format,
//! not the database's type. So no Looker number is typed Decimal; they are Float64, as the
//! database's aggregate (a SUM or AVG) returns them in JSON, except counts, which are whole.

use std::collections::HashMap;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::results::QueryResults;
use crate::download::{Column, ColumnType, Compression, RowWriter, Schema};
use crate::error::{Error, Result};
use haul_types::LookerResultFormat;

const OPERATION: &str = "query_task_results";

/// A Looker result written as one typed Parquet file, held in memory (Looker returns a task's
/// result in one body, so the file is as large as that body allows).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ParquetResults {
    /// The columns written, with their types, in the metadata's order: dimensions, then measures,
    /// then table calculations.
    pub schema: Schema,
    /// Rows written.
    pub rows: u64,
    /// The Parquet file.
    pub bytes: Bytes,
}

/// One field's metadata, as both typed formats give it.
#[derive(Debug, Deserialize)]
struct FieldMeta {
    name: String,
    #[serde(rename = "type", default)]
    ty: Option<String>,
    #[serde(default)]
    is_numeric: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
struct Fields {
    #[serde(default)]
    dimensions: Option<Vec<FieldMeta>>,
    #[serde(default)]
    measures: Option<Vec<FieldMeta>>,
    #[serde(default)]
    table_calculations: Option<Vec<FieldMeta>>,
    #[serde(default)]
    pivots: Option<Vec<serde::de::IgnoredAny>>,
}

impl Fields {
    fn all(self) -> impl Iterator<Item = FieldMeta> {
        [self.dimensions, self.measures, self.table_calculations]
            .into_iter()
            .flatten()
            .flatten()
    }
}

/// `json_detail`: `{fields, data: [{name: {value, rendered, ...}}]}`.
#[derive(Deserialize)]
struct Detail<'a> {
    #[serde(default)]
    fields: Fields,
    #[serde(borrow)]
    data: Vec<HashMap<String, DetailCell<'a>>>,
}

#[derive(Deserialize)]
struct DetailCell<'a> {
    #[serde(borrow, default)]
    value: Option<&'a RawValue>,
}

/// `json_bi`: `{metadata: {fields, sql}, rows: [{name: value}]}`.
#[derive(Deserialize)]
struct Bi<'a> {
    metadata: BiMetadata,
    #[serde(borrow)]
    rows: Vec<HashMap<String, Option<&'a RawValue>>>,
}

#[derive(Deserialize)]
struct BiMetadata {
    #[serde(default)]
    fields: Fields,
}

impl QueryResults {
    /// The columns of these results and their types, from the field metadata of the `json_detail`
    /// or `json_bi` formats (the other formats carry none: an error). Every column may hold nulls.
    ///
    /// | Looker `type` | column |
    /// |---|---|
    /// | `string`, `zipcode`, `tier`, `bin`, `location`, `unquoted`, `list`, and timeframes shown as text (`date_month`, `date_week`, ...) | Utf8 |
    /// | `yesno` (cells `"Yes"`/`"No"`) | Boolean |
    /// | `count`, `count_distinct` | Int64 |
    /// | `number`, `sum`, `average`, `median`, `percentile` (and their `_distinct`), `running_total`, `percent_of_total`, `percent_of_previous`, `distance`, `duration_*` | Float64 |
    /// | `max`, `min` | Float64 when `is_numeric`, else Utf8 |
    /// | `date_date` (`YYYY-MM-DD`) | Date |
    /// | `date_time`, `date_second`, `date_raw` (`YYYY-MM-DD HH:MM:SS`) | Timestamp |
    /// | anything else | Float64 when `is_numeric`, else Utf8, with a warning |
    ///
    /// No Looker number is a Decimal: the metadata states no precision (`value_format` only says
    /// how to display it). Looker writes date-times in the query's time zone without an offset;
    /// they are stored as that wall-clock time marked UTC, so set the query's `query_timezone` to
    /// UTC when the instants matter.
    pub fn schema(&self) -> Result<Schema> {
        let fields = match self.format() {
            LookerResultFormat::JsonDetail => self.detail()?.fields,
            LookerResultFormat::JsonBi => self.bi()?.metadata.fields,
            other => return Err(untyped(other)),
        };
        schema_of(fields)
    }

    /// The results as one typed Parquet file: the [`schema`](Self::schema) from the metadata, each
    /// cell converted from the JSON literal Looker sent (a number never through a lossy path; a
    /// `yesno` from `"Yes"`/`"No"`). A cell that does not read as its column's type is an
    /// [`Error::InvalidValue`] naming the row (from 1), the column and the value.
    ///
    /// ```no_run
    /// # async fn example(looker: haul::Looker, query_id: &str) -> haul::Result<()> {
    /// use haul::download::Compression;
    /// use haul::looker::LookerResultFormat;
    ///
    /// let task = looker.run_query(query_id).format(LookerResultFormat::JsonDetail).submit().await?;
    /// let results = task.wait().await?.read().await?;
    /// let parquet = results.to_parquet(Compression::Zstd)?;
    /// println!("{} rows, columns {:?}", parquet.rows, parquet.schema.columns);
    /// // Or in one call: looker.run_query(query_id).parquet(Compression::Zstd).await?
    /// # Ok(())
    /// # }
    /// ```
    pub fn to_parquet(&self, compression: Compression) -> Result<ParquetResults> {
        let (fields, rows): (Fields, Vec<HashMap<String, Option<&RawValue>>>) = match self.format()
        {
            LookerResultFormat::JsonDetail => {
                let detail = self.detail()?;
                let rows = detail
                    .data
                    .into_iter()
                    .map(|row| row.into_iter().map(|(k, c)| (k, c.value)).collect())
                    .collect();
                (detail.fields, rows)
            }
            LookerResultFormat::JsonBi => {
                let bi = self.bi()?;
                (bi.metadata.fields, bi.rows)
            }
            other => return Err(untyped(other)),
        };
        let schema = schema_of(fields)?;
        let mut writer = RowWriter::new(schema.clone(), compression)?;
        for (index, row) in rows.iter().enumerate() {
            let cells = schema
                .columns
                .iter()
                .map(|column| {
                    let raw = row.get(&column.name).copied().flatten();
                    cell_text(raw, column.ty).map_err(|e| {
                        Error::invalid_response(
                            OPERATION,
                            format!("row {}, {}: {e}", index + 1, column.name),
                        )
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            writer.push(cells.iter().map(Option::as_deref))?;
        }
        let (bytes, rows) = writer.finish()?;
        Ok(ParquetResults {
            schema,
            rows,
            bytes: bytes.into(),
        })
    }

    fn detail(&self) -> Result<Detail<'_>> {
        serde_json::from_slice(self.bytes()).map_err(|e| unreadable(self.format(), e))
    }

    fn bi(&self) -> Result<Bi<'_>> {
        serde_json::from_slice(self.bytes()).map_err(|e| unreadable(self.format(), e))
    }
}

fn untyped(format: &LookerResultFormat) -> Error {
    Error::invalid_input(format!(
        "{format} results carry no field types; run the query as json_detail or json_bi"
    ))
}

fn unreadable(format: &LookerResultFormat, e: serde_json::Error) -> Error {
    Error::invalid_response(OPERATION, format!("{format} results: {e}"))
}

fn schema_of(fields: Fields) -> Result<Schema> {
    if fields.pivots.as_ref().is_some_and(|p| !p.is_empty()) {
        return Err(Error::invalid_input(
            "pivoted results nest each measure by pivot value; haul types only unpivoted results",
        ));
    }
    let columns: Vec<Column> = fields
        .all()
        .map(|field| {
            let ty = column_type(&field);
            Column::new(field.name, ty, true)
        })
        .collect();
    if columns.is_empty() {
        return Err(Error::invalid_response(
            OPERATION,
            "the results' metadata names no fields",
        ));
    }
    Ok(Schema::new(columns))
}

/// The column type of one field; see [`QueryResults::schema`] for the table and its sources.
fn column_type(field: &FieldMeta) -> ColumnType {
    let numeric = field.is_numeric == Some(true);
    let Some(ty) = field.ty.as_deref() else {
        return if numeric {
            ColumnType::Float64
        } else {
            ColumnType::Utf8
        };
    };
    match ty {
        "string" | "zipcode" | "tier" | "bin" | "location" | "unquoted" | "list" => {
            ColumnType::Utf8
        }
        "yesno" => ColumnType::Boolean,
        "count" | "count_distinct" => ColumnType::Int64,
        "number"
        | "sum"
        | "sum_distinct"
        | "average"
        | "average_distinct"
        | "median"
        | "median_distinct"
        | "percentile"
        | "percentile_distinct"
        | "running_total"
        | "percent_of_total"
        | "percent_of_previous"
        | "distance" => ColumnType::Float64,
        "max" | "min" if numeric => ColumnType::Float64,
        "max" | "min" => ColumnType::Utf8,
        "date_date" => ColumnType::Date,
        "date_time" | "date_second" | "date_raw" => ColumnType::Timestamp,
        duration if duration.starts_with("duration_") => ColumnType::Float64,
        // Other timeframes (`date_month` "2024-01", `date_week`, `date_quarter` "2024-Q1", ...)
        // are labels: kept as the text Looker sent, numbers (`date_year`) as their literal.
        timeframe if timeframe.starts_with("date_") => ColumnType::Utf8,
        other => {
            let chosen = if numeric {
                ColumnType::Float64
            } else {
                ColumnType::Utf8
            };
            tracing::warn!(field = %field.name, field_type = other, column = %chosen,
                "a Looker field type haul does not know; typed by is_numeric");
            chosen
        }
    }
}

/// A cell's text in the form the column's type reads: `None` for null; strings unescaped (a
/// `yesno`'s `Yes`/`No` as `true`/`false`, a date-time `YYYY-MM-DD HH:MM:SS` as
/// `YYYY-MM-DDTHH:MM:SSZ`); numbers and booleans as the literal Looker sent.
fn cell_text(raw: Option<&RawValue>, ty: ColumnType) -> serde_json::Result<Option<String>> {
    let Some(raw) = raw else { return Ok(None) };
    let literal = raw.get();
    if literal == "null" {
        return Ok(None);
    }
    if !literal.starts_with('"') {
        return Ok(Some(literal.to_owned()));
    }
    let text: String = serde_json::from_str(literal)?;
    Ok(Some(match ty {
        ColumnType::Boolean if text.eq_ignore_ascii_case("yes") => "true".into(),
        ColumnType::Boolean if text.eq_ignore_ascii_case("no") => "false".into(),
        ColumnType::Timestamp => timestamp_text(text),
        _ => text,
    }))
}

/// `2024-01-02 03:04:05` (Looker's form) as `2024-01-02T03:04:05Z`; other forms as they are.
fn timestamp_text(text: String) -> String {
    let bytes = text.as_bytes();
    if bytes.len() < 19 || bytes[10] != b' ' {
        return text;
    }
    let mut out = text.replacen(' ', "T", 1);
    let time = &out[11..];
    if !(time.ends_with(['Z', 'z']) || time.contains(['+', '-'])) {
        out.push('Z');
    }
    out
}

#[cfg(test)]
mod tests {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMillisecondType};
    use arrow_array::{Array, RecordBatch};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use serde_json::json;

    use super::*;
    use crate::looker::results::body_from_data;

    fn results(format: LookerResultFormat, body: serde_json::Value) -> QueryResults {
        QueryResults::new("t".into(), format, body_from_data(body))
    }

    fn read(parquet: &ParquetResults) -> RecordBatch {
        ParquetRecordBatchReaderBuilder::try_new(parquet.bytes.clone())
            .unwrap()
            .build()
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
    }

    fn fields() -> serde_json::Value {
        json!({
            "dimensions": [
                {"name": "u.zip", "type": "zipcode", "is_numeric": false},
                {"name": "u.active", "type": "yesno", "is_numeric": false},
                {"name": "u.created_date", "type": "date_date", "is_numeric": false},
                {"name": "u.created_time", "type": "date_time", "is_numeric": false},
                {"name": "u.created_month", "type": "date_month", "is_numeric": false},
                {"name": "u.odd", "type": "shape", "is_numeric": false},
            ],
            "measures": [
                {"name": "u.count", "type": "count", "is_numeric": true},
                {"name": "u.total", "type": "sum", "is_numeric": true},
            ],
            "pivots": [],
        })
    }

    #[test]
    fn metadata_types_the_columns_and_cells_keep_their_literals() {
        let row = |zip: serde_json::Value, total: serde_json::Value| {
            json!({
                "u.zip": {"value": zip}, "u.active": {"value": "Yes"},
                "u.created_date": {"value": "2024-01-02"},
                "u.created_time": {"value": "2024-01-02 03:04:05"},
                "u.created_month": {"value": "2024-01"}, "u.odd": {"value": {"x": 1}},
                "u.count": {"value": 3}, "u.total": {"value": total},
            })
        };
        let detail = results(
            LookerResultFormat::JsonDetail,
            json!({"fields": fields(), "data": [row(json!("01234"), json!(0.1)), row(json!(null), json!(null))]}),
        );
        let schema = detail.schema().unwrap();
        let types: Vec<ColumnType> = schema.columns.iter().map(|c| c.ty).collect();
        use ColumnType::*;
        assert_eq!(
            types,
            [Utf8, Boolean, Date, Timestamp, Utf8, Utf8, Int64, Float64]
        );
        let parquet = detail.to_parquet(Compression::Zstd).unwrap();
        assert_eq!(parquet.rows, 2);
        let batch = read(&parquet);
        assert_eq!(batch.column(0).as_string::<i32>().value(0), "01234");
        assert!(batch.column(0).is_null(1));
        assert!(batch.column(1).as_boolean().value(0));
        assert_eq!(
            batch.column(2).as_primitive::<Date32Type>().value(0),
            19_724
        );
        let at = batch.column(3).as_primitive::<TimestampMillisecondType>();
        assert_eq!(at.value(0), 1_704_164_645_000);
        assert_eq!(batch.column(5).as_string::<i32>().value(0), r#"{"x":1}"#);
        assert_eq!(batch.column(6).as_primitive::<Int64Type>().value(0), 3);
        let totals = batch.column(7).as_primitive::<Float64Type>();
        assert_eq!(totals.value(0), 0.1);
        assert!(totals.is_null(1));

        let bi = results(
            LookerResultFormat::JsonBi,
            json!({"metadata": {"fields": fields(), "sql": "SELECT"}, "rows": [{"u.zip": "01234", "u.count": 3}]}),
        );
        assert_eq!(bi.schema().unwrap(), schema);
        let batch = read(&bi.to_parquet(Compression::Snappy).unwrap());
        assert_eq!(batch.column(6).as_primitive::<Int64Type>().value(0), 3);
        assert!(batch.column(7).is_null(0), "a missing cell is null");
    }

    #[test]
    fn a_cell_that_does_not_fit_names_row_column_and_value() {
        let detail = results(
            LookerResultFormat::JsonDetail,
            json!({"fields": fields(), "data": [{"u.count": {"value": 1}}, {"u.count": {"value": 2.5}}]}),
        );
        let error = detail.to_parquet(Compression::Zstd).unwrap_err();
        let Error::InvalidValue {
            row, column, value, ..
        } = &error
        else {
            panic!("{error}");
        };
        assert_eq!(
            (*row, column.as_str(), value.as_str()),
            (2, "u.count", "2.5")
        );
        let maybe = results(
            LookerResultFormat::JsonDetail,
            json!({"fields": fields(), "data": [{"u.active": {"value": "Maybe"}}]}),
        );
        let error = maybe.to_parquet(Compression::Zstd).unwrap_err();
        assert!(error.is_invalid_value(), "{error}");
    }

    #[test]
    fn untyped_formats_and_pivots_are_refused() {
        let csv = results(LookerResultFormat::Csv, json!("a\n1\n"));
        assert!(csv.schema().unwrap_err().is_invalid_input());
        let pivoted = results(
            LookerResultFormat::JsonBi,
            json!({"metadata": {"fields": {"dimensions": [], "measures": [], "pivots": [{"name": "p", "type": "string"}]}}, "rows": []}),
        );
        assert!(pivoted.schema().unwrap_err().is_invalid_input());
    }

    #[test]
    fn looker_date_times_read_as_utc_wall_clock() {
        assert_eq!(
            timestamp_text("2024-01-02 03:04:05".into()),
            "2024-01-02T03:04:05Z"
        );
        assert_eq!(
            timestamp_text("2024-01-02 03:04:05.120+01:00".into()),
            "2024-01-02T03:04:05.120+01:00"
        );
        assert_eq!(timestamp_text("2024-01-02".into()), "2024-01-02");
    }
}
