//! CSV records, streaming: parsed with `csv-core` as chunks arrive, so a partition is never held
//! whole. The formats that read fields (JSON lines, Parquet) are built on it.

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};

use crate::error::{Error, Result};

/// A record's fields, unescaped.
pub(crate) struct Fields<'a> {
    bytes: &'a [u8],
    ends: &'a [usize],
}

impl<'a> Fields<'a> {
    /// How many fields the record has.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The fields, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let (bytes, ends) = (self.bytes, self.ends);
        let mut start = 0;
        ends.iter().map(move |&end| {
            let value = &bytes[start..end];
            start = end;
            value
        })
    }
}

/// Splits a partition's CSV into records as its chunks arrive.
pub(crate) struct Records {
    reader: Reader,
    /// The current record's field bytes, and how many of them are filled.
    fields: Vec<u8>,
    filled: usize,
    /// The current record's field ends, and how many are set.
    ends: Vec<usize>,
    ended: usize,
}

impl Records {
    pub(crate) fn new(delimiter: u8) -> Self {
        Self {
            reader: ReaderBuilder::new().delimiter(delimiter).build(),
            fields: vec![0; 4096],
            filled: 0,
            ends: vec![0; 64],
            ended: 0,
        }
    }

    /// Parses `input`, calling `record` for every record it completes.
    pub(crate) fn feed(
        &mut self,
        mut input: &[u8],
        record: &mut impl FnMut(Fields<'_>) -> Result<()>,
    ) -> Result<()> {
        // An empty input tells csv-core that the data ended, so it is only passed by `finish`.
        while !input.is_empty() {
            let consumed = self.step(input, record)?;
            input = &input[consumed..];
        }
        Ok(())
    }

    /// Ends the partition: completes its last record when it had no line ending.
    pub(crate) fn finish(
        &mut self,
        record: &mut impl FnMut(Fields<'_>) -> Result<()>,
    ) -> Result<()> {
        // Each call ends a record or grows a buffer; a few suffice.
        for _ in 0..16 {
            if self.step(&[], record)? == usize::MAX {
                return Ok(());
            }
        }
        Err(Error::integrity(
            "the CSV parser did not reach the end of the partition",
        ))
    }

    /// One call of the parser; returns the input consumed (`usize::MAX` once the data has ended).
    fn step(
        &mut self,
        input: &[u8],
        record: &mut impl FnMut(Fields<'_>) -> Result<()>,
    ) -> Result<usize> {
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
            ReadRecordResult::Record => {
                let fields = Fields {
                    bytes: &self.fields[..self.filled],
                    ends: &self.ends[..self.ended],
                };
                let done = record(fields);
                self.filled = 0;
                self.ended = 0;
                done?;
            }
            ReadRecordResult::End => return Ok(usize::MAX),
        }
        Ok(read)
    }
}
