//! Request statistics: counts by method, route template and status.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

/// A snapshot of how many requests the simulator answered, by method, route and status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// One entry per (method, route, status), sorted.
    pub requests: Vec<RequestCount>,
}

/// How many requests of one kind were answered with one status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestCount {
    /// HTTP method, e.g. `GET`.
    pub method: String,
    /// Route template, e.g. `/services/data/{version}/jobs/query/{id}/results`, or `<unmatched>`.
    pub route: String,
    /// HTTP status sent (for a body cut short by a fault, the status that was sent first).
    pub status: u16,
    /// Number of such requests.
    pub count: u64,
}

impl Stats {
    /// Requests with this method and route template, whatever their status.
    pub fn count(&self, method: &str, route: &str) -> u64 {
        self.requests
            .iter()
            .filter(|r| r.method == method && r.route == route)
            .map(|r| r.count)
            .sum()
    }

    /// Requests answered with `status`.
    pub fn count_status(&self, status: u16) -> u64 {
        self.requests
            .iter()
            .filter(|r| r.status == status)
            .map(|r| r.count)
            .sum()
    }

    /// All requests.
    pub fn total(&self) -> u64 {
        self.requests.iter().map(|r| r.count).sum()
    }
}

/// The live counters behind [`Stats`].
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    counts: Mutex<BTreeMap<(String, String, u16), u64>>,
}

impl Recorder {
    pub(crate) fn record(&self, method: &str, route: &str, status: u16) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        *counts
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let requests = counts
            .iter()
            .map(|((method, route, status), &count)| RequestCount {
                method: method.clone(),
                route: route.clone(),
                status: *status,
                count,
            })
            .collect();
        Stats { requests }
    }
}
