//! The ceilings of the download benchmark: curl fetching the result pages of one finished job over 8
//! parallel connections, listed beforehand, so that it does nothing but receive (and write) bytes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use super::super::measure::{Job, Measurement};
use super::super::sim::Sim;
use super::{PAGE_ROWS, SOQL};

/// Where a ceiling puts the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sink {
    /// One file a page, plain CSV as sent.
    Files,
    /// One file a page, asked for with `--compressed` (gzip on the wire) and inflated by curl.
    CompressedFiles,
    /// Received and dropped.
    DevNull,
}

/// A finished job of the benchmark's query and the result page links of it, 50,000 rows a page.
#[derive(Debug)]
pub(super) struct Pages {
    pub(super) job_id: String,
    links: Vec<String>,
}

impl Pages {
    /// Creates the job, waits (at most 5 minutes) for it to complete, and lists its pages.
    pub(super) fn prepare(sim: &Sim) -> Result<Self> {
        let body = serde_json::json!({"operation": "query", "query": SOQL}).to_string();
        let created = sim.sf("POST", "/jobs/query", Some(&body))?;
        let job_id = created["id"].as_str().context("job id")?.to_owned();
        let started = Instant::now();
        loop {
            let info = sim.sf("GET", &format!("/jobs/query/{job_id}"), None)?;
            if info["state"] == "JobComplete" {
                break;
            }
            if started.elapsed() > Duration::from_secs(300) {
                bail!("the ceiling's job {job_id} is still {}", info["state"]);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let links = list(sim, &job_id)?;
        Ok(Self { job_id, links })
    }

    /// A curl config that fetches every page into `sink`; files go to `dir/page-N.csv`.
    pub(super) fn write_config(
        &self,
        sim: &Sim,
        sink: Sink,
        dir: &Path,
        path: &Path,
    ) -> Result<()> {
        let mut text = String::new();
        for (n, link) in self.links.iter().enumerate() {
            let output = match sink {
                Sink::DevNull => PathBuf::from("/dev/null"),
                Sink::Files | Sink::CompressedFiles => page_file(dir, n),
            };
            let _ = writeln!(
                text,
                "url = \"{}{link}\"\noutput = \"{}\"",
                sim.api(),
                output.display()
            );
        }
        std::fs::write(path, text)?;
        Ok(())
    }

    /// Bytes of CSV the ceiling received, after checking that it wrote every page it was given.
    pub(super) fn received(&self, sink: Sink, dir: &Path, seen: &Measurement) -> Result<f64> {
        // `%{size_download}` counts bytes on the wire: compressed ones for `--compressed`.
        let downloaded: u64 = seen
            .stdout
            .lines()
            .filter_map(|l| l.trim().parse::<u64>().ok())
            .sum();
        if sink == Sink::DevNull {
            return Ok(downloaded as f64);
        }
        let mut written = 0;
        for n in 0..self.links.len() {
            let file = page_file(dir, n);
            let size = std::fs::metadata(&file)
                .with_context(|| format!("curl wrote no {}", file.display()))?
                .len();
            if size == 0 {
                bail!("curl wrote an empty {}", file.display());
            }
            written += size;
        }
        match sink {
            Sink::Files if written != downloaded => {
                bail!("curl received {downloaded} bytes but wrote {written}")
            }
            // Otherwise it would be the plain ceiling under another name.
            Sink::CompressedFiles if downloaded >= written => {
                bail!("curl received {downloaded} bytes for {written} of CSV: not compressed")
            }
            _ => {}
        }
        Ok(written as f64)
    }
}

/// curl over 8 parallel connections of one process (so that its rusage is the ceiling's, as haul's is
/// haul's), each page to the place its config names.
pub(super) fn job(sim: &Sim, sink: Sink, config: &Path, limit: Duration) -> Job {
    let mut job = Job::new("curl", limit).args([
        "--parallel",
        "--parallel-immediate",
        "--parallel-max",
        "8",
        "-sS",
        "--fail",
    ]);
    if sink == Sink::CompressedFiles {
        job = job.arg("--compressed");
    }
    job.args([
        "-H",
        &format!("Authorization: Bearer {}", sim.access_token),
        "-w",
        "%{size_download}\\n",
        "-K",
    ])
    .arg(config)
}

fn page_file(dir: &Path, n: usize) -> PathBuf {
    dir.join(format!("page-{n}.csv"))
}

/// Every result page link of a job, following `nextRecordsUrl`.
fn list(sim: &Sim, id: &str) -> Result<Vec<String>> {
    let mut links = Vec::new();
    let mut next = Some(format!(
        "/jobs/query/{id}/resultPages?maxRecords={PAGE_ROWS}"
    ));
    for _ in 0..10_000 {
        let Some(path) = next.take() else { break };
        let listing = sim.sf("GET", &path, None)?;
        for page in listing["resultPages"].as_array().into_iter().flatten() {
            let link = page["resultLink"].as_str().context("resultLink")?;
            links.push(link.to_owned());
        }
        next = listing["nextRecordsUrl"].as_str().map(str::to_owned);
    }
    if next.is_some() || links.is_empty() {
        bail!("listing the result pages of {id} did not end");
    }
    Ok(links)
}
