//! `haul sf extract` against haul-sim: `--all` then an ingest update then `--all` again lands
//! exactly the updated rows; `--config`; a failing object's exit code; a run stopped on its budget
//! exits 8; bad arguments.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use haul::types::{ColumnDelimiter, LineEnding};
use haul_sim::Sim;
use serde_json::Value;

/// `haul` pointed at `sim`, with no other Salesforce settings from the environment.
fn haul_at(sim: &Sim) -> Command {
    let mut command = Command::cargo_bin("haul").unwrap();
    for name in [
        "SF_CLIENT_ID",
        "SF_CLIENT_SECRET",
        "SF_API_VERSION",
        "SF_REFRESH_TOKEN",
        "SF_USERNAME",
        "SF_JWT_KEY_FILE",
        "SF_LOGIN_URL",
        "HAUL_SF_BIN",
        "RUST_LOG",
    ] {
        command.env_remove(name);
    }
    command
        .env("SF_INSTANCE_URL", sim.instance_url())
        .env("SF_ACCESS_TOKEN", sim.access_token())
        .timeout(Duration::from_secs(120));
    command
}

/// An empty folder of this test's own, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("haul-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    /// The folder as a destination argument (with its trailing slash).
    fn dest(&self) -> String {
        format!("{}/", self.0.display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(command: &mut Command) -> (Output, Value) {
    let output = command.output().unwrap();
    let json = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output, json)
}

/// Rows landed per object in a `--json` summary.
fn rows(summary: &Value) -> Vec<(String, u64)> {
    summary["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["object"].as_str().unwrap().to_owned(),
                o["rows"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn state(dir: &Path, object: &str) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join(object).join("_state.json")).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn all_then_an_update_then_all_again_lands_exactly_the_updated_rows() {
    let sim = Sim::builder()
        .rows("Account", 40)
        .rows("Contact", 30)
        .rows("Opportunity", 20)
        .rows("Task", 10)
        .rows("Lead", 10)
        .rows("Case", 10)
        .start()
        .await
        .unwrap();
    let dir = TempDir::new("extract-all");
    let extract = || {
        let mut command = haul_at(&sim);
        command.args(["sf", "extract", "--all", "--exclude", "Task,Case", "--to"]);
        command.arg(dir.dest()).args(["--json", "--quiet"]);
        command
    };
    let (output, first) = run(&mut extract());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let landed = rows(&first);
    let names: Vec<&str> = landed.iter().map(|(o, _)| o.as_str()).collect();
    assert!(names.contains(&"Account") && names.contains(&"AccountFeed"));
    assert!(!names.contains(&"Task") && !names.contains(&"Case"));
    // The big object is not replicateable.
    assert!(!names.contains(&"Sample_Event__b"));
    for (object, count) in &landed {
        assert_eq!(Some(*count), sim.record_count(object), "{object}");
    }

    let ids = sim
        .expected_query_csv(
            "SELECT Id FROM Account LIMIT 7",
            ColumnDelimiter::Comma,
            LineEnding::Lf,
        )
        .unwrap();
    let ids: Vec<String> = String::from_utf8(ids)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.trim_matches('"').to_owned())
        .collect();
    let update = dir.0.join("update.csv");
    let body: String = ids.iter().map(|id| format!("{id},Renamed\n")).collect();
    std::fs::write(&update, format!("Id,Name\n{body}")).unwrap();
    let output = haul_at(&sim)
        .args(["sf", "ingest", "Account"])
        .arg(&update)
        .args(["--operation", "update", "--quiet"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let (output, second) = run(&mut extract());
    assert!(output.status.success());
    for (object, count) in rows(&second) {
        let expected = if object == "Account" { 7 } else { 0 };
        assert_eq!(count, expected, "{object}");
    }
    assert_eq!(
        state(&dir.0, "Account")["last_run"],
        second["run_id"].as_str().unwrap()
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_config_file_chooses_fields_and_cursor_and_a_failing_object_exits_7() {
    let sim = Sim::builder().rows("Contact", 25).start().await.unwrap();
    let dir = TempDir::new("extract-config");
    let config = dir.0.join("extract.toml");
    std::fs::write(
        &config,
        "[[object]]\nname = \"Contact\"\nfields = [\"LastName\"]\ncursor = \"CreatedDate\"\n\n\
         [[object]]\nname = \"Nope__c\"\n",
    )
    .unwrap();
    let (output, summary) = run(haul_at(&sim)
        .args([
            "sf",
            "extract",
            "--format",
            "csv",
            "--detect-hard-deletes",
            "--json",
            "--quiet",
            "--config",
        ])
        .arg(&config)
        .arg("--to")
        .arg(dir.dest()));
    assert_eq!(
        output.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let contact = &summary["objects"][0];
    assert_eq!(contact["rows"], 25);
    assert_eq!(contact["cursor_field"], "CreatedDate");
    assert_eq!(
        contact["fields"],
        serde_json::json!(["LastName", "Id", "IsDeleted", "CreatedDate"])
    );
    assert_eq!(contact["hard_deleted"], 0);
    let folder = format!("run={}", summary["run_id"].as_str().unwrap());
    let kept = dir.0.join("Contact").join(folder).join("_ids.txt");
    let kept = std::fs::read_to_string(kept).unwrap();
    assert_eq!(kept.lines().count(), 25);
    let failed = &summary["objects"][1];
    assert_eq!(failed["object"], "Nope__c");
    assert!(failed["error"].as_str().is_some_and(|e| !e.is_empty()));
    assert!(!dir.0.join("Nope__c").join("_state.json").exists());
    assert!(String::from_utf8_lossy(&output.stderr).contains("Nope__c"));

    // When nothing landed, the code is the failure's own: an unknown object is a usage error.
    let (output, summary) = run(haul_at(&sim)
        .args([
            "sf",
            "extract",
            "--objects",
            "Nope__c",
            "--json",
            "--quiet",
            "--to",
        ])
        .arg(dir.dest()));
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(summary["objects"][0]["failure"], "invalid_input");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_stopped_on_its_budget_exits_8_and_names_what_it_left() {
    let sim = Sim::builder().rows("Account", 15).start().await.unwrap();
    let dir = TempDir::new("extract-budget");
    let extract = |budget: &str| {
        run(haul_at(&sim)
            .args(["sf", "extract", "--objects", "Account", "--json", "--quiet"])
            .args(["--max-api-requests", budget, "--to"])
            .arg(dir.dest()))
    };
    // Three requests cover no window.
    let (output, summary) = extract("3");
    assert_eq!(
        output.status.code(),
        Some(8),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        summary["budget"]["left_for_next_run"],
        serde_json::json!(["Account"])
    );
    assert!(
        summary["budget"]["stopped"]
            .as_str()
            .is_some_and(|s| s.contains("3"))
    );
    assert_eq!(summary["objects"][0]["failure"], "budget_spent");
    assert!(!dir.0.join("Account").join("_state.json").exists());
    assert!(String::from_utf8_lossy(&output.stderr).contains("left for the next run: Account"));
    assert_eq!(sim.query_jobs_used(), 0);

    let (output, summary) = extract("1000");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(rows(&summary), [("Account".to_owned(), 15)]);
    assert_eq!(summary["budget"]["jobs_spent"], 1);
    assert!(
        summary["budget"]["requests_spent"]
            .as_u64()
            .is_some_and(|n| n >= 5)
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_arguments_are_usage_errors_before_anything_is_sent() {
    let sim = Sim::builder().start().await.unwrap();
    let dir = TempDir::new("extract-usage");
    let file = dir.0.join("not-a-folder.csv");
    let cases: [Vec<String>; 4] = [
        vec![
            "--objects".into(),
            "Account".into(),
            "--reserve".into(),
            "150".into(),
            "--to".into(),
            dir.dest(),
        ],
        vec!["--to".into(), dir.dest()],
        vec![
            "--objects".into(),
            "Account".into(),
            "--to".into(),
            file.display().to_string(),
        ],
        vec![
            "--objects".into(),
            "Account".into(),
            "--format".into(),
            "csv".into(),
            "--compression".into(),
            "gzip".into(),
            "--to".into(),
            dir.dest(),
        ],
    ];
    for args in cases {
        let output = haul_at(&sim)
            .args(["sf", "extract"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
    assert_eq!(sim.api_usage(), 0);
    sim.shutdown().await;
}
