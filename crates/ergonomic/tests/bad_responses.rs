//! Broken answers from the server: malformed or empty JSON, wrong content types, huge error bodies,
//! non-UTF-8, header-only and tricky CSV pages. Each is either handled exactly right or reported as a
//! clear `haul::Error` of the right kind; none panics, and error texts stay short.

mod common;

use common::{TempDir, uncompressed_client};
use haul::Error;
use haul::salesforce::query::CompletedQueryJob;
use haul::types::{ColumnDelimiter, LineEnding};
use haul_sim::Misbehaviour;

const SOQL: &str = "SELECT Id, Name FROM Account";
const JOBS: &str = "/services/data/{version}/jobs/query";
const JOB: &str = "/services/data/{version}/jobs/query/{id}";
const RESULTS: &str = "/services/data/{version}/jobs/query/{id}/results";

/// Bodies are replaced whole by the sim's misbehaviours, so ask for them uncompressed.
async fn completed(sf: &haul::Salesforce) -> CompletedQueryJob {
    sf.bulk_query(SOQL)
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap()
}

/// The texts a caller may print of an error stay short, whatever the server sent.
fn assert_short(error: &Error) {
    let (display, debug) = (error.to_string(), format!("{error:?}"));
    assert!(display.len() < 2_000, "Display is {} bytes", display.len());
    assert!(debug.len() < 4_000, "Debug is {} bytes", debug.len());
}

fn assert_invalid_response(error: &Error, operation: &str) {
    assert!(
        matches!(error, Error::InvalidResponse { .. }),
        "expected InvalidResponse, got {error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains(operation) && text.contains("unexpected response"),
        "{text}"
    );
    assert!(!error.is_retryable());
    assert_short(error);
}

/// A page body with its `Sforce-NumberOfRecords`.
fn page(body: &[u8], records: u64) -> Misbehaviour {
    Misbehaviour::Body {
        body: body.to_vec().into(),
        headers: vec![("sforce-numberofrecords".into(), records.to_string())],
    }
}

#[tokio::test]
async fn malformed_json_from_create_and_job_info_is_an_invalid_response() {
    let sim = common::sim_with(3).await;
    let sf = uncompressed_client(&sim);
    sim.misbehave_next(
        "POST",
        JOBS,
        Misbehaviour::body(r#"{"id": "750R0000000zlh"#),
    );
    let error = sf.bulk_query(SOQL).submit().await.unwrap_err();
    assert_invalid_response(&error, "create_query_job");
    assert!(error.to_string().contains("EOF"), "{error}");

    let job = sf.bulk_query(SOQL).submit().await.unwrap();
    sim.misbehave_next("GET", JOB, Misbehaviour::body(r#"{"id": 42, "state": ["#));
    let error = job.info().await.unwrap_err();
    assert_invalid_response(&error, "get_query_job");
    sim.shutdown().await;
}

#[tokio::test]
async fn an_empty_body_is_an_invalid_response_and_an_empty_page_an_integrity_error() {
    let sim = common::sim_with(3).await;
    let sf = uncompressed_client(&sim);
    sim.misbehave_next("POST", JOBS, Misbehaviour::body(""));
    let error = sf.bulk_query(SOQL).submit().await.unwrap_err();
    assert_invalid_response(&error, "create_query_job");

    // An empty page where three rows were declared: fetched again once, then reported.
    let done = completed(&sf).await;
    let dir = TempDir::new("empty-page");
    sim.misbehave_next("GET", RESULTS, Misbehaviour::body(""));
    sim.misbehave_next("GET", RESULTS, Misbehaviour::body(""));
    let error = done
        .download()
        .concurrency(1)
        .to_file(dir.join("out.csv"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Integrity { .. }), "{error:?}");
    assert!(
        error.to_string().contains("Sforce-NumberOfRecords says 3"),
        "{error}"
    );
    assert!(
        !dir.join("out.csv").exists(),
        "an incomplete file was published"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wrong_content_type_with_the_right_body_is_read_and_an_html_page_is_refused() {
    let sim = common::sim_with(3).await;
    let sf = uncompressed_client(&sim);
    let job = sf.bulk_query(SOQL).submit().await.unwrap();
    let done = job.wait().await.unwrap();
    sim.misbehave_next("GET", JOB, Misbehaviour::ContentType("text/html".into()));
    assert_eq!(job.info().await.unwrap().id, *job.id());

    sim.misbehave_next(
        "GET",
        RESULTS,
        Misbehaviour::ContentType("text/html".into()),
    );
    let dir = TempDir::new("content-type");
    let report = done.download().to_file(dir.join("out.csv")).await.unwrap();
    assert_eq!(report.records, 3);
    let expected = sim
        .expected_query_csv(SOQL, ColumnDelimiter::Comma, LineEnding::Lf)
        .unwrap();
    assert!(std::fs::read(dir.join("out.csv")).unwrap() == expected);

    let html = "<html><body><h1>502 Bad Gateway</h1></body></html>";
    sim.misbehave_next(
        "GET",
        JOB,
        Misbehaviour::Body {
            body: html.into(),
            headers: vec![("content-type".into(), "text/html".into())],
        },
    );
    let error = job.info().await.unwrap_err();
    assert_invalid_response(&error, "get_query_job");
    assert!(error.to_string().contains("<html>"), "{error}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_ten_megabyte_error_body_becomes_a_short_api_error() {
    const TEN_MB: usize = 10 << 20;
    let sim = common::sim_with(3).await;
    let sf = uncompressed_client(&sim);
    let job = sf.bulk_query(SOQL).submit().await.unwrap();
    let done = job.wait().await.unwrap();

    // A JSON answer: the vendor's error list, with a 10 MB message.
    sim.misbehave_next("GET", JOB, Misbehaviour::huge_error(400, TEN_MB));
    let error = job.info().await.unwrap_err();
    assert_eq!(error.status(), Some(400), "{error:?}");
    assert_eq!(error.vendor_code(), Some("UNKNOWN_EXCEPTION"));
    let message = error.vendor_message().expect("a message");
    assert!(message.starts_with("xxxx"), "{message}");
    assert!(
        message.len() < 1_100,
        "message kept is {} bytes",
        message.len()
    );
    assert!(message.contains("cut"), "the cut is not said: {message}");
    assert_short(&error);

    // A CSV request (whose error body the executor does not read as JSON up front).
    let dir = TempDir::new("huge-error");
    sim.misbehave_next("GET", RESULTS, Misbehaviour::huge_error(400, TEN_MB));
    let error = done
        .download()
        .concurrency(1)
        .to_file(dir.join("out.csv"))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400), "{error:?}");
    assert!(error.vendor_message().is_some_and(|m| m.len() < 1_100));
    assert_short(&error);

    // Not JSON at all: 10 MB of text with an error status.
    sim.misbehave_next(
        "GET",
        JOB,
        Misbehaviour::Status {
            status: 400,
            body: vec![b'z'; TEN_MB].into(),
        },
    );
    let error = job.info().await.unwrap_err();
    assert_invalid_response(&error, "get_query_job");
    assert!(error.to_string().contains("zzzz"), "{error}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_non_utf8_page_downloads_byte_for_byte_and_typed_rows_fail_clearly() {
    let sim = common::sim_with(2).await;
    let sf = uncompressed_client(&sim);
    let done = completed(&sf).await;
    // Latin-1 "Café" and "Müller": not UTF-8.
    let body: &[u8] = b"\"Id\",\"Name\"\n\"001000000000001AAA\",\"Caf\xe9\"\n\"001000000000002AAA\",\"M\xfcller\"\n";
    sim.misbehave_next("GET", RESULTS, page(body, 2));
    let dir = TempDir::new("latin1");
    let report = done.download().to_file(dir.join("out.csv")).await.unwrap();
    assert_eq!((report.records, report.pages), (2, 1));
    assert!(std::fs::read(dir.join("out.csv")).unwrap() == body);

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    #[allow(dead_code)]
    struct Row {
        id: String,
        name: String,
    }
    sim.misbehave_next("GET", RESULTS, page(body, 2));
    let rows: Vec<haul::Result<Row>> = futures::StreamExt::collect(done.records::<Row>()).await;
    let error = rows
        .into_iter()
        .find_map(Result::err)
        .expect("a row that is not UTF-8 is an error");
    assert!(matches!(error, Error::InvalidResponse { .. }), "{error:?}");
    assert!(error.to_string().contains("UTF-8"), "{error}");
    sim.shutdown().await;
}

#[tokio::test]
async fn header_only_results_download_as_the_header_with_zero_records() {
    let sim = common::sim_with(0).await;
    let sf = uncompressed_client(&sim);
    let done = completed(&sf).await;
    assert_eq!(done.expected_records(), Some(0));
    let dir = TempDir::new("header-only");
    let report = done.download().to_file(dir.join("out.csv")).await.unwrap();
    assert_eq!((report.records, report.pages), (0, 1));
    assert_eq!(
        std::fs::read(dir.join("out.csv")).unwrap(),
        b"\"Id\",\"Name\"\n"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn header_only_pages_between_full_ones_keep_every_count_right() {
    // Three pages of two rows in the sim; the middle one is served as a header-only page and the
    // last with four rows, so the total still agrees with the job's six.
    let sim = common::sim_with(6).await;
    let sf = uncompressed_client(&sim);
    let done = completed(&sf).await;
    let header = b"\"Id\",\"Name\"\n";
    let rows = |from: u32, to: u32| -> Vec<u8> {
        let mut out = Vec::new();
        for i in from..to {
            out.extend_from_slice(format!("\"001{i:015}\",\"row {i}\"\n").as_bytes());
        }
        out
    };
    for concurrency in [1, 3] {
        let locator = |offset| format!("locator={}&", sim.result_locator(offset));
        sim.misbehave_next_where("GET", RESULTS, &locator(2), page(header, 0));
        sim.misbehave_next_where(
            "GET",
            RESULTS,
            &locator(4),
            page(&[&header[..], &rows(2, 6)].concat(), 4),
        );
        sim.misbehave_next_where(
            "GET",
            RESULTS,
            "maxRecords=2",
            page(&[&header[..], &rows(0, 2)].concat(), 2),
        );
        let dir = TempDir::new("header-only-pages");
        let report = done
            .download()
            .concurrency(concurrency)
            .max_records(2)
            .to_file(dir.join("out.csv"))
            .await
            .unwrap();
        assert_eq!(
            (report.records, report.pages),
            (6, 3),
            "concurrency {concurrency}"
        );
        let expected = [&header[..], &rows(0, 6)].concat();
        assert_eq!(
            String::from_utf8(std::fs::read(dir.join("out.csv")).unwrap()).unwrap(),
            String::from_utf8(expected).unwrap(),
            "concurrency {concurrency}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn quoted_newlines_delimiters_quotes_and_a_bom_download_byte_for_byte() {
    let sim = common::sim_with(3).await;
    let sf = uncompressed_client(&sim);
    let done = completed(&sf).await;
    let body = "\u{feff}\"Id\",\"Name\"\n\
                \"001000000000001AAA\",\"two\nlines\"\n\
                \"001000000000002AAA\",\"Acme, Inc. \"\"quoted\"\"\"\n\
                \"001000000000003AAA\",\"crlf\r\ninside, and \"\"more\"\"\"\n";
    sim.misbehave_next("GET", RESULTS, page(body.as_bytes(), 3));
    let dir = TempDir::new("tricky");
    let report = done.download().to_file(dir.join("out.csv")).await.unwrap();
    assert_eq!((report.records, report.pages), (3, 1));
    assert_eq!(std::fs::read(dir.join("out.csv")).unwrap(), body.as_bytes());

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Row {
        id: String,
        name: String,
    }
    sim.misbehave_next("GET", RESULTS, page(body.as_bytes(), 3));
    let rows: Vec<Row> = futures::TryStreamExt::try_collect(done.records::<Row>())
        .await
        .unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "two\nlines",
            "Acme, Inc. \"quoted\"",
            "crlf\r\ninside, and \"more\""
        ]
    );
    assert_eq!(rows[0].id, "001000000000001AAA");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_page_that_ends_inside_quotes_is_an_integrity_error() {
    let sim = common::sim_with(1).await;
    let sf = uncompressed_client(&sim);
    let done = completed(&sf).await;
    let body = b"\"Id\",\"Name\"\n\"001000000000001AAA\",\"never closed\n";
    sim.misbehave_next("GET", RESULTS, page(body, 1));
    sim.misbehave_next("GET", RESULTS, page(body, 1));
    sim.misbehave_next("GET", RESULTS, page(body, 1));
    let dir = TempDir::new("open-quote");
    let error = done
        .download()
        .concurrency(1)
        .to_file(dir.join("out.csv"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Integrity { .. }), "{error:?}");
    assert!(
        error.to_string().contains("inside a quoted field"),
        "{error}"
    );
    assert!(!dir.join("out.csv").exists());
    sim.shutdown().await;
}
