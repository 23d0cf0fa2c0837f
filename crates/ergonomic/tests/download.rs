//! Bulk query downloads against haul-sim: byte-identical output, integrity checks, resume.

mod common;

use std::time::Duration;

use common::{TempDir, client, oauth_client, sim};
use haul::types::{ApiVersion, ColumnDelimiter, LineEnding};
use haul_sim::Misbehaviour;

const SOQL: &str = "SELECT Id, Name, Industry, NumberOfEmployees FROM Account";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_rows_in_parallel_equal_a_sequential_download_and_the_expected_output() {
    let sim = sim().rows("Account", 1_000_000).start().await.unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("million");
    let soql = "SELECT Id, Name FROM Account";
    let done = sf
        .bulk_query(soql)
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(done.expected_records(), Some(1_000_000));

    let parallel = done
        .download()
        .concurrency(8)
        .max_records(50_000)
        .to_file(dir.join("c8.csv"))
        .await
        .unwrap();
    // Every page through a part file on disk, none held in memory.
    let sequential = done
        .download()
        .concurrency(1)
        .max_records(50_000)
        .memory(0)
        .to_file(dir.join("c1.csv"))
        .await
        .unwrap();
    assert_eq!((parallel.records, parallel.pages), (1_000_000, 20));
    assert_eq!((sequential.records, sequential.pages), (1_000_000, 20));

    let expected = sim
        .expected_query_csv(soql, ColumnDelimiter::Comma, LineEnding::Lf)
        .unwrap();
    let c8 = std::fs::read(dir.join("c8.csv")).unwrap();
    assert!(
        c8 == expected,
        "concurrency 8 differs from the simulator's expected output"
    );
    assert!(
        std::fs::read(dir.join("c1.csv")).unwrap() == c8,
        "concurrency 1 differs from concurrency 8"
    );
    assert_eq!(parallel.bytes, expected.len() as u64);
    // Nothing left beside the outputs and their manifests: no part files, no checkpoint.
    assert_eq!(
        dir.names(),
        [
            "c1.csv",
            "c1.csv.manifest.json",
            "c8.csv",
            "c8.csv.manifest.json"
        ]
    );
    // Eight-way downloads listed their pages through resultPages.
    assert!(
        sim.stats().count(
            "GET",
            "/services/data/{version}/jobs/query/{id}/resultPages"
        ) >= 4
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn dialects_and_old_api_versions_download_correctly() {
    let sim = sim().rows("Account", 3_000).start().await.unwrap();
    let sf = haul::Salesforce::builder()
        .instance_url(sim.instance_url())
        .auth(haul::auth::AccessToken::new(sim.access_token()))
        .api_version(ApiVersion::new(57, 0))
        .build()
        .unwrap();
    let dir = TempDir::new("dialects");
    let job = sf
        .bulk_query(SOQL)
        .column_delimiter(ColumnDelimiter::Pipe)
        .line_ending(LineEnding::Crlf)
        .submit()
        .await
        .unwrap();
    let done = job.wait().await.unwrap();
    // Before API 58.0 there is no resultPages: the locator chain is followed one page at a time.
    let report = done
        .download()
        .concurrency(4)
        .max_records(700)
        .to_file(dir.join("out.csv"))
        .await
        .unwrap();
    assert_eq!((report.records, report.pages), (3_000, 5));
    let expected = sim
        .expected_query_csv(SOQL, ColumnDelimiter::Pipe, LineEnding::Crlf)
        .unwrap();
    assert!(std::fs::read(dir.join("out.csv")).unwrap() == expected);
    assert_eq!(
        sim.stats().count(
            "GET",
            "/services/data/{version}/jobs/query/{id}/resultPages"
        ),
        0
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_folder_download_holds_one_file_per_page_each_with_its_header() {
    let sim = sim().rows("Contact", 2_500).start().await.unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("folder");
    let soql = "SELECT Id, LastName, Email FROM Contact";
    let done = sf
        .bulk_query(soql)
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let report = done
        .download()
        .concurrency(3)
        .max_records(1_000)
        .to_dir(dir.join("pages"))
        .await
        .unwrap();
    assert_eq!((report.records, report.pages), (2_500, 3));
    let mut names: Vec<_> = std::fs::read_dir(dir.join("pages"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "_manifest.json",
            "part-00000.csv",
            "part-00001.csv",
            "part-00002.csv"
        ]
    );
    names.remove(0);
    // Concatenating the pages without their repeated headers gives the single-file result.
    let mut joined = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let page = std::fs::read(dir.join("pages").join(name)).unwrap();
        let body_start = page.iter().position(|b| *b == b'\n').unwrap() + 1;
        joined.extend_from_slice(if index == 0 {
            &page
        } else {
            &page[body_start..]
        });
    }
    assert!(
        joined
            == sim
                .expected_query_csv(soql, ColumnDelimiter::Comma, LineEnding::Lf)
                .unwrap()
    );
    // Pages that went through part files on disk instead of memory land the same.
    done.download()
        .concurrency(3)
        .max_records(1_000)
        .memory(0)
        .to_dir(dir.join("spilled"))
        .await
        .unwrap();
    for name in &names {
        assert!(
            std::fs::read(dir.join("spilled").join(name)).unwrap()
                == std::fs::read(dir.join("pages").join(name)).unwrap(),
            "{name:?} differs when spilled"
        );
    }
    sim.shutdown().await;
}

/// The job's info, as the simulator would answer it, but with `numberRecordsProcessed` off by one.
async fn job_info_with_a_wrong_total(job: &haul::salesforce::query::QueryJob) -> String {
    for _ in 0..200 {
        let info = job.info().await.unwrap();
        if info.state == haul::types::QueryJobState::JobComplete {
            let mut value = serde_json::to_value(&info).unwrap();
            let real = value["numberRecordsProcessed"].as_u64().unwrap();
            value["numberRecordsProcessed"] = (real + 1).into();
            return value.to_string();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the job did not complete within 200 polls")
}

#[tokio::test]
async fn a_total_that_disagrees_with_the_job_is_read_again_then_reported() {
    const JOB: &str = "/services/data/{version}/jobs/query/{id}";
    let sim = sim().rows("Account", 1_000).start().await.unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("total");
    for (lies, outcome) in [(1, "ok.csv"), (2, "bad.csv")] {
        let job = sf.bulk_query(SOQL).submit().await.unwrap();
        let lie = job_info_with_a_wrong_total(&job).await;
        // The first lie is what the wait sees; the second answers the download's second look.
        for _ in 0..lies {
            sim.misbehave_next("GET", JOB, Misbehaviour::body(lie.clone()));
        }
        let done = job.wait().await.unwrap();
        assert_eq!(done.expected_records(), Some(1_001));
        let result = done
            .download()
            .concurrency(2)
            .max_records(400)
            .to_file(dir.join(outcome))
            .await;
        if lies == 1 {
            assert_eq!(
                result.unwrap().records,
                1_000,
                "a stale total is read again"
            );
            continue;
        }
        let error = result.unwrap_err();
        assert!(matches!(error, haul::Error::Integrity { .. }), "{error:?}");
        assert!(
            error
                .to_string()
                .contains("1001 rows; the downloaded pages hold 1000"),
            "{error}"
        );
    }
    // Nothing was published under the name of the download that failed the check, and it has no
    // manifest.
    assert_eq!(dir.names(), ["ok.csv", "ok.csv.manifest.json"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_page_whose_record_count_lies_is_fetched_again_then_reported() {
    let sim = sim().rows("Account", 1_000).start().await.unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("lie");
    let done = sf
        .bulk_query(SOQL)
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();

    // One lie: the page is fetched again and the download succeeds.
    sim.lie_about_record_count(3);
    let report = done
        .download()
        .concurrency(1)
        .max_records(400)
        .to_file(dir.join("ok.csv"))
        .await
        .unwrap();
    assert_eq!(report.records, 1_000);

    // Two lies in a row about the same page: an integrity error, and no output file.
    sim.lie_about_record_count(-1);
    sim.lie_about_record_count(-1);
    let error = done
        .download()
        .concurrency(1)
        .max_records(400)
        .to_file(dir.join("bad.csv"))
        .await
        .unwrap_err();
    assert!(matches!(error, haul::Error::Integrity { .. }), "{error:?}");
    assert!(
        error.to_string().contains("Sforce-NumberOfRecords"),
        "{error}"
    );
    assert_eq!(dir.names(), ["ok.csv", "ok.csv.manifest.json"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_expired_token_is_refreshed_mid_download() {
    let sim = sim().rows("Account", 20_000).start().await.unwrap();
    let sf = oauth_client(&sim);
    let dir = TempDir::new("refresh");
    let done = sf
        .bulk_query(SOQL)
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let download = done
        .download()
        .concurrency(1)
        .max_records(1_000)
        .to_file(dir.join("out.csv"));
    let mut progress = download.progress();
    progress.wait_for(|p| p.pages >= 3).await.unwrap();
    sim.expire_tokens();
    let report = download.await.unwrap();
    assert_eq!(report.records, 20_000);
    assert!(
        std::fs::read(dir.join("out.csv")).unwrap()
            == sim
                .expected_query_csv(SOQL, ColumnDelimiter::Comma, LineEnding::Lf)
                .unwrap()
    );
    let token_requests = sim.stats().count("POST", "/services/oauth2/token");
    assert!(
        token_requests >= 2,
        "expected a refresh, saw {token_requests} token requests"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_cancelled_download_resumes_without_refetching_or_duplicating_pages() {
    let sim = sim().rows("Account", 30_000).start().await.unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("resume");
    let output = dir.join("out.csv");
    let done = sf
        .bulk_query(SOQL)
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();

    let first = done
        .download()
        .concurrency(1)
        .max_records(1_000)
        .resume(true)
        .to_file(&output);
    first.progress().wait_for(|p| p.pages >= 7).await.unwrap();
    first.cancel();
    assert!(matches!(first.await, Err(haul::Error::Cancelled)));
    assert!(
        !output.exists(),
        "an unfinished download must not appear under the final name"
    );
    let checkpoint = haul::salesforce::query::Checkpoint::load(&output)
        .unwrap()
        .expect("a checkpoint");
    let written = checkpoint.pages.len();
    assert!(written >= 7);

    let results = "/services/data/{version}/jobs/query/{id}/results";
    let before = sim.stats().count("GET", results);
    let report = done
        .download()
        .concurrency(1)
        .max_records(1_000)
        .resume(true)
        .to_file(&output)
        .await
        .unwrap();
    let fetched = sim.stats().count("GET", results) - before;
    assert_eq!(report.resumed_pages, written);
    assert_eq!(
        fetched as usize,
        30 - written,
        "resume fetched pages it already had"
    );
    assert_eq!(report.records, 30_000);
    assert!(
        std::fs::read(&output).unwrap()
            == sim
                .expected_query_csv(SOQL, ColumnDelimiter::Comma, LineEnding::Lf)
                .unwrap()
    );
    assert!(
        haul::salesforce::query::Checkpoint::load(&output)
            .unwrap()
            .is_none()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_checkpoint_of_another_job_is_refused() {
    let sim = sim().rows("Account", 5_000).start().await.unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("other-job");
    let output = dir.join("out.csv");
    let first = sf
        .bulk_query(SOQL)
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let download = first
        .download()
        .concurrency(1)
        .max_records(500)
        .resume(true)
        .to_file(&output);
    download
        .progress()
        .wait_for(|p| p.pages >= 2)
        .await
        .unwrap();
    download.cancel();
    let _ = download.await;

    let second = sf
        .bulk_query(SOQL)
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let error = second
        .download()
        .max_records(500)
        .resume(true)
        .to_file(&output)
        .await
        .unwrap_err();
    assert!(
        matches!(error, haul::Error::InvalidInput { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains(first.job().id().as_str()),
        "{error}"
    );
    sim.shutdown().await;
}

#[test]
fn download_handles_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<haul::salesforce::query::DownloadHandle>();
    assert_send_sync::<haul::Salesforce>();
    assert_send_sync::<haul::Error>();
}

#[tokio::test]
async fn zero_concurrency_is_refused() {
    let sim = sim().rows("Account", 10).start().await.unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("zero");
    let done = sf
        .bulk_query(SOQL)
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let error = done
        .download()
        .concurrency(0)
        .to_file(dir.join("x.csv"))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("concurrency must be at least 1"),
        "{error}"
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(dir.names().is_empty(), "{:?}", dir.names());
    sim.shutdown().await;
}

/// The rows of `csv` as JSON objects, read by the csv crate (not haul's parser): an empty field is
/// `null`, as the JSON-lines format promises.
fn csv_as_json_rows(csv: &[u8]) -> Vec<serde_json::Value> {
    let mut reader = csv::Reader::from_reader(csv);
    let names = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|row| {
            let row = row.unwrap();
            let object: serde_json::Map<_, _> = names
                .iter()
                .zip(row.iter())
                .map(|(name, value)| {
                    let value = match value {
                        "" => serde_json::Value::Null,
                        text => text.into(),
                    };
                    (name.to_owned(), value)
                })
                .collect();
            object.into()
        })
        .collect()
}

#[tokio::test]
async fn json_lines_to_a_file_and_to_a_folder_hold_every_row_in_order() {
    let sim = sim().rows("Account", 3_000).start().await.unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("jsonl");
    let done = sf
        .bulk_query(SOQL)
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let expected = csv_as_json_rows(
        &sim.expected_query_csv(SOQL, ColumnDelimiter::Comma, LineEnding::Lf)
            .unwrap(),
    );
    assert_eq!(expected.len(), 3_000);
    let lines = |text: String| -> Vec<serde_json::Value> {
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    };

    let file = done
        .download()
        .concurrency(4)
        .max_records(700)
        .format(haul::download::Format::Jsonl)
        .to_file(dir.join("accounts.jsonl"))
        .await
        .unwrap();
    assert_eq!((file.records, file.pages), (3_000, 5));
    let written = std::fs::read_to_string(dir.join("accounts.jsonl")).unwrap();
    assert_eq!(file.bytes, written.len() as u64);
    assert!(
        lines(written) == expected,
        "the JSON lines differ from the CSV"
    );

    let folder = done
        .download()
        .concurrency(4)
        .max_records(700)
        .format(haul::download::Format::Jsonl)
        .to_dir(dir.join("pages"))
        .await
        .unwrap();
    assert_eq!(folder.pages, 5);
    let mut from_parts = Vec::new();
    for page in 0..5 {
        let part = dir.join("pages").join(format!("part-{page:05}.jsonl"));
        from_parts.extend(lines(std::fs::read_to_string(part).unwrap()));
    }
    assert!(from_parts == expected, "the parts differ from the CSV");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_checkpoint_of_another_format_is_refused() {
    let sim = sim().rows("Account", 2_000).start().await.unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("other-format");
    let output = dir.join("out");
    let done = sf
        .bulk_query(SOQL)
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    // The second page (the first with a locator) is refused, so the first run stops with one page
    // in its checkpoint.
    common::refuse_next_page(&sim, "locator=");
    let first = done
        .download()
        .concurrency(1)
        .max_records(100)
        .resume(true)
        .to_file(&output)
        .await;
    assert_eq!(first.unwrap_err().status(), Some(400));
    let checkpoint = haul::salesforce::query::Checkpoint::load(&output)
        .unwrap()
        .expect("a checkpoint");
    assert_eq!(checkpoint.pages.len(), 1);

    let error = done
        .download()
        .concurrency(1)
        .max_records(100)
        .resume(true)
        .format(haul::download::Format::Jsonl)
        .to_file(&output)
        .await
        .unwrap_err();
    assert!(
        matches!(error, haul::Error::InvalidInput { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("wrote csv"), "{error}");
    sim.shutdown().await;
}
