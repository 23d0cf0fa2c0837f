//! Loads a CSV file of accounts with Bulk API 2.0 ingest jobs, then prints the summary and the first
//! rows that failed.
//!
//! Runs against the org named by `SF_INSTANCE_URL` and `SF_ACCESS_TOKEN` when both are set, and
//! otherwise against a haul-sim started in-process. The file is written first: 100,000 accounts, one
//! in a thousand without the required Name, split into jobs of at most 1 MB to show the splitting:
//!
//! ```sh
//! cargo run -p haul --example ingest_csv
//! ```

use futures::{StreamExt, TryStreamExt};
use haul::Salesforce;
use haul::auth::AccessToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (sf, _sim) = connect().await?;
    let path = std::env::temp_dir().join("haul-example-accounts.csv");
    write_input(&path)?;

    let outcome = sf
        .bulk_ingest("Account")
        .insert()
        .csv_file(&path)
        .max_job_bytes(1_000_000)
        .concurrency(4)
        .run()
        .await?;
    let summary = &outcome.summary;
    println!(
        "{} jobs: {} rows written, {} failed, {} unprocessed",
        summary.jobs.len(),
        summary.records_succeeded(),
        summary.records_failed,
        summary.records_unprocessed
    );
    for job in &summary.jobs {
        println!(
            "  {} {}: {} rows, {} bytes",
            job.id, job.state, job.records_uploaded, job.bytes_uploaded
        );
    }
    let mut failed = outcome.failed_results().take(5);
    while let Some(row) = failed.try_next().await? {
        println!(
            "failed: {:?} ({})",
            row.fields.get("BillingCity").unwrap_or_default(),
            row.error
        );
    }
    std::fs::remove_file(&path)?;
    Ok(())
}

/// A CSV with a quoted comma in every name, and a missing name every thousandth row.
fn write_input(path: &std::path::Path) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "Name,BillingCity")?;
    for i in 0..100_000 {
        let name = if i % 1000 == 999 {
            String::new()
        } else {
            format!("\"Example {i}, Inc.\"")
        };
        writeln!(out, "{name},City {}", i % 97)?;
    }
    out.flush()
}

/// The configured org, or a simulator (kept alive by the returned handle).
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
    let sim = haul_sim::Sim::builder().rows("Account", 0).start().await?;
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
