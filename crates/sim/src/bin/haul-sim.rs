//! `haul-sim`: runs the simulator in the foreground; prints one JSON line with URLs and
//! credentials when ready; stops on SIGINT or SIGTERM.

use clap::Parser;

/// Simulator of Salesforce Bulk API 2.0, Async SOQL, Looker 4.0 query tasks and the Databricks
/// SQL Statement Execution API. The ready line names the Databricks host (the same server) and
/// the storage origin its external links point at (another port).
///
/// Control routes for tests (no token needed, never counted as API requests): `GET
/// /__sim/stats`, `GET /__sim/faults`, `POST /__sim/expire-tokens`, `POST /__sim/next-day` (the
/// org's clock moves a day on and the daily limits come back), `POST /__sim/undelete` with
/// `{"object": "Account", "ids": [...]}` (restores records from the Recycle Bin), `POST
/// /__sim/databricks/expire-links` (every Databricks external link issued so far expires).
#[derive(Debug, Parser)]
#[command(name = "haul-sim", version)]
struct Cli {
    #[command(flatten)]
    sim: haul_sim::cli::SimArgs,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(haul_sim::cli::run(cli.sim))?;
    Ok(())
}
