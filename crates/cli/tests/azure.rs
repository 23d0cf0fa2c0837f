//! `haul sf query -o az://...` against Azurite, Microsoft's Azure Blob emulator (installed with
//! the Node peers by `cargo xtask test`, found through `HAUL_PEER_NODE_PATH`), configured the way a
//! user points Azure's tools at Azurite: `AZURE_STORAGE_USE_EMULATOR=true` and
//! `AZURITE_BLOB_STORAGE_URL`, nothing else. Same summary and exit codes as a local output.

use std::io::{Read, Write};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use haul_sim::Sim;
use sha2::{Digest, Sha256};

const SOQL: &str = "SELECT Id, Name FROM Account";
/// Azurite's well-known development account and key (public, the same in every Azurite).
const ACCOUNT: &str = "devstoreaccount1";
const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const API_VERSION: &str = "2021-08-06";

/// Azurite's Blob service on a free port of 127.0.0.1, in memory, killed when dropped.
struct Azurite {
    child: Child,
    /// `127.0.0.1:PORT`.
    address: String,
}

impl Azurite {
    fn start() -> Self {
        let modules = std::env::var("HAUL_PEER_NODE_PATH").unwrap_or_else(|_| {
            panic!("HAUL_PEER_NODE_PATH is not set: the Azure tests need Azurite; run `cargo xtask test`")
        });
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(std::path::Path::new(&modules).join(".bin/azurite-blob"))
            .args(["--blobHost", "127.0.0.1", "--blobPort"])
            .arg(port.to_string())
            // Nothing on disk, no telemetry (it would leave 127.0.0.1), no access log.
            .args([
                "--inMemoryPersistence",
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--silent",
            ])
            .current_dir(env!("CARGO_TARGET_TMPDIR"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Azurite starts");
        let server = Self {
            child,
            address: format!("127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(&server.address).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "Azurite did not listen within a minute"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// Sends one request signed with the account's key (Shared Key) over a plain socket and
    /// returns the status and the body. HTTP/1.0, so that the body comes whole, never chunked.
    fn request(&self, method: &str, path: &str, query: &[(&str, &str)]) -> (u16, Vec<u8>) {
        let date = chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let mut sorted = query.to_vec();
        sorted.sort();
        let mut resource = format!("/{ACCOUNT}/{ACCOUNT}/{path}");
        for (name, value) in &sorted {
            resource.push_str(&format!("\n{name}:{value}"));
        }
        // The verb, then eleven standard headers, all empty here (Content-Length 0 is signed empty).
        let to_sign = format!(
            "{method}\n{}x-ms-date:{date}\nx-ms-version:{API_VERSION}\n{resource}",
            "\n".repeat(11)
        );
        let key = STANDARD.decode(ACCOUNT_KEY).unwrap();
        let signature = STANDARD.encode(hmac_sha256(&key, to_sign.as_bytes()));
        let query: Vec<String> = query.iter().map(|(n, v)| format!("{n}={v}")).collect();
        let started = Instant::now();
        loop {
            if let Ok(mut stream) = std::net::TcpStream::connect(&self.address) {
                stream
                    .set_read_timeout(Some(Duration::from_secs(30)))
                    .unwrap();
                write!(
                    stream,
                    "{method} /{ACCOUNT}/{path}?{} HTTP/1.0\r\nHost: {}\r\nx-ms-date: {date}\r\n\
                     x-ms-version: {API_VERSION}\r\nAuthorization: SharedKey {ACCOUNT}:{signature}\r\n\
                     Content-Length: 0\r\n\r\n",
                    query.join("&"),
                    self.address
                )
                .unwrap();
                let mut answer = Vec::new();
                if stream.read_to_end(&mut answer).is_ok() && answer.starts_with(b"HTTP/1.") {
                    let end = answer
                        .windows(4)
                        .position(|w| w == b"\r\n\r\n")
                        .expect("a header");
                    let status = String::from_utf8_lossy(&answer[9..12]).parse().unwrap();
                    return (status, answer[end + 4..].to_vec());
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{method} {path}: no answer within a minute"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The names of the blobs in `container`, in order.
    fn names(&self, container: &str) -> Vec<String> {
        let (status, body) = self.request(
            "GET",
            container,
            &[("comp", "list"), ("restype", "container")],
        );
        assert_eq!(status, 200);
        String::from_utf8(body)
            .unwrap()
            .split("<Name>")
            .skip(1)
            .filter_map(|rest| rest.split("</Name>").next().map(str::to_owned))
            .collect()
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// HMAC-SHA256 (RFC 2104) of `message` with a key of at most one block.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut padded = [0u8; 64];
    padded[..key.len()].copy_from_slice(key);
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

/// `haul --json sf query SOQL ARGS` against `sim`, Azure configured only by Azurite's two
/// variables.
fn query(sim: &Sim, azurite: &Azurite, args: &[&str]) -> Output {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("haul"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AZURE_") {
            command.env_remove(name);
        }
    }
    command
        .env_remove("SF_API_VERSION")
        .env_remove("RUST_LOG")
        .env("SF_INSTANCE_URL", sim.instance_url())
        .env("SF_ACCESS_TOKEN", sim.access_token())
        .env("AZURE_STORAGE_USE_EMULATOR", "true")
        .env(
            "AZURITE_BLOB_STORAGE_URL",
            format!("http://{}", azurite.address),
        )
        .args(["--json", "sf", "query", SOQL])
        .args(args);
    let mut command = assert_cmd::Command::from_std(command);
    command.timeout(Duration::from_secs(120)).output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_uploads_to_azurite_from_the_emulator_variables_alone() {
    let sim = Sim::builder()
        .rows("Account", 12_000)
        .start()
        .await
        .unwrap();
    let azurite = Azurite::start();
    assert_eq!(
        azurite
            .request("PUT", "lake", &[("restype", "container")])
            .0,
        201
    );
    let local = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("azure-accounts.csv");
    let _ = std::fs::remove_file(&local);
    let _ = std::fs::remove_file(local.with_extension("csv.manifest.json"));
    let written = query(&sim, &azurite, &["-o", local.to_str().unwrap()]);
    assert!(written.status.success(), "{}", stderr(&written));

    let folder = query(
        &sim,
        &azurite,
        &["--max-records", "5000", "-o", "az://lake/accounts/"],
    );
    assert!(folder.status.success(), "{}", stderr(&folder));
    let summary: serde_json::Value = serde_json::from_slice(&folder.stdout).unwrap();
    assert_eq!(summary["records"], 12_000);
    assert_eq!(summary["pages"], 3);
    assert_eq!(summary["path"], "az://lake/accounts/");

    let object = query(&sim, &azurite, &["-o", "az://lake/accounts.csv"]);
    assert!(object.status.success(), "{}", stderr(&object));
    assert_eq!(
        azurite.names("lake"),
        [
            "accounts.csv",
            "accounts.csv.manifest.json",
            "accounts/_manifest.json",
            "accounts/part-00000.csv",
            "accounts/part-00001.csv",
            "accounts/part-00002.csv"
        ]
    );
    let (status, uploaded) = azurite.request("GET", "lake/accounts.csv", &[]);
    assert_eq!(status, 200);
    assert!(
        uploaded == std::fs::read(&local).unwrap(),
        "the blob differs from the local file"
    );

    for url in ["az://lake/accounts/", "az://lake/accounts.csv"] {
        let refused = query(&sim, &azurite, &["-o", url]);
        assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
        assert!(
            stderr(&refused).contains("--overwrite"),
            "{}",
            stderr(&refused)
        );
    }
    let replaced = query(
        &sim,
        &azurite,
        &[
            "--overwrite",
            "--max-records",
            "6000",
            "-o",
            "az://lake/accounts/",
        ],
    );
    assert!(replaced.status.success(), "{}", stderr(&replaced));
    assert!(
        !azurite
            .names("lake")
            .contains(&"accounts/part-00002.csv".to_owned()),
        "the old output's extra part is gone: {:?}",
        azurite.names("lake")
    );
    sim.shutdown().await;
}
