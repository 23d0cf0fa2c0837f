//! The Databricks family end to end against haul-sim: statements on its warehouse, results
//! downloaded chunk by chunk through external links on the simulator's storage origin (which
//! checks each link's signature and expiry and refuses an `Authorization` header), as CSV, typed
//! JSON lines and Parquet from Arrow; links that expire, faults, failures and truncation.

use std::path::{Path, PathBuf};
use std::time::Duration;

use haul::databricks::{CompletedStatement, Databricks};
use haul::download::Format;
use haul::{BackoffPolicy, RetryPolicy};
use haul_sim::{FaultPlan, Sim, SimBuilder};

/// Longest any test here may run before it counts as hung.
const GUARD: Duration = Duration::from_secs(60);
const ORDERS: &str = "SELECT * FROM main.sales.orders";

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("haul-dbx-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// 2 500 orders in chunks of 1 000: three chunks, the last one short.
fn sim() -> SimBuilder {
    Sim::builder()
        .seed(16)
        .databricks(|o| o.rows(2_500).chunk_rows(1_000))
        .job_duration(Duration::from_millis(50))
}

fn quick_retries() -> RetryPolicy {
    RetryPolicy::default().with_backoff(Duration::from_millis(5), Duration::from_millis(50))
}

fn client(sim: &Sim) -> Databricks {
    Databricks::builder()
        .host(sim.databricks().host())
        .token(sim.databricks().token())
        .retry(quick_retries())
        .build()
        .unwrap()
}

async fn run(db: &Databricks, warehouse: &str, sql: &str, output: Format) -> CompletedStatement {
    let statement = db
        .statement(sql)
        .warehouse(warehouse)
        .output(output)
        .submit()
        .await
        .unwrap();
    statement
        .wait()
        .backoff(BackoffPolicy::fixed(Duration::from_millis(20)))
        .await
        .unwrap()
}

fn jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn parquet_rows(path: &Path) -> (Vec<String>, usize) {
    let file = std::fs::File::open(path).unwrap();
    let builder =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let names = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let reader = builder.build().unwrap();
    let rows = reader.map(|batch| batch.unwrap().num_rows()).sum();
    (names, rows)
}

#[tokio::test]
async fn csv_json_lines_and_parquet_hold_every_row_of_every_chunk() {
    tokio::time::timeout(GUARD, async {
        let sim = sim().start().await.unwrap();
        let db = client(&sim);
        let warehouse = sim.databricks().warehouse_id().to_owned();
        let dir = TempDir::new("formats");

        let done = run(&db, &warehouse, ORDERS, Format::Csv).await;
        assert_eq!(
            (done.total_rows(), done.total_chunks()),
            (Some(2_500), Some(3))
        );
        let report = done
            .download()
            .concurrency(3)
            .to_file(dir.join("orders.csv"))
            .await
            .unwrap();
        assert_eq!((report.records, report.pages), (2_500, 3));
        let mut csv = csv::Reader::from_path(dir.join("orders.csv")).unwrap();
        let header: Vec<String> = csv.headers().unwrap().iter().map(str::to_owned).collect();
        assert_eq!(header[0], "order_id");
        assert_eq!(csv.records().map(Result::unwrap).count(), 2_500);
        assert!(dir.join("orders.csv.manifest.json").exists());

        let report = done
            .download()
            .format(Format::Jsonl)
            .to_file(dir.join("orders.jsonl"))
            .await
            .unwrap();
        assert_eq!(report.records, 2_500);
        let rows = jsonl(&dir.join("orders.jsonl"));
        assert_eq!(rows.len(), 2_500);
        // Typed from the manifest: BIGINT as a number, DECIMAL as the string of its exact value.
        assert!(
            rows.iter()
                .all(|row| row["order_id"].is_i64() || row["order_id"].is_u64())
        );
        assert!(rows.iter().any(|row| row["amount"].is_string()));
        assert!(rows.iter().any(|row| row["note"].is_null()), "some nulls");

        let arrow = run(&db, &warehouse, ORDERS, Format::parquet()).await;
        let report = arrow
            .download()
            .format(Format::parquet())
            .concurrency(3)
            .to_file(dir.join("orders.parquet"))
            .await
            .unwrap();
        assert_eq!((report.records, report.pages), (2_500, 3));
        let (names, count) = parquet_rows(&dir.join("orders.parquet"));
        assert_eq!(count, 2_500);
        assert_eq!(names, header);
        sim.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn links_that_expire_are_asked_for_again() {
    tokio::time::timeout(GUARD, async {
        let sim = sim()
            .databricks(|o| o.link_lifetime(Duration::from_secs(1)).link_headers(true))
            .start()
            .await
            .unwrap();
        let db = client(&sim);
        let done = run(&db, sim.databricks().warehouse_id(), ORDERS, Format::Csv).await;
        // The first chunk's link came with the statement; every link the simulator handed out
        // so far stops working now, before its stated expiration.
        sim.databricks().expire_links();
        let dir = TempDir::new("expired");
        let report = done.download().to_file(dir.join("a.csv")).await.unwrap();
        assert_eq!(report.records, 2_500);
        // Past their stated expiration (one second), every link is asked for again up front.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let report = done.download().to_file(dir.join("b.csv")).await.unwrap();
        assert_eq!(report.records, 2_500);
        assert_eq!(
            std::fs::read(dir.join("a.csv")).unwrap(),
            std::fs::read(dir.join("b.csv")).unwrap()
        );
        sim.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn oauth_machine_to_machine_reads_the_same_result() {
    tokio::time::timeout(GUARD, async {
        let sim = sim().start().await.unwrap();
        let db = Databricks::builder()
            .host(sim.databricks().host())
            .client_credentials(
                sim.databricks().client_id(),
                sim.databricks().client_secret(),
            )
            .retry(quick_retries())
            .build()
            .unwrap();
        db.connect().await.unwrap();
        let done = run(&db, sim.databricks().warehouse_id(), ORDERS, Format::Csv).await;
        // The workspace stops accepting the token (403 `Invalid access token.`): a new one is
        // obtained, and the chunks' links are asked for with it.
        sim.expire_tokens();
        let dir = TempDir::new("oauth");
        let report = done.download().to_file(dir.join("o.csv")).await.unwrap();
        assert_eq!(report.records, 2_500);
        let wrong = Databricks::builder()
            .host(sim.databricks().host())
            .client_credentials(sim.databricks().client_id(), "wrong")
            .build()
            .unwrap();
        assert!(wrong.connect().await.unwrap_err().is_auth());
        sim.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_token_the_workspace_does_not_know_is_an_auth_error() {
    tokio::time::timeout(GUARD, async {
        let sim = sim().start().await.unwrap();
        let db = Databricks::builder()
            .host(sim.databricks().host())
            .token("dapi-not-a-token")
            .build()
            .unwrap();
        let error = db
            .statement(ORDERS)
            .warehouse(sim.databricks().warehouse_id())
            .submit()
            .await
            .unwrap_err();
        assert!(error.is_auth(), "{error}");
        assert!(!format!("{error:?}").contains("dapi-not-a-token"));
        sim.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_statement_the_warehouse_cannot_run_is_a_failed_job() {
    tokio::time::timeout(GUARD, async {
        let sim = sim().start().await.unwrap();
        let db = client(&sim);
        let statement = db
            .statement("SELECT * FROM main.sales.nope")
            .warehouse(sim.databricks().warehouse_id())
            .submit()
            .await
            .unwrap();
        let error = statement
            .wait()
            .backoff(BackoffPolicy::fixed(Duration::from_millis(20)))
            .await
            .unwrap_err();
        assert!(error.is_job_failed(), "{error}");
        let failed = haul::databricks::failed_job(&error).unwrap();
        let status = failed.status.as_ref().unwrap();
        let message = status.error.as_ref().and_then(|e| e.message.as_deref());
        assert!(
            message.is_some_and(|m| m.contains("TABLE_OR_VIEW_NOT_FOUND")),
            "{message:?}"
        );
        sim.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_truncated_result_is_refused_unless_allowed() {
    tokio::time::timeout(GUARD, async {
        let sim = sim().start().await.unwrap();
        let db = client(&sim);
        let statement = db
            .statement(ORDERS)
            .warehouse(sim.databricks().warehouse_id())
            .row_limit(10)
            .submit()
            .await
            .unwrap();
        let done = statement
            .wait()
            .backoff(BackoffPolicy::fixed(Duration::from_millis(20)))
            .await
            .unwrap();
        assert!(done.truncated());
        let dir = TempDir::new("truncated");
        let error = done
            .download()
            .to_file(dir.join("t.csv"))
            .await
            .unwrap_err();
        assert!(error.is_integrity(), "{error}");
        let report = done
            .allow_truncated(true)
            .download()
            .to_file(dir.join("t.csv"))
            .await
            .unwrap();
        assert_eq!(report.records, 10);
        sim.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn throttling_and_unavailability_on_both_origins_are_retried() {
    tokio::time::timeout(GUARD, async {
        let plan = FaultPlan::parse("429=0.2,503=0.2,seed=5").unwrap();
        let sim = sim().faults(plan).start().await.unwrap();
        let db = client(&sim);
        let statement = db
            .statement(ORDERS)
            .warehouse(sim.databricks().warehouse_id())
            .submit()
            .await
            .unwrap();
        let done = statement
            .wait()
            .backoff(BackoffPolicy::fixed(Duration::from_millis(20)))
            .await
            .unwrap();
        let dir = TempDir::new("faults");
        let report = done
            .download()
            .concurrency(3)
            .to_file(dir.join("f.csv"))
            .await
            .unwrap();
        assert_eq!(report.records, 2_500);
        let injected = sim.faults_injected();
        assert!(
            injected.status_429 + injected.status_503 >= 1,
            "{injected:?}"
        );
        sim.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_link_whose_row_count_disagrees_with_the_manifest_is_asked_for_again_then_refused() {
    tokio::time::timeout(GUARD, async {
        // Some links state one row more than their chunk holds: asked for again, they mend.
        let plan = FaultPlan::parse("lie=0.3,seed=9").unwrap();
        let lying = sim().faults(plan).start().await.unwrap();
        let db = client(&lying);
        let done = run(&db, lying.databricks().warehouse_id(), ORDERS, Format::Csv).await;
        let dir = TempDir::new("lie");
        let report = done.download().to_file(dir.join("l.csv")).await.unwrap();
        assert_eq!(report.records, 2_500);
        assert!(lying.faults_injected().lie >= 1);
        lying.shutdown().await;

        // Every link lies: the download stops with an integrity error and publishes nothing.
        let plan = FaultPlan::parse("lie=1").unwrap();
        let sim = sim().faults(plan).start().await.unwrap();
        let db = client(&sim);
        let done = run(&db, sim.databricks().warehouse_id(), ORDERS, Format::Csv).await;
        let error = done
            .download()
            .to_file(dir.join("m.csv"))
            .await
            .unwrap_err();
        assert!(error.is_integrity(), "{error}");
        assert!(error.to_string().contains("the manifest"), "{error}");
        assert!(!dir.join("m.csv").exists());
        sim.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn an_interrupted_download_resumes_from_its_last_chunk() {
    tokio::time::timeout(GUARD, async {
        let sim = sim()
            .databricks(|o| o.chunk_rows(250))
            .start()
            .await
            .unwrap();
        let db = client(&sim);
        let done = run(&db, sim.databricks().warehouse_id(), ORDERS, Format::Csv).await;
        let dir = TempDir::new("resume");
        let folder = dir.join("parts/");
        let handle = done
            .download()
            .concurrency(1)
            .memory(0)
            .resume(true)
            .to_dir(&folder);
        let mut progress = handle.progress();
        for _ in 0..500 {
            if progress.borrow().pages >= 1 {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_millis(20), progress.changed()).await;
        }
        handle.cancel();
        match handle.await {
            Err(error) => {
                assert!(error.is_cancelled(), "{error}");
                let resumed = done
                    .download()
                    .concurrency(2)
                    .resume(true)
                    .to_dir(&folder)
                    .await
                    .unwrap();
                assert_eq!((resumed.records, resumed.pages), (2_500, 10));
                assert!(resumed.resumed_pages >= 1, "{resumed:?}");
            }
            // The run finished before the cancel reached it: nothing is left to resume.
            Ok(report) => assert_eq!(report.records, 2_500),
        }
        sim.shutdown().await;
    })
    .await
    .unwrap();
}
