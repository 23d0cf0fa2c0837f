//! A REST query's results as a download [`Source`]: each batch is one partition of a chain (its
//! `nextRecordsUrl` names the next), fetched as the JSON text sent and handed to the engine as CSV
//! rows of the SELECT list's columns (see [`flatten`](super::flatten)), so that Parquet and typed
//! JSON lines read a REST result by the very rules they read a Bulk API result by.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use futures::StreamExt;
use futures::future::BoxFuture;
use sha2::{Digest, Sha256};

use super::flatten::{Columns, RawBatch};
use super::query::RestQuery;
use super::select_list;
use crate::download::SourceKey;
use crate::download::source::{Answer, Listing, Partition, Plan, Source};
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;

/// The results of one REST query, read batch by batch.
pub(crate) struct RestResults {
    query: RestQuery,
    /// `None` when the SELECT list cannot be known from the text (`FIELDS(...)`, `TYPEOF`).
    columns: Option<Columns>,
    seen: Mutex<Seen>,
}

/// What the batches fetched so far said.
#[derive(Default)]
struct Seen {
    /// `totalSize`, as the last batch said.
    total: Option<u64>,
    /// The keys of the batches fetched, so that a chain that loops is refused.
    fetched: HashSet<Option<String>>,
}

impl RestResults {
    pub(crate) fn new(query: RestQuery) -> Self {
        let soql = query.soql();
        let columns = select_list::select_columns(soql)
            .map(|names| Columns::new(names, select_list::from_object(soql).map(str::to_owned)));
        Self {
            query,
            columns,
            seen: Mutex::default(),
        }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The batch after `partition`, from its answer; a locator already fetched is refused.
    fn next(&self, partition: &Partition, batch: &RawBatch<'_>) -> Result<Option<Partition>> {
        let operation = self.query.operation();
        let link = match (batch.done, batch.next_records_url.as_deref()) {
            (true, _) => return Ok(None),
            (false, None) => {
                return Err(Error::invalid_response(
                    operation,
                    "not done, but no nextRecordsUrl",
                ));
            }
            (false, Some(link)) => link,
        };
        self.query.more_from_link(link)?;
        let mut seen = self.seen();
        seen.fetched.insert(partition.key.clone());
        let next = Some(link.to_owned());
        if seen.fetched.contains(&next) {
            return Err(Error::invalid_response(
                operation,
                format!("nextRecordsUrl repeats {link:?}"),
            ));
        }
        Ok(Some(Partition { key: next }))
    }
}

impl Source for RestResults {
    fn key(&self) -> SourceKey {
        let kind = match self.query.endpoint() {
            "queryAll" => "salesforce-rest-query-all",
            _ => "salesforce-rest-query",
        };
        // A REST query has no id until it runs: the query's text names it.
        let digest = Sha256::digest(self.query.soql().as_bytes());
        let job: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        SourceKey::new(
            kind,
            format!("soql-{job}"),
            Some(self.query.api_version().to_string()),
        )
    }

    fn describe(&self) -> String {
        format!("REST {}", self.query.endpoint())
    }

    fn query(&self) -> Option<String> {
        Some(self.query.soql().to_owned())
    }

    fn delimiter(&self) -> Result<u8> {
        Ok(b',')
    }

    fn retry_policy(&self) -> &RetryPolicy {
        self.query.retry_policy()
    }

    fn partition_noun(&self) -> &'static str {
        "page"
    }

    fn declared_by(&self) -> &'static str {
        "the batch's records"
    }

    fn expected_rows(&self) -> Option<u64> {
        self.seen().total
    }

    fn refresh_expected_rows(&self) -> BoxFuture<'_, Result<Option<u64>>> {
        // Asking again would run the query again: the batches' own count is the one there is.
        Box::pin(async move { Ok(self.expected_rows()) })
    }

    fn listing(&self, plan: Plan) -> Result<Listing> {
        if plan.max_records.is_some() {
            return Err(Error::invalid_input(
                "the REST API has no maxRecords: give the query a batch size instead",
            ));
        }
        if self.columns.is_none() {
            return Err(Error::invalid_input(
                "a REST query is downloaded by the columns of its SELECT list, which FIELDS(...) \
                 and TYPEOF do not name: name the fields",
            ));
        }
        self.query.check()?;
        Ok(Listing::Chained)
    }

    fn fetch<'a>(&'a self, partition: &'a Partition, _plan: Plan) -> BoxFuture<'a, Result<Answer>> {
        Box::pin(async move {
            let operation = self.query.operation();
            let columns = self
                .columns
                .as_ref()
                .ok_or_else(|| Error::invalid_input("the query's SELECT list names no columns"))?;
            let more = match &partition.key {
                Some(link) => Some(self.query.more_from_link(link)?),
                None => None,
            };
            let body = self.query.fetch_raw(more.as_ref()).await?;
            let batch: RawBatch<'_> = serde_json::from_slice(&body).map_err(|e| {
                Error::invalid_response(operation, format!("the batch is not a query result: {e}"))
            })?;
            let total = u64::try_from(batch.total_size)
                .map_err(|_| Error::invalid_response(operation, "totalSize is negative"))?;
            let next = self.next(partition, &batch)?;
            if batch.records.is_empty() && total > 0 && next.is_none() && more.is_none() {
                return Err(Error::invalid_input(
                    "SELECT COUNT() answers a count, not rows: read it from the query's batches \
                     (Salesforce::query(...).batches(), total_size)",
                ));
            }
            let mut csv = Vec::with_capacity(body.len());
            columns
                .write_csv(&batch.records, &mut csv)
                .map_err(|why| Error::invalid_response(operation, why))?;
            self.seen().total = Some(total);
            Ok(Answer {
                body: futures::stream::iter([Ok(Bytes::from(csv))]).boxed(),
                declared_rows: Some(batch.records.len() as u64),
                next,
            })
        })
    }
}
