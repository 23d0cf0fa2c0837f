//! Bulk API 2.0 ingest jobs (api-facts §2), and ingest changes seen by later queries.
mod common;

use std::time::Duration;

use common::*;
use haul_sim::Sim;
use haul_types::{ColumnDelimiter, IngestJobState, LineEnding};
use serde_json::{Value, json};

async fn create(sim: &Sim, body: Value) -> String {
    let (status, info) = post_json(sim, "/jobs/ingest", &body).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["state"], "Open");
    let id = info["id"].as_str().expect("id").to_owned();
    assert_eq!(
        info["contentUrl"],
        format!("services/data/v62.0/jobs/ingest/{id}/batches")
    );
    id
}

async fn upload(sim: &Sim, id: &str, csv: &str) -> u16 {
    let url = sf(sim, &format!("/jobs/ingest/{id}/batches"));
    let r = client()
        .put(url)
        .bearer_auth(sim.access_token())
        .header("Content-Type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .expect("ok");
    r.status().as_u16()
}

async fn run_job(sim: &Sim, body: Value, csv: &str) -> (String, Value) {
    let id = create(sim, body).await;
    assert_eq!(upload(sim, &id, csv).await, 201);
    let (status, closed) = patch_json(
        sim,
        &format!("/jobs/ingest/{id}"),
        &json!({"state": "UploadComplete"}),
    )
    .await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["state"], "UploadComplete");
    let info = wait_for(
        sim,
        &format!("/jobs/ingest/{id}"),
        "state",
        &["JobComplete", "Failed"],
    )
    .await;
    (id, info)
}

async fn result(sim: &Sim, id: &str, kind: &str) -> String {
    let r = client()
        .get(sf(sim, &format!("/jobs/ingest/{id}/{kind}")))
        .bearer_auth(sim.access_token())
        .send()
        .await
        .expect("ok");
    assert_eq!(r.status().as_u16(), 200, "{kind}");
    r.text().await.expect("text")
}

#[tokio::test]
async fn insert_validates_rows_and_applies_successes_to_the_org() {
    let sim = Sim::builder()
        .rows("Account", 10)
        .start()
        .await
        .expect("starts");
    let csv = "Name,NumberOfEmployees,Industry\n\"Acme, Inc.\",12,Banking\n,5,Energy\nBad Count,abc,\n\"Quote \"\"Co\"\"\",7,#N/A\n";
    let (id, info) = run_job(
        &sim,
        json!({"object": "Account", "operation": "insert"}),
        csv,
    )
    .await;
    assert_eq!(info["state"], "JobComplete");
    assert_eq!(info["numberRecordsProcessed"], 4);
    assert_eq!(info["numberRecordsFailed"], 2);
    assert_eq!(info["jobType"], "V2Ingest");
    let ok = result(&sim, &id, "successfulResults").await;
    let mut lines = ok.lines();
    assert_eq!(
        lines.next(),
        Some("\"sf__Id\",\"sf__Created\",\"Name\",\"NumberOfEmployees\",\"Industry\"")
    );
    assert!(lines.next().is_some_and(
        |l| l.starts_with("\"001") && l.contains(",\"true\",\"Acme, Inc.\",\"12\",\"Banking\"")
    ));
    let failed = result(&sim, &id, "failedResults/").await;
    assert!(failed.starts_with("\"sf__Id\",\"sf__Error\",\"Name\""));
    assert!(
        failed.contains("REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --"),
        "{failed}"
    );
    assert!(failed.contains("INVALID_TYPE_ON_FIELD_IN_RECORD:NumberOfEmployees: value not of required type: abc:NumberOfEmployees --"));
    let unprocessed = result(&sim, &id, "unprocessedrecords").await;
    assert_eq!(unprocessed, "\"Name\",\"NumberOfEmployees\",\"Industry\"\n");
    assert_eq!(result(&sim, &id, "unprocessedRecords").await, unprocessed);
    assert_eq!(sim.record_count("Account"), Some(12));
    let expected = String::from_utf8(
        sim.expected_query_csv(
            "SELECT Name, Industry FROM Account WHERE NumberOfEmployees = 7",
            ColumnDelimiter::Comma,
            LineEnding::Lf,
        )
        .expect("ok"),
    )
    .expect("utf8");
    assert!(expected.contains("\"Quote \"\"Co\"\"\",\n"), "{expected}");
    let id = completed_query(
        &sim,
        "SELECT Id, Name FROM Account WHERE Name = 'Acme, Inc.'",
    )
    .await;
    let (_, headers, _) = page(&sim, &id, "").await;
    assert_eq!(
        header(&headers, "sforce-numberofrecords"),
        "1",
        "a later query sees the inserted row"
    );
}

#[tokio::test]
async fn update_upsert_delete_and_query_all() {
    let sim = Sim::builder()
        .rows("Account", 5)
        .rows("Contact", 0)
        .start()
        .await
        .expect("starts");
    let accounts = String::from_utf8(
        sim.expected_query_csv(
            "SELECT Id FROM Account",
            ColumnDelimiter::Comma,
            LineEnding::Lf,
        )
        .expect("ok"),
    )
    .expect("utf8");
    let ids: Vec<String> = accounts
        .lines()
        .skip(1)
        .map(|l| l.trim_matches('"').to_owned())
        .collect();
    let csv = format!("Id,Name\n{},Renamed\n001Hs000000000zzzz,Ghost\n", ids[0]);
    let (job, info) = run_job(
        &sim,
        json!({"object": "Account", "operation": "update"}),
        &csv,
    )
    .await;
    assert_eq!(info["numberRecordsFailed"], 1);
    let failed = result(&sim, &job, "failedResults").await;
    assert!(
        failed.contains("INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--"),
        "{failed}"
    );
    let renamed = sim
        .expected_query_csv(
            "SELECT Id FROM Account WHERE Name = 'Renamed'",
            ColumnDelimiter::Comma,
            LineEnding::Lf,
        )
        .expect("ok");
    assert_eq!(
        String::from_utf8(renamed).expect("utf8").lines().nth(1),
        Some(format!("\"{}\"", ids[0]).as_str())
    );

    let csv = format!("Id\n{}\n{}\n", ids[1], ids[2]);
    let (_, info) = run_job(
        &sim,
        json!({"object": "Account", "operation": "delete"}),
        &csv,
    )
    .await;
    assert_eq!(info["numberRecordsFailed"], 0);
    let (_, info) = run_job(
        &sim,
        json!({"object": "Account", "operation": "hardDelete"}),
        &format!("Id\n{}\n", ids[3]),
    )
    .await;
    assert_eq!(info["numberRecordsFailed"], 0);
    assert_eq!(sim.record_count("Account"), Some(2));
    let all = json!({"operation": "queryAll", "query": "SELECT Id FROM Account"});
    let (_, created) = post_json(&sim, "/jobs/query", &all).await;
    let qid = created["id"].as_str().expect("id").to_owned();
    let done = wait_for(
        &sim,
        &format!("/jobs/query/{qid}"),
        "state",
        &["JobComplete"],
    )
    .await;
    assert_eq!(
        done["numberRecordsProcessed"], 4,
        "queryAll sees soft-deleted rows, not hard-deleted ones"
    );

    let upsert =
        json!({"object": "Contact", "operation": "upsert", "externalIdFieldName": "Email"});
    let (job, info) = run_job(
        &sim,
        upsert.clone(),
        "LastName,Email\nOne,a@x.io\nTwo,b@x.io\n",
    )
    .await;
    assert_eq!(info["numberRecordsFailed"], 0);
    assert!(
        result(&sim, &job, "successfulResults")
            .await
            .matches("\"true\"")
            .count()
            == 2
    );
    let (job, _) = run_job(&sim, upsert, "LastName,Email\nUno,a@x.io\nThree,c@x.io\n").await;
    let ok = result(&sim, &job, "successfulResults").await;
    assert_eq!(ok.matches("\"false\"").count(), 1);
    assert_eq!(ok.matches("\"true\"").count(), 1);
    assert_eq!(sim.record_count("Contact"), Some(3));
}

#[tokio::test]
async fn state_machine_upload_rules_and_job_level_failures() {
    let sim = Sim::builder()
        .job_duration(Duration::from_millis(200))
        .start()
        .await
        .expect("starts");
    let id = create(&sim, json!({"object": "Account", "operation": "insert", "lineEnding": "CRLF", "columnDelimiter": "TAB"})).await;
    let path = format!("/jobs/ingest/{id}");
    let r = client()
        .delete(sf(&sim, &path))
        .bearer_auth(sim.access_token())
        .send()
        .await
        .expect("ok");
    assert_eq!(r.status().as_u16(), 400, "no delete while Open");
    assert_eq!(upload(&sim, &id, "Name\r\nTabbed\r\n").await, 201);
    assert_eq!(
        upload(&sim, &id, "Name\r\nAgain\r\n").await,
        400,
        "one upload per job"
    );
    let (status, _) = patch_json(&sim, &path, &json!({"state": "Aborted"})).await;
    assert_eq!(status, 200);
    assert_eq!(sim.ingest_job_state(&id), Some(IngestJobState::Aborted));
    let unprocessed = result(&sim, &id, "unprocessedrecords").await;
    assert_eq!(unprocessed, "\"Name\"\r\n\"Tabbed\"\r\n");
    let (status, _) = patch_json(&sim, &path, &json!({"state": "UploadComplete"})).await;
    assert_eq!(status, 400);
    let r = client()
        .delete(sf(&sim, &path))
        .bearer_auth(sim.access_token())
        .send()
        .await
        .expect("ok");
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(sim.ingest_job_state(&id), None);

    let (_, info) = run_job(
        &sim,
        json!({"object": "Account", "operation": "insert"}),
        "Name,Bogus__c\nA,b\n",
    )
    .await;
    assert_eq!(info["state"], "Failed");
    assert_eq!(
        info["errorMessage"],
        "InvalidBatch : Field name not found : Bogus__c"
    );
    sim.fail_next_ingest_job();
    let (id, info) = run_job(
        &sim,
        json!({"object": "Account", "operation": "insert"}),
        "Name\nA\nB\n",
    )
    .await;
    assert_eq!(info["state"], "Failed");
    assert!(info["errorMessage"].is_string());
    assert_eq!(
        result(&sim, &id, "unprocessedrecords")
            .await
            .lines()
            .count(),
        3
    );
    let (status, body) = post_json(
        &sim,
        "/jobs/ingest",
        &json!({"object": "Nope__c", "operation": "insert"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body[0]["errorCode"], "INVALIDENTITY");
}

#[tokio::test]
async fn multipart_create_starts_upload_complete() {
    let sim = Sim::builder()
        .rows("Account", 0)
        .start()
        .await
        .expect("starts");
    let form = reqwest::multipart::Form::new()
        .part(
            "job",
            reqwest::multipart::Part::text(r#"{"object":"Account","operation":"insert"}"#)
                .mime_str("application/json")
                .expect("mime"),
        )
        .part(
            "content",
            reqwest::multipart::Part::text("Name\nInline\n")
                .mime_str("text/csv")
                .expect("mime"),
        );
    let r = client()
        .post(sf(&sim, "/jobs/ingest"))
        .bearer_auth(sim.access_token())
        .multipart(form)
        .send()
        .await
        .expect("ok");
    assert_eq!(r.status().as_u16(), 200);
    let info: Value = r.json().await.expect("json");
    assert_eq!(info["state"], "UploadComplete");
    let id = info["id"].as_str().expect("id");
    wait_for(
        &sim,
        &format!("/jobs/ingest/{id}"),
        "state",
        &["JobComplete"],
    )
    .await;
    assert_eq!(sim.record_count("Account"), Some(1));
}
