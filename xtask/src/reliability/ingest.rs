//! Part 2: a CSV inserted into Account with `haul sf ingest`, split into several jobs, under the fault
//! plan; its summary and its three result files compared with a fault-free run's.
//!
//! Normalised before comparing, and nothing else: the ingest job ids in the summary (each simulator
//! numbers its jobs in the order they are created), and the `sf__Id` column of `successful.csv` (the
//! record Ids the simulator assigns, checked instead to be present and distinct). Row order, every
//! other column, `failed.csv` (with its `sf__Error` texts) and `unprocessed.csv` must be identical.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use super::expire::Expirer;
use super::probe::Seen;
use super::{EXPIRE_EVERY, FIRST_EXPIRY, Reliability, Section};
use crate::bench::download::thousands;
use crate::bench::measure::{self, Job};
use crate::bench::report::table;
use crate::bench::sim::Sim;

/// Each job holds at most this many bytes, so that the file makes several jobs.
fn max_job_bytes(rel: &Reliability) -> u64 {
    if rel.quick { 250_000 } else { 4_000_000 }
}

/// What one run left: the normalised summary and result files.
#[derive(Debug, PartialEq)]
struct Results {
    summary: Value,
    successful: Vec<Vec<String>>,
    failed: Vec<Vec<String>>,
    unprocessed: Vec<Vec<String>>,
}

#[derive(Debug)]
struct Run {
    seed: u64,
    wall: Option<f64>,
    jobs: usize,
    seen: Seen,
    expiries: u64,
    failure: Option<String>,
}

pub(super) fn run(rel: &Reliability) -> Result<Section> {
    let csv = rel.work.join(format!("ingest-{}.csv", rel.ingest_rows));
    let failing = generate(&csv, rel.ingest_rows)?;
    eprintln!(
        "reliability: ingest, fault-free reference ({} rows)",
        rel.ingest_rows
    );
    let (reference, command) = reference(rel, &csv)?;
    let mut runs = Vec::new();
    for seed in 1..=rel.seeds {
        let run = one_seed(rel, seed, &csv, &reference);
        eprintln!(
            "reliability:   ingest seed {seed}: {}",
            run.failure.as_deref().unwrap_or("identical")
        );
        runs.push(run);
    }
    Ok(section(rel, &reference, failing, &command, &runs))
}

/// Writes `rows` Account rows (a fixed sequence): every 50th has no Name and fails with
/// REQUIRED_FIELD_MISSING; every 7th Description holds a quoted newline, comma and quotes.
/// Returns how many rows should fail.
fn generate(path: &Path, rows: u64) -> Result<u64> {
    const INDUSTRIES: [&str; 4] = ["Banking", "Retail", "Energy", "Media"];
    std::fs::create_dir_all(path.parent().context("a folder")?)?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        out,
        "Name,Industry,NumberOfEmployees,BillingCity,Description"
    )?;
    let mut failing = 0;
    for i in 0..rows {
        let name = if i % 50 == 49 {
            failing += 1;
            String::new()
        } else {
            format!("Reliability Co {i}")
        };
        let description = if i % 7 == 0 {
            format!("\"Row {i}, line one\nline \"\"two\"\"\"")
        } else {
            format!("Row {i}")
        };
        let industry = INDUSTRIES[(i % 4) as usize];
        writeln!(
            out,
            "{name},{industry},{},Lyon,{description}",
            i % 9_000 + 1
        )?;
    }
    out.flush()?;
    Ok(failing)
}

fn haul_job(rel: &Reliability, sim: &Sim, csv: &Path, results: &Path) -> Job {
    rel.sf_haul(sim, Duration::from_secs(900))
        .args(["ingest", "Account"])
        .arg(csv)
        .args([
            "--operation",
            "insert",
            "--concurrency",
            "4",
            "--max-job-bytes",
        ])
        .arg(max_job_bytes(rel).to_string())
        .arg("--results")
        .arg(results)
}

fn sim_args() -> Vec<String> {
    vec!["--rows".into(), "Account=1000".into()]
}

fn reference(rel: &Reliability, csv: &Path) -> Result<(Results, String)> {
    let sim = Sim::start(&rel.root, &sim_args(), &rel.logs.join("ingest-ref-sim.log"))?;
    let dir = rel.work.join("ingest-ref");
    let _ = std::fs::remove_dir_all(&dir);
    let job = haul_job(rel, &sim, csv, &dir);
    let seen =
        measure::run(&job, &rel.logs.join("ingest-ref.log")).context("the reference ingest")?;
    let results = read(&seen.stdout, &dir)?;
    if results.summary["records_processed"].as_u64() != Some(rel.ingest_rows) {
        bail!(
            "the fault-free ingest processed {}, not {} rows",
            results.summary,
            rel.ingest_rows
        );
    }
    Ok((
        results,
        super::report::masked(&job.display(&rel.root), &sim),
    ))
}

fn one_seed(rel: &Reliability, seed: u64, csv: &Path, reference: &Results) -> Run {
    let mut run = Run {
        seed,
        wall: None,
        jobs: 0,
        seen: Seen::default(),
        expiries: 0,
        failure: None,
    };
    let mut args = sim_args();
    args.extend(Reliability::fault_args(seed));
    let log = |name: &str| rel.logs.join(format!("ingest-seed{seed}-{name}.log"));
    let sim = match Sim::start(&rel.root, &args, &log("sim")) {
        Ok(sim) => sim,
        Err(error) => {
            run.failure = Some(format!("the simulator did not start: {error:#}"));
            return run;
        }
    };
    let dir = rel.work.join("ingest-run");
    let _ = std::fs::remove_dir_all(&dir);
    let expirer = Expirer::start(&sim.instance_url, FIRST_EXPIRY, EXPIRE_EVERY);
    let outcome = measure::run(&haul_job(rel, &sim, csv, &dir), &log("haul"));
    run.expiries = expirer.stop();
    run.seen = Seen::read(&sim).unwrap_or_default();
    let results = outcome
        .map_err(|e| format!("haul failed: {e:#}"))
        .and_then(|seen| {
            run.wall = Some(seen.wall.as_secs_f64());
            read(&seen.stdout, &dir).map_err(|e| format!("{e:#}"))
        });
    run.failure = match results {
        Err(why) => Some(why),
        Ok(results) => {
            run.jobs = results.summary["jobs"].as_array().map_or(0, Vec::len);
            difference(reference, &results).or_else(|| {
                (run.seen.grants < 2).then(|| "no token refresh happened during the run".into())
            })
        }
    };
    run
}

/// What differs between the reference and a run, if anything.
fn difference(reference: &Results, run: &Results) -> Option<String> {
    let mut problems = Vec::new();
    if run.summary != reference.summary {
        problems.push(format!(
            "summary {} differs from {}",
            run.summary, reference.summary
        ));
    }
    for (name, a, b) in [
        ("successful.csv", &reference.successful, &run.successful),
        ("failed.csv", &reference.failed, &run.failed),
        ("unprocessed.csv", &reference.unprocessed, &run.unprocessed),
    ] {
        if a != b {
            let first = a
                .iter()
                .zip(b)
                .position(|(x, y)| x != y)
                .unwrap_or(a.len().min(b.len()));
            problems.push(format!(
                "{name}: {} vs {} rows, first difference at row {first}",
                a.len(),
                b.len()
            ));
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// The summary (job ids removed) and the result files (successful `sf__Id`s checked, then masked).
fn read(stdout: &str, dir: &Path) -> Result<Results> {
    let mut summary: Value =
        serde_json::from_str(stdout.trim()).context("haul's --json summary")?;
    for job in summary["jobs"].as_array_mut().into_iter().flatten() {
        job.as_object_mut().map(|j| j.remove("id"));
    }
    let mut successful = rows(&dir.join("successful.csv"))?;
    let mut ids = std::collections::HashSet::new();
    for row in successful.iter_mut().skip(1) {
        let id = row.first_mut().context("an sf__Id column")?;
        if id.is_empty() || !ids.insert(std::mem::replace(id, "<id>".into())) {
            bail!("successful.csv has an empty or repeated sf__Id");
        }
    }
    Ok(Results {
        summary,
        successful,
        failed: rows(&dir.join("failed.csv"))?,
        unprocessed: rows(&dir.join("unprocessed.csv"))?,
    })
}

/// Every row of a CSV file, the header included (quoted newlines respected).
fn rows(path: &PathBuf) -> Result<Vec<Vec<String>>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .with_context(|| path.display().to_string())?;
    reader
        .records()
        .map(|r| Ok(r?.iter().map(str::to_owned).collect()))
        .collect()
}

fn section(
    rel: &Reliability,
    reference: &Results,
    failing: u64,
    command: &str,
    runs: &[Run],
) -> Section {
    let failed = runs.iter().filter(|r| r.failure.is_some()).count();
    let jobs = reference.summary["jobs"].as_array().map_or(0, Vec::len);
    let mut md = String::new();
    let _ = writeln!(
        md,
        "`haul sf ingest Account` of a generated CSV of {} rows ({} of them without the required Name, \
         so they fail; every 7th Description holds a quoted newline, comma and doubled quotes), split \
         into jobs of at most {} bytes ({jobs} jobs), 4 at once, results written with `--results`. \
         Fault-free reference summary: `{}`. Normalised before comparing: the job ids in the \
         summary, and the `sf__Id` column of `successful.csv` (checked non-empty and distinct, then \
         masked); everything else is compared as is, row order included.\n",
        thousands(rel.ingest_rows),
        thousands(failing),
        thousands(max_job_bytes(rel)),
        reference.summary,
    );
    let _ = writeln!(
        md,
        "**Result: {} of {} runs identical to the fault-free run.**{}\n",
        runs.len() - failed,
        runs.len(),
        if failed > 0 {
            " **FAILED runs are marked below.**"
        } else {
            ""
        }
    );
    let rows: Vec<Vec<String>> = runs.iter().map(row).collect();
    md.push_str(&table(
        &[
            "seed",
            "result",
            "wall s",
            "jobs",
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
        "\nCommand (fault-free reference; the faulty runs differ only in the simulator):\n\n```sh\n{command}\n```\n"
    );
    Section {
        title: "Ingest under faults".into(),
        markdown: md,
        failures: runs
            .iter()
            .filter_map(|r| Some(format!("ingest seed {}: {}", r.seed, r.failure.as_ref()?)))
            .collect(),
    }
}

fn row(run: &Run) -> Vec<String> {
    let fault = |k: &str| run.seen.faults.get(k).copied().unwrap_or(0).to_string();
    vec![
        run.seed.to_string(),
        super::report::verdict(run.failure.as_deref()),
        run.wall.map_or("–".into(), |w| format!("{w:.1}")),
        run.jobs.to_string(),
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
