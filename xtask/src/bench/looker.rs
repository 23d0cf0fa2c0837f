//! Benchmark 3: 20 Looker query tasks to completion. haul's multi-task wait (`haul looker run-many`,
//! one `multi_results` request a round) against a looker_sdk loop that polls each task every 0.5 s.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{Context as _, Result};

use super::download::verdict;
use super::measure::{self, Job};
use super::report::{self, Group, Panel, median, table};
use super::sim::{Sim, curl_json};
use super::{Bench, Section};

const TASKS: usize = 20;

const SDK_LOOP: &str = r#"
import json, sys, time
import looker_sdk
from looker_sdk import models40
query_ids = sys.argv[1].split(",")
sdk = looker_sdk.init40()
tasks = [
    sdk.create_query_task(body=models40.WriteCreateQueryTask(
        query_id=q, result_format=models40.ResultFormat.csv)).id
    for q in query_ids
]
pending, received = list(tasks), 0
deadline = time.monotonic() + 600
while pending:
    if time.monotonic() > deadline:
        raise SystemExit(f"{len(pending)} tasks still pending")
    still = []
    for task_id in pending:
        status = sdk.query_task(task_id).status
        if status == "complete":
            received += len(sdk.query_task_results(task_id))
        elif status in ("added", "running"):
            still.append(task_id)
        else:
            raise SystemExit(f"task {task_id}: {status}")
    pending = still
    if pending:
        time.sleep(0.5)
print(json.dumps({"tasks": len(tasks), "bytes": received}))
"#;

struct Contender {
    name: &'static str,
    command: String,
    requests: Vec<f64>,
    breakdown: String,
    wall: Vec<f64>,
    rss_mb: Vec<f64>,
    cpu: Vec<f64>,
    loads: Vec<String>,
}

pub(super) fn run(bench: &Bench) -> Result<Section> {
    let job_seconds: u64 = if bench.quick { 4 } else { 10 };
    eprintln!("bench: looker, {TASKS} tasks of {job_seconds} s");
    let sim = Sim::start(
        &bench.root,
        &["--job-seconds".to_owned(), job_seconds.to_string()],
        &bench.logs.join("looker-sim.log"),
    )?;
    let query_ids = create_queries(&sim)?;
    let out = bench.work.join("out-looker");
    let limit = Duration::from_secs(job_seconds * 10 + 120);
    let jobs = [
        Job::new(bench.haul(), limit)
            .env("LOOKER_BASE_URL", sim.looker_base_url.clone())
            .env("LOOKER_CLIENT_ID", sim.looker_client_id.clone())
            .env("LOOKER_CLIENT_SECRET", sim.looker_client_secret.clone())
            .args(["--quiet", "looker", "run-many"])
            .args(&query_ids)
            .args(["--format", "csv", "-o"])
            .arg(&out),
        Job::new(&bench.python, limit)
            .env("LOOKERSDK_BASE_URL", sim.looker_base_url.clone())
            .env("LOOKERSDK_CLIENT_ID", sim.looker_client_id.clone())
            .env("LOOKERSDK_CLIENT_SECRET", sim.looker_client_secret.clone())
            .env("LOOKERSDK_VERIFY_SSL", "false")
            .arg(bench.script("looker_sdk_loop.py", SDK_LOOP)?)
            .arg(query_ids.join(",")),
    ];
    let mut contenders: Vec<Contender> = ["haul looker run-many", "looker_sdk loop (0.5 s)"]
        .iter()
        .zip(&jobs)
        .map(|(name, job)| Contender {
            name,
            command: job.display(&bench.root),
            requests: Vec::new(),
            breakdown: String::new(),
            wall: Vec::new(),
            rss_mb: Vec::new(),
            cpu: Vec::new(),
            loads: Vec::new(),
        })
        .collect();
    for round in 0..bench.runs {
        for (i, job) in jobs.iter().enumerate() {
            let _ = std::fs::remove_dir_all(&out);
            let load = bench.gate();
            let before = sim.stats()?;
            let log = bench.logs.join(format!("looker-{i}-{round}.log"));
            let seen = measure::run(job, &log).with_context(|| contenders[i].name)?;
            let requests = sim.stats()?.since(&before);
            let c = &mut contenders[i];
            eprintln!(
                "bench:   {}: {} requests, {:.2} s",
                c.name,
                requests.total(),
                seen.wall.as_secs_f64()
            );
            c.breakdown = requests
                .counts
                .iter()
                .map(|(route, n)| format!("{n} × `{route}`"))
                .collect::<Vec<_>>()
                .join(", ");
            c.requests.push(requests.total() as f64);
            c.wall.push(seen.wall.as_secs_f64());
            c.rss_mb.push(seen.max_rss_kib as f64 / 1024.0);
            c.cpu.push(seen.cpu.as_secs_f64());
            c.loads.push(load);
        }
    }
    let _ = std::fs::remove_dir_all(&out);
    Ok(section(bench, &contenders, job_seconds, &sim.command))
}

/// Logs in and stores `TASKS` different queries; returns their ids.
fn create_queries(sim: &Sim) -> Result<Vec<String>> {
    let base = &sim.looker_base_url;
    let login = curl_json(
        "POST",
        &format!(
            "{base}/api/4.0/login?client_id={}&client_secret={}",
            sim.looker_client_id, sim.looker_client_secret
        ),
        None,
        None,
    )?;
    let token = login["access_token"].as_str().context("access_token")?;
    (0..TASKS)
        .map(|i| {
            let body = serde_json::json!({
                "model": "thelook",
                "view": "order_items",
                "fields": ["users.state", "order_items.count"],
                "limit": (100 + i).to_string(),
            });
            let query = curl_json(
                "POST",
                &format!("{base}/api/4.0/queries"),
                Some(&format!("Bearer {token}")),
                Some(&body.to_string()),
            )?;
            Ok(match &query["id"] {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        })
        .collect()
}

fn section(
    bench: &Bench,
    contenders: &[Contender],
    job_seconds: u64,
    sim_command: &str,
) -> Section {
    let mut md = String::new();
    let loads: Vec<String> = contenders.iter().flat_map(|c| c.loads.clone()).collect();
    let _ = writeln!(
        md,
        "{TASKS} stored queries run as query tasks (CSV) that the simulator completes {job_seconds} s \
         after their creation (`{sim_command}`). Requests are every request the simulator answered \
         during the run (login, task creation, status, results, logout), from `GET /__sim/stats` \
         before and after. Medians of {} runs, the two contenders one after the other in each round. \
         Load average (1 min) before the runs: {}.\n",
        bench.runs,
        report::load_range(&loads)
    );
    let rows: Vec<Vec<String>> = contenders
        .iter()
        .map(|c| {
            vec![
                c.name.to_owned(),
                format!("{:.0}", median(&c.requests)),
                format!("{:.2}", median(&c.wall)),
                format!("{:.0}", median(&c.rss_mb)),
                format!("{:.2}", median(&c.cpu)),
                c.breakdown.clone(),
            ]
        })
        .collect();
    md.push_str(&table(
        &[
            "contender",
            "requests",
            "wall s",
            "peak RSS MB",
            "CPU s",
            "requests of the last run",
        ],
        &rows,
    ));
    md.push_str("\nCommands (query ids as created by the benchmark):\n\n");
    md.push_str(&report::commands(
        contenders.iter().map(|c| (c.name, c.command.as_str())),
    ));
    let mut targets = String::new();
    if let [haul, sdk] = contenders {
        let (a, b) = (median(&haul.requests), median(&sdk.requests));
        let _ = writeln!(
            targets,
            "- Looker ({TASKS} tasks), haul sends at most a fifth of the per-task loop's requests: \
             **{}**: {a:.0} vs {b:.0} ({:.3}x); wall {:.2} s vs {:.2} s.",
            verdict(a <= b / 5.0),
            a / b,
            median(&haul.wall),
            median(&sdk.wall)
        );
    }
    let panels = [
        Panel {
            title: "Requests".into(),
            unit: "fewer is better".into(),
            groups: vec![Group {
                label: format!("{TASKS} tasks of {job_seconds} s"),
                bars: contenders
                    .iter()
                    .map(|c| (c.name.to_owned(), median(&c.requests)))
                    .collect(),
            }],
        },
        Panel {
            title: "Wall time".into(),
            unit: "seconds".into(),
            groups: vec![Group {
                label: format!("{TASKS} tasks of {job_seconds} s"),
                bars: contenders
                    .iter()
                    .map(|c| (c.name.to_owned(), median(&c.wall)))
                    .collect(),
            }],
        },
    ];
    Section {
        name: "looker",
        title: "3. Looker".into(),
        markdown: md,
        targets,
        svg: report::svg("Looker: 20 query tasks to completion", &panels),
    }
}
