//! CSV to typed Parquet, streaming: each partition's records are parsed as chunks arrive, read into
//! Arrow arrays by the [`Schema`]'s types, and encoded into a standalone Parquet file of its own
//! (row groups of bounded size, so a partition is never held whole). A folder download keeps these
//! files as they are; a single-file download appends their row groups to one file without
//! encoding them again (see [`super::parquet_file`]).

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int32Builder, Int64Builder,
    ListBuilder, StringBuilder, Time32MillisecondBuilder, TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, TimeUnit};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use parquet::arrow::ArrowWriter;
use parquet::basic::{GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};

use super::decimal;
use super::records::{Fields, Records};
use super::schema::{ColumnType, Schema};
use crate::error::{Error, Result};

mod rows;
pub(crate) use rows::RowWriter;

/// Rows read into Arrow arrays before they go to the Parquet writer.
const BATCH_ROWS: usize = 8192;
/// A row group ends at this many rows, or at [`ROW_GROUP_BYTES`], whichever comes first: the
/// writer holds one row group of each partition in flight.
const ROW_GROUP_ROWS: usize = 128 * 1024;
const ROW_GROUP_BYTES: usize = 16 << 20;
/// Characters of a refused value shown in an error.
const VALUE_SHOWN: usize = 200;

/// How Parquet pages are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Compression {
    /// Zstandard (level 1): small files, fast to read; what lakes commonly use.
    #[default]
    Zstd,
    /// Snappy: fastest, larger files.
    Snappy,
    /// Gzip: read everywhere, slow to write.
    Gzip,
    /// None.
    #[serde(rename = "none")]
    Uncompressed,
}

impl Compression {
    fn codec(self) -> parquet::basic::Compression {
        match self {
            Self::Zstd => parquet::basic::Compression::ZSTD(ZstdLevel::default()),
            Self::Snappy => parquet::basic::Compression::SNAPPY,
            Self::Gzip => parquet::basic::Compression::GZIP(GzipLevel::default()),
            Self::Uncompressed => parquet::basic::Compression::UNCOMPRESSED,
        }
    }

    /// The name of the compression, as [`FromStr`](std::str::FromStr) reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zstd => "zstd",
            Self::Snappy => "snappy",
            Self::Gzip => "gzip",
            Self::Uncompressed => "none",
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Compression {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        [Self::Zstd, Self::Snappy, Self::Gzip, Self::Uncompressed]
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "{text:?} is not a Parquet compression (zstd, snappy, gzip or none)"
                ))
            })
    }
}

/// A [`Schema`] checked and turned into Arrow's, shared by every partition of a download.
#[derive(Debug)]
pub(crate) struct ParquetSchema {
    schema: Schema,
    arrow: Arc<arrow_schema::Schema>,
}

impl ParquetSchema {
    /// Checks that `schema` can be written (decimal precisions within 1 to 38, scale within).
    pub(crate) fn new(schema: Schema) -> Result<Self> {
        if schema.columns.is_empty() {
            return Err(Error::invalid_input("a Parquet schema needs a column"));
        }
        let fields = schema
            .columns
            .iter()
            .map(|column| {
                if let ColumnType::Decimal { precision, scale } = column.ty
                    && (precision == 0 || precision > decimal::MAX_PRECISION || scale > precision)
                {
                    return Err(Error::invalid_input(format!(
                        "column {}: decimal({precision}, {scale}) cannot be written (precision 1 \
                         to {}, scale at most the precision)",
                        column.name,
                        decimal::MAX_PRECISION
                    )));
                }
                Ok(Field::new(
                    &column.name,
                    data_type(column.ty),
                    column.nullable,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            schema,
            arrow: Arc::new(arrow_schema::Schema::new(fields)),
        })
    }

    /// The schema as given.
    pub(crate) fn schema(&self) -> &Schema {
        &self.schema
    }
}

fn data_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::Utf8 => DataType::Utf8,
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Int32 => DataType::Int32,
        ColumnType::Int64 => DataType::Int64,
        ColumnType::Decimal { precision, scale } => DataType::Decimal128(precision, scale as i8),
        ColumnType::Float64 => DataType::Float64,
        ColumnType::Date => DataType::Date32,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        ColumnType::Time => DataType::Time32(TimeUnit::Millisecond),
        ColumnType::Utf8List => {
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
        }
    }
}

/// Converts one partition into a Parquet file of its own.
pub(crate) struct ParquetEncoder {
    records: Records,
    state: State,
}

/// The encoder's state apart from the CSV parser, so that the parser's callback can borrow it.
struct State {
    schema: Arc<ParquetSchema>,
    columns: Vec<ColumnBuilder>,
    writer: ArrowWriter<Vec<u8>>,
    header_seen: bool,
    /// Rows read, from 1 (the header not counted), and rows not yet handed to the writer.
    rows: u64,
    batched: usize,
}

impl ParquetEncoder {
    pub(crate) fn new(
        schema: Arc<ParquetSchema>,
        compression: Compression,
        delimiter: u8,
    ) -> Result<Self> {
        let properties = WriterProperties::builder()
            .set_compression(compression.codec())
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
            .build();
        let writer = ArrowWriter::try_new(Vec::new(), schema.arrow.clone(), Some(properties))
            .map_err(encoding)?;
        let columns = schema
            .schema
            .columns
            .iter()
            .map(|c| ColumnBuilder::new(c.ty))
            .collect();
        Ok(Self {
            records: Records::new(delimiter),
            state: State {
                schema,
                columns,
                writer,
                header_seen: false,
                rows: 0,
                batched: 0,
            },
        })
    }

    /// Rows read so far (the header not counted).
    pub(crate) fn rows(&self) -> u64 {
        self.state.rows
    }

    /// Parses `input`, appending to `out` what the Parquet writer has finished (whole row groups).
    pub(crate) fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let state = &mut self.state;
        self.records
            .feed(input, &mut |fields| state.record(fields))?;
        state.drain(out);
        Ok(())
    }

    /// Ends the partition: writes the last rows and the file's footer to `out`.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let state = &mut self.state;
        self.records.finish(&mut |fields| state.record(fields))?;
        if !state.header_seen {
            return Err(Error::integrity("the partition has no header row"));
        }
        state.write_batch()?;
        state.writer.finish().map_err(encoding)?;
        state.drain(out);
        Ok(())
    }
}

impl State {
    fn record(&mut self, fields: Fields<'_>) -> Result<()> {
        let columns = &self.schema.schema.columns;
        if fields.len() != columns.len() {
            return Err(Error::integrity(format!(
                "row {} has {} fields, the schema {} columns",
                self.rows,
                fields.len(),
                columns.len()
            )));
        }
        if !self.header_seen {
            for (name, column) in fields.iter().zip(columns) {
                if !name.eq_ignore_ascii_case(column.name.as_bytes()) {
                    return Err(Error::integrity(format!(
                        "the results' columns are {:?}, the schema's {:?}",
                        fields
                            .iter()
                            .map(String::from_utf8_lossy)
                            .collect::<Vec<_>>(),
                        columns.iter().map(|c| &c.name).collect::<Vec<_>>()
                    )));
                }
            }
            self.header_seen = true;
            return Ok(());
        }
        self.rows += 1;
        for ((value, column), builder) in fields.iter().zip(columns).zip(&mut self.columns) {
            let refused = |expected: String| Error::InvalidValue {
                row: self.rows,
                column: column.name.clone(),
                value: String::from_utf8_lossy(value)
                    .chars()
                    .take(VALUE_SHOWN)
                    .collect(),
                expected,
            };
            if value.is_empty() {
                if !column.nullable {
                    return Err(refused(format!(
                        "{} (the column may not be null)",
                        column.ty
                    )));
                }
                builder.append_null();
                continue;
            }
            let text = std::str::from_utf8(value)
                .map_err(|_| refused(format!("{}: it is not UTF-8", column.ty)))?;
            builder
                .append(text)
                .map_err(|why| refused(format!("{}: {why}", column.ty)))?;
        }
        self.batched += 1;
        if self.batched >= BATCH_ROWS {
            self.write_batch()?;
        }
        Ok(())
    }

    /// Hands the rows read so far to the Parquet writer.
    fn write_batch(&mut self) -> Result<()> {
        if self.batched == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self.columns.iter_mut().map(ColumnBuilder::finish).collect();
        let batch = RecordBatch::try_new(self.schema.arrow.clone(), arrays).map_err(encoding)?;
        self.writer.write(&batch).map_err(encoding)?;
        self.batched = 0;
        Ok(())
    }

    /// Moves what the writer has written into `out`. The writer counts its own offsets, so taking
    /// its buffer does not disturb the file it writes.
    fn drain(&mut self, out: &mut Vec<u8>) {
        let written = self.writer.inner_mut();
        if out.is_empty() {
            std::mem::swap(out, written);
        } else {
            out.append(written);
        }
    }
}

fn encoding(error: impl std::fmt::Display) -> Error {
    Error::integrity(format!("encoding Parquet: {error}"))
}

/// One column's values on their way into an Arrow array.
enum ColumnBuilder {
    Utf8(StringBuilder),
    Boolean(BooleanBuilder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Decimal(Decimal128Builder, u8, u8),
    Float64(Float64Builder),
    Date(Date32Builder),
    Timestamp(TimestampMillisecondBuilder),
    Time(Time32MillisecondBuilder),
    Utf8List(ListBuilder<StringBuilder>),
}

impl ColumnBuilder {
    fn new(ty: ColumnType) -> Self {
        match ty {
            ColumnType::Utf8 => Self::Utf8(StringBuilder::new()),
            ColumnType::Boolean => Self::Boolean(BooleanBuilder::new()),
            ColumnType::Int32 => Self::Int32(Int32Builder::new()),
            ColumnType::Int64 => Self::Int64(Int64Builder::new()),
            ColumnType::Decimal { precision, scale } => Self::Decimal(
                Decimal128Builder::new().with_data_type(data_type(ty)),
                precision,
                scale,
            ),
            ColumnType::Float64 => Self::Float64(Float64Builder::new()),
            ColumnType::Date => Self::Date(Date32Builder::new()),
            ColumnType::Timestamp => {
                Self::Timestamp(TimestampMillisecondBuilder::new().with_timezone("UTC"))
            }
            ColumnType::Time => Self::Time(Time32MillisecondBuilder::new()),
            ColumnType::Utf8List => Self::Utf8List(ListBuilder::new(StringBuilder::new())),
        }
    }

    fn append_null(&mut self) {
        match self {
            Self::Utf8(b) => b.append_null(),
            Self::Boolean(b) => b.append_null(),
            Self::Int32(b) => b.append_null(),
            Self::Int64(b) => b.append_null(),
            Self::Decimal(b, ..) => b.append_null(),
            Self::Float64(b) => b.append_null(),
            Self::Date(b) => b.append_null(),
            Self::Timestamp(b) => b.append_null(),
            Self::Time(b) => b.append_null(),
            Self::Utf8List(b) => b.append_null(),
        }
    }

    /// Appends a value read from `text` (never empty), or says why it cannot be.
    fn append(&mut self, text: &str) -> std::result::Result<(), String> {
        match self {
            Self::Utf8(b) => b.append_value(text),
            Self::Boolean(b) => b.append_value(parse_boolean(text)?),
            Self::Int32(b) => b.append_value(text.parse().map_err(|e| format!("{e}"))?),
            Self::Int64(b) => b.append_value(text.parse().map_err(|e| format!("{e}"))?),
            Self::Decimal(b, precision, scale) => {
                b.append_value(decimal::parse(text, *precision, *scale)?);
            }
            Self::Float64(b) => b.append_value(parse_float(text)?),
            Self::Date(b) => b.append_value(parse_date(text)?),
            Self::Timestamp(b) => b.append_value(parse_timestamp(text)?),
            Self::Time(b) => b.append_value(parse_time(text)?),
            Self::Utf8List(b) => {
                for item in text.split(';') {
                    b.values().append_value(item);
                }
                b.append(true);
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Utf8(b) => Arc::new(b.finish()),
            Self::Boolean(b) => Arc::new(b.finish()),
            Self::Int32(b) => Arc::new(b.finish()),
            Self::Int64(b) => Arc::new(b.finish()),
            Self::Decimal(b, ..) => Arc::new(b.finish()),
            Self::Float64(b) => Arc::new(b.finish()),
            Self::Date(b) => Arc::new(b.finish()),
            Self::Timestamp(b) => Arc::new(b.finish()),
            Self::Time(b) => Arc::new(b.finish()),
            Self::Utf8List(b) => Arc::new(b.finish()),
        }
    }
}

fn parse_boolean(text: &str) -> std::result::Result<bool, String> {
    if text.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if text.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err("expected true or false".into())
    }
}

fn parse_float(text: &str) -> std::result::Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        Ok(_) => Err("it is not a finite number".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Days since 1970-01-01.
fn parse_date(text: &str) -> std::result::Result<i32, String> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| e.to_string())?;
    let days = date.signed_duration_since(NaiveDate::default()).num_days();
    i32::try_from(days).map_err(|_| "it is out of range".into())
}

/// Milliseconds since 1970 UTC, from `2024-01-02T03:04:05.000Z` or `...+0000` (any offset).
fn parse_timestamp(text: &str) -> std::result::Result<i64, String> {
    let instant = match text.strip_suffix(['Z', 'z']) {
        Some(utc) => NaiveDateTime::parse_from_str(utc, "%Y-%m-%dT%H:%M:%S%.f")
            .map_err(|e| e.to_string())?
            .and_utc(),
        None => DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z")
            .map_err(|e| e.to_string())?
            .to_utc(),
    };
    if instant.nanosecond() % 1_000_000 != 0 {
        return Err("it is more precise than a millisecond".into());
    }
    Ok(instant.timestamp_millis())
}

/// Milliseconds since midnight, from `03:04:05.000Z`.
fn parse_time(text: &str) -> std::result::Result<i32, String> {
    let time = text.strip_suffix(['Z', 'z']).unwrap_or(text);
    let time = NaiveTime::parse_from_str(time, "%H:%M:%S%.f").map_err(|e| e.to_string())?;
    if time.nanosecond() % 1_000_000 != 0 {
        return Err("it is more precise than a millisecond".into());
    }
    Ok((time.num_seconds_from_midnight() * 1000 + time.nanosecond() / 1_000_000) as i32)
}

/// A whole partition's Parquet file as bytes, for tests.
#[cfg(test)]
pub(crate) fn encode_all(schema: Schema, csv: &[&str]) -> Result<(bytes::Bytes, u64)> {
    let schema = Arc::new(ParquetSchema::new(schema)?);
    let mut encoder = ParquetEncoder::new(schema, Compression::Zstd, b',')?;
    let mut out = Vec::new();
    for chunk in csv {
        encoder.feed(chunk.as_bytes(), &mut out)?;
    }
    encoder.finish(&mut out)?;
    Ok((out.into(), encoder.rows()))
}

#[cfg(test)]
mod tests {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{
        Date32Type, Decimal128Type, Int32Type, Time32MillisecondType, TimestampMillisecondType,
    };
    use arrow_array::{Array, RecordBatch};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;
    use crate::download::schema::Column;

    fn read(bytes: bytes::Bytes) -> RecordBatch {
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .unwrap()
            .build()
            .unwrap();
        let mut batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
        assert_eq!(batches.len(), 1, "one batch in these small tests");
        batches.remove(0)
    }

    fn schema() -> Schema {
        Schema::new(vec![
            Column::new("Id", ColumnType::Utf8, false),
            Column::new("Flag", ColumnType::Boolean, true),
            Column::new("Count", ColumnType::Int32, true),
            Column::new(
                "Amount",
                ColumnType::Decimal {
                    precision: 18,
                    scale: 2,
                },
                true,
            ),
            Column::new("Day", ColumnType::Date, true),
            Column::new("At", ColumnType::Timestamp, true),
            Column::new("Time", ColumnType::Time, true),
            Column::new("Tags", ColumnType::Utf8List, true),
        ])
    }

    #[test]
    fn values_are_read_by_type_across_chunk_cuts() {
        let csv = "\"Id\",\"Flag\",\"Count\",\"Amount\",\"Day\",\"At\",\"Time\",\"Tags\"\n\
                   \"a\nb\",\"true\",\"7\",\"1.5E+3\",\"2024-01-02\",\"2024-01-02T03:04:05.120Z\",\"03:04:05.006Z\",\"x;y\"\n\
                   \"c\",\"\",\"\",\"-2.5\",\"\",\"1970-01-01T01:00:00.000+0100\",\"\",\"\"\n";
        for cut in (0..csv.len()).step_by(7) {
            let (bytes, rows) = encode_all(schema(), &[&csv[..cut], &csv[cut..]]).unwrap();
            assert_eq!(rows, 2);
            let batch = read(bytes);
            let ids = batch.column(0).as_string::<i32>();
            assert_eq!(ids.value(0), "a\nb");
            assert!(batch.column(1).as_boolean().value(0));
            assert!(batch.column(1).is_null(1));
            assert_eq!(batch.column(2).as_primitive::<Int32Type>().value(0), 7);
            let amounts = batch.column(3).as_primitive::<Decimal128Type>();
            assert_eq!((amounts.value(0), amounts.value(1)), (150_000, -250));
            let day = batch.column(4).as_primitive::<Date32Type>().value(0);
            assert_eq!(day, 19_724);
            let at = batch.column(5).as_primitive::<TimestampMillisecondType>();
            assert_eq!(at.value(0), 1_704_164_645_120);
            assert_eq!(at.value(1), 0, "+0100 is taken off");
            let time = batch.column(6).as_primitive::<Time32MillisecondType>();
            assert_eq!(time.value(0), 3 * 3_600_000 + 4 * 60_000 + 5_006);
            let tags = batch.column(7).as_list::<i32>();
            let first = tags.value(0);
            let first = first.as_string::<i32>();
            assert_eq!((first.value(0), first.value(1)), ("x", "y"));
            assert!(tags.is_null(1));
        }
    }

    #[test]
    fn a_value_that_does_not_parse_names_row_column_and_value() {
        let csv = "Id,Count\na,1\nb,2x\n";
        let schema = Schema::new(vec![
            Column::new("Id", ColumnType::Utf8, false),
            Column::new("Count", ColumnType::Int32, true),
        ]);
        let error = encode_all(schema, &[csv]).unwrap_err();
        let Error::InvalidValue {
            row, column, value, ..
        } = &error
        else {
            panic!("{error}");
        };
        assert_eq!((*row, column.as_str(), value.as_str()), (2, "Count", "2x"));
    }

    #[test]
    fn a_decimal_with_too_many_digits_is_refused_not_rounded() {
        let schema = Schema::new(vec![Column::new(
            "A",
            ColumnType::Decimal {
                precision: 5,
                scale: 2,
            },
            true,
        )]);
        let error = encode_all(schema, &["A\n1.234\n"]).unwrap_err();
        assert!(error.to_string().contains("\"1.234\""), "{error}");
    }

    #[test]
    fn a_null_in_a_column_that_may_not_be_null_is_refused() {
        let schema = Schema::new(vec![Column::new("Id", ColumnType::Utf8, false)]);
        let error = encode_all(schema, &["Id\na\n\"\"\n"]).unwrap_err();
        assert!(
            matches!(&error, Error::InvalidValue { row: 2, .. }),
            "{error}"
        );
    }

    #[test]
    fn a_header_other_than_the_schema_is_refused() {
        let schema = Schema::new(vec![Column::new("Id", ColumnType::Utf8, false)]);
        assert!(encode_all(schema.clone(), &["id\na\n"]).is_ok());
        let error = encode_all(schema, &["Name\na\n"]).unwrap_err();
        assert!(error.is_integrity(), "{error}");
    }

    #[test]
    fn timestamps_and_times_parse_in_the_forms_salesforce_sends() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:01.000Z"), Ok(1000));
        assert_eq!(parse_timestamp("1970-01-01T00:00:01.000+0000"), Ok(1000));
        assert_eq!(parse_timestamp("1970-01-01T00:00:01+00:00"), Ok(1000));
        assert!(parse_timestamp("1970-01-01T00:00:01.0001Z").is_err());
        assert!(parse_timestamp("1970-01-01").is_err());
        assert_eq!(parse_time("00:00:01.500Z"), Ok(1500));
        assert!(parse_time("25:00:00.000Z").is_err());
        assert_eq!(parse_date("1969-12-31"), Ok(-1));
        assert!(parse_date("2024-02-30").is_err());
        assert!(parse_boolean("yes").is_err());
        assert!(parse_float("NaN").is_err());
    }
}
