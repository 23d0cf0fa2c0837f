//! Helpers shared by the integration tests: a client and bounded polling.
#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use haul_sim::Sim;
use serde_json::Value;

pub const V: &str = "v62.0";

thread_local! {
    // Building a client loads TLS roots, which is slow; each test runs on its own thread (and
    // runtime), so one client per thread never outlives the runtime its connections belong to.
    static CLIENT: reqwest::Client = reqwest::Client::builder()
        .no_gzip()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client builds");
}

/// A client that does not decompress on its own, so tests see `Content-Encoding`.
pub fn client() -> reqwest::Client {
    CLIENT.with(Clone::clone)
}

/// `{instance}/services/data/v62.0{path}`.
pub fn sf(sim: &Sim, path: &str) -> String {
    format!("{}/services/data/{V}{path}", sim.instance_url())
}

pub async fn get_json(sim: &Sim, path: &str) -> (u16, Value) {
    let r = client()
        .get(sf(sim, path))
        .bearer_auth(sim.access_token())
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub async fn post_json(sim: &Sim, path: &str, body: &Value) -> (u16, Value) {
    let r = client()
        .post(sf(sim, path))
        .bearer_auth(sim.access_token())
        .json(body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub async fn patch_json(sim: &Sim, path: &str, body: &Value) -> (u16, Value) {
    let r = client()
        .patch(sf(sim, path))
        .bearer_auth(sim.access_token())
        .json(body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Creates a query job and returns its id.
pub async fn create_query(sim: &Sim, soql: &str) -> String {
    let (status, body) = post_json(
        sim,
        "/jobs/query",
        &serde_json::json!({ "operation": "query", "query": soql }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["id"].as_str().expect("id").to_owned()
}

/// Polls `GET {path}` until `field` is one of `wanted` (at most 20 s, 1000 polls).
pub async fn wait_for(sim: &Sim, path: &str, field: &str, wanted: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    for _ in 0..1000 {
        let (_, body) = get_json(sim, path).await;
        if body[field].as_str().is_some_and(|s| wanted.contains(&s)) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {wanted:?} at {path}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{path} never reached {wanted:?}");
}

/// Waits for a query job to complete and returns its id.
pub async fn completed_query(sim: &Sim, soql: &str) -> String {
    let id = create_query(sim, soql).await;
    wait_for(sim, &format!("/jobs/query/{id}"), "state", &["JobComplete"]).await;
    id
}

/// One results page: (status, headers, body text).
pub async fn page(sim: &Sim, id: &str, query: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let url = sf(sim, &format!("/jobs/query/{id}/results{query}"));
    let r = client()
        .get(url)
        .bearer_auth(sim.access_token())
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.expect("body"))
}

pub fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Runs an ingest job to the end (create, upload, close, wait) and returns its final info.
pub async fn run_ingest(sim: &Sim, job: &Value, csv: &str) -> Value {
    let (status, info) = post_json(sim, "/jobs/ingest", job).await;
    assert_eq!(status, 200, "{info}");
    let id = info["id"].as_str().expect("id").to_owned();
    let upload = client()
        .put(sf(sim, &format!("/jobs/ingest/{id}/batches")))
        .bearer_auth(sim.access_token())
        .header("Content-Type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .expect("upload");
    assert_eq!(upload.status().as_u16(), 201);
    let closed = serde_json::json!({ "state": "UploadComplete" });
    let (status, _) = patch_json(sim, &format!("/jobs/ingest/{id}"), &closed).await;
    assert_eq!(status, 200);
    wait_for(
        sim,
        &format!("/jobs/ingest/{id}"),
        "state",
        &["JobComplete", "Failed"],
    )
    .await
}

/// `GET {instance}{path}` with the session token: (status, JSON body or null).
pub async fn get_absolute(sim: &Sim, path: &str) -> (u16, Value) {
    let r = client()
        .get(format!("{}{path}", sim.instance_url()))
        .bearer_auth(sim.access_token())
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}
