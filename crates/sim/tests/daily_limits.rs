//! The daily limits an extract spends, enforced and given back by the next simulated day:
//! `DailyApiRequests` (every REST and Bulk API request, result downloads included),
//! `DailyBulkV2QueryJobs` (every query job asked for), `DailyBulkApiBatches` (ingest), as
//! `/limits` and `Sforce-Limit-Info` report them.
mod common;

use clap::Parser as _;
use common::*;
use haul_sim::Sim;
use serde_json::{Value, json};

/// `GET /limits`: the limits document and the `Sforce-Limit-Info` of its answer.
async fn limits(sim: &Sim) -> (Value, String) {
    let r = client()
        .get(sf(sim, "/limits"))
        .bearer_auth(sim.access_token())
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 200);
    let usage = header(r.headers(), "sforce-limit-info").to_owned();
    (r.json().await.expect("JSON"), usage)
}

async fn next_day(sim: &Sim) -> Value {
    let r = client()
        .post(format!("{}/__sim/next-day", sim.instance_url()))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.expect("JSON")
}

#[tokio::test]
async fn api_requests_are_spent_refused_when_gone_and_back_the_next_day() {
    // Room for the polls of one job however many the machine's load makes it take.
    const LIMIT: u64 = 60;
    let sim = Sim::builder()
        .rows("Account", 10)
        .api_limit(LIMIT)
        .start()
        .await
        .expect("starts");
    // Job creation, its polls, a result download, /limits: each request counts one, as "each
    // HTTP request counts as one call".
    let id = completed_query(&sim, "SELECT Id FROM Account").await;
    let before_download = sim.api_usage();
    assert!(
        before_download >= 2,
        "creation and a poll: {before_download}"
    );
    let (status, headers, _) = page(&sim, &id, "").await;
    assert_eq!(status, 200);
    assert_eq!(
        sim.api_usage(),
        before_download + 1,
        "a result download counts"
    );
    assert_eq!(
        header(&headers, "sforce-limit-info"),
        format!("api-usage={}/{LIMIT}", before_download + 1)
    );
    let (document, usage) = limits(&sim).await;
    let used = sim.api_usage();
    assert_eq!(used, before_download + 2);
    assert_eq!(usage, format!("api-usage={used}/{LIMIT}"));
    assert_eq!(
        document["DailyApiRequests"],
        json!({"Max": LIMIT, "Remaining": LIMIT - used})
    );
    // Spend the rest; the next one is refused exactly as a real org refuses it.
    for _ in used..LIMIT {
        assert_eq!(get_json(&sim, "/jobs/query").await.0, 200);
    }
    let r = client()
        .get(sf(&sim, "/jobs/query"))
        .bearer_auth(sim.access_token())
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(
        header(r.headers(), "sforce-limit-info"),
        format!("api-usage={}/{LIMIT}", LIMIT + 1)
    );
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(
        body,
        json!([{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}])
    );
    assert_eq!(
        page(&sim, &id, "").await.0,
        403,
        "downloads are refused too"
    );

    assert_eq!(next_day(&sim).await["day"], 1);
    assert_eq!(sim.api_usage(), 0);
    let (status, headers, _) = page(&sim, &id, "").await;
    assert_eq!(status, 200, "the job and its results outlive the day");
    assert_eq!(
        header(&headers, "sforce-limit-info"),
        format!("api-usage=1/{LIMIT}")
    );
    let (document, _) = limits(&sim).await;
    assert_eq!(
        document["DailyApiRequests"],
        json!({"Max": LIMIT, "Remaining": LIMIT - 2})
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn query_jobs_over_the_daily_allocation_are_refused_until_the_next_day() {
    let sim = Sim::builder()
        .rows("Account", 10)
        .daily_query_jobs(2)
        .start()
        .await
        .expect("starts");
    let (document, _) = limits(&sim).await;
    assert_eq!(
        document["DailyBulkV2QueryJobs"],
        json!({"Max": 2, "Remaining": 2})
    );
    create_query(&sim, "SELECT Id FROM Account").await;
    create_query(&sim, "SELECT Name FROM Account").await;
    let (status, body) = post_json(
        &sim,
        "/jobs/query",
        &json!({"operation": "query", "query": "SELECT Bogus__x FROM Account"}),
    )
    .await;
    assert_eq!(
        (status, body[0]["errorCode"].as_str()),
        (400, Some("INVALID_FIELD")),
        "an invalid query is refused for itself, spending no job"
    );
    sim.fail_next_query_job();
    let (status, body) = post_json(
        &sim,
        "/jobs/query",
        &json!({"operation": "queryAll", "query": "SELECT Id FROM Account"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!([{"errorCode": "LIMIT_EXCEEDED", "message": "Max bulk v2 query jobs (2) per 24 hrs has been reached (3)"}])
    );
    assert_eq!(sim.query_jobs_used(), 3);
    let (document, _) = limits(&sim).await;
    assert_eq!(
        document["DailyBulkV2QueryJobs"],
        json!({"Max": 2, "Remaining": 0})
    );

    sim.next_day();
    assert_eq!(sim.query_jobs_used(), 0);
    let id = create_query(&sim, "SELECT Id FROM Account").await;
    let info = wait_for(
        &sim,
        &format!("/jobs/query/{id}"),
        "state",
        &["JobComplete", "Failed"],
    )
    .await;
    assert_eq!(
        info["state"], "Failed",
        "the refused job left the failure armed"
    );
    let (document, _) = limits(&sim).await;
    assert_eq!(
        document["DailyBulkV2QueryJobs"],
        json!({"Max": 2, "Remaining": 1})
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn ingest_spends_a_batch_a_ten_thousand_rows_until_the_next_day() {
    let sim = Sim::builder()
        .rows("Account", 0)
        .start()
        .await
        .expect("starts");
    let mut csv = String::from("Name\n");
    for n in 0..10_001 {
        csv.push_str(&format!("Company {n}\n"));
    }
    let info = run_ingest(
        &sim,
        &json!({"object": "Account", "operation": "insert"}),
        &csv,
    )
    .await;
    assert_eq!(info["numberRecordsProcessed"], 10_001, "{info}");
    let (document, _) = limits(&sim).await;
    assert_eq!(
        document["DailyBulkApiBatches"],
        json!({"Max": 15_000, "Remaining": 14_998})
    );
    next_day(&sim).await;
    let (document, _) = limits(&sim).await;
    assert_eq!(
        document["DailyBulkApiBatches"],
        json!({"Max": 15_000, "Remaining": 15_000})
    );
    sim.shutdown().await;
}

/// `haul-sim`'s options, as `haul-sim` and `haul sim` parse them.
#[derive(Debug, clap::Parser)]
struct Cli {
    #[command(flatten)]
    sim: haul_sim::cli::SimArgs,
}

#[tokio::test]
async fn the_limit_options_reach_the_builder() {
    let cli = Cli::try_parse_from([
        "haul-sim",
        "--addr",
        "127.0.0.1:0",
        "--api-limit",
        "50",
        "--daily-query-jobs",
        "7",
    ])
    .expect("parses");
    let sim = cli
        .sim
        .builder()
        .expect("valid")
        .start()
        .await
        .expect("starts");
    let (document, usage) = limits(&sim).await;
    assert_eq!(usage, "api-usage=1/50");
    assert_eq!(document["DailyApiRequests"]["Max"], 50);
    assert_eq!(document["DailyBulkV2QueryJobs"]["Max"], 7);
    let defaults = Cli::try_parse_from(["haul-sim"]).expect("parses");
    assert_eq!(defaults.sim.daily_query_jobs, 10_000);
    assert_eq!(defaults.sim.api_limit, 1_000_000);
    sim.shutdown().await;
}
