//! haul-sim: a faithful, fast simulator of Salesforce Bulk API 2.0 (query and ingest), Salesforce
//! Async SOQL, Looker API 4.0 query tasks, and the Databricks SQL Statement Execution API, written
//! from the vendors' documented wire behaviour.
//!
//! ```no_run
//! # async fn demo() -> Result<(), haul_sim::SimError> {
//! let sim = haul_sim::Sim::builder().seed(42).rows("Account", 100_000).start().await?;
//! println!("{} {}", sim.instance_url(), sim.access_token());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Behaviour worth knowing (each module documents its own choices):
//! - Result CSV: every value double-quoted, embedded quotes doubled, null as an empty unquoted
//!   field; the job's delimiter and line ending; each page has its own header row.
//! - Data is generated from (seed, object, row index) on demand; ingest and Async SOQL changes
//!   sit in an overlay that later queries see.
//! - Timing: a job spends a tenth of the job duration waiting, the rest in progress.
//! - The org's clock is real time plus the simulated days skipped with [`Sim::next_day`] (`POST
//!   /__sim/next-day`); audit stamps (whole seconds, one per ingest job), job infos and the
//!   `Date` of Salesforce answers read it. Daily limits (`DailyApiRequests`,
//!   `DailyBulkV2QueryJobs`, `DailyBulkApiBatches`) are spent over a simulated day and given
//!   back whole by the next, where a real org rolls a 24-hour window.
//!
//! Families: Salesforce is the crate's first family and the one most callers use, so its
//! accessors and settings sit on [`Sim`] and [`SimBuilder`] themselves ([`Sim::instance_url`],
//! [`Sim::access_token`], [`SimBuilder::api_limit`], ...). Every other family keeps its own in
//! its module: its settings in an `Options` given to one builder method, what a test reads of it
//! in a `Handle` from one `Sim` method, e.g. [`SimBuilder::databricks`] and [`Sim::databricks`]
//! ([`databricks::Options`], [`databricks::Handle`]); [`looker`] likewise.
//!
//! Layout: `shared` is the core every family builds on (configuration, OAuth tokens, the one job
//! lifecycle, faults, network profiles, middleware, statistics, CSV, ids, generated data, the
//! listeners a family serves beside the main one); each family is one module owning its store,
//! routes, fault hooks, settings and accessors (`salesforce::query`, `salesforce::ingest`,
//! `salesforce::async_soql`, [`looker`], [`databricks`]), importing only the shared core and,
//! for the Salesforce families, what they share in `salesforce`; `app` puts them together, and
//! [`SimBuilder::start`] binds the main listener and every listener a family asks for beside it
//! (Databricks' storage origin) alike.
#![warn(missing_docs)]
// Handlers bail out early with a finished `Response` in `Err`; it is built once per request, so
// boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

mod app;
pub mod cli;
mod control;
pub mod databricks;
pub mod looker;
mod salesforce;
mod shared;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use haul_types::{AsyncQueryStatus, ColumnDelimiter, IngestJobState, LineEnding, QueryJobState};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use shared::faults::{FaultCounts, FaultPlan, FaultPlanError};
pub use shared::misbehave::Misbehaviour;
pub use shared::network::NetworkProfile;
pub use shared::stats::{RequestCount, Stats};

use crate::app::App;
use crate::shared::tokens::Realm;

/// Errors of the simulator's library API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The listening address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why binding failed.
        #[source]
        source: std::io::Error,
    },
    /// A SOQL query the simulator rejects, with the vendor's error code.
    #[error("{code}: {message}")]
    Query {
        /// `MALFORMED_QUERY`, `INVALID_FIELD` or `INVALID_TYPE`.
        code: String,
        /// The vendor-style message.
        message: String,
    },
    /// Writing output failed.
    #[error("writing output failed")]
    Io(#[from] std::io::Error),
    /// A fault spec could not be read.
    #[error("invalid fault spec")]
    Faults(#[from] FaultPlanError),
    /// A command-line argument is invalid.
    #[error("invalid argument: {0}")]
    Argument(String),
}

/// Configures and starts a simulator. Get one from [`Sim::builder`].
#[derive(Debug, Clone)]
pub struct SimBuilder {
    addr: SocketAddr,
    seed: u64,
    rows: BTreeMap<String, u64>,
    job_duration: Duration,
    profile: NetworkProfile,
    faults: FaultPlan,
    token_lifetime: Duration,
    api_limit: u64,
    default_page_size: u64,
    list_page_size: usize,
    token: Option<String>,
    query_timeout_rows: Option<u64>,
    daily_query_jobs: u64,
    modstamp_bursts: BTreeMap<String, u64>,
    looker: looker::Options,
    databricks: databricks::Options,
}

impl Default for SimBuilder {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: 42,
            rows: BTreeMap::new(),
            job_duration: Duration::ZERO,
            profile: NetworkProfile::none(),
            faults: FaultPlan::none(),
            token_lifetime: Duration::from_secs(365 * 86_400),
            api_limit: 1_000_000,
            default_page_size: 50_000,
            list_page_size: 1_000,
            token: None,
            query_timeout_rows: None,
            daily_query_jobs: 10_000,
            modstamp_bursts: BTreeMap::new(),
            looker: looker::Options::default(),
            databricks: databricks::Options::default(),
        }
    }
}

impl SimBuilder {
    /// Address to listen on; default `127.0.0.1:0` (any free port).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Seed of the generated data, ids and credentials; default 42.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Number of generated rows of a Salesforce object (`"Account"`, `"Contact"`, `"Opportunity"`,
    /// `"Sample_Event__b"`, `"Event_Copy__c"`), or of another family's table by its full name: a
    /// Looker view (`"thelook.users"`, `"thelook.orders"`, `"thelook.order_items"`,
    /// `"thelook.products"`) or a Databricks table (`"main.sales.orders"`, default 10 000;
    /// `"main.sales.customers"`, default 1 000).
    pub fn rows(mut self, object: &str, rows: u64) -> Self {
        self.rows.insert(object.to_owned(), rows);
        self
    }

    /// How long a job takes from creation to completion (0 = instant, the default).
    pub fn job_duration(mut self, duration: Duration) -> Self {
        self.job_duration = duration;
        self
    }

    /// Network latency and bandwidth; default none.
    pub fn profile(mut self, profile: NetworkProfile) -> Self {
        self.profile = profile;
        self
    }

    /// Faults to inject; default none.
    pub fn faults(mut self, faults: FaultPlan) -> Self {
        self.faults = faults;
        self
    }

    /// Lifetime of issued access tokens, including [`Sim::access_token`]; default one year.
    /// Looker reports at most an hour as `expires_in`.
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Salesforce API requests allowed a day (`DailyApiRequests`); the next one is refused with
    /// 403 `REQUEST_LIMIT_EXCEEDED` until [`Sim::next_day`]. Every request to the versioned REST
    /// and Bulk API resources counts, result downloads included; default 1 000 000.
    pub fn api_limit(mut self, limit: u64) -> Self {
        self.api_limit = limit;
        self
    }

    /// Bulk API 2.0 query jobs allowed a day (`DailyBulkV2QueryJobs`); creating the next one is
    /// refused with 400 `LIMIT_EXCEEDED` until [`Sim::next_day`]; default 10 000, the
    /// documented allocation.
    pub fn daily_query_jobs(mut self, jobs: u64) -> Self {
        self.daily_query_jobs = jobs;
        self
    }

    /// Every run of `rows` consecutive generated rows of `object` shares one `SystemModstamp`
    /// (and `LastModifiedDate`), as the rows of a data load a real org stamps within one second
    /// do; default: every generated row has its own. 0 turns bursts off.
    pub fn modstamp_bursts(mut self, object: &str, rows: u64) -> Self {
        self.modstamp_bursts.insert(object.to_owned(), rows);
        self
    }

    /// Rows per result page when a request has no `maxRecords`; default 50 000.
    pub fn default_page_size(mut self, rows: u64) -> Self {
        self.default_page_size = rows.max(1);
        self
    }

    /// Bulk query jobs whose results would hold more than `rows` rows end in `Failed` with a
    /// `QUERY_TIMEOUT` error message, the way a real org fails a query that does not execute
    /// within its two-minute limit (the size stands in for the time); default: none time out.
    pub fn query_timeout_rows(mut self, rows: u64) -> Self {
        self.query_timeout_rows = Some(rows);
        self
    }

    /// Jobs per page of the job listings; default 1 000 (the vendor's).
    pub fn list_page_size(mut self, jobs: usize) -> Self {
        self.list_page_size = jobs.max(1);
        self
    }

    /// Use this exact string as the initial Salesforce access token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    // Each family other than Salesforce takes its settings in one method, as a closure over its
    // `Options` rather than an `Options` value: a caller need not name the family's type, and two
    // calls add up (`.looker(|o| o.legacy_204(true))` keeps an earlier `result_ttl`) instead of
    // the second quietly resetting what the first set.

    /// Settings of the Looker family: `.looker(|o| o.legacy_204(true))`; see [`looker::Options`].
    pub fn looker(mut self, configure: impl FnOnce(looker::Options) -> looker::Options) -> Self {
        self.looker = configure(self.looker);
        self
    }

    /// Settings of the Databricks family: `.databricks(|o| o.rows(2_500).chunk_rows(1_000))`; see
    /// [`databricks::Options`].
    pub fn databricks(
        mut self,
        configure: impl FnOnce(databricks::Options) -> databricks::Options,
    ) -> Self {
        self.databricks = configure(self.databricks);
        self
    }

    /// Binds the address, and every listener a family serves beside it, and starts serving in
    /// the background.
    pub async fn start(self) -> Result<Sim, SimError> {
        let (listener, addr) = bind(self.addr).await?;
        let (stop, stopped) = watch::channel(false);
        let app = App::new(&self, stopped.clone());
        // Every extra listener is bound, and its URL handed to its family, before anything is
        // served: a request can never see a family that does not know its own origins yet.
        let mut extra = Vec::new();
        for wanted in app.extra_listeners() {
            let (socket, bound) = bind(wanted.addr).await?;
            wanted.origin.set(format!("http://{bound}"));
            extra.push((socket, wanted.router(&app.core)));
        }
        let core = &app.core;
        let access_token = match self.token {
            Some(token) => {
                core.tokens
                    .accept(Realm::Salesforce, token.clone(), self.token_lifetime);
                token
            }
            None => core.tokens.issue(Realm::Salesforce, self.token_lifetime),
        };
        let refresh_token = core.tokens.issue_refresh();
        let mut servers = vec![tokio::spawn(shared::server::serve(
            listener,
            app.router(),
            stopped.clone(),
        ))];
        for (socket, router) in extra {
            servers.push(tokio::spawn(shared::server::serve(
                socket,
                router,
                stopped.clone(),
            )));
        }
        Ok(Sim {
            app,
            addr,
            access_token,
            refresh_token,
            stop,
            servers,
        })
    }
}

/// Binds `addr`; the listener and the address it got.
async fn bind(addr: SocketAddr) -> Result<(tokio::net::TcpListener, SocketAddr), SimError> {
    let failed = |source| SimError::Bind { addr, source };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(failed)?;
    let bound = listener.local_addr().map_err(failed)?;
    Ok((listener, bound))
}

/// A running simulator. Dropping it stops the server (without waiting); [`Sim::shutdown`] waits.
#[derive(Debug)]
pub struct Sim {
    app: App,
    addr: SocketAddr,
    access_token: String,
    refresh_token: String,
    stop: watch::Sender<bool>,
    servers: Vec<JoinHandle<()>>,
}

impl Sim {
    /// A builder with the defaults.
    pub fn builder() -> SimBuilder {
        SimBuilder::default()
    }

    /// The Looker instance: its URL, client credentials and query tasks.
    pub fn looker(&self) -> looker::Handle<'_> {
        looker::Handle::new(&self.app.looker, self.addr)
    }

    /// The Databricks workspace: its host, credentials, SQL warehouse, storage origin and
    /// statements.
    pub fn databricks(&self) -> databricks::Handle<'_> {
        databricks::Handle::new(&self.app.databricks, self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Salesforce instance URL, `http://127.0.0.1:PORT` (API under `/services/data/vXX.X/`).
    pub fn instance_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A valid Salesforce access token (until [`Sim::expire_tokens`] or its lifetime ends).
    pub fn access_token(&self) -> &str {
        &self.access_token
    }

    /// A Salesforce refresh token for the `refresh_token` grant of `/services/oauth2/token`.
    pub fn sf_refresh_token(&self) -> &str {
        &self.refresh_token
    }

    /// Every access and refresh token of both realms issued or accepted so far, expired ones too,
    /// in order: for tests that check no token ever shows in logs or errors.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.app.core.tokens.ever_issued()
    }

    /// The Salesforce connected app's client id (also the JWT `iss`).
    pub fn sf_client_id(&self) -> &str {
        &self.app.core.credentials.sf_client_id
    }

    /// The Salesforce connected app's client secret.
    pub fn sf_client_secret(&self) -> &str {
        &self.app.core.credentials.sf_client_secret
    }

    /// Requests answered so far, by method, route template and status.
    pub fn stats(&self) -> Stats {
        self.app.core.stats.snapshot()
    }

    /// Salesforce API requests counted against the daily limit today (since the start or the
    /// last [`Sim::next_day`]).
    pub fn api_usage(&self) -> u64 {
        self.app.salesforce.usage()
    }

    /// Bulk API 2.0 query jobs asked for today (`DailyBulkV2QueryJobs` spent), refused ones
    /// included.
    pub fn query_jobs_used(&self) -> u64 {
        self.app.query.created()
    }

    /// Now on the org's clock: real time plus a day for every [`Sim::next_day`]. Audit fields,
    /// job infos and the `Date` of Salesforce answers read this clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.app.core.calendar.now()
    }

    /// Begins the next simulated day (also `POST /__sim/next-day`): the org's clock moves 24
    /// hours on, so later changes are stamped a day later, and every daily allowance
    /// (`DailyApiRequests`, `DailyBulkV2QueryJobs`, `DailyBulkApiBatches`) is whole again. Real
    /// orgs count these over a rolling 24-hour window; the simulator gives everything back at
    /// once, so that a test says when a spent budget returns. Returns the days skipped so far.
    pub fn next_day(&self) -> u32 {
        self.app.core.calendar.next_day()
    }

    /// Restores soft-deleted records of `object` from the Recycle Bin (also `POST
    /// /__sim/undelete`), as SOAP API's `undelete()` does; none of the APIs haul-sim serves can.
    /// Each record gets `IsDeleted` false and its `SystemModstamp` and `LastModifiedDate` moved
    /// to now, one stamp for all of them. Returns how many were restored; an id that is not in
    /// the Recycle Bin (live, hard-deleted or unknown) is left alone. An error for an object
    /// without a Recycle Bin.
    pub fn undelete(&self, object: &str, ids: &[&str]) -> Result<u64, SimError> {
        let results = control::undelete(&self.app.core, object, ids).map_err(SimError::Argument)?;
        Ok(results.iter().filter(|r| r.error.is_none()).count() as u64)
    }

    /// The state of a query job, or `None` if there is no such job (never created, or deleted).
    pub fn query_job_state(&self, id: &str) -> Option<QueryJobState> {
        self.app.query.job_state(id)
    }

    /// The state of an ingest job, or `None` if there is no such job.
    pub fn ingest_job_state(&self, id: &str) -> Option<IngestJobState> {
        self.app.ingest.job_state(id)
    }

    /// The status of an Async SOQL query, or `None` if there is no such query.
    pub fn async_query_status(&self, id: &str) -> Option<AsyncQueryStatus> {
        self.app.async_soql.status(id)
    }

    /// Live (not deleted) records of a Salesforce object now, or `None` for an unknown object.
    pub fn record_count(&self, object: &str) -> Option<u64> {
        shared::data::schema::object(object).map(|o| self.app.core.org.snapshot(o).live_count())
    }

    /// Invalidates every access token issued so far, of every family alike (personal access
    /// tokens too, such as Databricks'; refresh tokens and client credentials keep
    /// working).
    pub fn expire_tokens(&self) {
        self.app.core.tokens.expire_all();
    }

    /// The next query job created will end in `Failed`.
    pub fn fail_next_query_job(&self) {
        self.app.query.fail_next();
    }

    /// The next ingest job created will end in `Failed` with an `errorMessage`.
    pub fn fail_next_ingest_job(&self) {
        self.app.ingest.fail_next();
    }

    /// The next Async SOQL query created will end in `Failed` with a `message`.
    pub fn fail_next_async_query(&self) {
        self.app.async_soql.fail_next();
    }

    /// Faults injected so far, by kind (also `GET /__sim/faults`).
    pub fn faults_injected(&self) -> FaultCounts {
        self.app.core.faults.counts()
    }

    /// The next result page served reports `Sforce-NumberOfRecords` off by `delta` (once).
    pub fn lie_about_record_count(&self, delta: i64) {
        self.app.query.lie_next(delta);
    }

    /// The next request with this method and route template (as in [`Stats`], e.g.
    /// `/services/data/{version}/jobs/query/{id}`) is answered wrongly, as `misbehaviour` says.
    /// Several queued for one route are used oldest first, one a request.
    pub fn misbehave_next(&self, method: &str, route: &str, misbehaviour: Misbehaviour) {
        self.app
            .core
            .misbehaviours
            .push(method, route, None, misbehaviour);
    }

    /// Like [`Sim::misbehave_next`], for the next such request whose query string contains
    /// `query_contains` (such as `locator=MTA`, see [`Sim::result_locator`]).
    pub fn misbehave_next_where(
        &self,
        method: &str,
        route: &str,
        query_contains: &str,
        misbehaviour: Misbehaviour,
    ) {
        self.app
            .core
            .misbehaviours
            .push(method, route, Some(query_contains), misbehaviour);
    }

    /// The `Sforce-Locator` of the query result page that starts at row `offset` (from 0).
    pub fn result_locator(&self, offset: u64) -> String {
        salesforce::rest::encode_locator(offset)
    }

    /// The complete CSV a correct client produces by downloading `soql` (operation `query`) now:
    /// one header row, then every row in result order, in the given dialect.
    pub fn expected_query_csv(
        &self,
        soql: &str,
        delimiter: ColumnDelimiter,
        line_ending: LineEnding,
    ) -> Result<Vec<u8>, SimError> {
        let mut out = Vec::new();
        self.write_expected_query_csv(soql, delimiter, line_ending, &mut out)?;
        Ok(out)
    }

    /// Like [`Sim::expected_query_csv`], streamed into `out` (for big results); returns the
    /// number of data rows written.
    pub fn write_expected_query_csv(
        &self,
        soql: &str,
        delimiter: ColumnDelimiter,
        line_ending: LineEnding,
        out: &mut impl Write,
    ) -> Result<u64, SimError> {
        let parsed = shared::data::soql::parse(soql).map_err(|e| SimError::Query {
            code: e.code.to_owned(),
            message: e.message,
        })?;
        let org = &self.app.core.org;
        let rows = shared::data::query::evaluate(
            org.snapshot(parsed.object),
            shared::data::query::parents(org, &parsed),
            &parsed,
            false,
        );
        let dialect = shared::csv::Dialect::new(&delimiter, &line_ending);
        let mut buf = Vec::with_capacity(1 << 20);
        rows.write_header(&mut buf, dialect);
        let mut position = 0;
        while position < rows.len() {
            let end = (position + 4096).min(rows.len());
            rows.write_rows(&mut buf, dialect, position, end);
            out.write_all(&buf)?;
            buf.clear();
            position = end;
        }
        out.write_all(&buf)?;
        Ok(rows.len())
    }

    /// Stops the servers and waits (up to five seconds each) for them to finish.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for mut server in std::mem::take(&mut self.servers) {
            if tokio::time::timeout(Duration::from_secs(5), &mut server)
                .await
                .is_err()
            {
                server.abort();
            }
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for server in self.servers.drain(..) {
            server.abort();
        }
    }
}
