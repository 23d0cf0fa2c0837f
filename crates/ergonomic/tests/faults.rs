//! Downloads under injected faults (503, 429 with Retry-After, connections reset mid-body, truncated
//! bodies) are byte-identical to fault-free ones, and the job's creation survives them too.

mod common;

use common::{TempDir, client};
use haul::types::{ColumnDelimiter, LineEnding};
use haul_sim::{FaultPlan, Sim};

const SOQL: &str = "SELECT Id, Name, Industry FROM Account";

/// haul creates the job again itself after a transient failure (a duplicate query job harms no
/// data), so the submission goes through the faults like everything else.
async fn submit(sf: &haul::Salesforce) -> haul::salesforce::query::QueryJob {
    sf.bulk_query(SOQL)
        .submit()
        .await
        .expect("the job is created despite the faults")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_under_faults_are_byte_identical_for_several_seeds() {
    for seed in 1..=8 {
        let faults = FaultPlan::parse(&format!(
            "503=0.05,429=0.02,reset=0.02,truncate=0.01,retry_after=0,seed={seed}"
        ))
        .unwrap();
        let sim = Sim::builder()
            .seed(11)
            .rows("Account", 60_000)
            .faults(faults)
            .start()
            .await
            .unwrap();
        let sf = client(&sim);
        let dir = TempDir::new("faults");
        let done = submit(&sf).await.wait().await.unwrap();
        let report = done
            .download()
            .concurrency(8)
            .max_records(2_000)
            .to_file(dir.join("out.csv"))
            .await
            .unwrap();
        assert_eq!((report.records, report.pages), (60_000, 30), "seed {seed}");
        let expected = sim
            .expected_query_csv(SOQL, ColumnDelimiter::Comma, LineEnding::Lf)
            .unwrap();
        assert!(
            std::fs::read(dir.join("out.csv")).unwrap() == expected,
            "seed {seed}: output differs"
        );
        // Counted by the simulator: which request a fault lands on depends on arrival order, so
        // guessing from request counts missed faults on job-info requests.
        let injected = sim.faults_injected();
        assert!(
            injected.status_503 + injected.status_429 + injected.reset + injected.truncate > 0,
            "seed {seed}: no fault was injected, the test proves nothing"
        );
        sim.shutdown().await;
    }
}
