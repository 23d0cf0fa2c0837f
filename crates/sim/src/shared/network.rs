//! Network profiles: latency added to every request and a bandwidth cap on every response body.

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures::StreamExt;
use tokio::time::Instant;

/// How the simulated network behaves. Off ([`NetworkProfile::none`]) by default.
///
/// The bandwidth cap applies to each response body separately; with HTTP/1.1 a connection carries
/// one response at a time, so that is a per-connection cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetworkProfile {
    latency: Duration,
    bytes_per_second: Option<u64>,
}

impl NetworkProfile {
    /// No added latency, no bandwidth cap.
    pub fn none() -> Self {
        Self::default()
    }

    /// A wide-area network: `latency` before each response, bodies sent at `bytes_per_second`.
    pub fn wan(latency: Duration, bytes_per_second: u64) -> Self {
        Self {
            latency,
            bytes_per_second: Some(bytes_per_second.max(1)),
        }
    }

    /// Only added latency.
    pub fn latency(latency: Duration) -> Self {
        Self {
            latency,
            bytes_per_second: None,
        }
    }

    /// The latency added before each response.
    pub fn request_latency(&self) -> Duration {
        self.latency
    }

    /// The body bandwidth cap in bytes per second, if any.
    pub fn bandwidth(&self) -> Option<u64> {
        self.bytes_per_second
    }
}

/// Slices sent between pauses: small enough to pace smoothly, large enough to be cheap.
const SLICE: usize = 16 * 1024;

/// Wraps a body so that it flows at no more than `rate` bytes per second.
pub(crate) fn throttle(body: Body, rate: u64) -> Body {
    let start = Instant::now();
    let mut sent: u64 = 0;
    let stream = body
        .into_data_stream()
        .flat_map(|chunk| {
            let slices: Vec<Result<Bytes, axum::Error>> = match chunk {
                Ok(bytes) => (0..bytes.len())
                    .step_by(SLICE)
                    .map(|at| Ok(bytes.slice(at..(at + SLICE).min(bytes.len()))))
                    .collect(),
                Err(e) => vec![Err(e)],
            };
            futures::stream::iter(slices)
        })
        .then(move |item| {
            if let Ok(bytes) = &item {
                sent += bytes.len() as u64;
            }
            let due = start + Duration::from_secs_f64(sent as f64 / rate as f64);
            async move {
                tokio::time::sleep_until(due).await;
                item
            }
        });
    Body::from_stream(stream)
}
