//! Fetching one partition into a writer: retried when the answer fails or is cut, and its rows checked
//! against the count the server declared.

use bytes::Bytes;
use futures::TryStreamExt;

use super::format::Encoding;
use super::source::{Body, Partition, Plan, Source};
use crate::csv_scan::HeaderSplitter;
use crate::error::{Error, Result};
use crate::retry::{self, Attempt, Classify, Replay, Verdict};

/// Where a partition's output goes. `restart` discards what a failed attempt wrote.
pub(crate) trait PartWriter: Send {
    fn restart(&mut self) -> impl Future<Output = Result<()>> + Send;
    fn write(&mut self, chunk: Bytes) -> impl Future<Output = Result<()>> + Send;
}

impl PartWriter for Vec<u8> {
    async fn restart(&mut self) -> Result<()> {
        self.clear();
        Ok(())
    }

    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.extend_from_slice(&chunk);
        Ok(())
    }
}

/// What a fetched partition turned out to be.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    /// Rows, the header row not counted.
    pub(crate) records: u64,
    /// Bytes written.
    pub(crate) bytes: u64,
    /// For a chain: the next partition, `None` after the last.
    pub(crate) next: Option<Partition>,
    /// How the partition names its columns (for the manifest's columns).
    pub(crate) columns: Columns,
}

/// How a fetched partition names its columns.
#[derive(Debug, Clone)]
pub(crate) enum Columns {
    /// A CSV body's header row as received, terminator included; empty when unknown.
    Header(Vec<u8>),
    /// The names an Arrow stream's schema gives.
    Names(Vec<String>),
}

/// Fetches `partition` into `writer` as `encoding` says.
///
/// A failed request or a body cut off mid-stream is fetched again by the one retry loop, under the
/// source's policy; a row count that disagrees with the declared one is fetched again once (a
/// stale or cut answer may mend), then reported.
pub(crate) async fn fetch_partition(
    source: &dyn Source,
    partition: &Partition,
    plan: Plan,
    encoding: &Encoding,
    writer: &mut impl PartWriter,
) -> Result<Fetched> {
    let mut attempt = PartitionAttempt {
        source,
        partition,
        plan,
        encoding,
        writer,
    };
    let mut reread = false;
    loop {
        let (fetched, declared) = retry::drive(
            source.retry_policy(),
            Replay::Idempotent,
            "fetching a partition",
            &mut attempt,
        )
        .await
        .result?;
        let Some(declared) = declared.filter(|declared| *declared != fetched.records) else {
            return Ok(fetched);
        };
        let counted = fetched.records;
        if reread {
            return Err(Error::integrity(format!(
                "{} {} {}: {} says {declared} rows, the body holds {counted} (twice)",
                source.describe(),
                source.partition_noun(),
                name(partition),
                source.declared_by(),
            )));
        }
        reread = true;
        tracing::warn!(source = %source.describe(), partition = %name(partition), declared, counted, "row count disagrees; fetching the partition again");
    }
}

/// One attempt at a partition, starting its writer over.
struct PartitionAttempt<'a, W> {
    source: &'a dyn Source,
    partition: &'a Partition,
    plan: Plan,
    encoding: &'a Encoding,
    writer: &'a mut W,
}

impl<'a, W: PartWriter> Attempt for PartitionAttempt<'a, W> {
    type Output = Outcome<'a>;

    async fn attempt(&mut self) -> Self::Output {
        let result = match self.writer.restart().await {
            Ok(()) => {
                fetch_once(
                    self.source,
                    self.partition,
                    self.plan,
                    self.encoding,
                    self.writer,
                )
                .await
            }
            Err(error) => Err(error),
        };
        Outcome {
            source: self.source,
            result,
        }
    }
}

/// One attempt's outcome, classified as any result is, except that an error the source mends
/// by fetching again ([`Source::mended_by_refetch`]) is repeated at once, without using up an
/// attempt ([`Verdict::Renewed`]).
struct Outcome<'a> {
    source: &'a dyn Source,
    result: Result<(Fetched, Option<u64>)>,
}

impl Classify for Outcome<'_> {
    fn classify(&self, replay: Replay) -> Verdict {
        match &self.result {
            Err(error) if self.source.mended_by_refetch(error) => Verdict::Renewed,
            result => result.classify(replay),
        }
    }

    fn describe(&self) -> String {
        self.result.describe()
    }
}

/// One attempt: what was written, and the row count the server declared.
async fn fetch_once(
    source: &dyn Source,
    partition: &Partition,
    plan: Plan,
    encoding: &Encoding,
    writer: &mut impl PartWriter,
) -> Result<(Fetched, Option<u64>)> {
    let answer = source.fetch(partition, plan).await?;
    let kind = source.body();
    let mut encoder = encoding.encoder(kind, || source.delimiter())?;
    let mut body = answer.body;
    let mut bytes = 0u64;
    // A CSV header row, kept for the manifest's columns; one beyond the splitter's limit leaves
    // them unknown (the data itself is checked by the encoder, not here). An Arrow stream's
    // names come from its schema, read by the encoder.
    let mut header = HeaderSplitter::default();
    let mut no_header = kind != Body::Csv;
    while let Some(chunk) = body.try_next().await? {
        if !header.is_done() && !no_header {
            no_header = header.feed(&chunk).is_err();
        }
        let encoded = encoder.encode(chunk)?;
        bytes += encoded.len() as u64;
        writer.write(encoded).await?;
    }
    let names = encoder.names();
    let (tail, records) = encoder.finish().map_err(|error| match error {
        Error::Integrity { detail } => Error::integrity(format!(
            "{} {} {}: {detail}",
            source.describe(),
            source.partition_noun(),
            name(partition)
        )),
        other => other,
    })?;
    bytes += tail.len() as u64;
    writer.write(tail).await?;
    let fetched = Fetched {
        records,
        bytes,
        next: answer.next,
        columns: match names {
            Some(names) => Columns::Names(names),
            None if no_header => Columns::Header(Vec::new()),
            None => Columns::Header(header.header().to_vec()),
        },
    };
    Ok((fetched, answer.declared_rows))
}

/// A partition's name in messages.
fn name(partition: &Partition) -> &str {
    partition.key.as_deref().unwrap_or("(first)")
}
