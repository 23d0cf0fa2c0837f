//! CSV to typed Parquet, streaming: each partition's records are parsed as chunks arrive, read into
//! Arrow arrays by the [`Schema`]'s types, and encoded into a standalone Parquet file of its own
//! (row groups of bounded size, so a partition is never held whole). A partition that arrives as
//! an Arrow IPC stream is written the same way from its record batches ([`ipc`]). A folder download keeps these
//! files as they are; a single-file download appends their row groups to one file without
//! encoding them again (see [`super::parquet_file`]).

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int32Builder, Int64Builder,
    ListBuilder, StringBuilder, Time32MillisecondBuilder, TimestampMicrosecondBuilder,
    TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use serde::{Deserialize, Serialize};

use super::decimal;
use super::records::{Fields, Records};
use super::schema::{ColumnType, Schema};
use super::value::{self, TypedRecords, Value};
use crate::error::{Error, Result};

mod ipc;
mod rows;
mod writer;
pub(crate) use ipc::ArrowEncoder;
pub(crate) use rows::RowWriter;
use writer::LazyWriter;

/// Rows read into Arrow arrays before they go to the Parquet writer.
const BATCH_ROWS: usize = 8192;
/// A row group ends at this many rows, or at [`ROW_GROUP_BYTES`], whichever comes first: the
/// writer holds one row group of each partition in flight.
const ROW_GROUP_ROWS: usize = 128 * 1024;
const ROW_GROUP_BYTES: usize = 16 << 20;

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
    schema: Arc<Schema>,
    arrow: Arc<arrow_schema::Schema>,
}

impl ParquetSchema {
    /// Checks that `schema` can be written (see [`Schema::check`]).
    pub(crate) fn new(schema: Arc<Schema>) -> Result<Self> {
        schema.check()?;
        let fields: Vec<Field> = schema
            .columns
            .iter()
            .map(|column| Field::new(&column.name, data_type(column.ty), column.nullable))
            .collect();
        Ok(Self {
            schema,
            arrow: Arc::new(arrow_schema::Schema::new(fields)),
        })
    }

    /// How a Parquet file of this schema is written; `repeating_little` names the columns whose
    /// first values hardly repeat (see [`writer`]).
    fn properties(&self, compression: Compression, repeating_little: &[&str]) -> WriterProperties {
        let mut properties = WriterProperties::builder()
            .set_compression(compression.codec())
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_max_row_group_bytes(Some(ROW_GROUP_BYTES));
        // A dictionary of values that never repeat is all cost: hashing every value, and a bigger
        // file (the values once in the dictionary, then an index a row).
        let unique = self.schema.columns.iter().filter(|c| c.unique);
        for name in unique
            .map(|c| c.name.as_str())
            .chain(repeating_little.iter().copied())
        {
            properties = properties.set_column_dictionary_enabled(ColumnPath::from(name), false);
        }
        properties.build()
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
        ColumnType::TimestampMicros => {
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        }
        // No zone: Parquet's timestamp not adjusted to UTC, a wall-clock reading.
        ColumnType::TimestampNtzMicros => DataType::Timestamp(TimeUnit::Microsecond, None),
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
    typed: TypedRecords,
    columns: Vec<ColumnBuilder>,
    writer: LazyWriter,
    /// Rows not yet handed to the writer.
    batched: usize,
}

impl ParquetEncoder {
    pub(crate) fn new(
        schema: Arc<ParquetSchema>,
        compression: Compression,
        delimiter: u8,
    ) -> Result<Self> {
        let writer = LazyWriter::new(schema.clone(), compression);
        let columns = schema
            .schema
            .columns
            .iter()
            .map(|c| ColumnBuilder::new(c.ty))
            .collect();
        Ok(Self {
            records: Records::new(delimiter),
            state: State {
                typed: TypedRecords::new(schema.schema.clone()),
                schema,
                columns,
                writer,
                batched: 0,
            },
        })
    }

    /// Rows read so far (the header not counted).
    pub(crate) fn rows(&self) -> u64 {
        self.state.typed.rows()
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
        if !state.typed.header_seen() {
            return Err(Error::integrity("the partition has no header row"));
        }
        state.write_batch()?;
        state.writer.finish(out)
    }
}

impl State {
    fn record(&mut self, fields: Fields<'_>) -> Result<()> {
        let columns = &mut self.columns;
        if !self.typed.read_texts(&fields, |index, ty, text| {
            columns[index].append_text(ty, text)
        })? {
            return Ok(()); // The header row.
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
        self.writer.write(&batch)?;
        self.batched = 0;
        Ok(())
    }

    fn drain(&mut self, out: &mut Vec<u8>) {
        self.writer.drain(out);
    }
}

/// Moves what `writer` has written into `out`. The writer counts its own offsets, so taking its
/// buffer does not disturb the file it writes.
fn drain(writer: &mut ArrowWriter<Vec<u8>>, out: &mut Vec<u8>) {
    let written = writer.inner_mut();
    if out.is_empty() {
        std::mem::swap(out, written);
    } else {
        out.append(written);
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
    Decimal(Decimal128Builder),
    Float64(Float64Builder),
    Date(Date32Builder),
    Timestamp(TimestampMillisecondBuilder),
    /// Microsecond instants (UTC) and wall-clock date-times (no zone) alike.
    TimestampMicros(TimestampMicrosecondBuilder),
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
            ColumnType::Decimal { .. } => {
                Self::Decimal(Decimal128Builder::new().with_data_type(data_type(ty)))
            }
            ColumnType::Float64 => Self::Float64(Float64Builder::new()),
            ColumnType::Date => Self::Date(Date32Builder::new()),
            ColumnType::Timestamp => {
                Self::Timestamp(TimestampMillisecondBuilder::new().with_timezone("UTC"))
            }
            ColumnType::TimestampMicros => {
                Self::TimestampMicros(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
            }
            ColumnType::TimestampNtzMicros => {
                Self::TimestampMicros(TimestampMicrosecondBuilder::new())
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
            Self::Decimal(b) => b.append_null(),
            Self::Float64(b) => b.append_null(),
            Self::Date(b) => b.append_null(),
            Self::Timestamp(b) => b.append_null(),
            Self::TimestampMicros(b) => b.append_null(),
            Self::Time(b) => b.append_null(),
            Self::Utf8List(b) => b.append_null(),
        }
    }

    /// Appends `text` (`None` for null) read as `ty`, this column's type, by the rules of
    /// [`Value::parse`], or answers why it does not read. The types most values have (text,
    /// integers, decimals, date-times) go straight into their builders: through a [`Value`], the
    /// value was moved through memory twice on its way, which cost more than most parsers.
    #[inline]
    fn append_text(
        &mut self,
        ty: ColumnType,
        text: Option<&str>,
    ) -> std::result::Result<(), String> {
        let Some(text) = text else {
            self.append_null();
            return Ok(());
        };
        match (self, ty) {
            (Self::Utf8(b), ColumnType::Utf8) => b.append_value(text),
            (Self::Int32(b), ColumnType::Int32) => b.append_value(value::parse_integer(text)?),
            (Self::Int64(b), ColumnType::Int64) => b.append_value(value::parse_integer(text)?),
            (Self::Decimal(b), ColumnType::Decimal { precision, scale }) => {
                b.append_value(decimal::parse(text, precision, scale)?)
            }
            (Self::Timestamp(b), ColumnType::Timestamp) => {
                b.append_value(value::parse_timestamp(text)?)
            }
            (builder, ty) => builder.append(Some(Value::parse(ty, text)?)),
        }
        Ok(())
    }

    /// Appends `value` (`None` for null), read as this column's type.
    fn append(&mut self, value: Option<Value<'_>>) {
        let Some(value) = value else {
            return self.append_null();
        };
        match (self, value) {
            (Self::Utf8(b), Value::Utf8(text)) => b.append_value(text),
            (Self::Boolean(b), Value::Boolean(v)) => b.append_value(v),
            (Self::Int32(b), Value::Int32(v)) => b.append_value(v),
            (Self::Int64(b), Value::Int64(v)) => b.append_value(v),
            (Self::Decimal(b), Value::Decimal { units, .. }) => b.append_value(units),
            (Self::Float64(b), Value::Float64(v)) => b.append_value(v),
            (Self::Date(b), Value::Date(days)) => b.append_value(days),
            (Self::Timestamp(b), Value::Timestamp(ms)) => b.append_value(ms),
            (
                Self::TimestampMicros(b),
                Value::TimestampMicros(us) | Value::TimestampNtzMicros(us),
            ) => b.append_value(us),
            (Self::Time(b), Value::Time(ms)) => b.append_value(ms),
            (Self::Utf8List(b), Value::Utf8List(list)) => {
                for item in Value::items(list) {
                    b.values().append_value(item);
                }
                b.append(true);
            }
            (_, value) => unreachable!("{value:?} was read by another column's type"),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Utf8(b) => Arc::new(b.finish()),
            Self::Boolean(b) => Arc::new(b.finish()),
            Self::Int32(b) => Arc::new(b.finish()),
            Self::Int64(b) => Arc::new(b.finish()),
            Self::Decimal(b) => Arc::new(b.finish()),
            Self::Float64(b) => Arc::new(b.finish()),
            Self::Date(b) => Arc::new(b.finish()),
            Self::Timestamp(b) => Arc::new(b.finish()),
            Self::TimestampMicros(b) => Arc::new(b.finish()),
            Self::Time(b) => Arc::new(b.finish()),
            Self::Utf8List(b) => Arc::new(b.finish()),
        }
    }
}

/// A whole partition's Parquet file as bytes, for tests.
#[cfg(test)]
pub(crate) fn encode_all(schema: Schema, csv: &[&str]) -> Result<(bytes::Bytes, u64)> {
    let schema = Arc::new(ParquetSchema::new(Arc::new(schema))?);
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
        Date32Type, Decimal128Type, Int32Type, Int64Type, Time32MillisecondType,
        TimestampMillisecondType,
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
    fn a_unique_column_has_no_dictionary_and_the_others_keep_theirs() {
        let schema = Schema::new(vec![
            Column::new("Id", ColumnType::Utf8, false).unique(true),
            Column::new("Kind", ColumnType::Utf8, true),
        ]);
        let mut csv = String::from("\"Id\",\"Kind\"\n");
        for i in 0..1_000 {
            csv.push_str(&format!("\"id{i}\",\"kind{}\"\n", i % 3));
        }
        let (bytes, rows) = encode_all(schema, &[&csv]).unwrap();
        assert_eq!(rows, 1_000);
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
        let group = reader.metadata().row_group(0);
        assert_eq!(group.column(0).dictionary_page_offset(), None, "Id");
        assert!(group.column(1).dictionary_page_offset().is_some(), "Kind");
    }

    #[test]
    fn columns_whose_first_values_hardly_repeat_get_no_dictionary() {
        let schema = Schema::new(vec![
            Column::new("Amount", ColumnType::Int64, true),
            Column::new("At", ColumnType::Timestamp, true),
            Column::new("Kind", ColumnType::Utf8, true),
            Column::new("Count", ColumnType::Int32, true),
        ]);
        let mut csv = String::from("\"Amount\",\"At\",\"Kind\",\"Count\"\n");
        for i in 0..3_000 {
            // Count: every value distinct, but nulls leave fewer than a sample's worth.
            let count = if i % 3 == 0 {
                i.to_string()
            } else {
                String::new()
            };
            csv.push_str(&format!(
                "{i},2024-01-01T00:00:{:02}.{:03}Z,kind{},{count}\n",
                i / 1000,
                i % 1000,
                i % 7
            ));
        }
        let (bytes, rows) = encode_all(schema, &[&csv]).unwrap();
        assert_eq!(rows, 3_000);
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
        let group = reader.metadata().row_group(0);
        assert_eq!(group.column(0).dictionary_page_offset(), None, "Amount");
        assert_eq!(group.column(1).dictionary_page_offset(), None, "At");
        assert!(group.column(2).dictionary_page_offset().is_some(), "Kind");
        assert!(group.column(3).dictionary_page_offset().is_some(), "Count");
        let amounts: Vec<i64> = reader
            .build()
            .unwrap()
            .flat_map(|batch| {
                let batch = batch.unwrap();
                batch
                    .column(0)
                    .as_primitive::<Int64Type>()
                    .values()
                    .to_vec()
            })
            .collect();
        assert_eq!(amounts, (0..3_000).collect::<Vec<i64>>());
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
    fn microsecond_date_times_are_written_as_instants_or_wall_clock_readings() {
        use arrow_array::types::TimestampMicrosecondType;
        use parquet::basic::{LogicalType, TimeUnit as ParquetUnit};

        let schema = Schema::new(vec![
            Column::new("At", ColumnType::TimestampMicros, true),
            Column::new("Local", ColumnType::TimestampNtzMicros, true),
        ]);
        let csv = "At,Local\n2024-01-02 03:04:05.123456Z,2024-01-02T03:04:05.123456\n";
        let (bytes, rows) = encode_all(schema, &[csv]).unwrap();
        assert_eq!(rows, 1);
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes.clone()).unwrap();
        let columns = reader.metadata().file_metadata().schema_descr();
        let logical = |i: usize| columns.column(i).logical_type_ref().cloned();
        let micros = |utc| Some(LogicalType::timestamp(utc, ParquetUnit::MICROS));
        assert_eq!((logical(0), logical(1)), (micros(true), micros(false)));
        let batch = read(bytes);
        for column in 0..2 {
            let values = batch
                .column(column)
                .as_primitive::<TimestampMicrosecondType>();
            assert_eq!(values.value(0), 1_704_164_645_123_456, "column {column}");
        }
    }

    #[test]
    fn texts_go_into_builders_as_their_values_would() {
        let types = [
            ColumnType::Utf8,
            ColumnType::Int32,
            ColumnType::Int64,
            ColumnType::Decimal {
                precision: 5,
                scale: 2,
            },
            ColumnType::Timestamp,
            ColumnType::Date,
        ];
        let texts = [
            "12",
            "-7",
            "1.5",
            "1.234",
            "1.5E+2",
            "999.99",
            "1000",
            "2147483648",
            "x",
            "2024-01-02",
            "2024-01-02T03:04:05.120Z",
            "2024-01-02T03:04:05.120+0100",
        ];
        for ty in types {
            let (mut direct, mut valued) = (ColumnBuilder::new(ty), ColumnBuilder::new(ty));
            for text in texts {
                let read = direct.append_text(ty, Some(text));
                let value = Value::parse(ty, text);
                assert_eq!(read.as_ref().err(), value.as_ref().err(), "{ty} {text:?}");
                if let Ok(value) = value {
                    valued.append(Some(value));
                }
            }
            direct.append_text(ty, None).unwrap();
            valued.append(None);
            assert_eq!(direct.finish().to_data(), valued.finish().to_data(), "{ty}");
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
}
