//! `cargo xtask bench`: haul against its peers and against the ceiling, all against haul-sim started
//! as a child process on 127.0.0.1. Writes `BENCHMARKS.md` and one SVG per benchmark in `docs/bench/`.
//!
//! ```text
//! cargo xtask bench [--runs N] [--quick] [--only download,waiting,looker,ingest,parquet,extract,databricks] [--load-gate L]
//! cargo xtask bench --report
//! ```
//!
//! Each benchmark's section is also kept in `docs/bench/sections/` (a quick run's under
//! `target/bench/`), so that `--only` re-measures some benchmarks and `BENCHMARKS.md` is rebuilt
//! with the others' last sections; `--report` only rebuilds it (after an edit of `notes.md`).

mod contender;
mod databricks;
mod document;
// `cargo xtask reliability` reuses the simulator, measuring and report helpers.
pub(crate) mod download;
mod extract;
mod ingest;
mod looker;
pub(crate) mod measure;
mod parquet;
mod profile;
pub(crate) mod report;
pub(crate) mod sim;
mod target;
mod waiting;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

pub(crate) use report::utc_now;

const USAGE: &str = "usage: cargo xtask bench [--runs N] [--quick] [--only download,waiting,looker,ingest,parquet,extract,databricks] [--load-gate L] [--report]";
const ALL: [&str; 7] = [
    "download",
    "waiting",
    "looker",
    "ingest",
    "parquet",
    "extract",
    "databricks",
];

/// What one benchmark produced.
#[derive(Debug)]
pub(crate) struct Section {
    name: &'static str,
    title: String,
    markdown: String,
    /// The targets this benchmark decides.
    targets: Vec<target::Target>,
    /// Markdown list items for figures the summary shows that no target decides.
    untargeted: Vec<String>,
    svg: String,
}

/// Settings and paths shared by the benchmarks.
#[derive(Debug)]
pub(crate) struct Bench {
    root: PathBuf,
    runs: usize,
    quick: bool,
    /// Each measured run waits until the 1-minute load average is below this.
    load_gate: f64,
    python: PathBuf,
    node_path: PathBuf,
    /// `target/bench`: data, outputs, scripts.
    work: PathBuf,
    logs: PathBuf,
    /// `git describe --always --dirty` of the tree the binaries were built from.
    commit: String,
    facts: String,
}

impl Bench {
    fn haul(&self) -> PathBuf {
        self.root.join("target/release/haul")
    }

    /// Waits (at most 10 minutes) for the 1-minute load to fall below the gate; returns the load then.
    fn gate(&self) -> String {
        report::wait_for_quiet(self.load_gate, Duration::from_secs(600))
    }

    /// Writes a peer script under `target/bench/scripts/` and returns its path.
    fn script(&self, name: &str, text: &str) -> Result<PathBuf> {
        let path = self.work.join("scripts").join(name);
        report::write(&path, text.trim_start())?;
        Ok(path)
    }
}

/// What the command line asked for.
#[derive(Debug)]
struct Options {
    runs: usize,
    quick: bool,
    load_gate: f64,
    /// The benchmarks to measure; none with `--report`.
    only: Vec<String>,
}

pub(crate) fn run(root: &Path, args: &[String]) -> Result<()> {
    if let Some(("__measure", rest)) = args.split_first().map(|(a, r)| (a.as_str(), r)) {
        return measure::helper(rest);
    }
    let options = parse(args)?;
    let bench = prepare(root, &options)?;
    let sections_dir = document::sections_dir(&bench);
    let mut failures = Vec::new();
    for name in ALL.iter().filter(|n| options.only.iter().any(|o| o == *n)) {
        let outcome = match *name {
            "download" => download::run(&bench),
            "waiting" => waiting::run(&bench),
            "looker" => looker::run(&bench),
            "ingest" => ingest::run(&bench),
            "extract" => extract::run(&bench),
            "databricks" => databricks::run(&bench),
            _ => parquet::run(&bench),
        };
        match outcome {
            Ok(section) => document::save(&bench, &sections_dir, &section)?,
            Err(error) => {
                eprintln!("bench: {name} failed: {error:#}");
                failures.push(format!("{name}: {error:#}"));
            }
        }
    }
    document::write(&bench, &sections_dir)?;
    if !failures.is_empty() {
        bail!("some benchmarks failed:\n{}", failures.join("\n"));
    }
    Ok(())
}

fn parse(args: &[String]) -> Result<Options> {
    let mut options = Options {
        runs: 3,
        quick: false,
        load_gate: 1.0,
        only: ALL.map(String::from).to_vec(),
    };
    let mut words = args.iter();
    while let Some(word) = words.next() {
        let mut value = || words.next().context(USAGE);
        match word.as_str() {
            "--runs" => {
                options.runs = value()?.parse().ok().filter(|&n| n >= 1).context(USAGE)?;
            }
            "--quick" => options.quick = true,
            "--report" => options.only.clear(),
            "--load-gate" => {
                options.load_gate = value()?.parse().ok().filter(|&n| n > 0.0).context(USAGE)?;
            }
            "--only" => {
                options.only = value()?.split(',').map(str::to_owned).collect();
                if let Some(unknown) = options.only.iter().find(|n| !ALL.contains(&n.as_str())) {
                    bail!("unknown benchmark {unknown}; {USAGE}");
                }
            }
            _ => bail!(USAGE),
        }
    }
    Ok(options)
}

/// Builds the release binaries, installs the peers and gathers the facts of the machine.
fn prepare(root: &Path, options: &Options) -> Result<Bench> {
    eprintln!("bench: building release binaries");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .current_dir(root)
        .args(["build", "--release", "-p", "haul-cli", "-p", "haul-sim"])
        .status()?;
    if !built.success() {
        bail!("cargo build --release failed ({built})");
    }
    let peers = root.join("target/peers");
    std::fs::create_dir_all(&peers)?;
    let python = crate::test::install_python_peers(root, &peers)?;
    let node_path = crate::test::install_node_peers(root, &peers)?;
    let work = root.join("target/bench");
    let commit = Command::new("git")
        .current_dir(root)
        .args(["describe", "--always", "--dirty"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let bench = Bench {
        root: root.to_path_buf(),
        runs: options.runs,
        quick: options.quick,
        load_gate: options.load_gate,
        python,
        node_path,
        logs: work.join("logs"),
        work,
        facts: report::machine_facts(root),
        commit,
    };
    std::fs::create_dir_all(&bench.logs)?;
    Ok(bench)
}
