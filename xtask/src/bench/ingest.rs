//! Benchmark 4: a 500 MB CSV inserted into Account. haul (`haul sf ingest`, split into jobs of at
//! most 100 MB, 4 at once) against simple-salesforce `insert` (which splits too), each run against a
//! fresh simulator so that its request counts are its own.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use super::download::thousands;
use super::measure::{self, Job};
use super::report::{self, Group, Panel, median, table};
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

struct Contender {
    name: &'static str,
    command: String,
    requests: Vec<f64>,
    uploads: Vec<f64>,
    status: Vec<f64>,
    jobs: Vec<f64>,
    wall: Vec<f64>,
    rss_mb: Vec<f64>,
    cpu: Vec<f64>,
    loads: Vec<String>,
}

pub(super) fn run(bench: &Bench) -> Result<Section> {
    let megabytes: u64 = if bench.quick { 50 } else { 500 };
    let (csv, rows) = generate(&bench.work, megabytes * 1_000_000)?;
    eprintln!("bench: ingest, {} ({rows} rows)", csv.display());
    let limit = Duration::from_secs(if bench.quick { 300 } else { 1800 });
    // Rows that fill about 90 MB, by the file's average row size.
    let rows_per_peer_job = rows * 90_000_000 / std::fs::metadata(&csv)?.len().max(1);
    let names = [
        "haul sf ingest (concurrency 4)",
        "simple-salesforce insert (concurrency 4)",
    ];
    let mut contenders: Vec<Contender> = names
        .iter()
        .map(|name| Contender {
            name,
            command: String::new(),
            requests: Vec::new(),
            uploads: Vec::new(),
            status: Vec::new(),
            jobs: Vec::new(),
            wall: Vec::new(),
            rss_mb: Vec::new(),
            cpu: Vec::new(),
            loads: Vec::new(),
        })
        .collect();
    let mut sim_command = String::new();
    for round in 0..bench.runs {
        for (i, contender) in contenders.iter_mut().enumerate() {
            let sim = Sim::start(
                &bench.root,
                &[],
                &bench.logs.join(format!("ingest-sim-{i}-{round}.log")),
            )?;
            sim_command = sim.command.clone();
            let job = if i == 0 {
                Job::new(bench.haul(), limit)
                    .env("SF_INSTANCE_URL", sim.instance_url.clone())
                    .env("SF_ACCESS_TOKEN", sim.access_token.clone())
                    .env("SF_API_VERSION", "62.0")
                    .args(["--quiet", "--json", "sf", "ingest", "Account"])
                    .arg(&csv)
                    .args(["--operation", "insert", "--concurrency", "4"])
            } else {
                Job::new(&bench.python, limit)
                    .arg(bench.script("ssf_insert.py", SSF_INSERT)?)
                    .args([&sim.instance_url, &sim.access_token])
                    .arg(&csv)
                    .arg(rows_per_peer_job.to_string())
            };
            contender.command = job.display(&bench.root);
            let load = bench.gate();
            let log = bench.logs.join(format!("ingest-{i}-{round}.log"));
            let seen = measure::run(&job, &log).with_context(|| contender.name)?;
            let summary: Value = serde_json::from_str(seen.stdout.trim())
                .with_context(|| format!("{} printed {:?}", contender.name, seen.stdout))?;
            if summary["records_processed"].as_u64() != Some(rows)
                || summary["records_failed"].as_u64() != Some(0)
            {
                bail!(
                    "{}: expected {rows} rows processed, none failed: {summary}",
                    contender.name
                );
            }
            let jobs = summary["jobs"]
                .as_array()
                .map_or_else(|| summary["jobs"].as_u64().unwrap_or(0), |a| a.len() as u64);
            let stats = sim.stats()?.since(&Default::default());
            eprintln!(
                "bench:   {}: {:.1} s, {:.0} MB peak RSS, {} requests, {jobs} jobs",
                contender.name,
                seen.wall.as_secs_f64(),
                seen.max_rss_kib as f64 / 1024.0,
                stats.total()
            );
            contender.requests.push(stats.total() as f64);
            contender
                .uploads
                .push(stats.ending("PUT", "/batches") as f64);
            contender
                .status
                .push(stats.ending("GET", "/jobs/ingest/{id}") as f64);
            contender.jobs.push(jobs as f64);
            contender.wall.push(seen.wall.as_secs_f64());
            contender.rss_mb.push(seen.max_rss_kib as f64 / 1024.0);
            contender.cpu.push(seen.cpu.as_secs_f64());
            contender.loads.push(load);
        }
    }
    let size = std::fs::metadata(&csv)?.len();
    Ok(section(bench, &contenders, size, rows, &sim_command))
}

/// The benchmark's CSV: Account rows from a fixed-seed generator, at least `bytes` long. Kept in
/// `target/bench/` and made again only when missing or of another size.
fn generate(work: &Path, bytes: u64) -> Result<(PathBuf, u64)> {
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
    let mut state: u64 = 0x5EED;
    let mut next = move || {
        // splitmix64
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut rows = 0u64;
    let mut line = String::new();
    while written < bytes {
        line.clear();
        let pick = |r: u64, list: &[&'static str]| list[(r % list.len() as u64) as usize];
        let (a, b, c, d) = (next(), next(), next(), next());
        let _ = writeln!(
            line,
            "Bench Company {rows},{},{},{}.{:02},\"{}\",\"{} {} {}, row {rows}\"",
            pick(a, INDUSTRIES),
            b % 250_000 + 1,
            c % 5_000_000_000,
            d % 100,
            pick(b >> 8, CITIES),
            pick(c >> 8, WORDS),
            pick(d >> 8, WORDS),
            pick(a >> 8, WORDS),
        );
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
        rows += 1;
    }
    out.flush()?;
    std::fs::write(&rows_path, rows.to_string())?;
    Ok((path, rows))
}

fn section(
    bench: &Bench,
    contenders: &[Contender],
    size: u64,
    rows: u64,
    sim_command: &str,
) -> Section {
    let mut md = String::new();
    let loads: Vec<String> = contenders.iter().flat_map(|c| c.loads.clone()).collect();
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
        report::load_range(&loads)
    );
    let rows_md: Vec<Vec<String>> = contenders
        .iter()
        .map(|c| {
            vec![
                c.name.to_owned(),
                format!("{:.1}", median(&c.wall)),
                format!("{:.0}", size as f64 / 1e6 / median(&c.wall)),
                format!("{:.0}", median(&c.rss_mb)),
                format!("{:.1}", median(&c.cpu)),
                format!("{:.0}", median(&c.jobs)),
                format!("{:.0}", median(&c.requests)),
                format!("{:.0}", median(&c.uploads)),
                format!("{:.0}", median(&c.status)),
            ]
        })
        .collect();
    md.push_str(&table(
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
        &rows_md,
    ));
    md.push_str("\nCommands (one run):\n\n");
    md.push_str(&report::commands(
        contenders.iter().map(|c| (c.name, c.command.as_str())),
    ));
    let mut targets = String::new();
    if let [haul, peer] = contenders {
        let _ = writeln!(
            targets,
            "- Ingest ({:.0} MB; no numeric target in issue 7): haul {:.1} s, {:.0} MB peak RSS, {:.0} \
             requests; simple-salesforce {:.1} s, {:.0} MB, {:.0} requests.",
            size as f64 / 1e6,
            median(&haul.wall),
            median(&haul.rss_mb),
            median(&haul.requests),
            median(&peer.wall),
            median(&peer.rss_mb),
            median(&peer.requests)
        );
    }
    let group = |f: fn(&Contender) -> f64| Group {
        label: format!("{:.0} MB CSV", size as f64 / 1e6),
        bars: contenders
            .iter()
            .map(|c| (c.name.to_owned(), f(c)))
            .collect(),
    };
    let panels = [
        Panel {
            title: "Wall time".into(),
            unit: "seconds".into(),
            groups: vec![group(|c| median(&c.wall))],
        },
        Panel {
            title: "Peak RSS".into(),
            unit: "MB".into(),
            groups: vec![group(|c| median(&c.rss_mb))],
        },
        Panel {
            title: "Requests".into(),
            unit: "count".into(),
            groups: vec![group(|c| median(&c.requests))],
        },
    ];
    Section {
        name: "ingest",
        title: "4. Ingest".into(),
        markdown: md,
        targets,
        svg: report::svg("Ingest: a 500 MB CSV inserted", &panels),
    }
}
