//! Benchmark 2: waiting on a job that runs 60 s. Status requests sent and detection lag (time from
//! the job's completion to the client's exit) for haul, simple-salesforce and jsforce, each against
//! its own simulator, all three at once.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use super::download::{thousands, verdict};
use super::measure::{self, Job, Measurement};
use super::report::{self, Group, Panel, median, table};
use super::sim::Sim;
use super::{Bench, Section};

const SOQL: &str = "SELECT Id, Name FROM Account";
const ROWS: u64 = 1_000;

const SSF_WAIT: &str = r#"
import json, sys
from simple_salesforce import Salesforce
url, token, soql, out = sys.argv[1:5]
sf = Salesforce(instance_url=url, session_id=token, version="62.0")
sf.bulk2_url = f"{url}/services/data/v62.0/jobs/"
# The default wait: 5 s before the first status request, then about 5 s between requests.
results = sf.bulk2.Account.download(soql, path=out, max_records=50000)
print(json.dumps({"records": sum(r["number_of_records"] for r in results)}))
"#;

const JSFORCE_WAIT: &str = r#"
const jsforce = require('jsforce');
const [url, token, soql] = process.argv.slice(2);
async function main() {
  const conn = new jsforce.Connection({ instanceUrl: url, accessToken: token, version: '62.0' });
  // jsforce's default interval (1 s); its default 30 s timeout would give up on a 60 s job.
  const rows = await (await conn.bulk2.query(soql, { pollInterval: 1000, pollTimeout: 600000 })).toArray();
  console.log(JSON.stringify({ records: rows.length }));
}
main().catch((err) => { console.error(err); process.exit(1); });
"#;

struct Client {
    name: &'static str,
    schedule: &'static str,
    command: String,
    requests: Vec<f64>,
    lag: Vec<f64>,
    wall: Vec<f64>,
    loads: Vec<String>,
}

pub(super) fn run(bench: &Bench) -> Result<Section> {
    let job_seconds: u64 = if bench.quick { 20 } else { 60 };
    let names = [
        (
            "haul",
            "backoff 0.5 s × 1.5 a round, at most 10 s (library default)",
        ),
        (
            "simple-salesforce",
            "5 s, then 5.001 s (its default `wait=5`)",
        ),
        ("jsforce", "every 1 s (its default `pollInterval`)"),
    ];
    let mut clients: Vec<Client> = names
        .iter()
        .map(|(name, schedule)| Client {
            name,
            schedule,
            command: String::new(),
            requests: Vec::new(),
            lag: Vec::new(),
            wall: Vec::new(),
            loads: Vec::new(),
        })
        .collect();
    let sim_args = vec![
        "--rows".to_owned(),
        format!("Account={ROWS}"),
        "--job-seconds".into(),
        job_seconds.to_string(),
    ];
    let mut sim_command = String::new();
    for round in 0..bench.runs {
        eprintln!("bench: waiting, round {}", round + 1);
        let load = bench.gate();
        let sims: Vec<Sim> = (0..clients.len())
            .map(|i| {
                Sim::start(
                    &bench.root,
                    &sim_args,
                    &bench.logs.join(format!("waiting-sim-{i}-{round}.log")),
                )
            })
            .collect::<Result<_>>()?;
        sim_command = sims[0].command.clone();
        let out = bench.work.join("out-waiting");
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out)?;
        let limit = Duration::from_secs(job_seconds * 3 + 60);
        let jobs = [
            Job::new(bench.haul(), limit)
                .env("SF_INSTANCE_URL", sims[0].instance_url.clone())
                .env("SF_ACCESS_TOKEN", sims[0].access_token.clone())
                .env("SF_API_VERSION", "62.0")
                .args(["--quiet", "--json", "sf", "query", SOQL, "-o"])
                .arg(out.join("haul.csv")),
            Job::new(&bench.python, limit)
                .arg(bench.script("ssf_wait.py", SSF_WAIT)?)
                .args([&sims[1].instance_url, &sims[1].access_token, SOQL])
                .arg(&out),
            Job::new("node", limit)
                .env("NODE_PATH", bench.node_path.display().to_string())
                .arg(bench.script("jsforce_wait.js", JSFORCE_WAIT)?)
                .args([&sims[2].instance_url, &sims[2].access_token, SOQL]),
        ];
        let outcomes: Vec<Result<Measurement>> = std::thread::scope(|scope| {
            let handles: Vec<_> = jobs
                .iter()
                .enumerate()
                .map(|(i, job)| {
                    let log = bench
                        .logs
                        .join(format!("waiting-{}-{round}.log", clients[i].name));
                    scope.spawn(move || measure::run(job, &log))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| bail!("a measuring thread panicked"))
                })
                .collect()
        });
        for (i, outcome) in outcomes.into_iter().enumerate() {
            let client = &mut clients[i];
            let seen = outcome.with_context(|| format!("waiting: {}", client.name))?;
            let (requests, completed_ms) = job_facts(&sims[i])?;
            let lag = (seen.ended_unix_ms as i64 - completed_ms) as f64 / 1000.0;
            eprintln!(
                "bench:   {}: {requests} status requests, noticed {lag:.2} s after completion",
                client.name
            );
            client.command = jobs[i].display(&bench.root);
            client.requests.push(requests as f64);
            client.lag.push(lag);
            client.wall.push(seen.wall.as_secs_f64());
            client.loads.push(load.clone());
        }
    }
    Ok(section(bench, &clients, job_seconds, &sim_command))
}

/// The status requests the simulator answered for its one job, and when the job completed.
fn job_facts(sim: &Sim) -> Result<(u64, i64)> {
    let stats = sim.stats()?.since(&Default::default());
    let requests = stats.ending("GET", "/jobs/query/{id}");
    let listing = sim.sf("GET", "/jobs/query", None)?;
    let jobs = listing["records"].as_array().context("job listing")?;
    let [job] = jobs.as_slice() else {
        bail!("expected one job, found {}", jobs.len());
    };
    if job["state"] != "JobComplete" {
        bail!("the job is {}", job["state"]);
    }
    let completed = job["systemModstamp"]
        .as_str()
        .and_then(report::parse_sf_time)
        .context("the job's systemModstamp")?;
    Ok((requests, completed))
}

fn section(bench: &Bench, clients: &[Client], job_seconds: u64, sim_command: &str) -> Section {
    let mut md = String::new();
    let loads: Vec<String> = clients.iter().flat_map(|c| c.loads.clone()).collect();
    let _ = writeln!(
        md,
        "A bulk query job that the simulator completes {job_seconds} s after its creation, over {} \
         Account rows (one page). The three clients run at once, each against its own simulator \
         (`{sim_command}`), so each simulator's `GET /__sim/stats` counts one client's requests. \
         Status requests are the `GET /jobs/query/{{id}}` requests; detection lag is the time from the \
         job's completion (its `systemModstamp` as the simulator stamped it) to the client's exit, \
         which includes the download of the one small page. Medians of {} rounds. Load average \
         (1 min) before the rounds: {}.\n",
        thousands(ROWS),
        bench.runs,
        report::load_range(&loads)
    );
    let rows: Vec<Vec<String>> = clients
        .iter()
        .map(|c| {
            vec![
                c.name.to_owned(),
                c.schedule.to_owned(),
                format!("{:.0}", median(&c.requests)),
                format!("{:.2}", median(&c.lag)),
                format!("{:.1}%", median(&c.lag) / job_seconds as f64 * 100.0),
                format!("{:.1}", median(&c.wall)),
            ]
        })
        .collect();
    md.push_str(&table(
        &[
            "client",
            "poll schedule",
            "status requests",
            "detection lag s",
            "lag / job time",
            "wall s",
        ],
        &rows,
    ));
    md.push_str("\nCommands (one round):\n\n");
    md.push_str(&report::commands(
        clients.iter().map(|c| (c.name, c.command.as_str())),
    ));
    let mut targets = String::new();
    if let (Some(haul), Some(peer)) = (
        clients.iter().find(|c| c.name == "haul"),
        clients.iter().find(|c| c.name == "simple-salesforce"),
    ) {
        let (requests, peer_requests) = (median(&haul.requests), median(&peer.requests));
        let lag = median(&haul.lag);
        let _ = writeln!(
            targets,
            "- Waiting ({job_seconds} s job), haul sends at most a quarter of simple-salesforce's status \
             requests: **{}**: {requests:.0} vs {peer_requests:.0} ({:.2}x). Detection lag at most 10% \
             of the job time: **{}**: {lag:.2} s ({:.1}%).",
            verdict(requests <= peer_requests / 4.0),
            requests / peer_requests,
            verdict(lag <= job_seconds as f64 * 0.1),
            lag / job_seconds as f64 * 100.0
        );
    }
    let bars = |f: fn(&Client) -> f64| {
        clients
            .iter()
            .map(|c| (c.name.to_owned(), f(c)))
            .collect::<Vec<_>>()
    };
    let panels = [
        Panel {
            title: "Status requests".into(),
            unit: "requests, fewer is better".into(),
            groups: vec![Group {
                label: format!("{job_seconds} s job"),
                bars: bars(|c| median(&c.requests)),
            }],
        },
        Panel {
            title: "Detection lag".into(),
            unit: "seconds, less is better".into(),
            groups: vec![Group {
                label: format!("{job_seconds} s job"),
                bars: bars(|c| median(&c.lag)),
            }],
        },
    ];
    Section {
        name: "waiting",
        title: "2. Waiting".into(),
        markdown: md,
        targets,
        svg: report::svg(
            "Waiting on a job: status requests and detection lag",
            &panels,
        ),
    }
}
