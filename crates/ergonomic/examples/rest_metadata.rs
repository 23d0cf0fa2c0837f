//! The org's limits, an object's fields, and a small SOQL query through the REST API.
//!
//! Runs against the org named by `SF_INSTANCE_URL` and `SF_ACCESS_TOKEN` when both are set, and
//! otherwise against a haul-sim started in-process:
//!
//! ```sh
//! cargo run -p haul --example rest_metadata
//! ```

use futures::TryStreamExt;
use haul::Salesforce;
use haul::auth::AccessToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (sf, _sim) = connect().await?;
    let limits = sf.limits().await?;
    if let Some(jobs) = limits.daily_bulk_v2_query_jobs() {
        println!(
            "bulk query jobs today: {} of {} left",
            jobs.remaining, jobs.max
        );
    }
    let account = sf.describe("Account").await?;
    for field in account.fields.iter().take(10) {
        println!("{:<24} {:<12} {:?}", field.name, field.type_, field.length);
    }
    let rows: Vec<haul::salesforce::rest::Row> = sf
        .query("SELECT Id, Name FROM Account LIMIT 500")
        .batch_size(200)
        .rows()
        .try_collect()
        .await?;
    println!("{} accounts read through the REST API", rows.len());
    Ok(())
}

/// The configured org, or a simulator with 1,000 accounts (kept alive by the returned handle).
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
        .rows("Account", 1_000)
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
