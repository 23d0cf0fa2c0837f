//! Downloads to an object store: a real S3-protocol server (moto's, from PyPI, installed by
//! `cargo xtask test` with the peers) started on 127.0.0.1 for each test, haul-sim as the org.
//! What lands in the bucket is read back over plain HTTP and compared byte for byte with the same
//! job downloaded to local disk; the manifest's digests are checked against the objects; a
//! complete output is not overwritten unless asked; a cancelled upload resumes sending only the
//! parts that are missing; a store that refuses gives a clear error and no manifest.
//!
//! The client asks for no gzip: the simulator's bandwidth cap then sets the pace the cancels
//! rely on.
//!
//! Needs `HAUL_PEER_PYTHON` (a python with `moto[server]`): `cargo xtask test` sets it.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::moto::{S3Server, check_manifest};
use common::*;
use haul::download::{ColumnType, Format};
use haul_sim::{NetworkProfile, Sim};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_and_a_single_object_in_s3_equal_local_downloads_byte_for_byte() {
    // 300,000 rows make a 13 MB file: the single object takes more than one upload part.
    let sim = Sim::builder()
        .rows("Account", 300_000)
        .start()
        .await
        .unwrap();
    let s3 = S3Server::start("equal").await;
    s3.create_bucket("lake").await;
    let sf = client(&sim, false);
    let done = finished_job(&sf).await;
    let local = temp_dir("store-equal");

    let file = pages(&done)
        .to_file(local.join("accounts.csv"))
        .await
        .unwrap();
    pages(&done).to_dir(local.join("pages")).await.unwrap();
    // Held in memory (the default budget), then spilled to part files (no memory): both paths up.
    let object = pages(&done)
        .to(s3.destination("s3://lake/exports/accounts.csv"))
        .await
        .unwrap();
    let folder = pages(&done)
        .memory(0)
        .to(s3.destination("s3://lake/exports/accounts/"))
        .await
        .unwrap();
    let spilled_object = pages(&done)
        .memory(0)
        .to(s3.destination("s3://lake/spilled.csv"))
        .await
        .unwrap();
    assert_eq!(object.path, PathBuf::from("s3://lake/exports/accounts.csv"));
    assert_eq!((object.records, folder.records), (300_000, 300_000));
    assert_eq!(folder.pages, 6);

    let expected = std::fs::read(local.join("accounts.csv")).unwrap();
    assert!(expected.len() > 10 << 20, "{} bytes", expected.len());
    assert_eq!(
        (object.bytes, spilled_object.bytes),
        (file.bytes, file.bytes)
    );
    for key in ["exports/accounts.csv", "spilled.csv"] {
        let uploaded = s3.get("lake", key).await.unwrap();
        assert!(uploaded == expected, "{key} differs from the local file");
    }
    let manifest = manifest_of(
        &s3.get("lake", "exports/accounts.csv.manifest.json")
            .await
            .unwrap(),
    );
    assert_eq!(manifest.files.len(), 1);
    assert_eq!(manifest.files[0].path, "accounts.csv");
    assert_eq!(manifest.files[0].sha256, sha256(&expected));
    assert_eq!(manifest.source.job, done.job().id().as_str());
    assert_eq!(manifest.source.query.as_deref(), Some(SOQL));
    let columns: Vec<_> = manifest.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(columns, ["Id", "Name"]);
    check_manifest(&s3, "lake", "exports/", &manifest).await;

    let mut keys = s3.keys("lake", "exports/accounts/").await;
    assert_eq!(keys.remove(0), "exports/accounts/_manifest.json");
    let local_parts = {
        let mut names: Vec<_> = std::fs::read_dir(local.join("pages"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with("part-"))
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        keys,
        local_parts
            .iter()
            .map(|name| format!("exports/accounts/{name}"))
            .collect::<Vec<_>>(),
        "one object a page, no checkpoint left"
    );
    for name in &local_parts {
        let uploaded = s3
            .get("lake", &format!("exports/accounts/{name}"))
            .await
            .unwrap();
        assert!(
            uploaded == std::fs::read(local.join("pages").join(name)).unwrap(),
            "{name} differs from the local part"
        );
    }
    let manifest = manifest_of(
        &s3.get("lake", "exports/accounts/_manifest.json")
            .await
            .unwrap(),
    );
    let local_manifest =
        manifest_of(&std::fs::read(local.join("pages").join("_manifest.json")).unwrap());
    assert_eq!(manifest.files, local_manifest.files);
    check_manifest(&s3, "lake", "exports/accounts/", &manifest).await;
    assert_eq!(s3.open_uploads("lake").await, Vec::<String>::new());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_parquet_lands_in_s3_as_a_folder_with_a_typed_manifest() {
    let sim = Sim::builder()
        .rows("Account", 120_000)
        .start()
        .await
        .unwrap();
    let s3 = S3Server::start("parquet").await;
    s3.create_bucket("lake").await;
    let sf = client(&sim, false);
    let soql = "SELECT Id, Name, AnnualRevenue, CreatedDate FROM Account";
    let schema = sf.query_schema(soql).await.unwrap();
    let done = sf
        .bulk_query(soql)
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let parquet = || {
        done.download()
            .max_records(50_000)
            .format(Format::parquet())
            .schema(schema.clone())
    };
    let local = temp_dir("store-parquet");
    parquet().to_dir(local.join("accounts")).await.unwrap();
    let report = parquet()
        .to(s3.destination("s3://lake/accounts/"))
        .await
        .unwrap();
    assert_eq!((report.records, report.pages), (120_000, 3));

    // The same bytes as the local parts: each part is a whole Parquet file.
    let mut keys = s3.keys("lake", "accounts/").await;
    assert_eq!(keys.remove(0), "accounts/_manifest.json");
    assert_eq!(keys.len(), 3, "{keys:?}");
    for key in &keys {
        let name = key.trim_start_matches("accounts/");
        assert!(name.ends_with(".parquet"), "{name}");
        let uploaded = s3.get("lake", key).await.unwrap();
        assert!(uploaded.starts_with(b"PAR1") && uploaded.ends_with(b"PAR1"));
        assert!(
            uploaded == std::fs::read(local.join("accounts").join(name)).unwrap(),
            "{name} differs from the local part"
        );
    }
    let manifest = manifest_of(&s3.get("lake", "accounts/_manifest.json").await.unwrap());
    check_manifest(&s3, "lake", "accounts/", &manifest).await;
    let types: Vec<_> = manifest.columns.iter().map(|c| c.ty).collect();
    assert_eq!(
        types,
        schema
            .columns
            .iter()
            .map(|c| Some(c.ty))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        manifest.columns[2].ty,
        Some(ColumnType::Decimal {
            precision: 18,
            scale: 2
        })
    );

    // One Parquet object would need its footer gathered on local disk: refused before any upload.
    let error = parquet()
        .to(s3.destination("s3://lake/accounts.parquet"))
        .await
        .unwrap_err();
    assert!(error.is_invalid_input(), "{error}");
    assert!(error.to_string().contains("prefix ending in /"), "{error}");
    assert!(s3.get("lake", "accounts.parquet").await.is_none());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complete_output_in_s3_is_overwritten_only_when_asked() {
    let sim = Sim::builder()
        .rows("Account", 30_000)
        .start()
        .await
        .unwrap();
    let s3 = S3Server::start("overwrite").await;
    s3.create_bucket("lake").await;
    let sf = client(&sim, false);
    let done = finished_job(&sf).await;
    let to = |max: u64| done.download().max_records(max);

    to(5_000)
        .to(s3.destination("s3://lake/accounts/"))
        .await
        .unwrap();
    to(5_000)
        .to(s3.destination("s3://lake/accounts.csv"))
        .await
        .unwrap();
    let before = s3.keys("lake", "").await;
    assert_eq!(before.len(), 6 + 1 + 2, "{before:?}");
    let manifest = s3.get("lake", "accounts/_manifest.json").await.unwrap();

    for url in ["s3://lake/accounts/", "s3://lake/accounts.csv"] {
        let error = to(10_000).to(s3.destination(url)).await.unwrap_err();
        assert!(error.is_invalid_input(), "{url}: {error}");
        assert!(error.to_string().contains("complete download"), "{error}");
        assert!(error.to_string().contains(url), "{error}");
    }
    assert_eq!(s3.keys("lake", "").await, before);
    assert_eq!(
        s3.get("lake", "accounts/_manifest.json").await.unwrap(),
        manifest
    );

    let report = to(10_000)
        .overwrite(true)
        .to(s3.destination("s3://lake/accounts/"))
        .await
        .unwrap();
    assert_eq!(report.pages, 3);
    assert_eq!(
        s3.keys("lake", "accounts/").await,
        [
            "accounts/_manifest.json",
            "accounts/part-00000.csv",
            "accounts/part-00001.csv",
            "accounts/part-00002.csv"
        ],
        "the old output's extra parts are gone"
    );
    let manifest = manifest_of(&s3.get("lake", "accounts/_manifest.json").await.unwrap());
    check_manifest(&s3, "lake", "accounts/", &manifest).await;
    to(10_000)
        .overwrite(true)
        .to(s3.destination("s3://lake/accounts.csv"))
        .await
        .unwrap();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_upload_resumes_sending_only_the_missing_parts() {
    // 1 MB/s a connection stretches the download over seconds, so that the cancel lands midway.
    let sim = Sim::builder()
        .rows("Account", 60_000)
        .profile(NetworkProfile::wan(Duration::ZERO, 1_000_000))
        .start()
        .await
        .unwrap();
    let s3 = S3Server::start("resume").await;
    s3.create_bucket("lake").await;
    let sf = client(&sim, false);
    let done = finished_job(&sf).await;
    let download = || {
        done.download()
            .max_records(5_000)
            .concurrency(2)
            .resume(true)
    };

    let handle = download().to(s3.destination("s3://lake/accounts/"));
    let mut progress = handle.progress();
    tokio::time::timeout(
        Duration::from_secs(120),
        progress.wait_for(|p| p.pages >= 3),
    )
    .await
    .expect("three pages within two minutes")
    .unwrap();
    handle.cancel();
    let error = handle.await.unwrap_err();
    assert!(error.is_cancelled(), "{error}");
    let checkpoint = s3
        .destination("s3://lake/accounts/")
        .checkpoint()
        .await
        .unwrap()
        .expect("the checkpoint is kept in the store");
    let kept = checkpoint.pages.len();
    assert!((3..12).contains(&kept), "{kept} pages kept");
    assert_eq!(s3.get("lake", "accounts/_manifest.json").await, None);

    s3.record().await;
    let report = download()
        .to(s3.destination("s3://lake/accounts/"))
        .await
        .unwrap();
    assert_eq!((report.pages, report.resumed_pages), (12, kept));
    let sent: Vec<usize> = s3
        .recorded()
        .into_iter()
        .filter(|(method, _)| method == "PUT")
        .filter_map(|(_, path)| {
            let name = path.strip_prefix("/lake/accounts/part-")?;
            name.strip_suffix(".csv")?.parse().ok()
        })
        .collect();
    let mut sent_sorted = sent.clone();
    sent_sorted.sort_unstable();
    assert_eq!(
        sent_sorted,
        (kept..12).collect::<Vec<_>>(),
        "the resumed run sent exactly the missing parts, once each"
    );

    let local = temp_dir("store-resume");
    done.download()
        .max_records(5_000)
        .to_dir(local.join("pages"))
        .await
        .unwrap();
    for index in 0..12 {
        let name = format!("part-{index:05}.csv");
        let uploaded = s3.get("lake", &format!("accounts/{name}")).await.unwrap();
        assert!(
            uploaded == std::fs::read(local.join("pages").join(&name)).unwrap(),
            "{name} differs"
        );
    }
    assert_eq!(s3.get("lake", "accounts/_haul_checkpoint.json").await, None);
    let manifest = manifest_of(&s3.get("lake", "accounts/_manifest.json").await.unwrap());
    assert_eq!(manifest.files.len(), 12);
    check_manifest(&s3, "lake", "accounts/", &manifest).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_single_object_upload_is_aborted_and_cannot_be_resumed() {
    let sim = Sim::builder()
        .rows("Account", 60_000)
        .profile(NetworkProfile::wan(Duration::ZERO, 1_000_000))
        .start()
        .await
        .unwrap();
    let s3 = S3Server::start("abort").await;
    s3.create_bucket("lake").await;
    let sf = client(&sim, false);
    let done = finished_job(&sf).await;

    let error = done
        .download()
        .resume(true)
        .to(s3.destination("s3://lake/accounts.csv"))
        .await
        .unwrap_err();
    assert!(error.is_invalid_input(), "{error}");
    assert!(error.to_string().contains("cannot be resumed"), "{error}");

    let handle = done
        .download()
        .max_records(5_000)
        .concurrency(2)
        .to(s3.destination("s3://lake/accounts.csv"));
    let mut progress = handle.progress();
    tokio::time::timeout(
        Duration::from_secs(120),
        progress.wait_for(|p| p.pages >= 2),
    )
    .await
    .expect("two pages within two minutes")
    .unwrap();
    assert_eq!(s3.open_uploads("lake").await.len(), 1, "the upload is open");
    handle.cancel();
    assert!(handle.await.unwrap_err().is_cancelled());
    assert_eq!(
        s3.open_uploads("lake").await,
        Vec::<String>::new(),
        "the upload was aborted"
    );
    assert_eq!(s3.keys("lake", "").await, Vec::<String>::new());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_refuses_gives_a_clear_error_and_no_manifest() {
    let sim = Sim::builder()
        .rows("Account", 12_000)
        .start()
        .await
        .unwrap();
    let s3 = S3Server::start("refuse").await;
    s3.create_bucket("lake").await;
    let sf = client(&sim, false);
    let done = finished_job(&sf).await;

    for url in ["s3://no-such-bucket/accounts/", "s3://no-such-bucket/a.csv"] {
        let error = done.download().to(s3.destination(url)).await.unwrap_err();
        assert!(error.is_store(), "{url}: {error}");
        assert!(error.is_not_found(), "{url}: {error}");
        assert!(!error.is_retryable(), "{url}: {error}");
        assert!(
            error.to_string().contains("s3://no-such-bucket/"),
            "{error}"
        );
        assert!(
            !format!("{error:?}").contains("haul-test-secret"),
            "{error:?}"
        );
    }

    // An option the S3 client does not know is refused before anything is sent.
    let error = done
        .download()
        .to(s3
            .destination("s3://lake/x/")
            .option("aws_no_such_option", "1"))
        .await
        .unwrap_err();
    assert!(error.is_invalid_input(), "{error}");
    assert_eq!(s3.keys("lake", "").await, Vec::<String>::new());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extract_keeps_its_runs_and_state_in_s3_and_the_next_run_lands_only_the_changes() {
    let s3 = S3Server::start("extract").await;
    s3.create_bucket("lake").await;
    let sim = Sim::builder().rows("Account", 40).start().await.unwrap();
    let sf = client(&sim, false);
    let extract = || {
        sf.extract(s3.destination("s3://lake/sf/"))
            .objects(["Account"])
            .wait_options(
                haul::WaitOptions::default()
                    .with_backoff(haul::BackoffPolicy::fixed(Duration::from_millis(10))),
            )
    };
    let first = extract().run().await.unwrap();
    assert!(first.is_complete(), "{first:#?}");
    assert_eq!(first.rows(), 40);
    let run = format!("sf/Account/run={}", first.run_id);
    let keys = s3.keys("lake", "sf/").await;
    for key in [
        format!("{run}/w000/part-00000.parquet"),
        format!("{run}/w000/_manifest.json"),
        format!("{run}/_run.json"),
        "sf/Account/_state.json".to_owned(),
        format!("sf/_runs/{}.json", first.run_id),
    ] {
        assert!(keys.contains(&key), "{key} in {keys:?}");
    }
    let csv = sim
        .expected_query_csv(
            "SELECT Id FROM Account LIMIT 3",
            haul::types::ColumnDelimiter::Comma,
            haul::types::LineEnding::Lf,
        )
        .unwrap();
    let update: String = String::from_utf8(csv)
        .unwrap()
        .lines()
        .skip(1)
        .map(|id| format!("{},Renamed\n", id.trim_matches('"')))
        .collect();
    let outcome = sf
        .bulk_ingest("Account")
        .update()
        .csv_reader(std::io::Cursor::new(
            format!("Id,Name\n{update}").into_bytes(),
        ))
        .backoff(haul::BackoffPolicy::fixed(Duration::from_millis(10)))
        .run()
        .await
        .unwrap();
    assert_eq!(outcome.summary.records_failed, 0);

    let second = extract().run().await.unwrap();
    assert_eq!(second.rows(), 3, "{second:#?}");
    let state: serde_json::Value =
        serde_json::from_slice(&s3.get("lake", "sf/Account/_state.json").await.unwrap()).unwrap();
    assert_eq!(state["last_run"], second.run_id.as_str());
    assert_eq!(state["rows"], 43);
    sim.shutdown().await;
}
