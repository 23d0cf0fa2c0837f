//! The org's ingest jobs, page by page, following `nextRecordsUrl`.

use futures::Stream;
use haul_client::salesforce_bulk_ingest::Client;

use super::IngestJobInfo;
use crate::error::{Result, from_client};
use crate::salesforce::Salesforce;
use crate::salesforce::listing::{ListingPage, follow};

/// Every ingest job of the org; stops at a repeated locator.
pub(crate) fn list_jobs(
    sf: Salesforce,
) -> impl Stream<Item = Result<IngestJobInfo>> + Send + 'static {
    const OPERATION: &str = "list_ingest_jobs";
    follow(sf, OPERATION, |sf, locator| async move {
        let client = sf.generated(sf.api_version(), false, Client::new_with_client);
        let mut request = client.list_ingest_jobs();
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
