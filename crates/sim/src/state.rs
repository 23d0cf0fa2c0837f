//! The server's shared state and configuration.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

use crate::data::Org;
use crate::faults::Faults;
use crate::looker::LookerState;
use crate::misbehave::Misbehaviours;
use crate::network::NetworkProfile;
use crate::rng::mix;
use crate::salesforce::{async_soql::AsyncQuery, ingest::IngestJob, query::QueryJob};
use crate::stats::Recorder;
use crate::tokens::Tokens;

/// Settings fixed when the simulator starts.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) seed: u64,
    pub(crate) job_duration: Duration,
    pub(crate) profile: NetworkProfile,
    pub(crate) token_lifetime: Duration,
    pub(crate) api_limit: u64,
    pub(crate) legacy_looker_204: bool,
    pub(crate) default_page_size: u64,
    pub(crate) list_page_size: usize,
    pub(crate) looker_result_ttl: Duration,
}

/// Client credentials the token endpoints accept.
#[derive(Debug, Clone)]
pub(crate) struct Credentials {
    pub(crate) sf_client_id: String,
    pub(crate) sf_client_secret: String,
    pub(crate) looker_client_id: String,
    pub(crate) looker_client_secret: String,
}

impl Credentials {
    pub(crate) fn from_seed(seed: u64) -> Self {
        let h = |salt: u64| mix(seed ^ salt);
        Self {
            sf_client_id: format!("3MVG9sim{:016x}{:016x}", h(1), h(2)),
            sf_client_secret: format!("{:016X}{:016X}", h(3), h(4)),
            looker_client_id: format!("lk{:016x}", h(5)),
            looker_client_secret: format!("{:016x}{:08x}", h(6), h(7) as u32),
        }
    }
}

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) config: Config,
    pub(crate) credentials: Credentials,
    pub(crate) org: Org,
    pub(crate) tokens: Tokens,
    pub(crate) api_usage: AtomicU64,
    pub(crate) faults: Faults,
    pub(crate) misbehaviours: Misbehaviours,
    pub(crate) stats: Recorder,
    pub(crate) query_jobs: Mutex<BTreeMap<String, QueryJob>>,
    pub(crate) ingest_jobs: Mutex<BTreeMap<String, IngestJob>>,
    pub(crate) async_queries: Mutex<BTreeMap<String, AsyncQuery>>,
    pub(crate) looker: LookerState,
    serial: AtomicU64,
    shutdown: watch::Receiver<bool>,
}

/// Shared handle passed to every handler.
pub(crate) type Shared = Arc<State>;

impl State {
    pub(crate) fn new(
        config: Config,
        org: Org,
        faults: Faults,
        looker: LookerState,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Self {
            credentials: Credentials::from_seed(config.seed),
            tokens: Tokens::new(config.seed),
            config,
            org,
            api_usage: AtomicU64::new(0),
            faults,
            misbehaviours: Misbehaviours::default(),
            stats: Recorder::default(),
            query_jobs: Mutex::default(),
            ingest_jobs: Mutex::default(),
            async_queries: Mutex::default(),
            looker,
            serial: AtomicU64::new(1),
            shutdown,
        }
    }

    /// A fresh serial number for ids (jobs, queries, tasks).
    pub(crate) fn next_serial(&self) -> u64 {
        self.serial.fetch_add(1, Ordering::SeqCst)
    }

    /// Sleeps `duration`; false if the simulator shut down meanwhile (the caller should stop).
    pub(crate) async fn pause(&self, duration: Duration) -> bool {
        let mut shutdown = self.shutdown.clone();
        if *shutdown.borrow() {
            return false;
        }
        if duration.is_zero() {
            return true;
        }
        tokio::select! {
            () = tokio::time::sleep(duration) => true,
            _ = shutdown.changed() => false,
        }
    }
}

/// Locks a mutex, shrugging off poisoning: handlers never leave state half-written.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Salesforce's date-time format in job info: `2018-12-10T17:50:19.000+0000`.
pub(crate) fn sf_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}
