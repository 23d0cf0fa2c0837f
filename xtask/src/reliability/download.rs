//! Part 1: a bulk query downloaded with `haul sf query` under the fault plan, one fresh simulator a
//! seed, compared byte for byte and row by row with a fault-free reference download.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use super::expire::Expirer;
use super::files::{self, CsvFacts};
use super::probe::Seen;
use super::{EXPIRE_EVERY, FIRST_EXPIRY, Reliability, Section};
use crate::bench::download::thousands;
use crate::bench::measure::{self, Job};
use crate::bench::report::table;
use crate::bench::sim::Sim;

/// Description holds quoted newlines, commas and doubled quotes.
pub(crate) const SOQL: &str = "SELECT Id, Name, Industry, NumberOfEmployees, AnnualRevenue, BillingCity, Description, CreatedDate FROM Account";

/// Rows a result page: small pages make hundreds of requests, so that every run meets faults.
const PAGE_ROWS: u64 = 2_000;

/// One seed's run.
#[derive(Debug)]
struct Run {
    seed: u64,
    wall: Option<f64>,
    facts: Option<CsvFacts>,
    lost: u64,
    duplicated: u64,
    identical: bool,
    seen: Seen,
    expiries: u64,
    failure: Option<String>,
}

pub(super) fn run(rel: &Reliability) -> Result<Section> {
    eprintln!(
        "reliability: download, fault-free reference ({} rows)",
        rel.rows
    );
    let reference_path = rel.work.join("download-reference.csv");
    let (reference, reference_command) = reference(rel, &reference_path)?;
    let mut runs = Vec::new();
    let mut command = String::new();
    for seed in 1..=rel.seeds {
        let (run, shown) = one_seed(rel, seed, &reference);
        eprintln!("reliability:   download seed {seed}: {}", summary(&run));
        command = shown;
        runs.push(run);
    }
    let _ = std::fs::remove_file(rel.work.join("download-run.csv"));
    Ok(section(
        rel,
        &reference,
        &reference_command,
        &command,
        &runs,
    ))
}

fn sim_args(rows: u64) -> Vec<String> {
    vec!["--rows".into(), format!("Account={rows}")]
}

/// `haul sf query` against `sim`, with client credentials from the environment.
fn haul_job(rel: &Reliability, sim: &Sim, out: &Path) -> Job {
    rel.sf_haul(sim, Duration::from_secs(900))
        .args(["query", SOQL, "--overwrite"])
        .arg("--max-records")
        .arg(PAGE_ROWS.to_string())
        .arg("-o")
        .arg(out)
}

/// The fault-free download; fails unless it holds exactly the simulator's rows.
fn reference(rel: &Reliability, out: &Path) -> Result<(CsvFacts, String)> {
    let sim = Sim::start(
        &rel.root,
        &sim_args(rel.rows),
        &rel.logs.join("download-ref-sim.log"),
    )?;
    let job = haul_job(rel, &sim, out);
    measure::run(&job, &rel.logs.join("download-ref.log")).context("the reference download")?;
    let facts = files::examine(out)?;
    if facts.rows != rel.rows || facts.ids.len() as u64 != rel.rows {
        bail!(
            "the fault-free reference holds {} rows ({} distinct Ids), not {}",
            facts.rows,
            facts.ids.len(),
            rel.rows
        );
    }
    Ok((facts, super::report::masked(&job.display(&rel.root), &sim)))
}

/// One seed: a faulty simulator, forced token expiries, the download, the comparison.
fn one_seed(rel: &Reliability, seed: u64, reference: &CsvFacts) -> (Run, String) {
    let out = rel.work.join("download-run.csv");
    let mut run = Run {
        seed,
        wall: None,
        facts: None,
        lost: 0,
        duplicated: 0,
        identical: false,
        seen: Seen::default(),
        expiries: 0,
        failure: None,
    };
    let mut args = sim_args(rel.rows);
    args.extend(Reliability::fault_args(seed));
    let log = |name: &str| rel.logs.join(format!("download-seed{seed}-{name}.log"));
    let sim = match Sim::start(&rel.root, &args, &log("sim")) {
        Ok(sim) => sim,
        Err(error) => {
            run.failure = Some(format!("the simulator did not start: {error:#}"));
            return (run, String::new());
        }
    };
    let _ = std::fs::remove_file(&out);
    let job = haul_job(rel, &sim, &out);
    let expirer = Expirer::start(&sim.instance_url, FIRST_EXPIRY, EXPIRE_EVERY);
    let outcome = measure::run(&job, &log("haul"));
    run.expiries = expirer.stop();
    run.seen = Seen::read(&sim).unwrap_or_default();
    match outcome {
        Ok(seen) => run.wall = Some(seen.wall.as_secs_f64()),
        Err(error) => run.failure = Some(format!("haul failed: {error:#}")),
    }
    if run.failure.is_none() {
        compare(&mut run, reference, &out);
    }
    (
        run,
        format!(
            "{}  # simulator: {}",
            super::report::masked(&job.display(&rel.root), &sim),
            sim.command
        ),
    )
}

/// Fills in the comparison with the reference; a difference of any kind fails the run.
fn compare(run: &mut Run, reference: &CsvFacts, out: &Path) {
    let facts = match files::examine(out) {
        Ok(facts) => facts,
        Err(error) => {
            run.failure = Some(format!("the output is not readable CSV: {error:#}"));
            return;
        }
    };
    (run.lost, run.duplicated) = files::lost_and_duplicated(reference, &facts);
    run.identical = facts.sha256 == reference.sha256;
    let mut problems = Vec::new();
    if !run.identical {
        problems.push("SHA-256 differs from the reference".to_owned());
    }
    if run.lost + run.duplicated > 0 {
        problems.push(format!(
            "{} rows lost, {} duplicated",
            run.lost, run.duplicated
        ));
    }
    if run.seen.grants < 2 {
        problems.push("no token refresh happened during the run".to_owned());
    }
    if run.seen.faults.values().sum::<u64>() == 0 {
        problems.push("no fault was injected: the run proves nothing".to_owned());
    }
    if !problems.is_empty() {
        run.failure = Some(problems.join("; "));
    }
    run.facts = Some(facts);
}

fn summary(run: &Run) -> String {
    match &run.failure {
        Some(why) => format!("FAILED: {why}"),
        None => format!(
            "identical, {:.1} s, faults {}, {} token grants",
            run.wall.unwrap_or_default(),
            run.seen.faults_text(),
            run.seen.grants
        ),
    }
}

fn section(
    rel: &Reliability,
    reference: &CsvFacts,
    reference_command: &str,
    command: &str,
    runs: &[Run],
) -> Section {
    let mut md = String::new();
    let failed = runs.iter().filter(|r| r.failure.is_some()).count();
    let compared: u64 = runs
        .iter()
        .filter_map(|r| r.facts.as_ref())
        .map(|f| f.bytes)
        .sum();
    let lost: u64 = runs.iter().map(|r| r.lost).sum();
    let duplicated: u64 = runs.iter().map(|r| r.duplicated).sum();
    let _ = writeln!(
        md,
        "`{SOQL}` over {} Account rows (the Description column holds quoted newlines, commas and \
         doubled quotes), downloaded by `haul sf query --max-records {PAGE_ROWS}` (pages of {PAGE_ROWS} rows, so that a run makes many \
         requests; otherwise its defaults: 8 pages at once, gzip). A run also fails \
         when no fault was injected or no token refresh happened. \
         Reference: one fault-free download, {} bytes, {} rows, SHA-256 `{}`. Then one fresh \
         simulator per seed with the fault plan; each output is compared with the reference by \
         SHA-256, its rows counted with the `csv` crate and its Ids (first column) compared as a \
         multiset: rows lost are reference Ids missing, rows duplicated are Ids beyond their count \
         in the reference.\n",
        thousands(rel.rows),
        thousands(reference.bytes),
        thousands(reference.rows),
        reference.sha256
    );
    let _ = writeln!(
        md,
        "**Result: {} of {} runs byte-identical to the reference; {} bytes compared; rows lost: \
         {lost}; rows duplicated: {duplicated}.**{}\n",
        runs.len() - failed,
        runs.len(),
        thousands(compared),
        if failed > 0 {
            " **FAILED runs are marked below.**"
        } else {
            ""
        }
    );
    md.push_str(&table(&header(), &runs.iter().map(row).collect::<Vec<_>>()));
    let _ = writeln!(
        md,
        "\nToken grants are successful `POST /services/oauth2/token` answers: the first login plus \
         every refresh. Expiries are the forced `POST /__sim/expire-tokens` calls during the run.\n\n\
         Commands (the last seed's; paths relative to the workspace):\n\n```sh\n# reference\n{reference_command}\n# under faults\n{command}\n```\n"
    );
    Section {
        title: "Download under faults".into(),
        markdown: md,
        failures: runs
            .iter()
            .filter_map(|r| Some(format!("download seed {}: {}", r.seed, r.failure.as_ref()?)))
            .collect(),
    }
}

fn header() -> Vec<&'static str> {
    vec![
        "seed",
        "result",
        "wall s",
        "bytes",
        "rows",
        "identical",
        "lost",
        "duplicated",
        "503",
        "429",
        "reset",
        "truncate",
        "expiries",
        "token grants",
        "401s",
        "requests",
    ]
}

fn row(run: &Run) -> Vec<String> {
    let fault = |k: &str| run.seen.faults.get(k).copied().unwrap_or(0).to_string();
    let facts = run.facts.as_ref();
    vec![
        run.seed.to_string(),
        super::report::verdict(run.failure.as_deref()),
        run.wall.map_or("–".into(), |w| format!("{w:.1}")),
        facts.map_or("–".into(), |f| thousands(f.bytes)),
        facts.map_or("–".into(), |f| thousands(f.rows)),
        if run.identical { "yes" } else { "no" }.into(),
        run.lost.to_string(),
        run.duplicated.to_string(),
        fault("503"),
        fault("429"),
        fault("reset"),
        fault("truncate"),
        run.expiries.to_string(),
        run.seen.grants.to_string(),
        run.seen.unauthorized.to_string(),
        run.seen.requests.to_string(),
    ]
}
