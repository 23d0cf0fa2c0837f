//! `haul-sim`: runs the simulator in the foreground; prints one JSON line with URLs and
//! credentials when ready; stops on SIGINT or SIGTERM.

use clap::Parser;

/// Simulator of Salesforce Bulk API 2.0, Async SOQL and Looker 4.0 query tasks.
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
