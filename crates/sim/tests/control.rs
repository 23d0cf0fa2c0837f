//! The `/__sim` control routes a test running the binary uses: `POST /__sim/expire-tokens`,
//! `GET /__sim/faults`, and the `--token-lifetime-secs` option.

mod common;

use clap::Parser as _;
use common::{client, get_json};
use haul_sim::{FaultPlan, Sim};

#[tokio::test]
async fn expire_tokens_route_ends_every_access_token() {
    let sim = Sim::builder().start().await.expect("starts");
    assert_eq!(get_json(&sim, "/jobs/query").await.0, 200);
    let answer = client()
        .post(format!("{}/__sim/expire-tokens", sim.instance_url()))
        .send()
        .await
        .expect("request");
    assert_eq!(answer.status().as_u16(), 204);
    assert_eq!(get_json(&sim, "/jobs/query").await.0, 401);
}

#[tokio::test]
async fn faults_route_counts_what_was_injected() {
    let plan = FaultPlan::parse("503=0.5,429=0.5,seed=9").expect("valid");
    let sim = Sim::builder().faults(plan).start().await.expect("starts");
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(get_json(&sim, "/jobs/query").await.0);
    }
    let counts: serde_json::Value = client()
        .get(format!("{}/__sim/faults", sim.instance_url()))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    let seen = |code: u16| statuses.iter().filter(|s| **s == code).count() as u64;
    assert_eq!(counts["503"].as_u64(), Some(seen(503)), "{counts}");
    assert_eq!(counts["429"].as_u64(), Some(seen(429)), "{counts}");
    assert_eq!(seen(503) + seen(429), 40);
    assert_eq!(counts["reset"].as_u64(), Some(0), "{counts}");
    assert_eq!(sim.faults_injected().status_503, seen(503));
}

/// `--token-lifetime-secs` reaches the builder (the flag is shared by `haul-sim` and `haul sim`).
#[derive(Debug, clap::Parser)]
struct Cli {
    #[command(flatten)]
    sim: haul_sim::cli::SimArgs,
}

#[tokio::test]
async fn token_lifetime_option_shortens_tokens() {
    let cli = Cli::try_parse_from([
        "haul-sim",
        "--addr",
        "127.0.0.1:0",
        "--token-lifetime-secs",
        "1",
    ])
    .expect("parses");
    let sim = cli
        .sim
        .builder()
        .expect("valid")
        .start()
        .await
        .expect("starts");
    assert_eq!(get_json(&sim, "/jobs/query").await.0, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    assert_eq!(get_json(&sim, "/jobs/query").await.0, 401);
}
