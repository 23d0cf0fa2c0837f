//! Looker API 4.0 login, queries and query tasks (api-facts §4).
mod common;

use std::time::{Duration, Instant};

use common::client;
use haul_sim::Sim;
use haul_types::QueryTaskStatus;
use serde_json::{Value, json};

fn api(sim: &Sim, path: &str) -> String {
    format!("{}/api/4.0{path}", sim.looker().base_url())
}

async fn login(sim: &Sim) -> String {
    let r = client()
        .post(api(sim, "/login"))
        .form(&[
            ("client_id", sim.looker().client_id()),
            ("client_secret", sim.looker().client_secret()),
        ])
        .send()
        .await
        .expect("ok");
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["token_type"], "Bearer");
    assert!(
        body["expires_in"]
            .as_u64()
            .is_some_and(|s| s > 0 && s <= 3600)
    );
    body["access_token"].as_str().expect("token").to_owned()
}

async fn post(sim: &Sim, token: &str, path: &str, body: &Value) -> (u16, Value) {
    let r = client()
        .post(api(sim, path))
        .header("Authorization", format!("token {token}"))
        .json(body)
        .send()
        .await
        .expect("ok");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn get(sim: &Sim, token: &str, path: &str) -> reqwest::Response {
    client()
        .get(api(sim, path))
        .bearer_auth(token)
        .send()
        .await
        .expect("ok")
}

async fn task(sim: &Sim, token: &str, fields: &[&str], format: &str) -> String {
    let query = json!({"model": "thelook", "view": "order_items", "fields": fields, "filters": {"users.state": "California"}, "limit": "10"});
    let (status, q) = post(sim, token, "/queries", &query).await;
    assert_eq!(status, 200, "{q}");
    let (status, t) = post(
        sim,
        token,
        "/query_tasks",
        &json!({"query_id": q["id"], "result_format": format}),
    )
    .await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["status"], "added");
    t["id"].as_str().expect("id").to_owned()
}

async fn wait_done(sim: &Sim, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    for _ in 0..1000 {
        let body: Value = get(sim, token, &format!("/query_tasks/{id}"))
            .await
            .json()
            .await
            .expect("json");
        if !matches!(body["status"].as_str(), Some("added" | "running")) {
            return body;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("task {id} never finished");
}

#[tokio::test]
async fn login_by_form_or_query_and_both_schemes_and_logout() {
    let sim = Sim::builder().start().await.expect("starts");
    let r = client()
        .get(api(&sim, "/query_tasks/x"))
        .send()
        .await
        .expect("ok");
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = r.json().await.expect("json");
    assert_eq!(
        body,
        json!({"message": "Requires authentication.", "documentation_url": "http://docs.looker.com/"})
    );
    let url = format!(
        "{}?client_id={}&client_secret={}",
        api(&sim, "/login"),
        sim.looker().client_id(),
        sim.looker().client_secret()
    );
    let r = client().post(url).send().await.expect("ok");
    assert_eq!(r.status().as_u16(), 200, "credentials as query parameters");
    let bad = client()
        .post(api(&sim, "/login"))
        .form(&[("client_id", "x"), ("client_secret", "y")])
        .send()
        .await
        .expect("ok");
    assert_eq!(bad.status().as_u16(), 404);
    let token = login(&sim).await;
    assert_eq!(
        get(&sim, &token, "/running_queries")
            .await
            .status()
            .as_u16(),
        200
    );
    let r = client()
        .get(api(&sim, "/running_queries"))
        .header("Authorization", format!("token {token}"))
        .send()
        .await
        .expect("ok");
    assert_eq!(r.status().as_u16(), 200);
    let out = client()
        .delete(format!("{}/api/logout", sim.looker().base_url()))
        .bearer_auth(&token)
        .send()
        .await
        .expect("ok");
    assert_eq!(out.status().as_u16(), 204);
    assert_eq!(
        get(&sim, &token, "/running_queries")
            .await
            .status()
            .as_u16(),
        401
    );
    let token = login(&sim).await;
    let out = client()
        .delete(api(&sim, "/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("ok");
    assert_eq!(out.status().as_u16(), 204);
    assert_eq!(
        get(&sim, &token, "/running_queries")
            .await
            .status()
            .as_u16(),
        401
    );
}

#[tokio::test]
async fn identical_queries_share_an_id_and_bad_ones_are_422() {
    let sim = Sim::builder().start().await.expect("starts");
    let token = login(&sim).await;
    let q = json!({"model": "thelook", "view": "users", "fields": ["users.state", "users.count"]});
    let (_, a) = post(&sim, &token, "/queries", &q).await;
    let (_, b) = post(&sim, &token, "/queries", &q).await;
    assert_eq!(a["id"], b["id"]);
    assert!(a["id"].is_string());
    let (_, c) = post(
        &sim,
        &token,
        "/queries",
        &json!({"model": "thelook", "view": "users", "fields": ["users.city"]}),
    )
    .await;
    assert_ne!(a["id"], c["id"]);
    let (status, bad) = post(
        &sim,
        &token,
        "/queries",
        &json!({"model": "thelook", "view": "users", "fields": ["users.nope"]}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(bad["message"], "Validation Failed");
    let (status, _) = post(
        &sim,
        &token,
        "/query_tasks",
        &json!({"query_id": a["id"], "result_format": "xlsx"}),
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = post(
        &sim,
        &token,
        "/query_tasks",
        &json!({"query_id": "999999", "result_format": "csv"}),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn tasks_run_to_complete_and_render_each_format() {
    let sim = Sim::builder()
        .job_duration(Duration::from_millis(300))
        .start()
        .await
        .expect("starts");
    let token = login(&sim).await;
    let id = task(&sim, &token, &["users.city", "order_items.count"], "csv").await;
    let early = get(&sim, &token, &format!("/query_tasks/{id}/results")).await;
    assert_eq!(early.status().as_u16(), 202, "not finished yet");
    let done = wait_done(&sim, &token, &id).await;
    assert_eq!(done["status"], "complete");
    assert_eq!(
        sim.looker().task_status(&id),
        Some(QueryTaskStatus::Complete)
    );
    let csv = get(&sim, &token, &format!("/query_tasks/{id}/results")).await;
    assert_eq!(csv.status().as_u16(), 200);
    let text = csv.text().await.expect("text");
    assert!(text.starts_with("Users City,Order Items Count\n"), "{text}");
    for (format, check) in [
        (
            "json",
            Box::new(|v: &Value| {
                v.as_array()
                    .is_some_and(|a| !a.is_empty() && a[0]["users.city"].is_string())
            }) as Box<dyn Fn(&Value) -> bool>,
        ),
        (
            "json_detail",
            Box::new(|v: &Value| {
                v["data"][0]["users.city"]["value"].is_string()
                    && v["fields"]["measures"][0]["name"] == "order_items.count"
            }),
        ),
    ] {
        let id = task(&sim, &token, &["users.city", "order_items.count"], format).await;
        wait_done(&sim, &token, &id).await;
        let body: Value = get(&sim, &token, &format!("/query_tasks/{id}/results"))
            .await
            .json()
            .await
            .expect("json");
        assert!(check(&body), "{format}: {body}");
    }
    let id = task(&sim, &token, &["users.city", "order_items.count"], "txt").await;
    wait_done(&sim, &token, &id).await;
    let txt = get(&sim, &token, &format!("/query_tasks/{id}/results"))
        .await
        .text()
        .await
        .expect("text");
    assert!(txt.starts_with("Users City\tOrder Items Count\n"));
}

#[tokio::test]
async fn multi_results_kill_error_and_expiry() {
    let sim = Sim::builder()
        .job_duration(Duration::from_millis(400))
        .looker(|o| o.result_ttl(Duration::from_millis(3000)))
        .start()
        .await
        .expect("starts");
    let token = login(&sim).await;
    let a = task(&sim, &token, &["users.state", "users.count"], "json").await;
    let b = task(&sim, &token, &["orders.status"], "csv").await;
    let broken = task(&sim, &token, &["orders.bad_sql"], "json_detail").await;
    let broken_csv = task(&sim, &token, &["orders.bad_sql"], "csv").await;
    let killed = task(&sim, &token, &["users.city"], "csv").await;
    let r = client()
        .delete(api(&sim, &format!("/running_queries/{killed}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("ok");
    assert_eq!(r.status().as_u16(), 204);
    for id in [&a, &b, &broken, &broken_csv] {
        wait_done(&sim, &token, id).await;
    }
    let ids = [
        a.as_str(),
        b.as_str(),
        broken.as_str(),
        killed.as_str(),
        "unknown",
    ]
    .join(",");
    let multi: Value = get(
        &sim,
        &token,
        &format!("/query_tasks/multi_results?query_task_ids={ids}"),
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(multi[&a]["status"], "complete");
    assert!(
        multi[&a]["data"]
            .as_array()
            .is_some_and(|rows| !rows.is_empty())
    );
    assert_eq!(multi[&b]["status"], "complete");
    assert!(
        multi[&b]["data"]
            .as_str()
            .is_some_and(|t| t.starts_with("Orders Status\n"))
    );
    assert_eq!(multi[&broken]["status"], "error");
    assert!(multi[&broken]["data"]["errors"][0]["message"].is_string());
    assert_eq!(multi[&killed]["status"], "killed");
    assert_eq!(multi["unknown"]["status"], "missing");
    let detail = get(&sim, &token, &format!("/query_tasks/{broken}/results")).await;
    assert_eq!(
        detail.status().as_u16(),
        200,
        "json_detail errors come back as 200"
    );
    let plain = get(&sim, &token, &format!("/query_tasks/{broken_csv}/results")).await;
    assert_eq!(plain.status().as_u16(), 400);
    let r = client()
        .delete(api(&sim, &format!("/running_queries/{a}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("ok");
    assert_eq!(r.status().as_u16(), 404, "finished tasks cannot be killed");
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let expired: Value = get(&sim, &token, &format!("/query_tasks/{a}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(expired["status"], "expired");
    assert_eq!(
        get(&sim, &token, &format!("/query_tasks/{a}/results"))
            .await
            .status()
            .as_u16(),
        404
    );
}

#[tokio::test]
async fn legacy_switch_answers_204_while_running() {
    let sim = Sim::builder()
        .looker(|o| o.legacy_204(true))
        .job_duration(Duration::from_secs(30))
        .start()
        .await
        .expect("starts");
    let token = login(&sim).await;
    let id = task(&sim, &token, &["users.state"], "csv").await;
    assert_eq!(
        get(&sim, &token, &format!("/query_tasks/{id}/results"))
            .await
            .status()
            .as_u16(),
        204
    );
}
