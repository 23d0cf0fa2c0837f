//! A store that refuses a part: moto's S3 server (a real one, started on 127.0.0.1 for each test)
//! behind a fault-injecting proxy (`common::fault_proxy`) that answers a chosen `UploadPart`
//! with an S3 error and forwards everything else, haul-sim as the org.
//!
//! A part refused with `403 AccessDenied` fails the download with a store error that names the
//! object; nothing is published as complete (no manifest, no object for the refused part, the
//! multipart upload aborted); a rerun on the healthy store completes, and a resumed one sends
//! only the partitions not yet uploaded (counted at the proxy). A part answered `500
//! InternalError` a few times is retried by the store client and the download completes.
//!
//! Needs `HAUL_PEER_PYTHON` (a python with `moto[server]`): `cargo xtask test` sets it.

mod common;

use common::fault_proxy::{FaultProxy, Refusal, UploadPart};
use common::moto::{S3Server, check_manifest, destination_at};
use common::*;
use haul::salesforce::query::CompletedQueryJob;
use haul_sim::Sim;

/// The parts logged by the proxy, as (key, part number, refused), by key and part number; a
/// part sent more than once keeps its tries in the order received. (Parts of one object travel at
/// once, so they may arrive in any order.)
fn sent(parts: &[UploadPart]) -> Vec<(String, u32, bool)> {
    let mut sent: Vec<_> = parts
        .iter()
        .map(|part| (part.key.clone(), part.number, part.refused))
        .collect();
    sent.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    sent
}

/// `(key, 1, false)` for each key: one part each, forwarded once.
fn once_each(keys: impl IntoIterator<Item = String>) -> Vec<(String, u32, bool)> {
    keys.into_iter().map(|key| (key, 1, false)).collect()
}

fn part_key(folder: &str, index: usize) -> String {
    format!("{folder}part-{index:05}.csv")
}

/// The job's download in pages of 5,000 rows, each partition spilled to its part file (no
/// memory), so that each goes up as a multipart upload of one part.
fn spilled(job: &CompletedQueryJob) -> haul::download::DownloadBuilder {
    job.download().max_records(5_000).concurrency(2).memory(0)
}

/// Checks that the folder in the store holds the same parts as the job downloaded locally, and a
/// manifest that vouches for them.
async fn check_folder(s3: &S3Server, job: &CompletedQueryJob, folder: &str, parts: usize) {
    let local = temp_dir(&format!("faults-{}", folder.trim_end_matches('/'))).join("pages");
    job.download()
        .max_records(5_000)
        .to_dir(&local)
        .await
        .unwrap();
    for index in 0..parts {
        let name = format!("part-{index:05}.csv");
        let uploaded = s3.get("lake", &format!("{folder}{name}")).await.unwrap();
        assert!(
            uploaded == std::fs::read(local.join(&name)).unwrap(),
            "{name} differs from the local part"
        );
    }
    let manifest = manifest_of(
        &s3.get("lake", &format!("{folder}_manifest.json"))
            .await
            .unwrap(),
    );
    assert_eq!(manifest.files.len(), parts);
    check_manifest(s3, "lake", folder, &manifest).await;
    assert_eq!(s3.open_uploads("lake").await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_refused_fails_clearly_and_a_resumed_run_sends_only_the_missing_parts() {
    let sim = Sim::builder()
        .rows("Account", 30_000)
        .start()
        .await
        .unwrap();
    let s3 = S3Server::start("faults-denied").await;
    s3.create_bucket("lake").await;
    let proxy = FaultProxy::start(&s3.url).await;
    let sf = client(&sim, false);
    let done = finished_job(&sf).await;
    let url = "s3://lake/accounts/";

    proxy.refuse_part(
        &part_key("accounts/", 3),
        1,
        usize::MAX,
        Refusal::AccessDenied,
    );
    let error = spilled(&done)
        .resume(true)
        .to(destination_at(&proxy.url, url))
        .await
        .unwrap_err();
    assert!(error.is_store() && error.is_auth(), "{error}");
    assert!(!error.is_retryable(), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("s3://lake/accounts/part-00003.csv"),
        "{message}"
    );
    assert!(message.contains("access denied"), "{message}");
    let mut expected = once_each((0..3).map(|index| part_key("accounts/", index)));
    expected.push((part_key("accounts/", 3), 1, true));
    assert_eq!(
        sent(&proxy.upload_parts()),
        expected,
        "three parts forwarded, the fourth refused once (a 403 is not retried)"
    );

    // Nothing looks complete: no manifest, no object for the refused part, its upload aborted;
    // the checkpoint vouches for the three partitions that landed.
    assert_eq!(s3.get("lake", "accounts/_manifest.json").await, None);
    assert!(s3.destination(url).manifest().await.unwrap().is_none());
    let mut landed = vec!["accounts/_haul_checkpoint.json".to_owned()];
    landed.extend((0..3).map(|index| part_key("accounts/", index)));
    assert_eq!(s3.keys("lake", "accounts/").await, landed);
    assert_eq!(s3.open_uploads("lake").await, Vec::<String>::new());
    let checkpoint = s3
        .destination(url)
        .checkpoint()
        .await
        .unwrap()
        .expect("the checkpoint is kept in the store");
    assert_eq!(checkpoint.pages.len(), 3);

    proxy.heal();
    let report = spilled(&done)
        .resume(true)
        .to(destination_at(&proxy.url, url))
        .await
        .unwrap();
    assert_eq!(
        (report.pages, report.resumed_pages, report.records),
        (6, 3, 30_000)
    );
    assert_eq!(
        sent(&proxy.upload_parts()),
        once_each((3..6).map(|index| part_key("accounts/", index))),
        "the resumed run sent exactly the missing partitions, once each"
    );
    check_folder(&s3, &done, "accounts/", 6).await;
    assert_eq!(s3.get("lake", "accounts/_haul_checkpoint.json").await, None);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_part_of_a_single_object_aborts_it_and_a_rerun_sends_it_whole() {
    // 300,000 rows make a 13 MB file: two parts of the multipart upload (10 MiB, then the rest).
    let sim = Sim::builder()
        .rows("Account", 300_000)
        .start()
        .await
        .unwrap();
    let s3 = S3Server::start("faults-object").await;
    s3.create_bucket("lake").await;
    let proxy = FaultProxy::start(&s3.url).await;
    let sf = client(&sim, false);
    let done = finished_job(&sf).await;
    let url = "s3://lake/accounts.csv";

    proxy.refuse_part("accounts.csv", 2, usize::MAX, Refusal::AccessDenied);
    let error = pages(&done)
        .to(destination_at(&proxy.url, url))
        .await
        .unwrap_err();
    assert!(error.is_store() && error.is_auth(), "{error}");
    assert!(error.to_string().contains(url), "{error}");
    let object = "accounts.csv".to_owned();
    // The first part travels at the same time as the second: when the refusal ends the upload,
    // it may have been sent, or dropped before it started.
    let failed_run = sent(&proxy.upload_parts());
    assert!(
        failed_run.contains(&(object.clone(), 2, true))
            && failed_run.len() <= 2
            && failed_run
                .iter()
                .all(|part| part.1 == 2 || *part == (object.clone(), 1, false)),
        "{failed_run:?}"
    );
    assert_eq!(
        s3.keys("lake", "").await,
        Vec::<String>::new(),
        "no object, no manifest"
    );
    assert_eq!(
        s3.open_uploads("lake").await,
        Vec::<String>::new(),
        "the upload was aborted, with whatever parts had landed"
    );

    // A single object cannot be resumed: the rerun sends both parts again.
    proxy.heal();
    let report = pages(&done)
        .to(destination_at(&proxy.url, url))
        .await
        .unwrap();
    assert_eq!(report.records, 300_000);
    assert_eq!(
        sent(&proxy.upload_parts()),
        [(object.clone(), 1, false), (object, 2, false)]
    );
    let local = temp_dir("faults-object");
    let file = pages(&done)
        .to_file(local.join("accounts.csv"))
        .await
        .unwrap();
    let expected = std::fs::read(local.join("accounts.csv")).unwrap();
    assert_eq!(report.bytes, file.bytes);
    assert!(s3.get("lake", "accounts.csv").await.unwrap() == expected);
    let manifest = manifest_of(&s3.get("lake", "accounts.csv.manifest.json").await.unwrap());
    assert_eq!(manifest.files[0].sha256, sha256(&expected));
    assert_eq!(s3.open_uploads("lake").await, Vec::<String>::new());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_answered_500_is_retried_and_the_download_completes() {
    let sim = Sim::builder()
        .rows("Account", 30_000)
        .start()
        .await
        .unwrap();
    let s3 = S3Server::start("faults-retry").await;
    s3.create_bucket("lake").await;
    let proxy = FaultProxy::start(&s3.url).await;
    let sf = client(&sim, false);
    let done = finished_job(&sf).await;

    proxy.refuse_part(&part_key("retried/", 1), 1, 2, Refusal::InternalError);
    let report = spilled(&done)
        .to(destination_at(&proxy.url, "s3://lake/retried/"))
        .await
        .unwrap();
    assert_eq!((report.pages, report.records), (6, 30_000));
    let second = part_key("retried/", 1);
    let mut expected = once_each([part_key("retried/", 0)]);
    expected.extend([
        (second.clone(), 1, true),
        (second.clone(), 1, true),
        (second, 1, false),
    ]);
    expected.extend(once_each((2..6).map(|index| part_key("retried/", index))));
    assert_eq!(
        sent(&proxy.upload_parts()),
        expected,
        "the second part was refused twice, then sent again and taken"
    );
    check_folder(&s3, &done, "retried/", 6).await;
    sim.shutdown().await;
}
