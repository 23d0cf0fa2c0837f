//! No token or secret ever shows: all tracing output (at TRACE) and the Display and Debug texts of
//! every error and client of a full run (OAuth logins, a query with a download, an ingest, a token
//! refresh after expiry, Looker, and runs that fail) are searched for every secret the sim knows.

mod common;

use std::io::Cursor;
use std::sync::{Arc, Mutex};

use common::{TempDir, quick_retries};
use haul::auth::{AccessToken, ClientCredentials, RefreshToken};
use haul::looker::{LookerResultFormat, Query};
use haul::{Looker, Salesforce};

const SOQL: &str = "SELECT Id, Name FROM Account";

/// An in-memory log that the tracing subscriber writes to.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Display and Debug of everything the run produced that a program might print.
#[derive(Default)]
struct Printed(Vec<String>);

impl Printed {
    fn error(&mut self, error: &haul::Error) {
        self.0.push(error.to_string());
        self.0.push(format!("{error:?}"));
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            self.0.push(cause.to_string());
            self.0.push(format!("{cause:?}"));
            source = cause.source();
        }
    }

    fn debug(&mut self, value: &impl std::fmt::Debug) {
        self.0.push(format!("{value:?}"));
    }
}

fn salesforce(sim: &haul_sim::Sim, auth: impl Into<haul::auth::SalesforceAuth>) -> Salesforce {
    Salesforce::builder()
        .instance_url(sim.instance_url())
        .auth(auth)
        .retry(quick_retries())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_shows_in_logs_or_error_texts_of_a_full_run() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let sim = common::sim().rows("Account", 3_000).start().await.unwrap();
    let mut printed = Printed::default();
    let dir = TempDir::new("secrets");

    // OAuth client credentials: a query downloaded in parallel, then a refresh after expiry.
    let sf = salesforce(
        &sim,
        ClientCredentials::new(sim.sf_client_id(), sim.sf_client_secret()),
    );
    printed.debug(&sf);
    let done = sf
        .bulk_query(SOQL)
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let job_id = done.job().id().to_string();
    let report = done
        .download()
        .concurrency(2)
        .max_records(1_000)
        .to_file(dir.join("out.csv"))
        .await
        .unwrap();
    assert_eq!(report.records, 3_000);
    printed.debug(&report);
    sim.expire_tokens();
    let info = done.job().info().await.expect("refreshed after a 401");
    printed.debug(&info);

    // An ingest, through a refresh-token client.
    let refreshing = salesforce(
        &sim,
        RefreshToken::new(sim.sf_client_id(), sim.sf_refresh_token())
            .client_secret(sim.sf_client_secret()),
    );
    let outcome = refreshing
        .bulk_ingest("Account")
        .insert()
        .csv_reader(Cursor::new(b"Name\nAlpha\nBeta\n".to_vec()))
        .run()
        .await
        .unwrap();
    assert_eq!(outcome.summary.records_processed, 2);
    printed.debug(&outcome.summary);

    // Looker: log in, run a query, read the results.
    let looker = Looker::builder()
        .base_url(sim.looker().base_url())
        .client_credentials(sim.looker().client_id(), sim.looker().client_secret())
        .retry(quick_retries())
        .build()
        .unwrap();
    looker.connect().await.unwrap();
    let looker_token = looker
        .access_token()
        .expect("logged in")
        .expose()
        .to_owned();
    let query = Query::new("thelook", "orders")
        .fields(["orders.status", "orders.count"])
        .limit(10);
    let id = looker.create_query(query).await.unwrap();
    let csv = looker
        .run_query(id)
        .format(LookerResultFormat::Csv)
        .text()
        .await
        .unwrap();
    assert!(csv.contains("Complete"), "{csv}");
    printed.debug(&looker);

    // Runs that fail: bad secrets, a token that expired with no way to refresh it, a failed job.
    let bad_sf_secret = format!("{}-wrong", sim.sf_client_secret());
    let bad_looker_secret = format!("{}-wrong", sim.looker().client_secret());
    let refused = salesforce(
        &sim,
        ClientCredentials::new(sim.sf_client_id(), bad_sf_secret.as_str()),
    );
    printed.debug(&refused);
    let error = refused.bulk_query(SOQL).submit().await.unwrap_err();
    assert!(error.is_auth(), "{error:?}");
    printed.error(&error);
    let error = Looker::builder()
        .base_url(sim.looker().base_url())
        .client_credentials(sim.looker().client_id(), bad_looker_secret.as_str())
        .build()
        .unwrap()
        .connect()
        .await
        .unwrap_err();
    assert!(error.is_auth(), "{error:?}");
    printed.error(&error);
    let fixed = salesforce(&sim, AccessToken::new(sim.access_token()));
    sim.expire_tokens();
    let error = fixed.bulk_query(SOQL).submit().await.unwrap_err();
    assert!(error.is_auth(), "{error:?}");
    printed.error(&error);
    sim.fail_next_query_job();
    let error = sf
        .bulk_query(SOQL)
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap_err();
    printed.error(&error);

    let issued = sim.issued_tokens();
    // The initial token and refresh token, one by client credentials, one after expiry, one by the
    // refresh token, and Looker's.
    assert!(issued.len() >= 6, "only {} tokens issued", issued.len());
    let mut secrets = vec![
        sim.access_token().to_owned(),
        sim.sf_refresh_token().to_owned(),
        sim.sf_client_secret().to_owned(),
        sim.looker().client_secret().to_owned(),
        bad_sf_secret,
        bad_looker_secret,
        looker_token,
    ];
    secrets.extend(issued);

    let log = capture.text();
    assert!(!log.is_empty(), "nothing was logged");
    assert!(log.contains(&job_id), "the log does not name job {job_id}");
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "no detailed log lines"
    );
    for secret in &secrets {
        assert!(!secret.is_empty());
        assert!(
            !log.contains(secret.as_str()),
            "the log shows a secret ({} chars)",
            secret.len()
        );
        for (i, text) in printed.0.iter().enumerate() {
            assert!(
                !text.contains(secret.as_str()),
                "printed text {i} shows a secret ({} chars)",
                secret.len()
            );
        }
    }
    sim.shutdown().await;
}
