//! Finding CSV record boundaries in a stream of chunks, without parsing fields.
//!
//! A record ends at a line feed outside double quotes (`""` inside a quoted field toggles twice, so it
//! needs no special case). This is all the download engine and the ingest splitter need: counting
//! rows, cutting off the header row of every page but the first, and cutting an input between
//! records. `\r\n` works because its `\n` ends the record.

use wide::u8x16;

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
    ///
    /// Salesforce quotes every field, so quotes outnumber line feeds many times over: instead of a
    /// search per quote, each 64-byte block becomes two bit masks (quotes, line feeds) by SIMD
    /// compares, and a prefix XOR of the quote mask marks the bytes inside quotes.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Option<usize> {
        let mut first_end = None;
        let mut blocks = chunk.chunks_exact(64);
        for (index, block) in blocks.by_ref().enumerate() {
            let (quotes, feeds) = masks(block);
            let inside = prefix_xor(quotes) ^ if self.in_quotes { u64::MAX } else { 0 };
            let ends = feeds & !inside;
            self.complete += u64::from(ends.count_ones());
            if first_end.is_none() && ends != 0 {
                first_end = Some(index * 64 + ends.trailing_zeros() as usize + 1);
            }
            self.in_quotes = inside >> 63 == 1;
        }
        let tail = blocks.remainder();
        let tail_start = chunk.len() - tail.len();
        for (offset, &byte) in tail.iter().enumerate() {
            if byte == b'"' {
                self.in_quotes = !self.in_quotes;
            } else if byte == b'\n' && !self.in_quotes {
                self.complete += 1;
                first_end.get_or_insert(tail_start + offset + 1);
            }
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

/// Bit `i` of the masks is set where byte `i` of the 64-byte `block` is a quote, a line feed.
fn masks(block: &[u8]) -> (u64, u64) {
    let (quote, feed) = (u8x16::splat(b'"'), u8x16::splat(b'\n'));
    let (mut quotes, mut feeds) = (0u64, 0u64);
    for (lane, bytes) in block.chunks_exact(16).enumerate() {
        let bytes = u8x16::new(bytes.try_into().unwrap_or_default());
        quotes |= u64::from(bytes.simd_eq(quote).to_bitmask()) << (lane * 16);
        feeds |= u64::from(bytes.simd_eq(feed).to_bitmask()) << (lane * 16);
    }
    (quotes, feeds)
}

/// Bit `i` of the result is the parity of the set bits `0..=i` of `bits`.
fn prefix_xor(mut bits: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        bits ^= bits << shift;
    }
    bits
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

    /// The record count and first record end, one byte at a time.
    fn reference(data: &[u8]) -> (u64, Option<usize>) {
        let (mut in_quotes, mut complete, mut first_end) = (false, 0, None);
        for (i, &byte) in data.iter().enumerate() {
            match byte {
                b'"' => in_quotes = !in_quotes,
                b'\n' if !in_quotes => {
                    complete += 1;
                    first_end.get_or_insert(i + 1);
                }
                _ => {}
            }
        }
        let pending = data.last().is_some_and(|&b| b != b'\n' || in_quotes);
        (complete + u64::from(pending), first_end)
    }

    #[test]
    fn agrees_with_a_byte_by_byte_scan_at_every_cut() {
        let long: Vec<u8> = (0..40)
            .flat_map(|i| format!("\"{i}\",\"a \"\"{i}\"\", b\nc\",plain,\"\"\n").into_bytes())
            .collect();
        let pages: [&[u8]; 6] = [
            &long,
            b"Id,Name\n1,\"a, \"\"b\"\"\"\n2,plain\n3,\"x\ny\"\n",
            b"\"\"\"\"\n\"\n\"\n\n\n",
            b"h\n\"open\nnever closed",
            b"no newline at all, \"quoted\"",
            b"\n\n\"\"\n",
        ];
        for page in pages {
            let (records, first_end) = reference(page);
            for cut in 0..=page.len() {
                let mut scanner = RecordScanner::default();
                let first = scanner.feed(&page[..cut]);
                let second = scanner.feed(&page[cut..]).map(|end| cut + end);
                assert_eq!(scanner.records(), records, "{page:?} cut at {cut}");
                assert_eq!(first.or(second), first_end, "{page:?} cut at {cut}");
            }
        }
    }

    #[test]
    fn masks_mark_exactly_the_quotes_and_line_feeds_of_every_lane() {
        let block: Vec<u8> = (0..64u8)
            .map(|i| match i % 7 {
                0 => b'"',
                3 => b'\n',
                5 => b'"' ^ 0x80,
                _ => i.wrapping_mul(37),
            })
            .collect();
        let expected =
            |needle: u8| (0..64).fold(0u64, |mask, i| mask | u64::from(block[i] == needle) << i);
        assert_eq!(masks(&block), (expected(b'"'), expected(b'\n')));
        assert_ne!(expected(b'"') >> 48, 0, "the last lane has quotes to find");
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
