//! `haul databricks query --resume` killed with SIGKILL at 10 points of a download, then run again:
//! the second run reads the statement the checkpoint names (not run again), every final file is
//! byte-identical to an uninterrupted download, and nothing is ever left under the final name
//! before the download is complete.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use assert_cmd::cargo::cargo_bin;
use haul::download::Checkpoint;
use haul_sim::{NetworkProfile, Sim};

const ORDERS: &str = "SELECT * FROM main.sales.orders";
const POINTS: u64 = 10;

fn command(sim: &Sim, output: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(cargo_bin("haul"));
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
        .args(["--quiet", "--json", "databricks", "query", ORDERS])
        .args(["--warehouse", sim.databricks().warehouse_id()])
        .args(["--concurrency", "2", "--resume", "--overwrite", "-o"])
        .arg(output);
    command
}

/// Runs `command` to its end, off the async runtime (the simulator serves on it meanwhile).
async fn finish(mut command: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_killed_at_ten_points_resume_to_identical_files() {
    // 1 MB/s per connection stretches the download over about a second, so the kills land all
    // over it; 20 chunks give them many points to land between.
    let sim = Sim::builder()
        .databricks(|o| o.rows(20_000).chunk_rows(1_000))
        .job_duration(Duration::from_millis(50))
        .profile(NetworkProfile::wan(Duration::ZERO, 1_000_000))
        .start()
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("haul-dbx-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let reference = dir.join("reference.csv");
    let done = finish(command(&sim, &reference)).await;
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let expected = std::fs::read(&reference).unwrap();
    assert_eq!(
        csv::Reader::from_reader(&expected[..]).records().count(),
        20_000
    );

    let mut resumed = 0;
    for point in 0..POINTS {
        let output = dir.join(format!("orders-{point}.csv"));
        let mut child = command(&sim, &output)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(150 + point * 100)).await;
        child.kill().unwrap(); // SIGKILL: no chance to clean up.
        tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        if output.exists() {
            assert!(
                std::fs::read(&output).unwrap() == expected,
                "point {point}: a partial file under the final name"
            );
        }

        let finished = finish(command(&sim, &output)).await;
        assert!(
            finished.status.success(),
            "point {point}: {}",
            String::from_utf8_lossy(&finished.stderr)
        );
        let summary: serde_json::Value = serde_json::from_slice(&finished.stdout).unwrap();
        if summary["resumed_chunks"].as_u64().unwrap_or(0) > 0 {
            resumed += 1;
        }
        assert!(
            std::fs::read(&output).unwrap() == expected,
            "point {point}: the resumed file differs"
        );
        assert!(
            Checkpoint::load(&output).unwrap().is_none(),
            "point {point}: a checkpoint was left"
        );
    }
    // Guard against kills that all landed before or after the download: most must have resumed.
    assert!(
        resumed >= POINTS / 2,
        "only {resumed} of {POINTS} runs resumed a partial download"
    );
    let _ = std::fs::remove_dir_all(&dir);
    sim.shutdown().await;
}
