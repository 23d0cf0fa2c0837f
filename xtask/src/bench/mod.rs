//! `cargo xtask bench`: haul against its peers and against the ceiling, all against haul-sim started
//! as a child process on 127.0.0.1. Writes `BENCHMARKS.md` and one SVG per benchmark in `docs/bench/`.
//!
//! ```text
//! cargo xtask bench [--runs N] [--quick] [--only download,waiting,looker,ingest] [--load-gate L]
//! cargo xtask bench --report
//! ```
//!
//! Each benchmark's section is also kept in `target/bench/sections/`, so that `--only` re-measures
//! some benchmarks and `BENCHMARKS.md` is rebuilt with the others' last sections; `--report` only
//! rebuilds it (after an edit of `notes.md`).

// `cargo xtask reliability` reuses the simulator, measuring and report helpers.
pub(crate) mod download;
mod ingest;
mod looker;
pub(crate) mod measure;
pub(crate) mod report;
pub(crate) mod sim;
mod waiting;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

pub(crate) use report::utc_now;

const USAGE: &str = "usage: cargo xtask bench [--runs N] [--quick] [--only download,waiting,looker,ingest] [--load-gate L] [--report]";
const ALL: [&str; 4] = ["download", "waiting", "looker", "ingest"];

/// What one benchmark produced.
#[derive(Debug)]
pub(crate) struct Section {
    name: &'static str,
    title: String,
    markdown: String,
    /// Markdown list items: each target of issue 7 this benchmark decides, held or missed.
    targets: String,
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

pub(crate) fn run(root: &Path, args: &[String]) -> Result<()> {
    if let Some(("__measure", rest)) = args.split_first().map(|(a, r)| (a.as_str(), r)) {
        return measure::helper(rest);
    }
    let mut runs = 3;
    let mut quick = false;
    let mut load_gate = 1.0;
    let mut only: Vec<String> = ALL.map(String::from).to_vec();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "--runs" => {
                runs = words
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n: &usize| n >= 1)
                    .context(USAGE)?;
            }
            "--quick" => quick = true,
            "--report" => only.clear(),
            "--load-gate" => {
                load_gate = words
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n: &f64| n > 0.0)
                    .context(USAGE)?;
            }
            "--only" => {
                only = words
                    .next()
                    .context(USAGE)?
                    .split(',')
                    .map(str::to_owned)
                    .collect();
                if let Some(unknown) = only.iter().find(|n| !ALL.contains(&n.as_str())) {
                    bail!("unknown benchmark {unknown}; {USAGE}");
                }
            }
            _ => bail!(USAGE),
        }
    }
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
        runs,
        quick,
        load_gate,
        python,
        node_path,
        logs: work.join("logs"),
        work,
        facts: report::machine_facts(root),
        commit,
    };
    std::fs::create_dir_all(&bench.logs)?;
    let sections_dir = bench
        .work
        .join(if quick { "sections-quick" } else { "sections" });
    let mut failures = Vec::new();
    for name in ALL.iter().filter(|n| only.iter().any(|o| o == *n)) {
        let outcome = match *name {
            "download" => download::run(&bench),
            "waiting" => waiting::run(&bench),
            "looker" => looker::run(&bench),
            _ => ingest::run(&bench),
        };
        match outcome {
            Ok(section) => save(&bench, &sections_dir, &section)?,
            Err(error) => {
                eprintln!("bench: {name} failed: {error:#}");
                failures.push(format!("{name}: {error:#}"));
            }
        }
    }
    let document = assemble(&bench, &sections_dir)?;
    let target = if quick {
        bench.work.join("BENCHMARKS-quick.md")
    } else {
        root.join("BENCHMARKS.md")
    };
    report::write(&target, &document)?;
    eprintln!("bench: wrote {}", target.display());
    if !failures.is_empty() {
        bail!("some benchmarks failed:\n{}", failures.join("\n"));
    }
    Ok(())
}

/// Keeps a section for later assembly and writes its chart (full runs only: quick charts stay in
/// `target/bench/`).
fn save(bench: &Bench, dir: &Path, section: &Section) -> Result<()> {
    let svg_dir = if bench.quick {
        bench.work.join("docs-quick")
    } else {
        bench.root.join("docs/bench")
    };
    report::write(&svg_dir.join(format!("{}.svg", section.name)), &section.svg)?;
    let mut stamped = format!(
        "## {}\n\nMeasured {} UTC with binaries built from `{}`, {} runs per figure (median){}, load gate {}.\n\n![{}](docs/bench/{}.svg)\n\n",
        section.title,
        report::utc_now(),
        bench.commit,
        bench.runs,
        if bench.quick {
            ", --quick data sizes"
        } else {
            ""
        },
        bench.load_gate,
        section.title,
        section.name
    );
    stamped.push_str(&section.markdown);
    report::write(&dir.join(format!("{}.md", section.name)), &stamped)?;
    report::write(
        &dir.join(format!("{}.targets.md", section.name)),
        &section.targets,
    )?;
    Ok(())
}

fn assemble(bench: &Bench, dir: &Path) -> Result<String> {
    let mut doc = String::new();
    doc.push_str(
        "# Benchmarks\n\n\
         haul against the clients people use today (simple-salesforce, jsforce, looker_sdk) and against \
         the physical ceiling of this machine, all against haul-sim started as a child process on \
         127.0.0.1. Generated by `cargo xtask bench` (issue 7); do not edit by hand.\n\n\
         ```sh\n\
         cargo xtask bench                 # everything, 3 runs per figure (about an hour)\n\
         cargo xtask bench --runs 5        # more runs per figure\n\
         cargo xtask bench --quick         # smaller data sets, a few minutes; writes target/bench/BENCHMARKS-quick.md\n\
         cargo xtask bench --only waiting  # some benchmarks; the others' last sections are kept\n\
         ```\n\n\
         The command builds release binaries (`cargo build --release -p haul-cli -p haul-sim`), installs \
         the peers under `target/peers/` (as `cargo xtask test` does), then runs each benchmark. Every \
         figure is the median of several runs; the contenders of a comparison run side by side, one \
         after the other in each round, against the same simulator. Before each measured run the \
         benchmark waits (at most 10 minutes) until the 1-minute load average is below 1.0, and the \
         load it saw is reported with each table. Peak RSS and CPU seconds come from the rusage of \
         the contender's own process. Logs of every run are in `target/bench/logs/`.\n\n",
    );
    let _ = writeln!(doc, "## Machine\n\n{}", bench.facts);
    doc.push_str("## Targets of issue 7\n\n");
    for name in ALL {
        match std::fs::read_to_string(dir.join(format!("{name}.targets.md"))) {
            Ok(targets) => doc.push_str(&targets),
            Err(_) => {
                let _ = writeln!(doc, "- {name}: **not measured** in this run.");
            }
        }
    }
    doc.push('\n');
    for name in ALL {
        match std::fs::read_to_string(dir.join(format!("{name}.md"))) {
            Ok(section) => {
                doc.push_str(&section);
                doc.push('\n');
            }
            Err(_) => {
                let _ = writeln!(doc, "## {name}\n\nNot measured.\n");
            }
        }
    }
    if let Ok(notes) = std::fs::read_to_string(bench.root.join("xtask/src/bench/notes.md")) {
        doc.push_str(&notes);
    }
    Ok(doc)
}
