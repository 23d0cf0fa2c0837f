//! Looker query tasks against haul-sim: store queries, run one to CSV, read typed rows, then wait for
//! a dozen tasks at once through multi_results (one request per round for all of them).
//!
//! ```sh
//! cargo run -p haul --example looker_tasks
//! ```

use std::time::Duration;

use haul::BackoffPolicy;
use haul::looker::{Looker, LookerResultFormat, Query};

#[derive(Debug, serde::Deserialize)]
struct StateCount {
    #[serde(rename = "users.state")]
    state: String,
    #[serde(rename = "users.count")]
    users: u64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = haul_sim::Sim::builder()
        .job_duration(Duration::from_millis(800))
        .start()
        .await?;
    let looker = Looker::builder()
        .base_url(sim.looker().base_url())
        .client_credentials(sim.looker().client_id(), sim.looker().client_secret())
        .logout_on_drop(true)
        .build()?;
    looker.connect().await?;

    let by_state = Query::new("thelook", "users")
        .fields(["users.state", "users.count"])
        .sort("users.count desc")
        .limit(5);
    let id = looker.create_query(by_state).await?;
    let csv = looker
        .run_query(&id)
        .format(LookerResultFormat::Csv)
        .abort_on_drop(true)
        .text()
        .await?;
    println!("query {id} as CSV:\n{csv}");

    let rows: Vec<StateCount> = looker.run_query(&id).rows().await?;
    for row in &rows {
        println!("{:>12}: {} users", row.state, row.users);
    }

    let mut ids = Vec::new();
    for limit in 1..=12 {
        let query = Query::new("thelook", "orders")
            .fields(["orders.created_date", "orders.count"])
            .sort("orders.created_date desc")
            .limit(limit);
        ids.push(looker.create_query(query).await?);
    }
    let each = looker
        .run_queries(&ids)
        .format(LookerResultFormat::Json)
        .backoff(BackoffPolicy::fixed(Duration::from_millis(200)))
        .abort_on_drop(true)
        .await?;
    for (query_id, results) in ids.iter().zip(each) {
        let results = results?;
        println!(
            "query {query_id}: task {} returned {} bytes",
            results.task_id(),
            results.bytes().len()
        );
    }
    let multi = sim
        .stats()
        .count("GET", "/api/4.0/query_tasks/multi_results");
    println!("12 tasks waited for with {multi} multi_results requests");

    looker.logout().await?;
    sim.shutdown().await;
    Ok(())
}
