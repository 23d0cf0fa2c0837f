//! The format part of the engine: what a partition's body (CSV, or an Arrow IPC stream written as
//! Parquet) becomes on its way to the sink, and the row count that every format checks.

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::jsonl::JsonlEncoder;
use super::parquet::{ArrowEncoder, Compression, ParquetEncoder, ParquetSchema};
use super::schema::Schema;
use super::source::Body;
use crate::csv_scan::RecordScanner;
use crate::error::{Error, Result};

/// What a download writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Format {
    /// The server's CSV, byte for byte; a single-file download keeps one header row.
    #[default]
    Csv,
    /// One JSON object a row; an empty field becomes `null`. Without a [`Schema`], every value is
    /// a string, keyed by the header row's column names. With one (see
    /// [`DownloadBuilder::schema`](super::DownloadBuilder::schema)), keyed by the schema's column
    /// names, each value is read as its column's type by the rules Parquet reads by and written
    /// as: text, a string; a boolean, `true` or `false`; an integer or a float, a JSON number; a
    /// decimal, a string of its exact value with every digit of its scale (`"1234.50"` at scale 2,
    /// exponent notation expanded: `"16147805824397"`), so that no digit is lost to a float; a
    /// date, `"2024-01-02"`; a date-time, in UTC with milliseconds (`"2024-01-02T03:04:05.000Z"`),
    /// or microseconds for a microsecond column (`"2024-01-02T03:04:05.123456Z"`, and without the
    /// `Z` for a date-time without time zone); a time of day, `"03:04:05.000"`; a multi-select, an
    /// array of strings.
    Jsonl,
    /// Typed Parquet, its columns' types given by a [`Schema`] (see
    /// [`DownloadBuilder::schema`](super::DownloadBuilder::schema)), its pages compressed so. A
    /// folder download writes one Parquet file a partition; a single file gets every partition's
    /// row groups, appended without encoding them again.
    Parquet(Compression),
}

impl Format {
    /// The extension of part files.
    pub(crate) fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Jsonl => "jsonl",
            Self::Parquet(_) => "parquet",
        }
    }

    /// Parquet with its default compression (zstd).
    pub fn parquet() -> Self {
        Self::Parquet(Compression::default())
    }

    /// Whether every partition starts with the same header row, kept once when partitions are
    /// concatenated into one file.
    pub(crate) fn repeats_header(self) -> bool {
        matches!(self, Self::Csv)
    }
}

/// A format with what it needs to write partitions: the schema that types it (Parquet's, or JSON
/// lines' when given one), and Parquet's Arrow form of it.
#[derive(Debug, Clone)]
pub(crate) struct Encoding {
    format: Format,
    schema: Option<Arc<Schema>>,
    parquet: Option<Arc<ParquetSchema>>,
}

impl Encoding {
    /// CSV as received.
    pub(crate) fn csv() -> Self {
        Self {
            format: Format::Csv,
            schema: None,
            parquet: None,
        }
    }

    /// `format`, typed by `schema`: Parquet needs one; JSON lines are typed by one when given;
    /// CSV passes through as received, whatever the schema. A schema that types the output is
    /// checked here, before anything is sent.
    pub(crate) fn new(format: Format, schema: Option<Schema>) -> Result<Self> {
        let (schema, parquet) = match (format, schema) {
            (Format::Parquet(_), None) => {
                return Err(Error::invalid_input(
                    "Parquet needs the columns' types: give the download a schema",
                ));
            }
            (Format::Parquet(_), Some(schema)) => {
                let schema = Arc::new(schema);
                let parquet = Arc::new(ParquetSchema::new(schema.clone())?);
                (Some(schema), Some(parquet))
            }
            (Format::Jsonl, Some(schema)) => {
                schema.check()?;
                (Some(Arc::new(schema)), None)
            }
            (Format::Csv, _) | (Format::Jsonl, None) => (None, None),
        };
        Ok(Self {
            format,
            schema,
            parquet,
        })
    }

    pub(crate) fn format(&self) -> Format {
        self.format
    }

    /// The schema the output is typed by, if any.
    pub(crate) fn schema(&self) -> Option<&Schema> {
        self.schema.as_deref()
    }

    /// Whether partitions whose bodies are encoded as `body` can be written in this format: an
    /// Arrow stream only as Parquet (checked before anything is sent).
    pub(crate) fn accepts(&self, body: Body) -> Result<()> {
        match (body, self.format) {
            (Body::Csv, _) | (Body::ArrowStream, Format::Parquet(_)) => Ok(()),
            (Body::ArrowStream, format) => Err(Error::invalid_input(format!(
                "these results arrive as Arrow IPC streams, which haul writes as Parquet only, \
                 not as {format}: ask the service for CSV to write {format}"
            ))),
        }
    }

    /// An encoder for one partition whose body is encoded as `body`; `delimiter` gives a CSV
    /// body's column delimiter, asked only by formats that parse fields (CSV passes through
    /// whatever the delimiter).
    pub(crate) fn encoder(
        &self,
        body: Body,
        delimiter: impl FnOnce() -> Result<u8>,
    ) -> Result<Encoder> {
        self.accepts(body)?;
        if body == Body::ArrowStream {
            let (Format::Parquet(compression), Some(schema)) = (self.format, &self.parquet) else {
                return Err(Error::invalid_input("Parquet needs a schema"));
            };
            let arrow = ArrowEncoder::new(schema.clone(), compression)?;
            return Ok(Encoder::Arrow(Box::new(arrow)));
        }
        let fields = match (self.format, &self.parquet) {
            (Format::Csv, _) => Fields::None,
            (Format::Jsonl, _) => Fields::Jsonl(Box::new(match &self.schema {
                Some(schema) => JsonlEncoder::typed(schema.clone(), delimiter()?),
                None => JsonlEncoder::new(delimiter()?),
            })),
            (Format::Parquet(compression), Some(schema)) => Fields::Parquet(Box::new(
                ParquetEncoder::new(schema.clone(), compression, delimiter()?)?,
            )),
            (Format::Parquet(_), None) => {
                return Err(Error::invalid_input("Parquet needs a schema"));
            }
        };
        Ok(Encoder::Csv(CsvEncoder {
            scanner: RecordScanner::default(),
            fields,
        }))
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.extension())
    }
}

/// Turns one partition's body into the output, chunk by chunk, counting its rows.
pub(crate) enum Encoder {
    /// A CSV body.
    Csv(CsvEncoder),
    /// An Arrow IPC stream, written as Parquet; its rows counted from its record batches.
    Arrow(Box<ArrowEncoder>),
}

impl Encoder {
    /// The output for `chunk`: the chunk itself for CSV passed through.
    pub(crate) fn encode(&mut self, chunk: Bytes) -> Result<Bytes> {
        match self {
            Self::Csv(csv) => csv.encode(chunk),
            Self::Arrow(arrow) => {
                let mut out = Vec::new();
                arrow.feed(chunk, &mut out)?;
                Ok(out.into())
            }
        }
    }

    /// The columns' names when the body states them apart from its rows (an Arrow stream's
    /// schema, once read); a CSV body's are in its header row.
    pub(crate) fn names(&self) -> Option<Vec<String>> {
        match self {
            Self::Csv(_) => None,
            Self::Arrow(arrow) => arrow.names(),
        }
    }

    /// The output still held back, and the partition's rows (a CSV header row not counted).
    pub(crate) fn finish(self) -> Result<(Bytes, u64)> {
        match self {
            Self::Csv(csv) => csv.finish(),
            Self::Arrow(mut arrow) => {
                let mut out = Vec::new();
                arrow.finish(&mut out)?;
                Ok((out.into(), arrow.rows()))
            }
        }
    }
}

/// Turns one partition's CSV into the output, chunk by chunk, counting its rows.
///
/// The rows are always counted on the CSV as received (by record boundaries, which is what the
/// server's declared count counts), whatever the output.
pub(crate) struct CsvEncoder {
    scanner: RecordScanner,
    fields: Fields,
}

/// The formats that read the fields.
enum Fields {
    /// CSV: passed through.
    None,
    Jsonl(Box<JsonlEncoder>),
    Parquet(Box<ParquetEncoder>),
}

impl CsvEncoder {
    /// The output for `chunk`: the chunk itself for CSV.
    pub(crate) fn encode(&mut self, chunk: Bytes) -> Result<Bytes> {
        self.scanner.feed(&chunk);
        match &mut self.fields {
            Fields::None => Ok(chunk),
            Fields::Jsonl(jsonl) => {
                let mut out = Vec::with_capacity(chunk.len() * 2);
                jsonl.feed(&chunk, &mut out)?;
                Ok(out.into())
            }
            Fields::Parquet(parquet) => {
                let mut out = Vec::new();
                parquet.feed(&chunk, &mut out)?;
                Ok(out.into())
            }
        }
    }

    /// The output still held back (an unterminated last record), and the partition's rows (its
    /// header row not counted).
    pub(crate) fn finish(self) -> Result<(Bytes, u64)> {
        if self.scanner.ends_in_quotes() {
            return Err(Error::integrity("it ends inside a quoted field"));
        }
        let rows = self.scanner.records().saturating_sub(1);
        let mut out = Vec::new();
        let (written, what) = match self.fields {
            Fields::None => return Ok((Bytes::new(), rows)),
            Fields::Jsonl(mut jsonl) => {
                jsonl.finish(&mut out)?;
                (jsonl.rows(), "JSON")
            }
            Fields::Parquet(mut parquet) => {
                parquet.finish(&mut out)?;
                (parquet.rows(), "Parquet")
            }
        };
        if written != rows {
            return Err(Error::integrity(format!(
                "the partition holds {rows} CSV records but {written} {what} rows came of them"
            )));
        }
        Ok((out.into(), rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(format: Format, chunks: &[&str]) -> Result<(String, u64)> {
        let encoding = Encoding::new(format, None).unwrap();
        let mut encoder = encoding.encoder(Body::Csv, || Ok(b',')).unwrap();
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend_from_slice(&encoder.encode(Bytes::copy_from_slice(chunk.as_bytes()))?);
        }
        let (tail, rows) = encoder.finish()?;
        out.extend_from_slice(&tail);
        Ok((String::from_utf8(out).unwrap(), rows))
    }

    #[test]
    fn csv_passes_through_and_counts_rows() {
        let page = "\"Id\",\"Name\"\n\"1\",\"a\nb\"\n\"2\",\"c\"\n";
        let (out, rows) = encode(Format::Csv, &[&page[..9], &page[9..]]).unwrap();
        assert_eq!(out, page);
        assert_eq!(rows, 2);
    }

    #[test]
    fn jsonl_names_fields_by_header_across_chunk_cuts() {
        let page = "\"Id\",\"Name\",\"Note\"\r\n\"1\",\"a \"\"b\"\"\",\"\"\r\n\"2\",\"x\ny\",\"z\"";
        for cut in 0..page.len() {
            let (out, rows) = encode(Format::Jsonl, &[&page[..cut], &page[cut..]]).unwrap();
            assert_eq!(rows, 2, "cut at {cut}");
            assert_eq!(
                out,
                "{\"Id\":\"1\",\"Name\":\"a \\\"b\\\"\",\"Note\":null}\n\
                 {\"Id\":\"2\",\"Name\":\"x\\ny\",\"Note\":\"z\"}\n",
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_schema_types_json_lines_and_is_checked_before_anything_is_sent() {
        use crate::download::schema::{Column, ColumnType};

        let schema = Schema::new(vec![
            Column::new("Id", ColumnType::Utf8, false),
            Column::new("Count", ColumnType::Int32, true),
        ]);
        let typed = Encoding::new(Format::Jsonl, Some(schema.clone())).unwrap();
        assert_eq!(typed.schema(), Some(&schema));
        let mut encoder = typed.encoder(Body::Csv, || Ok(b',')).unwrap();
        let out = encoder
            .encode(Bytes::from_static(b"Id,Count\na,7\n"))
            .unwrap();
        assert_eq!(out, "{\"Id\":\"a\",\"Count\":7}\n");
        assert_eq!(encoder.finish().unwrap().1, 1);
        // CSV passes through whatever the schema, and records none.
        let csv = Encoding::new(Format::Csv, Some(schema)).unwrap();
        assert_eq!(csv.schema(), None);
        let bad = Schema::new(vec![Column::new(
            "A",
            ColumnType::Decimal {
                precision: 39,
                scale: 0,
            },
            true,
        )]);
        let error = Encoding::new(Format::Jsonl, Some(bad)).unwrap_err();
        assert!(error.is_invalid_input(), "{error}");
        let error = Encoding::new(Format::Jsonl, Some(Schema::new(Vec::new()))).unwrap_err();
        assert!(error.is_invalid_input(), "{error}");
    }

    #[test]
    fn an_arrow_body_is_written_as_parquet_only() {
        use crate::download::schema::{Column, ColumnType};

        let schema = Schema::new(vec![Column::new("Id", ColumnType::Utf8, false)]);
        for format in [Format::Csv, Format::Jsonl] {
            let encoding = Encoding::new(format, Some(schema.clone())).unwrap();
            let error = encoding.accepts(Body::ArrowStream).unwrap_err();
            assert!(error.is_invalid_input(), "{error}");
            assert!(error.to_string().contains("Parquet only"), "{error}");
            let refused = encoding.encoder(Body::ArrowStream, || Ok(b','));
            assert!(refused.is_err(), "{format}");
        }
        let parquet = Encoding::new(Format::parquet(), Some(schema)).unwrap();
        parquet.accepts(Body::ArrowStream).unwrap();
        let encoder = parquet.encoder(Body::ArrowStream, || Ok(b',')).unwrap();
        assert!(matches!(encoder, Encoder::Arrow(_)));
    }

    #[test]
    fn a_partition_cut_inside_quotes_is_an_integrity_error() {
        let error = encode(Format::Csv, &["\"Id\"\n\"1"]).unwrap_err();
        assert!(matches!(error, Error::Integrity { .. }), "{error}");
    }
}
