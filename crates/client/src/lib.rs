//! Low-level HTTP client for the API families haul speaks.
//!
//! Each module under [`generated`](self) is produced by `cargo xtask regen` from one spec in `specs/` and is
//! never edited by hand; the hand-written runtime in [`Context`] is handed to every generated client and
//! adds what the specs cannot say: the `Authorization` header from a [`TokenSource`], and the org's API
//! usage read from the last `Sforce-Limit-Info` header.
//!
//! Most users want the `haul` crate, which adds polling, pagination, retries and parallel download on
//! top of this one.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use haul_client::{BearerToken, Context, salesforce_bulk_query::Client};
//!
//! let context = Context::new(BearerToken::new("00D...!AQ0AQ...")?);
//! let http = reqwest::Client::new();
//! let client = Client::new_with_client(
//!     "https://acme.my.salesforce.com/services/data/v62.0",
//!     http,
//!     context.clone(),
//! );
//! let job = client.get_query_job().job_id("750R0000000zlh9IAA").send().await?;
//! println!("{} is {}; usage {:?}", job.id, job.state, context.last_api_usage());
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod runtime;

pub use runtime::{BearerToken, Context, Execute, NoToken, TokenSource};

// Re-exported so that callers name exactly the versions the generated code was built against.
pub use progenitor_client;
pub use reqwest;

/// Salesforce Bulk API 2.0 query jobs, generated from `specs/salesforce-bulk-query.yaml`.
#[rustfmt::skip]
#[allow(missing_docs, unreachable_pub, missing_debug_implementations)]
#[path = "generated/salesforce_bulk_query.rs"]
pub mod salesforce_bulk_query;

/// Salesforce Bulk API 2.0 ingest jobs, generated from `specs/salesforce-bulk-ingest.yaml`.
#[rustfmt::skip]
#[allow(missing_docs, unreachable_pub, missing_debug_implementations)]
#[path = "generated/salesforce_bulk_ingest.rs"]
pub mod salesforce_bulk_ingest;

/// Salesforce Async SOQL, generated from `specs/salesforce-async-soql.yaml`.
#[rustfmt::skip]
#[allow(missing_docs, unreachable_pub, missing_debug_implementations)]
#[path = "generated/salesforce_async_soql.rs"]
pub mod salesforce_async_soql;

/// The Salesforce REST API (versions, limits, describe, records, SOQL query, identity), generated from
/// `specs/salesforce-rest.yaml`.
#[rustfmt::skip]
#[allow(missing_docs, unreachable_pub, missing_debug_implementations)]
#[path = "generated/salesforce_rest.rs"]
pub mod salesforce_rest;

/// Looker API 4.0 login, queries and query tasks, generated from `specs/looker-query-tasks.yaml`.
#[rustfmt::skip]
#[allow(missing_docs, unreachable_pub, missing_debug_implementations)]
#[path = "generated/looker_query_tasks.rs"]
pub mod looker_query_tasks;

/// Databricks SQL statement execution, generated from `specs/databricks-sql-statements.yaml`.
#[rustfmt::skip]
#[allow(missing_docs, unreachable_pub, missing_debug_implementations)]
#[path = "generated/databricks_sql_statements.rs"]
pub mod databricks_sql_statements;

runtime::install_hooks!(
    salesforce_bulk_query,
    salesforce_bulk_ingest,
    salesforce_async_soql,
    salesforce_rest,
    looker_query_tasks,
    databricks_sql_statements
);
