//! Benchmark 4: a 500 MB CSV inserted into Account. haul (`haul sf ingest`, split into jobs of at
//! most 100 MB, 4 at once) against simple-salesforce `insert` (which splits too), each run against a
//! fresh simulator so that its request counts are its own.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use super::contender::{self, CPU, Contender, Order, RSS_MB, Trial, WALL};
use super::measure::{Job, Measurement};
use super::report::{self, Group, Panel, table, thousands};
use super::sim::Sim;
use super::{Bench, Section};

const SSF_INSERT: &str = r#"
import json, sys
from simple_salesforce import Salesforce
url, token, path, batch_size = sys.argv[1:5]
sf = Salesforce(instance_url=url, session_id=token, version="62.0")
sf.bulk2_url = f"{url}/services/data/v62.0/jobs/"
# Its split estimates a job's size without quotes and line endings, so on a file of quoted fields
# its own 99 MB jobs come out over 100 MB and it refuses them; a row cap keeps them under.
results = sf.bulk2.Account.insert(csv_file=path, concurrency=4, batch_size=int(batch_size))
print(json.dumps({
    "jobs": len(results),
    "records_processed": sum(int(r["numberRecordsProcessed"]) for r in results),
    "records_failed": sum(int(r["numberRecordsFailed"]) for r in results),
}))
"#;

/// The benchmark's own figures, from the simulator's request counts and the contender's summary.
const REQUESTS: &str = "requests";
const UPLOADS: &str = "uploads (PUT)";
const STATUS: &str = "status requests";
const JOBS: &str = "jobs";

pub(super) fn run(bench: &Bench) -> Result<Section> {
    let megabytes: u64 = if bench.quick { 50 } else { 500 };
    let (csv, rows) = generate(&bench.work, megabytes * 1_000_000)?;
    eprintln!("bench: ingest, {} ({rows} rows)", csv.display());
    let mut contenders = [
        "haul sf ingest (concurrency 4)",
        "simple-salesforce insert (concurrency 4)",
    ]
    .map(Contender::new);
    let mut trial = Ingest {
        bench,
        limit: Duration::from_secs(if bench.quick { 300 } else { 1800 }),
        // Rows that fill about 90 MB, by the file's average row size.
        rows_per_peer_job: rows * 90_000_000 / std::fs::metadata(&csv)?.len().max(1),
        csv,
        rows,
        sim: None,
    };
    contender::rounds(
        bench,
        "ingest",
        &mut contenders,
        Order::OneAfterAnother,
        &mut trial,
    )?;
    let size = std::fs::metadata(&trial.csv)?.len();
    let sim_command = trial
        .sim
        .as_ref()
        .map(|s| s.command.clone())
        .unwrap_or_default();
    Ok(section(bench, &contenders, size, rows, &sim_command))
}

/// Each run against a fresh simulator, so that its request counts are the run's own.
struct Ingest<'a> {
    bench: &'a Bench,
    limit: Duration,
    rows_per_peer_job: u64,
    csv: PathBuf,
    rows: u64,
    sim: Option<Sim>,
}

impl Trial for Ingest<'_> {
    fn job(&mut self, contender: usize, round: usize) -> Result<Job> {
        let bench = self.bench;
        let log = bench
            .logs
            .join(format!("ingest-sim-{contender}-{round}.log"));
        // The previous run's simulator stops first.
        self.sim = None;
        let sim = self.sim.insert(Sim::start(&bench.root, &[], &log)?);
        Ok(if contender == 0 {
            Job::new(bench.haul(), self.limit)
                .env("SF_INSTANCE_URL", sim.instance_url.clone())
                .env("SF_ACCESS_TOKEN", sim.access_token.clone())
                .env("SF_API_VERSION", "62.0")
                .args(["--quiet", "--json", "sf", "ingest", "Account"])
                .arg(&self.csv)
                .args(["--operation", "insert", "--concurrency", "4"])
        } else {
            Job::new(&bench.python, self.limit)
                .arg(bench.script("ssf_insert.py", SSF_INSERT)?)
                .args([&sim.instance_url, &sim.access_token])
                .arg(&self.csv)
                .arg(self.rows_per_peer_job.to_string())
        })
    }

    fn figures(
        &mut self,
        _contender: usize,
        seen: &Measurement,
    ) -> Result<Vec<(&'static str, f64)>> {
        let rows = self.rows;
        let summary: Value = serde_json::from_str(seen.stdout.trim())
            .with_context(|| format!("printed {:?}", seen.stdout))?;
        if summary["records_processed"].as_u64() != Some(rows)
            || summary["records_failed"].as_u64() != Some(0)
        {
            bail!("expected {rows} rows processed, none failed: {summary}");
        }
        let jobs = summary["jobs"]
            .as_array()
            .map_or_else(|| summary["jobs"].as_u64().unwrap_or(0), |a| a.len() as u64);
        let sim = self.sim.as_ref().context("the run's simulator")?;
        let stats = sim.stats()?.since(&Default::default());
        Ok(vec![
            (REQUESTS, stats.total() as f64),
            (UPLOADS, stats.ending("PUT", "/batches") as f64),
            (STATUS, stats.ending("GET", "/jobs/ingest/{id}") as f64),
            (JOBS, jobs as f64),
        ])
    }
}

/// The benchmark's CSV: Account rows from a fixed-seed generator, at least `bytes` long. Kept in
/// `target/bench/` and made again only when missing or of another size.
fn generate(work: &Path, bytes: u64) -> Result<(PathBuf, u64)> {
    let path = work.join(format!("ingest-{}mb.csv", bytes / 1_000_000));
    let rows_path = path.with_extension("rows");
    if let (Ok(meta), Ok(rows)) = (
        std::fs::metadata(&path),
        std::fs::read_to_string(&rows_path),
    ) && meta.len() >= bytes
        && meta.len() < bytes + 1024
    {
        return Ok((path, rows.trim().parse()?));
    }
    std::fs::create_dir_all(work)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
    let header = "Name,Industry,NumberOfEmployees,AnnualRevenue,BillingCity,Description\n";
    out.write_all(header.as_bytes())?;
    let mut written = header.len() as u64;
    let mut random = SplitMix64(0x5EED);
    let mut rows = 0u64;
    let mut line = String::new();
    while written < bytes {
        line.clear();
        account_row(&mut line, rows, &mut random);
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
        rows += 1;
    }
    out.flush()?;
    std::fs::write(&rows_path, rows.to_string())?;
    Ok((path, rows))
}

/// Row `n` of the CSV, with its line feed, into `line`.
fn account_row(line: &mut String, n: u64, random: &mut SplitMix64) {
    const INDUSTRIES: &[&str] = &[
        "Banking",
        "Retail",
        "Energy",
        "Media",
        "Shipping",
        "Biotechnology",
    ];
    const CITIES: &[&str] = &[
        "Lyon",
        "Porto",
        "Austin",
        "Osaka",
        "Cork",
        "San Jose, CA",
        "Zurich",
    ];
    const WORDS: &[&str] = &[
        "steady", "growth", "account", "renewal", "north", "pilot", "review",
    ];
    let pick = |r: u64, list: &[&'static str]| list[(r % list.len() as u64) as usize];
    let (a, b, c, d) = (random.next(), random.next(), random.next(), random.next());
    let _ = writeln!(
        line,
        "Bench Company {n},{},{},{}.{:02},\"{}\",\"{} {} {}, row {n}\"",
        pick(a, INDUSTRIES),
        b % 250_000 + 1,
        c % 5_000_000_000,
        d % 100,
        pick(b >> 8, CITIES),
        pick(c >> 8, WORDS),
        pick(d >> 8, WORDS),
        pick(a >> 8, WORDS),
    );
}

/// splitmix64: the same numbers on every machine, so the CSV is the same bytes every time.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn section(
    bench: &Bench,
    contenders: &[Contender],
    size: u64,
    rows: u64,
    sim_command: &str,
) -> Section {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Insert of a generated CSV of {:.0} MB ({} Account rows, six columns, quoted fields; made by \
         the benchmark in `target/bench/`, the same bytes every time). Each run against a fresh \
         simulator (`{sim_command}`, jobs complete 0.2 s after upload), whose `GET /__sim/stats` counts \
         the run's requests. Both clients split the file into jobs of at most 100 MB and run 4 jobs at \
         once; simple-salesforce keeps its default `wait=5` between status requests. simple-salesforce \
         is given `batch_size` (rows for about 90 MB a job): without it, it fails on this file, \
         because its split estimates a job's size without the quotes and line endings, so that its \
         own 99 MB jobs come out over 100 MB and its upload refuses them. Medians of {} \
         runs. Load average (1 min) before the runs: {}.\n",
        size as f64 / 1e6,
        thousands(rows),
        bench.runs,
        report::load_range(&contender::loads(contenders))
    );
    md.push_str(&ingest_table(contenders, size));
    md.push_str("\nCommands (one run):\n\n");
    md.push_str(&report::commands(
        contenders
            .iter()
            .map(|c| (c.name.as_str(), c.command.as_str())),
    ));
    Section {
        name: "ingest",
        title: "4. Ingest".into(),
        markdown: md,
        targets: Vec::new(),
        untargeted: untargeted(contenders, size),
        svg: report::svg("Ingest: a 500 MB CSV inserted", &panels(contenders, size)),
    }
}

fn ingest_table(contenders: &[Contender], size: u64) -> String {
    let rows: Vec<Vec<String>> = contenders
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                format!("{:.1}", c.median(WALL)),
                format!("{:.0}", size as f64 / 1e6 / c.median(WALL)),
                format!("{:.0}", c.median(RSS_MB)),
                format!("{:.1}", c.median(CPU)),
                format!("{:.0}", c.median(JOBS)),
                format!("{:.0}", c.median(REQUESTS)),
                format!("{:.0}", c.median(UPLOADS)),
                format!("{:.0}", c.median(STATUS)),
            ]
        })
        .collect();
    table(
        &[
            "contender",
            "wall s",
            "MB/s",
            "peak RSS MB",
            "CPU s",
            "jobs",
            "requests",
            "uploads (PUT)",
            "status requests",
        ],
        &rows,
    )
}

/// Issue 7 sets no numeric target for ingest; the summary shows its figures.
fn untargeted(contenders: &[Contender], size: u64) -> Vec<String> {
    let [haul, peer] = contenders else {
        return Vec::new();
    };
    vec![format!(
        "Ingest ({:.0} MB; no numeric target in issue 7): haul {:.1} s, {:.0} MB peak RSS, {:.0} \
         requests; simple-salesforce {:.1} s, {:.0} MB, {:.0} requests.",
        size as f64 / 1e6,
        haul.median(WALL),
        haul.median(RSS_MB),
        haul.median(REQUESTS),
        peer.median(WALL),
        peer.median(RSS_MB),
        peer.median(REQUESTS)
    )]
}

fn panels(contenders: &[Contender], size: u64) -> [Panel; 3] {
    let group = |figure: &str| Group {
        label: format!("{:.0} MB CSV", size as f64 / 1e6),
        bars: contenders
            .iter()
            .map(|c| (c.name.clone(), c.median(figure)))
            .collect(),
    };
    [
        Panel {
            title: "Wall time".into(),
            unit: "seconds".into(),
            groups: vec![group(WALL)],
        },
        Panel {
            title: "Peak RSS".into(),
            unit: "MB".into(),
            groups: vec![group(RSS_MB)],
        },
        Panel {
            title: "Requests".into(),
            unit: "count".into(),
            groups: vec![group(REQUESTS)],
        },
    ]
}
