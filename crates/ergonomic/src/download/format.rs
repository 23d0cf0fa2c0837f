//! The format part of the engine: what a partition's CSV becomes on its way to the sink, and the row
//! count that every format checks.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::jsonl::JsonlEncoder;
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
    /// One JSON object a row, keyed by column name; an empty field becomes `null`.
    Jsonl,
}

impl Format {
    /// The extension of part files.
    pub(crate) fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Jsonl => "jsonl",
        }
    }

    /// Whether every partition starts with the same header row, kept once when partitions are
    /// concatenated into one file.
    pub(crate) fn repeats_header(self) -> bool {
        matches!(self, Self::Csv)
    }

    /// An encoder for one partition; `delimiter` gives the CSV's column delimiter, asked only by
    /// formats that parse fields (CSV passes through whatever the delimiter).
    pub(crate) fn encoder(self, delimiter: impl FnOnce() -> Result<u8>) -> Result<Encoder> {
        Ok(Encoder {
            scanner: RecordScanner::default(),
            jsonl: match self {
                Self::Csv => None,
                Self::Jsonl => Some(JsonlEncoder::new(delimiter()?)),
            },
        })
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.extension())
    }
}

/// Turns one partition's CSV into the output, chunk by chunk, counting its rows.
///
/// The rows are always counted on the CSV as received (by record boundaries, which is what the
/// server's declared count counts), whatever the output.
pub(crate) struct Encoder {
    scanner: RecordScanner,
    jsonl: Option<JsonlEncoder>,
}

impl Encoder {
    /// The output for `chunk`: the chunk itself for CSV.
    pub(crate) fn encode(&mut self, chunk: Bytes) -> Result<Bytes> {
        self.scanner.feed(&chunk);
        match &mut self.jsonl {
            None => Ok(chunk),
            Some(jsonl) => {
                let mut out = Vec::with_capacity(chunk.len() * 2);
                jsonl.feed(&chunk, &mut out)?;
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
        let Some(mut jsonl) = self.jsonl else {
            return Ok((Bytes::new(), rows));
        };
        let mut out = Vec::new();
        jsonl.finish(&mut out)?;
        if jsonl.rows() != rows {
            return Err(Error::integrity(format!(
                "the partition holds {rows} CSV records but {} JSON rows came of them",
                jsonl.rows()
            )));
        }
        Ok((out.into(), rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(format: Format, chunks: &[&str]) -> Result<(String, u64)> {
        let mut encoder = format.encoder(|| Ok(b',')).unwrap();
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
    fn a_partition_cut_inside_quotes_is_an_integrity_error() {
        let error = encode(Format::Csv, &["\"Id\"\n\"1"]).unwrap_err();
        assert!(matches!(error, Error::Integrity { .. }), "{error}");
    }
}
