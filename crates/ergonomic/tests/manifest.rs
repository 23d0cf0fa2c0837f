//! The manifest of local downloads: written last beside the data, naming the source, the query, the
//! columns and every file with its rows, bytes and SHA-256; a complete output is never replaced
//! unless the download is told to overwrite it.

mod common;

use common::{TempDir, client, sim};
use haul::download::{Destination, Format, Manifest};
use haul::salesforce::query::CompletedQueryJob;
use sha2::{Digest, Sha256};

const SOQL: &str = "SELECT Id, LastName, Email FROM Contact";

async fn finished_job(sf: &haul::Salesforce) -> CompletedQueryJob {
    sf.bulk_query(SOQL)
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap()
}

fn manifest_at(path: &std::path::Path) -> Manifest {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Rows of a CSV file, its header row not counted.
fn csv_rows(bytes: &[u8]) -> u64 {
    csv::Reader::from_reader(bytes).records().count() as u64
}

#[tokio::test]
async fn a_folder_manifest_lists_every_part_with_rows_bytes_and_digest() {
    let sim = sim().rows("Contact", 2_500).start().await.unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("manifest-folder");
    let done = finished_job(&sf).await;
    let report = done
        .download()
        .max_records(1_000)
        .query(SOQL)
        .to(Destination::dir(dir.join("pages")))
        .await
        .unwrap();
    assert_eq!((report.records, report.pages), (2_500, 3));
    let manifest = manifest_at(&dir.join("pages").join("_manifest.json"));
    assert_eq!(manifest.source.kind, "salesforce-bulk-query");
    assert_eq!(manifest.source.job, done.job().id().as_str());
    assert_eq!(
        manifest.source.api_version.as_deref(),
        Some(done.job().api_version().to_string().as_str())
    );
    assert_eq!(manifest.source.query.as_deref(), Some(SOQL));
    assert_eq!(manifest.format, Format::Csv);
    let columns: Vec<_> = manifest.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(columns, ["Id", "LastName", "Email"]);
    assert!(manifest.columns.iter().all(|c| c.ty.is_none()));
    let names: Vec<_> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        names,
        ["part-00000.csv", "part-00001.csv", "part-00002.csv"]
    );
    for file in &manifest.files {
        let bytes = std::fs::read(dir.join("pages").join(&file.path)).unwrap();
        assert_eq!(file.bytes, bytes.len() as u64, "{}", file.path);
        assert_eq!(file.sha256, sha256(&bytes), "{}", file.path);
        assert_eq!(file.rows, csv_rows(&bytes), "{}", file.path);
    }
    assert_eq!(manifest.rows, 2_500);
    assert_eq!(
        manifest.bytes,
        manifest.files.iter().map(|f| f.bytes).sum::<u64>()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_single_file_manifest_sits_beside_it_and_matches_it() {
    let sim = sim().rows("Contact", 2_500).start().await.unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("manifest-file");
    let output = dir.join("contacts.csv");
    let report = sf.bulk_query(SOQL).download_to(&output).await.unwrap();
    let bytes = std::fs::read(&output).unwrap();
    let manifest = manifest_at(&dir.join("contacts.csv.manifest.json"));
    assert_eq!(manifest.source.query.as_deref(), Some(SOQL));
    assert_eq!(manifest.files.len(), 1);
    let file = &manifest.files[0];
    assert_eq!(file.path, "contacts.csv");
    assert_eq!(file.sha256, sha256(&bytes));
    assert_eq!((file.bytes, report.bytes), (bytes.len() as u64, file.bytes));
    assert_eq!((file.rows, manifest.rows), (2_500, 2_500));
    assert_eq!(csv_rows(&bytes), 2_500);
    assert_eq!(
        Destination::file(&output).manifest().await.unwrap(),
        Some(manifest)
    );
    sim.shutdown().await;
}

/// The single file's digest is taken while it is written: over the prefix kept from an interrupted
/// run, and over partitions appended from their part files (the test above covers partitions held
/// in memory).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_file_manifest_digests_the_kept_prefix_and_the_appended_part_files() {
    let sim = sim().rows("Contact", 6_000).start().await.unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("manifest-resume");
    let output = dir.join("contacts.csv");
    let done = finished_job(&sf).await;
    // The fourth page is refused, so the first run keeps three pages.
    common::refuse_next_page(&sim, &format!("locator={}", sim.result_locator(1_500)));
    let download = || done.download().concurrency(1).max_records(500).resume(true);
    let first = download().to_file(&output).await.unwrap_err();
    assert_eq!(first.status(), Some(400), "{first}");
    // No memory budget: every partition goes through its part file.
    let report = download().memory(0).to_file(&output).await.unwrap();
    assert_eq!((report.resumed_pages, report.records), (3, 6_000));
    let bytes = std::fs::read(&output).unwrap();
    let manifest = manifest_at(&dir.join("contacts.csv.manifest.json"));
    assert_eq!(manifest.files[0].sha256, sha256(&bytes));
    assert_eq!(manifest.files[0].bytes, bytes.len() as u64);
    assert_eq!(csv_rows(&bytes), 6_000);
    sim.shutdown().await;
}

#[tokio::test]
async fn json_lines_name_the_columns_of_the_csv_they_came_from() {
    let sim = sim().rows("Contact", 300).start().await.unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("manifest-jsonl");
    let done = finished_job(&sf).await;
    done.download()
        .format(Format::Jsonl)
        .to(Destination::file(dir.join("contacts.jsonl")))
        .await
        .unwrap();
    let manifest = manifest_at(&dir.join("contacts.jsonl.manifest.json"));
    assert_eq!(manifest.format, Format::Jsonl);
    let columns: Vec<_> = manifest.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(columns, ["Id", "LastName", "Email"]);
    let bytes = std::fs::read(dir.join("contacts.jsonl")).unwrap();
    assert_eq!(manifest.files[0].sha256, sha256(&bytes));
    assert_eq!(manifest.rows, 300);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_complete_file_is_not_overwritten_unless_asked() {
    let sim = sim().rows("Contact", 1_200).start().await.unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("manifest-overwrite-file");
    let output = dir.join("contacts.csv");
    let first = finished_job(&sf).await;
    first.download().to_file(&output).await.unwrap();
    let before = std::fs::read(&output).unwrap();
    let manifest_before = std::fs::read(dir.join("contacts.csv.manifest.json")).unwrap();

    let second = finished_job(&sf).await;
    let error = second.download().to_file(&output).await.unwrap_err();
    assert!(error.is_invalid_input(), "{error}");
    assert!(error.to_string().contains("complete download"), "{error}");
    assert!(
        error.to_string().contains(first.job().id().as_str()),
        "{error}"
    );
    assert!(
        std::fs::read(&output).unwrap() == before,
        "the output was touched"
    );
    assert_eq!(
        std::fs::read(dir.join("contacts.csv.manifest.json")).unwrap(),
        manifest_before
    );
    assert_eq!(dir.names(), ["contacts.csv", "contacts.csv.manifest.json"]);

    second
        .download()
        .overwrite(true)
        .to_file(&output)
        .await
        .unwrap();
    let manifest = manifest_at(&dir.join("contacts.csv.manifest.json"));
    assert_eq!(manifest.source.job, second.job().id().as_str());
    assert_eq!(
        manifest.files[0].sha256,
        sha256(&std::fs::read(&output).unwrap())
    );

    // A manifest whose file is gone vouches for nothing: the download goes ahead.
    std::fs::remove_file(&output).unwrap();
    first.download().to_file(&output).await.unwrap();
    assert!(std::fs::read(&output).unwrap() == before);
    sim.shutdown().await;
}

#[tokio::test]
async fn overwriting_a_folder_removes_the_parts_of_the_old_output() {
    let sim = sim().rows("Contact", 2_500).start().await.unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("manifest-overwrite-folder");
    let done = finished_job(&sf).await;
    done.download()
        .max_records(500)
        .to_dir(dir.join("pages"))
        .await
        .unwrap();
    let pages = TempDir(dir.join("pages"));
    assert_eq!(pages.names().len(), 6, "{:?}", pages.names());

    let error = done
        .download()
        .max_records(1_000)
        .to_dir(dir.join("pages"))
        .await
        .unwrap_err();
    assert!(error.is_invalid_input(), "{error}");
    assert_eq!(pages.names().len(), 6, "{:?}", pages.names());

    let report = done
        .download()
        .max_records(1_000)
        .overwrite(true)
        .to_dir(dir.join("pages"))
        .await
        .unwrap();
    assert_eq!(report.pages, 3);
    assert_eq!(
        pages.names(),
        [
            "_manifest.json",
            "part-00000.csv",
            "part-00001.csv",
            "part-00002.csv"
        ]
    );
    let manifest = manifest_at(&dir.join("pages").join("_manifest.json"));
    assert_eq!((manifest.files.len(), manifest.rows), (3, 2_500));
    std::mem::forget(pages); // `dir` removes it.
    sim.shutdown().await;
}

#[tokio::test]
async fn a_failed_download_writes_no_manifest() {
    let sim = sim().rows("Contact", 1_000).start().await.unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("manifest-failed");
    let done = finished_job(&sf).await;
    // The page lies about its rows twice in a row: an integrity error after one page is in.
    sim.lie_about_record_count(-1);
    sim.lie_about_record_count(-1);
    let error = done
        .download()
        .concurrency(1)
        .max_records(400)
        .to_dir(dir.join("pages"))
        .await
        .unwrap_err();
    assert!(error.is_integrity(), "{error}");
    assert!(!dir.join("pages").join("_manifest.json").exists());
    assert_eq!(
        Destination::dir(dir.join("pages"))
            .manifest()
            .await
            .unwrap(),
        None
    );
    sim.shutdown().await;
}
