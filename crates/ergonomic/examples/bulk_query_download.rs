//! Downloads a bulk query to a CSV file, in one call.
//!
//! Runs against the org named by `SF_INSTANCE_URL` and `SF_ACCESS_TOKEN` when both are set, and
//! otherwise against a haul-sim started in-process:
//!
//! ```sh
//! cargo run -p haul --example bulk_query_download
//! ```
//!
//! It writes `accounts.csv` and, last, its manifest `accounts.csv.manifest.json`. A second run
//! refuses to replace that complete output; `bulk_query_steps` shows `overwrite`.

use haul::Salesforce;
use haul::auth::AccessToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (sf, _sim) = connect().await?;
    let report = sf
        .bulk_query("SELECT Id, Name, Industry FROM Account")
        .download_to("accounts.csv")
        .await?;
    println!(
        "wrote {} rows in {} pages to {}",
        report.records,
        report.pages,
        report.path.display()
    );
    Ok(())
}

/// The configured org, or a simulator with 25,000 accounts (kept alive by the returned handle).
async fn connect() -> Result<(Salesforce, Option<haul_sim::Sim>), Box<dyn std::error::Error>> {
    if let (Ok(url), Ok(token)) = (
        std::env::var("SF_INSTANCE_URL"),
        std::env::var("SF_ACCESS_TOKEN"),
    ) {
        let sf = Salesforce::builder()
            .instance_url(url)
            .auth(AccessToken::new(token))
            .build()?;
        return Ok((sf, None));
    }
    let sim = haul_sim::Sim::builder()
        .rows("Account", 25_000)
        .start()
        .await?;
    eprintln!(
        "no SF_INSTANCE_URL/SF_ACCESS_TOKEN: using a simulator at {}",
        sim.instance_url()
    );
    let sf = Salesforce::builder()
        .instance_url(sim.instance_url())
        .auth(AccessToken::new(sim.access_token()))
        .build()?;
    Ok((sf, Some(sim)))
}
