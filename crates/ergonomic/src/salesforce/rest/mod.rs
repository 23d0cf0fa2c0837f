//! The REST API beside the job APIs: versions, limits, describe, records, SOQL queries and who the
//! token belongs to.
//!
//! ```no_run
//! # async fn example(sf: haul::Salesforce) -> haul::Result<()> {
//! use futures::TryStreamExt;
//!
//! let account = sf.describe("Account").await?;
//! for field in &account.fields {
//!     println!("{} {} {:?}", field.name, field.type_, field.length);
//! }
//! let limits = sf.limits().await?;
//! println!("{:?}", limits.daily_api_requests());
//! let rows: Vec<haul::salesforce::rest::Row> = sf
//!     .query("SELECT Id, Name, Owner.Name FROM Account")
//!     .batch_size(500)
//!     .rows()
//!     .try_collect()
//!     .await?;
//! println!("{} accounts", rows.len());
//! # Ok(())
//! # }
//! ```
//!
//! Every request goes through the client's retry policy and renews the token on 401, like the job
//! APIs; a query's `nextRecordsUrl` is followed only on the instance itself.

mod flatten;
mod identity;
mod query;
mod results;
mod schema;
mod select_list;

use std::collections::BTreeMap;

use haul_client::salesforce_rest::{Client, types};
use haul_types::SalesforceId;

pub use haul_client::salesforce_rest::types::{
    DescribeGlobal, Field, Identity, PicklistValue, SObjectDescribe, SObjectSummary, UserInfo,
    VersionInfo,
};
pub use haul_types::{FieldType, OrgLimit, OrgLimits};
pub use query::{QueryBatch, RestQuery, Row};
pub use select_list::select_columns;

use super::Salesforce;
use crate::error::{Error, Result, from_client};

impl Salesforce {
    /// Every REST API version the instance serves, oldest first (one request, not counted against
    /// the org's API limit).
    pub async fn versions(&self) -> Result<Vec<VersionInfo>> {
        Ok(self
            .rest_client()
            .list_versions()
            .send()
            .await
            .map_err(|e| from_client("list_versions", e))?
            .into_inner()
            .0)
    }

    /// The resources of this client's API version, by name, each with its URL.
    pub async fn version_resources(&self) -> Result<BTreeMap<String, String>> {
        Ok(self
            .rest_client()
            .get_version_resources()
            .version(self.api_version().to_string())
            .send()
            .await
            .map_err(|e| from_client("get_version_resources", e))?
            .into_inner()
            .0)
    }

    /// The org's limits (daily API requests, Bulk API jobs and batches, storage, ...); limits this
    /// version of haul does not name are kept too.
    pub async fn limits(&self) -> Result<OrgLimits> {
        Ok(self
            .rest_client()
            .get_limits()
            .version(self.api_version().to_string())
            .send()
            .await
            .map_err(|e| from_client("get_limits", e))?
            .into_inner())
    }

    /// Every object the user can see, with its flags (the global describe).
    pub async fn global_describe(&self) -> Result<DescribeGlobal> {
        Ok(self
            .rest_client()
            .describe_global()
            .version(self.api_version().to_string())
            .send()
            .await
            .map_err(|e| from_client("describe_global", e))?
            .into_inner())
    }

    /// One object's metadata and fields, such as `describe("Account")`. The name is checked before
    /// anything is sent.
    pub async fn describe(&self, object: &str) -> Result<SObjectDescribe> {
        let object = checked_object_name(object)?;
        Ok(self
            .rest_client()
            .describe_s_object()
            .version(self.api_version().to_string())
            .sobject(object)
            .send()
            .await
            .map_err(|e| from_client("describe_s_object", e))?
            .into_inner())
    }

    /// One record of `object` by id, with every field the user can read.
    pub async fn record(&self, object: &str, id: &str) -> Result<Row> {
        let object = checked_object_name(object)?;
        let id: SalesforceId = id
            .parse()
            .map_err(|e| Error::invalid_input(format!("{e}")))?;
        let record = self
            .rest_client()
            .get_record()
            .version(self.api_version().to_string())
            .sobject(object)
            .id(id)
            .send()
            .await
            .map_err(|e| from_client("get_record", e))?
            .into_inner();
        Ok(into_row(record))
    }

    /// A SOQL query through the REST API, read lazily batch by batch (see [`RestQuery`]): for small
    /// results, or where the Bulk API cannot go (aggregates, subqueries).
    pub fn query(&self, soql: impl Into<String>) -> RestQuery {
        RestQuery::new(self.clone(), soql.into(), false)
    }

    /// As [`query`](Self::query), including records deleted by merge or delete and archived Task
    /// and Event records (`queryAll`).
    pub fn query_all(&self, soql: impl Into<String>) -> RestQuery {
        RestQuery::new(self.clone(), soql.into(), true)
    }

    /// A generated REST client rooted at the instance.
    fn rest_client(&self) -> Client {
        self.generated_at(self.instance_url(), Client::new_with_client)
    }
}

/// A record as the generated client holds it, as a map by field name.
fn into_row(record: types::Record) -> Row {
    record.0.into_iter().collect()
}

/// An object's API name, fit to be put in a URL path: 1 to 80 ASCII letters, digits and
/// underscores, starting with a letter (`Account`, `Invoice__c`, `ns__Thing__History`).
fn checked_object_name(object: &str) -> Result<&str> {
    let fits = object.len() <= 80
        && object.starts_with(|c: char| c.is_ascii_alphabetic())
        && object
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if fits {
        Ok(object)
    } else {
        let shown: String = object.chars().take(40).collect();
        Err(Error::invalid_input(format!(
            "{shown:?} is not an object's API name (ASCII letters, digits and underscores)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_are_api_names_only() {
        for good in ["Account", "Invoice__c", "ns__Thing__History", "X"] {
            assert!(checked_object_name(good).is_ok(), "{good}");
        }
        let long = "A".repeat(81);
        for bad in [
            "",
            "_Account",
            "1Account",
            "Account/describe",
            "Account?x=1",
            "../id",
            "Acc ount",
            "Accöunt",
            long.as_str(),
        ] {
            assert!(checked_object_name(bad).is_err(), "{bad}");
        }
    }
}
