//! The run's budget of API requests and Bulk API 2.0 query jobs: read from the org's `/limits` at
//! the start and again before every window, so that a run leaves the org's reserve (and stays
//! within its own cap) instead of spending the day's allowance other integrations need.
//!
//! What the run spent is the org's own count (`DailyApiRequests`) since the start: it includes
//! requests other clients made meanwhile, which errs on the side of stopping early. A window is
//! admitted when what is left covers what a window has cost so far in this run (at least
//! [`MIN_WINDOW_COST`]) for it and every window still under way; once one is refused, the run
//! starts nothing more.

use std::sync::{Mutex, PoisonError};

use haul_types::OrgLimits;

use super::report::BudgetReport;
use crate::Salesforce;
use crate::error::{Error, Result};

/// What one window costs at least: `/limits`, the job's creation, a status, a result page, its
/// deletion.
const MIN_WINDOW_COST: u64 = 5;

/// How much of the org's allowance a run may spend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Allowance {
    /// The run's own cap on API requests.
    pub(super) max_requests: Option<u64>,
    /// The share of each daily allowance (requests, query jobs) left for others, 0 to 1.
    pub(super) reserve: f64,
}

/// The budget of one run, shared by its objects.
pub(super) struct Budget {
    sf: Salesforce,
    allowance: Allowance,
    ledger: Mutex<Ledger>,
}

/// What the run knows of the org's counts and its own spending.
#[derive(Debug, Default)]
struct Ledger {
    /// The org's `DailyApiRequests` used when the run started.
    start_used: u64,
    /// The org's request allowance, and what it had used when last seen.
    requests_max: u64,
    requests_used: u64,
    /// The org's query job allowance, and what remained when last seen (less the jobs admitted
    /// since).
    jobs_max: u64,
    jobs_remaining: u64,
    /// Jobs this run started.
    jobs_started: u64,
    /// Windows admitted and not finished, and finished.
    in_flight: u64,
    finished: u64,
    /// Why the run stopped starting work, once it did.
    stopped: Option<String>,
    /// Whether the org reported each limit at all: one it does not report is not enforced.
    requests_reported: bool,
    jobs_reported: bool,
}

impl Budget {
    /// Reads the org's limits; the budget may already be spent (the run then starts nothing).
    pub(super) async fn open(sf: Salesforce, allowance: Allowance) -> Result<Self> {
        let limits = sf.limits().await;
        let budget = Self {
            sf,
            allowance,
            ledger: Mutex::new(Ledger::default()),
        };
        {
            let mut ledger = budget.lock();
            ledger.stopped = match limits {
                Ok(limits) => {
                    ledger.see(&limits);
                    ledger.start_used = ledger.requests_used;
                    refusal(&budget.allowance, &ledger, false)
                }
                // The org is already past a limit: nothing can start, the report says why.
                Err(error) if error.is_limit_exceeded() => {
                    if let Some(usage) = budget.sf.api_usage() {
                        ledger.start_used = usage.used;
                    }
                    Some(format!("the org refused a request: {error}"))
                }
                Err(error) => return Err(error),
            };
        }
        Ok(budget)
    }

    /// Fails when the run has stopped starting work: an object not begun is left for the next run.
    pub(super) fn check(&self) -> Result<()> {
        match &self.lock().stopped {
            Some(why) => Err(Error::budget_spent(why.clone())),
            None => Ok(()),
        }
    }

    /// Admits one window (a bulk job when `bulk`), its limits read again first; held until the
    /// window is landed. Refused once the budget cannot cover it.
    pub(super) async fn admit(&self, bulk: bool) -> Result<Admitted<'_>> {
        self.check()?;
        let limits = match self.sf.limits().await {
            Ok(limits) => limits,
            Err(error) => return Err(self.stop_on(error)),
        };
        let mut ledger = self.lock();
        ledger.see(&limits);
        if ledger.stopped.is_none() {
            ledger.stopped = refusal(&self.allowance, &ledger, bulk);
        }
        if let Some(why) = &ledger.stopped {
            return Err(Error::budget_spent(why.clone()));
        }
        ledger.in_flight += 1;
        if bulk {
            ledger.jobs_started += 1;
            ledger.jobs_remaining = ledger.jobs_remaining.saturating_sub(1);
        }
        Ok(Admitted { budget: self })
    }

    /// Notes an error: when it is the org's own limit, the run starts nothing more. Answers it.
    pub(super) fn stop_on(&self, error: Error) -> Error {
        if error.is_limit_exceeded() {
            let mut ledger = self.lock();
            if ledger.stopped.is_none() {
                ledger.stopped = Some(format!("the org refused a request: {error}"));
            }
        }
        error
    }

    /// What the run spent and what remains, the org's last count of requests read from the last
    /// `Sforce-Limit-Info` seen.
    pub(super) fn report(&self) -> BudgetReport {
        let mut ledger = self.lock();
        if let Some(usage) = self.sf.api_usage() {
            ledger.requests_used = usage.used;
            ledger.requests_max = usage.limit;
        }
        BudgetReport {
            stopped: ledger.stopped.clone(),
            requests_spent: ledger.spent(),
            requests_remaining: ledger.requests_max.saturating_sub(ledger.requests_used),
            requests_max: ledger.requests_max,
            jobs_spent: ledger.jobs_started,
            jobs_remaining: ledger.jobs_remaining,
            jobs_max: ledger.jobs_max,
            left_for_next_run: Vec::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Ledger {
    /// Takes the org's counts from `limits` (a limit it does not report is left as it was).
    fn see(&mut self, limits: &OrgLimits) {
        if let Some(requests) = limits.daily_api_requests() {
            self.requests_max = clamp(requests.max);
            self.requests_used = clamp(requests.used());
            self.requests_reported = true;
        }
        if let Some(jobs) = limits.daily_bulk_v2_query_jobs() {
            self.jobs_max = clamp(jobs.max);
            self.jobs_remaining = clamp(jobs.remaining);
            self.jobs_reported = true;
        }
    }

    /// Requests the org counted since the run started (none after its day turned).
    fn spent(&self) -> u64 {
        self.requests_used.saturating_sub(self.start_used)
    }

    /// What a window has cost on average so far, planning included, at least the minimum.
    fn window_cost(&self) -> u64 {
        match self.finished {
            0 => MIN_WINDOW_COST,
            done => self.spent().div_ceil(done).max(MIN_WINDOW_COST),
        }
    }
}

/// An admitted window; dropping it says it is over.
pub(super) struct Admitted<'a> {
    budget: &'a Budget,
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        let mut ledger = self.budget.lock();
        ledger.in_flight = ledger.in_flight.saturating_sub(1);
        ledger.finished += 1;
    }
}

/// Why another window (a job when `bulk`) is refused, if it is.
fn refusal(allowance: &Allowance, ledger: &Ledger, bulk: bool) -> Option<String> {
    let reserve = allowance.reserve;
    let cost = ledger.window_cost();
    let needed = cost.saturating_mul(ledger.in_flight + 1);
    let kept = share(ledger.requests_max, reserve);
    let remaining = ledger.requests_max.saturating_sub(ledger.requests_used);
    if ledger.requests_reported && remaining.saturating_sub(kept) < needed {
        return Some(format!(
            "{remaining} of the org's {} daily API requests remain, {kept} of them kept in \
             reserve; a window needs about {cost}",
            ledger.requests_max
        ));
    }
    if let Some(max) = allowance.max_requests
        && max.saturating_sub(ledger.spent()) < needed
    {
        return Some(format!(
            "the run spent {} of its {max} API requests; a window needs about {cost}",
            ledger.spent()
        ));
    }
    let kept_jobs = share(ledger.jobs_max, reserve);
    if bulk && ledger.jobs_reported && ledger.jobs_remaining.saturating_sub(kept_jobs) < 1 {
        return Some(format!(
            "{} of the org's {} daily bulk query jobs remain, {kept_jobs} of them kept in \
             reserve",
            ledger.jobs_remaining, ledger.jobs_max
        ));
    }
    None
}

/// `fraction` of `max`, rounded up.
fn share(max: u64, fraction: f64) -> u64 {
    // An allowance is far below 2^52; the small tolerance keeps 20% of 100 at 20 whatever the
    // last bit of 0.2 says.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let kept = (max as f64 * fraction.clamp(0.0, 1.0) - 1e-6)
        .ceil()
        .max(0.0) as u64;
    kept
}

fn clamp(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(requests: (u64, u64), jobs: (u64, u64)) -> Ledger {
        Ledger {
            requests_max: requests.0,
            requests_used: requests.1,
            jobs_max: jobs.0,
            jobs_remaining: jobs.1,
            requests_reported: true,
            jobs_reported: true,
            ..Ledger::default()
        }
    }

    const DEFAULT: Allowance = Allowance {
        max_requests: None,
        reserve: 0.2,
    };

    #[test]
    fn the_reserve_of_requests_and_jobs_is_left_alone() {
        // 100 a day, 80 used: exactly the 20% reserve remains.
        assert!(refusal(&DEFAULT, &ledger((100, 80), (10, 10)), false).is_some());
        assert!(refusal(&DEFAULT, &ledger((100, 75), (10, 10)), false).is_none());
        // Two windows under way need room for a third as well.
        let mut busy = ledger((100, 75), (10, 10));
        busy.in_flight = 2;
        assert!(refusal(&DEFAULT, &busy, false).is_some());
        // 10 jobs a day: 2 kept; with 2 left no job starts, a REST window still may.
        assert!(refusal(&DEFAULT, &ledger((100, 0), (10, 2)), true).is_some());
        assert!(refusal(&DEFAULT, &ledger((100, 0), (10, 2)), false).is_none());
        assert!(refusal(&DEFAULT, &ledger((100, 0), (10, 3)), true).is_none());
    }

    #[test]
    fn the_runs_own_cap_counts_what_windows_have_cost_so_far() {
        let capped = Allowance {
            max_requests: Some(29),
            reserve: 0.0,
        };
        let mut spent = ledger((1000, 20), (10, 10));
        spent.start_used = 10;
        spent.finished = 1;
        // 10 spent on one window: 19 left covers one more, not one more beside one under way.
        assert!(refusal(&capped, &spent, true).is_none());
        spent.in_flight = 1;
        let why = refusal(&capped, &spent, true).expect("refused");
        assert!(why.contains("10 of its 29"), "{why}");
    }

    #[test]
    fn a_limit_the_org_does_not_report_is_not_enforced() {
        let unknown = Ledger::default();
        assert!(refusal(&DEFAULT, &unknown, true).is_none());
        assert_eq!(share(15_000, 0.2), 3_000);
        assert_eq!(share(7, 0.2), 2);
    }
}
