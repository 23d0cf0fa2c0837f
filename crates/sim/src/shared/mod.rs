//! The simulator's shared core: what every family builds on (configuration, OAuth tokens, the
//! job lifecycle, the simulated calendar, the faults engine, network profiles, the middleware,
//! the listeners a family serves beside the main one, statistics, CSV, ids, the random generator
//! and the generated data). Nothing here imports a family.

pub(crate) mod body;
pub(crate) mod calendar;
pub(crate) mod csv;
pub(crate) mod data;
pub(crate) mod faults;
pub(crate) mod ids;
pub(crate) mod lifecycle;
pub(crate) mod listener;
pub(crate) mod middleware;
pub(crate) mod misbehave;
pub(crate) mod network;
pub(crate) mod rng;
pub(crate) mod server;
pub(crate) mod stats;
pub(crate) mod surface;
pub(crate) mod tokens;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use self::calendar::Calendar;
use self::data::Org;
use self::faults::Faults;
use self::lifecycle::Clock;
use self::misbehave::Misbehaviours;
use self::network::NetworkProfile;
use self::stats::Recorder;
use self::tokens::{Credentials, Tokens};

/// Settings fixed when the simulator starts that more than one family reads.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) seed: u64,
    pub(crate) profile: NetworkProfile,
    pub(crate) token_lifetime: Duration,
}

/// What every family shares.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) config: Config,
    pub(crate) clock: Clock,
    /// The org's clock (what audit fields and job infos are stamped with) and its days.
    pub(crate) calendar: Calendar,
    pub(crate) credentials: Credentials,
    pub(crate) org: Org,
    pub(crate) tokens: Tokens,
    pub(crate) faults: Faults,
    pub(crate) misbehaviours: Misbehaviours,
    pub(crate) stats: Recorder,
    /// One sequence for every family: Bulk query and ingest job ids share a key prefix.
    serial: AtomicU64,
}

/// The shared core as handlers and families hold it.
pub(crate) type Shared = Arc<Core>;

impl Core {
    /// The core of `org`, whose calendar becomes everyone's.
    pub(crate) fn new(config: Config, clock: Clock, org: Org, faults: Faults) -> Self {
        Self {
            calendar: org.calendar().clone(),
            credentials: Credentials::from_seed(config.seed),
            tokens: Tokens::new(config.seed),
            config,
            clock,
            org,
            faults,
            misbehaviours: Misbehaviours::default(),
            stats: Recorder::default(),
            serial: AtomicU64::new(1),
        }
    }

    /// A fresh serial number for ids (jobs, queries, tasks).
    pub(crate) fn next_serial(&self) -> u64 {
        self.serial.fetch_add(1, Ordering::SeqCst)
    }
}

/// Locks a mutex, shrugging off poisoning: handlers never leave state half-written.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
