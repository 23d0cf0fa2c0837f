//! Seeded, reproducible fault injection: error statuses, cut connections, lying record counts and
//! jobs told to fail. Faults never touch `/__sim/*`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use serde::Serialize;

use crate::shared::rng::SplitMix;

/// Which faults to inject, as fractions of requests. Parse one from a spec such as
/// `"503=0.05,429=0.02,reset=0.02,truncate=0.01,seed=7"`.
///
/// Keys: `500`, `503`, `429` (answered at once with that status; 429 carries `Retry-After`),
/// `reset` (the body stops midway and the connection closes), `truncate` (a `Content-Length` is
/// promised, fewer bytes are sent, then the connection closes), `lie` (a result page's
/// `Sforce-NumberOfRecords`, or the `row_count` of a Databricks external link, is off by one), `seed` (of the fault sequence), `retry_after`
/// (seconds, default 1). The fractions must add up to at most 1.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    pub(crate) status_500: f64,
    pub(crate) status_503: f64,
    pub(crate) status_429: f64,
    pub(crate) reset: f64,
    pub(crate) truncate: f64,
    pub(crate) lie: f64,
    pub(crate) seed: u64,
    pub(crate) retry_after_secs: u64,
}

/// A fault spec could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultPlanError {
    /// An entry is not `key=value`.
    #[error("fault spec entry `{0}` is not key=value")]
    NotKeyValue(String),
    /// An unknown key.
    #[error("unknown fault `{0}` (known: 500, 503, 429, reset, truncate, lie, seed, retry_after)")]
    UnknownKey(String),
    /// A value is not a number in range.
    #[error(
        "fault `{0}` has value `{1}`, which is not a fraction in [0, 1] (or a whole number for seed/retry_after)"
    )]
    BadValue(String, String),
    /// The fractions add up to more than 1.
    #[error("fault fractions add up to {0}, more than 1")]
    TooMuch(f64),
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self::none()
    }
}

impl FaultPlan {
    /// No faults.
    pub fn none() -> Self {
        Self {
            status_500: 0.0,
            status_503: 0.0,
            status_429: 0.0,
            reset: 0.0,
            truncate: 0.0,
            lie: 0.0,
            seed: 0,
            retry_after_secs: 1,
        }
    }

    /// Parses a comma-separated spec of `key=value` entries (see the type's docs).
    pub fn parse(spec: &str) -> Result<Self, FaultPlanError> {
        let mut plan = Self::none();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (key, value) = entry
                .split_once('=')
                .ok_or_else(|| FaultPlanError::NotKeyValue(entry.to_owned()))?;
            let (key, value) = (key.trim(), value.trim());
            let bad = || FaultPlanError::BadValue(key.to_owned(), value.to_owned());
            let fraction = || {
                value
                    .parse::<f64>()
                    .ok()
                    .filter(|v| (0.0..=1.0).contains(v))
                    .ok_or_else(bad)
            };
            match key {
                "500" => plan.status_500 = fraction()?,
                "503" => plan.status_503 = fraction()?,
                "429" => plan.status_429 = fraction()?,
                "reset" => plan.reset = fraction()?,
                "truncate" => plan.truncate = fraction()?,
                "lie" => plan.lie = fraction()?,
                "seed" => plan.seed = value.parse().map_err(|_| bad())?,
                "retry_after" => plan.retry_after_secs = value.parse().map_err(|_| bad())?,
                other => return Err(FaultPlanError::UnknownKey(other.to_owned())),
            }
        }
        let total =
            plan.status_500 + plan.status_503 + plan.status_429 + plan.reset + plan.truncate;
        if total > 1.0 + f64::EPSILON {
            return Err(FaultPlanError::TooMuch(total));
        }
        Ok(plan)
    }

    /// Whether this plan injects nothing.
    pub fn is_none(&self) -> bool {
        self.status_500 + self.status_503 + self.status_429 + self.reset + self.truncate + self.lie
            == 0.0
    }
}

/// What to do to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Answer at once with this status.
    Status(u16),
    /// Cut the body midway and close the connection.
    Reset,
    /// Promise a `Content-Length`, send less, close.
    Truncate,
}

/// How many faults of each kind were actually injected (`GET /__sim/faults`). A reset or
/// truncation drawn for a body too short to cut is not counted: that body went out whole.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FaultCounts {
    /// Injected 500 answers.
    #[serde(rename = "500")]
    pub status_500: u64,
    /// Injected 503 answers.
    #[serde(rename = "503")]
    pub status_503: u64,
    /// Injected 429 answers (with `Retry-After`).
    #[serde(rename = "429")]
    pub status_429: u64,
    /// Bodies cut midway, connection closed.
    pub reset: u64,
    /// Bodies shorter than their `Content-Length`, connection closed.
    pub truncate: u64,
    /// Result pages whose `Sforce-NumberOfRecords` (or external links whose `row_count`) was off.
    pub lie: u64,
}

/// The live fault state: the plan, its random sequence, and what was injected.
#[derive(Debug)]
pub(crate) struct Faults {
    pub(crate) plan: FaultPlan,
    rng: Mutex<SplitMix>,
    /// Injected so far, in the order of [`FaultCounts`]' fields.
    injected: [AtomicU64; 6],
}

impl Faults {
    pub(crate) fn new(plan: FaultPlan) -> Self {
        let rng = Mutex::new(SplitMix::new(plan.seed));
        Self {
            plan,
            rng,
            injected: Default::default(),
        }
    }

    /// Counts one fault that went out (`Fault::Status`, a cut body, or a lie).
    pub(crate) fn record(&self, fault: Injected) {
        self.injected[fault as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Faults injected so far.
    pub(crate) fn counts(&self) -> FaultCounts {
        let n = |kind: Injected| self.injected[kind as usize].load(Ordering::Relaxed);
        FaultCounts {
            status_500: n(Injected::Status500),
            status_503: n(Injected::Status503),
            status_429: n(Injected::Status429),
            reset: n(Injected::Reset),
            truncate: n(Injected::Truncate),
            lie: n(Injected::Lie),
        }
    }

    fn draw(&self) -> f64 {
        self.rng
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .next_f64()
    }

    /// Decides the fault (if any) for the next request.
    pub(crate) fn roll(&self) -> Option<Fault> {
        let p = &self.plan;
        if p.status_500 + p.status_503 + p.status_429 + p.reset + p.truncate == 0.0 {
            return None;
        }
        let mut u = self.draw();
        for (fraction, fault) in [
            (p.status_500, Fault::Status(500)),
            (p.status_503, Fault::Status(503)),
            (p.status_429, Fault::Status(429)),
            (p.reset, Fault::Reset),
            (p.truncate, Fault::Truncate),
        ] {
            if u < fraction {
                return Some(fault);
            }
            u -= fraction;
        }
        None
    }

    /// Whether the plan's `lie` fraction says the next count should be off (by one); counted.
    pub(crate) fn draw_lie(&self) -> bool {
        let lie = self.plan.lie > 0.0 && self.draw() < self.plan.lie;
        if lie {
            self.record(Injected::Lie);
        }
        lie
    }
}

/// A one-shot fault hook a test arms, such as "the next query job fails": each arming is used
/// by one job.
#[derive(Debug, Default)]
pub(crate) struct Switch(AtomicU32);

impl Switch {
    /// Arms the switch once more.
    pub(crate) fn arm(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    /// Whether the job being created now was told to fail (uses one arming).
    pub(crate) fn take(&self) -> bool {
        self.0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// Kinds of injected fault, as counted (indexes into `Faults::injected`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Injected {
    Status500,
    Status503,
    Status429,
    Reset,
    Truncate,
    Lie,
}

impl Injected {
    /// The counter of an injected error status.
    pub(crate) fn status(code: u16) -> Self {
        match code {
            503 => Self::Status503,
            429 => Self::Status429,
            _ => Self::Status500,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs_and_rejects_nonsense() {
        let plan =
            FaultPlan::parse("503=0.05, 429=0.02,reset=0.02,truncate=0.01,seed=7").expect("valid");
        assert_eq!(plan.status_503, 0.05);
        assert_eq!(plan.seed, 7);
        assert!(FaultPlan::parse("").expect("empty is none").is_none());
        assert!(matches!(
            FaultPlan::parse("404=0.1"),
            Err(FaultPlanError::UnknownKey(_))
        ));
        assert!(matches!(
            FaultPlan::parse("503=2"),
            Err(FaultPlanError::BadValue(..))
        ));
        assert!(matches!(
            FaultPlan::parse("503"),
            Err(FaultPlanError::NotKeyValue(_))
        ));
        assert!(matches!(
            FaultPlan::parse("503=0.6,500=0.6"),
            Err(FaultPlanError::TooMuch(_))
        ));
    }

    #[test]
    fn rolls_are_reproducible_and_near_the_fractions() {
        let plan = FaultPlan::parse("503=0.2,reset=0.1,seed=3").expect("valid");
        let a = Faults::new(plan.clone());
        let b = Faults::new(plan);
        let rolls: Vec<_> = (0..2000).map(|_| a.roll()).collect();
        assert_eq!(rolls, (0..2000).map(|_| b.roll()).collect::<Vec<_>>());
        let n503 = rolls
            .iter()
            .filter(|r| **r == Some(Fault::Status(503)))
            .count();
        let resets = rolls.iter().filter(|r| **r == Some(Fault::Reset)).count();
        assert!((300..500).contains(&n503), "{n503}");
        assert!((130..270).contains(&resets), "{resets}");
    }

    #[test]
    fn switches_fire_once_per_arming() {
        let switch = Switch::default();
        assert!(!switch.take());
        switch.arm();
        switch.arm();
        assert!(switch.take() && switch.take());
        assert!(!switch.take());
    }

    #[test]
    fn lies_and_injections_are_counted() {
        let faults = Faults::new(FaultPlan::parse("lie=1").expect("valid"));
        assert!(faults.draw_lie());
        assert!(!Faults::new(FaultPlan::none()).draw_lie());
        faults.record(Injected::status(503));
        faults.record(Injected::Reset);
        let counts = faults.counts();
        assert_eq!((counts.status_503, counts.reset, counts.lie), (1, 1, 1));
        assert_eq!(counts.status_429 + counts.status_500 + counts.truncate, 0);
    }
}
