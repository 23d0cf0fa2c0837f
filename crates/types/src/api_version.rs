//! Salesforce API versions such as `62.0`.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A Salesforce API version such as `62.0`.
///
/// The wire carries it as a JSON number (`62.0`) although the vendor's tables call it a string, so
/// both are accepted; it serialises as a number. In URLs it appears as `v62.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    major: u16,
    minor: u16,
}

impl ApiVersion {
    /// The first version with Bulk API 2.0 ingest jobs.
    pub const BULK_V2_INGEST: Self = Self::new(41, 0);
    /// The first version with Bulk API 2.0 query jobs.
    pub const BULK_V2_QUERY: Self = Self::new(47, 0);
    /// The first version with parallel result pages (`GET /jobs/query/{id}/resultPages`).
    pub const RESULT_PAGES: Self = Self::new(58, 0);
    /// The newest version the specs describe.
    pub const LATEST: Self = Self::new(62, 0);

    /// A version from its two parts: `ApiVersion::new(62, 0)` is `62.0`.
    pub const fn new(major: u16, minor: u16) -> Self {
        Self { major, minor }
    }

    /// The major part: 62 for `62.0`.
    pub const fn major(self) -> u16 {
        self.major
    }

    /// Whether this version offers parallel result pages.
    pub fn supports_result_pages(self) -> bool {
        self >= Self::RESULT_PAGES
    }

    /// The URL path segment, `v62.0`.
    pub fn path_segment(self) -> String {
        format!("v{self}")
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The text was not an API version such as `62.0`, `62` or `v62.0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseApiVersionError(String);

impl fmt::Display for ParseApiVersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a Salesforce API version such as 62.0",
            self.0
        )
    }
}

impl std::error::Error for ParseApiVersionError {}

impl FromStr for ApiVersion {
    type Err = ParseApiVersionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || ParseApiVersionError(text.to_owned());
        let digits = text.strip_prefix('v').unwrap_or(text);
        let (major, minor) = digits.split_once('.').unwrap_or((digits, "0"));
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(major) || !all_digits(minor) {
            return Err(error());
        }
        let major = major.parse().map_err(|_| error())?;
        let minor = minor.parse().map_err(|_| error())?;
        Ok(Self::new(major, minor))
    }
}

impl Serialize for ApiVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Versions are whole numbers or have one decimal place, so f64 holds them exactly.
        let value = f64::from(self.major) + f64::from(self.minor) / 10.0;
        serializer.serialize_f64(value)
    }
}

impl<'de> Deserialize<'de> for ApiVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ApiVersionVisitor)
    }
}

struct ApiVersionVisitor;

impl Visitor<'_> for ApiVersionVisitor {
    type Value = ApiVersion;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Salesforce API version as a number (62.0) or a string (\"62.0\")")
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<ApiVersion, E> {
        // One decimal place at most; format and reparse so that 62.0 and 62 agree.
        if !(0.0..65536.0).contains(&value) {
            return Err(E::invalid_value(de::Unexpected::Float(value), &self));
        }
        format!("{value:.1}").parse().map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<ApiVersion, E> {
        let major = u16::try_from(value)
            .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(value), &self))?;
        Ok(ApiVersion::new(major, 0))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<ApiVersion, E> {
        let value = u64::try_from(value)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(value), &self))?;
        self.visit_u64(value)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<ApiVersion, E> {
        value.parse().map_err(E::custom)
    }
}
