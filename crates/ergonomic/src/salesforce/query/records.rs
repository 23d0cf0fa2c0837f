//! Result rows deserialised into the caller's type.

use futures::{Stream, StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;

use super::CompletedQueryJob;
use super::pages::result_pages;
use crate::error::{Error, Result};

/// The rows of every page, deserialised by column name; one page is in memory at a time.
pub(crate) fn typed_records<T>(
    done: CompletedQueryJob,
) -> impl Stream<Item = Result<T>> + Send + 'static
where
    T: DeserializeOwned + Send + 'static,
{
    let delimiter = done.info().column_delimiter.clone().unwrap_or_default();
    let pages = result_pages(done, None);
    pages
        .map(move |page| {
            let page = page?;
            let byte = delimiter.as_byte().ok_or_else(|| {
                Error::invalid_input(format!(
                    "column delimiter {delimiter} is not known to this haul"
                ))
            })?;
            let rows: Vec<Result<T>> = csv::ReaderBuilder::new()
                .delimiter(byte)
                .from_reader(&page.body[..])
                .into_deserialize()
                .map(|row| {
                    row.map_err(|e| {
                        Error::invalid_response(
                            "get_query_job_results",
                            format!("row of page {}: {e}", page.index),
                        )
                    })
                })
                .collect();
            Ok(futures::stream::iter(rows))
        })
        .try_flatten()
}
