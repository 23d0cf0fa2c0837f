//! `haul sf query -o s3://...` against moto's S3 server (installed with the peers by
//! `cargo xtask test`, found through `HAUL_PEER_PYTHON`), configured the way a user does it: from
//! `AWS_*` variables, with `AWS_ENDPOINT_URL` naming the local server. Same summary and exit codes
//! as a local output. Also `haul databricks query`: its Arrow chunks land as Parquet objects.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use haul_sim::{NetworkProfile, Sim};

/// moto's S3 server on a free port of 127.0.0.1, killed when dropped.
struct S3Server {
    child: Child,
    url: String,
    python: String,
}

/// Concatenates the objects under a prefix, in key order, each CSV's header row kept once, read
/// with boto3 (a client independent of haul's).
const CONCATENATE: &str = r#"
import sys, boto3
endpoint, bucket, prefix = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="reader", aws_secret_access_key="reader-secret")
keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
              if o["Key"].rsplit("/", 1)[-1].startswith("part-"))
out = sys.stdout.buffer
for index, key in enumerate(keys):
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    out.write(body if index == 0 else body[body.index(b"\n") + 1:])
"#;

impl S3Server {
    fn start() -> Self {
        let python = std::env::var("HAUL_PEER_PYTHON").unwrap_or_else(|_| {
            panic!("HAUL_PEER_PYTHON is not set: the store tests need moto; run `cargo xtask test`")
        });
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .current_dir(env!("CARGO_TARGET_TMPDIR"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto's server starts");
        let server = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            python,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto's server did not listen within a minute"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// Sends one unsigned request over a plain socket (moto does not ask these for a signature)
    /// and returns the whole answer, which must be a 200.
    fn request(&self, method: &str, path: &str) -> String {
        use std::io::{Read, Write};
        let address = self.url.trim_start_matches("http://");
        let started = Instant::now();
        loop {
            if let Ok(mut stream) = std::net::TcpStream::connect(address) {
                stream
                    .set_read_timeout(Some(Duration::from_secs(30)))
                    .unwrap();
                write!(
                    stream,
                    "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\n\
                     Connection: close\r\n\r\n"
                )
                .unwrap();
                let mut answer = String::new();
                if stream.read_to_string(&mut answer).is_ok() && answer.starts_with("HTTP/1.") {
                    assert!(answer.contains(" 200 "), "{method} {path}: {answer}");
                    return answer;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{method} {path}: no answer within a minute"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The keys in `bucket`, in order.
    fn keys(&self, bucket: &str) -> Vec<String> {
        let listing = self.request("GET", &format!("/{bucket}?list-type=2"));
        listing
            .split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split("</Key>").next().map(str::to_owned))
            .collect()
    }
}

impl S3Server {
    /// The part objects under `prefix`, joined into one CSV (see [`CONCATENATE`]).
    fn concatenated(&self, bucket: &str, prefix: &str) -> Vec<u8> {
        let output = assert_cmd::Command::new(&self.python)
            .args(["-c", CONCATENATE, &self.url, bucket, prefix])
            .timeout(Duration::from_secs(120))
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        output.stdout
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn query(sim: &Sim, s3: &S3Server, args: &[&str]) -> Output {
    let mut command = assert_cmd::Command::from_std(haul(sim, s3, args));
    command.timeout(Duration::from_secs(120)).output().unwrap()
}

/// `haul --json sf query SOQL ARGS` against `sim`, its store `s3` configured by `AWS_*` variables.
fn haul(sim: &Sim, s3: &S3Server, args: &[&str]) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("haul"));
    for name in [
        "SF_API_VERSION",
        "RUST_LOG",
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
    ] {
        command.env_remove(name);
    }
    command
        .env("SF_INSTANCE_URL", sim.instance_url())
        .env("SF_ACCESS_TOKEN", sim.access_token())
        .env("AWS_ENDPOINT_URL", &s3.url)
        .env("AWS_ACCESS_KEY_ID", "haul-cli-test")
        .env("AWS_SECRET_ACCESS_KEY", "haul-cli-test-secret")
        .env("AWS_REGION", "us-east-1")
        .args(["--json", "sf", "query", SOQL])
        .args(args);
    command
}

const SOQL: &str = "SELECT Id, Name FROM Account";

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_uploads_to_s3_and_refuses_to_overwrite_without_the_flag() {
    let sim = Sim::builder()
        .rows("Account", 12_000)
        .start()
        .await
        .unwrap();
    let s3 = S3Server::start();
    s3.request("PUT", "/lake");

    let folder = query(
        &sim,
        &s3,
        &["--max-records", "5000", "-o", "s3://lake/accounts/"],
    );
    assert!(folder.status.success(), "{}", stderr(&folder));
    let summary: serde_json::Value = serde_json::from_slice(&folder.stdout).unwrap();
    assert_eq!(summary["records"], 12_000);
    assert_eq!(summary["pages"], 3);
    assert_eq!(summary["path"], "s3://lake/accounts/");

    let object = query(&sim, &s3, &["-o", "s3://lake/accounts.csv"]);
    assert!(object.status.success(), "{}", stderr(&object));
    assert_eq!(
        s3.keys("lake"),
        [
            "accounts.csv",
            "accounts.csv.manifest.json",
            "accounts/_manifest.json",
            "accounts/part-00000.csv",
            "accounts/part-00001.csv",
            "accounts/part-00002.csv"
        ]
    );

    for url in ["s3://lake/accounts/", "s3://lake/accounts.csv"] {
        let refused = query(&sim, &s3, &["-o", url]);
        assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
        assert!(
            stderr(&refused).contains("--overwrite"),
            "{}",
            stderr(&refused)
        );
    }
    let replaced = query(&sim, &s3, &["--overwrite", "-o", "s3://lake/accounts/"]);
    assert!(replaced.status.success(), "{}", stderr(&replaced));
    assert!(
        !s3.keys("lake")
            .contains(&"accounts/part-00002.csv".to_owned()),
        "the old output's extra part is gone: {:?}",
        s3.keys("lake")
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_store_destinations_fail_clearly_and_never_print_the_secret() {
    let sim = Sim::builder().rows("Account", 2_000).start().await.unwrap();
    let s3 = S3Server::start();
    s3.request("PUT", "/lake");
    for (args, code, says) in [
        (
            &["-o", "s3://no-such-bucket/accounts/"][..],
            2,
            "object store",
        ),
        (
            &["--resume", "-o", "s3://lake/a.csv"][..],
            2,
            "cannot be resumed",
        ),
        (
            &["--api", "rest", "-o", "s3://lake/a.csv"][..],
            2,
            "--api bulk",
        ),
        (&["-o", "ftp://lake/a.csv"][..], 2, "unknown scheme"),
    ] {
        let failed = query(&sim, &s3, args);
        let text = stderr(&failed);
        assert_eq!(failed.status.code(), Some(code), "{args:?}: {text}");
        assert!(text.contains(says), "{args:?}: {text}");
        assert!(!text.contains("haul-cli-test-secret"), "{args:?}: {text}");
    }
    assert_eq!(s3.keys("lake"), Vec::<String>::new());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_killed_midway_resumes_from_the_checkpoint_in_the_store() {
    // 1 MB/s a connection, uncompressed: the download takes a few seconds, so the kill lands in it.
    let sim = Sim::builder()
        .rows("Account", 60_000)
        .profile(NetworkProfile::wan(Duration::ZERO, 1_000_000))
        .start()
        .await
        .unwrap();
    let s3 = S3Server::start();
    s3.request("PUT", "/lake");
    let args = [
        "--no-gzip",
        "--max-records",
        "5000",
        "--concurrency",
        "2",
        "--resume",
        "-o",
        "s3://lake/accounts/",
    ];
    let mut child = haul(&sim, &s3, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !s3
        .keys("lake")
        .contains(&"accounts/_haul_checkpoint.json".to_owned())
    {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no checkpoint in the store within two minutes"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up.
    child.wait().unwrap();
    assert!(
        !s3.keys("lake")
            .contains(&"accounts/_manifest.json".to_owned()),
        "a manifest after the kill"
    );

    let resumed = query(&sim, &s3, &args);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let summary: serde_json::Value = serde_json::from_slice(&resumed.stdout).unwrap();
    assert_eq!(summary["pages"], 12);
    assert!(summary["resumed_pages"].as_u64().unwrap() > 0, "{summary}");
    let expected = sim
        .expected_query_csv(SOQL, Default::default(), Default::default())
        .unwrap();
    assert!(
        s3.concatenated("lake", "accounts/") == expected,
        "the resumed upload differs from the expected rows"
    );
    let keys = s3.keys("lake");
    assert!(
        keys.contains(&"accounts/_manifest.json".to_owned()),
        "{keys:?}"
    );
    assert!(
        !keys.contains(&"accounts/_haul_checkpoint.json".to_owned()),
        "{keys:?}"
    );
    sim.shutdown().await;
}

/// Counts the rows of the Parquet objects under a prefix with boto3 and pyarrow (readers
/// independent of haul's), and prints `<objects> <rows> <column names>`.
const PARQUET_ROWS: &str = r#"
import io, sys, boto3, pyarrow.parquet as pq
endpoint, bucket, prefix = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="reader", aws_secret_access_key="reader-secret")
keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
              if o["Key"].endswith(".parquet"))
tables = [pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=k)["Body"].read())) for k in keys]
print(len(keys), sum(t.num_rows for t in tables), ",".join(tables[0].schema.names))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_databricks_query_lands_its_arrow_chunks_as_parquet_objects() {
    let sim = Sim::builder()
        .databricks(|o| o.rows(2_500).chunk_rows(1_000))
        .job_duration(Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let s3 = S3Server::start();
    s3.request("PUT", "/lake");
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("haul"));
    for name in [
        "DATABRICKS_CLIENT_ID",
        "DATABRICKS_CLIENT_SECRET",
        "RUST_LOG",
    ] {
        command.env_remove(name);
    }
    command
        .env("DATABRICKS_HOST", sim.databricks().host())
        .env("DATABRICKS_TOKEN", sim.databricks().token())
        .env("AWS_ENDPOINT_URL", &s3.url)
        .env("AWS_ACCESS_KEY_ID", "haul-cli-test")
        .env("AWS_SECRET_ACCESS_KEY", "haul-cli-test-secret")
        .env("AWS_REGION", "us-east-1")
        .args([
            "--json",
            "databricks",
            "query",
            "SELECT * FROM main.sales.orders",
        ])
        .args(["--warehouse", sim.databricks().warehouse_id()])
        .args(["--format", "parquet", "-o", "s3://lake/orders/"]);
    let output = assert_cmd::Command::from_std(command)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["records"], 2_500, "{summary}");
    assert_eq!(
        s3.keys("lake"),
        [
            "orders/_manifest.json",
            "orders/part-00000.parquet",
            "orders/part-00001.parquet",
            "orders/part-00002.parquet"
        ]
    );
    let read = assert_cmd::Command::new(&s3.python)
        .args(["-c", PARQUET_ROWS, &s3.url, "lake", "orders/"])
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert!(read.status.success(), "{}", stderr(&read));
    let read = String::from_utf8(read.stdout).unwrap();
    let mut words = read.split_whitespace();
    assert_eq!(words.next(), Some("3"), "{read}");
    assert_eq!(words.next(), Some("2500"), "{read}");
    assert!(
        words.next().is_some_and(|names| names.contains(',')),
        "{read}"
    );
    sim.shutdown().await;
}
