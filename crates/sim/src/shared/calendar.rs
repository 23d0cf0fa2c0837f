//! The simulated calendar: the org's clock, which is real time moved forward by the days a test
//! skipped (`Sim::next_day`, `POST /__sim/next-day`), and the daily allowances counted on it.
//!
//! Salesforce counts its daily allocations (API requests, Bulk API 2.0 query jobs, batches) over
//! a rolling 24-hour window ("API Request Limits and Allocations" and "Bulk API and Bulk API 2.0
//! Limits and Allocations", Salesforce Developer Limits and Allocations Quick Reference). The
//! simulator simplifies the window to whole simulated days: everything spent on one day is
//! given back at once when the next day begins, and real time passing gives nothing back, so
//! that a test decides exactly when a spent budget returns.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, TimeDelta, Utc};

use super::lock;

/// The org's clock: real time plus the simulated days skipped so far. Clones share it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Calendar {
    skipped: Arc<AtomicU32>,
}

impl Calendar {
    /// Days skipped so far: 0 until the first [`Calendar::next_day`].
    pub(crate) fn day(&self) -> u32 {
        self.skipped.load(Ordering::SeqCst)
    }

    /// Now on the org's clock.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now() + TimeDelta::days(i64::from(self.day()))
    }

    /// Now on the org's clock as audit fields print it: whole seconds (a real org stores
    /// date-times to the second, their milliseconds always read `.000`).
    pub(crate) fn audit_stamp(&self) -> String {
        self.now().format("%Y-%m-%dT%H:%M:%S.000Z").to_string()
    }

    /// Moves the clock 24 hours on, which begins a new day for every [`Daily`] allowance;
    /// returns the days skipped so far.
    pub(crate) fn next_day(&self) -> u32 {
        self.skipped.fetch_add(1, Ordering::SeqCst) + 1
    }
}

/// An allowance spent over one simulated day and given back when the next begins.
#[derive(Debug)]
pub(crate) struct Daily {
    calendar: Calendar,
    /// The day the count belongs to, and the count.
    spent: Mutex<(u32, u64)>,
}

impl Daily {
    /// Nothing spent yet, counted on `calendar`'s days.
    pub(crate) fn new(calendar: &Calendar) -> Self {
        Self {
            calendar: calendar.clone(),
            spent: Mutex::new((calendar.day(), 0)),
        }
    }

    /// Spent so far today.
    pub(crate) fn used(&self) -> u64 {
        let today = self.calendar.day();
        let spent = lock(&self.spent);
        if spent.0 == today { spent.1 } else { 0 }
    }

    /// Spends `amount` more today; what has been spent today, this included.
    pub(crate) fn spend(&self, amount: u64) -> u64 {
        let today = self.calendar.day();
        let mut spent = lock(&self.spent);
        if spent.0 != today {
            *spent = (today, 0);
        }
        spent.1 = spent.1.saturating_add(amount);
        spent.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_day_moves_the_clock_a_day_on_and_gives_allowances_back() {
        let calendar = Calendar::default();
        let requests = Daily::new(&calendar);
        assert_eq!((requests.spend(1), requests.spend(2)), (1, 3));
        let before = calendar.now();
        assert_eq!(calendar.next_day(), 1);
        let after = calendar.now();
        assert!(after - before >= TimeDelta::days(1), "{before} {after}");
        assert!(after - before < TimeDelta::days(1) + TimeDelta::minutes(1));
        assert_eq!(requests.used(), 0);
        assert_eq!(requests.spend(1), 1);
        assert!(calendar.audit_stamp().ends_with(".000Z"));
    }
}
