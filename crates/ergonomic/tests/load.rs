//! Load: 200 query jobs at once through one client and one simulator all complete with the right
//! rows, nothing deadlocks, and the client never has more requests in flight than its
//! `max_concurrent_requests`; a download never has more pages in flight than its concurrency.

mod common;

use std::time::Duration;

use common::{TempDir, client, quick_retries};
use haul::Salesforce;
use haul::auth::AccessToken;
use haul::types::{ColumnDelimiter, LineEnding};
use haul_sim::NetworkProfile;

const SOQL: &str = "SELECT Id, Name FROM Account";
const RESULTS: &str = "/services/data/{version}/jobs/query/{id}/results";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_jobs_through_one_client_all_complete() {
    const JOBS: usize = 200;
    const LIMIT: usize = 8;
    // Latency on every answer keeps requests overlapping, so that the limit is really pressed.
    let sim = common::sim()
        .rows("Account", 45)
        .profile(NetworkProfile::latency(Duration::from_millis(5)))
        .start()
        .await
        .unwrap();
    let sf = Salesforce::builder()
        .instance_url(sim.instance_url())
        .auth(AccessToken::new(sim.access_token()))
        .retry(quick_retries())
        .max_concurrent_requests(LIMIT)
        .build()
        .unwrap();
    let dir = TempDir::new("load");
    let expected = sim
        .expected_query_csv(SOQL, ColumnDelimiter::Comma, LineEnding::Lf)
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..JOBS {
        let sf = sf.clone();
        let path = dir.join(&format!("{n}.csv"));
        tasks.spawn(async move {
            let done = sf.bulk_query(SOQL).submit().await?.wait().await?;
            let report = done
                .download()
                .concurrency(2)
                .max_records(20)
                .to_file(&path)
                .await?;
            Ok::<_, haul::Error>((path, report))
        });
    }
    let all = tokio::time::timeout(Duration::from_secs(180), async {
        let mut finished = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            finished.push(joined.expect("no task panicked").expect("job completed"));
        }
        finished
    })
    .await
    .expect("deadlock: the jobs did not all finish");
    assert_eq!(all.len(), JOBS);
    for (path, report) in &all {
        assert_eq!(
            (report.records, report.pages),
            (45, 3),
            "{}",
            path.display()
        );
        assert!(
            std::fs::read(path).unwrap() == expected,
            "{} differs",
            path.display()
        );
    }
    let stats = sim.stats();
    assert_eq!(
        stats.count("POST", "/services/data/{version}/jobs/query"),
        JOBS as u64
    );
    assert_eq!(stats.count("GET", RESULTS), 3 * JOBS as u64);
    assert_eq!(
        stats.count_status(200) + stats.count_status(201),
        stats.total()
    );
    assert_eq!(
        stats.peak_in_flight, LIMIT as u64,
        "the client's limit bounds the requests in flight, and 200 jobs reach it"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_request_limit_of_zero_is_refused() {
    let error = Salesforce::builder()
        .instance_url("https://example.my.salesforce.com")
        .auth(AccessToken::new("t"))
        .max_concurrent_requests(0)
        .build()
        .unwrap_err();
    assert!(matches!(error, haul::Error::InvalidInput { .. }), "{error}");
    assert!(
        error.to_string().contains("max_concurrent_requests"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_keeps_within_its_concurrency() {
    // Latency on every answer keeps the workers' requests overlapping.
    let sim = common::sim()
        .rows("Account", 3_000)
        .profile(NetworkProfile::latency(Duration::from_millis(20)))
        .start()
        .await
        .unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("load-concurrency");
    let done = sf
        .bulk_query(SOQL)
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    for concurrency in [1, 3] {
        let before = sim.stats().count("GET", RESULTS);
        let report = tokio::time::timeout(
            Duration::from_secs(120),
            done.download()
                .concurrency(concurrency)
                .max_records(100)
                .to_file(dir.join(&format!("{concurrency}.csv"))),
        )
        .await
        .expect("hung")
        .unwrap();
        assert_eq!((report.records, report.pages), (3_000, 30));
        assert_eq!(sim.stats().count("GET", RESULTS) - before, 30);
        let peak = sim.stats().peak_in_flight_by_route[RESULTS];
        assert!(
            peak <= concurrency as u64,
            "{peak} pages in flight with concurrency {concurrency}"
        );
    }
    // The limit was reached, so the bound above was tested, not idle.
    assert_eq!(sim.stats().peak_in_flight_by_route[RESULTS], 3);
    sim.shutdown().await;
}
