//! Benchmark 1: a bulk query's results downloaded, haul at concurrency 1, 4 and 8 against
//! simple-salesforce and against the ceilings (curl fetching the same result pages over 8 parallel
//! connections: to files, to files with `--compressed`, to /dev/null), on loopback and on a
//! simulated WAN.

mod ceiling;
mod section;
mod targets;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use self::ceiling::{Pages, Sink};
use super::contender::{self, Contender, Order, Trial};
use super::measure::{Job, Measurement};
use super::profile::Profile;
use super::sim::Sim;
use super::{Bench, Section};

// `cargo xtask reliability` imports it from here.
pub(crate) use super::report::thousands;

const SOQL: &str = "SELECT Id, Name, Industry, NumberOfEmployees, AnnualRevenue, BillingCity, CreatedDate FROM Account";
const PAGE_ROWS: u64 = 50_000;

/// The benchmark's own figures, besides wall time, CPU and peak RSS.
const BYTES: &str = "bytes";
/// haul only: the download phase, from its `--json` summary.
const PHASE: &str = "download phase s";
/// CPU seconds the simulator spent during the run.
const SIM_CPU: &str = "sim CPU s";

const HAUL_C8: &str = "haul c8";
const HAUL_GZIP: &str = "haul c8, gzip (library default)";
const PEER: &str = "simple-salesforce";
const CEILING: &str = "curl ×8 to files (ceiling)";
const GZIP_CEILING: &str = "curl ×8 --compressed to files (gzip ceiling)";
const DEV_NULL: &str = "curl ×8 to /dev/null";

/// What kind of program a contender is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Haul { concurrency: usize, gzip: bool },
    Peer,
    Ceiling(Sink),
}

const fn haul(concurrency: usize, gzip: bool) -> Kind {
    Kind::Haul { concurrency, gzip }
}

const CONTENDERS: [(&str, Kind); 8] = [
    ("haul c1", haul(1, false)),
    ("haul c4", haul(4, false)),
    (HAUL_C8, haul(8, false)),
    (HAUL_GZIP, haul(8, true)),
    (PEER, Kind::Peer),
    (CEILING, Kind::Ceiling(Sink::Files)),
    (GZIP_CEILING, Kind::Ceiling(Sink::CompressedFiles)),
    (DEV_NULL, Kind::Ceiling(Sink::DevNull)),
];

/// The ceiling a contender is compared with: the one that moves the same bytes on the wire.
fn ceiling_of(name: &str) -> &'static str {
    match CONTENDERS.iter().find(|(n, _)| *n == name) {
        Some((_, Kind::Haul { gzip: true, .. } | Kind::Ceiling(Sink::CompressedFiles))) => {
            GZIP_CEILING
        }
        _ => CEILING,
    }
}

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

/// One profile and data size, and what its contenders measured.
#[derive(Debug)]
struct Config {
    profile: Profile,
    rows: u64,
    sim_command: String,
    contenders: Vec<Contender>,
}

impl Config {
    fn find(&self, name: &str) -> Option<&Contender> {
        self.contenders.iter().find(|c| c.name == name)
    }
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
    Ok(section::section(bench, &configs))
}

fn run_config(bench: &Bench, profile: Profile, rows: u64) -> Result<Config> {
    let (tag, sim) = profile.start_accounts(bench, "download", rows)?;
    let pages = Pages::prepare(&sim)?;
    let out = bench.work.join("out");
    let limit = profile.limit(rows, Duration::ZERO);
    let jobs = CONTENDERS
        .iter()
        .map(|&(_, kind)| contender_job(bench, &sim, &pages, &tag, kind, limit))
        .collect::<Result<_>>()?;
    let mut contenders: Vec<Contender> =
        CONTENDERS.iter().map(|(n, _)| Contender::new(*n)).collect();
    let mut trial = Download {
        sim,
        pages,
        rows,
        jobs,
        out,
        sim_cpu: 0.0,
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
        sim_command: trial.sim.command.clone(),
        contenders,
    })
}

/// The command one contender runs against `sim`, writing under `target/bench/out/`.
fn contender_job(
    bench: &Bench,
    sim: &Sim,
    pages: &Pages,
    tag: &str,
    kind: Kind,
    limit: Duration,
) -> Result<Job> {
    let out = bench.work.join("out");
    Ok(match kind {
        Kind::Haul { concurrency, gzip } => haul_job(bench, sim, concurrency, gzip, limit),
        Kind::Peer => Job::new(&bench.python, limit)
            .arg(bench.script("ssf_download.py", SSF_DOWNLOAD)?)
            .args([sim.instance_url.as_str(), sim.access_token.as_str(), SOQL])
            .arg(out.join("ssf"))
            .arg("0"),
        Kind::Ceiling(sink) => {
            let config = bench
                .work
                .join(format!("{tag}-{sink:?}.curl").to_lowercase());
            pages.write_config(sim, sink, &out.join("curl"), &config)?;
            ceiling::job(sim, sink, &config, limit)
        }
    })
}

fn haul_job(bench: &Bench, sim: &Sim, concurrency: usize, gzip: bool, limit: Duration) -> Job {
    let mut job = Job::new(bench.haul(), limit)
        .env("SF_INSTANCE_URL", sim.instance_url.clone())
        .env("SF_ACCESS_TOKEN", sim.access_token.clone())
        .env("SF_API_VERSION", "62.0")
        .args(["--quiet", "--json", "sf", "query", SOQL, "--overwrite"]);
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

/// The download benchmark's side of each run: a clean output folder, the checks, the figures.
struct Download {
    sim: Sim,
    pages: Pages,
    rows: u64,
    /// The command of each contender, by index in `CONTENDERS`.
    jobs: Vec<Job>,
    out: PathBuf,
    /// The simulator's CPU seconds when the run started.
    sim_cpu: f64,
}

impl Trial for Download {
    fn job(&mut self, contender: usize, _round: usize) -> Result<Job> {
        let _ = std::fs::remove_dir_all(&self.out);
        std::fs::create_dir_all(self.out.join("ssf"))?;
        std::fs::create_dir_all(self.out.join("curl"))?;
        self.sim_cpu = self.sim.cpu_seconds();
        Ok(self.jobs[contender].clone())
    }

    fn figures(
        &mut self,
        contender: usize,
        seen: &Measurement,
    ) -> Result<Vec<(&'static str, f64)>> {
        let sim_cpu = self.sim.cpu_seconds() - self.sim_cpu;
        let mut figures = match CONTENDERS[contender] {
            (_, Kind::Ceiling(sink)) => {
                vec![(
                    BYTES,
                    self.pages.received(sink, &self.out.join("curl"), seen)?,
                )]
            }
            (name, _) => summary(name, seen, self.rows)?,
        };
        figures.push((SIM_CPU, sim_cpu));
        // Results of earlier runs would pile up in the simulator's memory.
        self.sim.delete_query_jobs(&self.pages.job_id)?;
        Ok(figures)
    }
}

/// Bytes received and, for haul, the download phase, from the `--json` summary; checks the rows.
fn summary(name: &str, seen: &Measurement, rows: u64) -> Result<Vec<(&'static str, f64)>> {
    let summary: Value = serde_json::from_str(seen.stdout.trim())
        .with_context(|| format!("{name} printed {:?}", seen.stdout))?;
    if summary["records"].as_u64() != Some(rows) {
        bail!("{name} wrote {} rows, not {rows}", summary["records"]);
    }
    let mut figures = vec![(BYTES, summary["bytes"].as_f64().context("bytes")?)];
    if let Some(ms) = summary["elapsed_ms"].as_f64() {
        figures.push((PHASE, ms / 1000.0));
    }
    Ok(figures)
}

/// MB/s of CSV received over the whole command.
fn mbps(contender: &Contender) -> f64 {
    contender.median(BYTES) / 1e6 / contender.median(contender::WALL)
}

/// MB/s of CSV received over haul's download phase.
fn phase_mbps(contender: &Contender) -> Option<f64> {
    let phase = contender.get(PHASE)?;
    Some(contender.median(BYTES) / 1e6 / phase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_contender_is_compared_with_the_ceiling_that_moves_its_bytes() {
        assert_eq!(ceiling_of(HAUL_GZIP), GZIP_CEILING);
        assert_eq!(ceiling_of(GZIP_CEILING), GZIP_CEILING);
        assert_eq!(ceiling_of(HAUL_C8), CEILING);
        assert_eq!(ceiling_of(PEER), CEILING);
        assert_eq!(ceiling_of(DEV_NULL), CEILING);
    }
}
