//! `haul databricks query` against haul-sim: the outputs, `--json`, and the exit codes of a
//! failed statement, a truncated result and refused credentials.

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use haul_sim::Sim;

const ORDERS: &str = "SELECT * FROM main.sales.orders";

/// `haul` with no Databricks settings inherited from the environment.
fn haul() -> Command {
    let mut command = Command::cargo_bin("haul").unwrap();
    for name in [
        "DATABRICKS_HOST",
        "DATABRICKS_TOKEN",
        "DATABRICKS_CLIENT_ID",
        "DATABRICKS_CLIENT_SECRET",
        "RUST_LOG",
    ] {
        command.env_remove(name);
    }
    command.timeout(Duration::from_secs(120));
    command
}

/// `haul` pointed at `sim`'s workspace with its personal access token.
fn haul_at(sim: &Sim) -> Command {
    let mut command = haul();
    command
        .env("DATABRICKS_HOST", sim.databricks().host())
        .env("DATABRICKS_TOKEN", sim.databricks().token());
    command
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("haul-cli-dbx-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn sim() -> Sim {
    Sim::builder()
        .databricks(|o| o.rows(1_200).chunk_rows(500))
        .start()
        .await
        .unwrap()
}

/// Runs `command` off the async runtime (the simulator serves on it meanwhile).
async fn output(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn summary(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_query_lands_as_csv_json_lines_and_parquet() {
    let sim = sim().await;
    let dir = TempDir::new("formats");
    for (file, format) in [
        ("o.csv", "csv"),
        ("o.jsonl", "jsonl"),
        ("o.parquet", "parquet"),
    ] {
        let mut command = haul_at(&sim);
        command.args(["--json", "databricks", "query", ORDERS, "--warehouse"]);
        command.arg(sim.databricks().warehouse_id());
        command
            .args(["--concurrency", "3", "-o"])
            .arg(dir.join(file));
        let out = output(command).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json = summary(&out);
        assert_eq!(json["records"], 1_200, "{json}");
        assert_eq!(json["chunks"], 3, "{json}");
        assert_eq!(json["format"], format, "{json}");
        assert_eq!(json["truncated"], false);
        let manifest = format!("{file}.manifest.json");
        assert!(dir.join(&manifest).exists());
    }
    let csv = std::fs::read_to_string(dir.join("o.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(reader.records().count(), 1_200);
    let jsonl = std::fs::read_to_string(dir.join("o.jsonl")).unwrap();
    assert_eq!(jsonl.lines().count(), 1_200);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_codes_say_what_went_wrong() {
    let sim = sim().await;
    let dir = TempDir::new("codes");
    let warehouse = sim.databricks().warehouse_id().to_owned();

    // A table that does not exist: the statement fails (4).
    let mut command = haul_at(&sim);
    command.args(["databricks", "query", "SELECT * FROM main.sales.nope"]);
    command
        .args(["--warehouse", &warehouse, "-o"])
        .arg(dir.join("a.csv"));
    let out = output(command).await;
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TABLE_OR_VIEW_NOT_FOUND"));

    // A result cut by --row-limit: integrity (6) unless allowed, then reported.
    let mut command = haul_at(&sim);
    command.args(["databricks", "query", ORDERS, "--row-limit", "7"]);
    command
        .args(["--warehouse", &warehouse, "-o"])
        .arg(dir.join("b.csv"));
    let out = output(command).await;
    assert_eq!(out.status.code(), Some(6));
    assert!(!dir.join("b.csv").exists());
    let mut command = haul_at(&sim);
    command.args(["--json", "databricks", "query", ORDERS, "--row-limit", "7"]);
    command.args(["--allow-truncated", "--warehouse", &warehouse, "-o"]);
    command.arg(dir.join("b.csv"));
    let out = output(command).await;
    assert_eq!(out.status.code(), Some(0));
    let json = summary(&out);
    assert_eq!(
        (json["records"].as_u64(), json["truncated"].as_bool()),
        (Some(7), Some(true))
    );

    // A token the workspace does not know: authentication (3), the token never printed.
    let mut command = haul();
    command
        .env("DATABRICKS_HOST", sim.databricks().host())
        .env("DATABRICKS_TOKEN", "dapi-wrong-token");
    command.args([
        "databricks",
        "query",
        ORDERS,
        "--warehouse",
        &warehouse,
        "-o",
    ]);
    command.arg(dir.join("c.csv"));
    let out = output(command).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("dapi-wrong-token"));

    // A workspace without a warehouse named: usage (2), before anything is sent.
    let mut command = haul_at(&sim);
    command
        .args(["databricks", "query", ORDERS, "-o"])
        .arg(dir.join("d.csv"));
    let out = output(command).await;
    assert_eq!(out.status.code(), Some(2));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth_credentials_from_the_environment_work_too() {
    let sim = sim().await;
    let dir = TempDir::new("oauth");
    let mut command = haul();
    command
        .env("DATABRICKS_HOST", sim.databricks().host())
        .env("DATABRICKS_CLIENT_ID", sim.databricks().client_id())
        .env("DATABRICKS_CLIENT_SECRET", sim.databricks().client_secret());
    command.args(["--json", "databricks", "query", ORDERS, "--warehouse"]);
    command
        .arg(sim.databricks().warehouse_id())
        .arg("-o")
        .arg(dir.join("o.csv"));
    let out = output(command).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(summary(&out)["records"], 1_200);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_workspace_the_built_in_simulator_answers() {
    let dir = TempDir::new("builtin");
    let mut command = haul();
    command.args([
        "--json",
        "databricks",
        "query",
        "SELECT * FROM main.sales.customers LIMIT 5",
    ]);
    command.arg("-o").arg(dir.join("c.jsonl"));
    let out = output(command).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = summary(&out);
    assert_eq!(
        (json["records"].as_u64(), json["simulator"].as_bool()),
        (Some(5), Some(true))
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("built-in simulator"));
}
