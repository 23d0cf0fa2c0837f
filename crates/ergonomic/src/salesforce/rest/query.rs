//! SOQL through the REST API: batches of records, following `nextRecordsUrl`.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use haul_client::progenitor_client::{
    ClientHooks, ClientInfo, Error as ClientError, OperationInfo, ResponseValue,
};
use haul_client::reqwest::{self, header::ACCEPT};
use haul_client::salesforce_rest::Client;
use haul_client::salesforce_rest::types::{QueryResult, SalesforceErrorList};
use serde::de::DeserializeOwned;

use super::into_row;
use super::results::RestResults;
use crate::download::DownloadBuilder;
use crate::error::{Error, Result, from_client};
use crate::salesforce::Salesforce;
use crate::salesforce::links::{QueryMore, query_more_from_link};

/// One record as the REST API returns it: `attributes` (`type`, `url`) and its fields by API
/// name; a child-to-parent relationship (`Owner.Name`) is a nested record, or null.
pub type Row = serde_json::Map<String, serde_json::Value>;

/// The batch sizes Salesforce accepts in `Sforce-Query-Options` (it may still answer with more or
/// fewer).
const BATCH_SIZES: std::ops::RangeInclusive<u32> = 200..=2000;

/// A SOQL query through the REST API, made by [`Salesforce::query`] or [`Salesforce::query_all`].
/// Nothing is sent until one of its streams is read; each batch is one request.
#[derive(Debug, Clone)]
#[must_use]
pub struct RestQuery {
    sf: Salesforce,
    soql: String,
    all: bool,
    batch_size: Option<u32>,
}

/// One batch of a query's records.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct QueryBatch {
    /// Position of the batch, from 0.
    pub index: usize,
    /// Records the whole query returns, as the server says.
    pub total_size: u64,
    /// This batch's records.
    pub records: Vec<Row>,
}

impl RestQuery {
    pub(super) fn new(sf: Salesforce, soql: String, all: bool) -> Self {
        Self {
            sf,
            soql,
            all,
            batch_size: None,
        }
    }

    /// Asks for batches of `size` records (`Sforce-Query-Options: batchSize=N`; 200 to 2,000, the
    /// default). The server may answer with more or fewer. A size outside that range fails the
    /// query's first read.
    pub fn batch_size(mut self, size: u32) -> Self {
        self.batch_size = Some(size);
        self
    }

    /// The batches in order, following each answer's `nextRecordsUrl` (on the instance only).
    /// Fails with [`Error::is_integrity`] when the records received are not the `totalSize` the
    /// server announced, and on a repeated locator. A `SELECT COUNT()` query has no records: its
    /// count is the batch's `total_size`.
    pub fn batches(self) -> impl Stream<Item = Result<QueryBatch>> + Send + Unpin + 'static {
        batches(self).boxed()
    }

    /// The records one by one, as maps by field name; one batch is in memory at a time.
    pub fn rows(self) -> impl Stream<Item = Result<Row>> + Send + Unpin + 'static {
        self.batches()
            .map_ok(|batch| futures::stream::iter(batch.records.into_iter().map(Ok)))
            .try_flatten()
            .boxed()
    }

    /// The records deserialised into `T` by field name (`attributes` is there too, for a `T` that
    /// wants it; a nested relationship deserialises into a nested struct).
    pub fn records<T>(self) -> impl Stream<Item = Result<T>> + Send + Unpin + 'static
    where
        T: DeserializeOwned + Send + 'static,
    {
        let operation = self.operation();
        self.rows()
            .map(move |row| {
                serde_json::from_value(serde_json::Value::Object(row?)).map_err(|e| {
                    Error::invalid_response(operation, format!("a record does not fit: {e}"))
                })
            })
            .boxed()
    }

    /// The query's results downloaded through the download engine, each batch one partition of
    /// a chain, written in order: typed Parquet or typed JSON lines (give the
    /// [`schema`](crate::download::DownloadBuilder::schema) from
    /// [`Salesforce::query_schema`](crate::Salesforce::query_schema)) or CSV, to a file, a folder
    /// or an object store, with its [`Manifest`](crate::download::Manifest), exactly as a Bulk API
    /// query's results are.
    ///
    /// Each record becomes one row of the SELECT list's columns, in its order, read from the JSON
    /// text as sent: a number keeps every digit it was sent with (`123456789012345.6789`,
    /// `1.5E+7`), never passing through a float; a relationship path (`Owner.Name`) is looked up
    /// in the nested record, and is null when the relationship is; `attributes` is left out. A
    /// null and an empty string are both an empty CSV field, which the typed formats read as null,
    /// as they read the Bulk API's CSV (where the two are written alike). So the same query gives
    /// the same typed values through either API.
    ///
    /// The batches are fetched one at a time (each names the next), and each is fetched again
    /// under the client's retry policy when it fails. Refused with
    /// [`Error::InvalidInput`]: a SELECT list that names no columns (`FIELDS(...)`, `TYPEOF`),
    /// [`max_records`](crate::download::DownloadBuilder::max_records) (use
    /// [`batch_size`](Self::batch_size)), and `SELECT COUNT()`, which returns no rows. A resumed
    /// download continues from the batch after the last one written, which works only while
    /// Salesforce keeps the query's cursor (a few minutes after its last use).
    ///
    /// ```no_run
    /// # async fn example(sf: haul::Salesforce) -> haul::Result<()> {
    /// let soql = "SELECT Id, Name, AnnualRevenue, Owner.Name FROM Account";
    /// let schema = sf.query_schema(soql).await?;
    /// let report = sf
    ///     .query(soql)
    ///     .download()
    ///     .format(haul::download::Format::parquet())
    ///     .schema(schema)
    ///     .to_file("accounts.parquet")
    ///     .await?;
    /// println!("{} rows", report.records);
    /// # Ok(())
    /// # }
    /// ```
    pub fn download(self) -> DownloadBuilder {
        DownloadBuilder::new(Arc::new(RestResults::new(self)))
    }

    pub(super) fn soql(&self) -> &str {
        &self.soql
    }

    pub(super) fn api_version(&self) -> haul_types::ApiVersion {
        self.sf.api_version()
    }

    pub(super) fn retry_policy(&self) -> &crate::RetryPolicy {
        self.sf.retry_policy()
    }

    pub(super) fn operation(&self) -> &'static str {
        if self.all { "query_all" } else { "query" }
    }

    pub(super) fn endpoint(&self) -> &'static str {
        if self.all { "queryAll" } else { "query" }
    }

    /// Checks what can be checked before anything is sent: the query is not empty, and its batch
    /// size is one Salesforce accepts.
    pub(super) fn check(&self) -> Result<()> {
        if self.soql.trim().is_empty() {
            return Err(Error::invalid_input("the SOQL query is empty"));
        }
        self.options_header().map(drop)
    }

    /// Where a `nextRecordsUrl` continues, checked to be on the instance and to continue this
    /// query's endpoint.
    pub(super) fn more_from_link(&self, link: &str) -> Result<QueryMore> {
        let instance = self.sf.instance_url();
        query_more_from_link(link, instance, self.endpoint(), self.operation())
    }

    /// Sends the first request (`next` is `None`) or the one a `nextRecordsUrl` names, once (the
    /// download engine's loop repeats it), and answers the body as sent, so that its numbers can
    /// be read from their text. The request is built here (the generated operation parses the
    /// body into floats) and sent through the generated client's hooks, so that the token, the
    /// request limit and API-usage tracking apply as to every generated request.
    pub(super) async fn fetch_raw(&self, next: Option<&QueryMore>) -> Result<Bytes> {
        let operation = self.operation();
        let client = self
            .sf
            .generated_at_once(self.sf.instance_url(), Client::new_with_client);
        let url = match next {
            None => format!(
                "{}/{}",
                self.sf.versioned_base(self.sf.api_version()),
                self.endpoint()
            ),
            Some(more) => format!(
                "{}/{}/{}",
                self.sf.versioned_base(more.version),
                self.endpoint(),
                more.locator
            ),
        };
        let mut request = client.client().get(url).header(ACCEPT, "application/json");
        if next.is_none() {
            request = request.query(&[("q", self.soql.as_str())]);
        }
        if let Some(options) = self.options_header()? {
            request = request.header("Sforce-Query-Options", options);
        }
        let mut request = request
            .build()
            .map_err(|e| Error::invalid_input(format!("{operation}: {e}")))?;
        let info = OperationInfo {
            operation_id: operation,
        };
        let hooked = |e: ClientError<SalesforceErrorList>| from_client(operation, e);
        client.pre(&mut request, &info).await.map_err(hooked)?;
        let result = client.exec(request, &info).await;
        client.post(&result, &info).await.map_err(hooked)?;
        let response = result.map_err(|e| Error::transport(operation, e))?;
        answer_body(operation, response).await
    }

    fn options_header(&self) -> Result<Option<String>> {
        match self.batch_size {
            None => Ok(None),
            Some(size) if BATCH_SIZES.contains(&size) => Ok(Some(format!("batchSize={size}"))),
            Some(size) => Err(Error::invalid_input(format!(
                "batch size {size} is outside the {}..={} Salesforce accepts",
                BATCH_SIZES.start(),
                BATCH_SIZES.end()
            ))),
        }
    }

    /// Sends the first request (`next` is `None`) or the one a `nextRecordsUrl` names.
    async fn fetch(&self, next: Option<&QueryMore>, options: Option<&str>) -> Result<QueryResult> {
        // The four operations' builders are distinct types; each gets the header when there is one.
        macro_rules! send {
            ($request:expr) => {
                match options {
                    Some(header) => $request.sforce_query_options(header).send().await,
                    None => $request.send().await,
                }
            };
        }
        let client = self.sf.rest_client();
        let first = self.sf.api_version().to_string();
        let sent = match (next, self.all) {
            (None, false) => send!(client.query().version(first).q(self.soql.as_str())),
            (None, true) => send!(client.query_all().version(first).q(self.soql.as_str())),
            (Some(more), false) => send!(
                client
                    .query_more()
                    .version(more.version.to_string())
                    .query_locator(more.locator.as_str())
            ),
            (Some(more), true) => send!(
                client
                    .query_all_more()
                    .version(more.version.to_string())
                    .query_locator(more.locator.as_str())
            ),
        };
        Ok(sent
            .map_err(|e| from_client(self.operation(), e))?
            .into_inner())
    }
}

/// The body of a 2xx answer; any other answer as the generated operation reports it: Salesforce's
/// error list when the body is one, else the bare status.
async fn answer_body(operation: &'static str, response: reqwest::Response) -> Result<Bytes> {
    let status = response.status();
    if status.is_success() {
        return response
            .bytes()
            .await
            .map_err(|e| Error::transport(operation, e));
    }
    let headers = response.headers().clone();
    let version = response.version();
    let body = response
        .bytes()
        .await
        .map_err(|e| Error::transport(operation, e))?;
    let error = match serde_json::from_slice::<SalesforceErrorList>(&body) {
        Ok(list) => ClientError::ErrorResponse(ResponseValue::new(list, status, headers)),
        Err(_) => {
            let mut bare = http::Response::new(body);
            *bare.status_mut() = status;
            *bare.version_mut() = version;
            *bare.headers_mut() = headers;
            ClientError::UnexpectedResponse(reqwest::Response::from(bare))
        }
    };
    Err(from_client(operation, error))
}

/// Where the batches stand between two reads.
struct Cursor {
    query: RestQuery,
    options: Option<String>,
    /// `None` once the last batch was read; `Some(None)` before the first.
    next: Option<Option<QueryMore>>,
    index: usize,
    received: u64,
    seen: HashSet<String>,
}

fn batches(query: RestQuery) -> impl Stream<Item = Result<QueryBatch>> + Send + 'static {
    let start = Cursor {
        query,
        options: None,
        next: Some(None),
        index: 0,
        received: 0,
        seen: HashSet::new(),
    };
    futures::stream::try_unfold(start, |mut cursor| async move {
        let Some(next) = cursor.next.take() else {
            return Ok(None);
        };
        if next.is_none() {
            if cursor.query.soql.trim().is_empty() {
                return Err(Error::invalid_input("the SOQL query is empty"));
            }
            cursor.options = cursor.query.options_header()?;
        }
        let answer = cursor
            .query
            .fetch(next.as_ref(), cursor.options.as_deref())
            .await?;
        let batch = cursor.advance(answer)?;
        Ok(Some((batch, cursor)))
    })
}

impl Cursor {
    /// Takes in one answer: counts its records and finds the next batch, checking the link.
    fn advance(&mut self, answer: QueryResult) -> Result<QueryBatch> {
        let operation = self.query.operation();
        let total_size = u64::try_from(answer.total_size)
            .map_err(|_| Error::invalid_response(operation, "totalSize is negative"))?;
        self.received += answer.records.len() as u64;
        match (answer.done, answer.next_records_url.as_deref()) {
            // `SELECT COUNT() FROM ...` answers its count as totalSize, with no records at all.
            (true, _) if self.received != total_size && self.received != 0 => {
                return Err(Error::integrity(format!(
                    "the query announced {total_size} records and returned {}",
                    self.received
                )));
            }
            (true, _) => {}
            (false, None) => {
                return Err(Error::invalid_response(
                    operation,
                    "not done, but no nextRecordsUrl",
                ));
            }
            (false, Some(link)) => {
                let instance = self.query.sf.instance_url();
                let more = query_more_from_link(link, instance, self.query.endpoint(), operation)?;
                if !self.seen.insert(more.locator.clone()) {
                    return Err(Error::invalid_response(
                        operation,
                        format!("nextRecordsUrl repeats locator {:?}", more.locator),
                    ));
                }
                self.next = Some(Some(more));
            }
        }
        let batch = QueryBatch {
            index: self.index,
            total_size,
            records: answer.records.into_iter().map(into_row).collect(),
        };
        self.index += 1;
        Ok(batch)
    }
}

#[cfg(test)]
mod tests {
    use haul_types::ApiVersion;

    use super::*;

    fn query(batch_size: Option<u32>) -> RestQuery {
        let sf = Salesforce::builder()
            .instance_url("https://acme.my.salesforce.com")
            .auth(crate::auth::AccessToken::new("t"))
            .build()
            .unwrap();
        let mut query = sf.query("SELECT Id FROM Account");
        query.batch_size = batch_size;
        query
    }

    fn answer(json: serde_json::Value) -> QueryResult {
        serde_json::from_value(json).unwrap()
    }

    fn cursor() -> Cursor {
        Cursor {
            query: query(None),
            options: None,
            next: None,
            index: 0,
            received: 0,
            seen: HashSet::new(),
        }
    }

    #[test]
    fn batch_sizes_are_the_documented_range() {
        assert_eq!(query(None).options_header().unwrap(), None);
        assert_eq!(
            query(Some(200)).options_header().unwrap().as_deref(),
            Some("batchSize=200")
        );
        assert!(query(Some(2000)).options_header().is_ok());
        for bad in [0, 199, 2001] {
            assert!(
                query(Some(bad))
                    .options_header()
                    .unwrap_err()
                    .is_invalid_input()
            );
        }
    }

    #[test]
    fn a_cursor_follows_next_records_url_and_checks_the_total() {
        let mut cursor = cursor();
        let first = cursor
            .advance(answer(serde_json::json!({
                "totalSize": 3, "done": false,
                "nextRecordsUrl": "/services/data/v61.0/query/01g-2",
                "records": [{"Id": "001000000000001AAA"}, {"Id": "001000000000002AAA"}],
            })))
            .unwrap();
        assert_eq!(
            (first.index, first.total_size, first.records.len()),
            (0, 3, 2)
        );
        let next = cursor.next.clone().unwrap().unwrap();
        assert_eq!(next.version, ApiVersion::new(61, 0));
        assert_eq!(next.locator, "01g-2");
        cursor.next = None;
        let last = cursor
            .advance(answer(serde_json::json!({
                "totalSize": 3, "done": true, "records": [{"Id": "001000000000003AAA"}],
            })))
            .unwrap();
        assert_eq!(last.index, 1);
        assert!(cursor.next.is_none());
    }

    #[test]
    fn a_count_query_has_its_total_and_no_records() {
        let batch = cursor()
            .advance(answer(
                serde_json::json!({"totalSize": 42, "done": true, "records": []}),
            ))
            .unwrap();
        assert_eq!((batch.total_size, batch.records.len()), (42, 0));
    }

    #[test]
    fn a_short_count_a_repeated_locator_and_a_foreign_link_are_errors() {
        let short = cursor()
            .advance(answer(
                serde_json::json!({"totalSize": 2, "done": true, "records": [{}]}),
            ))
            .unwrap_err();
        assert!(short.is_integrity(), "{short}");

        let mut cursor = cursor();
        let page = serde_json::json!({
            "totalSize": 9, "done": false,
            "nextRecordsUrl": "/services/data/v62.0/query/01g-1", "records": [{}],
        });
        cursor.advance(answer(page.clone())).unwrap();
        assert!(cursor.advance(answer(page)).is_err());

        let foreign = serde_json::json!({
            "totalSize": 9, "done": false,
            "nextRecordsUrl": "https://evil.example/services/data/v62.0/query/01g-1",
            "records": [],
        });
        assert!(self::cursor().advance(answer(foreign)).is_err());
        let unfinished = serde_json::json!({"totalSize": 9, "done": false, "records": []});
        assert!(self::cursor().advance(answer(unfinished)).is_err());
    }
}
