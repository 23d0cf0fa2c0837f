//! Async SOQL (api-facts §3).
mod common;

use std::time::Duration;

use common::*;
use haul_sim::Sim;
use haul_types::AsyncQueryStatus;
use serde_json::json;

#[tokio::test]
async fn copies_rows_into_the_target_with_field_and_value_maps() {
    let sim = Sim::builder()
        .rows("Sample_Event__b", 40)
        .start()
        .await
        .expect("starts");
    let body = json!({
        "query": "SELECT Account__c, Kind__c, Value__c FROM Sample_Event__b WHERE Kind__c = 'click'",
        "operation": "insert",
        "targetObject": "Event_Copy__c",
        "targetFieldMap": {"Account__c": "Account__c", "Kind__c": "Kind__c", "Value__c": "Value__c"},
        "targetValueMap": {"$JOB_ID": "BackgroundOperationLookup__c", "Copied by haul-sim": "BackgroundOperationDescription__c"},
    });
    let (status, created) = post_json(&sim, "/async-queries", &body).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "New");
    let id = created["jobId"].as_str().expect("id").to_owned();
    assert!(id.starts_with("08P"));
    let done = wait_for(
        &sim,
        &format!("/async-queries/{id}"),
        "status",
        &["Complete", "Failed"],
    )
    .await;
    assert_eq!(done["status"], "Complete");
    assert_eq!(done["targetObject"], "Event_Copy__c");
    let clicks = sim
        .expected_query_csv(
            "SELECT Id FROM Sample_Event__b WHERE Kind__c = 'click'",
            Default::default(),
            Default::default(),
        )
        .expect("ok");
    let expected = clicks.iter().filter(|&&b| b == b'\n').count() as u64 - 1;
    assert!(expected > 0);
    assert_eq!(sim.record_count("Event_Copy__c"), Some(expected));
    let copied = sim
        .expected_query_csv(
            &format!(
                "SELECT Kind__c FROM Event_Copy__c WHERE BackgroundOperationLookup__c = '{id}'"
            ),
            Default::default(),
            Default::default(),
        )
        .expect("ok");
    let text = String::from_utf8(copied).expect("utf8");
    assert_eq!(text.lines().count() as u64, expected + 1);
    assert!(text.lines().skip(1).all(|l| l == "\"click\""));
    let (_, list) = get_json(&sim, "/async-queries").await;
    assert_eq!(list["asyncQueries"][0]["jobId"], id);
}

#[tokio::test]
async fn walks_the_states_can_be_cancelled_and_fails_on_request() {
    let sim = Sim::builder()
        .job_duration(Duration::from_secs(3))
        .start()
        .await
        .expect("starts");
    let body = json!({"query": "SELECT Kind__c FROM Sample_Event__b", "targetObject": "Event_Copy__c", "targetFieldMap": {"Kind__c": "Kind__c"}});
    let (_, created) = post_json(&sim, "/async-queries", &body).await;
    let id = created["jobId"].as_str().expect("id").to_owned();
    let path = format!("/async-queries/{id}");
    wait_for(&sim, &path, "status", &["Scheduled"]).await;
    wait_for(&sim, &path, "status", &["Running"]).await;
    wait_for(&sim, &path, "status", &["Complete"]).await;
    let r = client()
        .delete(sf(&sim, &path))
        .bearer_auth(sim.access_token())
        .send()
        .await
        .expect("ok");
    assert_eq!(
        r.status().as_u16(),
        400,
        "finished queries cannot be cancelled"
    );

    let (_, created) = post_json(&sim, "/async-queries", &body).await;
    let id = created["jobId"].as_str().expect("id").to_owned();
    let r = client()
        .delete(sf(&sim, &format!("/async-queries/{id}")))
        .bearer_auth(sim.access_token())
        .send()
        .await
        .expect("ok");
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(
        sim.async_query_status(&id),
        Some(AsyncQueryStatus::Canceled)
    );

    sim.fail_next_async_query();
    let (_, created) = post_json(&sim, "/async-queries", &body).await;
    let id = created["jobId"].as_str().expect("id").to_owned();
    let failed = wait_for(
        &sim,
        &format!("/async-queries/{id}"),
        "status",
        &["Failed", "Complete"],
    )
    .await;
    assert_eq!(failed["status"], "Failed");
    assert!(!failed["message"].as_str().unwrap_or_default().is_empty());
}

#[tokio::test]
async fn rejects_bad_requests() {
    let sim = Sim::builder().start().await.expect("starts");
    for (body, code) in [
        (
            json!({"query": "SELECT Kind__c FROM Sample_Event__b", "targetObject": "Nope__c", "targetFieldMap": {"Kind__c": "Kind__c"}}),
            "INVALID_TYPE",
        ),
        (
            json!({"query": "SELECT Kind__c FROM Sample_Event__b", "targetObject": "Event_Copy__c", "targetFieldMap": {"Kind__c": "Nope__c"}}),
            "INVALID_FIELD",
        ),
        (
            json!({"query": "SELECT Kind__c FROM Sample_Event__b", "targetObject": "Event_Copy__c"}),
            "MISSING_ARGUMENT",
        ),
        (
            json!({"query": "SELECT FROM", "targetObject": "Event_Copy__c", "targetFieldMap": {"a": "b"}}),
            "MALFORMED_QUERY",
        ),
    ] {
        let (status, answer) = post_json(&sim, "/async-queries", &body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer[0]["errorCode"], code, "{answer}");
    }
}
