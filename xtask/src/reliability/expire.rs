//! Forced expiry during a run: a thread that calls one of the simulator's control routes
//! (`POST /__sim/expire-tokens`, or `POST /__sim/databricks/expire-links`) shortly after the run
//! starts and then at a fixed interval.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::bench::sim::curl_json;

/// Most expiries one run may send (bounds the thread's loop even if it is never stopped).
const MAX_EXPIRIES: u64 = 100_000;

/// A running expirer; stopped (and joined) by [`Expirer::stop`] or when dropped.
#[derive(Debug)]
pub(crate) struct Expirer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<u64>>,
}

impl Expirer {
    /// Expires every token of the simulator at `instance_url` after `first`, then every `every`.
    pub(crate) fn start(instance_url: &str, first: Duration, every: Duration) -> Self {
        Self::posting(format!("{instance_url}/__sim/expire-tokens"), first, every)
    }

    /// POSTs to the control route `url` after `first`, then every `every`.
    pub(crate) fn posting(url: String, first: Duration, every: Duration) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let mut sent = 0;
            let mut wait = first;
            while sent < MAX_EXPIRIES {
                match stopped.recv_timeout(wait) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        if curl_json("POST", &url, None, None).is_ok() {
                            sent += 1;
                        }
                        wait = every;
                    }
                    _ => break,
                }
            }
            sent
        });
        Self {
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Stops the thread; returns how many calls the simulator accepted.
    pub(crate) fn stop(mut self) -> u64 {
        self.halt()
    }

    fn halt(&mut self) -> u64 {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Expirer {
    fn drop(&mut self) {
        self.halt();
    }
}
