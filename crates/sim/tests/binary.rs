//! The `haul-sim` binary: one JSON line when ready, serves, stops on SIGTERM.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the child if the test ends early.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn prints_one_json_line_serves_and_stops_on_sigterm() {
    let child = Command::new(env!("CARGO_BIN_EXE_haul-sim"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--rows",
            "Account=7",
            "--job-seconds",
            "0",
            "--seed",
            "3",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let mut guard = Guard(child);
    let stdout = guard.0.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    let line = tokio::time::timeout(Duration::from_secs(30), line)
        .await
        .expect("ready in time")
        .expect("join")
        .expect("read");
    let ready: serde_json::Value = serde_json::from_str(&line).expect("one JSON line");
    assert_ne!(
        ready["databricks_storage_url"], ready["databricks_host"],
        "external links live on another origin"
    );
    for key in [
        "instance_url",
        "looker_base_url",
        "access_token",
        "sf_client_id",
        "sf_client_secret",
        "looker_client_id",
        "looker_client_secret",
        "databricks_host",
        "databricks_token",
        "databricks_client_id",
        "databricks_client_secret",
        "databricks_warehouse_id",
        "databricks_storage_url",
    ] {
        assert!(ready[key].as_str().is_some_and(|v| !v.is_empty()), "{key}");
    }
    let url = format!(
        "{}/services/data/v62.0/jobs/query",
        ready["instance_url"].as_str().expect("url")
    );
    let client = reqwest::Client::new();
    let body = serde_json::json!({"operation": "query", "query": "SELECT Id FROM Account"});
    let r = client
        .post(&url)
        .bearer_auth(ready["access_token"].as_str().expect("t"))
        .json(&body)
        .send()
        .await
        .expect("ok");
    assert_eq!(r.status().as_u16(), 200);

    let pid = guard.0.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(exit) = guard.0.try_wait().expect("wait") {
            assert!(exit.success(), "clean exit on SIGTERM: {exit}");
            break;
        }
        assert!(Instant::now() < deadline, "did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
