//! An S3 server for the store comparison: moto's (`moto_server`, from the peers' venv) on
//! 127.0.0.1, one bucket, stopped when dropped.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use super::super::Bench;
use super::super::measure::Job;

const BUCKET: &str = "haul-bench";

/// Creates the bucket, or deletes every object in it: `python script ENDPOINT BUCKET create|empty`.
const BUCKET_SCRIPT: &str = r#"
import sys, boto3
endpoint, bucket, action = sys.argv[1:4]
s3 = boto3.resource("s3", endpoint_url=endpoint, region_name="us-east-1",
                    aws_access_key_id="bench", aws_secret_access_key="bench")
if action == "create":
    s3.create_bucket(Bucket=bucket)
else:
    s3.Bucket(bucket).objects.all().delete()
"#;

/// Uploads every file of a folder: `python script FOLDER BUCKET PREFIX` (endpoint from the
/// environment, as the AWS tools read it).
const UPLOAD_SCRIPT: &str = r#"
import os, sys, pathlib, boto3
folder, bucket, prefix = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
for path in sorted(pathlib.Path(folder).iterdir()):
    s3.upload_file(str(path), bucket, f"{prefix}/{path.name}")
"#;

/// A running moto server.
#[derive(Debug)]
pub(super) struct S3 {
    child: Child,
    endpoint: String,
    python: PathBuf,
    bucket_script: PathBuf,
}

impl S3 {
    /// Starts `moto_server` on a free port, waits (at most 60 s) until it answers, makes the bucket.
    pub(super) fn start(bench: &Bench) -> Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let moto = bench
            .python
            .parent()
            .context("the venv's bin folder")?
            .join("moto_server");
        let log = std::fs::File::create(bench.logs.join("parquet-moto.log"))?;
        let child = Command::new(&moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", moto.display()))?;
        let s3 = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            python: bench.python.clone(),
            bucket_script: bench.script("s3_bucket.py", BUCKET_SCRIPT)?,
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(60) {
                bail!("moto_server did not listen on port {port} within 60 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        s3.bucket_action("create")?;
        Ok(s3)
    }

    pub(super) fn bucket(&self) -> &'static str {
        BUCKET
    }

    /// `s3://BUCKET/path`.
    pub(super) fn url(&self, path: &str) -> String {
        format!("s3://{BUCKET}/{path}")
    }

    /// The job with the AWS settings that point every S3 client at this server.
    pub(super) fn env(&self, job: Job) -> Job {
        job.env("AWS_ENDPOINT_URL", self.endpoint.clone())
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "bench")
            .env("AWS_SECRET_ACCESS_KEY", "bench")
    }

    pub(super) fn upload_script(&self, bench: &Bench) -> Result<PathBuf> {
        bench.script("s3_upload.py", UPLOAD_SCRIPT)
    }

    /// Deletes every object, so that runs do not pile up in moto's memory.
    pub(super) fn empty_bucket(&self) -> Result<()> {
        self.bucket_action("empty")
    }

    fn bucket_action(&self, action: &str) -> Result<()> {
        let status = Command::new(&self.python)
            .arg(&self.bucket_script)
            .args([self.endpoint.as_str(), BUCKET, action])
            .status()?;
        if !status.success() {
            bail!("the S3 bucket script ({action}) failed: {status}");
        }
        Ok(())
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
