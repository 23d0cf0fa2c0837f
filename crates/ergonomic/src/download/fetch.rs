//! Fetching one partition into a writer: retried when the answer fails or is cut, and its rows checked
//! against the count the server declared.

use futures::TryStreamExt;

use super::Format;
use super::source::{Partition, Plan, Source};
use crate::error::{Error, Result};

/// Where a partition's output goes. `restart` discards what a failed attempt wrote.
pub(crate) trait PartWriter: Send {
    fn restart(&mut self) -> impl Future<Output = Result<()>> + Send;
    fn write(&mut self, chunk: &[u8]) -> impl Future<Output = Result<()>> + Send;
}

impl PartWriter for Vec<u8> {
    async fn restart(&mut self) -> Result<()> {
        self.clear();
        Ok(())
    }

    async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.extend_from_slice(chunk);
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
}

/// Fetches `partition` into `writer` as `format`.
///
/// A failed request or a body cut off mid-stream is fetched again under the source's retry policy
/// (the executor retries only until the headers arrive); a row count that disagrees with the declared
/// one is fetched again once, then reported.
pub(crate) async fn fetch_partition(
    source: &dyn Source,
    partition: &Partition,
    plan: Plan,
    format: Format,
    writer: &mut impl PartWriter,
) -> Result<Fetched> {
    let policy = source.retry_policy().clone();
    let mut integrity_retried = false;
    let mut attempt = 1;
    loop {
        writer.restart().await?;
        match fetch_once(source, partition, plan, format, writer).await {
            Ok((fetched, Some(declared))) if fetched.records != declared => {
                let counted = fetched.records;
                if integrity_retried {
                    return Err(Error::integrity(format!(
                        "{} {} {}: {} says {declared} rows, the body holds {counted} (twice)",
                        source.describe(),
                        source.partition_noun(),
                        name(partition),
                        source.declared_by(),
                    )));
                }
                integrity_retried = true;
                tracing::warn!(source = %source.describe(), partition = %name(partition), declared, counted, "row count disagrees; fetching the partition again");
            }
            Ok((fetched, _)) => return Ok(fetched),
            Err(error) if error.is_retryable() && attempt < policy.max_attempts => {
                let wait = error
                    .retry_after()
                    .filter(|wait| *wait <= policy.max_retry_after)
                    .unwrap_or_else(|| policy.backoff(attempt));
                tracing::debug!(source = %source.describe(), partition = %name(partition), attempt, %error, "partition failed; fetching it again");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// One attempt: what was written, and the row count the server declared.
async fn fetch_once(
    source: &dyn Source,
    partition: &Partition,
    plan: Plan,
    format: Format,
    writer: &mut impl PartWriter,
) -> Result<(Fetched, Option<u64>)> {
    let answer = source.fetch(partition, plan).await?;
    let mut encoder = format.encoder(|| source.delimiter())?;
    let mut body = answer.body;
    let mut bytes = 0u64;
    while let Some(chunk) = body.try_next().await? {
        let encoded = encoder.encode(chunk)?;
        bytes += encoded.len() as u64;
        writer.write(&encoded).await?;
    }
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
    writer.write(&tail).await?;
    let fetched = Fetched {
        records,
        bytes,
        next: answer.next,
    };
    Ok((fetched, answer.declared_rows))
}

/// A partition's name in messages.
fn name(partition: &Partition) -> &str {
    partition.key.as_deref().unwrap_or("(first)")
}
