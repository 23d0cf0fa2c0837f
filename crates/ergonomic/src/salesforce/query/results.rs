//! A finished query job's results as a download [`Source`]: pages listed by `resultPages` (API
//! 58.0+) or chained by `Sforce-Locator`, each checked against `Sforce-NumberOfRecords`.

use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use haul_client::progenitor_client::ResponseValue;

use super::CompletedQueryJob;
use super::pages::result_page_locators;
use crate::download::SourceKey;
use crate::download::source::{Answer, Listing, Partition, Plan, Source};
use crate::error::{Error, Result, from_client};
use crate::retry::RetryPolicy;

const RESULTS: &str = "get_query_job_results";

/// The results of one finished query job.
pub(crate) struct QueryResults {
    pub(crate) done: CompletedQueryJob,
}

impl Source for QueryResults {
    fn key(&self) -> SourceKey {
        let job = &self.done.job;
        SourceKey::new(
            "salesforce-bulk-query",
            job.id().as_str(),
            Some(job.api_version().to_string()),
        )
    }

    fn describe(&self) -> String {
        format!("query job {}", self.done.job.id())
    }

    fn delimiter(&self) -> Result<u8> {
        let delimiter = self
            .done
            .info()
            .column_delimiter
            .clone()
            .unwrap_or_default();
        delimiter.as_byte().ok_or_else(|| {
            Error::invalid_input(format!(
                "column delimiter {delimiter} is not known to this haul"
            ))
        })
    }

    fn retry_policy(&self) -> &RetryPolicy {
        self.done.job.salesforce().retry_policy()
    }

    fn partition_noun(&self) -> &'static str {
        "page"
    }

    fn declared_by(&self) -> &'static str {
        "Sforce-NumberOfRecords"
    }

    fn expected_rows(&self) -> Option<u64> {
        self.done.expected_records()
    }

    fn refresh_expected_rows(&self) -> BoxFuture<'_, Result<Option<u64>>> {
        Box::pin(async move {
            let fresh = self.done.job.info().await?;
            Ok(fresh
                .number_records_processed
                .and_then(|n| u64::try_from(n).ok()))
        })
    }

    fn listing(&self, plan: Plan) -> Result<Listing> {
        let job = &self.done.job;
        if plan.concurrency > 1 && job.api_version().supports_result_pages() {
            let locators = result_page_locators(job.clone(), plan.max_records);
            Ok(Listing::Listed(
                locators.map_ok(|key| Partition { key }).boxed(),
            ))
        } else {
            Ok(Listing::Chained)
        }
    }

    fn fetch<'a>(&'a self, partition: &'a Partition, plan: Plan) -> BoxFuture<'a, Result<Answer>> {
        Box::pin(async move {
            let job = &self.done.job;
            // Single-shot: the engine's retry loop is the one that repeats a partition.
            let client = job.client(true);
            let mut request = client.get_query_job_results().job_id(job.id().clone());
            if let Some(locator) = &partition.key {
                request = request.locator(locator.as_str());
            }
            if let Some(max) = plan.max_records {
                request = request.max_records(max);
            }
            let response = request.send().await.map_err(|e| from_client(RESULTS, e))?;
            let declared_rows = Some(declared_records(&response)?);
            let next = next_locator(&response)?.map(|key| Partition { key: Some(key) });
            let body = response
                .into_inner()
                .into_inner()
                .map_err(|e| Error::transport(RESULTS, e))
                .boxed();
            Ok(Answer {
                body,
                declared_rows,
                next,
            })
        })
    }
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
