//! Benchmark 6 (issue 15): `haul sf extract` against Airbyte's Salesforce source, side by side in
//! one round against one simulator: haul's full run, Airbyte's full run, then an update of 1% of
//! each object's rows (`haul sf ingest`, unmeasured), then each one's incremental run. Every run's
//! requests come from the simulator's counts, and Airbyte's rows are compared with haul's, object
//! by object, by (Id, SystemModstamp).

mod airbyte;
mod helper;
mod section;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use self::airbyte::Airbyte;
use super::contender::{self, Contender, Order, Trial};
use super::measure::{Job, Measurement};
use super::sim::{Sim, Stats};
use super::{Bench, Section};

/// The objects extracted, each with the field the update changes.
const OBJECTS: [(&str, &str); 4] = [
    ("Account", "Description"),
    ("Contact", "Description"),
    ("Opportunity", "Name"),
    ("Case", "Description"),
];

/// The contenders, in the order a round runs them.
const RUNS: [(Tool, Phase); 4] = [
    (Tool::Haul, Phase::Full),
    (Tool::Airbyte, Phase::Full),
    (Tool::Haul, Phase::Incremental),
    (Tool::Airbyte, Phase::Incremental),
];

/// Figures of every run.
const ROWS: &str = "rows";
const ROWS_PER_S: &str = "rows/s";
const REQUESTS: &str = "API requests";
const JOBS: &str = "bulk jobs";
const REST_QUERIES: &str = "REST queries";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    Haul,
    Airbyte,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Full,
    Incremental,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Self::Haul => "haul sf extract",
            Self::Airbyte => "Airbyte source-salesforce",
        }
    }
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Self::Full => "full run",
            Self::Incremental => "incremental run",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Incremental => "incremental",
        }
    }
}

/// One object's rows as both tools landed them in one run.
#[derive(Debug, Clone)]
pub(super) struct Comparison {
    phase: Phase,
    object: String,
    haul_rows: u64,
    airbyte_records: u64,
    airbyte_ids: u64,
    missing: u64,
    extra: u64,
    different: u64,
}

/// What the section reports besides the contenders' figures.
#[derive(Debug)]
pub(super) struct Setup {
    rows_each: u64,
    sim_command: String,
    versions: String,
    /// Rows each object's update changed.
    updated: BTreeMap<String, u64>,
    /// The last round's comparisons.
    comparisons: Vec<Comparison>,
}

pub(super) fn run(bench: &Bench) -> Result<Section> {
    let rows_each: u64 = if bench.quick { 5_000 } else { 50_000 };
    let airbyte = Airbyte::install(bench)?;
    let mut contenders: Vec<Contender> = RUNS
        .iter()
        .map(|(tool, phase)| Contender::new(format!("{}, {}", tool.name(), phase.name())))
        .collect();
    let mut trial = Extract {
        bench,
        setup: Setup {
            rows_each,
            sim_command: String::new(),
            versions: airbyte.versions.clone(),
            updated: BTreeMap::new(),
            comparisons: Vec::new(),
        },
        airbyte,
        lake: bench.work.join("out-extract/lake/"),
        sim: None,
        before: Stats::default(),
        haul_runs: BTreeMap::new(),
    };
    contender::rounds(
        bench,
        "extract",
        &mut contenders,
        Order::OneAfterAnother,
        &mut trial,
    )?;
    let _ = std::fs::remove_dir_all(bench.work.join("out-extract"));
    Ok(section::section(bench, &contenders, &trial.setup))
}

/// The benchmark's side of each run: a fresh simulator each round, the update between the full
/// and the incremental runs, the request counts and the comparisons.
struct Extract<'a> {
    bench: &'a Bench,
    setup: Setup,
    airbyte: Airbyte,
    lake: PathBuf,
    sim: Option<Sim>,
    /// The simulator's counts before the run being measured.
    before: Stats,
    /// haul's run id of each phase in this round.
    haul_runs: BTreeMap<&'static str, String>,
}

impl Extract<'_> {
    fn objects() -> String {
        OBJECTS.map(|(object, _)| object).join(",")
    }

    /// A fresh simulator with `rows_each` rows of every object, and fresh outputs.
    fn start(&mut self, round: usize) -> Result<()> {
        self.sim = None;
        let mut args = Vec::new();
        for (object, _) in OBJECTS {
            args.extend([
                "--rows".to_owned(),
                format!("{object}={}", self.setup.rows_each),
            ]);
        }
        let log = self.bench.logs.join(format!("extract-sim-{round}.log"));
        let sim = self.sim.insert(Sim::start(&self.bench.root, &args, &log)?);
        self.setup.sim_command = sim.command.clone();
        let _ = std::fs::remove_dir_all(&self.lake);
        std::fs::create_dir_all(&self.lake)?;
        self.airbyte.prepare(sim)?;
        self.airbyte.discover(self.bench, sim, &Self::objects())?;
        self.haul_runs.clear();
        Ok(())
    }

    fn sim(&self) -> Result<&Sim> {
        self.sim.as_ref().context("the round's simulator")
    }

    fn haul(&self) -> Result<Job> {
        let sim = self.sim()?;
        Ok(Job::new(self.bench.haul(), Duration::from_secs(600))
            .env("SF_INSTANCE_URL", sim.instance_url.clone())
            .env("SF_ACCESS_TOKEN", sim.access_token.clone())
            .env("SF_API_VERSION", "62.0")
            .args(["--quiet", "--json", "sf", "extract", "--objects"])
            .arg(Self::objects())
            .arg("--to")
            .arg(&self.lake)
            .args(["--format", "parquet"]))
    }

    /// Changes 1% of each object's rows (every hundredth Id of haul's full run) through
    /// `haul sf ingest`, before either incremental run.
    fn update(&mut self, round: usize) -> Result<()> {
        let full = self.haul_runs.get("full").context("haul's full run")?;
        let dir = self.bench.work.join("out-extract/updates");
        std::fs::create_dir_all(&dir)?;
        let pairs: Vec<String> = OBJECTS.iter().map(|(o, f)| format!("{o}={f}")).collect();
        let pairs = pairs.join(",");
        let text = format!("changed by the bench, round {}", round + 1);
        let args = [
            "updates".as_ref(),
            self.lake.as_os_str(),
            full.as_ref(),
            dir.as_os_str(),
            text.as_ref(),
            pairs.as_ref(),
        ];
        let made = helper::run(&self.bench.python, self.bench, &args)?;
        let sim = self.sim.as_ref().context("the round's simulator")?;
        for (object, _) in OBJECTS {
            let path = made[object]["path"].as_str().context("update CSV")?;
            let output = Command::new(self.bench.haul())
                .env("SF_INSTANCE_URL", &sim.instance_url)
                .env("SF_ACCESS_TOKEN", &sim.access_token)
                .env("SF_API_VERSION", "62.0")
                .args(["--quiet", "--json", "sf", "ingest", object, path])
                .args(["--operation", "update"])
                .output()?;
            let summary: Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
            let rows = made[object]["rows"].as_u64().unwrap_or(0);
            if !output.status.success()
                || summary["records_processed"].as_u64() != Some(rows)
                || summary["records_failed"].as_u64() != Some(0)
            {
                bail!(
                    "updating {object} failed: {summary} {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            self.setup.updated.insert(object.to_owned(), rows);
        }
        Ok(())
    }

    /// The requests the run just measured sent, from the simulator's counts.
    fn spent(&self) -> Result<Vec<(&'static str, f64)>> {
        let stats = self.sim()?.stats()?.since(&self.before);
        // What the org counts as API requests (DailyApiRequests): everything under
        // /services/data; the OAuth token endpoint is not.
        let api: u64 = stats
            .counts
            .iter()
            .filter(|(key, _)| key.contains(" /services/data/"))
            .map(|(_, n)| n)
            .sum();
        // REST queries and their further batches (`query`, `queryAll`, with or without a cursor).
        let rest: u64 = stats
            .counts
            .iter()
            .filter(|(key, _)| {
                key.starts_with("GET ")
                    && (key.contains("/{version}/query") || key.contains("/{version}/queryAll"))
            })
            .map(|(_, n)| n)
            .sum();
        Ok(vec![
            (REQUESTS, api as f64),
            (JOBS, stats.ending("POST", "/jobs/query") as f64),
            (REST_QUERIES, rest as f64),
        ])
    }

    /// haul's rows, from its summary; keeps its run id for the comparison.
    fn haul_figures(&mut self, phase: Phase, seen: &Measurement) -> Result<f64> {
        let report: Value = serde_json::from_str(seen.stdout.trim())
            .with_context(|| format!("haul printed {:?}", seen.stdout))?;
        let objects = report["objects"].as_array().context("objects")?;
        if let Some(failed) = objects.iter().find(|o| !o["error"].is_null()) {
            bail!("haul's {} failed: {failed}", phase.name());
        }
        let run_id = report["run_id"].as_str().context("run_id")?;
        self.haul_runs.insert(phase.tag(), run_id.to_owned());
        Ok(objects
            .iter()
            .filter_map(|o| o["rows"].as_u64())
            .sum::<u64>() as f64)
    }

    /// Airbyte's records, compared with haul's run of the same phase.
    fn airbyte_figures(&mut self, phase: Phase) -> Result<f64> {
        let run_id = self.haul_runs.get(phase.tag()).context("haul's run")?;
        let output = self.airbyte.output(phase.tag());
        let objects = Self::objects();
        let args = [
            "compare".as_ref(),
            self.lake.as_os_str(),
            run_id.as_ref(),
            output.as_os_str(),
            objects.as_ref(),
        ];
        let result = helper::run(&self.bench.python, self.bench, &args)?;
        if let Some(errors) = result["errors"].as_array().filter(|e| !e.is_empty()) {
            bail!("Airbyte's {} reported errors: {errors:?}", phase.name());
        }
        self.setup.comparisons.retain(|c| c.phase != phase);
        let mut records = 0;
        for (object, _) in OBJECTS {
            let o = &result["objects"][object];
            let n = |key: &str| o[key].as_u64().unwrap_or(0);
            records += n("airbyte_records");
            self.setup.comparisons.push(Comparison {
                phase,
                object: object.to_owned(),
                haul_rows: n("haul_rows"),
                airbyte_records: n("airbyte_records"),
                airbyte_ids: n("airbyte_ids"),
                missing: n("missing"),
                extra: n("extra"),
                different: n("different"),
            });
        }
        Ok(records as f64)
    }
}

impl Trial for Extract<'_> {
    fn job(&mut self, contender: usize, round: usize) -> Result<Job> {
        let (tool, phase) = RUNS[contender];
        match (tool, phase) {
            (Tool::Haul, Phase::Full) => self.start(round)?,
            (Tool::Haul, Phase::Incremental) => self.update(round)?,
            (Tool::Airbyte, Phase::Incremental) => self.airbyte.keep_state(self.bench)?,
            (Tool::Airbyte, Phase::Full) => {}
        }
        self.before = self.sim()?.stats()?;
        match tool {
            Tool::Haul => self.haul(),
            Tool::Airbyte => Ok(self.airbyte.read(
                self.sim()?,
                phase == Phase::Incremental,
                Duration::from_secs(1200),
            )),
        }
    }

    fn figures(
        &mut self,
        contender: usize,
        seen: &Measurement,
    ) -> Result<Vec<(&'static str, f64)>> {
        let (tool, phase) = RUNS[contender];
        let mut figures = self.spent()?;
        let rows = match tool {
            Tool::Haul => self.haul_figures(phase, seen)?,
            Tool::Airbyte => self.airbyte_figures(phase)?,
        };
        figures.push((ROWS, rows));
        figures.push((ROWS_PER_S, rows / seen.wall.as_secs_f64().max(1e-9)));
        Ok(figures)
    }
}
