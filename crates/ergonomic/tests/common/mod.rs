//! Starting haul-sim and a client of it.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use haul::auth::{AccessToken, ClientCredentials};
use haul::{RetryPolicy, Salesforce};
use haul_sim::{Sim, SimBuilder};

/// The next request for the result page whose query contains `locator` (such as `locator=` for
/// any page but the first) is refused with a 400: a download stops there, its earlier pages
/// checkpointed.
pub fn refuse_next_page(sim: &Sim, locator: &str) {
    sim.misbehave_next_where(
        "GET",
        "/services/data/{version}/jobs/query/{id}/results",
        locator,
        haul_sim::Misbehaviour::huge_error(400, 100),
    );
}

pub fn sim() -> SimBuilder {
    Sim::builder()
        .seed(7)
        .job_duration(Duration::from_millis(50))
}

/// Fast retries, so that fault tests do not sleep for long.
pub fn quick_retries() -> RetryPolicy {
    RetryPolicy::default().with_backoff(Duration::from_millis(5), Duration::from_millis(50))
}

pub fn client(sim: &Sim) -> Salesforce {
    Salesforce::builder()
        .instance_url(sim.instance_url())
        .auth(AccessToken::new(sim.access_token()))
        .retry(quick_retries())
        .build()
        .expect("client")
}

/// A client that asks for uncompressed answers, so that a test's bytes on the wire are the bytes it
/// queued on the simulator.
pub fn uncompressed_client(sim: &Sim) -> Salesforce {
    Salesforce::builder()
        .instance_url(sim.instance_url())
        .auth(AccessToken::new(sim.access_token()))
        .retry(quick_retries())
        .gzip(false)
        .build()
        .expect("client")
}

/// A simulator with `rows` accounts.
pub async fn sim_with(rows: u64) -> Sim {
    sim().rows("Account", rows).start().await.unwrap()
}

pub fn oauth_client(sim: &Sim) -> Salesforce {
    Salesforce::builder()
        .instance_url(sim.instance_url())
        .auth(ClientCredentials::new(
            sim.sf_client_id(),
            sim.sf_client_secret(),
        ))
        .retry(quick_retries())
        .build()
        .expect("client")
}

/// A fresh temporary folder, removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "haul-test-{name}-{}-{}",
            std::process::id(),
            fastrand_suffix()
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn join(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }

    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fastrand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Polls `check` every 20 ms for up to `limit`.
pub async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}
