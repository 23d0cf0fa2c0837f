//! Benchmark 2: waiting on a job that runs 60 s. Status requests sent and detection lag (time from
//! the job's completion to the client's exit) for haul, simple-salesforce and jsforce, each against
//! its own simulator, all three at once.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use super::contender::{self, Contender, Order, Trial, WALL};
use super::measure::{Job, Measurement};
use super::report::{self, Group, Panel, table, thousands};
use super::sim::Sim;
use super::target::{Bound, Target};
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

/// The benchmark's own figures.
const REQUESTS: &str = "status requests";
const LAG: &str = "detection lag s";

/// The clients and their poll schedules.
const CLIENTS: [(&str, &str); 3] = [
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

pub(super) fn run(bench: &Bench) -> Result<Section> {
    let job_seconds: u64 = if bench.quick { 20 } else { 60 };
    let mut clients: Vec<Contender> = CLIENTS.iter().map(|(n, _)| Contender::new(*n)).collect();
    let mut trial = Waiting {
        bench,
        job_seconds,
        sims: Vec::new(),
        out: bench.work.join("out-waiting"),
    };
    contender::rounds(bench, "waiting", &mut clients, Order::AllAtOnce, &mut trial)?;
    let sim_command = trial
        .sims
        .first()
        .map(|s| s.command.clone())
        .unwrap_or_default();
    Ok(section(bench, &clients, job_seconds, &sim_command))
}

/// Each client against its own simulator, so that each simulator counts one client's requests.
struct Waiting<'a> {
    bench: &'a Bench,
    job_seconds: u64,
    /// This round's simulators, by client.
    sims: Vec<Sim>,
    out: PathBuf,
}

impl Trial for Waiting<'_> {
    fn job(&mut self, client: usize, round: usize) -> Result<Job> {
        let bench = self.bench;
        if client == 0 {
            self.sims.clear();
            let _ = std::fs::remove_dir_all(&self.out);
            std::fs::create_dir_all(&self.out)?;
        }
        let sim_args = [
            "--rows".to_owned(),
            format!("Account={ROWS}"),
            "--job-seconds".into(),
            self.job_seconds.to_string(),
        ];
        let log = bench.logs.join(format!("waiting-sim-{client}-{round}.log"));
        let sim = Sim::start(&bench.root, &sim_args, &log)?;
        let limit = Duration::from_secs(self.job_seconds * 3 + 60);
        let job = match client {
            0 => Job::new(bench.haul(), limit)
                .env("SF_INSTANCE_URL", sim.instance_url.clone())
                .env("SF_ACCESS_TOKEN", sim.access_token.clone())
                .env("SF_API_VERSION", "62.0")
                .args([
                    "--quiet",
                    "--json",
                    "sf",
                    "query",
                    SOQL,
                    "--overwrite",
                    "-o",
                ])
                .arg(self.out.join("haul.csv")),
            1 => Job::new(&bench.python, limit)
                .arg(bench.script("ssf_wait.py", SSF_WAIT)?)
                .args([&sim.instance_url, &sim.access_token, SOQL])
                .arg(&self.out),
            _ => Job::new("node", limit)
                .env("NODE_PATH", bench.node_path.display().to_string())
                .arg(bench.script("jsforce_wait.js", JSFORCE_WAIT)?)
                .args([&sim.instance_url, &sim.access_token, SOQL]),
        };
        self.sims.push(sim);
        Ok(job)
    }

    fn figures(&mut self, client: usize, seen: &Measurement) -> Result<Vec<(&'static str, f64)>> {
        let (requests, completed_ms) = job_facts(&self.sims[client])?;
        let lag = (seen.ended_unix_ms as i64 - completed_ms) as f64 / 1000.0;
        Ok(vec![(REQUESTS, requests as f64), (LAG, lag)])
    }
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

fn section(bench: &Bench, clients: &[Contender], job_seconds: u64, sim_command: &str) -> Section {
    let mut md = String::new();
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
        report::load_range(&contender::loads(clients))
    );
    md.push_str(&waiting_table(clients, job_seconds));
    md.push_str("\nCommands (one round):\n\n");
    md.push_str(&report::commands(
        clients
            .iter()
            .map(|c| (c.name.as_str(), c.command.as_str())),
    ));
    Section {
        name: "waiting",
        title: "2. Waiting".into(),
        markdown: md,
        targets: targets(clients, job_seconds),
        untargeted: Vec::new(),
        svg: report::svg(
            "Waiting on a job: status requests and detection lag",
            &panels(clients, job_seconds),
        ),
    }
}

fn waiting_table(clients: &[Contender], job_seconds: u64) -> String {
    let rows: Vec<Vec<String>> = clients
        .iter()
        .zip(CLIENTS)
        .map(|(c, (_, schedule))| {
            vec![
                c.name.clone(),
                schedule.to_owned(),
                format!("{:.0}", c.median(REQUESTS)),
                format!("{:.2}", c.median(LAG)),
                format!("{:.1}%", c.median(LAG) / job_seconds as f64 * 100.0),
                format!("{:.1}", c.median(WALL)),
            ]
        })
        .collect();
    table(
        &[
            "client",
            "poll schedule",
            "status requests",
            "detection lag s",
            "lag / job time",
            "wall s",
        ],
        &rows,
    )
}

/// haul sends at most a quarter of simple-salesforce's status requests, and notices the job's end
/// within 10% of its run time.
fn targets(clients: &[Contender], job_seconds: u64) -> Vec<Target> {
    let [haul, peer, ..] = clients else {
        return Vec::new();
    };
    let (requests, peer_requests) = (haul.median(REQUESTS), peer.median(REQUESTS));
    let lag = haul.median(LAG);
    vec![
        Target::ratio(
            format!(
                "Waiting ({job_seconds} s job): haul's status requests against simple-salesforce's"
            ),
            (requests, peer_requests),
            Bound::AtMost(0.25),
            format!("{requests:.0} vs {peer_requests:.0}"),
        ),
        Target::ratio(
            format!("Waiting ({job_seconds} s job): haul's detection lag against the job time"),
            (lag, job_seconds as f64),
            Bound::AtMost(0.1),
            format!("{lag:.2} s of {job_seconds} s"),
        ),
    ]
}

fn panels(clients: &[Contender], job_seconds: u64) -> [Panel; 2] {
    let group = |figure: &str| Group {
        label: format!("{job_seconds} s job"),
        bars: clients
            .iter()
            .map(|c| (c.name.clone(), c.median(figure)))
            .collect(),
    };
    [
        Panel {
            title: "Status requests".into(),
            unit: "requests, fewer is better".into(),
            groups: vec![group(REQUESTS)],
        },
        Panel {
            title: "Detection lag".into(),
            unit: "seconds, less is better".into(),
            groups: vec![group(LAG)],
        },
    ]
}
