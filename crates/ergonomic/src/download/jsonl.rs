//! CSV to JSON lines, streaming (see [`Records`]).

use super::records::{Fields, Records};
use crate::error::{Error, Result};

/// Converts one partition: its first record names the fields of every later one.
pub(crate) struct JsonlEncoder {
    records: Records,
    /// The field names, each already a JSON string followed by `:`.
    names: Option<Vec<Vec<u8>>>,
    rows: u64,
}

impl JsonlEncoder {
    pub(crate) fn new(delimiter: u8) -> Self {
        Self {
            records: Records::new(delimiter),
            names: None,
            rows: 0,
        }
    }

    /// Rows written so far (the header not counted).
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// Parses `input`, appending a JSON line to `out` for every record it completes.
    pub(crate) fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let (names, rows) = (&mut self.names, &mut self.rows);
        self.records
            .feed(input, &mut |fields| record(names, rows, fields, out))
    }

    /// Ends the partition: writes its last record when it had no line ending.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let (names, rows) = (&mut self.names, &mut self.rows);
        self.records
            .finish(&mut |fields| record(names, rows, fields, out))
    }
}

/// The record just parsed: the field names, or a row.
fn record(
    names: &mut Option<Vec<Vec<u8>>>,
    rows: &mut u64,
    fields: Fields<'_>,
    out: &mut Vec<u8>,
) -> Result<()> {
    match names {
        Some(names) => {
            *rows += 1;
            write_row(names, &fields, *rows, out)
        }
        None => {
            *names = Some(field_names(&fields)?);
            Ok(())
        }
    }
}

fn field_names(fields: &Fields<'_>) -> Result<Vec<Vec<u8>>> {
    fields
        .iter()
        .enumerate()
        .map(|(column, value)| {
            let name = utf8(value, 0, column)?;
            let mut json = serde_json::to_vec(name).expect("a string serialises");
            json.push(b':');
            Ok(json)
        })
        .collect()
}

fn write_row(names: &[Vec<u8>], fields: &Fields<'_>, row: u64, out: &mut Vec<u8>) -> Result<()> {
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
            serde_json::to_writer(&mut *out, utf8(value, row, column)?)
                .expect("writing to a Vec cannot fail");
        }
    }
    out.extend_from_slice(b"}\n");
    Ok(())
}

fn utf8(value: &[u8], row: u64, column: usize) -> Result<&str> {
    std::str::from_utf8(value).map_err(|_| {
        Error::integrity(format!(
            "row {row}, column {}: the value is not UTF-8",
            column + 1
        ))
    })
}
