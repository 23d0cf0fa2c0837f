//! Peer conformance: real, unmodified clients (simple-salesforce, jsforce, looker_sdk, the
//! Databricks SDK for Python) run against
//! an in-process haul-sim over real HTTP on 127.0.0.1. Each peer prints one JSON line of what it
//! saw; the test checks it against the simulator's own state.
//!
//! The independent readers of haul's own Parquet output (pyarrow, DuckDB) run here too.
//!
//! Needs `HAUL_PEER_PYTHON` (a python with simple-salesforce, looker-sdk, databricks-sdk, pyarrow
//! and duckdb) and
//! `HAUL_PEER_NODE_PATH` (a node_modules with jsforce): `cargo xtask test` sets both.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use haul_sim::Sim;
use serde_json::Value;
use tokio::process::Command;

/// Longest a peer may run before it is killed and the test fails.
const PEER_TIMEOUT: Duration = Duration::from_secs(180);

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: the peer tests need the peer clients installed; run `cargo xtask test`")
    })
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("peers")
        .join(name)
}

/// Runs a peer to completion (killing it on timeout) and parses its last stdout line.
async fn run_peer(mut command: Command) -> Value {
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().expect("peer process starts");
    let output = tokio::time::timeout(PEER_TIMEOUT, child.wait_with_output())
        .await
        .expect("peer finished in time (it is killed on timeout)")
        .expect("peer output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "peer failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("peer printed no JSON line ({e}): {stdout}\n{stderr}"))
}

fn python(script_name: &str) -> Command {
    let mut command = Command::new(required_env("HAUL_PEER_PYTHON"));
    command.arg(script(script_name));
    command
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_salesforce_queries_downloads_and_inserts() {
    let sim = Sim::builder()
        .rows("Account", 12_345)
        .job_duration(Duration::from_millis(100))
        .start()
        .await
        .expect("sim");
    let accounts = sim.record_count("Account").expect("Account exists");
    let mut command = python("simple_salesforce_peer.py");
    command
        .env("HAUL_SIM_URL", sim.instance_url())
        .env("HAUL_SIM_TOKEN", sim.access_token())
        .env("HAUL_PEER_WORKDIR", temp_dir("simple-salesforce"))
        .env("HAUL_PAGE_SIZE", "5000");
    let seen = run_peer(command).await;
    assert_eq!(seen["query_pages"], 3, "{seen}");
    assert_eq!(seen["query_rows"], accounts, "{seen}");
    assert_eq!(seen["download_files"], 3, "{seen}");
    assert_eq!(seen["download_rows"], accounts, "{seen}");
    assert_eq!(seen["download_reported"], accounts, "{seen}");
    assert_eq!(seen["insert_processed"], 4, "{seen}");
    assert_eq!(seen["insert_failed"], 2, "{seen}");
    assert_eq!(
        (
            seen["successful"].as_u64(),
            seen["failed"].as_u64(),
            seen["unprocessed"].as_u64()
        ),
        (Some(2), Some(2), Some(0))
    );
    assert_eq!(
        sim.record_count("Account"),
        Some(accounts + 2),
        "inserted rows reach the org"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsforce_queries_one_page_and_loads_with_results() {
    let sim = Sim::builder()
        .rows("Opportunity", 777)
        .rows("Contact", 10)
        .start()
        .await
        .expect("sim");
    let mut command = Command::new("node");
    command
        .arg(script("jsforce_peer.js"))
        .env("NODE_PATH", required_env("HAUL_PEER_NODE_PATH"))
        .env("HAUL_SIM_URL", sim.instance_url())
        .env("HAUL_SIM_TOKEN", sim.access_token());
    let seen = run_peer(command).await;
    assert_eq!(seen["query_rows"], 777, "{seen}");
    assert!(
        seen["first_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("006")),
        "{seen}"
    );
    assert_eq!(
        (
            seen["successful"].as_u64(),
            seen["failed"].as_u64(),
            seen["unprocessed"].as_u64()
        ),
        (Some(1), Some(1), Some(0))
    );
    assert!(
        seen["failed_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("REQUIRED_FIELD_MISSING:")),
        "{seen}"
    );
    assert_eq!(sim.record_count("Contact"), Some(11));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn looker_sdk_runs_query_tasks() {
    let sim = Sim::builder()
        .job_duration(Duration::from_millis(200))
        .start()
        .await
        .expect("sim");
    let mut command = python("looker_peer.py");
    command
        .env("LOOKERSDK_BASE_URL", sim.looker().base_url())
        .env("LOOKERSDK_CLIENT_ID", sim.looker().client_id())
        .env("LOOKERSDK_CLIENT_SECRET", sim.looker().client_secret())
        .env("LOOKERSDK_VERIFY_SSL", "false");
    let seen = run_peer(command).await;
    assert_eq!(seen["same_id"], true, "{seen}");
    assert_eq!(seen["statuses"]["csv"], "complete", "{seen}");
    assert_eq!(seen["statuses"]["json"], "complete", "{seen}");
    assert_eq!(
        seen["csv_header"], "Users State,Order Items Count",
        "{seen}"
    );
    let rows = seen["csv_rows"].as_u64().expect("rows");
    assert!(rows > 0 && rows <= 20, "{seen}");
    assert_eq!(seen["json_rows"].as_u64(), Some(rows), "{seen}");
    assert!(
        seen["multi"]
            .as_object()
            .is_some_and(|m| m.len() == 2 && m.values().all(|s| s == "complete")),
        "{seen}"
    );
    let stats = sim.stats();
    assert!(stats.count("POST", "/api/4.0/login") >= 1);
    assert_eq!(stats.count("GET", "/api/4.0/query_tasks/multi_results"), 1);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn databricks_sdk_executes_statements_and_reads_external_links() {
    let sim = Sim::builder()
        .rows("main.sales.orders", 2_500)
        .databricks(|o| o.chunk_rows(1_000).link_headers(true))
        .job_duration(Duration::from_millis(1_000))
        .start()
        .await
        .expect("sim");
    let mut command = python("databricks_peer.py");
    command
        .env("HAUL_DBX_HOST", sim.databricks().host())
        .env("HAUL_DBX_TOKEN", sim.databricks().token())
        .env("HAUL_DBX_CLIENT_ID", sim.databricks().client_id())
        .env("HAUL_DBX_CLIENT_SECRET", sim.databricks().client_secret())
        .env("HAUL_DBX_WAREHOUSE", sim.databricks().warehouse_id());
    let seen = run_peer(command).await;
    // INLINE JSON_ARRAY: strings and nulls, typed columns in the manifest.
    assert_eq!(seen["inline_state"], "SUCCEEDED", "{seen}");
    assert_eq!(
        (seen["inline_rows"].as_u64(), seen["inline_total"].as_u64()),
        (Some(10), Some(10))
    );
    assert_eq!(
        seen["inline_columns"][0],
        serde_json::json!(["order_id", "LONG", "BIGINT"])
    );
    assert_eq!(
        seen["inline_columns"][1],
        serde_json::json!(["amount", "DECIMAL", "DECIMAL(18,2)"])
    );
    assert_eq!(
        seen["inline_first"][0], "9007199254740993",
        "past 2^53, as a string"
    );
    assert!(seen["inline_first"][2].is_null(), "{seen}");
    assert_eq!(
        seen["inline_comma"],
        "Deliver to 1 Main St, Suite 4, Springfield"
    );
    assert_eq!(seen["inline_newline"], "line one of 3\nline two");
    // EXTERNAL_LINKS CSV: three chunks, one header row, every row, quoting intact.
    assert_eq!(
        (
            seen["csv_chunks"].as_u64(),
            seen["csv_manifest_chunks"].as_u64()
        ),
        (Some(3), Some(3))
    );
    assert_eq!(
        (seen["csv_rows"].as_u64(), seen["csv_total"].as_u64()),
        (Some(2_500), Some(2_500))
    );
    assert_eq!(
        seen["csv_headers_in"],
        serde_json::json!([0]),
        "only the first chunk has a header"
    );
    assert_eq!(seen["csv_row_counts_match"], true);
    assert_eq!(seen["csv_quoted"], "windows line\r\nend, \"quoted\", 6");
    assert_eq!(seen["csv_null"], "null", "CSV nulls are the word null");
    let decimal = seen["csv_decimal"].as_str().expect("decimal");
    assert!(
        decimal.split_once('.').is_some_and(|(_, f)| f.len() == 2),
        "{decimal}"
    );
    assert_eq!(
        seen["with_authorization"], 400,
        "storage refuses a second auth mechanism"
    );
    // EXTERNAL_LINKS ARROW_STREAM through OAuth M2M, read by pyarrow with the documented types.
    assert_eq!(seen["arrow_rows"], seen["arrow_total"], "{seen}");
    let paid = seen["arrow_rows"].as_u64().expect("rows");
    assert!(paid > 0 && paid < 2_500, "{seen}");
    assert_eq!(seen["arrow_chunks"].as_u64(), Some(paid.div_ceil(1_000)));
    assert_eq!(seen["arrow_paid_all_true"], true);
    assert_eq!(seen["arrow_types"]["amount"], "decimal128(18, 2)");
    assert_eq!(
        seen["arrow_types"]["updated_at"],
        "timestamp[us, tz=Etc/UTC]"
    );
    assert_eq!(seen["arrow_types"]["order_id"], "int64");
    assert_eq!(seen["arrow_types"]["order_date"], "date32[day]");
    assert_eq!(
        (seen["get_state"].as_str(), seen["get_total"].as_u64()),
        (Some("SUCCEEDED"), Some(paid))
    );
    // Asynchronous execution, then cancel.
    assert_eq!(seen["async_state"], "PENDING");
    assert_eq!(seen["canceled_state"], "CANCELED");
    let canceled = seen["canceled_id"].as_str().expect("id");
    assert_eq!(sim.databricks().statement_state(canceled), Some("CANCELED"));
    // Failures come back as FAILED statements, worded as Databricks words them.
    assert_eq!(
        (
            seen["missing_state"].as_str(),
            seen["missing_code"].as_str()
        ),
        (Some("FAILED"), Some("BAD_REQUEST"))
    );
    let missing = seen["missing_message"].as_str().expect("message");
    assert!(
        missing.starts_with(
            "[TABLE_OR_VIEW_NOT_FOUND] The table or view `main`.`sales`.`nope` cannot be found."
        ),
        "{missing}"
    );
    assert_eq!(seen["syntax_state"], "FAILED");
    let syntax = seen["syntax_message"].as_str().expect("message");
    assert!(
        syntax.starts_with("[PARSE_SYNTAX_ERROR] Syntax error at or near 'SELEC'. SQLSTATE: 42601"),
        "{syntax}"
    );
    // Both sign-ins went through the workspace: the token endpoint and the storage origin saw them.
    let stats = sim.stats();
    assert_eq!(
        stats.count("POST", "/oidc/v1/token"),
        1,
        "one OAuth token, reused"
    );
    assert!(
        stats.count("GET", "/haul-sim-results/{statement}/{file}") >= 5,
        "{stats:?}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_salesforce_describes_limits_and_queries_all() {
    let sim = Sim::builder()
        .rows("Account", 4_500)
        .job_duration(Duration::from_millis(50))
        .start()
        .await
        .expect("sim");
    let mut command = python("simple_salesforce_rest_peer.py");
    command
        .env("HAUL_SIM_URL", sim.instance_url())
        .env("HAUL_SIM_TOKEN", sim.access_token())
        .env("HAUL_PEER_WORKDIR", temp_dir("simple-salesforce-rest"));
    let seen = run_peer(command).await;
    assert_eq!(seen["describe_name"], "Account", "{seen}");
    assert!(seen["describe_fields"].as_u64() > Some(30), "{seen}");
    assert_eq!(seen["billing_address_type"], "address", "{seen}");
    assert_eq!(seen["billing_city_compound"], "BillingAddress", "{seen}");
    let names = seen["global_names"].as_array().expect("names");
    for name in [
        "Account",
        "Contact",
        "Opportunity",
        "Lead",
        "Case",
        "User",
        "Task",
    ] {
        assert!(names.iter().any(|n| n == name), "{name}: {seen}");
    }
    assert!(
        seen["daily_api_requests"]["Max"].as_u64().is_some(),
        "{seen}"
    );
    assert_eq!(seen["deleted_processed"], 3, "{seen}");
    assert_eq!(seen["query_total"], 4_497, "{seen}");
    assert_eq!(
        seen["query_records"], 4_497,
        "every batch was fetched: {seen}"
    );
    assert_eq!(seen["query_distinct_ids"], 4_497, "{seen}");
    assert_eq!(seen["employees_are_numbers"], true, "{seen}");
    assert_eq!(seen["query_all_records"], 4_500, "{seen}");
    assert_eq!(seen["query_all_deleted"], 3, "{seen}");
    assert_eq!(sim.record_count("Account"), Some(4_497));
    let stats = sim.stats();
    assert!(
        stats.count("GET", "/services/data/{version}/query/{cursor}") >= 2,
        "query_more followed nextRecordsUrl"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsforce_describes_autofetches_and_reads_identity() {
    let sim = Sim::builder()
        .rows("Contact", 5_000)
        .start()
        .await
        .expect("sim");
    let mut command = Command::new("node");
    command
        .arg(script("jsforce_rest_peer.js"))
        .env("NODE_PATH", required_env("HAUL_PEER_NODE_PATH"))
        .env("HAUL_SIM_URL", sim.instance_url())
        .env("HAUL_SIM_TOKEN", sim.access_token());
    let seen = run_peer(command).await;
    assert_eq!(seen["describe_name"], "Account", "{seen}");
    assert!(seen["describe_fields"].as_u64() > Some(30), "{seen}");
    assert!(
        seen["global_names"]
            .as_array()
            .is_some_and(|n| n.iter().any(|n| n == "Contact")),
        "{seen}"
    );
    assert_eq!(
        seen["query_records"], 5_000,
        "autoFetch went through every batch: {seen}"
    );
    assert_eq!(seen["query_distinct_ids"], 5_000, "{seen}");
    assert_eq!(seen["nested_parent"], 5_000, "{seen}");
    assert_eq!(seen["identity_user"], "005Hs0000000001IAA", "{seen}");
    assert!(
        seen["identity_org"]
            .as_str()
            .is_some_and(|o| o.starts_with("00D")),
        "{seen}"
    );
    assert!(
        seen["identity_username"]
            .as_str()
            .is_some_and(|u| u.contains('@')),
        "{seen}"
    );
    let stats = sim.stats();
    assert_eq!(
        stats.count("GET", "/services/data/{version}/query/{cursor}"),
        2
    );
    assert_eq!(stats.count("GET", "/id/{org}/{user}"), 1);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesforce_cli_logs_in_displays_the_org_and_queries() {
    // The CLI accepts only tokens shaped like a real org's: the org id, `!`, the session.
    let token = "00DHs0000000simEAA!AQsimPeerSession0123456789";
    let sim = Sim::builder()
        .rows("Account", 50)
        .token(token)
        .start()
        .await
        .expect("sim");
    let node_modules = PathBuf::from(required_env("HAUL_PEER_NODE_PATH"));
    let mut command = Command::new("node");
    command
        .arg(script("sf_cli_peer.js"))
        .env("HAUL_SIM_URL", sim.instance_url())
        .env("SF_ACCESS_TOKEN", token)
        .env("HAUL_SF_BIN", node_modules.join(".bin/sf"))
        .env("HOME", temp_dir("sf-cli-home"));
    let seen = run_peer(command).await;
    assert_eq!(seen["login_status"], 0, "{seen}");
    assert_eq!(seen["login_org"], "00DHs0000000simEAA", "{seen}");
    assert!(
        seen["login_username"]
            .as_str()
            .is_some_and(|u| u.contains('@')),
        "{seen}"
    );
    assert_eq!(
        seen["api_version"], "62.0",
        "the newest version /services/data lists: {seen}"
    );
    assert_eq!(
        (&seen["display_status"], &seen["connected"]),
        (&Value::from(0), &Value::from("Connected")),
        "{seen}"
    );
    assert_eq!(seen["query_status"], 0, "{seen}");
    assert_eq!(seen["query_total"], 5, "{seen}");
    let ids = seen["query_ids"].as_array().expect("ids");
    assert_eq!(ids.len(), 5, "{seen}");
    assert!(
        ids.iter()
            .all(|id| id.as_str().is_some_and(|i| i.starts_with("001")))
    );
    let stats = sim.stats();
    assert!(
        stats.count("GET", "/services/oauth2/userinfo") + stats.count("GET", "/id/{org}/{user}")
            >= 1
    );
    assert!(
        stats.count("GET", "/services/data/{version}/query") >= 2,
        "columns, then rows"
    );
    sim.shutdown().await;
}

/// The `haul` binary beside this test's (`target/<profile>/haul`): `cargo test --workspace`, as
/// `cargo xtask test` runs it, builds it for the CLI's own tests. `HAUL_BIN` overrides it.
fn haul_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("HAUL_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("the test's path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .join(format!("haul{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p haul-cli` (cargo xtask test does)",
        bin.display()
    );
    bin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyarrow_and_duckdb_read_haul_parquet_as_its_csv_typed() {
    let sim = Sim::builder()
        .rows("Account", 4_321)
        .rows("Contact", 2_345)
        .job_duration(Duration::from_millis(100))
        .start()
        .await
        .expect("sim");
    let mut command = python("parquet_peer.py");
    command
        .env("HAUL_BIN", haul_bin())
        .env("SF_INSTANCE_URL", sim.instance_url())
        .env("SF_ACCESS_TOKEN", sim.access_token())
        .env("HAUL_PEER_WORKDIR", temp_dir("parquet"));
    let seen = run_peer(command).await;
    for (name, rows) in [("accounts", 4_321u64), ("contacts", 2_345)] {
        let seen = &seen[name];
        assert_eq!(seen["rows"], rows, "{name}: {seen}");
        assert_eq!(seen["parquet_rows"], rows, "{name}: {seen}");
        assert_eq!(seen["pyarrow_types_ok"], true, "{name}: {seen}");
        assert_eq!(seen["duckdb_types_ok"], true, "{name}: {seen}");
        assert_eq!(seen["mismatches"], 0, "{name}: {seen}");
        // Five pages of at most 1,000 rows (three for contacts), each a row group of its own.
        assert_eq!(seen["row_groups"], rows.div_ceil(1_000), "{name}: {seen}");
        // The same query through the REST API: the same types and values as the bulk CSV.
        assert_eq!(seen["rest_parquet_rows"], rows, "{name}: {seen}");
        assert_eq!(seen["rest_types_ok"], true, "{name}: {seen}");
        assert_eq!(seen["rest_mismatches"], 0, "{name}: {seen}");
    }
    let accounts = &seen["accounts"];
    assert!(
        accounts["multi_line_values"].as_u64() > Some(0),
        "multi-line text among the values compared: {accounts}"
    );
    assert!(
        accounts["exponent_values"].as_u64() > Some(0),
        "exponent notation among the values compared: {accounts}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyarrow_and_duckdb_read_haul_looker_parquet_as_its_json_typed() {
    let sim = Sim::builder().start().await.expect("sim");
    let mut command = python("looker_parquet_peer.py");
    command
        .env("HAUL_BIN", haul_bin())
        .env("LOOKER_BASE_URL", sim.looker().base_url())
        .env("LOOKER_CLIENT_ID", sim.looker().client_id())
        .env("LOOKER_CLIENT_SECRET", sim.looker().client_secret())
        .env("HAUL_PEER_WORKDIR", temp_dir("looker-parquet"));
    let seen = run_peer(command).await;
    assert_eq!(seen["rows"], 2_000, "{seen}");
    assert_eq!(seen["parquet_rows"], 2_000, "{seen}");
    assert_eq!(seen["duckdb_rows"], 2_000, "{seen}");
    assert_eq!(seen["names_ok"], true, "{seen}");
    assert_eq!(seen["pyarrow_types_ok"], true, "{seen}");
    assert_eq!(seen["duckdb_types_ok"], true, "{seen}");
    assert!(
        seen["nulls"].as_u64() > Some(0),
        "nulls among the values compared: {seen}"
    );
    assert_eq!(seen["mismatches"], 0, "{seen}");
    sim.shutdown().await;
}
