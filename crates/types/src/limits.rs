//! The org's limits, as `GET /services/data/vXX.X/limits` reports them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One of the org's limits: its allocation and what remains of it.
///
/// Some limits also report their usage by connected app, as further entries keyed by the app's
/// name (`"Ant Migration Tool": {"Max": 0, "Remaining": 0}`); those are kept in `by_app`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OrgLimit {
    /// The allocation.
    #[serde(rename = "Max")]
    pub max: i64,
    /// What remains of it.
    #[serde(rename = "Remaining")]
    pub remaining: i64,
    /// Usage of this limit by connected app, by the app's name.
    #[serde(flatten)]
    pub by_app: BTreeMap<String, OrgLimit>,
}

impl OrgLimit {
    /// A limit of `max` with `remaining` left, reported for no app.
    pub fn new(max: i64, remaining: i64) -> Self {
        Self {
            max,
            remaining,
            by_app: BTreeMap::new(),
        }
    }

    /// What is used of it: `max - remaining`, never below 0.
    pub fn used(&self) -> i64 {
        self.max.saturating_sub(self.remaining).max(0)
    }
}

/// The org's limits by name.
///
/// The names are open (Salesforce adds limits with new releases): every limit the server reports is
/// kept, and the ones haul's users look at most have accessors of their own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrgLimits(BTreeMap<String, OrgLimit>);

impl OrgLimits {
    /// Daily API requests (what `Sforce-Limit-Info` reports too).
    pub const DAILY_API_REQUESTS: &'static str = "DailyApiRequests";
    /// Daily Bulk API 2.0 query jobs.
    pub const DAILY_BULK_V2_QUERY_JOBS: &'static str = "DailyBulkV2QueryJobs";
    /// Daily storage of Bulk API 2.0 query results, in MB.
    pub const DAILY_BULK_V2_QUERY_FILE_STORAGE_MB: &'static str = "DailyBulkV2QueryFileStorageMB";
    /// Daily Bulk API batches (Bulk API 1.0 batches and Bulk API 2.0 ingest jobs).
    pub const DAILY_BULK_API_BATCHES: &'static str = "DailyBulkApiBatches";
    /// Data storage, in MB.
    pub const DATA_STORAGE_MB: &'static str = "DataStorageMB";

    /// The limit named `name`, such as `DailyApiRequests`.
    pub fn get(&self, name: &str) -> Option<&OrgLimit> {
        self.0.get(name)
    }

    /// Every limit, by name in alphabetical order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &OrgLimit)> {
        self.0.iter().map(|(name, limit)| (name.as_str(), limit))
    }

    /// How many limits the server reported.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the server reported none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Daily API requests.
    pub fn daily_api_requests(&self) -> Option<&OrgLimit> {
        self.get(Self::DAILY_API_REQUESTS)
    }

    /// Daily Bulk API 2.0 query jobs.
    pub fn daily_bulk_v2_query_jobs(&self) -> Option<&OrgLimit> {
        self.get(Self::DAILY_BULK_V2_QUERY_JOBS)
    }

    /// Daily storage of Bulk API 2.0 query results, in MB.
    pub fn daily_bulk_v2_query_file_storage_mb(&self) -> Option<&OrgLimit> {
        self.get(Self::DAILY_BULK_V2_QUERY_FILE_STORAGE_MB)
    }

    /// Daily Bulk API batches.
    pub fn daily_bulk_api_batches(&self) -> Option<&OrgLimit> {
        self.get(Self::DAILY_BULK_API_BATCHES)
    }

    /// Data storage, in MB.
    pub fn data_storage_mb(&self) -> Option<&OrgLimit> {
        self.get(Self::DATA_STORAGE_MB)
    }

    /// The limits as a map by name.
    pub fn into_inner(self) -> BTreeMap<String, OrgLimit> {
        self.0
    }
}

impl From<BTreeMap<String, OrgLimit>> for OrgLimits {
    fn from(limits: BTreeMap<String, OrgLimit>) -> Self {
        Self(limits)
    }
}

impl<'a> IntoIterator for &'a OrgLimits {
    type Item = (&'a String, &'a OrgLimit);
    type IntoIter = std::collections::btree_map::Iter<'a, String, OrgLimit>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCUMENTED: &str = r#"{
        "DailyApiRequests": {"Max": 15000, "Remaining": 14998,
            "Ant Migration Tool": {"Max": 0, "Remaining": 0}},
        "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 9990},
        "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
        "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
        "DataStorageMB": {"Max": 5, "Remaining": 5},
        "SomeLimitOfNextRelease": {"Max": 7, "Remaining": 9}
    }"#;

    #[test]
    fn known_limits_have_accessors_and_unknown_ones_are_kept() {
        let limits: OrgLimits = serde_json::from_str(DOCUMENTED).unwrap();
        let api = limits.daily_api_requests().unwrap();
        assert_eq!((api.max, api.remaining, api.used()), (15000, 14998, 2));
        assert_eq!(
            api.by_app.get("Ant Migration Tool"),
            Some(&OrgLimit::new(0, 0))
        );
        assert_eq!(limits.daily_bulk_v2_query_jobs().unwrap().used(), 10);
        assert_eq!(
            limits.daily_bulk_v2_query_file_storage_mb().unwrap().max,
            976562
        );
        assert_eq!(limits.daily_bulk_api_batches().unwrap().remaining, 15000);
        assert_eq!(limits.data_storage_mb().unwrap().max, 5);
        let future = limits.get("SomeLimitOfNextRelease").unwrap();
        assert_eq!(
            future.used(),
            0,
            "more remaining than the maximum is no use"
        );
        assert_eq!(limits.len(), 6);
    }

    #[test]
    fn limits_serialise_back_as_the_server_sent_them() {
        let limits: OrgLimits = serde_json::from_str(DOCUMENTED).unwrap();
        let back: serde_json::Value = serde_json::to_value(&limits).unwrap();
        let original: serde_json::Value = serde_json::from_str(DOCUMENTED).unwrap();
        assert_eq!(back, original);
    }

    #[test]
    fn a_limit_without_its_maximum_is_an_error() {
        assert!(serde_json::from_str::<OrgLimits>(r#"{"X": {"Remaining": 1}}"#).is_err());
    }
}
