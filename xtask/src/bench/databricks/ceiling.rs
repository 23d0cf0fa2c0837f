//! The ceiling of the Databricks benchmark: curl fetching every chunk of one finished statement
//! over 8 parallel connections of one process, the links listed beforehand (through the chunk
//! endpoint, as a client would), so that it does nothing but receive and write bytes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};

use super::super::measure::{Job, Measurement};
use super::super::sim::{Sim, curl_json};

/// One statement's chunks: their links and what the API declares of them.
#[derive(Debug)]
pub(super) struct Links {
    links: Vec<Value>,
    /// Rows of the statement, from its manifest.
    pub(super) rows: u64,
}

impl Links {
    /// Runs `sql` with `EXTERNAL_LINKS` and CSV (waiting for it on the server, then polling for
    /// at most 5 minutes), and lists the link of every chunk.
    pub(super) fn list(sim: &Sim, sql: &str) -> Result<Self> {
        let db = &sim.databricks;
        let api = format!("{}/api/2.0/sql/statements", db.host);
        let auth = format!("Bearer {}", db.token);
        let body = json!({
            "statement": sql,
            "warehouse_id": db.warehouse_id,
            "disposition": "EXTERNAL_LINKS",
            "format": "CSV",
            "wait_timeout": "30s",
        })
        .to_string();
        let mut response = curl_json("POST", &api, Some(&auth), Some(&body))?;
        let id = response["statement_id"]
            .as_str()
            .context("statement_id")?
            .to_owned();
        for _ in 0..3000 {
            if response["status"]["state"] != "PENDING" && response["status"]["state"] != "RUNNING"
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
            response = curl_json("GET", &format!("{api}/{id}"), Some(&auth), None)?;
        }
        if response["status"]["state"] != "SUCCEEDED" {
            bail!("the ceiling's statement {id} is {}", response["status"]);
        }
        let chunks = response["manifest"]["total_chunk_count"]
            .as_u64()
            .context("total_chunk_count")?;
        let rows = response["manifest"]["total_row_count"]
            .as_u64()
            .context("total_row_count")?;
        let mut links = Vec::new();
        for index in 0..chunks {
            let chunk = curl_json(
                "GET",
                &format!("{api}/{id}/result/chunks/{index}"),
                Some(&auth),
                None,
            )?;
            let link = chunk["external_links"][0].clone();
            if link["external_link"].as_str().is_none() {
                bail!("chunk {index} of {id} has no link: {chunk}");
            }
            links.push(link);
        }
        Ok(Self { links, rows })
    }

    /// A curl config that fetches every chunk into `dir/chunk-N.csv`, with the link's own
    /// headers (and no `Authorization`).
    pub(super) fn write_config(&self, dir: &Path, path: &Path) -> Result<()> {
        let mut text = String::new();
        for (n, link) in self.links.iter().enumerate() {
            let url = link["external_link"].as_str().unwrap_or_default();
            let _ = writeln!(
                text,
                "url = \"{url}\"\noutput = \"{}\"",
                chunk_file(dir, n).display()
            );
            for (name, value) in link["http_headers"].as_object().into_iter().flatten() {
                let _ = writeln!(
                    text,
                    "header = \"{name}: {}\"",
                    value.as_str().unwrap_or("")
                );
            }
        }
        std::fs::write(path, text)?;
        Ok(())
    }

    /// Bytes curl received, after checking that it wrote every chunk whole (the `byte_count`
    /// each link declares).
    pub(super) fn received(&self, dir: &Path, seen: &Measurement) -> Result<u64> {
        let downloaded: u64 = seen
            .stdout
            .lines()
            .filter_map(|l| l.trim().parse::<u64>().ok())
            .sum();
        let mut written = 0;
        for (n, link) in self.links.iter().enumerate() {
            let file = chunk_file(dir, n);
            let size = std::fs::metadata(&file)
                .with_context(|| format!("curl wrote no {}", file.display()))?
                .len();
            if Some(size) != link["byte_count"].as_u64() {
                bail!(
                    "curl wrote {size} bytes of chunk {n}, which declares {}",
                    link["byte_count"]
                );
            }
            written += size;
        }
        if written != downloaded {
            bail!("curl received {downloaded} bytes but wrote {written}");
        }
        Ok(written)
    }
}

/// curl over 8 parallel connections of one process (so that its rusage is the ceiling's, as
/// haul's is haul's), each chunk to the file its config names.
pub(super) fn job(config: &Path, limit: Duration) -> Job {
    Job::new("curl", limit)
        .args([
            "--parallel",
            "--parallel-immediate",
            "--parallel-max",
            "8",
            "-sS",
            "--fail",
            "-w",
            "%{size_download}\\n",
            "-K",
        ])
        .arg(config)
}

fn chunk_file(dir: &Path, n: usize) -> PathBuf {
    dir.join(format!("chunk-{n}.csv"))
}
