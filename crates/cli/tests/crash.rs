//! `haul sf query --resume` killed with SIGKILL at 20 points of a download, then resumed: every final
//! file is byte-identical to the expected output, with no row missing or repeated, and nothing is
//! ever left under the final name before the download is complete.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use assert_cmd::cargo::cargo_bin;
use haul::salesforce::query::Checkpoint;
use haul_sim::{NetworkProfile, Sim};

const SOQL: &str = "SELECT Id, Name, Industry FROM Account";

fn command(sim: &Sim, output: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(cargo_bin("haul"));
    command
        .env_remove("RUST_LOG")
        .env("SF_INSTANCE_URL", sim.instance_url())
        .env("SF_ACCESS_TOKEN", sim.access_token())
        .args([
            "--quiet",
            "--json",
            "sf",
            "query",
            SOQL,
            // Uncompressed, so that the bandwidth cap (not gzip) sets the pace the kills rely on.
            "--no-gzip",
            "--max-records",
            "2000",
            "--concurrency",
            "2",
            "--resume",
            // A kill that lands after the download completed leaves a complete output.
            "--overwrite",
            "-o",
        ])
        .arg(output);
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_killed_at_twenty_points_resume_to_identical_files() {
    // 1 MB/s per connection stretches the download over about a second, so the kills land all over it.
    let sim = Sim::builder()
        .rows("Account", 60_000)
        .profile(NetworkProfile::wan(Duration::ZERO, 1_000_000))
        .start()
        .await
        .unwrap();
    let expected = sim
        .expected_query_csv(SOQL, Default::default(), Default::default())
        .unwrap();
    let dir = std::env::temp_dir().join(format!("haul-crash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut resumed = 0;
    for point in 0..20u64 {
        let output = dir.join(format!("accounts-{point}.csv"));
        let mut child = command(&sim, &output)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100 + point * 70)).await;
        child.kill().unwrap(); // SIGKILL: no chance to clean up.
        child.wait().unwrap();
        if output.exists() {
            assert!(
                std::fs::read(&output).unwrap() == expected,
                "point {point}: a partial file under the final name"
            );
        }

        let finished = command(&sim, &output).output().unwrap();
        assert!(
            finished.status.success(),
            "point {point}: {}",
            String::from_utf8_lossy(&finished.stderr)
        );
        let summary: serde_json::Value = serde_json::from_slice(&finished.stdout).unwrap();
        if summary["resumed_pages"].as_u64().unwrap_or(0) > 0 {
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
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.contains(&format!("accounts-{point}.csv.")))
            .filter(|name| *name != format!("accounts-{point}.csv.manifest.json"))
            .collect();
        assert!(leftovers.is_empty(), "point {point}: left {leftovers:?}");
    }
    // Guard against kills that all landed before or after the download: most must have resumed.
    assert!(
        resumed >= 10,
        "only {resumed} of 20 runs resumed a partial download"
    );
    let _ = std::fs::remove_dir_all(&dir);
    sim.shutdown().await;
}
