//! The `Sforce-Limit-Info` response header: how much of the org's daily API allocation is used.

use std::fmt;
use std::str::FromStr;

/// The org's API usage as reported by `Sforce-Limit-Info: api-usage=18/5000`.
///
/// Newer orgs append `; api-bursts=<n>/<m>` and old pilots `per-app-api-usage=...`; only `api-usage` is
/// read, the rest is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApiUsage {
    /// Requests made in the current 24-hour window.
    pub used: u64,
    /// Requests allowed in the window.
    pub limit: u64,
}

impl ApiUsage {
    /// Requests left before the org answers `REQUEST_LIMIT_EXCEEDED`.
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }
}

impl fmt::Display for ApiUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "api-usage={}/{}", self.used, self.limit)
    }
}

/// The header value holds no `api-usage=<used>/<limit>` part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseApiUsageError;

impl fmt::Display for ParseApiUsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no `api-usage=<used>/<limit>` in the Sforce-Limit-Info header")
    }
}

impl std::error::Error for ParseApiUsageError {}

impl FromStr for ApiUsage {
    type Err = ParseApiUsageError;

    fn from_str(header: &str) -> Result<Self, Self::Err> {
        header
            .split([';', ','])
            .filter_map(|part| part.trim().strip_prefix("api-usage="))
            .find_map(|counts| {
                let (used, limit) = counts.split_once('/')?;
                Some(Self {
                    used: used.trim().parse().ok()?,
                    limit: limit.trim().parse().ok()?,
                })
            })
            .ok_or(ParseApiUsageError)
    }
}
