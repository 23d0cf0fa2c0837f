//! Reading an ingest job's result files as streams of typed rows, a block of whole records at a
//! time, so that a result file of any size passes through bounded memory.

use std::sync::Arc;

use futures::{Stream, StreamExt, TryStreamExt};
use haul_client::progenitor_client::ByteStream;
use haul_client::salesforce_bulk_ingest::Client;
use haul_types::{ColumnDelimiter, SalesforceId};

use super::IngestJob;
use super::rows::{FailedRow, Fields, RowError, SuccessfulRow, UnprocessedRow};
use super::split::last_record_end;
use crate::error::{Error, Result, from_client};
use crate::retry::{self, Attempt, Replay};

/// The three result files.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Successful,
    Failed,
    Unprocessed,
}

impl Kind {
    fn operation(self) -> &'static str {
        match self {
            Self::Successful => "get_ingest_job_successful_results",
            Self::Failed => "get_ingest_job_failed_results",
            Self::Unprocessed => "get_ingest_job_unprocessed_records",
        }
    }

    /// The columns the server puts before the uploaded ones.
    fn leading(self) -> &'static [&'static str] {
        match self {
            Self::Successful => &["sf__Id", "sf__Created"],
            Self::Failed => &["sf__Id", "sf__Error"],
            Self::Unprocessed => &[],
        }
    }

    async fn send(self, client: &Client, id: &SalesforceId) -> Result<ByteStream> {
        let map = |e| from_client(self.operation(), e);
        let response = match self {
            Self::Successful => client
                .get_ingest_job_successful_results()
                .job_id(id.clone())
                .send()
                .await
                .map_err(map)?,
            Self::Failed => client
                .get_ingest_job_failed_results()
                .job_id(id.clone())
                .send()
                .await
                .map_err(map)?,
            Self::Unprocessed => client
                .get_ingest_job_unprocessed_records()
                .job_id(id.clone())
                .send()
                .await
                .map_err(map)?,
        };
        Ok(response.into_inner())
    }
}

impl IngestJob {
    /// The rows the server wrote, read lazily (nothing is sent until the stream is polled).
    pub fn successful_results(
        &self,
    ) -> impl Stream<Item = Result<SuccessfulRow>> + Send + Unpin + 'static + use<> {
        let operation = Kind::Successful.operation();
        records(self.clone(), Kind::Successful)
            .and_then(move |(names, mut values)| async move {
                let fixed: Vec<String> = values.drain(..2).collect();
                Ok(SuccessfulRow {
                    id: parse_id(&fixed[0], operation)?.ok_or_else(|| {
                        Error::invalid_response(operation, "a successful row has no sf__Id")
                    })?,
                    created: fixed[1].eq_ignore_ascii_case("true"),
                    fields: Fields::new(names, values),
                })
            })
            .boxed()
    }

    /// The rows the server refused, with their errors, read lazily.
    pub fn failed_results(
        &self,
    ) -> impl Stream<Item = Result<FailedRow>> + Send + Unpin + 'static + use<> {
        let operation = Kind::Failed.operation();
        records(self.clone(), Kind::Failed)
            .and_then(move |(names, mut values)| async move {
                let fixed: Vec<String> = values.drain(..2).collect();
                Ok(FailedRow {
                    id: parse_id(&fixed[0], operation)?,
                    error: RowError::parse(&fixed[1]),
                    fields: Fields::new(names, values),
                })
            })
            .boxed()
    }

    /// The rows never processed because the job failed or was aborted, read lazily.
    pub fn unprocessed_records(
        &self,
    ) -> impl Stream<Item = Result<UnprocessedRow>> + Send + Unpin + 'static + use<> {
        records(self.clone(), Kind::Unprocessed)
            .map_ok(|(names, values)| UnprocessedRow {
                fields: Fields::new(names, values),
            })
            .boxed()
    }
}

fn parse_id(text: &str, operation: &'static str) -> Result<Option<SalesforceId>> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|e| Error::invalid_response(operation, format!("{e}")))
}

/// One row: the uploaded columns' names, and all of the row's values (leading columns first).
type Row = (Arc<[String]>, Vec<String>);

struct State {
    job: IngestJob,
    kind: Kind,
    /// The open request's body; `None` before the first request and after a cut.
    body: Option<ByteStream>,
    /// The job's column delimiter, once read from its information.
    delimiter: Option<u8>,
    names: Option<Arc<[String]>>,
    width: usize,
    carry: Vec<u8>,
    done: bool,
    /// Bytes of the file received so far; after a cut, a new request skips this many.
    received: u64,
    /// Bytes still to skip of the current request's body.
    skip: u64,
}

/// Reading the next bytes of a result file, as the retry loop repeats it.
struct NextChunk<'a>(&'a mut State);

impl Attempt for NextChunk<'_> {
    type Output = Result<Option<bytes::Bytes>>;

    fn attempt(&mut self) -> impl Future<Output = Self::Output> + Send {
        self.0.next_chunk()
    }
}

/// The records of one result file, header checked and split off.
fn records(job: IngestJob, kind: Kind) -> impl Stream<Item = Result<Row>> + Send + 'static {
    let start = State {
        job,
        kind,
        body: None,
        delimiter: None,
        names: None,
        width: 0,
        carry: Vec::new(),
        done: false,
        received: 0,
        skip: 0,
    };
    futures::stream::try_unfold(start, |mut state| async move {
        if state.done {
            return Ok(None);
        }
        let rows = state.next_block().await?;
        Ok(Some((
            futures::stream::iter(rows.into_iter().map(Ok)),
            state,
        )))
    })
    .try_flatten()
}

impl State {
    /// The rows of the next block of whole records (possibly none).
    async fn next_block(&mut self) -> Result<Vec<Row>> {
        if self.delimiter.is_none() {
            // Result files use the job's delimiter; the job's information says which.
            let info = self.job.info().await?;
            let delimiter = info.column_delimiter.unwrap_or(ColumnDelimiter::Comma);
            self.delimiter = Some(delimiter.as_byte().unwrap_or(b','));
        }
        let policy = self.job.retry_policy().clone();
        let what = self.kind.operation();
        let end =
            match retry::drive(&policy, Replay::Idempotent, what, &mut NextChunk(self)).await? {
                Some(chunk) => {
                    self.carry.extend_from_slice(&chunk);
                    last_record_end(&self.carry, self.carry.len()).unwrap_or(0)
                }
                None => {
                    self.done = true;
                    self.carry.len()
                }
            };
        let block: Vec<u8> = self.carry.drain(..end).collect();
        self.parse(&block)
    }

    /// The next bytes of the file, requesting it first when no request is open. After a cut, the
    /// file is requested again and what was already received skipped: a finished job's result file
    /// does not change.
    async fn next_chunk(&mut self) -> Result<Option<bytes::Bytes>> {
        let operation = self.kind.operation();
        if self.body.is_none() {
            // Sent once: the retry loop around this attempt is the only one repeating it.
            let body = self
                .kind
                .send(&self.job.client(true), self.job.id())
                .await?;
            self.skip = self.received;
            self.body = Some(body);
        }
        let body = self.body.as_mut().expect("the file was just requested");
        loop {
            match body.try_next().await {
                Ok(Some(mut chunk)) => {
                    let skipped = chunk
                        .len()
                        .min(usize::try_from(self.skip).unwrap_or(usize::MAX));
                    self.skip -= skipped as u64;
                    let chunk = chunk.split_off(skipped);
                    self.received += chunk.len() as u64;
                    if !chunk.is_empty() {
                        return Ok(Some(chunk));
                    }
                }
                Ok(None) if self.skip > 0 => {
                    return Err(Error::invalid_response(
                        operation,
                        "the result file was shorter when requested again after a cut",
                    ));
                }
                Ok(None) => return Ok(None),
                Err(error) => {
                    tracing::debug!(%error, received = self.received, "result file cut");
                    self.body = None;
                    return Err(Error::transport(operation, error));
                }
            }
        }
    }

    fn parse(&mut self, block: &[u8]) -> Result<Vec<Row>> {
        let operation = self.kind.operation();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(self.delimiter.unwrap_or(b','))
            .from_reader(block);
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| Error::invalid_response(operation, format!("{e}")))?;
            let values: Vec<String> = record.iter().map(str::to_owned).collect();
            match &self.names {
                None => self.names = Some(self.header(values)?),
                Some(names) if values.len() == self.width => rows.push((names.clone(), values)),
                Some(_) => {
                    return Err(Error::invalid_response(
                        operation,
                        format!(
                            "a row has {} columns, the header {}",
                            values.len(),
                            self.width
                        ),
                    ));
                }
            }
        }
        Ok(rows)
    }

    /// Checks the leading columns and keeps the uploaded columns' names.
    fn header(&mut self, mut names: Vec<String>) -> Result<Arc<[String]>> {
        let leading = self.kind.leading();
        let matches = names.len() >= leading.len()
            && names
                .iter()
                .zip(leading)
                .all(|(n, l)| n.eq_ignore_ascii_case(l));
        if !matches {
            return Err(Error::invalid_response(
                self.kind.operation(),
                format!("the header {names:?} does not start with {leading:?}"),
            ));
        }
        self.width = names.len();
        Ok(names.drain(leading.len()..).collect::<Vec<_>>().into())
    }
}
