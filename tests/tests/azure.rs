//! Downloads to Azure Blob Storage: Microsoft's emulator Azurite (from npm, installed by
//! `cargo xtask test` with the Node peers) started in memory on 127.0.0.1 for each test, haul-sim
//! as the org. What lands in the container is read back with plain REST calls signed here (Shared
//! Key), a client independent of object_store's, and compared byte for byte with the same job
//! downloaded to local disk; the manifest's digests are checked against the blobs; a complete
//! output is not overwritten unless asked.
//!
//! haul is configured as a user configures any Blob endpoint other than Azure's public cloud:
//! `azure_endpoint` (`AZURE_STORAGE_ENDPOINT`) `http://127.0.0.1:PORT/devstoreaccount1`, and
//! Azurite's well-known account name and key. object_store's emulator switch
//! (`AZURE_STORAGE_USE_EMULATOR`) sends the same requests (path-style, Shared Key), but takes the
//! emulator's address only from the process environment (`AZURITE_BLOB_STORAGE_URL`), which these
//! tests do not change: the environment is shared by every test of the binary.
//!
//! Needs `HAUL_PEER_NODE_PATH` (a node_modules with `azurite`): `cargo xtask test` sets it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use haul::download::{Destination, Manifest};
use haul_sim::Sim;
use sha2::{Digest, Sha256};

/// Longest Azurite may take to answer its first request.
const STARTUP: Duration = Duration::from_secs(60);
/// Longest one REST call of the test may take.
const CALL: Duration = Duration::from_secs(60);
/// Azurite's well-known development account and key (public, the same in every Azurite).
const ACCOUNT: &str = "devstoreaccount1";
const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// The Blob API version of the test's own requests.
const API_VERSION: &str = "2021-08-06";

/// Azurite's Blob service on a free port of 127.0.0.1, in memory, killed when dropped.
struct Azurite {
    child: Child,
    /// `http://127.0.0.1:PORT/devstoreaccount1`: the account's endpoint, path-style.
    endpoint: String,
    http: reqwest::Client,
}

impl Azurite {
    async fn start(name: &str) -> Self {
        let modules = std::env::var("HAUL_PEER_NODE_PATH").unwrap_or_else(|_| {
            panic!(
                "HAUL_PEER_NODE_PATH is not set: the Azure tests need Azurite; run `cargo xtask test`"
            )
        });
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("azurite-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new(Path::new(&modules).join(".bin/azurite-blob"))
            .args(["--blobHost", "127.0.0.1", "--blobPort"])
            .arg(port.to_string())
            // Nothing on disk, no telemetry (it would leave 127.0.0.1), no access log; the API
            // version object_store sends may be newer than this Azurite knows.
            .args([
                "--inMemoryPersistence",
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--silent",
            ])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Azurite starts");
        let server = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}/{ACCOUNT}"),
            http: reqwest::Client::new(),
        };
        let started = Instant::now();
        loop {
            // Any answer (a refusal of the unsigned request included) means it is listening.
            let probe = server.http.get(&server.endpoint).send();
            if tokio::time::timeout(Duration::from_secs(5), probe)
                .await
                .is_ok_and(|answer| answer.is_ok())
            {
                return server;
            }
            assert!(
                started.elapsed() < STARTUP,
                "Azurite did not answer within {STARTUP:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A destination in this Azurite, configured by options only, as a user would for any
    /// endpoint of their own; no `azure_allow_http`: haul allows an `http://` endpoint.
    fn destination(&self, url: &str) -> Destination {
        Destination::parse(url)
            .unwrap()
            .option("azure_endpoint", &self.endpoint)
            .option("azure_storage_account_name", ACCOUNT)
            .option("azure_storage_account_key", ACCOUNT_KEY)
    }

    /// A signed request to `path` (below the account) with `query` (name, value).
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
    ) -> reqwest::Response {
        let url =
            reqwest::Url::parse_with_params(&format!("{}/{path}", self.endpoint), query).unwrap();
        let date = chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let signature = shared_key(method.as_str(), &url, &date);
        let request = self
            .http
            .request(method, url)
            .header("x-ms-date", &date)
            .header("x-ms-version", API_VERSION)
            .header("authorization", format!("SharedKey {ACCOUNT}:{signature}"))
            .header("content-length", "0")
            .send();
        tokio::time::timeout(CALL, request)
            .await
            .expect("Azurite answered within a minute")
            .unwrap()
    }

    async fn create_container(&self, container: &str) {
        let answer = self
            .call(reqwest::Method::PUT, container, &[("restype", "container")])
            .await;
        assert_eq!(answer.status(), 201, "{}", answer.text().await.unwrap());
    }

    /// A blob's bytes, `None` when it does not exist.
    async fn get(&self, container: &str, name: &str) -> Option<Vec<u8>> {
        let answer = self
            .call(reqwest::Method::GET, &format!("{container}/{name}"), &[])
            .await;
        if answer.status() == 404 {
            return None;
        }
        assert!(answer.status().is_success(), "{name}: {}", answer.status());
        Some(answer.bytes().await.unwrap().to_vec())
    }

    /// The names of the blobs under `prefix`, sorted (one page of listing: fewer than 5,000).
    async fn names(&self, container: &str, prefix: &str) -> Vec<String> {
        let answer = self
            .call(
                reqwest::Method::GET,
                container,
                &[
                    ("restype", "container"),
                    ("comp", "list"),
                    ("prefix", prefix),
                ],
            )
            .await;
        assert!(answer.status().is_success(), "{}", answer.status());
        let mut names = elements(&answer.text().await.unwrap(), "Name");
        names.sort();
        names
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Shared Key signature of a request without body or conditional headers (the Blob
/// service's string to sign, version 2015-02-21 and later), with the account's key.
fn shared_key(method: &str, url: &reqwest::Url, date: &str) -> String {
    let mut query: Vec<(String, String)> = url
        .query_pairs()
        .map(|(name, value)| (name.to_lowercase(), value.into_owned()))
        .collect();
    query.sort();
    let mut resource = format!("/{ACCOUNT}{}", url.path());
    for (name, value) in query {
        resource.push_str(&format!("\n{name}:{value}"));
    }
    // The verb, then eleven standard headers, all empty here (Content-Length 0 is signed empty).
    let to_sign = format!(
        "{method}\n{}x-ms-date:{date}\nx-ms-version:{API_VERSION}\n{resource}",
        "\n".repeat(11)
    );
    let key = STANDARD.decode(ACCOUNT_KEY).unwrap();
    STANDARD.encode(hmac_sha256(&key, to_sign.as_bytes()))
}

/// HMAC-SHA256 (RFC 2104) of `message` with `key`.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    const BLOCK: usize = 64;
    let mut padded = [0u8; BLOCK];
    if key.len() > BLOCK {
        padded[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        padded[..key.len()].copy_from_slice(key);
    }
    let inner_key: Vec<u8> = padded.iter().map(|b| b ^ 0x36).collect();
    let outer_key: Vec<u8> = padded.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&inner_key)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(&outer_key)
        .chain_update(inner)
        .finalize()
        .to_vec()
}

/// Checks a manifest read from the container against the blobs it lists.
async fn check_manifest(azurite: &Azurite, container: &str, folder: &str, manifest: &Manifest) {
    let mut read = Vec::new();
    for file in &manifest.files {
        let name = format!("{folder}{}", file.path);
        let bytes = azurite
            .get(container, &name)
            .await
            .expect("a listed file exists");
        read.push((file.path.clone(), bytes));
    }
    check_manifest_files(manifest, &read);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_and_a_single_blob_in_azurite_equal_local_downloads_byte_for_byte() {
    // 300,000 rows make a 13 MB file: the single blob takes more than one block (haul's 10 MiB).
    let sim = Sim::builder()
        .rows("Account", 300_000)
        .start()
        .await
        .unwrap();
    let azurite = Azurite::start("equal").await;
    azurite.create_container("lake").await;
    let sf = client(&sim, true);
    let done = finished_job(&sf).await;
    let local = temp_dir("azure-equal");

    let file = pages(&done).to_file(local.join("out.csv")).await.unwrap();
    pages(&done).to_dir(local.join("pages")).await.unwrap();
    let object = pages(&done)
        .to(azurite.destination("az://lake/out.csv"))
        .await
        .unwrap();
    // Spilled to part files (no memory budget): the folder's parts go up as multipart uploads.
    let folder = pages(&done)
        .memory(0)
        .to(azurite.destination("az://lake/prefix/"))
        .await
        .unwrap();
    assert_eq!(object.path, PathBuf::from("az://lake/out.csv"));
    assert_eq!((object.records, folder.records), (300_000, 300_000));
    assert_eq!(folder.pages, 6);

    let expected = std::fs::read(local.join("out.csv")).unwrap();
    assert!(expected.len() > 10 << 20, "{} bytes", expected.len());
    assert_eq!(object.bytes, file.bytes);
    let uploaded = azurite.get("lake", "out.csv").await.unwrap();
    assert!(uploaded == expected, "out.csv differs from the local file");
    let manifest = manifest_of(&azurite.get("lake", "out.csv.manifest.json").await.unwrap());
    assert_eq!(manifest.files.len(), 1);
    assert_eq!(manifest.files[0].path, "out.csv");
    assert_eq!(manifest.files[0].sha256, sha256(&expected));
    assert_eq!(manifest.source.job, done.job().id().as_str());
    assert_eq!(manifest.source.query.as_deref(), Some(SOQL));
    check_manifest(&azurite, "lake", "", &manifest).await;

    let mut names = azurite.names("lake", "prefix/").await;
    assert_eq!(names.remove(0), "prefix/_manifest.json");
    let mut local_parts: Vec<_> = std::fs::read_dir(local.join("pages"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("part-"))
        .collect();
    local_parts.sort();
    assert_eq!(
        names,
        local_parts
            .iter()
            .map(|name| format!("prefix/{name}"))
            .collect::<Vec<_>>(),
        "one blob a page, no checkpoint left"
    );
    for name in &local_parts {
        let uploaded = azurite
            .get("lake", &format!("prefix/{name}"))
            .await
            .unwrap();
        assert!(
            uploaded == std::fs::read(local.join("pages").join(name)).unwrap(),
            "{name} differs from the local part"
        );
    }
    let manifest = manifest_of(&azurite.get("lake", "prefix/_manifest.json").await.unwrap());
    let local_manifest =
        manifest_of(&std::fs::read(local.join("pages").join("_manifest.json")).unwrap());
    assert_eq!(manifest.files, local_manifest.files);
    check_manifest(&azurite, "lake", "prefix/", &manifest).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complete_output_in_azurite_is_overwritten_only_when_asked() {
    let sim = Sim::builder()
        .rows("Account", 30_000)
        .start()
        .await
        .unwrap();
    let azurite = Azurite::start("overwrite").await;
    azurite.create_container("lake").await;
    let sf = client(&sim, true);
    let done = finished_job(&sf).await;
    let to = |max: u64| done.download().max_records(max);

    to(5_000)
        .to(azurite.destination("az://lake/prefix/"))
        .await
        .unwrap();
    to(5_000)
        .to(azurite.destination("az://lake/out.csv"))
        .await
        .unwrap();
    let before = azurite.names("lake", "").await;
    assert_eq!(before.len(), 6 + 1 + 2, "{before:?}");
    let manifest = azurite.get("lake", "prefix/_manifest.json").await.unwrap();

    for url in ["az://lake/prefix/", "az://lake/out.csv"] {
        let error = to(10_000).to(azurite.destination(url)).await.unwrap_err();
        assert!(error.is_invalid_input(), "{url}: {error}");
        assert!(error.to_string().contains("complete download"), "{error}");
        assert!(error.to_string().contains(url), "{error}");
    }
    assert_eq!(azurite.names("lake", "").await, before);
    assert_eq!(
        azurite.get("lake", "prefix/_manifest.json").await.unwrap(),
        manifest
    );

    let report = to(10_000)
        .overwrite(true)
        .to(azurite.destination("az://lake/prefix/"))
        .await
        .unwrap();
    assert_eq!(report.pages, 3);
    assert_eq!(
        azurite.names("lake", "prefix/").await,
        [
            "prefix/_manifest.json",
            "prefix/part-00000.csv",
            "prefix/part-00001.csv",
            "prefix/part-00002.csv"
        ],
        "the old output's extra parts are gone"
    );
    let manifest = manifest_of(&azurite.get("lake", "prefix/_manifest.json").await.unwrap());
    check_manifest(&azurite, "lake", "prefix/", &manifest).await;
    to(10_000)
        .overwrite(true)
        .to(azurite.destination("az://lake/out.csv"))
        .await
        .unwrap();
    let manifest = manifest_of(&azurite.get("lake", "out.csv.manifest.json").await.unwrap());
    assert_eq!(manifest.rows, 30_000);
    check_manifest(&azurite, "lake", "", &manifest).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_container_gives_a_clear_error_and_nothing_is_written() {
    let sim = Sim::builder()
        .rows("Account", 12_000)
        .start()
        .await
        .unwrap();
    let azurite = Azurite::start("missing").await;
    azurite.create_container("lake").await;
    let sf = client(&sim, true);
    let done = finished_job(&sf).await;

    for url in [
        "az://no-such-container/prefix/",
        "az://no-such-container/a.csv",
    ] {
        let error = done
            .download()
            .to(azurite.destination(url))
            .await
            .unwrap_err();
        assert!(error.is_store(), "{url}: {error}");
        assert!(error.is_not_found(), "{url}: {error}");
        assert!(
            error.to_string().contains("az://no-such-container/"),
            "{error}"
        );
        assert!(!format!("{error:?}").contains(ACCOUNT_KEY), "{error:?}");
    }
    assert_eq!(azurite.names("lake", "").await, Vec::<String>::new());
    sim.shutdown().await;
}
