//! Fetching result pages: one page streamed into a sink and checked, the chain of pages, the parallel
//! page list of `resultPages`, and the job listing.

use std::collections::HashSet;

use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use haul_client::progenitor_client::ResponseValue;
use haul_client::salesforce_bulk_query::Client;
use haul_client::salesforce_bulk_query::types::QueryJobInfo;

use super::csv_scan::RecordScanner;
use super::links::locator_from_link;
use super::{CompletedQueryJob, QueryJob};
use crate::error::{Error, Result, from_client};
use crate::salesforce::Salesforce;
use crate::salesforce::listing::{ListingPage, follow};

const RESULTS: &str = "get_query_job_results";

/// One page of results, held in memory.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Page {
    /// Position of the page, from 0.
    pub index: usize,
    /// The locator this page was requested with (`None` for the first page).
    pub locator: Option<String>,
    /// Rows in the page (the header row not counted), checked against `Sforce-NumberOfRecords`.
    pub records: u64,
    /// The CSV, header row included.
    pub body: Bytes,
}

/// What a fetched page turned out to be.
#[derive(Debug, Clone)]
pub(crate) struct PageMeta {
    pub(crate) records: u64,
    pub(crate) bytes: u64,
    /// The next page's locator, `None` after the last page.
    pub(crate) next_locator: Option<String>,
}

/// Where a page's bytes go. `restart` discards what a failed attempt wrote.
pub(crate) trait PageSink: Send {
    fn restart(&mut self) -> impl Future<Output = Result<()>> + Send;
    fn write(&mut self, chunk: &[u8]) -> impl Future<Output = Result<()>> + Send;
}

impl PageSink for Vec<u8> {
    async fn restart(&mut self) -> Result<()> {
        self.clear();
        Ok(())
    }

    async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.extend_from_slice(chunk);
        Ok(())
    }
}

/// Fetches one page into `sink`, checking its row count against `Sforce-NumberOfRecords`.
///
/// A body cut off mid-stream is fetched again under the client's retry policy (the executor retries
/// only until the headers arrive); a row count that disagrees is fetched again once, then reported.
pub(crate) async fn fetch_page(
    job: &QueryJob,
    locator: Option<&str>,
    max_records: Option<u64>,
    sink: &mut impl PageSink,
) -> Result<PageMeta> {
    let policy = job.salesforce().retry_policy().clone();
    let mut integrity_retried = false;
    let mut attempt = 1;
    loop {
        sink.restart().await?;
        match fetch_page_once(job, locator, max_records, sink).await {
            Ok((meta, declared)) if meta.records == declared => return Ok(meta),
            Ok((meta, declared)) if !integrity_retried => {
                integrity_retried = true;
                tracing::warn!(job = %job.id(), ?locator, declared, counted = meta.records, "row count disagrees; fetching the page again");
            }
            Ok((meta, declared)) => {
                return Err(Error::integrity(format!(
                    "page {} of job {}: Sforce-NumberOfRecords says {declared} rows, the body holds {} (twice)",
                    locator.unwrap_or("(first)"),
                    job.id(),
                    meta.records
                )));
            }
            Err(error) if error.is_retryable() && attempt < policy.max_attempts => {
                let wait = error
                    .retry_after()
                    .unwrap_or_else(|| policy.backoff(attempt));
                tracing::debug!(job = %job.id(), ?locator, attempt, %error, "page failed; fetching it again");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// One attempt: returns what was received and the row count the server declared.
async fn fetch_page_once(
    job: &QueryJob,
    locator: Option<&str>,
    max_records: Option<u64>,
    sink: &mut impl PageSink,
) -> Result<(PageMeta, u64)> {
    let client = job.client(false);
    let mut request = client.get_query_job_results().job_id(job.id().clone());
    if let Some(locator) = locator {
        request = request.locator(locator);
    }
    if let Some(max) = max_records {
        request = request.max_records(max);
    }
    let response = request.send().await.map_err(|e| from_client(RESULTS, e))?;
    let declared = declared_records(&response)?;
    let next_locator = next_locator(&response)?;
    let mut body = response.into_inner();
    let mut scanner = RecordScanner::default();
    let mut bytes = 0u64;
    while let Some(chunk) = body
        .try_next()
        .await
        .map_err(|e| Error::transport(RESULTS, e))?
    {
        scanner.feed(&chunk);
        bytes += chunk.len() as u64;
        sink.write(&chunk).await?;
    }
    if scanner.ends_in_quotes() {
        return Err(Error::integrity(format!(
            "a page of job {} ends inside a quoted field",
            job.id()
        )));
    }
    let records = scanner.records().saturating_sub(1);
    Ok((
        PageMeta {
            records,
            bytes,
            next_locator,
        },
        declared,
    ))
}

fn header<'a, T>(response: &'a ResponseValue<T>, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
}

fn declared_records<T>(response: &ResponseValue<T>) -> Result<u64> {
    let text = header(response, "sforce-numberofrecords")
        .ok_or_else(|| Error::invalid_response(RESULTS, "no Sforce-NumberOfRecords header"))?;
    text.parse().map_err(|_| {
        Error::invalid_response(
            RESULTS,
            format!("Sforce-NumberOfRecords {text:?} is not a count"),
        )
    })
}

/// The literal `null`, or a missing or empty header, ends the chain.
fn next_locator<T>(response: &ResponseValue<T>) -> Result<Option<String>> {
    match header(response, "sforce-locator") {
        None | Some("") | Some("null") => Ok(None),
        Some(locator) if locator.len() > 1024 => Err(Error::invalid_response(
            RESULTS,
            "Sforce-Locator is longer than 1024 characters",
        )),
        Some(locator) => Ok(Some(locator.to_owned())),
    }
}

/// The pages in order, following `Sforce-Locator`, each held in memory.
pub(crate) fn result_pages(
    done: CompletedQueryJob,
    max_records: Option<u64>,
) -> impl Stream<Item = Result<Page>> + Send + 'static {
    struct State {
        done: CompletedQueryJob,
        next: Option<Option<String>>,
        index: usize,
        seen: HashSet<String>,
    }
    let start = State {
        done,
        next: Some(None),
        index: 0,
        seen: HashSet::new(),
    };
    futures::stream::try_unfold(start, move |mut state| async move {
        let Some(locator) = state.next.take() else {
            return Ok(None);
        };
        let mut body = Vec::new();
        let meta = fetch_page(&state.done.job, locator.as_deref(), max_records, &mut body).await?;
        if let Some(next) = &meta.next_locator
            && !state.seen.insert(next.clone())
        {
            return Err(Error::invalid_response(
                RESULTS,
                format!("Sforce-Locator {next:?} repeats"),
            ));
        }
        let page = Page {
            index: state.index,
            locator,
            records: meta.records,
            body: body.into(),
        };
        state.next = meta.next_locator.map(Some);
        state.index += 1;
        Ok(Some((page, state)))
    })
}

/// The locator of every page, from `resultPages` (API 58.0+), batch by batch as the stream is read.
pub(crate) fn result_page_locators(
    job: QueryJob,
    max_records: Option<u64>,
) -> impl Stream<Item = Result<Option<String>>> + Send + 'static {
    const OPERATION: &str = "get_query_job_result_pages";
    struct State {
        job: QueryJob,
        next: Option<Option<String>>,
        seen: HashSet<String>,
    }
    let start = State {
        job,
        next: Some(None),
        seen: HashSet::new(),
    };
    futures::stream::try_unfold(start, move |mut state| async move {
        let Some(batch_locator) = state.next.take() else {
            return Ok(None);
        };
        let client = state.job.client(false);
        let mut request = client
            .get_query_job_result_pages()
            .job_id(state.job.id().clone());
        if let Some(locator) = &batch_locator {
            request = request.locator(locator.as_str());
        }
        if let Some(max) = max_records {
            request = request.max_records(max);
        }
        let batch = request
            .send()
            .await
            .map_err(|e| from_client(OPERATION, e))?
            .into_inner();
        let instance = state.job.salesforce().instance_url().clone();
        let mut locators = Vec::with_capacity(batch.result_pages.len());
        for page in &batch.result_pages {
            let link = page
                .result_link
                .as_deref()
                .or(page.result_url.as_deref())
                .ok_or_else(|| {
                    Error::invalid_response(
                        OPERATION,
                        "a result page has neither resultLink nor resultUrl",
                    )
                })?;
            locators.push(locator_from_link(
                link,
                &instance,
                state.job.id(),
                "results",
                OPERATION,
            )?);
        }
        let next_link = batch
            .next_records_url
            .as_deref()
            .or(batch.next_record_url.as_deref());
        if !batch.done {
            let link = next_link
                .ok_or_else(|| Error::invalid_response(OPERATION, "not done, but no next link"))?;
            let next =
                locator_from_link(link, &instance, state.job.id(), "resultPages", OPERATION)?
                    .ok_or_else(|| {
                        Error::invalid_response(OPERATION, "the next link has no locator")
                    })?;
            if !state.seen.insert(next.clone()) {
                return Err(Error::invalid_response(
                    OPERATION,
                    format!("next locator {next:?} repeats"),
                ));
            }
            state.next = Some(Some(next));
        }
        Ok(Some((
            futures::stream::iter(locators.into_iter().map(Ok)),
            state,
        )))
    })
    .try_flatten()
}

/// Every query job of the org, following `nextRecordsUrl`; stops at a repeated locator.
pub(crate) fn list_jobs(
    sf: Salesforce,
) -> impl Stream<Item = Result<QueryJobInfo>> + Send + 'static {
    const OPERATION: &str = "list_query_jobs";
    follow(sf, OPERATION, |sf, locator| async move {
        let client = sf.generated(sf.api_version(), false, Client::new_with_client);
        let mut request = client.list_query_jobs();
        if let Some(locator) = &locator {
            request = request.query_locator(locator.as_str());
        }
        let page = request
            .send()
            .await
            .map_err(|e| from_client(OPERATION, e))?
            .into_inner();
        let next_url = if page.done {
            None
        } else {
            page.next_records_url
        };
        Ok(ListingPage {
            records: page.records,
            next_url,
        })
    })
}
