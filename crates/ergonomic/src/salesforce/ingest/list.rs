//! The org's ingest jobs, page by page, following `nextRecordsUrl`.

use std::collections::HashSet;

use futures::{Stream, TryStreamExt};
use haul_client::salesforce_bulk_ingest::Client;

use super::IngestJobInfo;
use crate::error::{Result, from_client};
use crate::salesforce::Salesforce;
use crate::salesforce::query::query_locator_from_link;

/// Every ingest job of the org; stops at a repeated locator.
pub(crate) fn list_jobs(
    sf: Salesforce,
) -> impl Stream<Item = Result<IngestJobInfo>> + Send + 'static {
    const OPERATION: &str = "list_ingest_jobs";
    struct State {
        sf: Salesforce,
        next: Option<Option<String>>,
        seen: HashSet<String>,
    }
    let start = State {
        sf,
        next: Some(None),
        seen: HashSet::new(),
    };
    futures::stream::try_unfold(start, |mut state| async move {
        let Some(locator) = state.next.take() else {
            return Ok(None);
        };
        let client = state
            .sf
            .generated(state.sf.api_version(), false, Client::new_with_client);
        let mut request = client.list_ingest_jobs();
        if let Some(locator) = &locator {
            request = request.query_locator(locator.as_str());
        }
        let page = request
            .send()
            .await
            .map_err(|e| from_client(OPERATION, e))?
            .into_inner();
        if let (false, Some(link)) = (page.done, page.next_records_url.as_deref()) {
            let next = query_locator_from_link(link, state.sf.instance_url(), OPERATION)?;
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
