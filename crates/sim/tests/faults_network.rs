//! Fault injection, network profiles and request statistics.
mod common;

use std::time::Duration;

use common::*;
use haul_sim::{FaultPlan, NetworkProfile, Sim};
use serde_json::Value;

#[tokio::test]
async fn status_faults_have_vendor_bodies_and_retry_after() {
    let sim = Sim::builder()
        .faults(FaultPlan::parse("503=0.3,429=0.3,500=0.2,seed=11").expect("spec"))
        .start()
        .await
        .expect("starts");
    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..200 {
        let r = client()
            .get(sf(&sim, "/jobs/query"))
            .bearer_auth(sim.access_token())
            .send()
            .await
            .expect("ok");
        let status = r.status().as_u16();
        let retry_after = r.headers().get("retry-after").is_some();
        let body: Value = r.json().await.expect("json body");
        *seen.entry(status).or_insert(0) += 1;
        match status {
            429 => assert!(retry_after && body[0]["errorCode"].is_string()),
            500 | 503 => assert!(body[0]["errorCode"].is_string()),
            200 => assert!(body["records"].is_array()),
            other => panic!("unexpected {other}"),
        }
    }
    assert!(seen.len() == 4, "{seen:?}");
    // Faults never touch /__sim.
    for _ in 0..50 {
        let r = client()
            .get(format!("{}/__sim/stats", sim.instance_url()))
            .send()
            .await
            .expect("ok");
        assert_eq!(r.status().as_u16(), 200);
    }
    let stats = sim.stats();
    assert_eq!(
        stats.count("GET", "/services/data/{version}/jobs/query"),
        200
    );
    assert_eq!(stats.count_status(503), seen[&503]);
    assert!(stats.count("GET", "/__sim/stats") >= 49);
}

#[tokio::test]
async fn faults_are_reproducible_for_a_seed() {
    async fn statuses(seed: u64) -> Vec<u16> {
        let plan = FaultPlan::parse(&format!("503=0.5,seed={seed}")).expect("spec");
        let sim = Sim::builder().faults(plan).start().await.expect("starts");
        let mut out = Vec::new();
        for _ in 0..40 {
            let r = client()
                .get(sf(&sim, "/jobs/query"))
                .bearer_auth(sim.access_token())
                .send()
                .await
                .expect("ok");
            out.push(r.status().as_u16());
        }
        out
    }
    assert_eq!(statuses(5).await, statuses(5).await);
    assert_ne!(statuses(5).await, statuses(6).await);
}

#[tokio::test]
async fn truncated_and_reset_bodies_break_the_transfer() {
    for (spec, promises_length) in [("truncate=1", true), ("reset=1", false)] {
        let sim = Sim::builder()
            .faults(FaultPlan::parse(spec).expect("spec"))
            .start()
            .await
            .expect("starts");
        let r = client()
            .get(sf(&sim, "/jobs/query"))
            .bearer_auth(sim.access_token())
            .send()
            .await
            .expect("headers arrive");
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(
            r.headers().get("content-length").is_some(),
            promises_length,
            "{spec}"
        );
        assert!(
            r.bytes().await.is_err(),
            "{spec}: the body must not complete"
        );
    }
}

#[tokio::test]
async fn bandwidth_profile_still_delivers_every_byte() {
    let profile = NetworkProfile::wan(Duration::from_millis(5), 2_000_000);
    let sim = Sim::builder()
        .rows("Account", 3000)
        .profile(profile)
        .start()
        .await
        .expect("starts");
    let id = completed_query(&sim, "SELECT Id, Name, Description FROM Account").await;
    let (status, headers, text) = page(&sim, &id, "").await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "sforce-numberofrecords"), "3000");
    let expected = sim
        .expected_query_csv(
            "SELECT Id, Name, Description FROM Account",
            Default::default(),
            Default::default(),
        )
        .expect("ok");
    assert_eq!(text.as_bytes(), expected.as_slice());
}
