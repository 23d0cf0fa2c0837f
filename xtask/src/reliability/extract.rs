//! Part 4: `haul sf extract` kept run after run under the fault plan. Per seed, a fresh simulator:
//! an extract, changes through `haul sf ingest` (updates and soft deletes), a second extract; an
//! extract that exits non-zero is run again (as the next scheduled run would) until it lands
//! everything. The dataset the folder holds (`lake.rs`) must equal the fault-free run's.
//!
//! Normalised before comparing, and nothing else: `SystemModstamp` and `LastModifiedDate` of the
//! records the ingest changed (the org stamps a change with its clock, so two runs made at
//! different times differ there). Every other column of every record is compared as is.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use super::expire::Expirer;
use super::lake::{self, Dataset};
use super::probe::Seen;
use super::{EXPIRE_EVERY, FIRST_EXPIRY, Reliability, Section};
use crate::bench::download::thousands;
use crate::bench::measure::{self, Job};
use crate::bench::report::table;
use crate::bench::sim::Sim;

/// The objects extracted, and the field each update sets.
const OBJECTS: [(&str, &str); 3] = [
    ("Account", "Description"),
    ("Contact", "Description"),
    ("Opportunity", "Name"),
];
/// Generated rows of each object.
const ROWS: u64 = 3_000;
/// Attempts of one extract or one ingest before the seed fails: a failed attempt is what a
/// scheduler would run again.
const ATTEMPTS: usize = 5;
/// Of the records sorted by Id, those at `i % UPDATE_EVERY == 3` are updated and those at
/// `i % DELETE_EVERY == 7` deleted (disjoint: one is 3 modulo 5, the other 2).
const UPDATE_EVERY: usize = 10;
const DELETE_EVERY: usize = 25;

/// The changes made between the two extracts: one CSV file an ingest, and the Ids they touch.
#[derive(Debug)]
struct Changes {
    /// (object, operation, file).
    files: Vec<(&'static str, &'static str, PathBuf)>,
    ids: BTreeSet<String>,
    /// The Ids of `ids` deleted (the others are updated).
    deleted: BTreeSet<String>,
}

/// How many times each step ran in one seed.
#[derive(Debug, Default)]
struct Attempts {
    extracts: usize,
    ingests: usize,
}

#[derive(Debug)]
struct Run {
    seed: u64,
    wall: Option<f64>,
    dataset: Option<Dataset>,
    attempts: Attempts,
    seen: Seen,
    expiries: u64,
    failure: Option<String>,
}

pub(super) fn run(rel: &Reliability) -> Result<Section> {
    eprintln!("reliability: extract, fault-free reference");
    let (reference, changes, command) = reference(rel)?;
    let mut runs = Vec::new();
    for seed in 1..=rel.seeds {
        let run = one_seed(rel, seed, &changes, &reference);
        eprintln!(
            "reliability:   extract seed {seed}: {}",
            run.failure.as_deref().unwrap_or("identical")
        );
        runs.push(run);
    }
    Ok(section(&reference, &changes, &command, &runs))
}

fn sim_args() -> Vec<String> {
    OBJECTS
        .iter()
        .flat_map(|(object, _)| ["--rows".into(), format!("{object}={ROWS}")])
        .collect()
}

fn haul(rel: &Reliability, sim: &Sim) -> Job {
    rel.sf_haul(sim, Duration::from_secs(300))
}

fn extract_job(rel: &Reliability, sim: &Sim, dir: &Path) -> Job {
    let objects: Vec<&str> = OBJECTS.iter().map(|(o, _)| *o).collect();
    haul(rel, sim)
        .args(["extract", "--objects", objects.join(",").as_str()])
        .args(["--format", "csv", "--to"])
        .arg(format!("{}/", dir.display()))
}

fn ingest_job(rel: &Reliability, sim: &Sim, object: &str, operation: &str, file: &Path) -> Job {
    haul(rel, sim)
        .args(["ingest", object])
        .arg(file)
        .args(["--operation", operation])
}

/// Runs `job` until it succeeds, at most [`ATTEMPTS`] times; returns how many runs it took.
fn until_success(job: &Job, log: impl Fn(usize) -> PathBuf) -> Result<usize> {
    let mut last = None;
    for attempt in 1..=ATTEMPTS {
        match measure::run(job, &log(attempt)) {
            Ok(_) => return Ok(attempt),
            Err(error) => last = Some(error),
        }
    }
    let error = last.context("no attempt")?;
    Err(error.context(format!("{ATTEMPTS} attempts failed")))
}

/// Extract, changes, extract, each step run again until it succeeds; returns how often each
/// step ran. `log` names a log file.
fn sequence(
    rel: &Reliability,
    sim: &Sim,
    dir: &Path,
    changes: &Changes,
    log: &dyn Fn(&str) -> PathBuf,
) -> Result<Attempts> {
    let mut attempts = Attempts::default();
    let extract = extract_job(rel, sim, dir);
    attempts.extracts += until_success(&extract, |a| log(&format!("extract1-{a}")))?;
    for (object, operation, file) in &changes.files {
        let job = ingest_job(rel, sim, object, operation, file);
        attempts.ingests += until_success(&job, |a| log(&format!("{operation}-{object}-{a}")))?;
    }
    attempts.extracts += until_success(&extract, |a| log(&format!("extract2-{a}")))?;
    Ok(attempts)
}

/// The fault-free run; it also chooses the changes every seed makes. Fails unless every step
/// succeeded at its first attempt and every object holds its generated rows.
fn reference(rel: &Reliability) -> Result<(Dataset, Changes, String)> {
    let sim = Sim::start(
        &rel.root,
        &sim_args(),
        &rel.logs.join("extract-ref-sim.log"),
    )?;
    let dir = rel.work.join("extract-ref");
    let _ = std::fs::remove_dir_all(&dir);
    let log = |name: &str| rel.logs.join(format!("extract-ref-{name}.log"));
    let first = extract_job(rel, &sim, &dir);
    measure::run(&first, &log("extract1")).context("the reference's first extract")?;
    let changes = plan(rel, &lake::read(&dir)?)?;
    after_first(rel, &sim, &dir, &changes, &log)?;
    let mut dataset = lake::read(&dir)?;
    let twice: u64 = dataset.values().map(|t| t.twice).sum();
    if twice > 0 {
        bail!("the fault-free extracts landed {twice} record versions twice");
    }
    for (object, _) in OBJECTS {
        let rows = dataset.get(object).map_or(0, |t| t.rows.len() as u64);
        if rows != ROWS {
            bail!("the fault-free dataset holds {rows} {object} records, not {ROWS}");
        }
    }
    landed(&dataset, &changes)?;
    dataset.values_mut().for_each(|t| t.mask(&changes.ids));
    Ok((
        dataset,
        changes,
        super::report::masked(&first.display(&rel.root), &sim),
    ))
}

/// The reference's steps after its first extract, each at its first attempt: the changes, then
/// the second extract.
fn after_first(
    rel: &Reliability,
    sim: &Sim,
    dir: &Path,
    changes: &Changes,
    log: &dyn Fn(&str) -> PathBuf,
) -> Result<()> {
    for (object, operation, file) in &changes.files {
        let job = ingest_job(rel, sim, object, operation, file);
        measure::run(&job, &log(&format!("{operation}-{object}")))
            .with_context(|| format!("the reference's {operation} of {object}"))?;
    }
    measure::run(&extract_job(rel, sim, dir), &log("extract2"))
        .context("the reference's second extract")?;
    Ok(())
}

/// Fails unless the fault-free dataset holds every change: the updated value, or `IsDeleted`
/// true (else the comparison of the seeds would prove nothing about the second extract).
fn landed(dataset: &Dataset, changes: &Changes) -> Result<()> {
    let mut seen = 0;
    for (object, field) in OBJECTS {
        let table = &dataset[object];
        let column = |name: &str| table.header.iter().position(|c| c == name);
        let (updated, deleted) = (column(field), column("IsDeleted"));
        for (id, row) in table
            .rows
            .iter()
            .filter(|(id, _)| changes.ids.contains(*id))
        {
            let ok = match changes.deleted.contains(id) {
                true => deleted.is_some_and(|c| row[c] == "true"),
                false => updated.is_some_and(|c| row[c].starts_with("Changed ")),
            };
            if !ok {
                bail!("the fault-free second extract did not land the change of {object} {id}");
            }
            seen += 1;
        }
    }
    if seen != changes.ids.len() {
        bail!("{seen} of {} changed records found", changes.ids.len());
    }
    Ok(())
}

/// Writes the update and delete files from the records of the first extract.
fn plan(rel: &Reliability, first: &Dataset) -> Result<Changes> {
    let mut changes = Changes {
        files: Vec::new(),
        ids: BTreeSet::new(),
        deleted: BTreeSet::new(),
    };
    for (object, field) in OBJECTS {
        let table = first
            .get(object)
            .with_context(|| format!("no {object} landed"))?;
        let ids: Vec<&String> = table.rows.keys().collect();
        let update = rel.work.join(format!("extract-update-{object}.csv"));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&update)?);
        writeln!(out, "Id,{field}")?;
        let delete = rel.work.join(format!("extract-delete-{object}.csv"));
        let mut gone = std::io::BufWriter::new(std::fs::File::create(&delete)?);
        writeln!(gone, "Id")?;
        for (i, id) in ids.iter().enumerate() {
            if i % UPDATE_EVERY == 3 {
                // A comma, doubled quotes and a newline: the CSV round trip is part of the test.
                writeln!(
                    out,
                    "{id},\"Changed {i}, \"\"reliability\"\"\nsecond line\""
                )?;
                changes.ids.insert((*id).clone());
            } else if i % DELETE_EVERY == 7 {
                writeln!(gone, "{id}")?;
                changes.ids.insert((*id).clone());
                changes.deleted.insert((*id).clone());
            }
        }
        out.flush()?;
        gone.flush()?;
        changes.files.push((object, "update", update));
        changes.files.push((object, "delete", delete));
    }
    Ok(changes)
}

fn one_seed(rel: &Reliability, seed: u64, changes: &Changes, reference: &Dataset) -> Run {
    let mut run = Run {
        seed,
        wall: None,
        dataset: None,
        attempts: Attempts::default(),
        seen: Seen::default(),
        expiries: 0,
        failure: None,
    };
    let mut args = sim_args();
    args.extend(Reliability::fault_args(seed));
    let log = |name: &str| rel.logs.join(format!("extract-seed{seed}-{name}.log"));
    let sim = match Sim::start(&rel.root, &args, &log("sim")) {
        Ok(sim) => sim,
        Err(error) => {
            run.failure = Some(format!("the simulator did not start: {error:#}"));
            return run;
        }
    };
    let dir = rel.work.join("extract-run");
    let _ = std::fs::remove_dir_all(&dir);
    let started = Instant::now();
    let expirer = Expirer::start(&sim.instance_url, FIRST_EXPIRY, EXPIRE_EVERY);
    let outcome = sequence(rel, &sim, &dir, changes, &log);
    run.expiries = expirer.stop();
    run.wall = Some(started.elapsed().as_secs_f64());
    run.seen = Seen::read(&sim).unwrap_or_default();
    run.failure = match outcome.and_then(|attempts| {
        run.attempts = attempts;
        lake::read(&dir)
    }) {
        Err(error) => Some(format!("{error:#}")),
        Ok(mut dataset) => {
            dataset.values_mut().for_each(|t| t.mask(&changes.ids));
            let problem = judge(reference, &dataset, &run.seen);
            run.dataset = Some(dataset);
            problem
        }
    };
    run
}

/// Why a seed's dataset fails, if it does: a difference, a version landed twice, or a run that
/// proves nothing (no fault, no token refresh).
fn judge(reference: &Dataset, dataset: &Dataset, seen: &Seen) -> Option<String> {
    let mut problems: Vec<String> = lake::difference(reference, dataset).into_iter().collect();
    let twice: u64 = dataset.values().map(|t| t.twice).sum();
    if twice > 0 {
        problems.push(format!("{twice} record versions landed twice"));
    }
    if seen.grants < 2 {
        problems.push("no token refresh happened during the run".into());
    }
    if seen.faults.values().sum::<u64>() == 0 {
        problems.push("no fault was injected: the run proves nothing".into());
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

fn section(reference: &Dataset, changes: &Changes, command: &str, runs: &[Run]) -> Section {
    let failed = runs.iter().filter(|r| r.failure.is_some()).count();
    let objects: Vec<String> = OBJECTS.iter().map(|(o, f)| format!("{o} ({f})")).collect();
    let mut md = String::new();
    let _ = writeln!(
        md,
        "`haul sf extract --objects {} --format csv` of {} generated records of each object \
         (the same data seed in every simulator), then changes through `haul sf ingest`: of each \
         object's records sorted by Id, every {UPDATE_EVERY}th updated (the field named, set to \
         a text with a comma, doubled quotes and a newline) and every {DELETE_EVERY}th deleted \
         ({} records changed in all), then a second extract. A step that exits non-zero is run \
         again, at most {ATTEMPTS} times, as the next scheduled run would be: the contract is \
         that it lands exactly what is missing. The dataset is what a reader of the folder takes: \
         the rows of every complete run (a `run=` folder with `_run.json`), the newest version of \
         each Id by `SystemModstamp`. Compared with the fault-free run's, every column of every \
         record; normalised: `SystemModstamp` and `LastModifiedDate` of the changed records only \
         (the org stamps a change with its clock). A run also fails when a record version landed \
         twice, when no fault was injected or when no token refresh happened.\n",
        OBJECTS.map(|(o, _)| o).join(","),
        thousands(ROWS),
        thousands(changes.ids.len() as u64),
    );
    let _ = writeln!(md, "Objects (field updated): {}.\n", objects.join(", "));
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
    let mut header = vec!["seed", "result", "wall s"];
    header.extend(OBJECTS.map(|(o, _)| o));
    header.extend([
        "extract runs",
        "ingest runs",
        "503",
        "429",
        "reset",
        "truncate",
        "expiries",
        "token grants",
        "401s",
        "requests",
    ]);
    md.push_str(&table(&header, &runs.iter().map(row).collect::<Vec<_>>()));
    let rows: Vec<String> = OBJECTS
        .iter()
        .map(|(o, _)| format!("{o} {}", reference.get(*o).map_or(0, |t| t.rows.len())))
        .collect();
    let _ = writeln!(
        md,
        "\nObject columns: records in the run's dataset (fault-free: {}). Extract runs: 2 when \
         both extracts succeeded at once; ingest runs: {} when every ingest did. Faults, token \
         grants, 401s and requests are the simulator's counts over the whole seed.\n\n\
         Command (the fault-free reference's extract; the faulty runs differ only in the \
         simulator):\n\n```sh\n{command}\n```\n",
        rows.join(", "),
        changes.files.len()
    );
    Section {
        title: "Extract under faults".into(),
        markdown: md,
        failures: runs
            .iter()
            .filter_map(|r| Some(format!("extract seed {}: {}", r.seed, r.failure.as_ref()?)))
            .collect(),
    }
}

fn row(run: &Run) -> Vec<String> {
    let fault = |k: &str| run.seen.faults.get(k).copied().unwrap_or(0).to_string();
    let mut cells = vec![
        run.seed.to_string(),
        super::report::verdict(run.failure.as_deref()),
        run.wall.map_or("–".into(), |w| format!("{w:.1}")),
    ];
    for (object, _) in OBJECTS {
        let records = run.dataset.as_ref().and_then(|d| d.get(object));
        cells.push(records.map_or("–".into(), |t| thousands(t.rows.len() as u64)));
    }
    cells.extend([
        run.attempts.extracts.to_string(),
        run.attempts.ingests.to_string(),
        fault("503"),
        fault("429"),
        fault("reset"),
        fault("truncate"),
        run.expiries.to_string(),
        run.seen.grants.to_string(),
        run.seen.unauthorized.to_string(),
        run.seen.requests.to_string(),
    ]);
    cells
}
