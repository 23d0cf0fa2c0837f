//! Bulk API 2.0 ingest against haul-sim: splitting into jobs, typed results, refusals before any
//! request, failed and aborted jobs, cancelling, listing and job handles.

mod common;

use std::collections::BTreeSet;
use std::io::Cursor;
use std::time::Duration;

use common::{TempDir, client, eventually, sim};
use futures::TryStreamExt;
use haul::BackoffPolicy;
use haul::salesforce::ingest::{IngestHandle, IngestJob, IngestOutcome};
use haul::types::{ColumnDelimiter, IngestJobState, LineEnding};
use haul_sim::Sim;
use serde::Serialize;
use tokio::io::AsyncWriteExt;

const BATCHES: &str = "/services/data/{version}/jobs/ingest/{id}/batches";
const JOBS: &str = "/services/data/{version}/jobs/ingest";

fn fast() -> BackoffPolicy {
    BackoffPolicy::fixed(Duration::from_millis(10))
}

/// Requests to any ingest route so far.
fn ingest_requests(sim: &Sim) -> u64 {
    sim.stats()
        .requests
        .iter()
        .filter(|r| r.route.contains("/jobs/ingest"))
        .map(|r| r.count)
        .sum()
}

/// The Name column of a simulator query, sorted.
fn names_in_org(sim: &Sim, soql: &str) -> Vec<String> {
    let csv = sim
        .expected_query_csv(soql, ColumnDelimiter::Comma, LineEnding::Lf)
        .unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_slice());
    let mut names: Vec<String> = reader
        .records()
        .map(|r| r.unwrap().get(0).unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_rows_split_across_jobs_all_arrive_and_query_back() {
    let sim = sim().rows("Account", 0).start().await.unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("ingest-million");
    let input = dir.join("accounts.csv");
    let mut csv = String::with_capacity(10_000_000);
    csv.push_str("Name\n");
    for i in 0..1_000_000 {
        csv.push_str(&format!("A{i:07}\n"));
    }
    std::fs::write(&input, &csv).unwrap();
    drop(csv);
    let spool = dir.join("spool");
    std::fs::create_dir(&spool).unwrap();

    let outcome = sf
        .bulk_ingest("Account")
        .insert()
        .csv_file(&input)
        .max_job_bytes(3_000_000)
        .concurrency(2)
        .backoff(fast())
        .spool_dir(&spool)
        .run()
        .await
        .unwrap();

    let summary = &outcome.summary;
    assert!(summary.jobs.len() >= 3, "{} jobs", summary.jobs.len());
    assert_eq!(summary.records_uploaded, 1_000_000);
    assert_eq!(summary.records_processed, 1_000_000);
    assert_eq!(
        (summary.records_failed, summary.records_unprocessed),
        (0, 0)
    );
    assert_eq!(summary.records_succeeded(), 1_000_000);
    for job in &summary.jobs {
        assert_eq!(job.state, IngestJobState::JobComplete);
        assert!(job.bytes_uploaded <= 3_000_000, "{}", job.bytes_uploaded);
        assert_eq!(job.records_processed, job.records_uploaded);
    }
    assert_eq!(sim.record_count("Account"), Some(1_000_000));
    // Exactly one upload per job, and every spool file removed.
    assert_eq!(sim.stats().count("PUT", BATCHES), summary.jobs.len() as u64);
    assert!(std::fs::read_dir(&spool).unwrap().next().is_none());

    // A bulk query reads every inserted row back.
    let report = sf
        .bulk_query("SELECT Name FROM Account")
        .download_to(dir.join("out.csv"))
        .await
        .unwrap();
    assert_eq!(report.records, 1_000_000);
    let out = std::fs::read(dir.join("out.csv")).unwrap();
    let mut names: Vec<String> = csv::Reader::from_reader(out.as_slice())
        .records()
        .map(|r| r.unwrap().get(0).unwrap().to_owned())
        .collect();
    names.sort_unstable();
    let expected: Vec<String> = (0..1_000_000).map(|i| format!("A{i:07}")).collect();
    assert!(names == expected, "the queried names differ from the input");
    sim.shutdown().await;
}

#[tokio::test]
async fn failing_rows_come_back_with_parsed_errors_and_the_rest_with_ids() {
    let sim = sim().rows("Account", 0).start().await.unwrap();
    let sf = client(&sim);
    let input = "Name,BillingCity\n\
                 \"Acme, Inc.\",Paris\n\
                 ,Nowhere\n\
                 \"Line\nbreak \"\"quoted\"\"\",Rome\n\
                 ,Oslo\n\
                 Ok,\n";
    // Small jobs, so that the quoted line break and delimiter land near the cuts.
    let outcome = sf
        .bulk_ingest("Account")
        .insert()
        .csv_reader(Cursor::new(input.as_bytes().to_vec()))
        .max_job_bytes(50)
        .backoff(fast())
        .run()
        .await
        .unwrap();
    assert!(outcome.summary.jobs.len() >= 3);
    assert_eq!(outcome.summary.records_processed, 5);
    assert_eq!(outcome.summary.records_failed, 2);

    let failed: Vec<_> = outcome.failed_results().try_collect().await.unwrap();
    assert_eq!(failed.len(), 2);
    let mut cities = BTreeSet::new();
    for row in &failed {
        assert_eq!(row.id, None);
        assert_eq!(row.error.code, "REQUIRED_FIELD_MISSING");
        assert_eq!(row.error.message, "Required fields are missing: [Name]");
        assert_eq!(row.error.fields, ["Name"]);
        assert_eq!(row.fields.names(), ["Name", "BillingCity"]);
        cities.insert(row.fields.get("BillingCity").unwrap().to_owned());
    }
    assert_eq!(cities, BTreeSet::from(["Nowhere".into(), "Oslo".into()]));

    let written: Vec<_> = outcome.successful_results().try_collect().await.unwrap();
    let names: BTreeSet<&str> = written
        .iter()
        .map(|row| {
            assert!(row.created);
            assert_eq!(row.id.key_prefix(), "001");
            row.fields.get("Name").unwrap()
        })
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["Acme, Inc.", "Line\nbreak \"quoted\"", "Ok"])
    );
    assert_eq!(sim.record_count("Account"), Some(3));
    let unprocessed: Vec<_> = outcome.unprocessed_records().try_collect().await.unwrap();
    assert!(unprocessed.is_empty());
    sim.shutdown().await;
}

#[derive(Serialize)]
struct NewAccount {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "NumberOfEmployees")]
    employees: Option<u32>,
}

#[tokio::test]
async fn records_are_serialised_in_the_chosen_dialect() {
    let sim = sim().rows("Account", 0).start().await.unwrap();
    let sf = client(&sim);
    let records = (0..2_000).map(|i| NewAccount {
        name: format!("Firm; {i}"),
        employees: (i % 2 == 0).then_some(i),
    });
    let outcome = sf
        .bulk_ingest("Account")
        .insert()
        .records(records)
        .column_delimiter(ColumnDelimiter::Semicolon)
        .line_ending(LineEnding::Crlf)
        .max_job_bytes(20_000)
        .backoff(fast())
        .run()
        .await
        .unwrap();
    assert!(outcome.summary.jobs.len() >= 2);
    assert_eq!(outcome.summary.records_uploaded, 2_000);
    assert_eq!(outcome.summary.records_succeeded(), 2_000);
    let csv = sim
        .expected_query_csv(
            "SELECT Name, NumberOfEmployees FROM Account WHERE Name = 'Firm; 4'",
            ColumnDelimiter::Comma,
            LineEnding::Lf,
        )
        .unwrap();
    assert_eq!(
        String::from_utf8(csv).unwrap(),
        "\"Name\",\"NumberOfEmployees\"\n\"Firm; 4\",\"4\"\n"
    );
    sim.shutdown().await;
}

#[derive(Serialize)]
struct IdOnly {
    #[serde(rename = "Id")]
    id: String,
}

#[tokio::test]
async fn update_upsert_delete_and_hard_delete_change_the_org() {
    let sim = sim().rows("Account", 30).start().await.unwrap();
    let sf = client(&sim);
    let csv = sim
        .expected_query_csv(
            "SELECT Id FROM Account",
            ColumnDelimiter::Comma,
            LineEnding::Lf,
        )
        .unwrap();
    let ids: Vec<String> = csv::Reader::from_reader(csv.as_slice())
        .records()
        .map(|r| r.unwrap().get(0).unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 30);

    let mut update = String::from("Id,Name\n");
    for id in &ids[..10] {
        update.push_str(&format!("{id},Renamed\n"));
    }
    let outcome = ingest(
        sf.bulk_ingest("Account")
            .update()
            .csv_reader(Cursor::new(update.into_bytes())),
    )
    .await;
    let updated: Vec<_> = outcome.successful_results().try_collect().await.unwrap();
    assert_eq!(updated.len(), 10);
    assert!(updated.iter().all(|row| !row.created));
    let renamed = names_in_org(&sim, "SELECT Name FROM Account WHERE Name = 'Renamed'");
    assert_eq!(renamed.len(), 10);

    let upsert = |city: &str| {
        format!("Name,BillingCity\nUpserted 1,{city}\nUpserted 2,{city}\n").into_bytes()
    };
    let first = ingest(
        sf.bulk_ingest("Account")
            .upsert("Name")
            .csv_reader(Cursor::new(upsert("Lyon"))),
    )
    .await;
    let second = ingest(
        sf.bulk_ingest("Account")
            .upsert("Name")
            .csv_reader(Cursor::new(upsert("Nice"))),
    )
    .await;
    let created = |outcome: IngestOutcome| async move {
        let rows: Vec<_> = outcome.successful_results().try_collect().await.unwrap();
        rows.iter().map(|r| r.created).collect::<Vec<_>>()
    };
    assert_eq!(created(first).await, [true, true]);
    assert_eq!(created(second).await, [false, false]);
    assert_eq!(sim.record_count("Account"), Some(32));

    let doomed = |range: std::ops::Range<usize>| {
        ids[range]
            .iter()
            .map(|id| IdOnly { id: id.clone() })
            .collect::<Vec<_>>()
    };
    ingest(sf.bulk_ingest("Account").delete().records(doomed(10..15))).await;
    assert_eq!(sim.record_count("Account"), Some(27));
    ingest(
        sf.bulk_ingest("Account")
            .hard_delete()
            .records(doomed(15..20)),
    )
    .await;
    assert_eq!(sim.record_count("Account"), Some(22));
    sim.shutdown().await;
}

/// Runs an ingest with quick polling and checks that no row failed.
async fn ingest(builder: haul::salesforce::ingest::IngestBuilder) -> IngestOutcome {
    let outcome = builder.backoff(fast()).run().await.unwrap();
    assert_eq!(outcome.summary.records_failed, 0, "{:?}", outcome.summary);
    assert!(outcome.summary.records_processed > 0);
    outcome
}

#[tokio::test]
async fn inputs_unfit_for_the_operation_are_refused_before_any_request() {
    let sim = sim().rows("Account", 5).start().await.unwrap();
    let sf = client(&sim);
    let reader = |text: &str| Cursor::new(text.as_bytes().to_vec());
    let refusals = [
        sf.bulk_ingest("Account")
            .delete()
            .csv_reader(reader("Id,Name\n001000000000001AAA,x\n")),
        sf.bulk_ingest("Account")
            .hard_delete()
            .csv_reader(reader("Name\nx\n")),
        sf.bulk_ingest("Account")
            .upsert("External_Id__c")
            .csv_reader(reader("Name\nx\n")),
        sf.bulk_ingest("Account").csv_reader(reader("Name\nx\n")),
        sf.bulk_ingest("Account").insert(),
        sf.bulk_ingest("Account").insert().csv_reader(reader("")),
        sf.bulk_ingest("Account")
            .insert()
            .max_job_bytes(20)
            .csv_reader(reader("Name\nthis record is far too long\n")),
        sf.bulk_ingest("Account")
            .insert()
            .max_job_bytes(200 * 1024 * 1024)
            .csv_reader(reader("Name\nx\n")),
    ];
    for (i, builder) in refusals.into_iter().enumerate() {
        match builder.run().await {
            Err(haul::Error::InvalidInput { detail, .. }) => {
                if i < 2 {
                    assert!(detail.contains("only the Id column"), "{detail}");
                }
            }
            other => panic!("refusal {i}: expected InvalidInput, got {other:?}"),
        }
    }
    assert_eq!(ingest_requests(&sim), 0, "{:?}", sim.stats());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_header_without_records_starts_no_job() {
    let sim = sim().start().await.unwrap();
    let sf = client(&sim);
    let outcome = sf
        .bulk_ingest("Account")
        .insert()
        .csv_reader(Cursor::new(b"Name\n".to_vec()))
        .run()
        .await
        .unwrap();
    assert!(outcome.summary.jobs.is_empty());
    assert!(outcome.jobs().is_empty());
    assert_eq!(ingest_requests(&sim), 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_failed_job_is_an_error_carrying_its_error_message() {
    let sim = sim().rows("Account", 0).start().await.unwrap();
    let sf = client(&sim);
    sim.fail_next_ingest_job();
    let handle = sf
        .bulk_ingest("Account")
        .insert()
        .csv_reader(Cursor::new(b"Name\na\nb\nc\n".to_vec()))
        .backoff(fast())
        .run();
    let progress = handle.progress();
    let error = handle.await.unwrap_err();
    let finished = progress.borrow().finished.clone();
    assert_eq!(finished.len(), 1);
    let job = &finished[0];
    match &error {
        haul::Error::JobFailed {
            what,
            state,
            message,
            ..
        } => {
            assert_eq!(state, "Failed");
            assert!(what.contains(job.id.as_str()), "{what}");
            assert_eq!(
                message.as_deref(),
                Some("InternalServerError : the simulator was told to fail this job")
            );
        }
        other => panic!("expected JobFailed, got {other:?}"),
    }
    assert_eq!(job.state, IngestJobState::Failed);
    assert_eq!(
        job.error_message,
        Some("InternalServerError : the simulator was told to fail this job".into())
    );
    assert_eq!((job.records_uploaded, job.records_unprocessed), (3, 3));
    let unprocessed: Vec<_> = sf
        .ingest_job(job.id.as_str())
        .unwrap()
        .unprocessed_records()
        .try_collect()
        .await
        .unwrap();
    let names: Vec<&str> = unprocessed
        .iter()
        .map(|r| r.fields.get("Name").unwrap())
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
    sim.shutdown().await;
}

/// An ingest of three jobs, two at a time: the first fails at about one second, while the second,
/// started 300 ms later, is still running; the third waits for a free slot.
async fn one_failing_job_beside_a_running_one(abort_remaining: bool) -> (Sim, Vec<IngestJobState>) {
    let sim = sim()
        .rows("Account", 0)
        .job_duration(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let sf = client(&sim);
    sim.fail_next_ingest_job();
    let (mut writer, reader) = tokio::io::duplex(64 * 1024);
    let handle = sf
        .bulk_ingest("Account")
        .insert()
        .csv_reader(reader)
        .max_job_bytes(100)
        .concurrency(2)
        .abort_remaining_on_failure(abort_remaining)
        .backoff(fast())
        .run();
    let rows = |from: usize| {
        (from..from + 10)
            .map(|i| format!("Row {i:03}\n"))
            .collect::<String>()
    };
    writer
        .write_all(format!("Name\n{}{}", rows(0), rows(10)).as_bytes())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    writer.write_all(rows(20).as_bytes()).await.unwrap();
    drop(writer);
    let error = handle.await.unwrap_err();
    assert!(
        matches!(&error, haul::Error::JobFailed { state, .. } if state == "Failed"),
        "{error:?}"
    );
    let jobs: Vec<_> = sf.ingest_jobs().try_collect().await.unwrap();
    let mut states: Vec<IngestJobState> = jobs
        .iter()
        .map(|info| sim.ingest_job_state(info.id.as_str()).unwrap())
        .collect();
    states.sort_by_key(|s| s.to_string());
    (sim, states)
}

#[tokio::test]
async fn a_failure_aborts_the_other_jobs_when_asked() {
    let (sim, states) = one_failing_job_beside_a_running_one(true).await;
    // The running job is aborted, and the third is never created.
    assert_eq!(states, [IngestJobState::Aborted, IngestJobState::Failed]);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_failure_lets_the_other_jobs_finish_by_default() {
    let (sim, states) = one_failing_job_beside_a_running_one(false).await;
    // The second job and the third, created once the first has failed, both complete.
    assert_eq!(
        states,
        [
            IngestJobState::Failed,
            IngestJobState::JobComplete,
            IngestJobState::JobComplete
        ]
    );
    sim.shutdown().await;
}

/// Starts a one-job ingest on a simulator whose jobs take a minute, and waits until it is running.
async fn running_ingest(sim: &Sim) -> (IngestHandle, IngestJob) {
    let sf = client(sim);
    let handle = sf
        .bulk_ingest("Account")
        .insert()
        .csv_reader(Cursor::new(b"Name\nx\ny\n".to_vec()))
        .backoff(fast())
        .run();
    let listed = eventually(Duration::from_secs(10), || {
        sim.stats()
            .count("PATCH", "/services/data/{version}/jobs/ingest/{id}")
            > 0
    })
    .await;
    assert!(listed, "the job was never closed");
    let jobs: Vec<_> = sf.ingest_jobs().try_collect().await.unwrap();
    assert_eq!(jobs.len(), 1);
    let job = sf.ingest_job(jobs[0].id.as_str()).unwrap();
    (handle, job)
}

#[tokio::test]
async fn aborting_a_job_through_its_handle_fails_the_ingest() {
    let sim = sim()
        .rows("Account", 0)
        .job_duration(Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let (handle, job) = running_ingest(&sim).await;
    let info = job.abort().await.unwrap();
    assert_eq!(info.state, IngestJobState::Aborted);
    let error = tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&error, haul::Error::JobFailed { state, .. } if state == "Aborted"),
        "{error:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn cancelling_an_ingest_aborts_its_running_jobs() {
    let sim = sim()
        .rows("Account", 0)
        .job_duration(Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let (handle, job) = running_ingest(&sim).await;
    handle.cancel();
    let error = tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(error, haul::Error::Cancelled), "{error:?}");
    assert_eq!(
        sim.ingest_job_state(job.id().as_str()),
        Some(IngestJobState::Aborted)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn jobs_are_listed_across_pages_and_handles_read_and_delete_them() {
    let sim = sim()
        .rows("Account", 0)
        .list_page_size(2)
        .start()
        .await
        .unwrap();
    let sf = client(&sim);
    let mut input = String::from("Name\n");
    for i in 0..50 {
        input.push_str(&format!("Company {i:02}\n"));
    }
    let outcome = sf
        .bulk_ingest("Account")
        .insert()
        .csv_reader(Cursor::new(input.into_bytes()))
        .max_job_bytes(120)
        .backoff(fast())
        .run()
        .await
        .unwrap();
    let ours: BTreeSet<String> = outcome.jobs().iter().map(|j| j.id().to_string()).collect();
    assert!(ours.len() >= 5, "{} jobs", ours.len());
    let listed: Vec<_> = sf.ingest_jobs().try_collect().await.unwrap();
    let listed: BTreeSet<String> = listed.iter().map(|j| j.id.to_string()).collect();
    assert_eq!(listed, ours);
    assert!(sim.stats().count("GET", JOBS) >= 3);

    let job = &outcome.jobs()[0];
    let info = job.info().await.unwrap();
    assert_eq!(info.state, IngestJobState::JobComplete);
    assert_eq!(
        info.number_records_processed,
        Some(outcome.summary.jobs[0].records_uploaded as i64)
    );
    job.delete().await.unwrap();
    assert_eq!(sim.ingest_job_state(job.id().as_str()), None);
    assert!(job.info().await.unwrap_err().is_not_found());
    assert!(matches!(
        sf.ingest_job("750/../x"),
        Err(haul::Error::InvalidInput { .. })
    ));
    sim.shutdown().await;
}

#[test]
fn handles_and_outcomes_can_be_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<IngestJob>();
    send_sync::<IngestOutcome>();
    send_sync::<IngestHandle>();
    send::<haul::salesforce::ingest::IngestBuilder>();
}

#[tokio::test]
async fn a_result_file_cut_mid_body_is_requested_again_and_read_whole() {
    // The generated client asks with the trailing slash of the documented URL.
    const SUCCESSFUL: &str = "/services/data/{version}/jobs/ingest/{id}/successfulResults/";
    let sim = sim().rows("Account", 0).start().await.unwrap();
    // A short read timeout turns the stall below into a cut connection quickly.
    let sf = haul::Salesforce::builder()
        .instance_url(sim.instance_url())
        .auth(haul::auth::AccessToken::new(sim.access_token()))
        .retry(common::quick_retries())
        .read_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let input: String = std::iter::once("Name,BillingCity\n".to_owned())
        .chain((0..2_000).map(|i| format!("\"Account {i}, with a comma\",City {i}\n")))
        .collect();
    let outcome = ingest(
        sf.bulk_ingest("Account")
            .insert()
            .csv_reader(Cursor::new(input.into_bytes())),
    )
    .await;
    let clean: Vec<_> = outcome.successful_results().try_collect().await.unwrap();
    assert_eq!(clean.len(), 2_000);

    // The file stops after 10,000 bytes, mid-record; the read resumes after them.
    sim.misbehave_next(
        "GET",
        SUCCESSFUL,
        haul_sim::Misbehaviour::Stall { after: 10_000 },
    );
    let resumed: Vec<_> = tokio::time::timeout(
        Duration::from_secs(30),
        outcome.successful_results().try_collect(),
    )
    .await
    .expect("hung")
    .unwrap();
    assert_eq!(resumed, clean, "same rows, none lost or repeated");
    let requests = sim.stats().count("GET", SUCCESSFUL);
    assert_eq!(requests, 3, "one clean read, one cut, one again");
    sim.shutdown().await;
}

#[tokio::test]
async fn an_upload_whose_answer_was_lost_is_not_repeated_into_a_second_upload() {
    let sim = sim().rows("Account", 0).start().await.unwrap();
    let sf = client(&sim);
    let input = "Name\nA\nB\nC\n";
    // The data is stored, but the answer is a 500: the upload is sent again, refused as a second
    // upload, and that refusal proves the first one arrived.
    sim.misbehave_next(
        "PUT",
        BATCHES,
        haul_sim::Misbehaviour::Status {
            status: 500,
            body: "[]".into(),
        },
    );
    let outcome = ingest(
        sf.bulk_ingest("Account")
            .insert()
            .csv_reader(Cursor::new(input.as_bytes().to_vec())),
    )
    .await;
    assert_eq!(outcome.summary.records_processed, 3);
    assert_eq!(sim.record_count("Account"), Some(3));
    let puts: u64 = sim
        .stats()
        .requests
        .iter()
        .filter(|r| r.method == "PUT")
        .map(|r| (r.status, r.count))
        .map(|(status, count)| {
            assert!(matches!(status, 500 | 400), "PUT answered {status}");
            count
        })
        .sum();
    assert_eq!(
        puts, 2,
        "the upload and one attempt refused as a second upload"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_close_whose_answer_was_lost_is_not_refused_when_repeated() {
    const JOB: &str = "/services/data/{version}/jobs/ingest/{id}";
    let sim = sim().rows("Account", 0).start().await.unwrap();
    let sf = client(&sim);
    // The job is closed, but the answer is a 500: the transport sends the PATCH again, which finds
    // the job closed already and is refused with INVALIDJOBSTATE; the close still succeeded.
    sim.misbehave_next(
        "PATCH",
        JOB,
        haul_sim::Misbehaviour::Status {
            status: 500,
            body: "[]".into(),
        },
    );
    let outcome = ingest(
        sf.bulk_ingest("Account")
            .insert()
            .csv_reader(Cursor::new(b"Name\nA\nB\n".to_vec())),
    )
    .await;
    assert_eq!(outcome.summary.records_processed, 2);
    let patches: Vec<(u16, u64)> = sim
        .stats()
        .requests
        .iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| (r.status, r.count))
        .collect();
    assert!(patches.contains(&(500, 1)), "{patches:?}");
    assert!(patches.contains(&(400, 1)), "{patches:?}");
    sim.shutdown().await;
}
