//! moto's S3 server (from PyPI, installed by `cargo xtask test` with the Python peers), started on
//! a free port of 127.0.0.1 for one test and killed when dropped, and the ways the tests read back
//! what landed in it: boto3 (a client independent of object_store) for objects, plain HTTP for
//! listings and open multipart uploads, moto's recorder for the requests it received.
//!
//! Needs `HAUL_PEER_PYTHON` (a python with `moto[server]`): `cargo xtask test` sets it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use haul::download::{Destination, Manifest};

use super::{check_manifest_files, elements};

/// Longest the S3 server may take to answer its first request.
const STARTUP: Duration = Duration::from_secs(60);

/// moto's S3 server on a free port of 127.0.0.1, killed when dropped.
pub struct S3Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    http: reqwest::Client,
    python: String,
    dir: PathBuf,
    recording: PathBuf,
}

impl S3Server {
    /// Starts a server whose files live in a folder named after `name`.
    pub async fn start(name: &str) -> Self {
        let python = std::env::var("HAUL_PEER_PYTHON").unwrap_or_else(|_| {
            panic!("HAUL_PEER_PYTHON is not set: the store tests need moto; run `cargo xtask test`")
        });
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("s3-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let recording = dir.join("recording.jsonl");
        let child = Command::new(&python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .current_dir(&dir)
            .env("MOTO_RECORDER_FILEPATH", &recording)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto's server starts");
        let server = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            python,
            dir,
            recording,
        };
        let started = Instant::now();
        loop {
            if server.http.get(&server.url).send().await.is_ok() {
                return server;
            }
            assert!(
                started.elapsed() < STARTUP,
                "moto's server did not answer within {STARTUP:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A destination in this server, with its credentials and endpoint given as options (the
    /// environment of a test is shared by every test of the binary).
    pub fn destination(&self, url: &str) -> Destination {
        destination_at(&self.url, url)
    }

    pub async fn create_bucket(&self, bucket: &str) {
        let answer = self
            .http
            .put(format!("{}/{bucket}", self.url))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{}", answer.status());
    }

    /// An object's bytes, `None` when it does not exist, read by boto3 (a client independent of
    /// the one that wrote it) with signed requests, as the objects are private.
    pub async fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let copy = self.dir.join(format!("get-{}", fastrand_name()));
        let mut command = tokio::process::Command::new(&self.python);
        command
            .args(["-c", READ_OBJECT, &self.url, bucket, key])
            .arg(&copy)
            .kill_on_drop(true);
        let output = tokio::time::timeout(Duration::from_secs(60), command.output())
            .await
            .expect("boto3 read the object within a minute")
            .unwrap();
        assert!(
            output.status.success(),
            "reading {key}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let bytes = std::fs::read(&copy).ok();
        let _ = std::fs::remove_file(&copy);
        bytes
    }

    /// The keys under `prefix`, sorted.
    pub async fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let listing = self
            .text(&format!("{bucket}?list-type=2&prefix={prefix}"))
            .await;
        let mut keys = elements(&listing, "Key");
        keys.sort();
        keys
    }

    /// Multipart uploads started and neither completed nor aborted.
    pub async fn open_uploads(&self, bucket: &str) -> Vec<String> {
        elements(&self.text(&format!("{bucket}?uploads")).await, "UploadId")
    }

    async fn text(&self, path: &str) -> String {
        let answer = self
            .http
            .get(format!("{}/{path}", self.url))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{path}: {}", answer.status());
        answer.text().await.unwrap()
    }

    /// Starts recording the requests the server receives, forgetting earlier ones.
    pub async fn record(&self) {
        for action in ["reset-recording", "start-recording"] {
            let answer = self
                .http
                .post(format!("{}/moto-api/recorder/{action}", self.url))
                .send()
                .await
                .unwrap();
            assert!(answer.status().is_success(), "{action}");
        }
    }

    /// The method and path (query string dropped) of every request recorded.
    pub fn recorded(&self) -> Vec<(String, String)> {
        let text = std::fs::read_to_string(&self.recording).unwrap_or_default();
        text.lines()
            .map(|line| {
                let request: serde_json::Value = serde_json::from_str(line).unwrap();
                let url = request["url"].as_str().unwrap_or_default();
                let path = url.split('?').next().unwrap_or_default();
                let path = path.strip_prefix(&self.url).unwrap_or(path);
                (
                    request["method"].as_str().unwrap().to_owned(),
                    path.to_owned(),
                )
            })
            .collect()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies one object to a file with boto3; leaves no file when the object does not exist.
const READ_OBJECT: &str = r#"
import sys, boto3, botocore
endpoint, bucket, key, path = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="reader", aws_secret_access_key="reader-secret")
try:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
except botocore.exceptions.ClientError as error:
    if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
        sys.exit(0)
    raise
with open(path, "wb") as out:
    out.write(body)
"#;

/// A destination in the S3 store at `endpoint` (moto's, or a proxy in front of it), with the
/// credentials these tests use.
pub fn destination_at(endpoint: &str, url: &str) -> Destination {
    Destination::parse(url)
        .unwrap()
        .option("aws_endpoint", endpoint)
        .option("aws_access_key_id", "haul-test")
        .option("aws_secret_access_key", "haul-test-secret")
        .option("aws_region", "us-east-1")
}

/// A name no other call of this process has used.
fn fastrand_name() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Checks a manifest read from the store against the objects it lists.
pub async fn check_manifest(s3: &S3Server, bucket: &str, folder: &str, manifest: &Manifest) {
    let mut read = Vec::new();
    for file in &manifest.files {
        let name = format!("{folder}{}", file.path);
        let bytes = s3.get(bucket, &name).await.expect("a listed file exists");
        read.push((file.path.clone(), bytes));
    }
    check_manifest_files(manifest, &read);
}
