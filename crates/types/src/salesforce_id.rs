//! Salesforce record ids such as job ids (`750R0000000zlh9IAA`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A Salesforce record id: 15 (case-sensitive) or 18 (case-safe) ASCII letters and digits.
///
/// The first three characters are the key prefix naming the object: `750` for Bulk API jobs, `005`
/// for users. Validation happens on construction and on deserialisation, so an id can always be put
/// into a URL path as it is: it never holds `/`, `.` or `%`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SalesforceId(String);

impl SalesforceId {
    /// The key prefix: `750` for a Bulk API job.
    pub fn key_prefix(&self) -> &str {
        &self.0[..3]
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The text is not a Salesforce record id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSalesforceId(String);

impl fmt::Display for InvalidSalesforceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The rejected text may come from anywhere; show it escaped and bounded.
        let shown: String = self.0.chars().take(40).collect();
        write!(
            f,
            "{shown:?} is not a Salesforce id (15 or 18 ASCII letters and digits)"
        )
    }
}

impl std::error::Error for InvalidSalesforceId {}

impl FromStr for SalesforceId {
    type Err = InvalidSalesforceId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let valid_length = text.len() == 15 || text.len() == 18;
        if valid_length && text.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(text.to_owned()))
        } else {
            Err(InvalidSalesforceId(text.to_owned()))
        }
    }
}

impl TryFrom<String> for SalesforceId {
    type Error = InvalidSalesforceId;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl TryFrom<&str> for SalesforceId {
    type Error = InvalidSalesforceId;

    fn try_from(text: &str) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<SalesforceId> for String {
    fn from(id: SalesforceId) -> Self {
        id.0
    }
}

impl AsRef<str> for SalesforceId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SalesforceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for SalesforceId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SalesforceId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
