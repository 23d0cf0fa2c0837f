//! Where an ingest's CSV comes from: a file, a reader, or records serialised as they are read. Each
//! becomes a stream of byte chunks, so that nothing holds the whole input.

use std::path::PathBuf;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use haul_types::LineEnding;
use serde::Serialize;
use tokio::io::AsyncRead;
use tokio_util::io::ReaderStream;

use crate::error::{Error, Result};

/// Read size from files and readers.
const READ_CHUNK: usize = 64 * 1024;
/// Serialised records are handed on in blocks of about this size.
const RECORD_BLOCK: usize = 64 * 1024;

/// The chunks of an input, in order.
pub(crate) type ByteChunks = BoxStream<'static, Result<Bytes>>;

/// Serialises records into CSV blocks; given the job's dialect when the ingest starts.
pub(crate) type RecordEncoder = Box<dyn FnOnce(u8, &LineEnding) -> ByteChunks + Send>;

/// An ingest's input, as the caller gave it.
pub(crate) enum Input {
    File(PathBuf),
    Reader(Box<dyn AsyncRead + Send + Unpin>),
    Records(RecordEncoder),
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Reader(_) => f.write_str("Reader"),
            Self::Records(_) => f.write_str("Records"),
        }
    }
}

impl Input {
    /// Opens the input as a stream of chunks in the job's dialect.
    pub(crate) async fn open(self, delimiter: u8, line_ending: &LineEnding) -> Result<ByteChunks> {
        match self {
            Self::File(path) => {
                let file = tokio::fs::File::open(&path)
                    .await
                    .map_err(|e| Error::io(&path, e))?;
                Ok(read_chunks(file, path))
            }
            Self::Reader(reader) => Ok(read_chunks(reader, PathBuf::from("(CSV reader)"))),
            Self::Records(encode) => Ok(encode(delimiter, line_ending)),
        }
    }
}

fn read_chunks(reader: impl AsyncRead + Send + Unpin + 'static, name: PathBuf) -> ByteChunks {
    ReaderStream::with_capacity(reader, READ_CHUNK)
        .map(move |chunk| chunk.map_err(|e| Error::io(&name, e)))
        .boxed()
}

/// A [`RecordEncoder`] for `records`: a header from the first record's field names, then one row each.
pub(crate) fn record_encoder<I, T>(records: I) -> RecordEncoder
where
    I: IntoIterator<Item = T>,
    I::IntoIter: Send + 'static,
    T: Serialize + 'static,
{
    let records = records.into_iter();
    Box::new(move |delimiter, line_ending| {
        let mut builder = csv::WriterBuilder::new();
        builder.delimiter(delimiter).terminator(match line_ending {
            LineEnding::Crlf => csv::Terminator::CRLF,
            _ => csv::Terminator::Any(b'\n'),
        });
        futures::stream::unfold(Some((records, builder, true)), |state| async move {
            let (mut records, mut builder, first) = state?;
            // Only the first block's writer writes the header row.
            builder.has_headers(first);
            match encode_block(&mut records, &builder) {
                Ok(Some(block)) => Some((Ok(block), Some((records, builder, false)))),
                Ok(None) => None,
                Err(error) => Some((Err(error), None)),
            }
        })
        .boxed()
    })
}

/// Serialises records until about a block is ready; `None` when there was nothing left.
fn encode_block<T: Serialize>(
    records: &mut impl Iterator<Item = T>,
    builder: &csv::WriterBuilder,
) -> Result<Option<Bytes>> {
    let failed =
        |e: &dyn std::fmt::Display| Error::invalid_input(format!("serialising a record: {e}"));
    let mut writer = builder.from_writer(Vec::with_capacity(RECORD_BLOCK + 4096));
    let mut any = false;
    for record in records.by_ref() {
        writer.serialize(record).map_err(|e| failed(&e))?;
        any = true;
        // The writer buffers internally; flushing moves its bytes into the Vec being measured.
        writer.flush().map_err(|e| failed(&e))?;
        if writer.get_ref().len() >= RECORD_BLOCK {
            break;
        }
    }
    let block = writer.into_inner().map_err(|e| failed(&e.error()))?;
    Ok(any.then(|| Bytes::from(block)))
}
