//! What a simulator saw during a run: faults injected by kind (`GET /__sim/faults`), token grants and
//! refused requests (`GET /__sim/stats`).

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};

use crate::bench::sim::{Sim, curl_json};

/// The kinds of fault, in the order the report shows them (keys of `/__sim/faults`).
pub(crate) const FAULT_KINDS: [&str; 4] = ["503", "429", "reset", "truncate"];

/// Counts read from one simulator after a run.
#[derive(Debug, Clone, Default)]
pub(crate) struct Seen {
    /// Faults injected, by kind.
    pub(crate) faults: BTreeMap<String, u64>,
    /// Successful token grants (`POST /services/oauth2/token`, Looker `POST /api/4.0/login` or
    /// Databricks `POST /oidc/v1/token`, 200).
    pub(crate) grants: u64,
    /// Requests refused with 401 (an expired token).
    pub(crate) unauthorized: u64,
    /// Every request answered, `/__sim` routes excluded.
    pub(crate) requests: u64,
}

impl Seen {
    /// Reads the simulator's counters.
    pub(crate) fn read(sim: &Sim) -> Result<Self> {
        let faults = curl_json(
            "GET",
            &format!("{}/__sim/faults", sim.instance_url),
            None,
            None,
        )?;
        let stats = curl_json(
            "GET",
            &format!("{}/__sim/stats", sim.instance_url),
            None,
            None,
        )?;
        let mut seen = Seen::default();
        for kind in FAULT_KINDS {
            seen.faults
                .insert(kind.to_owned(), faults[kind].as_u64().unwrap_or(0));
        }
        for entry in stats["requests"].as_array().context("stats.requests")? {
            let route = entry["route"].as_str().unwrap_or("");
            let (status, count) = (
                entry["status"].as_u64(),
                entry["count"].as_u64().unwrap_or(0),
            );
            if route.starts_with("/__sim") {
                continue;
            }
            seen.requests += count;
            let grant = route == "/services/oauth2/token"
                || route == "/oidc/v1/token"
                || route.ends_with("/login");
            if grant && entry["method"] == "POST" && status == Some(200) {
                seen.grants += count;
            }
            if status == Some(401) {
                seen.unauthorized += count;
            }
        }
        Ok(seen)
    }

    /// The faults as `503: a, 429: b, reset: c, truncate: d`.
    pub(crate) fn faults_text(&self) -> String {
        FAULT_KINDS
            .iter()
            .map(|k| format!("{k}: {}", self.faults.get(*k).copied().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
