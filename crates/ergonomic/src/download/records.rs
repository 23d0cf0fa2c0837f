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

    /// The fields, in order, each as text, or as its bytes when they are not UTF-8.
    ///
    /// The record's bytes are checked once, not field by field: every field is then UTF-8 unless
    /// its ends cut a character, which [`str::get`] checks (such a field, and every field of a
    /// record that is not UTF-8 as a whole, is checked on its own).
    pub(crate) fn texts(&self) -> impl Iterator<Item = Result<&'a str, &'a [u8]>> + 'a {
        let record = std::str::from_utf8(self.bytes).ok();
        let (bytes, ends) = (self.bytes, self.ends);
        let mut start = 0;
        ends.iter().map(move |&end| {
            let range = start..end;
            start = end;
            match record.and_then(|text| text.get(range.clone())) {
                Some(text) => Ok(text),
                None => std::str::from_utf8(&bytes[range.clone()]).map_err(|_| &bytes[range]),
            }
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn texts<'a>(bytes: &'a [u8], ends: &'a [usize]) -> Vec<Result<&'a str, &'a [u8]>> {
        Fields { bytes, ends }.texts().collect()
    }

    #[test]
    fn fields_are_text_unless_their_own_bytes_are_not_utf8() {
        assert_eq!(texts(b"ab\xc3\xa9", &[2, 4]), [Ok("ab"), Ok("é")]);
        assert_eq!(texts(b"", &[0, 0]), [Ok(""), Ok("")]);
        // A record that is UTF-8 as a whole, cut inside its one character.
        assert_eq!(
            texts(b"\xc3\xa9", &[1, 2]),
            [Err(&b"\xc3"[..]), Err(&b"\xa9"[..])]
        );
        // A record that is not: only the field at fault is refused.
        assert_eq!(
            texts(b"a\xffb\xc3\xa9", &[1, 3, 5]),
            [Ok("a"), Err(&b"\xffb"[..]), Ok("é")]
        );
    }

    #[test]
    fn records_are_split_across_chunk_cuts() {
        let csv = b"\"a\",\"b\xc3\xa9\"\r\n\"c\"\"d\",\"\"\n";
        for cut in 0..csv.len() {
            let mut records = Records::new(b',');
            let mut seen: Vec<Vec<String>> = Vec::new();
            let mut record = |fields: Fields<'_>| {
                let texts = fields.texts().map(|t| t.unwrap().to_owned()).collect();
                seen.push(texts);
                Ok(())
            };
            records.feed(&csv[..cut], &mut record).unwrap();
            records.feed(&csv[cut..], &mut record).unwrap();
            records.finish(&mut record).unwrap();
            assert_eq!(seen, [vec!["a", "bé"], vec!["c\"d", ""]], "cut at {cut}");
        }
    }
}
