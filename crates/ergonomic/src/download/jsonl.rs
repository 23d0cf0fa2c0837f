//! CSV to JSON lines, streaming (see [`Records`]): every value a string, or typed by a [`Schema`]
//! with the rules Parquet reads by (see [`super::value`]).

use std::io::Write;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeDelta};

use super::decimal;
use super::records::{Fields, Records};
use super::schema::Schema;
use super::value::{TypedRecords, Value};
use crate::error::{Error, Result};

/// Converts one partition.
pub(crate) struct JsonlEncoder {
    records: Records,
    rows: Rows,
}

/// How a partition's records become JSON objects.
enum Rows {
    /// Every value a string: the first record names the fields of every later one.
    Text {
        /// The field names, each already a JSON string followed by `:`.
        names: Option<Vec<Vec<u8>>>,
        rows: u64,
    },
    /// Each value as its column's type, keyed by the schema's column names (each already a JSON
    /// string followed by `:`); the header row is checked against them.
    Typed {
        names: Vec<Vec<u8>>,
        typed: TypedRecords,
    },
}

impl JsonlEncoder {
    /// Every value a string.
    pub(crate) fn new(delimiter: u8) -> Self {
        Self {
            records: Records::new(delimiter),
            rows: Rows::Text {
                names: None,
                rows: 0,
            },
        }
    }

    /// Each value typed by `schema`.
    pub(crate) fn typed(schema: Arc<Schema>, delimiter: u8) -> Self {
        let names = schema.columns.iter().map(|c| json_key(&c.name)).collect();
        Self {
            records: Records::new(delimiter),
            rows: Rows::Typed {
                names,
                typed: TypedRecords::new(schema),
            },
        }
    }

    /// Rows written so far (the header not counted).
    pub(crate) fn rows(&self) -> u64 {
        match &self.rows {
            Rows::Text { rows, .. } => *rows,
            Rows::Typed { typed, .. } => typed.rows(),
        }
    }

    /// Parses `input`, appending a JSON line to `out` for every record it completes.
    pub(crate) fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let rows = &mut self.rows;
        self.records
            .feed(input, &mut |fields| rows.record(fields, out))
    }

    /// Ends the partition: writes its last record when it had no line ending.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let rows = &mut self.rows;
        self.records.finish(&mut |fields| rows.record(fields, out))
    }
}

impl Rows {
    /// The record just parsed: the field names, or a row.
    fn record(&mut self, fields: Fields<'_>, out: &mut Vec<u8>) -> Result<()> {
        match self {
            Self::Text {
                names: Some(names),
                rows,
            } => {
                *rows += 1;
                write_text_row(names, &fields, *rows, out)
            }
            Self::Text { names, .. } => {
                *names = Some(field_names(&fields)?);
                Ok(())
            }
            Self::Typed { names, typed } => {
                // The header row writes nothing; a row, an object of every column.
                let row = typed.read(&fields, |index, value| {
                    out.push(if index == 0 { b'{' } else { b',' });
                    out.extend_from_slice(&names[index]);
                    write_value(value, out);
                })?;
                if row {
                    out.extend_from_slice(b"}\n");
                }
                Ok(())
            }
        }
    }
}

/// `name` as a JSON string followed by `:`.
fn json_key(name: &str) -> Vec<u8> {
    let mut json = serde_json::to_vec(name).expect("a string serialises");
    json.push(b':');
    json
}

fn field_names(fields: &Fields<'_>) -> Result<Vec<Vec<u8>>> {
    fields
        .iter()
        .enumerate()
        .map(|(column, value)| Ok(json_key(utf8(value, 0, column)?)))
        .collect()
}

fn write_text_row(
    names: &[Vec<u8>],
    fields: &Fields<'_>,
    row: u64,
    out: &mut Vec<u8>,
) -> Result<()> {
    if fields.len() != names.len() {
        return Err(Error::integrity(format!(
            "row {row} has {} fields, the header {}",
            fields.len(),
            names.len()
        )));
    }
    out.push(b'{');
    for (column, (name, value)) in names.iter().zip(fields.iter()).enumerate() {
        if column > 0 {
            out.push(b',');
        }
        out.extend_from_slice(name);
        if value.is_empty() {
            out.extend_from_slice(b"null");
        } else {
            write_string(utf8(value, row, column)?, out);
        }
    }
    out.extend_from_slice(b"}\n");
    Ok(())
}

/// A typed value as JSON: numbers as numbers, except decimals, written as strings with every digit
/// of their scale so that no reader's float loses one; dates, instants (UTC, with the column's
/// milliseconds or microseconds), wall-clock date-times (microseconds, no zone) and times of day
/// as strings in ISO 8601; a multi-select as an array of strings.
fn write_value(value: Option<Value<'_>>, out: &mut Vec<u8>) {
    let written = match value {
        None => out.write_all(b"null"),
        Some(Value::Utf8(text)) => {
            write_string(text, out);
            Ok(())
        }
        Some(Value::Boolean(v)) => write!(out, "{v}"),
        Some(Value::Int32(v)) => write!(out, "{v}"),
        Some(Value::Int64(v)) => write!(out, "{v}"),
        Some(Value::Decimal { units, scale }) => {
            write!(out, "\"{}\"", decimal::to_text(units, scale))
        }
        // Finite (the value reads refuse others), so serde_json writes a JSON number.
        Some(Value::Float64(v)) => serde_json::to_writer(&mut *out, &v).map_err(Into::into),
        Some(Value::Date(days)) => {
            let date = NaiveDate::default() + TimeDelta::days(days.into());
            write!(out, "\"{date}\"")
        }
        Some(Value::Timestamp(ms)) => {
            let instant = DateTime::from_timestamp_millis(ms).expect("read from a date-time");
            let text = instant.to_rfc3339_opts(SecondsFormat::Millis, true);
            write!(out, "\"{text}\"")
        }
        Some(Value::TimestampMicros(us)) => {
            let instant = DateTime::from_timestamp_micros(us).expect("read from a date-time");
            let text = instant.to_rfc3339_opts(SecondsFormat::Micros, true);
            write!(out, "\"{text}\"")
        }
        Some(Value::TimestampNtzMicros(us)) => {
            let time = DateTime::from_timestamp_micros(us).expect("read from a date-time");
            write!(
                out,
                "\"{}\"",
                time.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f")
            )
        }
        Some(Value::Time(ms)) => write!(
            out,
            "\"{:02}:{:02}:{:02}.{:03}\"",
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        ),
        Some(Value::Utf8List(list)) => {
            out.push(b'[');
            for (i, item) in Value::items(list).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(item, out);
            }
            out.push(b']');
            Ok(())
        }
    };
    written.expect("writing to a Vec cannot fail");
}

fn write_string(text: &str, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, text).expect("writing to a Vec cannot fail");
}

fn utf8(value: &[u8], row: u64, column: usize) -> Result<&str> {
    std::str::from_utf8(value).map_err(|_| {
        Error::integrity(format!(
            "row {row}, column {}: the value is not UTF-8",
            column + 1
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::download::schema::{Column, ColumnType};

    fn schema() -> Schema {
        let decimal = |precision, scale| ColumnType::Decimal { precision, scale };
        Schema::new(vec![
            Column::new("Id", ColumnType::Utf8, false),
            Column::new("Flag", ColumnType::Boolean, true),
            Column::new("Count", ColumnType::Int32, true),
            Column::new("Big", ColumnType::Int64, true),
            Column::new("Amount", decimal(18, 2), true),
            Column::new("Tax", decimal(18, 0), true),
            Column::new("Ratio", ColumnType::Float64, true),
            Column::new("Day", ColumnType::Date, true),
            Column::new("At", ColumnType::Timestamp, true),
            Column::new("Time", ColumnType::Time, true),
            Column::new("Tags", ColumnType::Utf8List, true),
        ])
    }

    #[test]
    fn microsecond_date_times_keep_six_digits_and_a_wall_clock_has_no_zone() {
        let schema = Schema::new(vec![
            Column::new("At", ColumnType::TimestampMicros, true),
            Column::new("Local", ColumnType::TimestampNtzMicros, true),
        ]);
        let csv = "At,Local\n2024-01-02 04:04:05.12+01:00,2024-01-02 03:04:05.000001\n,\n";
        let (out, rows) = encode(schema, &[csv]).unwrap();
        assert_eq!(rows, 2);
        assert_eq!(
            out,
            "{\"At\":\"2024-01-02T03:04:05.120000Z\",\"Local\":\"2024-01-02T03:04:05.000001\"}\n\
             {\"At\":null,\"Local\":null}\n"
        );
    }

    fn encode(schema: Schema, chunks: &[&str]) -> Result<(String, u64)> {
        let mut encoder = JsonlEncoder::typed(Arc::new(schema), b',');
        let mut out = Vec::new();
        for chunk in chunks {
            encoder.feed(chunk.as_bytes(), &mut out)?;
        }
        encoder.finish(&mut out)?;
        Ok((String::from_utf8(out).unwrap(), encoder.rows()))
    }

    #[test]
    fn values_are_written_by_type_across_chunk_cuts() {
        let csv = "id,flag,count,big,amount,tax,ratio,day,at,time,tags\n\
                   \"a\nb\",true,7,-9000000000,1234.5,1.6147805824397E13,2.5e-1,2024-01-02,\
                   2024-01-02T03:04:05.12Z,03:04:05.006Z,\"x;y \"\"z\"\"\"\n\
                   c,,,,-0.05,,3,,1970-01-01T01:00:00.000+0100,,";
        let expected = "{\"Id\":\"a\\nb\",\"Flag\":true,\"Count\":7,\"Big\":-9000000000,\
                        \"Amount\":\"1234.50\",\"Tax\":\"16147805824397\",\"Ratio\":0.25,\
                        \"Day\":\"2024-01-02\",\"At\":\"2024-01-02T03:04:05.120Z\",\
                        \"Time\":\"03:04:05.006\",\"Tags\":[\"x\",\"y \\\"z\\\"\"]}\n\
                        {\"Id\":\"c\",\"Flag\":null,\"Count\":null,\"Big\":null,\
                        \"Amount\":\"-0.05\",\"Tax\":null,\"Ratio\":3.0,\"Day\":null,\
                        \"At\":\"1970-01-01T00:00:00.000Z\",\"Time\":null,\"Tags\":null}\n";
        for cut in 0..csv.len() {
            let (out, rows) = encode(schema(), &[&csv[..cut], &csv[cut..]]).unwrap();
            assert_eq!(rows, 2, "cut at {cut}");
            assert_eq!(out, expected, "cut at {cut}");
        }
    }

    #[test]
    fn a_value_that_does_not_parse_names_row_column_and_value() {
        let schema = Schema::new(vec![
            Column::new("Id", ColumnType::Utf8, false),
            Column::new("Count", ColumnType::Int32, true),
        ]);
        let error = encode(schema.clone(), &["Id,Count\na,1\nb,2x\n"]).unwrap_err();
        let Error::InvalidValue {
            row, column, value, ..
        } = &error
        else {
            panic!("{error}");
        };
        assert_eq!((*row, column.as_str(), value.as_str()), (2, "Count", "2x"));
        let error = encode(schema.clone(), &["Id,Count\n,1\n"]).unwrap_err();
        assert!(
            matches!(&error, Error::InvalidValue { row: 1, .. }),
            "{error}"
        );
        let error = encode(schema, &["Id,Total\na,1\n"]).unwrap_err();
        assert!(error.is_integrity(), "{error}");
    }

    #[test]
    fn untyped_values_stay_strings() {
        let mut encoder = JsonlEncoder::new(b',');
        let mut out = Vec::new();
        encoder.feed(b"A,B\n1,\n", &mut out).unwrap();
        encoder.finish(&mut out).unwrap();
        assert_eq!(out, b"{\"A\":\"1\",\"B\":null}\n");
    }
}
