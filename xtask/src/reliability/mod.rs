//! `cargo xtask reliability`: haul under injected faults, compared with fault-free runs (Salesforce
//! download, ingest and extract, Looker, Databricks), plus the reliability test suites and the last
//! fuzzing results. Writes `RELIABILITY.md`.
//!
//! ```text
//! cargo xtask reliability [--seeds N] [--quick] [--only download,ingest,looker,extract,databricks,suites]
//! cargo xtask reliability --report
//! ```
//!
//! Every part starts release `haul-sim` children on 127.0.0.1 (killed when dropped) and runs the
//! release `haul` CLI against them, as a user would, through its environment configuration with
//! OAuth client credentials (so that expired tokens are refreshed). Each part's section is kept in
//! `docs/reliability/sections/` (`sections.rs`) and the document is rendered from all of them, so
//! that `--only` re-measures some parts and keeps the others; `--report` only renders it.
//! `--quick` (2 seeds, smaller data) keeps its sections and writes its document under
//! `target/reliability/` instead. The command exits non-zero when any run it measured differs from
//! its fault-free reference or any suite fails (with `--report`, when any kept section failed).

mod databricks;
mod download;
mod expire;
mod extract;
// The Databricks benchmark reads its outputs back as this part does.
pub(crate) mod files;
mod ingest;
mod lake;
mod looker;
mod probe;
mod report;
mod sections;
mod suites;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

pub(crate) use self::databricks::SQL as DATABRICKS_SQL;
use self::sections::Kept;
use crate::bench::measure::Job;
use crate::bench::sim::Sim;

const USAGE: &str = "usage: cargo xtask reliability [--seeds N] [--quick] [--only download,ingest,looker,extract,databricks,suites] [--report]";
/// The parts, in the order the document numbers them.
const PARTS: [&str; 6] = [
    "download",
    "ingest",
    "looker",
    "extract",
    "databricks",
    "suites",
];

/// The fault plan of issue 8, without its seed.
pub(crate) const FAULTS: &str = "503=0.05,429=0.02,reset=0.02,truncate=0.01,retry_after=1";
/// Lifetime of every access token the simulators issue.
pub(crate) const TOKEN_LIFETIME_SECS: u64 = 30;
/// When the first forced expiry (`POST /__sim/expire-tokens`) comes after a run starts, and how
/// often the next ones do: a run shorter than the token lifetime still sees its tokens expire.
pub(crate) const FIRST_EXPIRY: Duration = Duration::from_millis(300);
pub(crate) const EXPIRE_EVERY: Duration = Duration::from_secs(2);

/// Settings and paths shared by the parts.
#[derive(Debug)]
pub(crate) struct Reliability {
    pub(crate) root: PathBuf,
    /// Fault seeds, 1..=N.
    pub(crate) seeds: u64,
    pub(crate) quick: bool,
    /// Account rows of the download.
    pub(crate) rows: u64,
    /// Rows of the ingest file.
    pub(crate) ingest_rows: u64,
    /// Looker query tasks per run.
    pub(crate) looker_tasks: usize,
    /// Rows of the Databricks table downloaded.
    pub(crate) databricks_rows: u64,
    /// `target/reliability`: data, outputs, logs.
    pub(crate) work: PathBuf,
    pub(crate) logs: PathBuf,
}

impl Reliability {
    pub(crate) fn haul(&self) -> PathBuf {
        self.root.join("target/release/haul")
    }

    /// `haul --quiet --json sf` against `sim`, with the simulator's client credentials in its
    /// environment (as a scheduled job would hold them), stopped after `timeout`.
    pub(crate) fn sf_haul(&self, sim: &Sim, timeout: Duration) -> Job {
        Job::new(self.haul(), timeout)
            .env("SF_INSTANCE_URL", sim.instance_url.clone())
            .env("SF_CLIENT_ID", sim.sf_client_id.clone())
            .env("SF_CLIENT_SECRET", sim.sf_client_secret.clone())
            .env("SF_API_VERSION", "62.0")
            .args(["--quiet", "--json", "sf"])
    }

    /// The simulator's `--faults` value for one seed.
    pub(crate) fn plan(seed: u64) -> String {
        format!("{FAULTS},seed={seed}")
    }

    /// The simulator arguments shared by every faulty run: the plan and the token lifetime.
    pub(crate) fn fault_args(seed: u64) -> Vec<String> {
        vec![
            "--faults".into(),
            Self::plan(seed),
            "--token-lifetime-secs".into(),
            TOKEN_LIFETIME_SECS.to_string(),
        ]
    }
}

/// What one part produced: its Markdown, and a line for each run that failed.
#[derive(Debug)]
pub(crate) struct Section {
    /// Without a number: the document numbers the parts in the order of [`PARTS`].
    pub(crate) title: String,
    pub(crate) markdown: String,
    pub(crate) failures: Vec<String>,
}

/// Entry point of `cargo xtask reliability`.
pub(crate) fn run(root: &Path, args: &[String]) -> Result<()> {
    let (settings, only) = parse(root, args)?;
    let dir = sections::dir(&settings);
    let mut failures = Vec::new();
    if !only.is_empty() {
        // The release binaries are built from the tree as it stands now; the suites are compiled
        // when they run, so a commit made meanwhile shows in their section.
        let built_from = report::commit(root);
        build(root)?;
        std::fs::create_dir_all(&settings.logs)?;
        for part in PARTS.iter().filter(|p| only.iter().any(|o| o == *p)) {
            let kept = measure(&settings, part, &built_from);
            failures.extend(kept.failures.iter().cloned());
            sections::save(&dir, part, &kept)?;
        }
    }
    let command = format!("cargo xtask reliability {}", args.join(" "));
    let (document, listed) = report::document(&settings, &dir, &command)?;
    let target = if settings.quick {
        settings.work.join("RELIABILITY-quick.md")
    } else {
        root.join("RELIABILITY.md")
    };
    crate::bench::report::write(&target, &document)?;
    eprintln!("reliability: wrote {}", target.display());
    // Measuring fails on its own runs' failures; rendering alone on any section's.
    if only.is_empty() {
        failures = listed;
    }
    if !failures.is_empty() {
        bail!("{} run(s) failed:\n{}", failures.len(), failures.join("\n"));
    }
    Ok(())
}

/// Measures one part; a part that could not run is kept as a failed section.
fn measure(settings: &Reliability, part: &str, built_from: &str) -> Kept {
    eprintln!("reliability: {part}");
    let outcome = match part {
        "download" => download::run(settings),
        "ingest" => ingest::run(settings),
        "looker" => looker::run(settings),
        "extract" => extract::run(settings),
        "databricks" => databricks::run(settings),
        _ => suites::run(settings),
    };
    let section = outcome.unwrap_or_else(|error| Section {
        title: format!("{part}: FAILED"),
        markdown: format!("The part could not run: `{error:#}`\n"),
        failures: vec![format!("{part}: {error:#}")],
    });
    match part {
        // The suites are compiled from the tree as it is when they run.
        "suites" => Kept::measured(section, &report::commit(&settings.root), None),
        _ => Kept::measured(section, built_from, Some(settings.seeds)),
    }
}

/// The settings, and the parts to measure (none with `--report`).
fn parse(root: &Path, args: &[String]) -> Result<(Reliability, Vec<String>)> {
    let mut seeds = None;
    let mut quick = false;
    let mut only: Vec<String> = PARTS.map(String::from).to_vec();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "--seeds" => {
                let n = words.next().and_then(|n| n.parse().ok());
                seeds = Some(n.filter(|&n: &u64| n >= 1).context(USAGE)?);
            }
            "--quick" => quick = true,
            // Whatever else is asked, --report measures nothing (below).
            "--report" => {}
            "--only" => {
                only = words
                    .next()
                    .context(USAGE)?
                    .split(',')
                    .map(str::to_owned)
                    .collect();
                if let Some(unknown) = only.iter().find(|n| !PARTS.contains(&n.as_str())) {
                    bail!("unknown part {unknown}; {USAGE}");
                }
            }
            _ => bail!(USAGE),
        }
    }
    if args.iter().any(|a| a == "--report") {
        only.clear();
    }
    let work = root.join("target/reliability");
    let settings = Reliability {
        root: root.to_path_buf(),
        seeds: seeds.unwrap_or(if quick { 2 } else { 20 }),
        quick,
        rows: if quick { 100_000 } else { 1_000_000 },
        ingest_rows: if quick { 20_000 } else { 200_000 },
        looker_tasks: if quick { 5 } else { 20 },
        databricks_rows: if quick { 20_000 } else { 200_000 },
        logs: work.join("logs"),
        work,
    };
    Ok((settings, only))
}

/// `cargo build --release -p haul-cli -p haul-sim`.
fn build(root: &Path) -> Result<()> {
    eprintln!("reliability: building release binaries");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .current_dir(root)
        .args(["build", "--release", "-p", "haul-cli", "-p", "haul-sim"])
        .status()?;
    if !built.success() {
        bail!("cargo build --release failed ({built})");
    }
    Ok(())
}
