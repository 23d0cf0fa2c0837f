//! Query jobs against haul-sim: waiting, failing, aborting, listing, paging and typed rows.

mod common;

use std::time::Duration;

use common::{client, eventually, sim};
use futures::{StreamExt, TryStreamExt};
use haul::BackoffPolicy;
use haul::types::QueryJobState;

const SOQL: &str = "SELECT Id, Name FROM Account";

#[tokio::test]
async fn waiting_reports_progress_and_ends_with_the_completed_job() {
    let sim = sim()
        .rows("Account", 100)
        .job_duration(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let sf = client(&sim);
    let job = sf.bulk_query(SOQL).submit().await.unwrap();
    let poller = job
        .wait()
        .backoff(BackoffPolicy::fixed(Duration::from_millis(20)));
    let progress = poller.progress();
    let done = poller.await.unwrap();
    assert_eq!(done.info().state, QueryJobState::JobComplete);
    assert_eq!(done.expected_records(), Some(100));
    assert_eq!(
        progress.borrow().as_ref().map(|info| info.state.clone()),
        Some(QueryJobState::JobComplete)
    );
    let polls = sim
        .stats()
        .count("GET", "/services/data/{version}/jobs/query/{id}");
    assert!(
        (2..=40).contains(&polls),
        "{polls} status requests for a 300 ms job polled every 20 ms"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wait_can_be_stepped_by_hand_and_read_as_a_stream() {
    let sim = sim()
        .rows("Account", 10)
        .job_duration(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let sf = client(&sim);
    let job = sf.bulk_query(SOQL).submit().await.unwrap();
    let poller = job.wait();
    let mut seen = poller.progress_stream();
    let mut rounds = 0;
    let finished = loop {
        rounds += 1;
        assert!(rounds <= 100, "the job never finished");
        match poller.poll().await.unwrap() {
            haul::Polled::Finished(info) => break info,
            haul::Polled::Pending(info) => assert_ne!(info.state, QueryJobState::JobComplete),
            other => panic!("unexpected {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(finished.state, QueryJobState::JobComplete);
    let latest = tokio::time::timeout(Duration::from_secs(5), seen.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.state, QueryJobState::JobComplete);
    drop(poller);
    let ended = tokio::time::timeout(Duration::from_secs(5), seen.next()).await;
    assert!(matches!(ended, Ok(None)), "the stream ends with the poller");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_failed_job_is_an_error_naming_the_job_and_its_state() {
    let sim = sim().rows("Account", 10).start().await.unwrap();
    let sf = client(&sim);
    sim.fail_next_query_job();
    let job = sf.bulk_query(SOQL).submit().await.unwrap();
    let error = job
        .wait()
        .backoff(BackoffPolicy::fixed(Duration::from_millis(10)))
        .await
        .unwrap_err();
    match &error {
        haul::Error::JobFailed { what, state, .. } => {
            assert_eq!(state, "Failed");
            assert!(what.contains(job.id().as_str()), "{what}");
        }
        other => panic!("expected JobFailed, got {other:?}"),
    }
    // The error carries everything the server last said about the job.
    let info = haul::salesforce::query::failed_job(&error).expect("the query job's info");
    assert_eq!(&info.id, job.id());
    assert_eq!(info.state, QueryJobState::Failed);
    assert_eq!(info.object.as_deref(), Some("Account"));
    assert!(error.is_job_failed());
    assert!(
        error
            .failed_job::<haul::salesforce::ingest::IngestJobInfo>()
            .is_none(),
        "the details are the query family's own type"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn an_abandoned_wait_aborts_the_job_when_asked() {
    let sim = sim()
        .rows("Account", 10)
        .job_duration(Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let sf = client(&sim);
    let job = sf.bulk_query(SOQL).submit().await.unwrap();
    let id = job.id().to_string();
    let wait = job
        .wait()
        .backoff(BackoffPolicy::fixed(Duration::from_millis(20)))
        .abort_on_drop(true);
    assert!(
        tokio::time::timeout(Duration::from_millis(150), wait)
            .await
            .is_err(),
        "the job cannot finish yet"
    );
    let aborted = eventually(Duration::from_secs(5), || {
        sim.query_job_state(&id) == Some(QueryJobState::Aborted)
    })
    .await;
    assert!(
        aborted,
        "the simulator shows {:?}",
        sim.query_job_state(&id)
    );

    // Without abort_on_drop the job keeps running.
    let kept = sf.bulk_query(SOQL).submit().await.unwrap();
    let kept_id = kept.id().to_string();
    let _ = tokio::time::timeout(Duration::from_millis(100), kept.wait()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_ne!(sim.query_job_state(&kept_id), Some(QueryJobState::Aborted));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_timed_out_wait_is_a_timeout_error_and_aborts_when_asked() {
    let sim = sim()
        .rows("Account", 10)
        .job_duration(Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let sf = client(&sim);
    let job = sf.bulk_query(SOQL).submit().await.unwrap();
    let error = job
        .wait()
        .backoff(BackoffPolicy::fixed(Duration::from_millis(20)))
        .timeout(Duration::from_millis(200))
        .abort_on_timeout(true)
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert!(
        error.to_string().contains("InProgress") || error.to_string().contains("UploadComplete"),
        "{error}"
    );
    assert_eq!(
        sim.query_job_state(job.id().as_str()),
        Some(QueryJobState::Aborted)
    );

    let other = sf.bulk_query(SOQL).submit().await.unwrap();
    let error = other
        .wait()
        .backoff(BackoffPolicy::fixed(Duration::from_millis(5)))
        .max_attempts(3)
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn cancelling_a_wait_returns_cancelled() {
    let sim = sim()
        .rows("Account", 10)
        .job_duration(Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let sf = client(&sim);
    let job = sf.bulk_query(SOQL).submit().await.unwrap();
    let token = haul::CancellationToken::new();
    let wait = tokio::spawn(job.wait().cancel_on(token.clone()).into_future());
    tokio::time::sleep(Duration::from_millis(50)).await;
    token.cancel();
    let outcome = tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(outcome, Err(haul::Error::Cancelled)),
        "{outcome:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn jobs_can_be_aborted_and_deleted_only_in_the_legal_states() {
    let sim = sim()
        .rows("Account", 10)
        .job_duration(Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let sf = client(&sim);
    let job = sf.bulk_query(SOQL).submit().await.unwrap();
    let error = job.delete().await.unwrap_err();
    assert_eq!(
        (error.status(), error.vendor_code()),
        (Some(400), Some("API_ERROR")),
        "{error}"
    );
    assert_eq!(job.abort().await.unwrap().state, QueryJobState::Aborted);
    let error = job.abort().await.unwrap_err();
    assert_eq!(error.vendor_code(), Some("INVALIDJOBSTATE"), "{error}");
    job.delete().await.unwrap();
    let error = job.info().await.unwrap_err();
    assert!(error.is_not_found(), "{error:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_job_listing_follows_next_records_url_lazily() {
    let sim = sim()
        .rows("Account", 10)
        .list_page_size(3)
        .start()
        .await
        .unwrap();
    let sf = client(&sim);
    let mut created = Vec::new();
    for _ in 0..8 {
        created.push(sf.bulk_query(SOQL).submit().await.unwrap().id().to_string());
    }
    let list_route = "/services/data/{version}/jobs/query";
    let before = sim.stats().count("GET", list_route);
    let stream = sf.query_jobs();
    assert_eq!(
        sim.stats().count("GET", list_route),
        before,
        "nothing is sent before the stream is read"
    );
    let mut listed: Vec<String> = stream
        .map_ok(|info| info.id.to_string())
        .try_collect()
        .await
        .unwrap();
    listed.sort();
    created.sort();
    assert_eq!(listed, created);
    assert_eq!(
        sim.stats().count("GET", list_route) - before,
        3,
        "8 jobs at 3 a page"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn pages_follow_the_locator_chain_and_records_deserialise() {
    #[derive(serde::Deserialize)]
    struct Account {
        #[serde(rename = "Id")]
        id: String,
        #[serde(rename = "Name")]
        name: String,
    }
    let sim = sim()
        .rows("Account", 2_345)
        .default_page_size(1_000)
        .start()
        .await
        .unwrap();
    let sf = client(&sim);
    let done = sf
        .bulk_query(SOQL)
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let pages: Vec<_> = done.pages().try_collect().await.unwrap();
    assert_eq!(
        pages.iter().map(|p| p.records).collect::<Vec<_>>(),
        [1_000, 1_000, 345]
    );
    assert_eq!(pages[0].locator, None);
    assert!(pages[1].locator.is_some());

    let small: Vec<_> = done
        .pages_with_max_records(2_000)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(small.len(), 2);

    let accounts: Vec<Account> = done.records::<Account>().try_collect().await.unwrap();
    assert_eq!(accounts.len(), 2_345);
    assert!(
        accounts
            .iter()
            .all(|a| a.id.starts_with("001") && a.id.len() == 18)
    );
    // The generated names carry commas, quotes and line breaks; the CSV reader must restore them.
    let expected = sim
        .expected_query_csv(SOQL, Default::default(), Default::default())
        .unwrap();
    let mut reader = csv::Reader::from_reader(&expected[..]);
    let names: Vec<String> = reader.records().map(|r| r.unwrap()[1].to_owned()).collect();
    assert_eq!(
        accounts.iter().map(|a| a.name.clone()).collect::<Vec<_>>(),
        names
    );
    assert!(
        names
            .iter()
            .any(|n| n.contains(',') || n.contains('"') || n.contains('\n'))
    );
    let first = done.records::<Account>().next().await.unwrap().unwrap();
    assert_eq!(first.id, accounts[0].id);
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_soql_and_bad_tokens_are_clear_errors() {
    let sim = sim().rows("Account", 10).start().await.unwrap();
    let sf = client(&sim);
    let error = sf
        .bulk_query("SELECT Nope FROM Account")
        .submit()
        .await
        .unwrap_err();
    assert_eq!(
        (error.status(), error.vendor_code()),
        (Some(400), Some("INVALID_FIELD")),
        "{error}"
    );
    let error = sf.bulk_query("   ").submit().await.unwrap_err();
    assert!(matches!(error, haul::Error::InvalidInput { .. }));

    let stranger = haul::Salesforce::builder()
        .instance_url(sim.instance_url())
        .auth(haul::auth::AccessToken::new("00Dwrong!token"))
        .build()
        .unwrap();
    let error = stranger.bulk_query(SOQL).submit().await.unwrap_err();
    assert!(error.is_auth(), "{error:?}");
    assert_eq!(error.vendor_code(), Some("INVALID_SESSION_ID"));
    assert!(
        !format!("{error} {error:?} {stranger:?}").contains("00Dwrong"),
        "a token leaked"
    );

    assert!(sf.query_job("../../x").is_err());
    assert!(sf.api_usage().is_some_and(|usage| usage.used > 0));
    sim.shutdown().await;
}

#[test]
fn insecure_urls_are_refused_unless_allowed() {
    let build = |url: &str, allow: bool| {
        haul::Salesforce::builder()
            .instance_url(url)
            .auth(haul::auth::AccessToken::new("t"))
            .allow_insecure_http(allow)
            .build()
    };
    assert!(build("http://acme.my.salesforce.com", false).is_err());
    assert!(build("http://acme.my.salesforce.com", true).is_ok());
    assert!(build("http://127.0.0.1:9", false).is_ok());
    assert!(build("https://acme.my.salesforce.com", false).is_ok());
    assert!(build("ftp://acme", true).is_err());
    assert!(build("not a url", false).is_err());
}

#[tokio::test]
async fn build_sends_nothing_and_connect_obtains_a_token_at_once() {
    let sim = sim().start().await.unwrap();
    let with_secret = |secret: &str| {
        haul::Salesforce::builder()
            .instance_url(sim.instance_url())
            .auth(haul::auth::ClientCredentials::new(
                sim.sf_client_id(),
                secret,
            ))
            .build()
            .unwrap()
    };
    let token_requests = || sim.stats().count("POST", "/services/oauth2/token");
    let sf = with_secret(sim.sf_client_secret());
    assert_eq!(token_requests(), 0, "build sends nothing");
    sf.connect().await.unwrap();
    sf.connect().await.unwrap();
    assert_eq!(token_requests(), 1, "a token already held is kept");
    let refused = with_secret("wrong").connect().await.unwrap_err();
    assert!(refused.is_auth(), "{refused:?}");
    sim.shutdown().await;
}
