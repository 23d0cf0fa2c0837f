//! Async SOQL: a query whose rows the server writes into another object, typically from a big object.
//!
//! Salesforce retired Async SOQL in Summer '23; this follows the v35–v46 contract, for orgs and
//! simulators that still speak it.
//!
//! ```no_run
//! # async fn example(sf: haul::Salesforce) -> haul::Result<()> {
//! let query = sf
//!     .async_soql("SELECT Account__c, Kind__c FROM Sample_Event__b")
//!     .insert_into("Event_Copy__c")
//!     .map("Account__c", "Account__c")
//!     .map("Kind__c", "Kind__c")
//!     .value("$JOB_ID", "BackgroundOperationLookup__c")
//!     .submit()
//!     .await?;
//! let done = query.wait().await?;
//! println!("{} is {}", done.job_id, done.status);
//! # Ok(())
//! # }
//! ```

mod job;

use std::collections::BTreeMap;

use haul_client::salesforce_async_soql::{Client, types};
use haul_types::{ApiVersion, AsyncQueryOperation};

pub use haul_client::salesforce_async_soql::types::AsyncQuery as AsyncQueryInfo;
pub use job::{AsyncQueryJob, failed_job};

use super::Salesforce;
use crate::error::{Error, Result, from_client};

/// The first API version with Async SOQL.
const MIN_VERSION: ApiVersion = ApiVersion::new(35, 0);

impl Salesforce {
    /// Starts describing an Async SOQL query; name its target with
    /// [`insert_into`](AsyncQueryBuilder::insert_into) or
    /// [`upsert_into`](AsyncQueryBuilder::upsert_into), map its fields, then submit it.
    pub fn async_soql(&self, soql: impl Into<String>) -> AsyncQueryBuilder {
        AsyncQueryBuilder {
            sf: self.clone(),
            query: soql.into(),
            operation: AsyncQueryOperation::Insert,
            target: None,
            external_id: None,
            field_map: BTreeMap::new(),
            value_map: BTreeMap::new(),
        }
    }

    /// A handle on an existing Async SOQL query. The id is checked (ASCII letters and digits only)
    /// before anything is sent.
    pub fn async_query(&self, id: &str) -> Result<AsyncQueryJob> {
        Ok(AsyncQueryJob::new(
            self.clone(),
            checked_id(id)?,
            self.api_version(),
        ))
    }

    /// Every Async SOQL query of the org (one request; the API does not page this list).
    pub async fn async_queries(&self) -> Result<Vec<AsyncQueryInfo>> {
        let version = self.api_version();
        check_version(version)?;
        Ok(self
            .generated(version, false, Client::new_with_client)
            .list_async_queries()
            .send()
            .await
            .map_err(|e| from_client("list_async_queries", e))?
            .into_inner()
            .async_queries)
    }
}

/// An Async SOQL query's id, fit to be put in a URL path: 1 to 64 ASCII letters and digits. (The
/// API documents it as a plain string, `08PD000000003kiT` in its example, so the length is not
/// pinned to 15 or 18.)
fn checked_id(id: &str) -> Result<String> {
    let fits = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric());
    if fits {
        Ok(id.to_owned())
    } else {
        let shown: String = id.chars().take(40).collect();
        Err(Error::invalid_input(format!(
            "{shown:?} is not an Async SOQL query id (ASCII letters and digits)"
        )))
    }
}

fn check_version(version: ApiVersion) -> Result<()> {
    if version < MIN_VERSION {
        return Err(Error::invalid_input(format!(
            "Async SOQL needs API version {MIN_VERSION} or newer; the client uses {version}"
        )));
    }
    Ok(())
}

/// Describes an Async SOQL query before it is submitted.
#[derive(Debug, Clone)]
#[must_use]
pub struct AsyncQueryBuilder {
    sf: Salesforce,
    query: String,
    operation: AsyncQueryOperation,
    target: Option<String>,
    external_id: Option<String>,
    field_map: BTreeMap<String, String>,
    value_map: BTreeMap<String, String>,
}

impl AsyncQueryBuilder {
    /// Inserts the rows into `object`.
    pub fn insert_into(mut self, object: impl Into<String>) -> Self {
        self.operation = AsyncQueryOperation::Insert;
        self.target = Some(object.into());
        self.external_id = None;
        self
    }

    /// Upserts the rows into `object` by its `external_id_field` (not possible into big objects).
    pub fn upsert_into(
        mut self,
        object: impl Into<String>,
        external_id_field: impl Into<String>,
    ) -> Self {
        self.operation = AsyncQueryOperation::Upsert;
        self.target = Some(object.into());
        self.external_id = Some(external_id_field.into());
        self
    }

    /// Writes the query's field (or alias) `source` into the target's field `target` (at least one
    /// mapping is required; mapping a source twice keeps the last).
    pub fn map(mut self, source: impl Into<String>, target: impl Into<String>) -> Self {
        self.field_map.insert(source.into(), target.into());
        self
    }

    /// Writes the literal `value` into the target's field `target` on every row; the value
    /// `$JOB_ID` stands for the query's id.
    pub fn value(mut self, value: impl Into<String>, target: impl Into<String>) -> Self {
        self.value_map.insert(value.into(), target.into());
        self
    }

    /// Submits the query. It is never sent twice: a failure that may have reached the server is
    /// returned. The description is checked before anything is sent.
    pub async fn submit(self) -> Result<AsyncQueryJob> {
        let body = self.body()?;
        let version = self.sf.api_version();
        check_version(version)?;
        let info = self
            .sf
            .generated(version, false, Client::new_with_client)
            .create_async_query()
            .body(body)
            .send()
            .await
            .map_err(|e| from_client("create_async_query", e))?
            .into_inner();
        let id = checked_id(&info.job_id).map_err(|_| {
            Error::invalid_response(
                "create_async_query",
                "the query's jobId is not letters and digits",
            )
        })?;
        tracing::info!(query = %id, target = info.target_object.as_deref().unwrap_or("?"), "created async query");
        Ok(AsyncQueryJob::new(self.sf, id, version))
    }

    fn body(&self) -> Result<types::AsyncQueryInput> {
        if self.query.trim().is_empty() {
            return Err(Error::invalid_input("the SOQL query is empty"));
        }
        let target = self
            .target
            .clone()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                Error::invalid_input("no target object: use insert_into or upsert_into")
            })?;
        if self.field_map.is_empty() {
            return Err(Error::invalid_input(
                "no field mapping: map at least one source field to a target field",
            ));
        }
        if self
            .external_id
            .as_deref()
            .is_some_and(|k| k.trim().is_empty())
        {
            return Err(Error::invalid_input(
                "the upsert's external id field is empty",
            ));
        }
        Ok(types::AsyncQueryInput {
            operation: Some(self.operation.clone()),
            query: self.query.clone(),
            target_external_id_field: self.external_id.clone(),
            target_field_map: self.field_map.clone(),
            target_object: target,
            target_value_map: self.value_map.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_letters_and_digits_only() {
        assert!(checked_id("08PD000000003kiT").is_ok());
        assert!(checked_id("08P000000000001AAA").is_ok());
        for bad in [
            "",
            "08P/../x",
            "08P%2F",
            "08P 1",
            "08P?x=1",
            "é08P",
            &"a".repeat(65),
        ] {
            assert!(checked_id(bad).is_err(), "{bad}");
        }
    }
}
