//! The `haul` binary against haul-sim: every subcommand, bad input, exit codes, and `--json`.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use haul_sim::Sim;

/// `haul` with no Salesforce settings inherited from the environment.
fn haul() -> Command {
    let mut command = Command::cargo_bin("haul").unwrap();
    for name in [
        "SF_INSTANCE_URL",
        "SF_ACCESS_TOKEN",
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
    command.timeout(Duration::from_secs(120));
    command
}

/// `haul` pointed at `sim`.
fn haul_at(sim: &Sim) -> Command {
    let mut command = haul();
    command
        .env("SF_INSTANCE_URL", sim.instance_url())
        .env("SF_ACCESS_TOKEN", sim.access_token());
    command
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("haul-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn is_empty(&self) -> bool {
        std::fs::read_dir(&self.0).unwrap().next().is_none()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).unwrap().lines().count()
}

async fn sim() -> Sim {
    Sim::builder()
        .rows("Account", 12_000)
        .rows("Contact", 500)
        .start()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn query_downloads_to_a_file_and_prints_a_json_summary() {
    let sim = sim().await;
    let dir = TempDir::new("query");
    let output = dir.join("accounts.csv");
    let result = haul_at(&sim)
        .args([
            "--json",
            "sf",
            "query",
            "SELECT Id, Name FROM Account",
            "--max-records",
            "5000",
            "-o",
        ])
        .arg(&output)
        .output()
        .unwrap();
    assert!(result.status.success(), "{}", stderr(&result));
    let summary: serde_json::Value =
        serde_json::from_slice(&result.stdout).expect("stdout is JSON");
    assert_eq!(summary["records"], 12_000);
    assert_eq!(summary["pages"], 3);
    assert_eq!(summary["simulator"], false);
    let expected = sim
        .expected_query_csv(
            "SELECT Id, Name FROM Account",
            Default::default(),
            Default::default(),
        )
        .unwrap();
    assert!(std::fs::read(&output).unwrap() == expected);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_complete_output_is_replaced_only_with_overwrite() {
    let sim = sim().await;
    let dir = TempDir::new("overwrite");
    let output = dir.join("accounts.csv");
    let query = |extra: &[&str]| {
        haul_at(&sim)
            .args(["--json", "sf", "query", "SELECT Id FROM Account"])
            .args(extra)
            .arg("-o")
            .arg(&output)
            .output()
            .unwrap()
    };
    let first = query(&[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let manifest = std::fs::read(dir.join("accounts.csv.manifest.json")).unwrap();

    let refused = query(&[]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("--overwrite"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(
        std::fs::read(dir.join("accounts.csv.manifest.json")).unwrap(),
        manifest,
        "the refused run touched the manifest"
    );

    let replaced = query(&["--overwrite"]);
    assert!(replaced.status.success(), "{}", stderr(&replaced));
    let summary: serde_json::Value = serde_json::from_slice(&replaced.stdout).unwrap();
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("accounts.csv.manifest.json")).unwrap())
            .unwrap();
    assert_eq!(written["source"]["job"], summary["job_id"]);
    assert_eq!(written["source"]["query"], "SELECT Id FROM Account");
    assert_eq!(written["rows"], 12_000);

    // The REST path writes no manifest: it replaces a complete output only when told to, and then
    // removes the manifest that would vouch for the old bytes.
    let refused = query(&["--api", "rest"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(dir.join("accounts.csv.manifest.json").exists());
    let replaced = query(&["--api", "rest", "--overwrite"]);
    assert!(replaced.status.success(), "{}", stderr(&replaced));
    assert!(!dir.join("accounts.csv.manifest.json").exists());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn query_writes_jsonl_by_extension_and_folders() {
    let sim = sim().await;
    let dir = TempDir::new("formats");
    // No --format: `.jsonl` picks JSON lines.
    let jsonl = dir.join("contacts.jsonl");
    let result = haul_at(&sim)
        .args([
            "sf",
            "query",
            "SELECT Id, LastName, Email FROM Contact",
            "-o",
        ])
        .arg(&jsonl)
        .output()
        .unwrap();
    assert!(result.status.success(), "{}", stderr(&result));
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 500);
    assert!(
        rows.iter()
            .all(|row| row["Id"].as_str().is_some_and(|id| id.starts_with("003")))
    );
    assert!(!dir.join("contacts.jsonl.haul-csv").exists());

    let folder = dir.join("pages/");
    let result = haul_at(&sim)
        .args([
            "sf",
            "query",
            "SELECT Id FROM Account",
            "--max-records",
            "5000",
            "-o",
        ])
        .arg(&folder)
        .output()
        .unwrap();
    assert!(result.status.success(), "{}", stderr(&result));
    let mut names: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "_manifest.json",
            "part-00000.csv",
            "part-00001.csv",
            "part-00002.csv"
        ]
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn query_writes_typed_jsonl_from_describe_and_refuses_what_describe_cannot_type() {
    let sim = sim().await;
    let dir = TempDir::new("typed-jsonl");
    let soql = "SELECT Id, NumberOfEmployees, AnnualRevenue, Tax_Number__c, Services__c, \
                CreatedDate, IsDeleted FROM Account";
    let csv = dir.join("accounts.csv");
    let jsonl = dir.join("accounts.jsonl");
    for (format, output) in [("csv", &csv), ("jsonl", &jsonl)] {
        let result = haul_at(&sim)
            .args(["--json", "sf", "query", soql, "--max-records", "5000"])
            .args(["--format", format, "-o"])
            .arg(output)
            .output()
            .unwrap();
        assert!(result.status.success(), "{}", stderr(&result));
        let summary: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
        assert_eq!(
            (&summary["format"], &summary["records"]),
            (&format.into(), &12_000.into())
        );
    }
    let mut reader = csv::Reader::from_path(&csv).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), rows.len());
    let mut exponents = 0;
    for (row, line) in rows.iter().zip(&lines) {
        assert_eq!(line["Id"].as_str(), Some(&row[0]));
        match &row[1] {
            "" => assert!(line["NumberOfEmployees"].is_null()),
            n => assert_eq!(line["NumberOfEmployees"].as_i64(), n.parse().ok(), "{line}"),
        }
        // currency(18, 2): an exact string with its two decimals (as the simulator prints
        // them), never a float.
        match &row[2] {
            "" => assert!(line["AnnualRevenue"].is_null()),
            revenue => assert_eq!(line["AnnualRevenue"].as_str(), Some(revenue), "{line}"),
        }
        // double(18, 0) printed as Java prints doubles: `1.6147805824397E13` becomes its digits.
        match &row[3] {
            "" => assert!(line["Tax_Number__c"].is_null()),
            tax => {
                exponents += usize::from(tax.contains('E'));
                let typed = line["Tax_Number__c"].as_str().unwrap();
                assert!(typed.bytes().all(|b| b.is_ascii_digit()), "{line}");
                assert_eq!(typed.parse::<f64>().unwrap(), tax.parse::<f64>().unwrap());
            }
        }
        match &row[4] {
            "" => assert!(line["Services__c"].is_null()),
            services => {
                let typed: Vec<&str> = line["Services__c"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap())
                    .collect();
                assert_eq!(typed.join(";"), services);
            }
        }
        assert_eq!(line["CreatedDate"].as_str(), Some(&row[5]));
        assert_eq!(line["IsDeleted"].as_bool(), Some(&row[6] == "true"));
    }
    assert!(exponents > 0, "no Tax_Number__c in exponent notation");

    // Describe types no compound field: refused before a job is submitted, naming the
    // components to select instead.
    let jobs = || {
        sim.stats()
            .count("POST", "/services/data/{version}/jobs/query")
    };
    let submitted = jobs();
    let result = haul_at(&sim)
        .current_dir(&dir.0)
        .args(["sf", "query", "SELECT Id, BillingAddress FROM Account"])
        .args(["--format", "jsonl", "-o", "x.jsonl"])
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(2), "{}", stderr(&result));
    let said = stderr(&result);
    assert!(
        said.contains("BillingStreet") && said.contains("--format csv"),
        "{said}"
    );
    assert!(!dir.join("x.jsonl").exists());
    assert_eq!(jobs(), submitted, "no job is submitted for a refused query");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn query_writes_parquet_by_extension_and_refuses_what_parquet_cannot_do() {
    let sim = sim().await;
    let dir = TempDir::new("parquet");
    let file = dir.join("accounts.parquet");
    let soql = "SELECT Id, Name, AnnualRevenue, CreatedDate FROM Account";
    let result = haul_at(&sim)
        .args(["--json", "sf", "query", soql, "--max-records", "5000", "-o"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(result.status.success(), "{}", stderr(&result));
    let summary: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    assert_eq!(
        (&summary["format"], &summary["records"], &summary["pages"]),
        (&"parquet".into(), &12_000.into(), &3.into())
    );
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
    assert_eq!(summary["bytes"], bytes.len());

    let folder = dir.join("pages/");
    let result = haul_at(&sim)
        .args([
            "sf",
            "query",
            soql,
            "--format",
            "parquet",
            "--compression",
            "gzip",
        ])
        .args(["--max-records", "5000", "-o"])
        .arg(&folder)
        .output()
        .unwrap();
    assert!(result.status.success(), "{}", stderr(&result));
    let mut names: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "_manifest.json",
            "part-00000.parquet",
            "part-00001.parquet",
            "part-00002.parquet"
        ]
    );

    let refused: [(&[&str], &str, &str); 5] = [
        (&["-o", "x.parquet", "--resume"], soql, "folder"),
        (&["-o", "s3://lake/x.parquet"], soql, "prefix ending in /"),
        (
            &["-o", "x.parquet", "--api", "rest", "--resume"],
            soql,
            "--api bulk",
        ),
        (
            &["-o", "x.csv", "--compression", "zstd"],
            soql,
            "--format parquet",
        ),
        (
            &["-o", "x.parquet"],
            "SELECT Id, BillingAddress FROM Account",
            "BillingStreet",
        ),
    ];
    let jobs = || {
        sim.stats()
            .count("POST", "/services/data/{version}/jobs/query")
    };
    let submitted = jobs();
    for (args, soql, says) in refused {
        let result = haul_at(&sim)
            .current_dir(&dir.0)
            .args(["sf", "query", soql])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(
            result.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&result)
        );
        assert!(
            stderr(&result).contains(says),
            "{args:?}: {}",
            stderr(&result)
        );
        assert!(!dir.join("x.parquet").exists() && !dir.join("x.csv").exists());
    }
    assert_eq!(jobs(), submitted, "no job is submitted for a refused query");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_configuration_the_built_in_simulator_is_used_and_announced() {
    let dir = TempDir::new("embedded");
    let output = dir.join("accounts.csv");
    let result = haul()
        .args(["sf", "query", "SELECT Id, Name FROM Account", "-o"])
        .arg(&output)
        .output()
        .unwrap();
    assert!(result.status.success(), "{}", stderr(&result));
    let announced = stderr(&result)
        .lines()
        .filter(|l| l.contains("built-in simulator"))
        .count();
    assert_eq!(announced, 1, "{}", stderr(&result));
    assert_eq!(lines(&output), 100_001);
}

/// Bad input: one line naming the problem, the documented exit code, and no output file.
#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_one_clear_line_and_leaves_no_file() {
    let sim = sim().await;
    let dir = TempDir::new("bad");
    let out = dir.join("out.csv");
    let cases: [(&[&str], i32, &str); 5] = [
        (&["SELECT Id FROM Nope"], 2, "INVALID_TYPE"),
        (&["SELECT Nope FROM Account"], 2, "INVALID_FIELD"),
        (&["SELEKT Id FROM Account"], 2, "MALFORMED_QUERY"),
        (
            &["SELECT Id FROM Account", "--concurrency", "0"],
            2,
            "concurrency",
        ),
        (
            &["SELECT Id FROM Account", "--api-version", "sixty"],
            2,
            "API version",
        ),
    ];
    for (args, code, needle) in cases {
        let result = haul_at(&sim)
            .args(["sf", "query"])
            .args(args)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        let text = stderr(&result);
        assert_eq!(result.status.code(), Some(code), "{args:?}: {text}");
        assert!(text.contains(needle), "{args:?}: {text}");
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("haul: ") && !l.contains("job "))
                .count(),
            1,
            "{text}"
        );
        assert!(dir.is_empty(), "{args:?} left files behind");
    }
    // Refused before anything was sent: only the three bad queries reached the server.
    assert_eq!(
        sim.stats()
            .count("POST", "/services/data/{version}/jobs/query"),
        3
    );

    let bad_token = haul()
        .env("SF_INSTANCE_URL", sim.instance_url())
        .env("SF_ACCESS_TOKEN", "00Dnot!valid")
        .args(["sf", "query", "SELECT Id FROM Account", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(bad_token.status.code(), Some(3), "{}", stderr(&bad_token));
    assert!(
        !stderr(&bad_token).contains("00Dnot"),
        "the token was printed"
    );

    let unreachable = haul()
        .env("SF_INSTANCE_URL", "http://127.0.0.1:9")
        .env("SF_ACCESS_TOKEN", "t")
        .args(["sf", "query", "SELECT Id FROM Account", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        unreachable.status.code(),
        Some(1),
        "{}",
        stderr(&unreachable)
    );
    assert!(
        stderr(&unreachable).contains("connection failed"),
        "{}",
        stderr(&unreachable)
    );

    let no_credentials = haul()
        .env("SF_INSTANCE_URL", sim.instance_url())
        .args(["sf", "jobs"])
        .output()
        .unwrap();
    assert_eq!(no_credentials.status.code(), Some(2));
    assert!(stderr(&no_credentials).contains("SF_ACCESS_TOKEN"));
    assert!(dir.is_empty());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_can_be_listed_shown_aborted_and_deleted() {
    let sim = Sim::builder()
        .rows("Account", 10)
        .job_duration(Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let sf = haul::Salesforce::builder()
        .instance_url(sim.instance_url())
        .auth(haul::auth::AccessToken::new(sim.access_token()))
        .build()
        .unwrap();
    let job = sf
        .bulk_query("SELECT Id FROM Account")
        .submit()
        .await
        .unwrap();
    let id = job.id().to_string();

    let listed = haul_at(&sim)
        .args(["--json", "sf", "jobs"])
        .output()
        .unwrap();
    let jobs: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(jobs[0]["id"], id.as_str());

    let shown = haul_at(&sim).args(["sf", "job", &id]).output().unwrap();
    assert!(String::from_utf8_lossy(&shown.stdout).contains(&id));

    let early_delete = haul_at(&sim).args(["sf", "delete", &id]).output().unwrap();
    assert_eq!(
        early_delete.status.code(),
        Some(2),
        "{}",
        stderr(&early_delete)
    );
    assert!(stderr(&early_delete).contains("API_ERROR"));

    let aborted = haul_at(&sim).args(["sf", "abort", &id]).output().unwrap();
    assert!(aborted.status.success(), "{}", stderr(&aborted));
    assert_eq!(
        sim.query_job_state(&id),
        Some(haul::types::QueryJobState::Aborted)
    );

    let deleted = haul_at(&sim).args(["sf", "delete", &id]).output().unwrap();
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    let missing = haul_at(&sim).args(["sf", "job", &id]).output().unwrap();
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
    assert!(
        stderr(&missing).contains("NOT_FOUND"),
        "{}",
        stderr(&missing)
    );

    let malformed = haul_at(&sim)
        .args(["sf", "job", "../../x"])
        .output()
        .unwrap();
    assert_eq!(malformed.status.code(), Some(2));
    assert!(stderr(&malformed).contains("is not a Salesforce id"));
    sim.shutdown().await;
}

#[test]
fn help_documents_the_exit_codes_and_usage_errors_exit_2() {
    let help = haul().arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    for code in [
        "0  success",
        "2  usage",
        "3  authentication",
        "4  the job failed",
        "5  the org's API limit",
        "6  integrity",
    ] {
        assert!(text.contains(code), "{text}");
    }
    let missing_output = haul()
        .args(["sf", "query", "SELECT Id FROM Account"])
        .output()
        .unwrap();
    assert_eq!(missing_output.status.code(), Some(2));
}

#[test]
fn haul_sim_prints_its_urls_as_one_json_line() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("haul"))
        .args(["sim", "--addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let read = std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
    child.kill().unwrap();
    child.wait().unwrap();
    read.unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).expect("one JSON line");
    assert!(
        ready["instance_url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    assert!(ready["access_token"].as_str().is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn ingest_loads_a_file_and_writes_the_result_files() {
    let sim = Sim::builder().rows("Account", 0).start().await.unwrap();
    let dir = TempDir::new("ingest");
    let input = dir.join("accounts.csv");
    std::fs::write(
        &input,
        "Name,Industry\n\"Acme, Inc.\",Energy\n,Energy\n\"Multi\nLine\",Retail\n",
    )
    .unwrap();
    let result = haul_at(&sim)
        .args([
            "--json",
            "sf",
            "ingest",
            "Account",
            "--operation",
            "insert",
            "--results",
        ])
        .arg(dir.join("results"))
        .arg(&input)
        .output()
        .unwrap();
    assert!(result.status.success(), "{}", stderr(&result));
    let summary: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    assert_eq!(
        (
            summary["records_processed"].as_u64(),
            summary["records_failed"].as_u64()
        ),
        (Some(3), Some(1))
    );
    assert_eq!(sim.record_count("Account"), Some(2));
    let failed = std::fs::read_to_string(dir.join("results/failed.csv")).unwrap();
    assert!(
        failed.starts_with("sf__Id,sf__Error,Name,Industry"),
        "{failed}"
    );
    assert!(failed.contains("REQUIRED_FIELD_MISSING"), "{failed}");
    let successful = std::fs::read_to_string(dir.join("results/successful.csv")).unwrap();
    assert_eq!(
        csv::Reader::from_reader(successful.as_bytes())
            .records()
            .count(),
        2
    );

    let listed = haul_at(&sim)
        .args(["--json", "sf", "jobs", "--type", "ingest"])
        .output()
        .unwrap();
    let jobs: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let ingest_id = summary["jobs"][0]["id"].as_str().unwrap();
    assert_eq!(jobs[0]["id"], ingest_id);
    let shown = haul_at(&sim)
        .args(["--json", "sf", "job", ingest_id])
        .output()
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(
        info["state"], "JobComplete",
        "an ingest job is found through the ingest endpoint"
    );
    let deleted = haul_at(&sim)
        .args(["sf", "delete", ingest_id])
        .output()
        .unwrap();
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    assert_eq!(sim.ingest_job_state(ingest_id), None);

    let missing = haul_at(&sim)
        .args([
            "sf",
            "ingest",
            "Account",
            "--operation",
            "insert",
            "nope.csv",
        ])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("nope.csv: no such file"),
        "{}",
        stderr(&missing)
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn async_soql_copies_rows_and_waits() {
    let sim = Sim::builder()
        .rows("Sample_Event__b", 40)
        .start()
        .await
        .unwrap();
    let result = haul_at(&sim)
        .args([
            "--json",
            "sf",
            "async-soql",
            "SELECT Account__c, Kind__c FROM Sample_Event__b",
        ])
        .args([
            "--target",
            "Event_Copy__c",
            "--map",
            "Account__c=Account__c",
            "--map",
            "Kind__c=Kind__c",
            "--wait",
        ])
        .output()
        .unwrap();
    assert!(result.status.success(), "{}", stderr(&result));
    let info: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    assert_eq!(info["status"], "Complete");
    assert_eq!(sim.record_count("Event_Copy__c"), Some(40));
    let bad_map = haul_at(&sim)
        .args([
            "sf",
            "async-soql",
            "SELECT Kind__c FROM Sample_Event__b",
            "--target",
            "Event_Copy__c",
            "--map",
            "Kind__c",
        ])
        .output()
        .unwrap();
    assert_eq!(bad_map.status.code(), Some(2));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn looker_runs_one_query_and_many() {
    let sim = Sim::builder().start().await.unwrap();
    let looker = haul::Looker::builder()
        .base_url(sim.looker().base_url())
        .client_credentials(sim.looker().client_id(), sim.looker().client_secret())
        .build()
        .unwrap();
    let by_status =
        haul::looker::Query::new("thelook", "orders").fields(["orders.status", "orders.count"]);
    let first = looker.create_query(by_status).await.unwrap();
    let second = looker
        .create_query(
            haul::looker::Query::new("thelook", "users")
                .fields(["users.id"])
                .limit(7),
        )
        .await
        .unwrap();
    let looker_env = |command: &mut Command| {
        command
            .env("LOOKER_BASE_URL", sim.looker().base_url())
            .env("LOOKER_CLIENT_ID", sim.looker().client_id())
            .env("LOOKER_CLIENT_SECRET", sim.looker().client_secret());
    };
    let dir = TempDir::new("looker");
    let mut one = haul();
    looker_env(&mut one);
    let result = one
        .args(["looker", "run", &first, "--format", "csv", "-o"])
        .arg(dir.join("status.csv"))
        .output()
        .unwrap();
    assert!(result.status.success(), "{}", stderr(&result));
    let expected = looker
        .run_query(&first)
        .format(haul::types::LookerResultFormat::Csv)
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(dir.join("status.csv")).unwrap(),
        expected.to_vec()
    );
    assert!(
        expected.iter().filter(|b| **b == b'\n').count() > 1,
        "the query returned no rows"
    );

    let mut many = haul();
    looker_env(&mut many);
    let result = many
        .args([
            "looker", "run-many", &first, &second, "--format", "json", "-o",
        ])
        .arg(dir.join("many"))
        .output()
        .unwrap();
    assert!(result.status.success(), "{}", stderr(&result));
    let users: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("many").join(format!("{second}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(users.as_array().map(Vec::len), Some(7));
    assert!(
        sim.stats()
            .count("GET", "/api/4.0/query_tasks/multi_results")
            >= 1
    );

    let mut unknown = haul();
    looker_env(&mut unknown);
    let result = unknown
        .args(["looker", "run", "999999", "-o"])
        .arg(dir.join("x.csv"))
        .output()
        .unwrap();
    assert_ne!(result.status.code(), Some(0));
    assert!(!dir.join("x.csv").exists() && !dir.join("x.csv.part").exists());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn looker_writes_typed_parquet_by_extension() {
    let sim = Sim::builder().start().await.unwrap();
    let looker = haul::Looker::builder()
        .base_url(sim.looker().base_url())
        .client_credentials(sim.looker().client_id(), sim.looker().client_secret())
        .build()
        .unwrap();
    let query = haul::looker::Query::new("thelook", "orders")
        .fields(["orders.status", "orders.created_time", "orders.count"])
        .sort("orders.created_time")
        .limit(50);
    let id = looker.create_query(query).await.unwrap();
    let looker_env = |command: &mut Command| {
        command
            .env("LOOKER_BASE_URL", sim.looker().base_url())
            .env("LOOKER_CLIENT_ID", sim.looker().client_id())
            .env("LOOKER_CLIENT_SECRET", sim.looker().client_secret());
    };
    let dir = TempDir::new("looker-parquet");
    let file = dir.join("orders.parquet");
    let mut run = haul();
    looker_env(&mut run);
    let result = run
        .args([
            "--json",
            "looker",
            "run",
            &id,
            "--compression",
            "snappy",
            "-o",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(result.status.success(), "{}", stderr(&result));
    let summary: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    assert_eq!(
        (
            &summary["format"],
            &summary["compression"],
            &summary["rows"]
        ),
        (&"parquet".into(), &"snappy".into(), &50.into())
    );
    assert_eq!(
        summary["columns"],
        serde_json::json!([
            {"name": "orders.status", "type": "utf8"},
            {"name": "orders.created_time", "type": "timestamp"},
            {"name": "orders.count", "type": "int64"},
        ])
    );
    let written = std::fs::read(&file).unwrap();
    assert!(written.starts_with(b"PAR1") && written.ends_with(b"PAR1"));
    let expected = looker
        .run_query(&id)
        .parquet(haul::download::Compression::Snappy)
        .await
        .unwrap();
    assert_eq!(
        written,
        expected.bytes.to_vec(),
        "the library's file, byte for byte"
    );
    assert!(!dir.join("orders.parquet.part").exists());

    let mut many = haul();
    looker_env(&mut many);
    let result = many
        .args([
            "--json", "looker", "run-many", &id, "--format", "parquet", "-o",
        ])
        .arg(dir.join("many"))
        .output()
        .unwrap();
    assert!(result.status.success(), "{}", stderr(&result));
    let summary: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    assert_eq!(summary["results"][0]["rows"], 50, "{summary}");
    let zstd = looker
        .run_query(&id)
        .parquet(haul::download::Compression::Zstd)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(dir.join("many").join(format!("{id}.parquet"))).unwrap(),
        zstd.bytes.to_vec()
    );

    let mut compressed_csv = haul();
    looker_env(&mut compressed_csv);
    let result = compressed_csv
        .args(["looker", "run", &id, "--compression", "zstd", "-o"])
        .arg(dir.join("orders.csv"))
        .output()
        .unwrap();
    assert_ne!(result.status.code(), Some(0));
    assert!(
        stderr(&result).contains("--format parquet"),
        "{}",
        stderr(&result)
    );
    assert!(!dir.join("orders.csv").exists());
    sim.shutdown().await;
}

/// The request heads sent to a local server that answers every request with a Salesforce 404.
fn request_heads(args: &[&str]) -> Vec<String> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = done.clone();
    let server = std::thread::spawn(move || {
        let mut heads = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !stop.load(std::sync::atomic::Ordering::SeqCst)
            && std::time::Instant::now() < deadline
        {
            let Ok((mut stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            stream.set_nonblocking(false).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            heads.push(String::from_utf8_lossy(&head).to_lowercase());
            let body = r#"[{"errorCode":"NOT_FOUND","message":"nothing here"}]"#;
            let _ = write!(
                stream,
                "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        heads
    });
    let result = haul()
        .env("SF_INSTANCE_URL", &url)
        .env("SF_ACCESS_TOKEN", "token")
        .args(args)
        .output()
        .unwrap();
    assert_ne!(result.status.code(), Some(0));
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let heads = server.join().unwrap();
    assert!(!heads.is_empty(), "{}", stderr(&result));
    heads
}

#[test]
fn gzip_is_asked_for_unless_no_gzip_is_given() {
    let asks = |head: &String| {
        head.lines()
            .any(|line| line.starts_with("accept-encoding:") && line.contains("gzip"))
    };
    assert!(request_heads(&["sf", "jobs"]).iter().all(asks));
    assert!(!request_heads(&["sf", "jobs", "--no-gzip"]).iter().any(asks));
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_print_a_table_or_the_json_salesforce_sent() {
    let sim = sim().await;
    let table = haul_at(&sim).args(["sf", "limits"]).output().unwrap();
    assert!(table.status.success(), "{}", stderr(&table));
    let text = String::from_utf8_lossy(&table.stdout);
    let header = text.lines().next().unwrap_or_default();
    assert!(
        header.starts_with("LIMIT") && header.contains("REMAINING"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("DailyApiRequests ")),
        "{text}"
    );
    let json = haul_at(&sim)
        .args(["sf", "limits", "--json"])
        .output()
        .unwrap();
    assert!(json.status.success(), "{}", stderr(&json));
    let limits: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(
        limits["DailyBulkV2QueryJobs"]["Max"].as_u64().is_some(),
        "{limits}"
    );
    sim.shutdown().await;
}

/// A stand-in for Salesforce's CLI that prints what `sf org display --json` prints, from a file.
fn fake_sf(dir: &TempDir, answer: &serde_json::Value) -> PathBuf {
    let json = dir.join("answer.json");
    std::fs::write(&json, answer.to_string()).unwrap();
    let script = dir.join("sf");
    std::fs::write(&script, format!("#!/bin/sh\ncat '{}'\n", json.display())).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    script
}

#[tokio::test(flavor = "multi_thread")]
async fn target_org_uses_what_sf_org_display_prints_and_never_the_token() {
    let sim = sim().await;
    let dir = TempDir::new("target-org");
    let authorised = serde_json::json!({
        "status": 0,
        "result": {
            "accessToken": sim.access_token(),
            "instanceUrl": sim.instance_url(),
            "apiVersion": "61.0",
            "alias": "acme",
        },
    });
    let sf = fake_sf(&dir, &authorised);
    let output = haul()
        .env("HAUL_SF_BIN", &sf)
        .args(["sf", "limits", "--json", "--target-org", "acme", "-v"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        sim.stats().count("GET", "/services/data/{version}/limits"),
        1
    );
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
    assert!(
        !printed.contains(sim.access_token()),
        "the token was printed"
    );
    assert!(!printed.contains("built-in simulator"), "{printed}");
    sim.shutdown().await;
}

#[test]
fn target_org_fails_clearly_without_sf_or_with_an_unknown_alias() {
    let dir = TempDir::new("target-org-bad");
    let missing = haul()
        .env("HAUL_SF_BIN", dir.join("no-such-sf"))
        .args(["sf", "limits", "--target-org", "acme"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
    assert!(
        stderr(&missing).contains("not installed"),
        "{}",
        stderr(&missing)
    );
    let unknown = serde_json::json!({
        "status": 1,
        "name": "NamedOrgNotFoundError",
        "message": "No authorization information found for nosuch.",
    });
    let sf = fake_sf(&dir, &unknown);
    let output = haul()
        .env("HAUL_SF_BIN", &sf)
        .args(["sf", "limits", "--target-org", "nosuch"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("No authorization information found for nosuch"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_token_credentials_come_from_the_environment() {
    let sim = sim().await;
    let output = haul()
        .env("SF_INSTANCE_URL", sim.instance_url())
        .env("SF_CLIENT_ID", sim.sf_client_id())
        .env("SF_REFRESH_TOKEN", sim.sf_refresh_token())
        .args(["sf", "limits"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(sim.stats().count("POST", "/services/oauth2/token"), 1);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn describe_account_json_works_on_the_built_in_simulator() {
    let output = haul()
        .args(["sf", "describe", "Account", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let described: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(described["name"], "Account");
    let fields = described["fields"].as_array().expect("fields");
    assert!(
        fields
            .iter()
            .any(|f| f["name"] == "Id" && f["type"] == "id"),
        "{described}"
    );
    let table = haul().args(["sf", "describe", "Account"]).output().unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.lines().next().is_some_and(|h| h.starts_with("NAME")),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("Id ")), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn objects_lists_the_queryable_objects() {
    let sim = sim().await;
    let output = haul_at(&sim).args(["sf", "objects"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.lines().any(|l| l.starts_with("Account ")), "{text}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rest_query_writes_the_same_csv_columns_as_a_bulk_one() {
    let sim = sim().await;
    let dir = TempDir::new("rest-query");
    let soql = "SELECT Id, FirstName, LastName, Email, Description FROM Contact";
    let (bulk, rest) = (dir.join("bulk.csv"), dir.join("rest.csv"));
    for (output, api) in [(&bulk, "bulk"), (&rest, "rest")] {
        let result = haul_at(&sim)
            .args(["sf", "query", soql, "--api", api, "-o"])
            .arg(output)
            .output()
            .unwrap();
        assert!(result.status.success(), "{api}: {}", stderr(&result));
    }
    let read = |path: &Path| {
        let mut reader = csv::Reader::from_path(path).unwrap();
        let header: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
        let mut rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect();
        rows.sort();
        (header, rows)
    };
    assert_eq!(read(&rest), read(&bulk));
    let jsonl = dir.join("rest.jsonl");
    let result = haul_at(&sim)
        .args([
            "sf",
            "query",
            soql,
            "--api",
            "rest",
            "--format",
            "jsonl",
            "--batch-size",
            "200",
            "-o",
        ])
        .arg(&jsonl)
        .output()
        .unwrap();
    assert!(result.status.success(), "{}", stderr(&result));
    assert_eq!(lines(&jsonl), 500);
    // Typed from describe through either API, the JSON lines are the same lines.
    let bulk_jsonl = dir.join("bulk.jsonl");
    let result = haul_at(&sim)
        .args(["sf", "query", soql, "--format", "jsonl", "-o"])
        .arg(&bulk_jsonl)
        .output()
        .unwrap();
    assert!(result.status.success(), "{}", stderr(&result));
    let sorted = |path: &Path| {
        let mut lines: Vec<String> = std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    };
    assert!(
        sorted(&jsonl) == sorted(&bulk_jsonl),
        "the typed lines differ"
    );
    let parquet = dir.join("rest.parquet");
    let result = haul_at(&sim)
        .args(["--json", "sf", "query", soql, "--api", "rest", "-o"])
        .arg(&parquet)
        .output()
        .unwrap();
    assert!(result.status.success(), "{}", stderr(&result));
    let summary: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    assert_eq!(
        (&summary["api"], &summary["format"], &summary["records"]),
        (
            &serde_json::json!("rest"),
            &serde_json::json!("parquet"),
            &serde_json::json!(500)
        ),
        "{summary}"
    );
    assert!(dir.join("rest.parquet.manifest.json").exists());
    let parents = "SELECT Id, LastName, Account.Name FROM Contact";
    let (bulk, rest) = (dir.join("parents-bulk.csv"), dir.join("parents-rest.csv"));
    for (output, api) in [(&bulk, "bulk"), (&rest, "rest")] {
        let result = haul_at(&sim)
            .args(["sf", "query", parents, "--api", api, "-o"])
            .arg(output)
            .output()
            .unwrap();
        assert!(result.status.success(), "{api}: {}", stderr(&result));
    }
    let (header, rows) = read(&rest);
    assert_eq!(header, ["Id", "LastName", "Account.Name"]);
    assert!(
        rows.iter().any(|row| !row[2].is_empty()),
        "parents flattened"
    );
    assert_eq!(read(&rest), read(&bulk));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn jwt_bearer_credentials_come_from_the_environment_and_a_key_file() {
    let sim = sim().await;
    // A key made for haul's tests only; the simulator checks the claims, not the signature.
    let key = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ergonomic/tests/fixtures/test-only-jwt-key.pem"
    );
    let output = haul()
        .env("SF_INSTANCE_URL", sim.instance_url())
        .env("SF_CLIENT_ID", sim.sf_client_id())
        .env("SF_USERNAME", "admin@haul.example")
        .env("SF_JWT_KEY_FILE", key)
        .args(["sf", "limits", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(sim.stats().count("POST", "/services/oauth2/token"), 1);
    let missing = haul()
        .env("SF_INSTANCE_URL", sim.instance_url())
        .env("SF_CLIENT_ID", sim.sf_client_id())
        .env("SF_USERNAME", "admin@haul.example")
        .args(["sf", "limits", "--jwt-key-file", "/nonexistent/key.pem"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
    assert!(
        stderr(&missing).contains("JWT key file"),
        "{}",
        stderr(&missing)
    );
    sim.shutdown().await;
}
