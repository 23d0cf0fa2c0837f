//! `sf.extract()` against haul-sim: a first run lands every row, a second exactly the rows changed
//! or deleted since, rows sharing the boundary stamp are neither lost nor landed twice, a failed
//! object keeps its last good state and the next run lands what it missed, a window that times out
//! is split, and compound and base64 fields are replaced or left out, by name; a run stops cleanly
//! on its API budget, the org's daily limit or the reserve, and the next run lands what it left.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMillisecondType;
use arrow_array::{Array, RecordBatch};
use common::{client, temp_dir};
use haul::download::Destination;
use haul::salesforce::extract::{
    ExtractBuilder, ExtractReport, FailureKind, ObjectPhase, ObjectReport, ReadPath,
};
use haul::types::{ColumnDelimiter, LineEnding};
use haul::{BackoffPolicy, Salesforce, WaitOptions};
use haul_sim::Sim;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn fast() -> BackoffPolicy {
    BackoffPolicy::fixed(Duration::from_millis(10))
}

/// An extract to `dir` that polls its jobs quickly.
fn extract(sf: &Salesforce, dir: &Path) -> ExtractBuilder {
    sf.extract(Destination::dir(dir))
        .wait_options(WaitOptions::default().with_backoff(fast()))
}

/// Runs `builder` and checks that every object landed.
async fn complete(builder: ExtractBuilder) -> ExtractReport {
    let report = builder.run().await.unwrap();
    assert!(
        report.is_complete(),
        "{:#?}",
        report.failed().collect::<Vec<_>>()
    );
    report
}

fn object<'a>(report: &'a ExtractReport, name: &str) -> &'a ObjectReport {
    report
        .objects
        .iter()
        .find(|o| o.object == name)
        .unwrap_or_else(|| panic!("{name} is in the report"))
}

/// The columns of a simulator query (operation `query`), as text, in result order.
fn org_rows(sim: &Sim, soql: &str) -> Vec<Vec<String>> {
    let csv = sim
        .expected_query_csv(soql, ColumnDelimiter::Comma, LineEnding::Lf)
        .unwrap();
    csv::Reader::from_reader(csv.as_slice())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

fn org_ids(sim: &Sim, object: &str) -> Vec<String> {
    let mut ids: Vec<String> = org_rows(sim, &format!("SELECT Id FROM {object}"))
        .into_iter()
        .map(|mut row| row.remove(0))
        .collect();
    ids.sort();
    ids
}

/// One landed row: its columns as text (`None` for null).
type Row = BTreeMap<String, Option<String>>;

/// Every row an object's run landed, read back from its Parquet part files.
fn landed(dir: &Path, object: &str, run_id: &str) -> Vec<Row> {
    let run = dir.join(object).join(format!("run={run_id}"));
    assert!(
        run.join("_run.json").is_file(),
        "{} is complete",
        run.display()
    );
    let mut rows = Vec::new();
    for window in sorted_entries(&run).into_iter().filter(|p| p.is_dir()) {
        assert!(
            window.join("_manifest.json").is_file(),
            "{}",
            window.display()
        );
        for part in sorted_entries(&window) {
            if part.extension().is_some_and(|e| e == "parquet") {
                rows.extend(parquet_rows(&part));
            }
        }
    }
    rows
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    entries
}

fn parquet_rows(path: &Path) -> Vec<Row> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let mut rows = Vec::new();
    for batch in batches {
        for index in 0..batch.num_rows() {
            let row = batch
                .schema()
                .fields()
                .iter()
                .zip(batch.columns())
                .map(|(field, column)| (field.name().clone(), cell(column.as_ref(), index)))
                .collect();
            rows.push(row);
        }
    }
    rows
}

/// Text, booleans and date-times as text; other columns are not compared here.
fn cell(array: &dyn Array, row: usize) -> Option<String> {
    if array.is_null(row) {
        return None;
    }
    if let Some(text) = array.as_string_opt::<i32>() {
        return Some(text.value(row).to_owned());
    }
    if let Some(flags) = array.as_boolean_opt() {
        return Some(flags.value(row).to_string());
    }
    if let Some(stamps) = array.as_primitive_opt::<TimestampMillisecondType>() {
        return Some(stamps.value(row).to_string());
    }
    Some("(not compared)".to_owned())
}

fn text(row: &Row, column: &str) -> String {
    row.get(column)
        .cloned()
        .flatten()
        .unwrap_or_else(|| panic!("{column} in {row:?}"))
}

fn ids(rows: &[Row]) -> Vec<String> {
    let mut ids: Vec<String> = rows.iter().map(|r| text(r, "Id")).collect();
    ids.sort();
    ids
}

/// Sets `Name` of `ids` to `Renamed <id>` through haul's ingest.
async fn rename(sf: &Salesforce, object: &str, ids: &[String]) {
    let field = if object == "Contact" {
        "LastName"
    } else {
        "Name"
    };
    let mut csv = format!("Id,{field}\n");
    for id in ids {
        csv.push_str(&format!("{id},Renamed {id}\n"));
    }
    let outcome = sf
        .bulk_ingest(object)
        .update()
        .csv_reader(Cursor::new(csv.into_bytes()))
        .backoff(fast())
        .run()
        .await
        .unwrap();
    assert_eq!(outcome.summary.records_failed, 0);
}

/// Deletes `ids` through haul's ingest: to the Recycle Bin, or for good.
async fn delete(sf: &Salesforce, object: &str, ids: &[String]) {
    remove(sf, object, ids, false).await;
}

async fn remove(sf: &Salesforce, object: &str, ids: &[String], hard: bool) {
    let csv = format!("Id\n{}\n", ids.join("\n"));
    let builder = sf.bulk_ingest(object);
    let builder = if hard {
        builder.hard_delete()
    } else {
        builder.delete()
    };
    let outcome = builder
        .csv_reader(Cursor::new(csv.into_bytes()))
        .backoff(fast())
        .run()
        .await
        .unwrap();
    assert_eq!(outcome.summary.records_failed, 0);
}

fn sorted(ids: &[String]) -> Vec<String> {
    let mut ids = ids.to_vec();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_run_lands_every_row_of_two_objects() {
    let sim = Sim::builder()
        .rows("Account", 120)
        .rows("Contact", 80)
        .start()
        .await
        .unwrap();
    let sf = client(&sim, false);
    let dir = temp_dir("extract-first-run");
    let report = complete(extract(&sf, &dir).objects(["Account", "Contact"])).await;
    for (name, count) in [("Account", 120), ("Contact", 80)] {
        let rows = landed(&dir, name, &report.run_id);
        assert_eq!(rows.len(), count, "{name}");
        assert_eq!(ids(&rows), org_ids(&sim, name), "{name}");
        assert!(rows.iter().all(|r| text(r, "IsDeleted") == "false"));
        let entry = object(&report, name);
        assert_eq!(entry.rows, count as u64);
        assert_eq!(entry.cursor_field.as_deref(), Some("SystemModstamp"));
        assert!(entry.read_from.is_none() && entry.cursor.is_some());
        let state: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(name).join("_state.json")).unwrap())
                .unwrap();
        assert_eq!(state["last_run"], report.run_id.as_str());
        assert_eq!(state["cursor"], entry.cursor.as_deref().unwrap());
    }
    let summary = dir.join("_runs").join(format!("{}.json", report.run_id));
    let written: ExtractReport = serde_json::from_slice(&std::fs::read(summary).unwrap()).unwrap();
    assert_eq!(written, report);
    // Each object's describe is read once, for its plan and its Parquet schema alike: every
    // request counts against the org's daily allowance.
    let describes = sim
        .stats()
        .count("GET", "/services/data/{version}/sobjects/{object}/describe");
    assert_eq!(describes, 2);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_lands_exactly_the_updated_and_deleted_rows() {
    let sim = Sim::builder()
        .rows("Account", 60)
        .rows("Contact", 40)
        .start()
        .await
        .unwrap();
    let sf = client(&sim, false);
    let dir = temp_dir("extract-second-run");
    complete(extract(&sf, &dir).objects(["Account", "Contact"])).await;

    let accounts = org_ids(&sim, "Account");
    let contacts = org_ids(&sim, "Contact");
    let (renamed, deleted) = (&accounts[3..8], &accounts[20..23]);
    rename(&sf, "Account", renamed).await;
    delete(&sf, "Account", deleted).await;
    rename(&sf, "Contact", &contacts[..4]).await;

    let second = complete(extract(&sf, &dir).objects(["Account", "Contact"])).await;
    let rows = landed(&dir, "Account", &second.run_id);
    let changed: Vec<String> = renamed.iter().chain(deleted).cloned().collect();
    assert_eq!(ids(&rows), sorted(&changed));
    for row in &rows {
        let id = text(row, "Id");
        let is_deleted = deleted.contains(&id);
        assert_eq!(text(row, "IsDeleted"), is_deleted.to_string(), "{id}");
        if !is_deleted {
            assert_eq!(text(row, "Name"), format!("Renamed {id}"));
        }
    }
    assert_eq!(object(&second, "Account").deleted_rows, 3);
    let rows = landed(&dir, "Contact", &second.run_id);
    assert_eq!(ids(&rows), sorted(&contacts[..4]));
    assert!(
        rows.iter()
            .all(|r| text(r, "LastName").starts_with("Renamed "))
    );

    // Nothing changed since: a third run reads the lookback again and lands nothing.
    let third = complete(extract(&sf, &dir).objects(["Account", "Contact"])).await;
    assert_eq!(third.rows(), 0, "{third:#?}");
    assert_eq!(object(&third, "Account").already_landed, 8);
    sim.shutdown().await;
}

/// The (Id, SystemModstamp) of these accounts in the org now.
fn stamps(sim: &Sim, ids: &[String]) -> BTreeSet<String> {
    org_rows(sim, "SELECT Id, SystemModstamp FROM Account")
        .into_iter()
        .filter(|row| ids.contains(&row[0]))
        .map(|row| row[1].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_sharing_the_boundary_stamp_are_neither_lost_nor_landed_twice() {
    // The simulator stamps changes to the whole second, as a real org does: a burst updated in the
    // second a run read leaves rows with the run's last cursor that the run did not see. The
    // scenario needs the first burst, the run and the second burst within one second; a try that
    // straddles a second is started over, a few times at most.
    for _attempt in 0..8 {
        let sim = Sim::builder().rows("Account", 40).start().await.unwrap();
        let sf = client(&sim, false);
        let dir = temp_dir("extract-boundary");
        let build = || {
            extract(&sf, &dir)
                .object(haul::salesforce::extract::ObjectSpec::new("Account").fields(["Name"]))
                .lookback(Duration::ZERO)
        };
        complete(build()).await;
        let accounts = org_ids(&sim, "Account");
        let (early, late) = (&accounts[..5], &accounts[5..12]);
        let millis = chrono::Utc::now().timestamp_subsec_millis();
        tokio::time::sleep(Duration::from_millis(u64::from(1_000 - millis))).await;
        rename(&sf, "Account", early).await;
        let first = complete(build()).await;
        rename(&sf, "Account", late).await;
        let both: Vec<String> = early.iter().chain(late).cloned().collect();
        if stamps(&sim, &both).len() != 1 {
            sim.shutdown().await;
            continue;
        }
        assert_eq!(ids(&landed(&dir, "Account", &first.run_id)), sorted(early));
        let second = complete(build()).await;
        let rows = landed(&dir, "Account", &second.run_id);
        assert_eq!(ids(&rows), sorted(late), "the late burst, and it only");
        assert_eq!(
            object(&second, "Account").already_landed,
            early.len() as u64
        );
        assert!(rows.iter().all(|r| text(r, "Name").starts_with("Renamed ")));
        sim.shutdown().await;
        return;
    }
    panic!("no try kept both bursts within one second");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_object_keeps_its_last_good_state_and_the_rerun_lands_what_it_missed() {
    let sim = Sim::builder()
        .rows("Account", 50)
        .rows("Contact", 50)
        .start()
        .await
        .unwrap();
    let sf = client(&sim, false);
    let dir = temp_dir("extract-failure");
    let both = ["Account", "Contact"];
    complete(extract(&sf, &dir).objects(both).max_jobs(1)).await;
    let states = |dir: &Path| both.map(|o| std::fs::read(dir.join(o).join("_state.json")).unwrap());
    let good = states(&dir);
    let accounts = org_ids(&sim, "Account");
    let contacts = org_ids(&sim, "Contact");
    rename(&sf, "Account", &accounts[..6]).await;
    rename(&sf, "Contact", &contacts[..9]).await;

    sim.fail_next_query_job();
    let failing = extract(&sf, &dir)
        .objects(both)
        .max_jobs(1)
        .run()
        .await
        .unwrap();
    let failed: Vec<&ObjectReport> = failing.failed().collect();
    assert_eq!(failed.len(), 1, "{failing:#?}");
    let (lost, kept) = if failed[0].object == "Account" {
        (0, 1)
    } else {
        (1, 0)
    };
    let after = states(&dir);
    assert_eq!(
        after[lost], good[lost],
        "the failed object's state is as it was"
    );
    assert_ne!(after[kept], good[kept]);
    let run = dir.join(both[lost]).join(format!("run={}", failing.run_id));
    assert!(
        !run.join("_run.json").exists(),
        "the failed run is not complete"
    );

    let rerun = complete(extract(&sf, &dir).objects(both).max_jobs(1)).await;
    let expected = [sorted(&accounts[..6]), sorted(&contacts[..9])];
    assert_eq!(
        ids(&landed(&dir, both[lost], &rerun.run_id)),
        expected[lost]
    );
    assert_eq!(object(&rerun, both[kept]).rows, 0);
    assert_eq!(
        ids(&landed(&dir, both[kept], &failing.run_id)),
        expected[kept]
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_that_times_out_is_split_and_the_object_still_lands_whole() {
    let sim = Sim::builder()
        .rows("Account", 1_000)
        .query_timeout_rows(300)
        .start()
        .await
        .unwrap();
    let sf = client(&sim, false);
    let dir = temp_dir("extract-timeout");
    let report = complete(extract(&sf, &dir).objects(["Account"])).await;
    let account = object(&report, "Account");
    assert!(!account.splits.is_empty());
    assert!(
        account
            .splits
            .iter()
            .all(|s| s.error.contains("QUERY_TIMEOUT")),
        "{account:#?}"
    );
    assert!(account.windows.len() >= 4, "{account:#?}");
    assert!(account.windows.iter().all(|w| w.rows <= 300));
    let rows = landed(&dir, "Account", &report.run_id);
    assert_eq!(rows.len(), 1_000);
    assert_eq!(ids(&rows), org_ids(&sim, "Account"));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compound_fields_are_replaced_by_components_and_base64_fields_named_as_left_out() {
    let sim = Sim::builder()
        .rows("Account", 30)
        .rows("Attachment", 10)
        .start()
        .await
        .unwrap();
    let sf = client(&sim, false);
    let dir = temp_dir("extract-fields");
    let report = complete(extract(&sf, &dir).objects(["Account", "Attachment"])).await;
    let account = object(&report, "Account");
    let replaced: Vec<&str> = account.replaced.iter().map(|r| r.field.as_str()).collect();
    assert_eq!(
        replaced,
        ["BillingAddress", "ShippingAddress", "Headquarters__c"]
    );
    let billing = &account.replaced[0].components;
    assert!(billing.iter().any(|c| c == "BillingCity"), "{billing:?}");
    let rows = landed(&dir, "Account", &report.run_id);
    assert_eq!(rows.len(), 30);
    assert!(rows[0].contains_key("BillingCity") && !rows[0].contains_key("BillingAddress"));
    assert!(account.left_out.is_empty());

    let attachment = object(&report, "Attachment");
    let left_out: Vec<&str> = attachment
        .left_out
        .iter()
        .map(|l| l.field.as_str())
        .collect();
    assert_eq!(left_out, ["Body"]);
    let rows = landed(&dir, "Attachment", &report.run_id);
    assert_eq!(ids(&rows), org_ids(&sim, "Attachment"));
    assert!(!rows[0].contains_key("Body"));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_the_bulk_api_refuses_is_read_through_rest_query_all_with_the_reason() {
    let sim = Sim::builder()
        .rows("AccountFeed", 30)
        .start()
        .await
        .unwrap();
    let sf = client(&sim, false);
    let dir = temp_dir("extract-rest");
    let first = complete(extract(&sf, &dir).objects(["AccountFeed"])).await;
    let feed = object(&first, "AccountFeed");
    match &feed.api {
        ReadPath::Rest { reason } => {
            assert!(reason.contains("not supported by the Bulk API"), "{reason}");
        }
        other => panic!("read by {other:?}"),
    }
    assert_eq!(feed.windows.len(), 1);
    assert!(feed.windows[0].job.is_none());
    let rows = landed(&dir, "AccountFeed", &first.run_id);
    assert_eq!(ids(&rows), org_ids(&sim, "AccountFeed"));
    assert_eq!(feed.rows, 30);

    let second = complete(extract(&sf, &dir).objects(["AccountFeed"])).await;
    assert_eq!(object(&second, "AccountFeed").rows, 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_cancelled_midway_keeps_the_last_good_states_and_the_rerun_lands_what_is_missing() {
    let sim = Sim::builder()
        .rows("Account", 30)
        .rows("Contact", 30)
        .job_duration(Duration::from_millis(600))
        .start()
        .await
        .unwrap();
    let sf = client(&sim, false);
    let dir = temp_dir("extract-cancel");
    let both = ["Account", "Contact"];
    complete(extract(&sf, &dir).objects(both).max_jobs(1)).await;
    let accounts = org_ids(&sim, "Account");
    let contacts = org_ids(&sim, "Contact");
    rename(&sf, "Account", &accounts[..4]).await;
    rename(&sf, "Contact", &contacts[..5]).await;
    let states = |dir: &Path| both.map(|o| std::fs::read(dir.join(o).join("_state.json")).unwrap());
    let good = states(&dir);

    // One job at a time: once one object has landed, the other's job is running; stop there.
    let handle = extract(&sf, &dir).objects(both).max_jobs(1).start();
    let mut progress = handle.progress();
    let landed_one = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let now = progress.borrow_and_update().clone();
            let phases: Vec<ObjectPhase> = now.objects.iter().map(|o| o.phase).collect();
            if phases.contains(&ObjectPhase::Landed) && phases.contains(&ObjectPhase::Querying) {
                return phases;
            }
            progress.changed().await.unwrap();
        }
    })
    .await
    .unwrap();
    handle.cancel();
    assert!(handle.await.unwrap_err().is_cancelled());
    let done = usize::from(landed_one[0] != ObjectPhase::Landed);
    let cut = 1 - done;
    let after = states(&dir);
    assert_eq!(after[cut], good[cut], "the cut object's state is as it was");
    assert_ne!(after[done], good[done]);

    let rerun = complete(extract(&sf, &dir).objects(both).max_jobs(1)).await;
    let changed = [sorted(&accounts[..4]), sorted(&contacts[..5])];
    assert_eq!(ids(&landed(&dir, both[cut], &rerun.run_id)), changed[cut]);
    assert_eq!(object(&rerun, both[done]).rows, 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_without_audit_fields_is_read_whole_every_run() {
    let sim = Sim::builder()
        .rows("Sample_Event__b", 40)
        .start()
        .await
        .unwrap();
    let sf = client(&sim, false);
    let dir = temp_dir("extract-no-cursor");
    let mut runs = Vec::new();
    for _ in 0..2 {
        let report = complete(extract(&sf, &dir).objects(["Sample_Event__b"])).await;
        let events = object(&report, "Sample_Event__b");
        assert_eq!(events.cursor_field, None);
        assert_eq!(
            ids(&landed(&dir, "Sample_Event__b", &report.run_id)).len(),
            40
        );
        runs.push(report.run_id.clone());
    }
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("Sample_Event__b").join("_state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["runs"], serde_json::json!(runs));
    assert_eq!(state["cursor"], serde_json::Value::Null);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hard_deletes_are_found_by_comparing_id_sets_and_land_as_deleted_rows() {
    let sim = Sim::builder().rows("Account", 40).start().await.unwrap();
    let sf = client(&sim, false);
    let dir = temp_dir("extract-hard-deletes");
    let build = || {
        extract(&sf, &dir)
            .objects(["Account"])
            .detect_hard_deletes(true)
    };
    let first = complete(build()).await;
    assert_eq!(object(&first, "Account").hard_deleted, 0);
    let run = dir.join("Account").join(format!("run={}", first.run_id));
    let kept = std::fs::read_to_string(run.join("_ids.txt")).unwrap();
    assert_eq!(kept.lines().count(), 40);

    let accounts = org_ids(&sim, "Account");
    let (gone, binned) = (&accounts[..3], &accounts[10..12]);
    remove(&sf, "Account", gone, true).await;
    delete(&sf, "Account", binned).await;
    let second = complete(build()).await;
    let account = object(&second, "Account");
    assert_eq!((account.hard_deleted, account.deleted_rows), (3, 2));
    let rows = landed(&dir, "Account", &second.run_id);
    let all: Vec<String> = gone.iter().chain(binned).cloned().collect();
    assert_eq!(ids(&rows), sorted(&all));
    assert!(rows.iter().all(|r| text(r, "IsDeleted") == "true"));
    let run = dir.join("Account").join(format!("run={}", second.run_id));
    assert!(run.join("hard_deletes").join("_manifest.json").is_file());

    let third = complete(build()).await;
    let account = object(&third, "Account");
    assert_eq!((account.rows, account.hard_deleted), (0, 0));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_whose_row_count_disagrees_is_read_again_or_fails_the_object_keeping_its_state() {
    let sim = Sim::builder().rows("Account", 30).start().await.unwrap();
    let sf = client(&sim, false);
    let dir = temp_dir("extract-count");
    // Nothing to drop on a first run: the engine checks the count, and reads the page again.
    sim.lie_about_record_count(1);
    let first = complete(extract(&sf, &dir).objects(["Account"])).await;
    assert_eq!(first.rows(), 30);
    let good = std::fs::read(dir.join("Account").join("_state.json")).unwrap();

    // Rows to drop: the filter checks the count on what it read, and the object fails whole.
    let accounts = org_ids(&sim, "Account");
    rename(&sf, "Account", &accounts[..2]).await;
    sim.lie_about_record_count(1);
    let second = extract(&sf, &dir).objects(["Account"]).run().await.unwrap();
    let account = object(&second, "Account");
    assert_eq!(
        account.failure,
        Some(FailureKind::Integrity),
        "{account:#?}"
    );
    let after = std::fs::read(dir.join("Account").join("_state.json")).unwrap();
    assert_eq!(after, good);

    let third = complete(extract(&sf, &dir).objects(["Account"])).await;
    let rows = landed(&dir, "Account", &third.run_id);
    assert_eq!(ids(&rows), sorted(&accounts[..2]));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_that_times_out_at_the_split_floor_fails_the_object_with_the_job_error() {
    let sim = Sim::builder()
        .rows("Account", 1_000)
        .query_timeout_rows(300)
        .start()
        .await
        .unwrap();
    let sf = client(&sim, false);
    let dir = temp_dir("extract-floor");
    let ten_years = Duration::from_secs(10 * 365 * 86_400);
    let report = extract(&sf, &dir)
        .objects(["Account"])
        .split_floor(ten_years)
        .run()
        .await
        .unwrap();
    let account = object(&report, "Account");
    assert_eq!(
        account.failure,
        Some(FailureKind::JobFailed),
        "{account:#?}"
    );
    assert!(account.error.as_deref().unwrap().contains("QUERY_TIMEOUT"));
    assert_eq!(account.splits.len(), 1, "split once, then too narrow");
    assert!(!dir.join("Account").join("_state.json").exists());
    sim.shutdown().await;
}

/// The run folders of `object` that are complete (`_run.json`), oldest first.
fn complete_runs(dir: &Path, object: &str) -> Vec<String> {
    sorted_entries(&dir.join(object))
        .into_iter()
        .filter(|p| p.join("_run.json").is_file())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_owned();
            name.strip_prefix("run=").map(str::to_owned)
        })
        .collect()
}

/// Every Id landed for `object` by its complete runs, sorted, each as often as it landed.
fn dataset_ids(dir: &Path, object: &str) -> Vec<String> {
    let mut all: Vec<String> = complete_runs(dir, object)
        .iter()
        .flat_map(|run| ids(&landed(dir, object, run)))
        .collect();
    all.sort();
    all
}

fn failure(report: &ExtractReport, name: &str) -> Option<FailureKind> {
    object(report, name).failure
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_that_allows_part_of_the_objects_stops_cleanly_and_the_next_run_lands_the_rest() {
    let three = ["Account", "Contact", "Opportunity"];
    let sim = Sim::builder()
        .rows("Account", 40)
        .rows("Contact", 40)
        .rows("Opportunity", 40)
        .start()
        .await
        .unwrap();
    let sf = client(&sim, false);
    // What one object costs, measured on a folder of its own.
    let scratch = temp_dir("extract-budget-measure");
    let measured = complete(extract(&sf, &scratch).objects(["Account"]).max_jobs(1)).await;
    let one = measured.budget.requests_spent;
    assert!(
        one >= 6,
        "an object costs more than a window's minimum: {one}"
    );
    assert_eq!(measured.budget.jobs_spent, 1);

    let dir = temp_dir("extract-budget-part");
    let jobs_before = sim.query_jobs_used();
    let partial = extract(&sf, &dir)
        .objects(three)
        .max_jobs(1)
        .max_api_requests(one + one / 2)
        .run()
        .await
        .unwrap();
    assert!(partial.stopped_on_budget(), "{partial:#?}");
    assert_eq!(failure(&partial, "Account"), None, "{partial:#?}");
    assert_eq!(
        partial.budget.left_for_next_run,
        ["Contact", "Opportunity"],
        "{partial:#?}"
    );
    for name in ["Contact", "Opportunity"] {
        assert_eq!(failure(&partial, name), Some(FailureKind::BudgetSpent));
        assert!(!dir.join(name).join("_state.json").exists(), "{name}");
    }
    assert!(dir.join("Account").join("_state.json").is_file());
    assert_eq!(
        ids(&landed(&dir, "Account", &partial.run_id)),
        org_ids(&sim, "Account")
    );
    assert_eq!(partial.budget.jobs_spent, 1);
    assert_eq!(
        sim.query_jobs_used() - jobs_before,
        1,
        "no job was started for the others"
    );
    assert!(
        partial.budget.requests_spent <= one + one / 2,
        "{:?}",
        partial.budget
    );
    assert!(partial.budget.requests_max > 0 && partial.budget.requests_remaining > 0);

    // A larger budget lands exactly the objects left, and Account's rows not again.
    let rest = complete(extract(&sf, &dir).objects(three).max_jobs(1)).await;
    assert!(!rest.stopped_on_budget() && rest.budget.left_for_next_run.is_empty());
    assert_eq!(object(&rest, "Account").rows, 0);
    for name in three {
        assert_eq!(dataset_ids(&dir, name), org_ids(&sim, name), "{name}");
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orgs_daily_limit_reached_midway_stops_cleanly_and_the_next_days_complete_the_dataset()
{
    let three = ["Account", "Contact", "Opportunity"];
    // Ten result pages a job and jobs that take a while: the three objects' first windows are all
    // started (a window is taken to cost 5 requests until one has finished) before the org's 40
    // requests a day run out under them.
    let sim = Sim::builder()
        .rows("Account", 200)
        .rows("Contact", 200)
        .rows("Opportunity", 200)
        .default_page_size(20)
        .job_duration(Duration::from_millis(300))
        .api_limit(40)
        .start()
        .await
        .unwrap();
    let sf = client(&sim, false);
    let dir = temp_dir("extract-budget-org-limit");
    let slow =
        WaitOptions::default().with_backoff(BackoffPolicy::fixed(Duration::from_millis(100)));
    let builder = || {
        sf.extract(Destination::dir(&dir))
            .objects(three)
            .reserve(0.0)
            .wait_options(slow)
    };
    let first = builder().max_jobs(3).run().await.unwrap();
    assert!(first.stopped_on_budget(), "{first:#?}");
    assert!(
        first
            .objects
            .iter()
            .any(|o| o.failure == Some(FailureKind::LimitExceeded)),
        "the org refused a request: {first:#?}"
    );
    assert!(!first.budget.left_for_next_run.is_empty());
    for entry in &first.objects {
        let state = dir.join(&entry.object).join("_state.json");
        assert_eq!(entry.failure.is_none(), state.is_file(), "{}", entry.object);
        if entry.failure.is_some() {
            let folder = dir
                .join(&entry.object)
                .join(format!("run={}", first.run_id));
            assert!(!folder.join("_run.json").exists(), "{}", entry.object);
        }
    }

    // Each next day lands what the day's 40 requests allow (one object, about 24), those left
    // by the day before going first, until nothing is left.
    let mut days = 0;
    loop {
        assert!(days < 5, "the dataset is complete within five more days");
        days += 1;
        sim.next_day();
        let rerun = builder().max_jobs(1).run().await.unwrap();
        if rerun.is_complete() {
            assert!(!rerun.stopped_on_budget());
            break;
        }
        assert!(rerun.stopped_on_budget(), "{rerun:#?}");
    }
    // The dataset is what a fault-free extract lands: every Id of the org, once.
    for name in three {
        assert_eq!(dataset_ids(&dir, name), org_ids(&sim, name), "{name}");
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_only_the_default_reserve_left_the_run_starts_nothing() {
    let sim = Sim::builder()
        .rows("Account", 20)
        .api_limit(100)
        .start()
        .await
        .unwrap();
    let sf = client(&sim, false);
    // 79 requests spent elsewhere: the run's own `/limits` makes 80, leaving the 20% reserve.
    for _ in 0..79 {
        sf.limits().await.unwrap();
    }
    let dir = temp_dir("extract-budget-reserve");
    let report = extract(&sf, &dir)
        .objects(["Account", "Contact"])
        .run()
        .await
        .unwrap();
    assert!(report.stopped_on_budget(), "{report:#?}");
    assert_eq!(report.budget.left_for_next_run, ["Account", "Contact"]);
    assert!(
        report
            .objects
            .iter()
            .all(|o| o.failure == Some(FailureKind::BudgetSpent))
    );
    assert_eq!(sim.api_usage(), 80, "nothing but /limits was asked for");
    assert_eq!(sim.query_jobs_used(), 0);
    assert_eq!(report.budget.requests_spent, 0);
    assert_eq!(report.budget.requests_remaining, 20);
    assert!(!dir.join("Account").exists());

    // The next day the same run lands both.
    sim.next_day();
    let landed_next = complete(extract(&sf, &dir).objects(["Account", "Contact"])).await;
    assert_eq!(object(&landed_next, "Account").rows, 20);
    sim.shutdown().await;
}
