//! The network profiles the download benchmarks run under: loopback, and a simulated WAN (the
//! simulator's own latency and per-connection bandwidth cap).

use std::time::Duration;

use anyhow::Result;

use super::Bench;
use super::sim::Sim;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Profile {
    Loopback,
    Wan,
}

impl Profile {
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Loopback => "loopback",
            Self::Wan => "WAN (50 ms, 8 MB/s a connection)",
        }
    }

    /// The profile in file names.
    pub(super) fn tag(self) -> &'static str {
        match self {
            Self::Loopback => "loopback",
            Self::Wan => "wan",
        }
    }

    /// haul-sim's arguments for the profile.
    pub(super) fn sim_args(self) -> Vec<String> {
        match self {
            Self::Loopback => Vec::new(),
            Self::Wan => ["--latency-ms", "50", "--bandwidth-mbps", "64"]
                .map(String::from)
                .to_vec(),
        }
    }

    /// haul-sim under this profile with `rows` Accounts and jobs that complete at once, logging to
    /// `target/bench/logs/{tag}-sim.log`; returns the tag (`benchmark-profile-rows`) and the sim.
    pub(super) fn start_accounts(
        self,
        bench: &Bench,
        benchmark: &str,
        rows: u64,
    ) -> Result<(String, Sim)> {
        eprintln!("bench: {benchmark}, {}, {rows} rows", self.name());
        let tag = format!("{benchmark}-{}-{rows}", self.tag());
        let mut args = vec![
            "--rows".to_owned(),
            format!("Account={rows}"),
            "--job-seconds".into(),
            "0".into(),
        ];
        args.extend(self.sim_args());
        let log = bench.logs.join(format!("{tag}-sim.log"));
        let sim = Sim::start(&bench.root, &args, &log)?;
        Ok((tag, sim))
    }

    /// How long a contender may take for `rows` before it is killed: loopback runs take
    /// seconds; the WAN is limited to 8 MB/s a connection, and `slack` covers the rest (a
    /// conversion after the download, for one).
    pub(super) fn limit(self, rows: u64, slack: Duration) -> Duration {
        match self {
            Self::Loopback => Duration::from_secs(300),
            Self::Wan => Duration::from_secs(60 + rows / 4_000) + slack,
        }
    }
}
