//! Bulk API 2.0 query jobs, against api-facts §1 and §5.
mod common;

use std::time::Duration;

use common::*;
use haul_sim::Sim;
use haul_types::{ColumnDelimiter, LineEnding, QueryJobState};
use serde_json::json;

async fn sim(rows: u64) -> Sim {
    Sim::builder()
        .rows("Account", rows)
        .start()
        .await
        .expect("starts")
}

#[tokio::test]
async fn create_answers_200_with_the_create_response_shape() {
    let sim = sim(10).await;
    let body = json!({"operation": "query", "query": "SELECT Id, Name FROM Account", "columnDelimiter": "PIPE", "lineEnding": "CRLF"});
    let (status, info) = post_json(&sim, "/jobs/query", &body).await;
    assert_eq!(status, 200);
    assert_eq!(info["state"], "UploadComplete");
    assert_eq!(info["object"], "Account");
    assert_eq!(info["operation"], "query");
    assert_eq!(info["concurrencyMode"], "Parallel");
    assert_eq!(info["contentType"], "CSV");
    assert_eq!(info["apiVersion"], json!(62.0));
    assert_eq!(info["columnDelimiter"], "PIPE");
    assert_eq!(info["lineEnding"], "CRLF");
    let id = info["id"].as_str().expect("id");
    assert!(id.starts_with("750") && id.len() == 18);
    assert!(
        info["createdDate"]
            .as_str()
            .expect("date")
            .ends_with("+0000")
    );
    for absent in [
        "jobType",
        "numberRecordsProcessed",
        "retries",
        "totalProcessingTime",
    ] {
        assert!(
            info.get(absent).is_none(),
            "{absent} is not in the create response"
        );
    }
    let done = wait_for(
        &sim,
        &format!("/jobs/query/{id}"),
        "state",
        &["JobComplete"],
    )
    .await;
    assert_eq!(done["jobType"], "V2Query");
    assert_eq!(done["numberRecordsProcessed"], 10);
}

#[tokio::test]
async fn bad_soql_gets_vendor_error_arrays() {
    let sim = sim(10).await;
    for (soql, code) in [
        ("SELECT Id FRM Account", "MALFORMED_QUERY"),
        ("SELECT Nope FROM Account", "INVALID_FIELD"),
        ("SELECT Id FROM Nope__c", "INVALID_TYPE"),
    ] {
        let (status, body) = post_json(
            &sim,
            "/jobs/query",
            &json!({"operation": "query", "query": soql}),
        )
        .await;
        assert_eq!(status, 400, "{soql}");
        assert_eq!(body[0]["errorCode"], code, "{soql}: {body}");
        assert!(body[0]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (status, body) = post_json(
        &sim,
        "/jobs/query",
        &json!({"operation": "upsert", "query": "SELECT Id FROM Account"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body[0]["errorCode"].is_string());
}

#[tokio::test]
async fn pages_follow_locators_with_headers_on_every_page() {
    let sim = sim(25).await;
    let id = completed_query(&sim, "SELECT Id, Name, Description FROM Account").await;
    let mut locator = String::new();
    let mut total = 0;
    let mut bodies = Vec::new();
    for _ in 0..10 {
        let query = if locator.is_empty() {
            "?maxRecords=10".to_owned()
        } else {
            format!("?maxRecords=10&locator={locator}")
        };
        let (status, headers, text) = page(&sim, &id, &query).await;
        assert_eq!(status, 200);
        assert!(header(&headers, "content-type").starts_with("text/csv"));
        assert!(header(&headers, "sforce-limit-info").starts_with("api-usage="));
        let n: usize = header(&headers, "sforce-numberofrecords")
            .parse()
            .expect("count header");
        assert!(
            text.starts_with("\"Id\",\"Name\",\"Description\"\n"),
            "every page has a header row"
        );
        let rows = haul_rows(&text);
        assert_eq!(rows, n + 1);
        total += n;
        bodies.push(text);
        locator = header(&headers, "sforce-locator").to_owned();
        if locator == "null" {
            break;
        }
    }
    assert_eq!(locator, "null");
    assert_eq!(total, 25);
    assert_eq!(bodies.len(), 3);
    // Concatenating pages without their repeated headers gives the expected download.
    let mut joined = bodies[0].clone();
    for b in &bodies[1..] {
        joined.push_str(b.split_once('\n').expect("header").1);
    }
    let expected = sim
        .expected_query_csv(
            "SELECT Id, Name, Description FROM Account",
            ColumnDelimiter::Comma,
            LineEnding::Lf,
        )
        .expect("valid soql");
    assert_eq!(joined.as_bytes(), expected.as_slice());
}

/// Records in a CSV text (quoted newlines do not split records).
fn haul_rows(text: &str) -> usize {
    let mut in_quotes = false;
    let mut records = 0;
    for c in text.chars() {
        match c {
            '"' => in_quotes = !in_quotes,
            '\n' if !in_quotes => records += 1,
            _ => {}
        }
    }
    records
}

#[tokio::test]
async fn a_locator_page_is_stable_and_refetchable() {
    let sim = sim(30).await;
    let id = completed_query(&sim, "SELECT Id FROM Account").await;
    let (_, headers, _) = page(&sim, &id, "?maxRecords=7").await;
    let second = header(&headers, "sforce-locator").to_owned();
    let (_, _, a) = page(&sim, &id, &format!("?maxRecords=7&locator={second}")).await;
    let (_, _, b) = page(&sim, &id, &format!("?maxRecords=7&locator={second}")).await;
    assert_eq!(a, b);
    let (status, _, body) = page(&sim, &id, "?locator=bm90LWEtbG9jYXRvcg").await;
    assert_eq!(status, 400, "{body}");
    let (status, _, _) = page(&sim, &id, "?maxRecords=0").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn delimiter_line_ending_and_gzip() {
    let sim = sim(5).await;
    let body = json!({"operation": "query", "query": "SELECT Id, Name FROM Account", "columnDelimiter": "SEMICOLON", "lineEnding": "CRLF"});
    let (_, info) = post_json(&sim, "/jobs/query", &body).await;
    let id = info["id"].as_str().expect("id").to_owned();
    wait_for(
        &sim,
        &format!("/jobs/query/{id}"),
        "state",
        &["JobComplete"],
    )
    .await;
    let url = sf(&sim, &format!("/jobs/query/{id}/results"));
    let r = client()
        .get(&url)
        .bearer_auth(sim.access_token())
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .expect("ok");
    assert_eq!(header(r.headers(), "content-encoding"), "gzip");
    let compressed = r.bytes().await.expect("body");
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&compressed[..]),
        &mut text,
    )
    .expect("gzip");
    assert!(text.starts_with("\"Id\";\"Name\"\r\n"));
    let expected = sim
        .expected_query_csv(
            "SELECT Id, Name FROM Account",
            ColumnDelimiter::Semicolon,
            LineEnding::Crlf,
        )
        .expect("ok");
    assert_eq!(text.as_bytes(), expected.as_slice());
    let plain = client()
        .get(&url)
        .bearer_auth(sim.access_token())
        .send()
        .await
        .expect("ok");
    assert!(plain.headers().get("content-encoding").is_none());
}

#[tokio::test]
async fn results_under_another_version_conflict_and_before_completion_fail() {
    let sim = Sim::builder()
        .rows("Account", 5)
        .job_duration(Duration::from_secs(30))
        .start()
        .await
        .expect("starts");
    let id = create_query(&sim, "SELECT Id FROM Account").await;
    let (status, _, body) = page(&sim, &id, "").await;
    assert_eq!(status, 412, "{body}");
    assert!(body.contains("JOB_NOT_COMPLETE"));
    let (state, _) = get_json(&sim, &format!("/jobs/query/{id}")).await;
    assert_eq!(state, 200);
    let other = format!(
        "{}/services/data/v60.0/jobs/query/{id}/results",
        sim.instance_url()
    );
    let r = client()
        .get(other)
        .bearer_auth(sim.access_token())
        .send()
        .await
        .expect("ok");
    assert_eq!(r.status().as_u16(), 409);
    let v46 = format!("{}/services/data/v46.0/jobs/query/{id}", sim.instance_url());
    let r = client()
        .get(v46)
        .bearer_auth(sim.access_token())
        .send()
        .await
        .expect("ok");
    assert_eq!(r.status().as_u16(), 404, "no Bulk 2.0 query before v47");
}

#[tokio::test]
async fn in_progress_is_observable_and_abort_and_delete_follow_the_state_machine() {
    let sim = Sim::builder()
        .rows("Account", 5)
        .job_duration(Duration::from_secs(60))
        .start()
        .await
        .expect("starts");
    let id = create_query(&sim, "SELECT Id FROM Account").await;
    let path = format!("/jobs/query/{id}");
    wait_for(&sim, &path, "state", &["InProgress"]).await;
    let r = client()
        .delete(sf(&sim, &path))
        .bearer_auth(sim.access_token())
        .send()
        .await
        .expect("ok");
    assert_eq!(r.status().as_u16(), 400);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body[0]["errorCode"], "API_ERROR");
    assert_eq!(
        body[0]["message"],
        "Error encountered when deleting the job because the job is not terminated"
    );
    let (status, info) = patch_json(&sim, &path, &json!({"state": "JobComplete"})).await;
    assert_eq!(status, 400, "{info}");
    let (status, info) = patch_json(&sim, &path, &json!({"state": "Aborted"})).await;
    assert_eq!(status, 200);
    assert_eq!(info["state"], "Aborted");
    assert_eq!(sim.query_job_state(&id), Some(QueryJobState::Aborted));
    let (status, again) = patch_json(&sim, &path, &json!({"state": "Aborted"})).await;
    assert_eq!(status, 400);
    assert_eq!(again[0]["errorCode"], "INVALIDJOBSTATE");
    let r = client()
        .delete(sf(&sim, &path))
        .bearer_auth(sim.access_token())
        .send()
        .await
        .expect("ok");
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(sim.query_job_state(&id), None);
    let (status, body) = get_json(&sim, &path).await;
    assert_eq!(status, 404);
    assert_eq!(body[0]["errorCode"], "NOT_FOUND");
}

#[tokio::test]
async fn aborting_a_completed_job_is_refused_with_the_vendor_message() {
    let sim = sim(3).await;
    let id = completed_query(&sim, "SELECT Id FROM Account").await;
    let (status, body) = patch_json(
        &sim,
        &format!("/jobs/query/{id}"),
        &json!({"state": "Aborted"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body[0]["message"],
        "Aborting already Completed Job not allowed"
    );
}

#[tokio::test]
async fn result_pages_list_at_most_five_links_and_page_on() {
    let sim = sim(23).await;
    let id = completed_query(&sim, "SELECT Id FROM Account").await;
    let (status, first) =
        get_json(&sim, &format!("/jobs/query/{id}/resultPages?maxRecords=2")).await;
    assert_eq!(status, 200);
    let links = first["resultPages"].as_array().expect("array");
    assert_eq!(links.len(), 5);
    assert_eq!(first["done"], false);
    let next = first["nextRecordsUrl"].as_str().expect("next");
    assert!(next.starts_with(&format!("/jobs/query/{id}/resultpages?locator=")));
    let mut total = 0;
    let mut url = format!("/jobs/query/{id}/resultPages?maxRecords=2");
    for _ in 0..10 {
        let (_, body) = get_json(&sim, &url).await;
        for link in body["resultPages"].as_array().expect("array") {
            let link = link["resultLink"].as_str().expect("link");
            assert!(link.starts_with(&format!("/jobs/query/{id}/results?locator=")));
            let query = link.split_once("results").expect("results").1;
            let (status, headers, _) = page(&sim, &id, query).await;
            assert_eq!(status, 200);
            total += header(&headers, "sforce-numberofrecords")
                .parse::<u64>()
                .expect("count");
        }
        match body["nextRecordsUrl"].as_str() {
            Some(next) => url = next.to_owned(),
            None => {
                assert_eq!(body["done"], true);
                break;
            }
        }
    }
    assert_eq!(total, 23);
    let old = format!(
        "{}/services/data/v57.0/jobs/query/{id}/resultPages",
        sim.instance_url()
    );
    let r = client()
        .get(old)
        .bearer_auth(sim.access_token())
        .send()
        .await
        .expect("ok");
    assert_eq!(r.status().as_u16(), 404, "resultPages needs v58+");
}

#[tokio::test]
async fn trailing_slashes_and_the_listing_pages() {
    let sim = Sim::builder()
        .rows("Account", 3)
        .list_page_size(2)
        .start()
        .await
        .expect("starts");
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(create_query(&sim, "SELECT Id FROM Account").await);
    }
    wait_for(
        &sim,
        &format!("/jobs/query/{}", ids[4]),
        "state",
        &["JobComplete"],
    )
    .await;
    let slash = sf(&sim, &format!("/jobs/query/{}/results/", ids[4]));
    let r = client()
        .get(slash)
        .bearer_auth(sim.access_token())
        .send()
        .await
        .expect("ok");
    assert_eq!(r.status().as_u16(), 200, "results/ with a trailing slash");
    let mut seen = Vec::new();
    let mut url = sf(&sim, "/jobs/query");
    for _ in 0..10 {
        let body: serde_json::Value = client()
            .get(&url)
            .bearer_auth(sim.access_token())
            .send()
            .await
            .expect("ok")
            .json()
            .await
            .expect("json");
        for r in body["records"].as_array().expect("records") {
            assert_eq!(r["jobType"], "V2Query");
            seen.push(r["id"].as_str().expect("id").to_owned());
        }
        if body["done"] == true {
            assert!(body["nextRecordsUrl"].is_null());
            break;
        }
        url = format!(
            "{}{}",
            sim.instance_url(),
            body["nextRecordsUrl"].as_str().expect("next")
        );
    }
    assert_eq!(seen, ids);
    let (_, ingest_only) = get_json(&sim, "/jobs/query?jobType=V2Ingest").await;
    assert_eq!(ingest_only["records"], json!([]));
}

#[tokio::test]
async fn filters_limits_and_query_all() {
    let sim = sim(200).await;
    let soql = "SELECT Id, Industry FROM Account WHERE Industry = 'Banking' AND NumberOfEmployees > 1000 LIMIT 5";
    let id = completed_query(&sim, soql).await;
    let (_, headers, text) = page(&sim, &id, "").await;
    let n: usize = header(&headers, "sforce-numberofrecords")
        .parse()
        .expect("count");
    assert!(n > 0 && n <= 5);
    assert!(text.lines().skip(1).all(|l| l.ends_with(",\"Banking\"")));
    assert_eq!(
        text.as_bytes(),
        sim.expected_query_csv(soql, ColumnDelimiter::Comma, LineEnding::Lf)
            .expect("ok")
            .as_slice()
    );
}

#[tokio::test]
async fn a_job_told_to_fail_fails_and_a_lying_page_lies() {
    let sim = sim(4).await;
    sim.fail_next_query_job();
    let id = create_query(&sim, "SELECT Id FROM Account").await;
    let info = wait_for(
        &sim,
        &format!("/jobs/query/{id}"),
        "state",
        &["Failed", "JobComplete"],
    )
    .await;
    assert_eq!(info["state"], "Failed");
    let id = completed_query(&sim, "SELECT Id FROM Account").await;
    sim.lie_about_record_count(3);
    let (_, headers, _) = page(&sim, &id, "").await;
    assert_eq!(header(&headers, "sforce-numberofrecords"), "7");
    let (_, headers, _) = page(&sim, &id, "").await;
    assert_eq!(header(&headers, "sforce-numberofrecords"), "4");
}

#[tokio::test]
async fn a_query_over_the_timeout_size_fails_with_query_timeout() {
    let sim = Sim::builder()
        .rows("Account", 100)
        .query_timeout_rows(60)
        .start()
        .await
        .expect("starts");
    let id = create_query(&sim, "SELECT Id FROM Account").await;
    let info = wait_for(
        &sim,
        &format!("/jobs/query/{id}"),
        "state",
        &["Failed", "JobComplete"],
    )
    .await;
    assert_eq!(info["state"], "Failed", "{info}");
    assert_eq!(
        info["errorMessage"], "QUERY_TIMEOUT : Your query request was running for too long.",
        "{info}"
    );
    let (status, _, _) = page(&sim, &id, "").await;
    assert_ne!(status, 200, "a failed job has no results");

    // A narrower query of the same object runs within the limit.
    let id = completed_query(&sim, "SELECT Id FROM Account LIMIT 60").await;
    let (_, info) = get_json(&sim, &format!("/jobs/query/{id}")).await;
    assert!(info.get("errorMessage").is_none(), "{info}");
    let (_, headers, _) = page(&sim, &id, "").await;
    assert_eq!(header(&headers, "sforce-numberofrecords"), "60");
    sim.shutdown().await;
}

#[tokio::test]
async fn big_pages_stream_completely() {
    let sim = sim(200_000).await;
    let soql = "SELECT Id, Name, NumberOfEmployees, AnnualRevenue, CreatedDate FROM Account";
    let id = completed_query(&sim, soql).await;
    let (status, headers, text) = page(&sim, &id, "?maxRecords=150000").await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "sforce-numberofrecords"), "150000");
    assert_eq!(text.lines().count(), 150_001);
    let expected = sim
        .expected_query_csv(soql, ColumnDelimiter::Comma, LineEnding::Lf)
        .expect("ok");
    assert!(expected.starts_with(text.as_bytes()));
}
