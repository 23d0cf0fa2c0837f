//! Result pages held in memory (the chain of pages), the parallel page list of `resultPages`, and the
//! job listing.

use std::collections::HashSet;

use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use haul_client::salesforce_bulk_query::Client;
use haul_client::salesforce_bulk_query::types::QueryJobInfo;

use super::results::QueryResults;
use super::{CompletedQueryJob, QueryJob};
use crate::download::source::{Partition, Plan};
use crate::download::{Encoding, fetch_partition};
use crate::error::{Error, Result, from_client};
use crate::salesforce::Salesforce;
use crate::salesforce::links::locator_from_link;
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

/// The pages in order, following `Sforce-Locator`, each held in memory.
pub(crate) fn result_pages(
    done: CompletedQueryJob,
    max_records: Option<u64>,
) -> impl Stream<Item = Result<Page>> + Send + 'static {
    struct State {
        source: QueryResults,
        next: Option<Option<String>>,
        index: usize,
        seen: HashSet<String>,
    }
    let start = State {
        source: QueryResults { done },
        next: Some(None),
        index: 0,
        seen: HashSet::new(),
    };
    futures::stream::try_unfold(start, move |mut state| async move {
        let Some(locator) = state.next.take() else {
            return Ok(None);
        };
        let mut body = Vec::new();
        let plan = Plan {
            concurrency: 1,
            max_records,
        };
        let partition = Partition {
            key: locator.clone(),
        };
        let fetched =
            fetch_partition(&state.source, &partition, plan, &Encoding::csv(), &mut body).await?;
        let next_locator = fetched.next.and_then(|next| next.key);
        if let Some(next) = &next_locator
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
            records: fetched.records,
            body: body.into(),
        };
        state.next = next_locator.map(Some);
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
