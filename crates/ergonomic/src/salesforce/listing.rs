//! Job listings that page through `nextRecordsUrl` (Bulk API 2.0 query and ingest jobs alike).

use std::collections::HashSet;

use futures::{Stream, TryStreamExt};

use super::Salesforce;
use super::links::query_locator_from_link;
use crate::error::Result;

/// One page of a listing: its records, and `nextRecordsUrl` when the listing goes on.
pub(crate) struct ListingPage<T> {
    pub(crate) records: Vec<T>,
    pub(crate) next_url: Option<String>,
}

/// Every record of a listing, page by page as the stream is read; `fetch` requests the page of a
/// `queryLocator` (none for the first). Stops at a repeated locator.
pub(crate) fn follow<T, F, Fut>(
    sf: Salesforce,
    operation: &'static str,
    fetch: F,
) -> impl Stream<Item = Result<T>> + Send + 'static
where
    T: Send + 'static,
    F: Fn(Salesforce, Option<String>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<ListingPage<T>>> + Send + 'static,
{
    struct State<F> {
        sf: Salesforce,
        fetch: F,
        next: Option<Option<String>>,
        seen: HashSet<String>,
    }
    let start = State {
        sf,
        fetch,
        next: Some(None),
        seen: HashSet::new(),
    };
    futures::stream::try_unfold(start, move |mut state| async move {
        let Some(locator) = state.next.take() else {
            return Ok(None);
        };
        let page = (state.fetch)(state.sf.clone(), locator).await?;
        if let Some(link) = page.next_url.as_deref() {
            let next = query_locator_from_link(link, state.sf.instance_url(), operation)?;
            if state.seen.insert(next.clone()) {
                state.next = Some(Some(next));
            } else {
                tracing::warn!(locator = %next, "the job listing repeats a locator; stopping");
            }
        }
        Ok(Some((
            futures::stream::iter(page.records.into_iter().map(Ok)),
            state,
        )))
    })
    .try_flatten()
}
