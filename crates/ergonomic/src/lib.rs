//! haul: get the results of asynchronous query jobs fast and without losing a row.
//!
//! Submit a job, wait while the server works, then page through or download what it produced, for
//! Salesforce Bulk API 2.0 query jobs (with parallel downloads through `resultPages`, API 58.0+).
//! haul checks every page's row count against `Sforce-NumberOfRecords` and the total against the job's
//! `numberRecordsProcessed`, aborts jobs it abandons when asked, and resumes interrupted downloads.
//! Beside the jobs, [`salesforce::rest`] reads the org through the REST API: its limits, the
//! describe of its objects (typed field types), one record, and SOQL queries batch by batch.
//! [`looker`] runs Looker query tasks, and [`databricks`] runs Databricks SQL statements and
//! downloads their results' chunks in parallel through their presigned links.
//!
//! ```no_run
//! # async fn example() -> haul::Result<()> {
//! let sf = haul::Salesforce::builder()
//!     .instance_url("https://acme.my.salesforce.com")
//!     .auth(haul::auth::AccessToken::new("00D...!AQ0AQ..."))
//!     .build()?;
//! let report = sf.bulk_query("SELECT Id, Name FROM Account").download_to("accounts.csv").await?;
//! println!("{} rows in {} pages", report.records, report.pages);
//! # Ok(())
//! # }
//! ```
//!
//! Every client is made the same way: `Client::builder()`, its setters, then `build()`, which is
//! synchronous, checks the settings and sends nothing; the first request obtains a token. Call the
//! client's `connect().await` to obtain one at once, so that bad credentials fail there. Every
//! wait takes the same [`WaitOptions`] (`backoff`, `timeout`, `abort_on_drop`), and every request
//! is retried under the client's [`RetryPolicy`].
//!
//! The layers below: `haul-client` (generated from the OpenAPI specs) and `haul-types` (shared types,
//! re-exported as [`types`]).
#![warn(missing_docs)]

mod csv_scan;
pub mod databricks;
pub mod download;
mod error;
// Only for the fuzz targets in `fuzz/`: they must call parsers that are private to the crate. Behind
// the `fuzzing` feature so that no user depends on them; not part of the API, no stability promise.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod handle;
mod http;
pub mod looker;
mod permit;
mod poll;
mod retry;
pub mod salesforce;
mod secret;
mod transport;

// Salesforce's credentials, kept at `haul::auth` where they have always been.
pub use databricks::{Databricks, DatabricksBuilder};
pub use error::{BoxError, Error, JobDetails, Result, StoreFailure};
pub use handle::Handle;
pub use haul_types as types;
pub use looker::{Looker, LookerBuilder};
pub use poll::{BackoffPolicy, Polled, Poller, WaitOptions};
pub use retry::RetryPolicy;
pub use salesforce::auth;
pub use salesforce::{Salesforce, SalesforceBuilder};
pub use secret::Secret;
pub use tokio_util::sync::CancellationToken;

/// Internals exposed only for haul's own property tests (`tests/properties.rs`): how the ingest
/// splitter cuts an input into jobs cannot be seen through the public API, which uploads the jobs
/// and reports only their rows. Not part of haul's API; it may change or go at any time.
#[doc(hidden)]
pub mod __property_tests {
    /// Splits `pieces` (an ingest's input, as consecutive reads) into jobs of at most `max_bytes`,
    /// exactly as an ingest does, and returns each job's CSV, header row first. Spool files go to
    /// `spool_dir` and are removed before this returns.
    pub async fn split_ingest_csv(
        pieces: Vec<Vec<u8>>,
        max_bytes: usize,
        spool_dir: std::path::PathBuf,
    ) -> crate::Result<Vec<Vec<u8>>> {
        crate::salesforce::ingest::split_in_memory(pieces, max_bytes, spool_dir).await
    }
}
