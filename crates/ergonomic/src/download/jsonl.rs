//! CSV to JSON lines, streaming: records are parsed with `csv-core` as chunks arrive, so a partition
//! is never held whole.

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};

use crate::error::{Error, Result};

/// Converts one partition: its first record names the fields of every later one.
pub(crate) struct JsonlEncoder {
    reader: Reader,
    /// The current record's field bytes, and how many of them are filled.
    fields: Vec<u8>,
    filled: usize,
    /// The current record's field ends, and how many are set.
    ends: Vec<usize>,
    ended: usize,
    /// The field names, each already a JSON string followed by `:`.
    names: Option<Vec<Vec<u8>>>,
    rows: u64,
}

impl JsonlEncoder {
    pub(crate) fn new(delimiter: u8) -> Self {
        Self {
            reader: ReaderBuilder::new().delimiter(delimiter).build(),
            fields: vec![0; 4096],
            filled: 0,
            ends: vec![0; 64],
            ended: 0,
            names: None,
            rows: 0,
        }
    }

    /// Rows written so far (the header not counted).
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// Parses `input`, appending a JSON line to `out` for every record it completes.
    pub(crate) fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<()> {
        // An empty input tells csv-core that the data ended, so it is only passed by `finish`.
        while !input.is_empty() {
            let consumed = self.step(input, out)?;
            input = &input[consumed..];
        }
        Ok(())
    }

    /// Ends the partition: writes its last record when it had no line ending.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) -> Result<()> {
        // Each call ends a record or grows a buffer; a few suffice.
        for _ in 0..16 {
            if self.step(&[], out)? == usize::MAX {
                return Ok(());
            }
        }
        Err(Error::integrity(
            "the CSV parser did not reach the end of the partition",
        ))
    }

    /// One call of the parser; returns the input consumed (`usize::MAX` once the data has ended).
    fn step(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize> {
        let (result, read, written, ends) = self.reader.read_record(
            input,
            &mut self.fields[self.filled..],
            &mut self.ends[self.ended..],
        );
        self.filled += written;
        self.ended += ends;
        match result {
            ReadRecordResult::InputEmpty => {}
            ReadRecordResult::OutputFull => self.fields.resize(self.fields.len() * 2, 0),
            ReadRecordResult::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
            ReadRecordResult::Record => self.record(out)?,
            ReadRecordResult::End => return Ok(usize::MAX),
        }
        Ok(read)
    }

    /// The record just parsed: the field names, or a row.
    fn record(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let fields = &self.fields[..self.filled];
        let ends = &self.ends[..self.ended];
        let mut start = 0;
        let values = ends.iter().map(|&end| {
            let value = &fields[start..end];
            start = end;
            value
        });
        if let Some(names) = &self.names {
            self.rows += 1;
            write_row(names, values, self.ended, self.rows, out)?;
        } else {
            self.names = Some(names(values)?);
        }
        self.filled = 0;
        self.ended = 0;
        Ok(())
    }
}

fn names<'a>(values: impl Iterator<Item = &'a [u8]>) -> Result<Vec<Vec<u8>>> {
    values
        .enumerate()
        .map(|(column, value)| {
            let name = utf8(value, 0, column)?;
            let mut json = serde_json::to_vec(name).expect("a string serialises");
            json.push(b':');
            Ok(json)
        })
        .collect()
}

fn write_row<'a>(
    names: &[Vec<u8>],
    values: impl Iterator<Item = &'a [u8]>,
    count: usize,
    row: u64,
    out: &mut Vec<u8>,
) -> Result<()> {
    if count != names.len() {
        return Err(Error::integrity(format!(
            "row {row} has {count} fields, the header {}",
            names.len()
        )));
    }
    out.push(b'{');
    for (column, (name, value)) in names.iter().zip(values).enumerate() {
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
