//! Benchmark 6 (issue 16): a Databricks statement's `EXTERNAL_LINKS` result downloaded. haul
//! (`haul databricks query`, default concurrency, to CSV and to Parquet) against the Databricks
//! SDK for Python's documented way (`execute_statement`, then each chunk's link fetched with
//! `requests` in order, the next through `get_statement_result_chunk_n`) and against a ceiling
//! (curl fetching the same links, listed beforehand, over 8 parallel connections), on loopback and
//! on a simulated WAN.
//!
//! Every run gets a fresh simulator, so that each statement is its first and every contender's
//! chunks are served alike (the simulator keeps the bodies of its first statements in memory and
//! renders later ones again on each download).

mod ceiling;
mod section;
mod targets;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use self::ceiling::Links;
use super::contender::{self, Contender, Order, Trial};
use super::measure::{Job, Measurement};
use super::profile::Profile;
use super::sim::Sim;
use super::{Bench, Section};
use crate::reliability::files;

/// Every column of the generated orders table (as the reliability part reads it).
const SQL: &str = crate::reliability::DATABRICKS_SQL;

/// The benchmark's own figures, besides wall time, CPU and peak RSS.
const ROWS: &str = "rows";
/// Bytes of the output (for the ceiling: of the chunks received).
const BYTES: &str = "bytes";
/// CPU seconds the simulator spent during the run.
const SIM_CPU: &str = "sim CPU s";
/// haul only: the download phase, from its `--json` summary (`elapsed_ms`).
const PHASE: &str = "download phase s";

const HAUL_CSV: &str = "haul → CSV";
const HAUL_PARQUET: &str = "haul → Parquet (ARROW_STREAM)";
const SDK: &str = "databricks-sdk, documented loop → CSV";
const CEILING: &str = "curl ×8 to files (ceiling)";

/// What kind of program a contender is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Haul { parquet: bool },
    Sdk,
    Ceiling,
}

const CONTENDERS: [(&str, Kind); 4] = [
    (HAUL_CSV, Kind::Haul { parquet: false }),
    (HAUL_PARQUET, Kind::Haul { parquet: true }),
    (SDK, Kind::Sdk),
    (CEILING, Kind::Ceiling),
];

/// The Databricks SDK for Python as its API reference and the Statement Execution tutorial use
/// it: one statement with `EXTERNAL_LINKS`, then every chunk's link fetched in order with
/// `requests` (the link's own headers, no `Authorization`), appended to one file.
const SDK_DOWNLOAD: &str = r#"
import json, os, sys, time
import requests
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.sql import Disposition, Format, StatementState
sql, warehouse, out = sys.argv[1:4]
w = WorkspaceClient(host=os.environ["HAUL_DBX_HOST"], token=os.environ["HAUL_DBX_TOKEN"])
r = w.statement_execution.execute_statement(
    statement=sql, warehouse_id=warehouse, disposition=Disposition.EXTERNAL_LINKS,
    format=Format.CSV, wait_timeout="30s")
deadline = time.monotonic() + 600
while r.status.state in (StatementState.PENDING, StatementState.RUNNING):
    if time.monotonic() > deadline:
        raise SystemExit("the statement did not finish")
    time.sleep(0.5)
    r = w.statement_execution.get_statement(r.statement_id)
if r.status.state != StatementState.SUCCEEDED:
    raise SystemExit(f"statement {r.status.state}")
chunks, written = 0, 0
with open(out, "wb") as f:
    link = r.result.external_links[0]
    while True:
        body = requests.get(link.external_link, headers=link.http_headers or {}, timeout=300)
        body.raise_for_status()
        f.write(body.content)
        chunks, written = chunks + 1, written + len(body.content)
        if link.next_chunk_index is None:
            break
        link = w.statement_execution.get_statement_result_chunk_n(
            r.statement_id, link.next_chunk_index).external_links[0]
print(json.dumps({"chunks": chunks, "bytes": written, "records": r.manifest.total_row_count}))
"#;

/// One profile and data size, and what its contenders measured.
#[derive(Debug)]
struct Config {
    profile: Profile,
    rows: u64,
    chunk_rows: u64,
    sim_command: String,
    contenders: Vec<Contender>,
}

impl Config {
    fn find(&self, name: &str) -> Option<&Contender> {
        self.contenders.iter().find(|c| c.name == name)
    }
}

pub(super) fn run(bench: &Bench) -> Result<Section> {
    let sizes: [(Profile, u64); 2] = if bench.quick {
        [(Profile::Loopback, 100_000), (Profile::Wan, 50_000)]
    } else {
        [(Profile::Loopback, 1_000_000), (Profile::Wan, 500_000)]
    };
    let mut configs = Vec::new();
    for (profile, rows) in sizes {
        configs.push(run_config(bench, profile, rows)?);
    }
    Ok(section::section(bench, &configs))
}

/// Rows a chunk: 20 chunks at the loopback size, so that 8 connections have work to share.
fn chunk_rows(bench: &Bench) -> u64 {
    if bench.quick { 5_000 } else { 50_000 }
}

fn run_config(bench: &Bench, profile: Profile, rows: u64) -> Result<Config> {
    eprintln!("bench: databricks, {}, {rows} rows", profile.name());
    let tag = format!("databricks-{}-{rows}", profile.tag());
    let mut args = vec![
        "--databricks-rows".to_owned(),
        rows.to_string(),
        "--databricks-chunk-rows".into(),
        chunk_rows(bench).to_string(),
        "--job-seconds".into(),
        "0".into(),
    ];
    args.extend(profile.sim_args());
    let mut contenders: Vec<Contender> =
        CONTENDERS.iter().map(|(n, _)| Contender::new(*n)).collect();
    let mut trial = Download {
        bench,
        tag: tag.clone(),
        args,
        rows,
        limit: profile.limit(rows, Duration::from_secs(60)),
        sim: None,
        links: None,
        out: bench.work.join("out-databricks"),
        sim_cpu: 0.0,
        sim_command: String::new(),
    };
    contender::rounds(
        bench,
        &tag,
        &mut contenders,
        Order::OneAfterAnother,
        &mut trial,
    )?;
    let _ = std::fs::remove_dir_all(&trial.out);
    Ok(Config {
        profile,
        rows,
        chunk_rows: chunk_rows(bench),
        sim_command: trial.sim_command,
        contenders,
    })
}

/// The benchmark's side of each run: a fresh simulator and output folder, the checks, the figures.
struct Download<'a> {
    bench: &'a Bench,
    tag: String,
    /// The simulator's arguments.
    args: Vec<String>,
    rows: u64,
    limit: Duration,
    /// The simulator of the current run.
    sim: Option<Sim>,
    /// The ceiling's links, listed for the current run.
    links: Option<Links>,
    out: PathBuf,
    /// The simulator's CPU seconds when the run started.
    sim_cpu: f64,
    sim_command: String,
}

impl Download<'_> {
    fn output(&self, kind: Kind) -> PathBuf {
        match kind {
            Kind::Haul { parquet: true } => self.out.join("haul.parquet"),
            Kind::Haul { parquet: false } => self.out.join("haul.csv"),
            Kind::Sdk => self.out.join("sdk.csv"),
            Kind::Ceiling => self.out.join("curl"),
        }
    }

    fn contender_job(&self, sim: &Sim, kind: Kind) -> Result<Job> {
        let db = &sim.databricks;
        let out = self.output(kind);
        Ok(match kind {
            Kind::Haul { .. } => Job::new(self.bench.haul(), self.limit)
                .env("DATABRICKS_HOST", db.host.clone())
                .env("DATABRICKS_TOKEN", db.token.clone())
                .args(["--quiet", "--json", "databricks", "query", SQL])
                .args(["--warehouse", db.warehouse_id.as_str(), "--overwrite", "-o"])
                .arg(out),
            Kind::Sdk => Job::new(&self.bench.python, self.limit)
                .env("HAUL_DBX_HOST", db.host.clone())
                .env("HAUL_DBX_TOKEN", db.token.clone())
                .arg(
                    self.bench
                        .script("databricks_sdk_download.py", SDK_DOWNLOAD)?,
                )
                .args([SQL, db.warehouse_id.as_str()])
                .arg(out),
            Kind::Ceiling => {
                let links = self.links.as_ref().context("the ceiling's links")?;
                let config = self.bench.work.join(format!("{}.curl", self.tag));
                links.write_config(&out, &config)?;
                ceiling::job(&config, self.limit)
            }
        })
    }
}

impl Trial for Download<'_> {
    fn job(&mut self, contender: usize, round: usize) -> Result<Job> {
        let kind = CONTENDERS[contender].1;
        // The last run's simulator stops before the next one starts.
        self.sim = None;
        self.links = None;
        let _ = std::fs::remove_dir_all(&self.out);
        std::fs::create_dir_all(self.output(Kind::Ceiling))?;
        let log = self
            .bench
            .logs
            .join(format!("{}-{contender}-{round}-sim.log", self.tag));
        let sim = Sim::start(&self.bench.root, &self.args, &log)?;
        if kind == Kind::Ceiling {
            self.links = Some(Links::list(&sim, SQL)?);
        }
        let job = self.contender_job(&sim, kind)?;
        self.sim_command = sim.command.clone();
        self.sim_cpu = sim.cpu_seconds();
        self.sim = Some(sim);
        Ok(job)
    }

    fn figures(
        &mut self,
        contender: usize,
        seen: &Measurement,
    ) -> Result<Vec<(&'static str, f64)>> {
        let sim = self.sim.as_ref().context("the run's simulator")?;
        let sim_cpu = sim.cpu_seconds() - self.sim_cpu;
        let (name, kind) = CONTENDERS[contender];
        let output = self.output(kind);
        let (rows, bytes) = match kind {
            Kind::Ceiling => {
                let links = self.links.as_ref().context("the ceiling's links")?;
                (links.rows as f64, links.received(&output, seen)? as f64)
            }
            Kind::Haul { parquet } => {
                reported(name, seen, self.rows)?;
                checked(name, &output, parquet, self.rows)?
            }
            Kind::Sdk => {
                reported(name, seen, self.rows)?;
                checked(name, &output, false, self.rows)?
            }
        };
        let mut figures = vec![(ROWS, rows), (BYTES, bytes), (SIM_CPU, sim_cpu)];
        if let Kind::Haul { .. } = kind {
            figures.push((PHASE, phase(name, seen)?));
        }
        Ok(figures)
    }
}

/// Checks the rows a contender's `--json` summary (or the script's line) reports.
fn reported(name: &str, seen: &Measurement, rows: u64) -> Result<()> {
    let summary: Value = serde_json::from_str(seen.stdout.trim())
        .with_context(|| format!("{name} printed {:?}", seen.stdout))?;
    if summary["records"].as_u64() != Some(rows) {
        bail!("{name} reported {} rows, not {rows}", summary["records"]);
    }
    Ok(())
}

/// haul's download phase in seconds (it starts once the statement has succeeded).
fn phase(name: &str, seen: &Measurement) -> Result<f64> {
    let summary: Value = serde_json::from_str(seen.stdout.trim())?;
    let ms = summary["elapsed_ms"]
        .as_f64()
        .with_context(|| format!("{name}: elapsed_ms"))?;
    Ok(ms / 1000.0)
}

/// Reads the output back: every row there, each `order_id` once. Returns its rows and bytes.
fn checked(name: &str, output: &std::path::Path, parquet: bool, rows: u64) -> Result<(f64, f64)> {
    let facts = if parquet {
        files::examine_parquet(output)?
    } else {
        files::examine(output)?
    };
    if facts.rows != rows || facts.ids.len() as u64 != rows {
        bail!(
            "{name} wrote {} rows ({} distinct order_ids), not {rows}",
            facts.rows,
            facts.ids.len()
        );
    }
    Ok((facts.rows as f64, facts.bytes as f64))
}

/// Millions of rows a second, over the whole command.
fn mrows_per_s(contender: &Contender) -> f64 {
    contender.median(ROWS) / 1e6 / contender.median(contender::WALL)
}
