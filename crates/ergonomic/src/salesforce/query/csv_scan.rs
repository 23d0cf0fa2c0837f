//! Finding CSV record boundaries in a stream of chunks, without parsing fields.
//!
//! A record ends at a line feed outside double quotes (`""` inside a quoted field toggles twice, so it
//! needs no special case). This is all the download path needs: counting rows, and cutting off the
//! header row of every page but the first. `\r\n` works because its `\n` ends the record.

use memchr::memchr2;

/// Counts records across chunks.
#[derive(Debug, Default, Clone)]
pub(crate) struct RecordScanner {
    in_quotes: bool,
    complete: u64,
    /// Whether bytes follow the last record end (an unterminated final record).
    pending: bool,
}

impl RecordScanner {
    /// Scans a chunk; returns the offset just past the first record end within it, if any.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Option<usize> {
        let mut first_end = None;
        let mut at = 0;
        while let Some(found) = memchr2(b'"', b'\n', &chunk[at..]) {
            let position = at + found;
            if chunk[position] == b'"' {
                self.in_quotes = !self.in_quotes;
            } else if !self.in_quotes {
                self.complete += 1;
                first_end.get_or_insert(position + 1);
            }
            at = position + 1;
        }
        if !chunk.is_empty() {
            self.pending = chunk[chunk.len() - 1] != b'\n' || self.in_quotes;
        }
        first_end
    }

    /// Records seen, counting an unterminated last one.
    pub(crate) fn records(&self) -> u64 {
        self.complete + u64::from(self.pending)
    }

    /// Whether the data ended inside a quoted field (a truncated or malformed page).
    pub(crate) fn ends_in_quotes(&self) -> bool {
        self.in_quotes
    }
}

/// Separates the first record (the header row) from the rest of a page.
#[derive(Debug, Default)]
pub(crate) struct HeaderSplitter {
    scanner: RecordScanner,
    header: Vec<u8>,
    done: bool,
}

/// Where a header longer than this has not ended, the page is not CSV this code should trust.
const MAX_HEADER_BYTES: usize = 1 << 20;

impl HeaderSplitter {
    /// Takes a chunk; returns the part of it after the header (empty while the header continues).
    pub(crate) fn feed<'a>(&mut self, chunk: &'a [u8]) -> Result<&'a [u8], &'static str> {
        if self.done {
            return Ok(chunk);
        }
        match self.scanner.feed(chunk) {
            Some(end) => {
                self.header.extend_from_slice(&chunk[..end]);
                self.done = true;
                Ok(&chunk[end..])
            }
            None if self.header.len() + chunk.len() > MAX_HEADER_BYTES => {
                Err("the header row is longer than 1 MiB")
            }
            None => {
                self.header.extend_from_slice(chunk);
                Ok(&[])
            }
        }
    }

    /// Whether the header row has ended.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// The header row, terminator included (all of the data when it never ended).
    pub(crate) fn header(&self) -> &[u8] {
        &self.header
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(chunks: &[&[u8]]) -> u64 {
        let mut scanner = RecordScanner::default();
        chunks.iter().for_each(|c| {
            scanner.feed(c);
        });
        scanner.records()
    }

    #[test]
    fn counts_records_with_quoted_newlines_and_delimiters() {
        let page = b"\"Id\",\"Name\"\n\"1\",\"a\nb, \"\"c\"\"\"\n\"2\",\"x\"\n";
        assert_eq!(count(&[page]), 3);
        // Split at every position: chunk boundaries never change the count.
        for cut in 0..page.len() {
            assert_eq!(count(&[&page[..cut], &page[cut..]]), 3, "cut at {cut}");
        }
    }

    #[test]
    fn counts_an_unterminated_last_record_and_crlf() {
        assert_eq!(count(&[b"h\r\n1\r\n2"]), 3);
        assert_eq!(count(&[b"h\r\n1\r\n"]), 2);
        assert_eq!(count(&[b""]), 0);
    }

    #[test]
    fn splits_off_the_header_across_chunks() {
        let mut splitter = HeaderSplitter::default();
        assert_eq!(splitter.feed(b"\"I").unwrap(), b"");
        assert_eq!(splitter.feed(b"d\"\n\"1\"\n").unwrap(), b"\"1\"\n");
        assert_eq!(splitter.feed(b"\"2\"\n").unwrap(), b"\"2\"\n");
        assert_eq!(splitter.header(), b"\"Id\"\n");
    }
}
