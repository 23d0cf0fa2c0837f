//! The simulator's command line, shared by the `haul-sim` binary and `haul sim`: parse
//! [`SimArgs`] with clap, then [`run`] serves in the foreground until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;

use crate::{FaultPlan, NetworkProfile, Sim, SimBuilder, SimError};

/// Options of `haul-sim` (and `haul sim`).
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// Address to listen on (use 127.0.0.1:0 for any free port).
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub addr: SocketAddr,
    /// Seed of the generated data, ids and credentials.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Rows of an object or Looker view, e.g. `--rows Account=4000000 --rows thelook.users=100`.
    #[arg(long = "rows", value_name = "OBJECT=N")]
    pub rows: Vec<String>,
    /// Seconds a job takes from creation to completion.
    #[arg(long, default_value_t = 0.2)]
    pub job_seconds: f64,
    /// Latency added to every response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Bandwidth cap per connection, in megabits per second (none if absent).
    #[arg(long)]
    pub bandwidth_mbps: Option<f64>,
    /// Faults to inject, e.g. `503=0.05,429=0.02,reset=0.02,truncate=0.01,seed=7`.
    #[arg(long)]
    pub faults: Option<String>,
    /// Fixed Salesforce access token to accept (default: a generated one).
    #[arg(long)]
    pub token: Option<String>,
    /// Salesforce API requests allowed a simulated day (DailyApiRequests; every REST and Bulk
    /// API request counts, result downloads too); then 403 REQUEST_LIMIT_EXCEEDED until
    /// `POST /__sim/next-day`.
    #[arg(long, default_value_t = 1_000_000)]
    pub api_limit: u64,
    /// Bulk API 2.0 query jobs allowed a simulated day (DailyBulkV2QueryJobs); then job creation
    /// gets 400 LIMIT_EXCEEDED until `POST /__sim/next-day`.
    #[arg(long, value_name = "JOBS", default_value_t = 10_000)]
    pub daily_query_jobs: u64,
    /// Consecutive generated rows of an object that share one SystemModstamp, as a data load
    /// stamps them, e.g. `--modstamp-burst Account=5000` (default: every row its own).
    #[arg(long = "modstamp-burst", value_name = "OBJECT=N")]
    pub modstamp_bursts: Vec<String>,
    /// Lifetime of issued access tokens, in seconds (default: one year). Looker reports at most
    /// an hour. `POST /__sim/expire-tokens` ends them all at once.
    #[arg(long, value_name = "SECONDS")]
    pub token_lifetime_secs: Option<u64>,
    /// Bulk query jobs whose results would hold more rows than this fail with QUERY_TIMEOUT, as
    /// a real org's do when a query runs past its two minutes (none if absent).
    #[arg(long, value_name = "ROWS")]
    pub query_timeout_rows: Option<u64>,
    /// The Databricks family's flags.
    #[command(flatten)]
    pub databricks: crate::databricks::Args,
}

impl SimArgs {
    /// The builder these options describe.
    pub fn builder(&self) -> Result<SimBuilder, SimError> {
        if !(self.job_seconds.is_finite() && self.job_seconds >= 0.0) {
            return Err(SimError::Argument(format!(
                "--job-seconds {} is not a duration",
                self.job_seconds
            )));
        }
        let mut builder = Sim::builder()
            .addr(self.addr)
            .seed(self.seed)
            .job_duration(Duration::from_secs_f64(self.job_seconds))
            .api_limit(self.api_limit)
            .daily_query_jobs(self.daily_query_jobs)
            .databricks(|o| self.databricks.apply(o));
        for entry in &self.rows {
            let (object, n) = object_count("--rows", entry)?;
            builder = builder.rows(object, n);
        }
        for entry in &self.modstamp_bursts {
            let (object, n) = object_count("--modstamp-burst", entry)?;
            builder = builder.modstamp_bursts(object, n);
        }
        let latency = Duration::from_millis(self.latency_ms);
        builder = builder.profile(match self.bandwidth_mbps {
            Some(mbps) if mbps > 0.0 && mbps.is_finite() => {
                NetworkProfile::wan(latency, (mbps * 125_000.0) as u64)
            }
            Some(mbps) => {
                return Err(SimError::Argument(format!(
                    "--bandwidth-mbps {mbps} must be positive"
                )));
            }
            None => NetworkProfile::latency(latency),
        });
        if let Some(spec) = &self.faults {
            builder = builder.faults(FaultPlan::parse(spec)?);
        }
        if let Some(token) = &self.token {
            builder = builder.token(token.clone());
        }
        if let Some(seconds) = self.token_lifetime_secs {
            builder = builder.token_lifetime(Duration::from_secs(seconds));
        }
        if let Some(rows) = self.query_timeout_rows {
            builder = builder.query_timeout_rows(rows);
        }
        Ok(builder)
    }
}

/// `OBJECT=N` of the option `flag` (`N` may have `_` separators).
fn object_count<'a>(flag: &str, entry: &'a str) -> Result<(&'a str, u64), SimError> {
    entry
        .split_once('=')
        .and_then(|(o, n)| Some((o.trim(), n.trim().replace('_', "").parse::<u64>().ok()?)))
        .ok_or_else(|| SimError::Argument(format!("{flag} {entry}: expected OBJECT=N")))
}

/// The one JSON line printed when the simulator is ready.
pub fn ready_line(sim: &Sim) -> String {
    let (looker, databricks) = (sim.looker(), sim.databricks());
    json!({
        "instance_url": sim.instance_url(),
        "looker_base_url": looker.base_url(),
        "access_token": sim.access_token(),
        "sf_refresh_token": sim.sf_refresh_token(),
        "sf_client_id": sim.sf_client_id(),
        "sf_client_secret": sim.sf_client_secret(),
        "looker_client_id": looker.client_id(),
        "looker_client_secret": looker.client_secret(),
        "databricks_host": databricks.host(),
        "databricks_token": databricks.token(),
        "databricks_client_id": databricks.client_id(),
        "databricks_client_secret": databricks.client_secret(),
        "databricks_warehouse_id": databricks.warehouse_id(),
        "databricks_storage_url": databricks.storage_url(),
    })
    .to_string()
}

/// Starts the simulator, prints [`ready_line`] on stdout, and serves until SIGINT or SIGTERM.
pub async fn run(args: SimArgs) -> Result<(), SimError> {
    let sim = args.builder()?.start().await?;
    println!("{}", ready_line(&sim));
    stop_signal().await?;
    sim.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn stop_signal() -> Result<(), SimError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = term.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
async fn stop_signal() -> Result<(), SimError> {
    tokio::signal::ctrl_c().await?;
    Ok(())
}
