//! Hostile or broken servers: links and redirects to another origin, `http://` to remote hosts, ids
//! and locators built to escape their path, and a server that stalls mid-body.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{TempDir, quick_retries, uncompressed_client};
use haul::types::{ColumnDelimiter, LineEnding};
use haul::{Error, RetryPolicy};
use haul_sim::{Misbehaviour, Sim};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SOQL: &str = "SELECT Id, Name FROM Account";
const JOBS: &str = "/services/data/{version}/jobs/query";
const JOB: &str = "/services/data/{version}/jobs/query/{id}";
const RESULTS: &str = "/services/data/{version}/jobs/query/{id}/results";
const RESULT_PAGES: &str = "/services/data/{version}/jobs/query/{id}/resultPages";

/// Longest any test here may run before it counts as hung.
const GUARD: Duration = Duration::from_secs(30);

/// A second server on another 127.0.0.1 port that answers `200 {}` and records the head of every
/// request it gets; stopped when dropped.
struct Elsewhere {
    origin: String,
    heads: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Elsewhere {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = heads.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = vec![0; 16 * 1024];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        Self {
            origin,
            heads,
            task,
        }
    }

    fn assert_untouched(&self) {
        let heads = self.heads.lock().unwrap();
        assert!(
            heads.is_empty(),
            "the other origin was sent {} request(s); authorization sent: {}",
            heads.len(),
            heads
                .iter()
                .any(|h| h.to_ascii_lowercase().contains("authorization"))
        );
    }
}

impl Drop for Elsewhere {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn json(value: serde_json::Value) -> Misbehaviour {
    Misbehaviour::body(value.to_string())
}

fn assert_refused_link(error: &Error) {
    assert!(
        matches!(error, Error::InvalidResponse { .. }),
        "expected InvalidResponse, got {error:?}"
    );
    assert!(error.to_string().contains("another origin"), "{error}");
}

#[tokio::test]
async fn result_links_to_another_origin_are_refused_and_never_followed() {
    tokio::time::timeout(GUARD, async {
        let sim = common::sim_with(4).await;
        let sf = uncompressed_client(&sim);
        let elsewhere = Elsewhere::start().await;
        let done = sf.bulk_query(SOQL).submit().await.unwrap().wait().await.unwrap();
        let id = done.job().id().to_string();
        let dir = TempDir::new("hostile-links");
        let far = |path: String| format!("{}/services/data/v62.0{path}", elsewhere.origin);
        let hostile = [
            // resultUrl / resultLink of a page
            json(serde_json::json!({
                "resultPages": [{ "resultUrl": far(format!("/jobs/query/{id}/results?locator=MA")) }],
                "done": true
            })),
            // nextRecordsUrl of the page listing
            json(serde_json::json!({
                "resultPages": [{ "resultLink": format!("/jobs/query/{id}/results?locator=MA&maxRecords=2") }],
                "nextRecordsUrl": far(format!("/jobs/query/{id}/resultpages?locator=Mg&maxRecords=2")),
                "done": false
            })),
        ];
        for misbehaviour in hostile {
            sim.misbehave_next("GET", RESULT_PAGES, misbehaviour);
            let error = done
                .download()
                .concurrency(2)
                .max_records(2)
                .to_file(dir.join("out.csv"))
                .await
                .unwrap_err();
            assert_refused_link(&error);
            assert!(!dir.join("out.csv").exists());
        }

        // nextRecordsUrl of the job listing
        sim.misbehave_next(
            "GET",
            JOBS,
            json(serde_json::json!({
                "records": [], "done": false,
                "nextRecordsUrl": far("/jobs/query?queryLocator=abc".into())
            })),
        );
        let listed: Vec<_> = futures::StreamExt::collect(sf.query_jobs()).await;
        let error = listed
            .into_iter()
            .find_map(Result::err)
            .expect("the listing fails");
        assert_refused_link(&error);
        elsewhere.assert_untouched();
        sim.shutdown().await;
    })
    .await
    .expect("hung");
}

#[tokio::test]
async fn redirects_are_not_followed_and_carry_no_token_away() {
    tokio::time::timeout(GUARD, async {
        let sim = common::sim_with(2).await;
        let sf = uncompressed_client(&sim);
        let elsewhere = Elsewhere::start().await;
        let job = sf.bulk_query(SOQL).submit().await.unwrap();
        let done = job.wait().await.unwrap();
        let target = format!("{}/steal", elsewhere.origin);
        sim.misbehave_next("GET", JOB, Misbehaviour::Redirect(target.clone()));
        let error = job.info().await.unwrap_err();
        assert_eq!(error.status(), Some(307), "{error:?}");
        assert!(!error.is_retryable());
        assert!(error.to_string().contains("307"), "{error}");
        assert!(
            error
                .to_string()
                .contains(&format!("a redirect to {target} was not followed")),
            "{error}"
        );

        sim.misbehave_next("GET", RESULTS, Misbehaviour::Redirect(target.clone()));
        let dir = TempDir::new("redirect");
        let error = done
            .download()
            .concurrency(1)
            .to_file(dir.join("out.csv"))
            .await
            .unwrap_err();
        assert_eq!(error.status(), Some(307), "{error:?}");
        assert!(error.to_string().contains("was not followed"), "{error}");
        elsewhere.assert_untouched();
        sim.shutdown().await;
    })
    .await
    .expect("hung");
}

#[tokio::test]
async fn plain_http_is_refused_for_remote_hosts_unless_allowed() {
    let builder =
        || haul::Salesforce::builder().auth(haul::auth::AccessToken::new("00Dtoken!secret-value"));
    for url in ["http://acme.my.salesforce.com", "http://10.1.2.3:8080"] {
        let error = builder().instance_url(url).build().unwrap_err();
        assert!(matches!(error, Error::InvalidInput { .. }), "{error:?}");
        assert!(error.to_string().contains("http://"), "{error}");
        assert!(!error.to_string().contains("secret-value"));
        builder()
            .instance_url(url)
            .allow_insecure_http(true)
            .build()
            .expect("allowed explicitly");
    }
    for url in [
        "http://127.0.0.1:1",
        "http://localhost:1",
        "http://[::1]:1",
        "https://acme.my.salesforce.com",
    ] {
        builder().instance_url(url).build().expect(url);
    }
    let error = builder()
        .instance_url("https://acme.my.salesforce.com")
        .token_url("http://login.salesforce.com/services/oauth2/token")
        .build()
        .unwrap_err();
    assert!(matches!(error, Error::InvalidInput { .. }), "{error:?}");

    // Looker checks before it logs in: an unresolvable host would otherwise be a transport error.
    let error = haul::Looker::builder()
        .base_url("http://looker.invalid")
        .client_credentials("id", "secret")
        .build()
        .unwrap_err();
    assert!(matches!(error, Error::InvalidInput { .. }), "{error:?}");
}

#[tokio::test]
async fn ids_that_escape_their_path_are_rejected_before_any_request() {
    let sim = common::sim_with(1).await;
    let sf = uncompressed_client(&sim);
    for id in [
        "../../x",
        "..",
        "750R0000000zlh9IAA/../../x",
        "750R0000000zlh9%2F",
        "",
    ] {
        let error = sf.query_job(id).unwrap_err();
        assert!(
            matches!(error, Error::InvalidInput { .. }),
            "{id}: {error:?}"
        );
        let error = sf.ingest_job(id).unwrap_err();
        assert!(
            matches!(error, Error::InvalidInput { .. }),
            "{id}: {error:?}"
        );
    }
    assert_eq!(sim.stats().total(), 0, "{:?}", sim.stats());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_locator_built_to_escape_is_sent_percent_encoded_to_the_same_endpoint() {
    let sim = common::sim_with(4).await;
    let sf = uncompressed_client(&sim);
    let done = sf
        .bulk_query(SOQL)
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let before = sim.stats();
    // The first page names a hostile next locator.
    sim.misbehave_next(
        "GET",
        RESULTS,
        Misbehaviour::Body {
            body: "\"Id\",\"Name\"\n\"001000000000001AAA\",\"a\"\n\"001000000000002AAA\",\"b\"\n"
                .into(),
            headers: vec![
                ("sforce-numberofrecords".into(), "2".into()),
                ("sforce-locator".into(), "../../x?y=1&maxRecords=9#z".into()),
            ],
        },
    );
    let dir = TempDir::new("hostile-locator");
    let error = done
        .download()
        .concurrency(1)
        .max_records(2)
        .to_file(dir.join("out.csv"))
        .await
        .unwrap_err();
    // The sim received it as one opaque locator value on the results endpoint, and refused it.
    assert_eq!(error.vendor_code(), Some("INVALID_LOCATOR"), "{error:?}");
    let after = sim.stats();
    assert_eq!(after.total() - before.total(), 2, "{after:?}");
    assert_eq!(
        after.count("GET", RESULTS) - before.count("GET", RESULTS),
        2
    );
    assert_eq!(after.count("GET", "<unmatched>"), 0);
    sim.shutdown().await;
}

fn stalling_client(sim: &Sim, retry: RetryPolicy) -> haul::Salesforce {
    haul::Salesforce::builder()
        .instance_url(sim.instance_url())
        .auth(haul::auth::AccessToken::new(sim.access_token()))
        .retry(retry)
        .gzip(false)
        .read_timeout(Duration::from_secs(1))
        .build()
        .expect("client")
}

#[tokio::test]
async fn a_body_that_stalls_hits_the_read_timeout_instead_of_hanging() {
    tokio::time::timeout(GUARD, async {
        let sim = common::sim_with(3).await;
        let sf = stalling_client(&sim, RetryPolicy::none());
        let job = sf.bulk_query(SOQL).submit().await.unwrap();
        let done = job.wait().await.unwrap();

        sim.misbehave_next("GET", JOB, Misbehaviour::Stall { after: 10 });
        let error = job.info().await.unwrap_err();
        assert!(error.is_timeout(), "{error:?}");
        assert!(matches!(error, Error::Transport { .. }), "{error:?}");

        sim.misbehave_next("GET", RESULTS, Misbehaviour::Stall { after: 20 });
        let dir = TempDir::new("stall");
        let error = done
            .download()
            .concurrency(1)
            .to_file(dir.join("out.csv"))
            .await
            .unwrap_err();
        assert!(error.is_timeout(), "{error:?}");
        assert!(!dir.join("out.csv").exists());

        // With retries, the stalled page is fetched again and the download completes exactly.
        let sf = stalling_client(&sim, quick_retries());
        let done = sf
            .bulk_query(SOQL)
            .submit()
            .await
            .unwrap()
            .wait()
            .await
            .unwrap();
        sim.misbehave_next("GET", RESULTS, Misbehaviour::Stall { after: 20 });
        let before = sim.stats().count("GET", RESULTS);
        let report = done
            .download()
            .concurrency(1)
            .to_file(dir.join("retried.csv"))
            .await
            .unwrap();
        assert_eq!(report.records, 3);
        assert_eq!(sim.stats().count("GET", RESULTS) - before, 2);
        let expected = sim
            .expected_query_csv(SOQL, ColumnDelimiter::Comma, LineEnding::Lf)
            .unwrap();
        assert!(std::fs::read(dir.join("retried.csv")).unwrap() == expected);
        sim.shutdown().await;
    })
    .await
    .expect("hung: the stall was not cut by the read timeout");
}
