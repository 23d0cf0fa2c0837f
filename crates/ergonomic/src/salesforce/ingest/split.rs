//! Cutting the input into jobs: at record boundaries (quoted newlines and delimiters respected), each
//! at most `max_bytes` with the header row first, each spooled to a file. Only the bytes of one read
//! and one unfinished record are held in memory.

use std::path::PathBuf;

use futures::StreamExt;
use memchr::memrchr2;

use super::input::ByteChunks;
use super::spool::{Spool, SpoolWriter};
use crate::csv_scan::{HeaderSplitter, RecordScanner};
use crate::error::{Error, Result};

/// One job's worth of CSV, header included, in a spool file.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub(crate) spool: Spool,
    /// Size of the file, header included.
    pub(crate) bytes: u64,
    /// Records after the header.
    pub(crate) records: u64,
}

/// Reads an input and hands it out as [`Chunk`]s.
pub(crate) struct Splitter {
    input: ByteChunks,
    header: Vec<u8>,
    max_bytes: usize,
    spool_dir: PathBuf,
    /// Input not yet written to a chunk; it always starts at a record boundary.
    carry: Vec<u8>,
    eof: bool,
}

/// The chunk being written.
struct OpenChunk {
    writer: SpoolWriter,
    bytes: usize,
    scanner: RecordScanner,
}

impl Splitter {
    /// Reads the header row; fails on an empty input or a header that leaves no room for records.
    pub(crate) async fn start(
        mut input: ByteChunks,
        max_bytes: usize,
        spool_dir: PathBuf,
    ) -> Result<Self> {
        let mut header = HeaderSplitter::default();
        let mut carry = Vec::new();
        let mut eof = false;
        while !header.is_done() {
            let Some(chunk) = input.next().await else {
                eof = true;
                break;
            };
            let chunk = chunk?;
            let rest = header.feed(&chunk).map_err(Error::invalid_input)?;
            carry.extend_from_slice(rest);
        }
        let header = header.header().to_vec();
        if header.iter().all(u8::is_ascii_whitespace) {
            return Err(Error::invalid_input(
                "the CSV input is empty: no header row",
            ));
        }
        if header.len() >= max_bytes {
            return Err(Error::invalid_input(format!(
                "the header row ({} bytes) leaves no room for records in a job of at most {max_bytes} bytes",
                header.len()
            )));
        }
        Ok(Self {
            input,
            header,
            max_bytes,
            spool_dir,
            carry,
            eof,
        })
    }

    /// The header row as read, terminator included.
    pub(crate) fn header(&self) -> &[u8] {
        &self.header
    }

    /// The next job's CSV, or `None` when the input is used up.
    pub(crate) async fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        let mut open: Option<OpenChunk> = None;
        loop {
            let used = open.as_ref().map_or(self.header.len(), |o| o.bytes);
            let room = self.max_bytes - used;
            if self.carry.len() > room {
                // Not all of it fits: take the records that do, and hand the chunk over.
                return match last_record_end(&self.carry, room) {
                    Some(end) => {
                        self.write(&mut open, end).await?;
                        self.finish(open).await
                    }
                    None if open.is_some() => self.finish(open).await,
                    None => Err(Error::invalid_input(format!(
                        "a record is longer than a job may be ({} bytes with the {}-byte header)",
                        self.max_bytes,
                        self.header.len()
                    ))),
                };
            }
            if self.eof {
                if !self.carry.is_empty() {
                    self.write_last_record(&mut open).await?;
                }
                return self.finish(open).await;
            }
            if let Some(end) = last_record_end(&self.carry, self.carry.len()) {
                self.write(&mut open, end).await?;
            }
            match self.input.next().await {
                Some(chunk) => self.carry.extend_from_slice(&chunk?),
                None => self.eof = true,
            }
        }
    }

    /// Moves `carry[..end]` (whole records) into the open chunk, opening one if needed.
    async fn write(&mut self, open: &mut Option<OpenChunk>, end: usize) -> Result<()> {
        if open.is_none() {
            let mut writer = SpoolWriter::create(&self.spool_dir).await?;
            writer.write(&self.header).await?;
            *open = Some(OpenChunk {
                writer,
                bytes: self.header.len(),
                scanner: RecordScanner::default(),
            });
        }
        let chunk = open.as_mut().expect("opened above");
        let records = &self.carry[..end];
        chunk.writer.write(records).await?;
        chunk.scanner.feed(records);
        chunk.bytes += end;
        self.carry.drain(..end);
        Ok(())
    }

    /// The input ended without a final line break: the rest is one record, unless it is malformed.
    async fn write_last_record(&mut self, open: &mut Option<OpenChunk>) -> Result<()> {
        let mut scanner = RecordScanner::default();
        scanner.feed(&self.carry);
        if scanner.ends_in_quotes() {
            return Err(Error::invalid_input(
                "the CSV input ends inside a quoted field",
            ));
        }
        self.write(open, self.carry.len()).await
    }

    async fn finish(&mut self, open: Option<OpenChunk>) -> Result<Option<Chunk>> {
        let Some(chunk) = open else { return Ok(None) };
        Ok(Some(Chunk {
            spool: chunk.writer.finish().await?,
            bytes: chunk.bytes as u64,
            records: chunk.scanner.records(),
        }))
    }
}

/// Splits `pieces` (the input, as consecutive reads) into jobs of at most `max_bytes` and returns
/// each job's CSV; the spool files go to `spool_dir` and are removed. For property tests only, see
/// [`crate::__property_tests`].
pub(crate) async fn split_in_memory(
    pieces: Vec<Vec<u8>>,
    max_bytes: usize,
    spool_dir: PathBuf,
) -> Result<Vec<Vec<u8>>> {
    let input =
        futures::stream::iter(pieces.into_iter().map(|p| Ok(bytes::Bytes::from(p)))).boxed();
    let mut splitter = Splitter::start(input, max_bytes, spool_dir).await?;
    let mut chunks = Vec::new();
    while let Some(chunk) = splitter.next_chunk().await? {
        let path = chunk.spool.path();
        chunks.push(
            tokio::fs::read(path)
                .await
                .map_err(|e| Error::io(path, e))?,
        );
    }
    Ok(chunks)
}

/// The offset just past the last record end within `data[..limit]`, where `data` starts at a record
/// boundary. The scanner finds whether the window ends inside quotes; walking back from there, each
/// quote flips that state, and the first line feed found outside quotes ends the last record.
pub(crate) fn last_record_end(data: &[u8], limit: usize) -> Option<usize> {
    let window = &data[..limit];
    let mut scanner = RecordScanner::default();
    scanner.feed(window)?;
    let mut in_quotes = scanner.ends_in_quotes();
    let mut at = window.len();
    while let Some(found) = memrchr2(b'"', b'\n', &window[..at]) {
        if window[found] == b'"' {
            in_quotes = !in_quotes;
        } else if !in_quotes {
            return Some(found + 1);
        }
        at = found;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_last_record_end_outside_quotes() {
        let data = b"1,\"a\nb\"\n2,\"c\"\"\nd\"\n3,\"e\n";
        assert_eq!(last_record_end(data, data.len()), Some(18));
        assert_eq!(last_record_end(data, 18), Some(18));
        assert_eq!(last_record_end(data, 17), Some(8));
        assert_eq!(last_record_end(data, 7), None);
        assert_eq!(last_record_end(b"no end", 6), None);
    }

    async fn split(data: &'static [u8], max: usize, pieces: usize) -> Vec<Vec<u8>> {
        let step = data.len().div_ceil(pieces).max(1);
        let chunks: Vec<Result<bytes::Bytes>> = data
            .chunks(step)
            .map(|c| Ok(bytes::Bytes::from_static(c)))
            .collect();
        let input = futures::stream::iter(chunks).boxed();
        let mut splitter = Splitter::start(input, max, std::env::temp_dir())
            .await
            .unwrap();
        let mut out = Vec::new();
        while let Some(chunk) = splitter.next_chunk().await.unwrap() {
            let body = std::fs::read(chunk.spool.path()).unwrap();
            assert_eq!(body.len() as u64, chunk.bytes);
            assert!(body.len() <= max, "{} > {max}", body.len());
            out.push(body);
        }
        out
    }

    #[tokio::test]
    async fn cuts_at_record_boundaries_and_repeats_the_header() {
        let data: &[u8] = b"Id,Name\n1,\"x\ny\"\n2,\"a,b\"\n3,\"q\"\"\"\n4,z";
        for pieces in [1, 2, 3, 7, data.len()] {
            let chunks = split(data, 20, pieces).await;
            assert_eq!(
                chunks,
                vec![
                    b"Id,Name\n1,\"x\ny\"\n".to_vec(),
                    b"Id,Name\n2,\"a,b\"\n".to_vec(),
                    b"Id,Name\n3,\"q\"\"\"\n4,z".to_vec(),
                ],
                "{pieces} pieces"
            );
        }
    }

    #[tokio::test]
    async fn refuses_a_record_longer_than_a_job_and_an_unclosed_quote() {
        let input =
            futures::stream::iter([Ok(bytes::Bytes::from_static(b"Name\n0123456789012345\n"))])
                .boxed();
        let mut splitter = Splitter::start(input, 16, std::env::temp_dir())
            .await
            .unwrap();
        assert!(matches!(
            splitter.next_chunk().await,
            Err(Error::InvalidInput { .. })
        ));
        let input = futures::stream::iter([Ok(bytes::Bytes::from_static(b"Name\n\"open"))]).boxed();
        let mut splitter = Splitter::start(input, 100, std::env::temp_dir())
            .await
            .unwrap();
        assert!(matches!(
            splitter.next_chunk().await,
            Err(Error::InvalidInput { .. })
        ));
    }
}
