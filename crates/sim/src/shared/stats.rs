//! Request statistics: counts by method, route template and status, and the most requests that were
//! in flight at once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// A snapshot of how many requests the simulator answered, by method, route and status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// One entry per (method, route, status), sorted.
    pub requests: Vec<RequestCount>,
    /// The most requests (`/__sim/*` not counted) in flight at once, over all routes. A request is
    /// in flight from its arrival until its whole body has been sent or dropped.
    pub peak_in_flight: u64,
    /// The same peak for each route template seen.
    pub peak_in_flight_by_route: BTreeMap<String, u64>,
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
    in_flight: Arc<Mutex<InFlight>>,
}

/// Requests in flight now and at most, in all and by route: (now, peak).
#[derive(Debug, Default)]
struct InFlight {
    all: (u64, u64),
    by_route: BTreeMap<String, (u64, u64)>,
}

impl InFlight {
    fn change(&mut self, route: &str, up: bool) {
        let entry = self.by_route.entry(route.to_owned()).or_default();
        for (now, peak) in [&mut self.all, entry] {
            if up {
                *now += 1;
                *peak = (*peak).max(*now);
            } else {
                *now = now.saturating_sub(1);
            }
        }
    }
}

/// Counts one request as in flight until dropped; keep it alive as long as its body.
#[derive(Debug)]
pub(crate) struct InFlightGuard {
    in_flight: Arc<Mutex<InFlight>>,
    route: String,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        in_flight.change(&self.route, false);
    }
}

impl Recorder {
    pub(crate) fn record(&self, method: &str, route: &str, status: u16) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        *counts
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
    }

    /// Counts a request on `route` as in flight until the guard is dropped.
    pub(crate) fn start(&self, route: &str) -> InFlightGuard {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        in_flight.change(route, true);
        InFlightGuard {
            in_flight: self.in_flight.clone(),
            route: route.to_owned(),
        }
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
        let in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        Stats {
            requests,
            peak_in_flight: in_flight.all.1,
            peak_in_flight_by_route: in_flight
                .by_route
                .iter()
                .map(|(route, &(_, peak))| (route.clone(), peak))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_count_overlapping_requests_until_their_guards_drop() {
        let recorder = Recorder::default();
        let a = recorder.start("/a");
        let b = recorder.start("/a");
        let c = recorder.start("/b");
        drop((a, b));
        let d = recorder.start("/a");
        drop((c, d));
        let stats = recorder.snapshot();
        assert_eq!(stats.peak_in_flight, 3);
        assert_eq!(stats.peak_in_flight_by_route["/a"], 2);
        assert_eq!(stats.peak_in_flight_by_route["/b"], 1);
        let _e = recorder.start("/b");
        assert_eq!(recorder.snapshot().peak_in_flight, 3);
    }
}
