//! Benchmark 3: 20 Looker query tasks to completion. haul's multi-task wait (`haul looker run-many`,
//! one `multi_results` request a round) against a looker_sdk loop that polls each task every 0.5 s.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};

use super::contender::{self, CPU, Contender, Order, RSS_MB, Trial, WALL};
use super::measure::{Job, Measurement};
use super::report::{self, Group, Panel, table};
use super::sim::{Sim, Stats, curl_json};
use super::target::{Bound, Target};
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

/// The benchmark's own figure: every request the simulator answered during the run.
const REQUESTS: &str = "requests";

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
    let jobs = vec![
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
    let mut contenders = ["haul looker run-many", "looker_sdk loop (0.5 s)"].map(Contender::new);
    let mut trial = Looker {
        sim,
        jobs,
        out,
        before: Stats::default(),
        breakdowns: vec![String::new(); 2],
    };
    contender::rounds(
        bench,
        "looker",
        &mut contenders,
        Order::OneAfterAnother,
        &mut trial,
    )?;
    let _ = std::fs::remove_dir_all(&trial.out);
    Ok(section(bench, &contenders, &trial, job_seconds))
}

/// Both contenders against one simulator, whose request counts are read before and after each run.
struct Looker {
    sim: Sim,
    jobs: Vec<Job>,
    out: PathBuf,
    before: Stats,
    /// The requests of each contender's last run, by route.
    breakdowns: Vec<String>,
}

impl Trial for Looker {
    fn job(&mut self, contender: usize, _round: usize) -> Result<Job> {
        let _ = std::fs::remove_dir_all(&self.out);
        self.before = self.sim.stats()?;
        Ok(self.jobs[contender].clone())
    }

    fn figures(
        &mut self,
        contender: usize,
        _seen: &Measurement,
    ) -> Result<Vec<(&'static str, f64)>> {
        let requests = self.sim.stats()?.since(&self.before);
        self.breakdowns[contender] = requests
            .counts
            .iter()
            .map(|(route, n)| format!("{n} × `{route}`"))
            .collect::<Vec<_>>()
            .join(", ");
        Ok(vec![(REQUESTS, requests.total() as f64)])
    }
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

fn section(bench: &Bench, contenders: &[Contender], trial: &Looker, job_seconds: u64) -> Section {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "{TASKS} stored queries run as query tasks (CSV) that the simulator completes {job_seconds} s \
         after their creation (`{}`). Requests are every request the simulator answered \
         during the run (login, task creation, status, results, logout), from `GET /__sim/stats` \
         before and after. Medians of {} runs, the two contenders one after the other in each round. \
         Load average (1 min) before the runs: {}.\n",
        trial.sim.command,
        bench.runs,
        report::load_range(&contender::loads(contenders))
    );
    md.push_str(&looker_table(contenders, &trial.breakdowns));
    md.push_str("\nCommands (query ids as created by the benchmark):\n\n");
    md.push_str(&report::commands(
        contenders
            .iter()
            .map(|c| (c.name.as_str(), c.command.as_str())),
    ));
    Section {
        name: "looker",
        title: "3. Looker".into(),
        markdown: md,
        targets: targets(contenders),
        untargeted: Vec::new(),
        svg: report::svg(
            "Looker: 20 query tasks to completion",
            &panels(contenders, job_seconds),
        ),
    }
}

fn looker_table(contenders: &[Contender], breakdowns: &[String]) -> String {
    let rows: Vec<Vec<String>> = contenders
        .iter()
        .zip(breakdowns)
        .map(|(c, breakdown)| {
            vec![
                c.name.clone(),
                format!("{:.0}", c.median(REQUESTS)),
                format!("{:.2}", c.median(WALL)),
                format!("{:.0}", c.median(RSS_MB)),
                format!("{:.2}", c.median(CPU)),
                breakdown.clone(),
            ]
        })
        .collect();
    table(
        &[
            "contender",
            "requests",
            "wall s",
            "peak RSS MB",
            "CPU s",
            "requests of the last run",
        ],
        &rows,
    )
}

/// haul sends at most a fifth of the per-task loop's requests.
fn targets(contenders: &[Contender]) -> Vec<Target> {
    let [haul, sdk] = contenders else {
        return Vec::new();
    };
    let (a, b) = (haul.median(REQUESTS), sdk.median(REQUESTS));
    vec![Target::ratio(
        format!("Looker ({TASKS} tasks): haul's requests against the per-task loop's"),
        (a, b),
        Bound::AtMost(0.2),
        format!(
            "{a:.0} vs {b:.0}; wall {:.2} s vs {:.2} s",
            haul.median(WALL),
            sdk.median(WALL)
        ),
    )]
}

fn panels(contenders: &[Contender], job_seconds: u64) -> [Panel; 2] {
    let group = |figure: &str| Group {
        label: format!("{TASKS} tasks of {job_seconds} s"),
        bars: contenders
            .iter()
            .map(|c| (c.name.clone(), c.median(figure)))
            .collect(),
    };
    [
        Panel {
            title: "Requests".into(),
            unit: "fewer is better".into(),
            groups: vec![group(REQUESTS)],
        },
        Panel {
            title: "Wall time".into(),
            unit: "seconds".into(),
            groups: vec![group(WALL)],
        },
    ]
}
