//! Databricks SQL statements: run SQL on a SQL warehouse, wait, and download the result's chunks in
//! parallel through their presigned links.
//!
//! ```no_run
//! # async fn example() -> haul::Result<()> {
//! use haul::databricks::Databricks;
//!
//! let db = Databricks::builder().from_env().build()?; // DATABRICKS_HOST, DATABRICKS_TOKEN, ...
//! let statement = db
//!     .statement("SELECT * FROM samples.tpch.orders WHERE o_orderdate >= :since")
//!     .warehouse("abcdef0123456789")
//!     .typed_parameter("since", "1998-01-01", "DATE")
//!     .submit()
//!     .await?;
//! let done = statement.wait().abort_on_drop(true).await?;
//! let report = done.download().concurrency(8).to_file("orders.csv").await?;
//! println!("{} rows in {} chunks", report.records, report.pages);
//! # Ok(())
//! # }
//! ```
//!
//! How haul runs a statement, and why:
//! - **Waiting**: the statement is submitted with a server-side `wait_timeout` (10 s by default), so
//!   that a short statement comes back finished in one request; a longer one is then polled by the
//!   common [`Poller`](crate::Poller), whose first round reuses that answer.
//! - **Results**: always asked for as `EXTERNAL_LINKS` (presigned URLs on the workspace's cloud
//!   storage), in the one format that `wire_format` (in `statement.rs`) chooses for the output
//!   (Arrow IPC for Parquet, CSV otherwise). Every chunk is a partition
//!   of the download engine, fetched in parallel, WITHOUT the `Authorization` header and with the
//!   link's own `http_headers`, from hosts that the rule of [`DatabricksBuilder::link_hosts`]
//!   allows; redirects are refused. A link past its `expiration` (or refused by storage with 403)
//!   is asked for again through the chunk endpoint. Each chunk's rows are checked against the
//!   manifest's `row_count`, and the total against `total_row_count`.
//! - **Truncated results** (`row_limit`, `byte_limit`) are refused by a download unless the caller
//!   allows them ([`CompletedStatement::allow_truncated`]).

mod auth;
mod csv;
mod links;
mod results;
mod schema;
mod statement;
mod status;

use std::sync::Arc;
use std::time::Duration;

use haul_client::databricks_sql_statements::{Client, types};
use haul_client::{Context, reqwest};

pub use auth::DatabricksAuth;
pub use haul_types::{ColumnTypeName, StatementDisposition, StatementFormat, StatementState};
pub use statement::{CompletedStatement, Statement, StatementBuilder};
pub use status::failed_job;
pub use types::StatementResponse;

use self::auth::Tokens;
use crate::error::{Error, Result, VendorBody};
use crate::http::{ConnectionSettings, connection_setters};
use crate::secret::Secret;

/// A client of one Databricks workspace. Cheap to clone; clones share the connections and the
/// token.
#[derive(Clone)]
pub struct Databricks {
    inner: Arc<Inner>,
}

struct Inner {
    host: String,
    http: reqwest::Client,
    /// Ordinary calls: retried under the policy, token renewed on 401.
    retrying: Context,
    /// Status requests of a poll loop and requests inside a partition's attempt: sent once.
    single_shot: Context,
    retry: crate::RetryPolicy,
    /// Hosts a chunk's link may point to; empty: those of the statement's own first link.
    link_hosts: Vec<String>,
    tokens: Arc<Tokens>,
}

impl std::fmt::Debug for Databricks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Databricks")
            .field("host", &self.inner.host)
            .field("link_hosts", &self.inner.link_hosts)
            .finish_non_exhaustive()
    }
}

impl Databricks {
    /// Starts configuring a client.
    pub fn builder() -> DatabricksBuilder {
        DatabricksBuilder::default()
    }

    /// The workspace's URL, `https://host`.
    pub fn host(&self) -> &str {
        &self.inner.host
    }

    /// Checks the credentials now, so that bad ones fail here with [`Error::is_auth`] rather
    /// than at the first statement: OAuth obtains a token; a personal access token is sent with
    /// a request for a statement that does not exist (any answer but a refusal accepts it).
    pub async fn connect(&self) -> Result<()> {
        if crate::transport::Refresh::can_refresh(&*self.inner.tokens) {
            return self.inner.tokens.renew(None).await;
        }
        match self
            .client(false)
            .get_statement()
            .statement_id("00000000-0000-0000-0000-000000000000")
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error) => match api_error("get_statement", error) {
                found if found.is_auth() => Err(found),
                _ => Ok(()),
            },
        }
    }

    pub(crate) fn client(&self, single_shot: bool) -> Client {
        let context = if single_shot {
            &self.inner.single_shot
        } else {
            &self.inner.retrying
        };
        Client::new_with_client(&self.inner.host, self.inner.http.clone(), context.clone())
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    pub(crate) fn retry_policy(&self) -> &crate::RetryPolicy {
        &self.inner.retry
    }

    pub(crate) fn link_hosts(&self) -> &[String] {
        &self.inner.link_hosts
    }
}

/// Databricks' error body: `{error_code, message}`; the code is a name such as `BAD_REQUEST`, or
/// the HTTP status as a number on the workspace's own 401 and 403 answers.
impl VendorBody for types::ServiceError {
    fn code_and_message(&self) -> (Option<String>, Option<String>) {
        let code = match &self.error_code {
            Some(serde_json::Value::String(code)) => Some(code.clone()),
            Some(serde_json::Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        };
        (code, self.message.clone())
    }
}

/// Maps a generated client's error. A workspace refuses a token it does not know (or no longer
/// knows) with 403 `Invalid access token.`: an authentication error.
pub(crate) fn api_error(
    operation: &'static str,
    error: haul_client::progenitor_client::Error<types::ServiceError>,
) -> Error {
    let mapped = crate::error::from_client(operation, error);
    if mapped.status() == Some(403) {
        return Error::Auth {
            detail: format!(
                "the Databricks workspace refused the credentials ({operation}: {})",
                mapped.vendor_message().unwrap_or("HTTP 403")
            ),
            source: Some(Box::new(mapped)),
        };
    }
    mapped
}

/// Configures a [`Databricks`] client.
#[derive(Debug, Default)]
#[must_use]
pub struct DatabricksBuilder {
    host: Option<String>,
    auth: Option<DatabricksAuth>,
    token_url: Option<String>,
    link_hosts: Vec<String>,
    connection: ConnectionSettings,
}

impl DatabricksBuilder {
    /// The workspace's URL, such as `https://dbc-a1b2345c-d6e7.cloud.databricks.com` (required); a
    /// bare host name is taken as `https://`, as Databricks' own tools take `DATABRICKS_HOST`.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Authenticates with a personal access token.
    pub fn token(mut self, token: impl Into<Secret>) -> Self {
        self.auth = Some(DatabricksAuth::Token(token.into()));
        self
    }

    /// Authenticates as a service principal through OAuth machine-to-machine.
    pub fn client_credentials(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
    ) -> Self {
        self.auth = Some(DatabricksAuth::ClientCredentials {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        });
        self
    }

    /// The OAuth token endpoint (default `{host}/oidc/v1/token`, the workspace's own).
    pub fn token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = Some(url.into());
        self
    }

    /// Takes what the environment sets, as Databricks' own tools read it: `DATABRICKS_HOST`,
    /// then `DATABRICKS_TOKEN`, or `DATABRICKS_CLIENT_ID` with `DATABRICKS_CLIENT_SECRET`
    /// (a token wins when both are set). Unset variables leave the setting as it was.
    pub fn from_env(mut self) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if let Some(host) = var("DATABRICKS_HOST") {
            self.host = Some(host);
        }
        if let Some(token) = var("DATABRICKS_TOKEN") {
            self = self.token(token);
        } else if let (Some(id), Some(secret)) =
            (var("DATABRICKS_CLIENT_ID"), var("DATABRICKS_CLIENT_SECRET"))
        {
            self = self.client_credentials(id, secret);
        }
        self
    }

    /// The hosts a chunk's presigned link may point to, each `host` or `host:port` (default: only
    /// the host and port of the statement's own first link, as the API hands it out). Without a
    /// port, only the scheme's default port is allowed. A link elsewhere is refused, and so is any
    /// link that is not HTTPS (plain HTTP to loopback aside, for local simulators).
    pub fn link_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.link_hosts = hosts.into_iter().map(Into::into).collect();
        self
    }

    connection_setters!();

    /// Builds the client: checks the settings and sends nothing.
    pub fn build(self) -> Result<Databricks> {
        let host = self
            .host
            .ok_or_else(|| Error::invalid_input("no Databricks host given (DATABRICKS_HOST)"))?;
        let connection = self.connection;
        let host = workspace_url(&connection, &host)?;
        let auth = self.auth.ok_or_else(|| {
            Error::invalid_input(
                "no Databricks credentials given (DATABRICKS_TOKEN, or DATABRICKS_CLIENT_ID and \
                 DATABRICKS_CLIENT_SECRET)",
            )
        })?;
        let token_url = match self.token_url {
            Some(url) => connection.checked_url(&url)?.to_string(),
            None => format!("{host}/oidc/v1/token"),
        };
        let http = connection.http_client()?;
        let limit = connection.request_limit()?;
        let tokens = Tokens::new(auth, token_url, http.clone(), connection.retry.clone())?;
        let contexts = connection.contexts(tokens.clone(), &limit);
        Ok(Databricks {
            inner: Arc::new(Inner {
                host,
                http,
                retrying: contexts.retrying,
                single_shot: contexts.single_shot,
                retry: connection.retry.clone(),
                link_hosts: self.link_hosts,
                tokens,
            }),
        })
    }
}

/// `https://host[:port]`, without a trailing slash; a bare host gets `https://`.
fn workspace_url(connection: &ConnectionSettings, host: &str) -> Result<String> {
    let host = host.trim();
    let with_scheme = if host.contains("://") {
        host.to_owned()
    } else {
        format!("https://{host}")
    };
    let url = connection.checked_url(&with_scheme)?;
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// The server-side wait as Databricks spells it: `0s`, or 5 to 50 seconds.
pub(crate) fn wait_timeout_text(wait: Duration) -> String {
    let secs = wait.as_secs();
    if secs == 0 {
        "0s".into()
    } else {
        format!("{}s", secs.clamp(5, 50))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_host_gets_https_and_no_trailing_slash() {
        let settings = ConnectionSettings::default();
        assert_eq!(
            workspace_url(&settings, "dbc-1.cloud.databricks.com").unwrap(),
            "https://dbc-1.cloud.databricks.com"
        );
        assert_eq!(
            workspace_url(&settings, "http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(workspace_url(&settings, "http://example.com").is_err());
    }

    #[test]
    fn error_codes_are_read_as_names_or_numbers() {
        let read = |json: &str| {
            serde_json::from_str::<types::ServiceError>(json)
                .unwrap()
                .code_and_message()
        };
        assert_eq!(
            read(r#"{"error_code":403,"message":"Invalid access token."}"#),
            (Some("403".into()), Some("Invalid access token.".into()))
        );
        assert_eq!(
            read(r#"{"error_code":"NOT_FOUND","message":"no"}"#)
                .0
                .as_deref(),
            Some("NOT_FOUND")
        );
        assert_eq!(read("{}"), (None, None));
    }

    #[test]
    fn the_server_wait_is_zero_or_five_to_fifty_seconds() {
        assert_eq!(wait_timeout_text(Duration::ZERO), "0s");
        assert_eq!(wait_timeout_text(Duration::from_secs(2)), "5s");
        assert_eq!(wait_timeout_text(Duration::from_secs(30)), "30s");
        assert_eq!(wait_timeout_text(Duration::from_secs(600)), "50s");
    }

    #[test]
    fn building_needs_a_host_and_credentials_and_never_prints_secrets() {
        assert!(Databricks::builder().token("t").build().is_err());
        assert!(Databricks::builder().host("h.example").build().is_err());
        let builder = Databricks::builder()
            .host("h.example")
            .client_credentials("id", "s3cr3t-value");
        assert!(!format!("{builder:?}").contains("s3cr3t-value"));
        let db = builder.build().unwrap();
        assert_eq!(db.host(), "https://h.example");
        assert!(!format!("{db:?}").contains("s3cr3t-value"));
    }
}
