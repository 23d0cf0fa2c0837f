//! What an incremental extract reads changes by: every change made through the API (ingest
//! update, delete, hard delete; undelete through `/__sim/undelete`) moves `SystemModstamp` and
//! `IsDeleted`; one job's rows share one stamp; generated rows can come in bursts of one stamp;
//! the next simulated day stamps later changes a day later.
mod common;

use chrono::{DateTime, TimeDelta, Utc};
use clap::Parser as _;
use common::*;
use haul_sim::Sim;
use serde_json::{Value, json};

/// The rows of a Bulk API query job of `operation` (`query` or `queryAll`), each a map from
/// column to text (the selected fields here are never null and never hold a comma).
async fn rows(sim: &Sim, operation: &str, soql: &str) -> Vec<serde_json::Map<String, Value>> {
    let (status, job) = post_json(
        sim,
        "/jobs/query",
        &json!({"operation": operation, "query": soql}),
    )
    .await;
    assert_eq!(status, 200, "{job}");
    let id = job["id"].as_str().expect("id");
    wait_for(sim, &format!("/jobs/query/{id}"), "state", &["JobComplete"]).await;
    let (status, headers, body) = page(sim, id, "?maxRecords=100000").await;
    assert_eq!((status, header(&headers, "sforce-locator")), (200, "null"));
    let mut lines = body.lines().map(|l| {
        l.split(',')
            .map(|f| f.trim_matches('"').to_owned())
            .collect::<Vec<_>>()
    });
    let columns = lines.next().expect("header row");
    lines
        .map(|fields| {
            columns
                .iter()
                .cloned()
                .zip(fields.into_iter().map(Value::String))
                .collect()
        })
        .collect()
}

/// A date-time as query results print it (`2026-12-01T09:30:00.000Z`).
fn time(text: &Value) -> DateTime<Utc> {
    let text = text.as_str().expect("a date-time");
    DateTime::parse_from_rfc3339(text)
        .expect("query result format")
        .with_timezone(&Utc)
}

/// Now, to the second (audit stamps are whole seconds).
fn this_second() -> DateTime<Utc> {
    let now = Utc::now();
    now - TimeDelta::nanoseconds(i64::from(now.timestamp_subsec_nanos()))
}

async fn account_ids(sim: &Sim) -> Vec<String> {
    rows(sim, "query", "SELECT Id FROM Account")
        .await
        .iter()
        .map(|r| r["Id"].as_str().expect("id").to_owned())
        .collect()
}

async fn ingest(sim: &Sim, operation: &str, csv: &str) -> Value {
    let info = run_ingest(
        sim,
        &json!({"object": "Account", "operation": operation}),
        csv,
    )
    .await;
    assert_eq!(info["state"], "JobComplete", "{info}");
    assert_eq!(info["numberRecordsFailed"], 0, "{info}");
    info
}

#[tokio::test]
async fn a_bulk_update_of_a_thousand_rows_stamps_them_all_with_one_second() {
    let sim = Sim::builder()
        .rows("Account", 1_000)
        .start()
        .await
        .expect("starts");
    let soql = "SELECT Id, CreatedDate, LastModifiedDate, SystemModstamp FROM Account";
    let before = rows(&sim, "query", soql).await;
    let mut csv = String::from("Id,Name\n");
    for row in &before {
        csv.push_str(&format!("{},Loaded Co\n", row["Id"].as_str().expect("id")));
    }
    let started = this_second();
    let info = ingest(&sim, "update", &csv).await;
    assert_eq!(info["numberRecordsProcessed"], 1_000);
    let after = rows(&sim, "query", soql).await;
    assert_eq!(after.len(), 1_000);
    let stamp = &after[0]["SystemModstamp"];
    assert!(time(stamp) >= started, "{stamp} is older than the update");
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(new["SystemModstamp"], *stamp, "one job, one stamp: {new:?}");
        assert_eq!(new["LastModifiedDate"], *stamp, "a user's change: {new:?}");
        assert_eq!(new["CreatedDate"], old["CreatedDate"]);
        assert_ne!(new["SystemModstamp"], old["SystemModstamp"]);
    }
    let window = format!(
        "SELECT Id FROM Account WHERE SystemModstamp = {}",
        stamp.as_str().expect("text")
    );
    assert_eq!(rows(&sim, "query", &window).await.len(), 1_000);
    sim.shutdown().await;
}

#[tokio::test]
async fn deletes_hard_deletes_and_undeletes_move_the_stamps_and_is_deleted() {
    let sim = Sim::builder()
        .rows("Account", 6)
        .start()
        .await
        .expect("starts");
    let ids = account_ids(&sim).await;
    let started = this_second();
    ingest(&sim, "delete", &format!("Id\n{}\n{}\n", ids[0], ids[1])).await;
    ingest(&sim, "hardDelete", &format!("Id\n{}\n", ids[2])).await;
    assert_eq!(sim.record_count("Account"), Some(3));
    let soql = "SELECT Id, IsDeleted, LastModifiedDate, SystemModstamp FROM Account";
    let deleted = rows(&sim, "queryAll", soql).await;
    assert_eq!(
        deleted.len(),
        5,
        "the hard-deleted row is gone even from queryAll"
    );
    assert!(!deleted.iter().any(|r| r["Id"] == ids[2].as_str()));
    let delete_stamp = time(&deleted[0]["SystemModstamp"]);
    assert!(delete_stamp >= started);
    for row in &deleted[..2] {
        assert_eq!(row["IsDeleted"], "true", "{row:?}");
        assert_eq!(row["SystemModstamp"], deleted[0]["SystemModstamp"]);
    }

    assert_eq!(sim.next_day(), 1);
    let url = format!("{}/__sim/undelete", sim.instance_url());
    let asked = json!({"object": "Account", "ids": [ids[0], ids[2], ids[3], "001bogus"]});
    let answer = client()
        .post(&url)
        .json(&asked)
        .send()
        .await
        .expect("request");
    assert_eq!(answer.status().as_u16(), 200);
    let results: Value = answer.json().await.expect("JSON");
    assert_eq!(
        results[0],
        json!({"id": ids[0], "success": true, "errors": []})
    );
    let not_in_bin = json!([{"statusCode": "UNDELETE_FAILED", "message": "Entity is not in the recycle bin", "fields": []}]);
    assert_eq!(
        results[1]["errors"], not_in_bin,
        "hard deletes skip the Recycle Bin"
    );
    assert_eq!(results[2]["errors"], not_in_bin, "a live record");
    assert_eq!(results[3]["errors"][0]["statusCode"], "MALFORMED_ID");
    assert_eq!(results.as_array().map(Vec::len), Some(4));

    let all = rows(&sim, "queryAll", soql).await;
    let restored = all
        .iter()
        .find(|r| r["Id"] == ids[0].as_str())
        .expect("row 0");
    assert_eq!(restored["IsDeleted"], "false");
    assert_eq!(restored["LastModifiedDate"], restored["SystemModstamp"]);
    let undelete_stamp = time(&restored["SystemModstamp"]);
    assert!(
        undelete_stamp >= delete_stamp + TimeDelta::days(1),
        "{undelete_stamp} {delete_stamp}"
    );
    let live = rows(&sim, "query", "SELECT Id FROM Account").await;
    assert!(live.iter().any(|r| r["Id"] == ids[0].as_str()));
    assert_eq!(sim.record_count("Account"), Some(4));

    assert_eq!(
        sim.undelete("Account", &[&ids[1], &ids[1]])
            .expect("has a bin"),
        1
    );
    assert_eq!(sim.record_count("Account"), Some(5));
    assert!(
        sim.undelete("User", &[&ids[1]]).is_err(),
        "users are never deleted"
    );
    let refused = client()
        .post(&url)
        .json(&json!({"object": "User", "ids": []}))
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status().as_u16(), 400);
    let body: Value = refused.json().await.expect("JSON");
    assert_eq!(body[0]["errorCode"], "INVALID_TYPE");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_next_day_stamps_later_changes_and_job_infos_a_day_later() {
    let sim = Sim::builder()
        .rows("Account", 3)
        .start()
        .await
        .expect("starts");
    let ids = account_ids(&sim).await;
    let first = ingest(&sim, "update", &format!("Id,Name\n{},Monday Co\n", ids[0])).await;
    let soql = "SELECT Id, SystemModstamp FROM Account";
    let monday = time(&rows(&sim, "query", soql).await[0]["SystemModstamp"]);

    let answer = client()
        .post(format!("{}/__sim/next-day", sim.instance_url()))
        .send()
        .await
        .expect("request");
    assert_eq!(answer.status().as_u16(), 200);
    let day: Value = answer.json().await.expect("JSON");
    assert_eq!(day["day"], 1);
    assert!(time(&day["now"]) >= monday + TimeDelta::days(1), "{day}");
    assert!(sim.now() >= Utc::now() + TimeDelta::days(1) - TimeDelta::seconds(5));

    let second = ingest(&sim, "update", &format!("Id,Name\n{},Tuesday Co\n", ids[0])).await;
    let tuesday = time(&rows(&sim, "query", soql).await[0]["SystemModstamp"]);
    assert!(
        tuesday >= monday + TimeDelta::days(1),
        "{monday} then {tuesday}"
    );
    let created = |info: &Value| {
        let text = info["createdDate"].as_str().expect("createdDate");
        DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.3f%z").expect("job info format")
    };
    assert!(created(&second) >= created(&first) + TimeDelta::days(1));
    ingest(&sim, "insert", "Name\nWednesday Co\n").await;
    let all = "SELECT Id, CreatedDate, LastModifiedDate, SystemModstamp FROM Account";
    let inserted = rows(&sim, "query", all)
        .await
        .pop()
        .expect("the inserted row");
    assert_eq!(inserted["CreatedDate"], inserted["SystemModstamp"]);
    assert_eq!(inserted["LastModifiedDate"], inserted["SystemModstamp"]);
    assert!(time(&inserted["CreatedDate"]) >= tuesday, "{inserted:?}");

    let r = client()
        .get(sf(&sim, "/limits"))
        .bearer_auth(sim.access_token())
        .send()
        .await
        .expect("request");
    let date = DateTime::parse_from_rfc2822(header(r.headers(), "date")).expect("an HTTP date");
    assert!(
        date >= Utc::now() + TimeDelta::days(1) - TimeDelta::seconds(5),
        "{date}"
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
async fn generated_rows_come_in_bursts_that_share_one_stamp() {
    let cli = Cli::try_parse_from([
        "haul-sim",
        "--addr",
        "127.0.0.1:0",
        "--rows",
        "Account=1_000",
        "--modstamp-burst",
        "Account=250",
    ])
    .expect("parses");
    let sim = cli
        .sim
        .builder()
        .expect("valid")
        .start()
        .await
        .expect("starts");
    let soql = "SELECT Id, CreatedDate, LastModifiedDate, SystemModstamp FROM Account";
    let all = rows(&sim, "query", soql).await;
    assert_eq!(all.len(), 1_000);
    for burst in all.chunks(250) {
        let stamp = &burst[0]["SystemModstamp"];
        for row in burst {
            assert_eq!(row["SystemModstamp"], *stamp, "{row:?}");
            assert_eq!(row["LastModifiedDate"], *stamp, "{row:?}");
            assert!(time(&row["CreatedDate"]) < time(stamp), "{row:?}");
        }
        let text = stamp.as_str().expect("text");
        let same = rows(
            &sim,
            "query",
            &format!("SELECT Id FROM Account WHERE SystemModstamp = {text}"),
        )
        .await;
        assert_eq!(same.len(), 250, "one burst, one second");
    }
    let stamps: std::collections::BTreeSet<&str> = all
        .iter()
        .filter_map(|r| r["SystemModstamp"].as_str())
        .collect();
    assert_eq!(stamps.len(), 4);
    let bad = Cli::try_parse_from(["haul-sim", "--modstamp-burst", "Account"]).expect("parses");
    assert!(bad.sim.builder().is_err(), "OBJECT=N is required");
    sim.shutdown().await;
}
