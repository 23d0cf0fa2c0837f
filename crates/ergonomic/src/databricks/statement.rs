//! A statement: described by [`StatementBuilder`], submitted, waited for, cancelled; once it has
//! succeeded, its result read through the download engine.

use std::sync::Arc;
use std::time::Duration;

use haul_client::databricks_sql_statements::types;
use haul_types::{StatementDisposition, StatementFormat};

use super::results::StatementResults;
use super::schema::schema_of;
use super::status::StatementPoll;
use super::{Databricks, api_error, wait_timeout_text};
use crate::download::{DownloadBuilder, DownloadReport, Format, Schema};
use crate::error::{Error, Result};
use crate::poll::Poller;

/// The server-side wait a statement is submitted with, unless the caller chooses another.
const DEFAULT_SERVER_WAIT: Duration = Duration::from_secs(10);

/// The disposition and format asked of the server for a download written as `output`: the one
/// place that chooses them. Parquet reads `ARROW_STREAM` chunks, written from their record
/// batches with no text between; CSV and JSON lines read CSV chunks (JSON lines typed from the
/// manifest's schema by the engine).
pub(crate) fn wire_format(output: Format) -> (StatementDisposition, StatementFormat) {
    match output {
        Format::Parquet(_) => (
            StatementDisposition::ExternalLinks,
            StatementFormat::ArrowStream,
        ),
        Format::Csv | Format::Jsonl => (StatementDisposition::ExternalLinks, StatementFormat::Csv),
    }
}

impl Databricks {
    /// Starts describing a statement that runs `sql`.
    pub fn statement(&self, sql: impl Into<String>) -> StatementBuilder {
        StatementBuilder {
            db: self.clone(),
            sql: sql.into(),
            warehouse: None,
            catalog: None,
            schema: None,
            parameters: Vec::new(),
            row_limit: None,
            byte_limit: None,
            server_wait: DEFAULT_SERVER_WAIT,
            output: Format::Csv,
        }
    }

    /// A handle on a statement submitted earlier (by id).
    pub fn statement_by_id(&self, id: impl Into<String>) -> Statement {
        Statement {
            db: self.clone(),
            id: id.into(),
            sql: None,
            first: None,
        }
    }
}

/// Describes a statement before it is submitted.
#[derive(Debug, Clone)]
#[must_use]
pub struct StatementBuilder {
    db: Databricks,
    sql: String,
    warehouse: Option<String>,
    catalog: Option<String>,
    schema: Option<String>,
    parameters: Vec<types::StatementParameter>,
    row_limit: Option<i64>,
    byte_limit: Option<i64>,
    server_wait: Duration,
    output: Format,
}

impl StatementBuilder {
    /// The SQL warehouse to run on (required).
    pub fn warehouse(mut self, id: impl Into<String>) -> Self {
        self.warehouse = Some(id.into());
        self
    }

    /// The default catalog (`USE CATALOG`).
    pub fn catalog(mut self, catalog: impl Into<String>) -> Self {
        self.catalog = Some(catalog.into());
        self
    }

    /// The default schema (`USE SCHEMA`).
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// The value of the parameter marker `:name`, as a string.
    pub fn parameter(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.push_parameter(name.into(), Some(value.into()), None)
    }

    /// The value of `:name`, cast to the SQL type `sql_type` (such as `DATE` or `DECIMAL(10,2)`).
    pub fn typed_parameter(
        self,
        name: impl Into<String>,
        value: impl Into<String>,
        sql_type: impl Into<String>,
    ) -> Self {
        self.push_parameter(name.into(), Some(value.into()), Some(sql_type.into()))
    }

    /// `:name` as SQL NULL.
    pub fn null_parameter(self, name: impl Into<String>) -> Self {
        self.push_parameter(name.into(), None, None)
    }

    fn push_parameter(mut self, name: String, value: Option<String>, ty: Option<String>) -> Self {
        self.parameters.push(types::StatementParameter {
            name,
            value,
            type_: ty,
        });
        self
    }

    /// At most this many rows; a result cut by it is `truncated`.
    pub fn row_limit(mut self, rows: u64) -> Self {
        self.row_limit = Some(i64::try_from(rows).unwrap_or(i64::MAX));
        self
    }

    /// At most this many bytes (the server's default with links is 100 GiB); a result cut by it
    /// is `truncated`.
    pub fn byte_limit(mut self, bytes: u64) -> Self {
        self.byte_limit = Some(i64::try_from(bytes).unwrap_or(i64::MAX));
        self
    }

    /// How long the submission itself waits on the server for the statement (default 10 s;
    /// 0, or 5 to 50 seconds, as Databricks allows). A statement still running then is
    /// polled by [`Statement::wait`].
    pub fn server_wait(mut self, wait: Duration) -> Self {
        self.server_wait = wait;
        self
    }

    /// What the result will be downloaded as (default CSV), so that the format the server
    /// writes chunks in is chosen for it: Arrow for Parquet, CSV otherwise. A result written in
    /// Arrow downloads as Parquet only.
    pub fn output(mut self, format: Format) -> Self {
        self.output = format;
        self
    }

    /// Submits the statement. Not repeated after a failure that may have reached the server
    /// (a statement may change data); 429 and 503 are repeated.
    pub async fn submit(self) -> Result<Statement> {
        if self.sql.trim().is_empty() {
            return Err(Error::invalid_input("the SQL statement is empty"));
        }
        let warehouse = self
            .warehouse
            .ok_or_else(|| Error::invalid_input("no SQL warehouse given"))?;
        let (disposition, format) = wire_format(self.output);
        let body = types::ExecuteStatementRequest {
            statement: self.sql.clone(),
            warehouse_id: warehouse,
            catalog: self.catalog,
            schema: self.schema,
            parameters: self.parameters,
            disposition: Some(disposition),
            format: Some(format),
            wait_timeout: Some(wait_timeout_text(self.server_wait)),
            on_wait_timeout: Some(types::TimeoutAction::Continue),
            row_limit: self.row_limit,
            byte_limit: self.byte_limit,
        };
        let answer = self
            .db
            .client(false)
            .execute_statement()
            .body(body)
            .send()
            .await
            .map_err(|e| api_error("execute_statement", e))?
            .into_inner();
        let id = answer.statement_id.clone().ok_or_else(|| {
            Error::invalid_response("execute_statement", "the answer names no statement_id")
        })?;
        tracing::info!(statement = %id, "submitted a Databricks statement");
        Ok(Statement {
            db: self.db,
            id,
            sql: Some(self.sql),
            first: Some(answer),
        })
    }

    /// The common case in one call: submit, wait (cancelling the statement if the wait is
    /// abandoned), and download the result to one file as `format`, its manifest beside it.
    pub async fn download_to(
        self,
        path: impl Into<std::path::PathBuf>,
        format: Format,
    ) -> Result<DownloadReport> {
        let statement = self.output(format).submit().await?;
        let done = statement.wait().abort_on_drop(true).await?;
        done.download().format(format).to_file(path).await
    }
}

/// A statement on the server.
#[derive(Clone)]
pub struct Statement {
    db: Databricks,
    id: String,
    sql: Option<String>,
    /// The submission's answer, which the first round of waiting reuses.
    first: Option<types::StatementResponse>,
}

/// Leaves out the answers the statement keeps: their links hold credentials.
impl std::fmt::Debug for Statement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statement")
            .field("id", &self.id)
            .field("sql", &self.sql)
            .finish_non_exhaustive()
    }
}

/// Leaves out the result's links: they hold credentials.
impl std::fmt::Debug for CompletedStatement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompletedStatement")
            .field("statement", &self.statement)
            .field("total_rows", &self.total_rows())
            .field("total_chunks", &self.total_chunks())
            .field("truncated", &self.truncated())
            .field("allow_truncated", &self.allow_truncated)
            .finish_non_exhaustive()
    }
}

impl Statement {
    /// The statement's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The statement's current status (with its manifest and first chunk once it succeeded).
    pub async fn info(&self) -> Result<types::StatementResponse> {
        super::status::fetch(&self.db.client(false), &self.id).await
    }

    /// Asks the warehouse to stop the statement; [`wait`](Self::wait) then sees it `CANCELED`.
    pub async fn cancel(&self) -> Result<()> {
        super::status::cancel(&self.db.client(false), &self.id).await
    }

    /// Waits until the statement has finished; `FAILED`, `CANCELED` and `CLOSED` become
    /// [`Error::JobFailed`] (read the statement with [`failed_job`](super::failed_job)).
    pub fn wait(&self) -> Poller<types::StatementResponse, CompletedStatement> {
        let statement = self.clone();
        let poll = StatementPoll::new(&self.db, self.id.clone(), self.first.clone());
        Poller::new(poll, move |response| CompletedStatement {
            statement,
            response: Arc::new(response),
            allow_truncated: false,
        })
    }

    pub(crate) fn databricks(&self) -> &Databricks {
        &self.db
    }

    pub(crate) fn sql(&self) -> Option<&str> {
        self.sql.as_deref()
    }
}

/// A statement that succeeded: its result can be read.
#[derive(Clone)]
pub struct CompletedStatement {
    statement: Statement,
    response: Arc<types::StatementResponse>,
    allow_truncated: bool,
}

impl CompletedStatement {
    /// The statement.
    pub fn statement(&self) -> &Statement {
        &self.statement
    }

    /// The statement as it was when it succeeded: its manifest and first chunk.
    pub fn response(&self) -> &types::StatementResponse {
        &self.response
    }

    /// The rows the manifest says the result holds.
    pub fn total_rows(&self) -> Option<u64> {
        self.manifest()
            .and_then(|m| m.total_row_count)
            .and_then(|n| u64::try_from(n).ok())
    }

    /// The chunks the result is split into.
    pub fn total_chunks(&self) -> Option<u64> {
        self.manifest()
            .and_then(|m| m.total_chunk_count)
            .and_then(|n| u64::try_from(n).ok())
    }

    /// Whether `row_limit` or `byte_limit` cut the result.
    pub fn truncated(&self) -> bool {
        self.manifest().and_then(|m| m.truncated).unwrap_or(false)
    }

    /// The result's columns and their types, from the manifest: what JSON lines and Parquet are
    /// typed by.
    pub fn schema(&self) -> Result<Schema> {
        let manifest = self.manifest().ok_or_else(|| {
            Error::invalid_response("get_statement", "the succeeded statement has no manifest")
        })?;
        schema_of(manifest)
    }

    /// Lets a download read a truncated result (default false: such a download fails, since it
    /// would not hold every row the statement selected). [`truncated`](Self::truncated) says
    /// whether it was.
    pub fn allow_truncated(mut self, allow: bool) -> Self {
        self.allow_truncated = allow;
        self
    }

    /// Configures a download of the result, one partition a chunk, typed by the manifest's
    /// schema when the format is typed.
    pub fn download(&self) -> DownloadBuilder {
        let source = Arc::new(StatementResults::new(self.clone()));
        let builder = DownloadBuilder::new(source);
        match self.schema() {
            Ok(schema) => builder.schema(schema),
            Err(_) => builder,
        }
    }

    pub(crate) fn manifest(&self) -> Option<&types::ResultManifest> {
        self.response.manifest.as_ref()
    }

    pub(crate) fn truncation_allowed(&self) -> bool {
        self.allow_truncated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parquet_reads_arrow_links_and_the_other_outputs_csv_links() {
        for output in [Format::Csv, Format::Jsonl] {
            assert_eq!(
                wire_format(output),
                (StatementDisposition::ExternalLinks, StatementFormat::Csv)
            );
        }
        assert_eq!(
            wire_format(Format::parquet()).1,
            StatementFormat::ArrowStream
        );
    }
}
