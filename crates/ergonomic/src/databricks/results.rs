//! A succeeded statement's result as a download [`Source`]: one partition a chunk, listed from
//! the manifest and fetched in parallel through presigned links, each checked against the
//! manifest's `row_count`; the total against `total_row_count`.

use std::sync::{Arc, Mutex, PoisonError};

use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use haul_types::StatementFormat;

use super::csv::rewritten;
use super::links::{LINK_OP, Links, is_stale_link};
use super::statement::CompletedStatement;
use super::status;
use crate::download::SourceKey;
use crate::download::source::{Answer, Body, Listing, Partition, Plan, Source};
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;

/// The result of one succeeded statement.
pub(crate) struct StatementResults {
    done: CompletedStatement,
    links: Arc<Links>,
    /// The requests for links asked ahead ([`Links::look_ahead`]); dropped, and so aborted, with
    /// the download.
    ahead: Mutex<tokio::task::JoinSet<()>>,
    /// The columns' names, in order, for each chunk's header row.
    names: Vec<String>,
    /// The chunks' indexes and declared rows, in order.
    chunks: Vec<(u64, Option<u64>)>,
}

impl StatementResults {
    pub(crate) fn new(done: CompletedStatement) -> Self {
        let statement = done.statement();
        let chunks = chunks_of(&done);
        let links = Arc::new(Links::new(
            statement.databricks().clone(),
            statement.id().to_owned(),
            done.response().result.as_ref(),
            chunks.iter().map(|(index, _)| *index).collect(),
        ));
        let names = done
            .schema()
            .map(|schema| schema.columns.into_iter().map(|c| c.name).collect())
            .unwrap_or_default();
        Self {
            done,
            links,
            ahead: Mutex::new(tokio::task::JoinSet::new()),
            names,
            chunks,
        }
    }

    /// What makes this result one a download cannot take.
    fn refusal(&self, plan: Plan) -> Option<Error> {
        if plan.max_records.is_some() {
            return Some(Error::invalid_input(
                "Databricks chooses its chunks' size: max_records does not apply",
            ));
        }
        if self.names.is_empty() {
            return Some(Error::invalid_response(
                "get_statement",
                "the succeeded statement's manifest lists no columns",
            ));
        }
        let format = self.done.manifest().and_then(|m| m.format.clone());
        if let Some(format) =
            format.filter(|f| !matches!(f, StatementFormat::Csv | StatementFormat::ArrowStream))
        {
            return Some(Error::invalid_input(format!(
                "the statement's result is {format}; haul downloads results written as CSV or \
                 ARROW_STREAM"
            )));
        }
        if self.done.truncated() && !self.done.truncation_allowed() {
            return Some(Error::integrity(format!(
                "{}: the result was truncated by its row_limit or byte_limit, so it lacks rows \
                 the statement selected (allow_truncated to download it anyway)",
                self.describe()
            )));
        }
        None
    }
}

/// The chunks' indexes and declared rows, in order: the manifest's list, or as many as its
/// `total_chunk_count` says.
fn chunks_of(done: &CompletedStatement) -> Vec<(u64, Option<u64>)> {
    let Some(manifest) = done.manifest() else {
        return Vec::new();
    };
    let mut listed: Vec<(u64, Option<u64>)> = manifest
        .chunks
        .iter()
        .filter_map(|c| {
            let index = u64::try_from(c.chunk_index?).ok()?;
            Some((index, c.row_count.and_then(|n| u64::try_from(n).ok())))
        })
        .collect();
    if listed.is_empty() {
        let count = done.total_chunks().unwrap_or(0);
        listed = (0..count).map(|index| (index, None)).collect();
    }
    listed.sort_by_key(|(index, _)| *index);
    listed
}

impl Source for StatementResults {
    fn key(&self) -> SourceKey {
        SourceKey::new("databricks-sql-statement", self.done.statement().id(), None)
    }

    fn describe(&self) -> String {
        status::describe(self.done.statement().id())
    }

    fn query(&self) -> Option<String> {
        self.done.statement().sql().map(str::to_owned)
    }

    fn body(&self) -> Body {
        match self.done.manifest().and_then(|m| m.format.as_ref()) {
            Some(StatementFormat::ArrowStream) => Body::ArrowStream,
            _ => Body::Csv,
        }
    }

    fn delimiter(&self) -> Result<u8> {
        Ok(b',')
    }

    fn retry_policy(&self) -> &RetryPolicy {
        self.done.statement().databricks().retry_policy()
    }

    fn partition_noun(&self) -> &'static str {
        "chunk"
    }

    fn declared_by(&self) -> &'static str {
        "the manifest's row_count"
    }

    fn expected_rows(&self) -> Option<u64> {
        self.done.total_rows()
    }

    fn refresh_expected_rows(&self) -> BoxFuture<'_, Result<Option<u64>>> {
        Box::pin(async move {
            let fresh = self.done.statement().info().await?;
            Ok(fresh
                .manifest
                .and_then(|m| m.total_row_count)
                .and_then(|n| u64::try_from(n).ok()))
        })
    }

    fn listing(&self, plan: Plan) -> Result<Listing> {
        if let Some(refused) = self.refusal(plan) {
            return Err(refused);
        }
        let partitions = self.chunks.clone().into_iter().map(|(index, _)| {
            Ok(Partition {
                key: Some(index.to_string()),
            })
        });
        Ok(Listing::Listed(futures::stream::iter(partitions).boxed()))
    }

    fn fetch<'a>(&'a self, partition: &'a Partition, _plan: Plan) -> BoxFuture<'a, Result<Answer>> {
        Box::pin(async move {
            let index: u64 = partition
                .key
                .as_deref()
                .and_then(|key| key.parse().ok())
                .ok_or_else(|| Error::invalid_input("a chunk's key is its index"))?;
            let manifest_rows = self
                .chunks
                .binary_search_by_key(&index, |(i, _)| *i)
                .ok()
                .and_then(|at| self.chunks[at].1);
            self.links.look_ahead(
                index,
                &mut self.ahead.lock().unwrap_or_else(PoisonError::into_inner),
            );
            let link = self.links.link(index).await?;
            let link = self.links.agreeing(index, link, manifest_rows)?;
            let declared_rows =
                manifest_rows.or_else(|| link.row_count.and_then(|n| u64::try_from(n).ok()));
            let response = self.links.get(index, &link).await?;
            let bytes = response
                .bytes_stream()
                .map_err(|error| Error::transport(LINK_OP, error.without_url()));
            if self.body() == Body::ArrowStream {
                return Ok(Answer {
                    body: bytes.boxed(),
                    declared_rows,
                    next: None,
                });
            }
            let body = rewritten(bytes.boxed(), &self.names, index == 0);
            Ok(Answer {
                body,
                declared_rows,
                next: None,
            })
        })
    }

    fn mended_by_refetch(&self, error: &Error) -> bool {
        is_stale_link(error)
    }
}
