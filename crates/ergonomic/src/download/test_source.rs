//! A source whose partitions are held in memory, for the engine's own tests: each partition's
//! body is given in pieces (cut anywhere, as a network cuts it), with the rows it declares, or
//! refused with an error that is not retried.

use bytes::Bytes;
use futures::StreamExt;
use futures::future::BoxFuture;

use super::checkpoint::SourceKey;
use super::source::{Answer, Body, Listing, Partition, Plan, Source};
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;

/// Listed partitions (keys `p0`, `p1`, ...), every body encoded as `body`.
pub(crate) struct MemorySource {
    pub(crate) body: Body,
    pub(crate) partitions: Vec<MemoryPartition>,
    /// The total the source states, when it does.
    pub(crate) expected_rows: Option<u64>,
    retry: RetryPolicy,
}

/// One partition of a [`MemorySource`].
#[derive(Clone)]
pub(crate) struct MemoryPartition {
    pub(crate) pieces: Vec<Bytes>,
    pub(crate) declared_rows: Option<u64>,
    /// Refuses the partition (an integrity error, never retried) instead of answering.
    pub(crate) refuse: bool,
}

impl MemoryPartition {
    /// `bytes` cut into pieces of 1, 2, 3, ... 17 bytes and again, so that every message and
    /// record boundary falls somewhere in a piece.
    pub(crate) fn cut(bytes: &[u8], declared_rows: Option<u64>) -> Self {
        let mut pieces = Vec::new();
        let (mut start, mut size) = (0, 1);
        while start < bytes.len() {
            let end = (start + size).min(bytes.len());
            pieces.push(Bytes::copy_from_slice(&bytes[start..end]));
            start = end;
            size = size % 17 + 1;
        }
        Self {
            pieces,
            declared_rows,
            refuse: false,
        }
    }
}

impl MemorySource {
    pub(crate) fn new(body: Body, partitions: Vec<MemoryPartition>) -> Self {
        Self {
            body,
            partitions,
            expected_rows: None,
            retry: RetryPolicy::none(),
        }
    }
}

impl Source for MemorySource {
    fn key(&self) -> SourceKey {
        SourceKey::new("test-memory", "job-1", None)
    }

    fn describe(&self) -> String {
        "test results".into()
    }

    fn body(&self) -> Body {
        self.body
    }

    fn delimiter(&self) -> Result<u8> {
        Ok(b',')
    }

    fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    fn partition_noun(&self) -> &'static str {
        "partition"
    }

    fn declared_by(&self) -> &'static str {
        "the test"
    }

    fn expected_rows(&self) -> Option<u64> {
        self.expected_rows
    }

    fn refresh_expected_rows(&self) -> BoxFuture<'_, Result<Option<u64>>> {
        Box::pin(async move { Ok(self.expected_rows) })
    }

    fn listing(&self, _plan: Plan) -> Result<Listing> {
        let keys: Vec<Result<Partition>> = (0..self.partitions.len())
            .map(|index| {
                Ok(Partition {
                    key: Some(format!("p{index}")),
                })
            })
            .collect();
        Ok(Listing::Listed(futures::stream::iter(keys).boxed()))
    }

    fn fetch<'a>(&'a self, partition: &'a Partition, _plan: Plan) -> BoxFuture<'a, Result<Answer>> {
        Box::pin(async move {
            let key = partition.key.as_deref().unwrap_or_default();
            let index: usize = key[1..].parse().expect("a key this source listed");
            let part = &self.partitions[index];
            if part.refuse {
                return Err(Error::integrity(format!("the test refuses {key}")));
            }
            let pieces = part.pieces.clone().into_iter().map(Ok);
            Ok(Answer {
                body: futures::stream::iter(pieces).boxed(),
                declared_rows: part.declared_rows,
                next: None,
            })
        })
    }
}
