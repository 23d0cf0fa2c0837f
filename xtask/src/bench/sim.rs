//! haul-sim as a child process on 127.0.0.1, its request statistics, and small JSON calls to it
//! through curl.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

/// A running simulator; killed when dropped.
#[derive(Debug)]
pub(crate) struct Sim {
    child: Child,
    pub(crate) instance_url: String,
    pub(crate) access_token: String,
    /// The Salesforce connected app's credentials, for the client-credentials flow.
    pub(crate) sf_client_id: String,
    pub(crate) sf_client_secret: String,
    /// A refresh token for the Salesforce `refresh_token` grant.
    pub(crate) sf_refresh_token: String,
    pub(crate) looker_base_url: String,
    pub(crate) looker_client_id: String,
    pub(crate) looker_client_secret: String,
    /// The Databricks workspace (the same server), its personal access token, its service
    /// principal's OAuth credentials and its SQL warehouse.
    pub(crate) databricks: Databricks,
    /// The command line it was started with, for the report.
    pub(crate) command: String,
}

/// The simulated Databricks workspace, from the ready line.
#[derive(Debug, Clone, Default)]
pub(crate) struct Databricks {
    pub(crate) host: String,
    pub(crate) token: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) warehouse_id: String,
}

impl Sim {
    /// Starts `haul-sim --addr 127.0.0.1:0 ARGS` and waits (at most two minutes) for its ready line.
    pub(crate) fn start(root: &Path, args: &[String], log: &Path) -> Result<Self> {
        let binary = root.join("target/release/haul-sim");
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut child = Command::new(&binary)
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log)?)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let command = format!(
            "target/release/haul-sim --addr 127.0.0.1:0 {}",
            args.join(" ")
        );
        match ready_line(&mut child) {
            Ok(line) => Self::from_ready_line(child, command, &line),
            Err(outcome) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "{command} did not get ready ({outcome}); see {}",
                    log.display()
                );
            }
        }
    }

    /// The simulator, from the JSON line it prints once it listens.
    fn from_ready_line(child: Child, command: String, line: &str) -> Result<Self> {
        // The child is in `sim` first, so that an unreadable line still stops it (on drop).
        let mut sim = Self {
            child,
            instance_url: String::new(),
            access_token: String::new(),
            sf_client_id: String::new(),
            sf_client_secret: String::new(),
            sf_refresh_token: String::new(),
            looker_base_url: String::new(),
            looker_client_id: String::new(),
            looker_client_secret: String::new(),
            databricks: Databricks::default(),
            command,
        };
        let ready: Value = serde_json::from_str(line.trim())
            .with_context(|| format!("the simulator's ready line {line:?}"))?;
        let field = |name: &str| -> Result<String> {
            ready[name]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("{name} in the ready line"))
        };
        sim.instance_url = field("instance_url")?;
        sim.access_token = field("access_token")?;
        sim.sf_client_id = field("sf_client_id")?;
        sim.sf_client_secret = field("sf_client_secret")?;
        sim.sf_refresh_token = field("sf_refresh_token")?;
        sim.looker_base_url = field("looker_base_url")?;
        sim.looker_client_id = field("looker_client_id")?;
        sim.looker_client_secret = field("looker_client_secret")?;
        sim.databricks = Databricks {
            host: field("databricks_host")?,
            token: field("databricks_token")?,
            client_id: field("databricks_client_id")?,
            client_secret: field("databricks_client_secret")?,
            warehouse_id: field("databricks_warehouse_id")?,
        };
        Ok(sim)
    }

    /// The Bulk API 2.0 base, `.../services/data/v62.0`.
    pub(crate) fn api(&self) -> String {
        format!("{}/services/data/v62.0", self.instance_url)
    }

    /// CPU seconds the simulator has used so far (user plus system, from /proc).
    pub(crate) fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which may hold spaces) start after the last ')'.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; USER_HZ is 100.
        (ticks(11) + ticks(12)) / 100.0
    }

    /// Requests answered so far, by method, route template and status.
    pub(crate) fn stats(&self) -> Result<Stats> {
        let value = curl_json(
            "GET",
            &format!("{}/__sim/stats", self.instance_url),
            None,
            None,
        )?;
        let mut counts = BTreeMap::new();
        for entry in value["requests"].as_array().context("stats.requests")? {
            let key = format!(
                "{} {}",
                entry["method"].as_str().unwrap_or("?"),
                entry["route"].as_str().unwrap_or("?")
            );
            *counts.entry(key).or_default() += entry["count"].as_u64().unwrap_or(0);
        }
        Ok(Stats { counts })
    }

    /// A JSON call to the Salesforce API with the simulator's token.
    pub(crate) fn sf(&self, method: &str, path: &str, body: Option<&str>) -> Result<Value> {
        curl_json(
            method,
            &format!("{}{path}", self.api()),
            Some(&format!("Bearer {}", self.access_token)),
            body,
        )
    }

    /// Removes every query job but `keep`, so that results of earlier runs do not pile up.
    pub(crate) fn delete_query_jobs(&self, keep: &str) -> Result<()> {
        let listing = self.sf("GET", "/jobs/query", None)?;
        for job in listing["records"].as_array().into_iter().flatten() {
            if let Some(id) = job["id"].as_str().filter(|id| *id != keep) {
                let _ = self.sf("DELETE", &format!("/jobs/query/{id}"), None);
            }
        }
        Ok(())
    }
}

/// The first line the simulator prints, within two minutes.
fn ready_line(child: &mut Child) -> std::result::Result<String, String> {
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    match lines.recv_timeout(Duration::from_secs(120)) {
        Ok(line) if !line.trim().is_empty() => Ok(line),
        outcome => Err(format!("{outcome:?}")),
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Request counts keyed by `METHOD route-template` (statuses summed).
#[derive(Debug, Clone, Default)]
pub(crate) struct Stats {
    pub(crate) counts: BTreeMap<String, u64>,
}

impl Stats {
    /// What happened since `before`, without the simulator's own `/__sim` routes.
    pub(crate) fn since(&self, before: &Stats) -> Stats {
        let counts = self
            .counts
            .iter()
            .filter(|(key, _)| !key.contains(" /__sim"))
            .map(|(key, n)| {
                (
                    key.clone(),
                    n - before.counts.get(key).copied().unwrap_or(0),
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        Stats { counts }
    }

    pub(crate) fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Requests whose `METHOD route` ends with `suffix`.
    pub(crate) fn ending(&self, method: &str, suffix: &str) -> u64 {
        self.counts
            .iter()
            .filter(|(key, _)| key.starts_with(&format!("{method} ")) && key.ends_with(suffix))
            .map(|(_, n)| n)
            .sum()
    }
}

/// One JSON request through curl (30 s at most).
pub(crate) fn curl_json(
    method: &str,
    url: &str,
    authorization: Option<&str>,
    body: Option<&str>,
) -> Result<Value> {
    let mut command = Command::new("curl");
    command.args([
        "-sS",
        "--fail-with-body",
        "--max-time",
        "30",
        "-X",
        method,
        url,
    ]);
    if let Some(auth) = authorization {
        command.args(["-H", &format!("Authorization: {auth}")]);
    }
    if let Some(body) = body {
        command.args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            body,
        ]);
    }
    let output = command.output().context("running curl")?;
    if !output.status.success() {
        bail!(
            "curl {method} {url} failed: {}{}",
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
    }
    if output.stdout.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&output.stdout).with_context(|| format!("curl {method} {url}: not JSON"))
}
