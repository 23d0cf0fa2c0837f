//! Benchmark 1: a bulk query's results downloaded, haul at concurrency 1, 4 and 8 against
//! simple-salesforce and against the ceiling (curl fetching the same result pages over 8 parallel
//! connections to /dev/null), on loopback and on a simulated WAN.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use super::measure::{self, Job, Measurement};
use super::report::{self, Group, Panel, figure, median, table};
use super::sim::Sim;
use super::{Bench, Section};

const SOQL: &str = "SELECT Id, Name, Industry, NumberOfEmployees, AnnualRevenue, BillingCity, CreatedDate FROM Account";
const PAGE_ROWS: u64 = 50_000;
const CEILING: &str = "curl ×8 (ceiling)";
const PEER: &str = "simple-salesforce";

const SSF_DOWNLOAD: &str = r#"
import json, os, sys
from simple_salesforce import Salesforce
url, token, soql, out, gzip = sys.argv[1:6]
sf = Salesforce(instance_url=url, session_id=token, version="62.0")
if gzip == "0":
    # requests asks for gzip by default; the loopback and WAN comparisons move the same bytes as curl.
    sf.session.headers["Accept-Encoding"] = "identity"
sf.bulk2_url = f"{url}/services/data/v62.0/jobs/"
results = sf.bulk2.Account.download(soql, path=out, max_records=50000, wait=0)
print(json.dumps({
    "pages": len(results),
    "records": sum(r["number_of_records"] for r in results),
    "bytes": sum(os.path.getsize(r["file"]) for r in results),
}))
"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profile {
    Loopback,
    Wan,
}

impl Profile {
    fn name(self) -> &'static str {
        match self {
            Self::Loopback => "loopback",
            Self::Wan => "WAN (50 ms, 8 MB/s a connection)",
        }
    }

    fn sim_args(self) -> Vec<String> {
        match self {
            Self::Loopback => Vec::new(),
            Self::Wan => ["--latency-ms", "50", "--bandwidth-mbps", "64"]
                .map(String::from)
                .to_vec(),
        }
    }
}

/// One contender's runs in one configuration.
#[derive(Debug, Default, Clone)]
struct Runs {
    name: String,
    command: String,
    wall: Vec<f64>,
    /// haul only: the download phase, from its `--json` summary.
    phase: Vec<f64>,
    bytes: Vec<f64>,
    rss_mb: Vec<f64>,
    cpu: Vec<f64>,
    sim_cpu: Vec<f64>,
    loads: Vec<String>,
}

impl Runs {
    fn mbps(&self) -> f64 {
        median(&self.bytes) / 1e6 / median(&self.wall)
    }

    fn phase_mbps(&self) -> Option<f64> {
        (!self.phase.is_empty()).then(|| median(&self.bytes) / 1e6 / median(&self.phase))
    }
}

struct Config {
    profile: Profile,
    rows: u64,
    sim_command: String,
    contenders: Vec<Runs>,
}

pub(super) fn run(bench: &Bench) -> Result<Section> {
    let sizes: &[u64] = if bench.quick {
        &[100_000, 400_000]
    } else {
        &[1_000_000, 4_000_000]
    };
    let mut configs = Vec::new();
    for profile in [Profile::Loopback, Profile::Wan] {
        for &rows in sizes {
            configs.push(run_config(bench, profile, rows)?);
        }
    }
    Ok(section(bench, &configs))
}

fn run_config(bench: &Bench, profile: Profile, rows: u64) -> Result<Config> {
    eprintln!("bench: download, {}, {rows} rows", profile.name());
    let mut args = vec![
        "--rows".to_owned(),
        format!("Account={rows}"),
        "--job-seconds".into(),
        "0".into(),
    ];
    args.extend(profile.sim_args());
    let tag = format!(
        "download-{}-{rows}",
        if profile == Profile::Wan {
            "wan"
        } else {
            "loopback"
        }
    );
    let sim = Sim::start(
        &bench.root,
        &args,
        &bench.logs.join(format!("{tag}-sim.log")),
    )?;
    let (ceiling_job, links) = prepare_ceiling(&sim)?;
    let out = bench.work.join("out");
    let curl_config = bench.work.join(format!("{tag}-pages.curl"));
    let mut config_text = String::new();
    for link in &links {
        let _ = writeln!(
            config_text,
            "url = \"{}{link}\"\noutput = \"/dev/null\"",
            sim.api()
        );
    }
    std::fs::write(&curl_config, config_text)?;
    // Loopback runs take seconds; the WAN is limited to 8 MB/s a connection.
    let limit = match profile {
        Profile::Loopback => Duration::from_secs(300),
        Profile::Wan => Duration::from_secs(60 + rows / 4_000),
    };
    let mut contenders: Vec<(String, Job)> = Vec::new();
    for concurrency in [1, 4, 8] {
        contenders.push((
            format!("haul c{concurrency}"),
            haul_job(bench, &sim, concurrency, false, limit),
        ));
    }
    contenders.push((
        "haul c8, gzip (library default)".into(),
        haul_job(bench, &sim, 8, true, limit),
    ));
    contenders.push((
        PEER.into(),
        Job::new(&bench.python, limit)
            .arg(bench.script("ssf_download.py", SSF_DOWNLOAD)?)
            .args([
                sim.instance_url.as_str(),
                sim.access_token.as_str(),
                SOQL,
                &out.join("ssf").display().to_string(),
                "0",
            ]),
    ));
    contenders.push((
        CEILING.into(),
        Job::new("curl", limit)
            .args([
                "--parallel",
                "--parallel-immediate",
                "--parallel-max",
                "8",
                "-sS",
                "--fail",
                "-H",
                &format!("Authorization: Bearer {}", sim.access_token),
                "-w",
                "%{size_download}\\n",
                "-K",
            ])
            .arg(&curl_config),
    ));
    let mut results: Vec<Runs> = contenders
        .iter()
        .map(|(name, job)| Runs {
            name: name.clone(),
            command: job.display(&bench.root),
            ..Runs::default()
        })
        .collect();
    for round in 0..bench.runs {
        for (i, (name, job)) in contenders.iter().enumerate() {
            let _ = std::fs::remove_dir_all(&out);
            std::fs::create_dir_all(out.join("ssf"))?;
            let load = bench.gate();
            let sim_cpu = sim.cpu_seconds();
            let log = bench.logs.join(format!("{tag}-{i}-{round}.log"));
            let seen = measure::run(job, &log).with_context(|| format!("{tag}: {name}"))?;
            let sim_cpu = sim.cpu_seconds() - sim_cpu;
            let (bytes, phase) = received(name, &seen, rows)?;
            let runs = &mut results[i];
            runs.wall.push(seen.wall.as_secs_f64());
            if let Some(phase) = phase {
                runs.phase.push(phase);
            }
            runs.bytes.push(bytes);
            runs.rss_mb.push(seen.max_rss_kib as f64 / 1024.0);
            runs.cpu.push(seen.cpu.as_secs_f64());
            runs.sim_cpu.push(sim_cpu);
            runs.loads.push(load);
            eprintln!(
                "bench:   {name}: {:.2} s, {:.0} MB/s, {:.0} MB peak RSS, {:.2} CPU s",
                seen.wall.as_secs_f64(),
                bytes / 1e6 / seen.wall.as_secs_f64(),
                seen.max_rss_kib as f64 / 1024.0,
                seen.cpu.as_secs_f64()
            );
            sim.delete_query_jobs(&ceiling_job)?;
        }
    }
    let _ = std::fs::remove_dir_all(&out);
    Ok(Config {
        profile,
        rows,
        sim_command: sim.command.clone(),
        contenders: results,
    })
}

fn haul_job(bench: &Bench, sim: &Sim, concurrency: usize, gzip: bool, limit: Duration) -> Job {
    let mut job = Job::new(bench.haul(), limit)
        .env("SF_INSTANCE_URL", sim.instance_url.clone())
        .env("SF_ACCESS_TOKEN", sim.access_token.clone())
        .env("SF_API_VERSION", "62.0")
        .args(["--quiet", "--json"]);
    job = job.args(["sf", "query", SOQL]);
    if !gzip {
        job = job.arg("--no-gzip");
    }
    job.arg("-o").arg(bench.work.join("out/haul.csv")).args([
        "--concurrency".to_owned(),
        concurrency.to_string(),
        "--max-records".into(),
        PAGE_ROWS.to_string(),
    ])
}

/// Bytes received and, for haul, the download phase in seconds; checks the row count where known.
fn received(name: &str, seen: &Measurement, rows: u64) -> Result<(f64, Option<f64>)> {
    if name == CEILING {
        let bytes: u64 = seen
            .stdout
            .lines()
            .filter_map(|l| l.trim().parse::<u64>().ok())
            .sum();
        return Ok((bytes as f64, None));
    }
    let summary: Value = serde_json::from_str(seen.stdout.trim())
        .with_context(|| format!("{name} printed {:?}", seen.stdout))?;
    if summary["records"].as_u64() != Some(rows) {
        bail!("{name} wrote {} rows, not {rows}", summary["records"]);
    }
    let bytes = summary["bytes"].as_f64().context("bytes")?;
    let phase = summary["elapsed_ms"].as_f64().map(|ms| ms / 1000.0);
    Ok((bytes, phase))
}

/// A finished job of the same query and every result page link of it, 50,000 rows a page.
fn prepare_ceiling(sim: &Sim) -> Result<(String, Vec<String>)> {
    let body = serde_json::json!({"operation": "query", "query": SOQL}).to_string();
    let created = sim.sf("POST", "/jobs/query", Some(&body))?;
    let id = created["id"].as_str().context("job id")?.to_owned();
    let started = Instant::now();
    loop {
        let info = sim.sf("GET", &format!("/jobs/query/{id}"), None)?;
        if info["state"] == "JobComplete" {
            break;
        }
        if started.elapsed() > Duration::from_secs(300) {
            bail!("the ceiling's job {id} is still {}", info["state"]);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut links = Vec::new();
    let mut next = Some(format!(
        "/jobs/query/{id}/resultPages?maxRecords={PAGE_ROWS}"
    ));
    for _ in 0..10_000 {
        let Some(path) = next.take() else { break };
        let listing = sim.sf("GET", &path, None)?;
        for page in listing["resultPages"].as_array().into_iter().flatten() {
            links.push(
                page["resultLink"]
                    .as_str()
                    .context("resultLink")?
                    .to_owned(),
            );
        }
        next = listing["nextRecordsUrl"].as_str().map(str::to_owned);
    }
    if next.is_some() || links.is_empty() {
        bail!("listing the result pages of {id} did not end");
    }
    Ok((id, links))
}

fn section(bench: &Bench, configs: &[Config]) -> Section {
    let mut md = String::new();
    let mut targets = String::new();
    let mut panels = Vec::new();
    let _ = writeln!(
        md,
        "A bulk query (`{SOQL}`) over an Account table, `maxRecords` {PAGE_ROWS}, downloaded to a file \
         (curl: to /dev/null). The simulator's job completes as soon as its result set is built \
         (`--job-seconds 0`). Medians of {} runs per contender, all contenders of a table run one after \
         the other against the same simulator, round after round. Wall time is the whole command: \
         process start, job creation, waiting, listing, downloading, writing. haul's download phase \
         (`elapsed_ms` of its `--json` summary) starts once the job is complete. MB are 10^6 bytes of \
         CSV received. Peak RSS and CPU seconds are the contender's own (rusage of the child); sim CPU \
         is what the simulator spent meanwhile.\n",
        bench.runs
    );
    let _ = writeln!(
        md,
        "**Compression.** haul asks for gzip by default (the library's `gzip(true)`); so does \
         simple-salesforce (requests). The curl ceiling fetches plain CSV. In these tables haul runs \
         with `--no-gzip` and simple-salesforce with `Accept-Encoding: identity`, so that every \
         contender moves the same bytes as the ceiling: on loopback the link costs nothing and \
         compression only burns CPU on the two cores that the simulator and the client share; on the \
         WAN profile the point is a network-bound comparison, and with gzip the simulator's compressor \
         (not the network) becomes the limit. One extra row shows haul at concurrency 8 with gzip on, \
         the library default, for reference.\n"
    );
    for config in configs {
        let ceiling = config.contenders.iter().find(|r| r.name == CEILING);
        let peer = config.contenders.iter().find(|r| r.name == PEER);
        let loads: Vec<String> = config
            .contenders
            .iter()
            .flat_map(|r| r.loads.clone())
            .collect();
        let _ = writeln!(
            md,
            "### {}, {} rows\n\nSimulator: `{}`. Load average (1 min) before the runs: {}.\n",
            config.profile.name(),
            thousands(config.rows),
            config.sim_command,
            report::load_range(&loads)
        );
        let rows: Vec<Vec<String>> = config
            .contenders
            .iter()
            .map(|r| {
                let vs = |other: Option<&Runs>| {
                    other.map_or("–".into(), |o| format!("{:.2}x", r.mbps() / o.mbps()))
                };
                vec![
                    r.name.clone(),
                    format!("{:.2}", median(&r.wall)),
                    if r.phase.is_empty() {
                        "–".to_owned()
                    } else {
                        format!("{:.2}", median(&r.phase))
                    },
                    format!("{:.0}", median(&r.bytes) / 1e6),
                    figure(r.mbps()),
                    r.phase_mbps().map_or("–".into(), figure),
                    format!("{:.0}", median(&r.rss_mb)),
                    format!("{:.2}", median(&r.cpu)),
                    format!("{:.2}", median(&r.sim_cpu)),
                    vs(ceiling),
                    vs(peer),
                ]
            })
            .collect();
        md.push_str(&table(
            &[
                "contender",
                "wall s",
                "download phase s",
                "MB",
                "MB/s (wall)",
                "MB/s (download phase)",
                "peak RSS MB",
                "CPU s",
                "sim CPU s",
                "vs ceiling (MB/s, wall)",
                "vs simple-salesforce (MB/s, wall)",
            ],
            &rows,
        ));
        md.push('\n');
        panels.push(Panel {
            title: format!("{}, {} rows", config.profile.name(), thousands(config.rows)),
            unit: "MB/s".into(),
            groups: vec![
                Group {
                    label: "whole command".into(),
                    bars: config
                        .contenders
                        .iter()
                        .map(|r| (r.name.clone(), r.mbps()))
                        .collect(),
                },
                Group {
                    label: "download phase (haul) vs the ceiling".into(),
                    bars: config
                        .contenders
                        .iter()
                        .filter_map(|r| match r.phase_mbps() {
                            Some(v) => Some((r.name.clone(), v)),
                            None if r.name == CEILING => Some((r.name.clone(), r.mbps())),
                            None => None,
                        })
                        .collect(),
                },
            ],
        });
    }
    let _ = writeln!(md, "Commands (one run; paths relative to the workspace):\n");
    if let Some(config) = configs.first() {
        let commands = config
            .contenders
            .iter()
            .map(|r| (r.name.as_str(), r.command.as_str()));
        md.push_str(&report::commands(commands));
    }
    // Targets.
    let find = |profile: Profile, rows: u64, name: &str| {
        configs
            .iter()
            .find(|c| c.profile == profile && c.rows == rows)
            .and_then(|c| c.contenders.iter().find(|r| r.name == name))
    };
    let small = configs.iter().map(|c| c.rows).min().unwrap_or(0);
    let large = configs.iter().map(|c| c.rows).max().unwrap_or(0);
    for rows in [small, large] {
        if let (Some(haul), Some(ceiling)) = (
            find(Profile::Loopback, rows, "haul c8"),
            find(Profile::Loopback, rows, CEILING),
        ) {
            let phase = haul.phase_mbps().unwrap_or(0.0) / ceiling.mbps();
            let wall = haul.mbps() / ceiling.mbps();
            let _ = writeln!(
                targets,
                "- Loopback, {} rows, haul c8 ≥ 0.9x the curl ceiling: **{}**: download phase {:.3}x \
                 ({} vs {} MB/s); whole command {:.3}x.",
                thousands(rows),
                verdict(phase >= 0.9),
                phase,
                figure(haul.phase_mbps().unwrap_or(0.0)),
                figure(ceiling.mbps()),
                wall
            );
        }
        if let (Some(haul), Some(ceiling), Some(peer)) = (
            find(Profile::Wan, rows, "haul c8"),
            find(Profile::Wan, rows, CEILING),
            find(Profile::Wan, rows, PEER),
        ) {
            let vs_peer = haul.mbps() / peer.mbps();
            let phase = haul.phase_mbps().unwrap_or(0.0) / ceiling.mbps();
            let _ = writeln!(
                targets,
                "- WAN, {} rows, haul c8 ≥ 6x simple-salesforce: **{}**: {:.3}x ({} vs {} MB/s, whole \
                 commands). Within 15% of the ceiling: **{}**: download phase {:.3}x ({} vs {} MB/s); \
                 whole command {:.3}x.",
                thousands(rows),
                verdict(vs_peer >= 6.0),
                vs_peer,
                figure(haul.mbps()),
                figure(peer.mbps()),
                verdict(phase >= 0.85),
                phase,
                figure(haul.phase_mbps().unwrap_or(0.0)),
                figure(ceiling.mbps()),
                haul.mbps() / ceiling.mbps()
            );
        }
    }
    for profile in [Profile::Loopback, Profile::Wan] {
        if let (Some(a), Some(b)) = (
            find(profile, small, "haul c8"),
            find(profile, large, "haul c8"),
        ) {
            let (small_rss, large_rss) = (median(&a.rss_mb), median(&b.rss_mb));
            let _ = writeln!(
                targets,
                "- {}, haul c8 peak RSS ≤ 64 MB at {} rows and ≤ 1.2x the figure at {} rows: **{}**: \
                 {:.1} MB vs {:.1} MB ({:.3}x).",
                profile.name(),
                thousands(large),
                thousands(small),
                verdict(large_rss <= 64.0 && large_rss <= 1.2 * small_rss),
                large_rss,
                small_rss,
                large_rss / small_rss
            );
        }
    }
    Section {
        name: "download",
        title: "1. Download".into(),
        markdown: md,
        targets,
        svg: report::svg("Bulk query download, MB/s (higher is better)", &panels),
    }
}

pub(super) fn verdict(holds: bool) -> &'static str {
    if holds { "holds" } else { "missed" }
}

pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
