//! Shared types of haul, the client for asynchronous query-job APIs.
//!
//! The specs in `specs/` map several schemas onto these hand-written types (progenitor's
//! `with_replacement`), so that the generated client, the ergonomic library and the simulator all
//! agree on them. Every enum whose vendor may add values is *tolerant*: a value this version does not
//! know deserialises into `Other(String)` instead of failing, and serialises back unchanged.
//!
//! This crate depends on serde only; it knows nothing of HTTP.
#![warn(missing_docs)]

#[macro_use]
mod tolerant;
mod api_usage;
mod api_version;
mod databricks;
mod field_type;
mod limits;
mod looker;
mod salesforce;
mod salesforce_id;

pub use api_usage::{ApiUsage, ParseApiUsageError};
pub use api_version::{ApiVersion, ParseApiVersionError};
pub use databricks::{ColumnTypeName, StatementDisposition, StatementFormat, StatementState};
pub use field_type::FieldType;
pub use limits::{OrgLimit, OrgLimits};
pub use looker::{LookerResultFormat, QueryTaskStatus};
pub use salesforce::{
    AsyncQueryOperation, AsyncQueryStatus, ColumnDelimiter, ConcurrencyMode, ContentType,
    IngestJobState, IngestOperation, JobType, LineEnding, QueryJobState, QueryOperation,
};
pub use salesforce_id::{InvalidSalesforceId, SalesforceId};
