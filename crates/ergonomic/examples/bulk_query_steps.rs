//! Every step of a bulk query: submit, wait with progress, read typed rows, download in parallel with
//! a progress display, and clean up.
//!
//! ```sh
//! cargo run -p haul --example bulk_query_steps
//! ```

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use haul::Salesforce;
use haul::auth::AccessToken;

#[derive(serde::Deserialize)]
struct Account {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Name")]
    name: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = haul_sim::Sim::builder()
        .rows("Account", 200_000)
        .job_duration(Duration::from_secs(2))
        .start()
        .await?;
    let sf = Salesforce::builder()
        .instance_url(sim.instance_url())
        .auth(AccessToken::new(sim.access_token()))
        .build()?;

    let job = sf
        .bulk_query("SELECT Id, Name FROM Account")
        .submit()
        .await?;
    println!("created {}", job.id());
    let wait = job
        .wait()
        .timeout(Duration::from_secs(600))
        .abort_on_drop(true);
    let mut states = wait.progress();
    let watcher = tokio::spawn(async move {
        while states.changed().await.is_ok() {
            if let Some(info) = states.borrow_and_update().as_ref() {
                println!("  state {}", info.state);
            }
        }
    });
    let done = wait.await?;
    watcher.abort();
    println!(
        "{} with {:?} rows",
        done.info().state,
        done.expected_records()
    );

    // Typed rows are read lazily: taking three fetches only the first page.
    let first: Vec<Account> = done.records::<Account>().take(3).try_collect().await?;
    for account in &first {
        println!("  {} {:?}", account.id, account.name);
    }

    let download = done
        .download()
        .concurrency(8)
        .max_records(25_000)
        // Replaces the accounts.csv of an earlier run (without it, a complete output is kept).
        .overwrite(true)
        .to_file("accounts.csv");
    let mut progress = download.progress();
    let display = tokio::spawn(async move {
        while progress.changed().await.is_ok() {
            let p = progress.borrow_and_update().clone();
            println!(
                "  {} pages, {} of {:?} rows, {} bytes",
                p.pages, p.records, p.expected_records, p.bytes
            );
        }
    });
    let report = download.await?;
    display.abort();
    println!(
        "downloaded {} rows ({} bytes) in {:?}",
        report.records, report.bytes, report.elapsed
    );

    job.delete().await?;
    sim.shutdown().await;
    Ok(())
}
