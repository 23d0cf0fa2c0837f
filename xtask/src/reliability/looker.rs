//! Part 3: `haul looker run-many` of several query tasks under the fault plan; every result file must
//! equal the fault-free run's, byte for byte.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use super::expire::Expirer;
use super::files::sha256;
use super::probe::Seen;
use super::{EXPIRE_EVERY, FIRST_EXPIRY, Reliability, Section};
use crate::bench::measure::{self, Job};
use crate::bench::report::table;
use crate::bench::sim::{Sim, curl_json};

/// Seconds a task takes in the simulator.
const TASK_SECONDS: &str = "2";
/// Attempts of each setup request (the queries are stored under faults too; storing one again
/// returns the same id).
const SETUP_ATTEMPTS: usize = 30;

#[derive(Debug)]
struct Run {
    seed: u64,
    wall: Option<f64>,
    seen: Seen,
    expiries: u64,
    failure: Option<String>,
}

pub(super) fn run(rel: &Reliability) -> Result<Section> {
    eprintln!(
        "reliability: looker, fault-free reference ({} tasks)",
        rel.looker_tasks
    );
    let (reference, command) = reference(rel)?;
    let mut runs = Vec::new();
    for seed in 1..=rel.seeds {
        let run = one_seed(rel, seed, &reference);
        eprintln!(
            "reliability:   looker seed {seed}: {}",
            run.failure.as_deref().unwrap_or("identical")
        );
        runs.push(run);
    }
    Ok(section(rel, &reference, &command, &runs))
}

fn sim_args() -> Vec<String> {
    vec!["--job-seconds".into(), TASK_SECONDS.into()]
}

/// A request retried (at most [`SETUP_ATTEMPTS`] times, 200 ms apart) until it succeeds.
fn retried(
    method: &str,
    url: &str,
    auth: Option<&str>,
    body: Option<&str>,
) -> Result<serde_json::Value> {
    let mut last = None;
    for _ in 0..SETUP_ATTEMPTS {
        match curl_json(method, url, auth, body) {
            Ok(value) => return Ok(value),
            Err(error) => last = Some(error),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(last.context("no attempt")?)
}

/// Logs in and stores `n` different queries; returns their ids.
fn create_queries(sim: &Sim, n: usize) -> Result<Vec<String>> {
    let base = &sim.looker_base_url;
    let login = format!(
        "{base}/api/4.0/login?client_id={}&client_secret={}",
        sim.looker_client_id, sim.looker_client_secret
    );
    let token = retried("POST", &login, None, None)?["access_token"]
        .as_str()
        .context("access_token")?
        .to_owned();
    (0..n)
        .map(|i| {
            let body = serde_json::json!({
                "model": "thelook",
                "view": "order_items",
                "fields": ["users.state", "order_items.count"],
                "limit": (100 + i).to_string(),
            });
            let url = format!("{base}/api/4.0/queries");
            let query = retried(
                "POST",
                &url,
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

fn haul_job(rel: &Reliability, sim: &Sim, ids: &[String], out: &Path) -> Job {
    Job::new(rel.haul(), Duration::from_secs(600))
        .env("LOOKER_BASE_URL", sim.looker_base_url.clone())
        .env("LOOKER_CLIENT_ID", sim.looker_client_id.clone())
        .env("LOOKER_CLIENT_SECRET", sim.looker_client_secret.clone())
        .args(["--quiet", "--json", "looker", "run-many"])
        .args(ids)
        .args(["--format", "csv", "-o"])
        .arg(out)
}

/// SHA-256 of each file of the output folder, by name.
fn outputs(dir: &Path) -> Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).with_context(|| dir.display().to_string())? {
        let path = entry?.path();
        files.insert(
            path.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            sha256(&path)?,
        );
    }
    Ok(files)
}

fn reference(rel: &Reliability) -> Result<(BTreeMap<String, String>, String)> {
    let sim = Sim::start(&rel.root, &sim_args(), &rel.logs.join("looker-ref-sim.log"))?;
    let ids = create_queries(&sim, rel.looker_tasks)?;
    let dir = rel.work.join("looker-ref");
    let _ = std::fs::remove_dir_all(&dir);
    let job = haul_job(rel, &sim, &ids, &dir);
    measure::run(&job, &rel.logs.join("looker-ref.log")).context("the reference run")?;
    let files = outputs(&dir)?;
    if files.len() != rel.looker_tasks {
        bail!(
            "the fault-free run wrote {} files, not {}",
            files.len(),
            rel.looker_tasks
        );
    }
    Ok((files, super::report::masked(&job.display(&rel.root), &sim)))
}

fn one_seed(rel: &Reliability, seed: u64, reference: &BTreeMap<String, String>) -> Run {
    let mut run = Run {
        seed,
        wall: None,
        seen: Seen::default(),
        expiries: 0,
        failure: None,
    };
    let mut args = sim_args();
    args.extend(Reliability::fault_args(seed));
    let log = |name: &str| rel.logs.join(format!("looker-seed{seed}-{name}.log"));
    let prepared = Sim::start(&rel.root, &args, &log("sim"))
        .and_then(|sim| Ok((create_queries(&sim, rel.looker_tasks)?, sim)));
    let (ids, sim) = match prepared {
        Ok(prepared) => prepared,
        Err(error) => {
            run.failure = Some(format!("setup failed: {error:#}"));
            return run;
        }
    };
    let dir = rel.work.join("looker-run");
    let _ = std::fs::remove_dir_all(&dir);
    let before = Seen::read(&sim).unwrap_or_default();
    let expirer = Expirer::start(&sim.instance_url, FIRST_EXPIRY, EXPIRE_EVERY);
    let outcome = measure::run(&haul_job(rel, &sim, &ids, &dir), &log("haul"));
    run.expiries = expirer.stop();
    run.seen = since(Seen::read(&sim).unwrap_or_default(), &before);
    run.failure = match outcome.map(|seen| run.wall = Some(seen.wall.as_secs_f64())) {
        Err(error) => Some(format!("haul failed: {error:#}")),
        Ok(()) => match outputs(&dir) {
            Ok(files) if &files == reference && run.seen.grants < 2 => {
                Some("no token refresh happened during the run".into())
            }
            Ok(files) if &files == reference => None,
            Ok(files) => Some(format!(
                "{} files; differing: {}",
                files.len(),
                differing(reference, &files)
            )),
            Err(error) => Some(format!("{error:#}")),
        },
    };
    run
}

/// What the run itself caused: the setup's requests and faults taken out.
fn since(after: Seen, before: &Seen) -> Seen {
    let mut seen = after;
    for (kind, n) in &before.faults {
        seen.faults
            .entry(kind.clone())
            .and_modify(|m| *m = m.saturating_sub(*n));
    }
    seen.grants -= before.grants.min(seen.grants);
    seen.unauthorized -= before.unauthorized.min(seen.unauthorized);
    seen.requests -= before.requests.min(seen.requests);
    seen
}

fn differing(reference: &BTreeMap<String, String>, files: &BTreeMap<String, String>) -> String {
    let names: Vec<&str> = reference
        .keys()
        .chain(files.keys())
        .filter(|k| reference.get(*k) != files.get(*k))
        .map(String::as_str)
        .collect();
    names.join(", ")
}

fn section(
    rel: &Reliability,
    reference: &BTreeMap<String, String>,
    command: &str,
    runs: &[Run],
) -> Section {
    let failed = runs.iter().filter(|r| r.failure.is_some()).count();
    let mut md = String::new();
    let _ = writeln!(
        md,
        "`haul looker run-many` of {} stored queries (CSV), each task taking {TASK_SECONDS} s in the \
         simulator; the queries are stored first with retried requests (not counted below). Every \
         result file is compared by SHA-256 with the fault-free run's ({} files). Looker access \
         tokens expire with the others (`POST /__sim/expire-tokens`); token grants are successful \
         `POST /api/4.0/login` answers.\n\n**Result: {} of {} runs identical to the fault-free \
         run.**{}\n",
        rel.looker_tasks,
        reference.len(),
        runs.len() - failed,
        runs.len(),
        if failed > 0 {
            " **FAILED runs are marked below.**"
        } else {
            ""
        }
    );
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let fault = |k: &str| r.seen.faults.get(k).copied().unwrap_or(0).to_string();
            vec![
                r.seed.to_string(),
                super::report::verdict(r.failure.as_deref()),
                r.wall.map_or("–".into(), |w| format!("{w:.1}")),
                fault("503"),
                fault("429"),
                fault("reset"),
                fault("truncate"),
                r.expiries.to_string(),
                r.seen.grants.to_string(),
                r.seen.unauthorized.to_string(),
                r.seen.requests.to_string(),
            ]
        })
        .collect();
    md.push_str(&table(
        &[
            "seed",
            "result",
            "wall s",
            "503",
            "429",
            "reset",
            "truncate",
            "expiries",
            "token grants",
            "401s",
            "requests",
        ],
        &rows,
    ));
    let _ = writeln!(
        md,
        "\nCommand (fault-free reference):\n\n```sh\n{command}\n```\n"
    );
    Section {
        title: "Looker under faults".into(),
        markdown: md,
        failures: runs
            .iter()
            .filter_map(|r| Some(format!("looker seed {}: {}", r.seed, r.failure.as_ref()?)))
            .collect(),
    }
}
