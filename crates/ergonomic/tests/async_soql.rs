//! Async SOQL against haul-sim: a copy read back through a bulk query, upsert, cancel, failure,
//! listing, and refusals before any request.

mod common;

use std::time::Duration;

use common::{TempDir, client, sim};
use haul::BackoffPolicy;
use haul::salesforce::async_soql::AsyncQueryJob;
use haul::types::{AsyncQueryStatus, ColumnDelimiter, LineEnding};
use haul_sim::Sim;

const ASYNC: &str = "/services/data/{version}/async-queries";

fn fast() -> BackoffPolicy {
    BackoffPolicy::fixed(Duration::from_millis(10))
}

fn async_requests(sim: &Sim) -> u64 {
    sim.stats()
        .requests
        .iter()
        .filter(|r| r.route.contains("/async-queries"))
        .map(|r| r.count)
        .sum()
}

/// The rows of a CSV file, header included, sorted after the header.
fn sorted_rows(csv: &[u8]) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(csv);
    let mut rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    rows[1..].sort();
    rows
}

#[tokio::test]
async fn a_copy_into_another_object_is_read_back_by_a_bulk_query() {
    let sim = sim().rows("Sample_Event__b", 500).start().await.unwrap();
    let sf = client(&sim);
    let query = sf
        .async_soql("SELECT Account__c, Kind__c FROM Sample_Event__b")
        .insert_into("Event_Copy__c")
        .map("Account__c", "Account__c")
        .map("Kind__c", "Kind__c")
        .value("$JOB_ID", "BackgroundOperationLookup__c")
        .value("copied by haul", "BackgroundOperationDescription__c")
        .submit()
        .await
        .unwrap();
    let done = query.wait().backoff(fast()).await.unwrap();
    assert_eq!(done.status, AsyncQueryStatus::Complete);
    assert_eq!(done.job_id, query.id());
    assert_eq!(done.target_object.as_deref(), Some("Event_Copy__c"));

    let dir = TempDir::new("async-copy");
    let report = sf
        .bulk_query(
            "SELECT Account__c, Kind__c, BackgroundOperationLookup__c, \
             BackgroundOperationDescription__c FROM Event_Copy__c",
        )
        .download_to(dir.join("copy.csv"))
        .await
        .unwrap();
    assert_eq!(report.records, 500);
    let copied = sorted_rows(&std::fs::read(dir.join("copy.csv")).unwrap());
    let source = sorted_rows(
        &sim.expected_query_csv(
            "SELECT Account__c, Kind__c FROM Sample_Event__b",
            ColumnDelimiter::Comma,
            LineEnding::Lf,
        )
        .unwrap(),
    );
    assert_eq!(copied.len(), source.len());
    for (copy, original) in copied[1..].iter().zip(&source[1..]) {
        assert_eq!(copy[..2], original[..]);
        assert_eq!(copy[2], query.id());
        assert_eq!(copy[3], "copied by haul");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn an_upsert_updates_the_rows_it_wrote_before() {
    let sim = sim().rows("Sample_Event__b", 200).start().await.unwrap();
    let sf = client(&sim);
    let copy = |label: &'static str| {
        sf.async_soql("SELECT Session__c, Kind__c FROM Sample_Event__b")
            .upsert_into("Event_Copy__c", "Session__c")
            .map("Session__c", "Session__c")
            .map("Kind__c", "Kind__c")
            .value(label, "BackgroundOperationDescription__c")
    };
    let distinct_sessions = {
        let csv = sim
            .expected_query_csv(
                "SELECT Session__c FROM Sample_Event__b",
                ColumnDelimiter::Comma,
                LineEnding::Lf,
            )
            .unwrap();
        let mut rows = sorted_rows(&csv);
        rows.dedup();
        rows.len() as u64 - 1
    };
    for label in ["first", "second"] {
        let query = copy(label).submit().await.unwrap();
        query.wait().backoff(fast()).await.unwrap();
        assert_eq!(sim.record_count("Event_Copy__c"), Some(distinct_sessions));
    }
    let csv = sim
        .expected_query_csv(
            "SELECT Id FROM Event_Copy__c WHERE BackgroundOperationDescription__c = 'second'",
            ColumnDelimiter::Comma,
            LineEnding::Lf,
        )
        .unwrap();
    assert_eq!(sorted_rows(&csv).len() as u64 - 1, distinct_sessions);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_cancelled_query_ends_canceled_and_its_wait_fails() {
    let sim = sim()
        .rows("Sample_Event__b", 10)
        .job_duration(Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let sf = client(&sim);
    let query = sf
        .async_soql("SELECT Kind__c FROM Sample_Event__b")
        .insert_into("Event_Copy__c")
        .map("Kind__c", "Kind__c")
        .submit()
        .await
        .unwrap();
    assert!(!query.info().await.unwrap().status.is_terminal());
    query.cancel().await.unwrap();
    assert_eq!(
        sim.async_query_status(query.id()),
        Some(AsyncQueryStatus::Canceled)
    );
    let error = query.wait().backoff(fast()).await.unwrap_err();
    assert!(
        matches!(&error, haul::Error::JobFailed { state, .. } if state == "Canceled"),
        "{error:?}"
    );
    // A finished query cannot be cancelled again; the server says so.
    let again = query.cancel().await.unwrap_err();
    assert_eq!(again.status(), Some(400));
    sim.shutdown().await;
}

#[tokio::test]
async fn an_abandoned_wait_cancels_the_query_when_asked() {
    let sim = sim()
        .rows("Sample_Event__b", 10)
        .job_duration(Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let sf = client(&sim);
    let query = sf
        .async_soql("SELECT Kind__c FROM Sample_Event__b")
        .insert_into("Event_Copy__c")
        .map("Kind__c", "Kind__c")
        .submit()
        .await
        .unwrap();
    let error = query
        .wait()
        .backoff(fast())
        .timeout(Duration::from_millis(200))
        .abort_on_timeout(true)
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(
        sim.async_query_status(query.id()),
        Some(AsyncQueryStatus::Canceled)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_failed_query_is_an_error_carrying_its_message() {
    let sim = sim().rows("Sample_Event__b", 10).start().await.unwrap();
    let sf = client(&sim);
    sim.fail_next_async_query();
    let query = sf
        .async_soql("SELECT Kind__c FROM Sample_Event__b")
        .insert_into("Event_Copy__c")
        .map("Kind__c", "Kind__c")
        .submit()
        .await
        .unwrap();
    match query.wait().backoff(fast()).await.unwrap_err() {
        haul::Error::JobFailed {
            what,
            state,
            message,
            ..
        } => {
            assert_eq!(state, "Failed");
            assert!(what.contains(query.id()), "{what}");
            assert_eq!(
                message.as_deref(),
                Some("The simulator was told to fail this query")
            );
        }
        other => panic!("expected JobFailed, got {other:?}"),
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn queries_are_listed_and_found_by_id() {
    let sim = sim().rows("Sample_Event__b", 10).start().await.unwrap();
    let sf = client(&sim);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let query = sf
            .async_soql("SELECT Kind__c FROM Sample_Event__b")
            .insert_into("Event_Copy__c")
            .map("Kind__c", "Kind__c")
            .submit()
            .await
            .unwrap();
        ids.push(query.id().to_owned());
    }
    let mut listed: Vec<String> = sf
        .async_queries()
        .await
        .unwrap()
        .into_iter()
        .map(|q| q.job_id)
        .collect();
    listed.sort();
    ids.sort();
    assert_eq!(listed, ids);
    let found = sf.async_query(&ids[0]).unwrap();
    let done = found.wait().backoff(fast()).await.unwrap();
    assert_eq!(
        done.query.as_deref(),
        Some("SELECT Kind__c FROM Sample_Event__b")
    );
    assert_eq!(sim.stats().count("GET", ASYNC), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_ids_and_incomplete_queries_are_refused_before_any_request() {
    let sim = sim().rows("Sample_Event__b", 10).start().await.unwrap();
    let sf = client(&sim);
    for id in ["", "08P/../../jobs", "08P%2e%2e", "08P?x=1", "08P 1"] {
        assert!(
            matches!(sf.async_query(id), Err(haul::Error::InvalidInput { .. })),
            "{id:?}"
        );
    }
    let refused = [
        sf.async_soql("SELECT Kind__c FROM Sample_Event__b")
            .map("Kind__c", "Kind__c"),
        sf.async_soql("SELECT Kind__c FROM Sample_Event__b")
            .insert_into("Event_Copy__c"),
        sf.async_soql("  ")
            .insert_into("Event_Copy__c")
            .map("Kind__c", "Kind__c"),
        sf.async_soql("SELECT Kind__c FROM Sample_Event__b")
            .upsert_into("Event_Copy__c", "")
            .map("Kind__c", "Kind__c"),
    ];
    for (i, builder) in refused.into_iter().enumerate() {
        let error = builder.submit().await.unwrap_err();
        assert!(
            matches!(error, haul::Error::InvalidInput { .. }),
            "{i}: {error:?}"
        );
    }
    assert_eq!(async_requests(&sim), 0);
    sim.shutdown().await;
}

#[test]
fn handles_can_be_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<AsyncQueryJob>();
    send_sync::<haul::salesforce::async_soql::AsyncQueryBuilder>();
}
