//! Airbyte's Salesforce source in a venv of its own (`target/bench/airbyte-venv`: its dependencies
//! are many and pinned, so it stays out of the peers' venv), its files for one simulator (config,
//! configured catalog, state), and its `read` runs as measured jobs.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde_json::json;

use super::super::Bench;
use super::super::measure::Job;
use super::super::sim::Sim;
use super::helper;

/// The connector, pinned (2.10.x is current on PyPI).
pub(super) const PACKAGE: &str = "airbyte-source-salesforce==2.10.3";
/// Its incremental runs start here: the first day of the simulator's generated dates, so that the
/// first run reads every row (the connector's default is two years back).
pub(super) const START_DATE: &str = "2015-01-01T00:00:00Z";
const LAUNCHER: &str = include_str!("launch_airbyte.py");

/// The installed connector and the files its runs read.
#[derive(Debug)]
pub(super) struct Airbyte {
    python: PathBuf,
    launcher: PathBuf,
    dir: PathBuf,
    /// `airbyte-source-salesforce` and `airbyte-cdk` versions, as installed.
    pub(super) versions: String,
}

impl Airbyte {
    /// Installs the connector when its venv is missing or holds another version.
    pub(super) fn install(bench: &Bench) -> Result<Self> {
        let venv = bench.work.join("airbyte-venv");
        let python = venv.join("bin/python");
        if !python.exists() {
            run(
                Command::new("python3").args(["-m", "venv"]).arg(&venv),
                "python3 -m venv",
            )?;
        }
        let stamp = venv.join(".installed");
        if std::fs::read_to_string(&stamp).ok().as_deref() != Some(PACKAGE) {
            eprintln!("bench: installing {PACKAGE} in {}", venv.display());
            run(
                Command::new(&python).args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    PACKAGE,
                ]),
                "pip install",
            )?;
            std::fs::write(&stamp, PACKAGE)?;
        }
        let versions = helper::run(&python, bench, &["versions".as_ref()])?;
        let versions = versions
            .as_object()
            .context("versions")?
            .iter()
            .map(|(name, version)| format!("{name} {}", version.as_str().unwrap_or("?")))
            .collect::<Vec<_>>()
            .join(", ");
        Ok(Self {
            launcher: bench.script("launch_airbyte.py", LAUNCHER)?,
            dir: bench.work.join("out-extract/airbyte"),
            python,
            versions,
        })
    }

    pub(super) fn config(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    pub(super) fn catalog(&self) -> PathBuf {
        self.dir.join("catalog.json")
    }

    pub(super) fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// Where a run's messages go (`full` or `incremental`).
    pub(super) fn output(&self, run: &str) -> PathBuf {
        self.dir.join(format!("{run}.jsonl"))
    }

    /// A fresh folder and the connector's config for `sim`: its connected app and refresh token,
    /// everything else at the connector's defaults but the start date.
    pub(super) fn prepare(&self, sim: &Sim) -> Result<()> {
        let _ = std::fs::remove_dir_all(&self.dir);
        std::fs::create_dir_all(&self.dir)?;
        let config = json!({
            "client_id": sim.sf_client_id,
            "client_secret": sim.sf_client_secret,
            "refresh_token": sim.sf_refresh_token,
            "start_date": START_DATE,
        });
        std::fs::write(self.config(), config.to_string())?;
        Ok(())
    }

    /// Runs `discover` (unmeasured) and keeps the catalog of `objects`, in incremental mode.
    pub(super) fn discover(&self, bench: &Bench, sim: &Sim, objects: &str) -> Result<()> {
        let out = self.dir.join("discover.jsonl");
        let status = Command::new(&self.python)
            .arg(&self.launcher)
            .arg(&sim.instance_url)
            .arg("discover")
            .arg("--config")
            .arg(self.config())
            .stdout(std::fs::File::create(&out)?)
            .stderr(std::fs::File::create(
                bench.logs.join("extract-airbyte-discover.log"),
            )?)
            .status()?;
        if !status.success() {
            bail!("source-salesforce discover failed ({status}); see target/bench/logs/");
        }
        let catalog = self.catalog();
        let args = [
            "catalog".as_ref(),
            out.as_os_str(),
            objects.as_ref(),
            catalog.as_os_str(),
        ];
        helper::run(&bench.python, bench, &args)?;
        Ok(())
    }

    /// The last state of each stream in the full run's output, for the incremental run.
    pub(super) fn keep_state(&self, bench: &Bench) -> Result<()> {
        let (output, state) = (self.output("full"), self.state());
        helper::run(
            &bench.python,
            bench,
            &["state".as_ref(), output.as_os_str(), state.as_os_str()],
        )?;
        Ok(())
    }

    /// `source-salesforce read` with the state when `incremental`; its messages go to a file
    /// (`exec`, so the measured process is the connector's own).
    pub(super) fn read(&self, sim: &Sim, incremental: bool, limit: Duration) -> Job {
        let run = if incremental { "incremental" } else { "full" };
        let mut job = Job::new("/bin/bash", limit)
            .args(["-c", r#"out=$1; shift; exec "$@" >"$out""#, "bash"])
            .arg(self.output(run))
            .arg(&self.python)
            .arg(&self.launcher)
            .arg(&sim.instance_url)
            .args(["read", "--config"])
            .arg(self.config())
            .arg("--catalog")
            .arg(self.catalog());
        if incremental {
            job = job.arg("--state").arg(self.state());
        }
        job
    }
}

fn run(command: &mut Command, what: &str) -> Result<()> {
    let status = command.status().with_context(|| what.to_owned())?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}
