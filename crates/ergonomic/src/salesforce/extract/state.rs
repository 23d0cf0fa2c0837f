//! An object's extract state, `DEST/<Object>/_state.json`: where its cursor stands, which run
//! last landed it, and the (Id, stamp) pairs landed within the lookback of the cursor.
//!
//! The state is written only after a run's data, manifests and run record are complete, so a run
//! that fails or is killed leaves the last good state, and the next run reads from there.

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::download::Destination;
use crate::error::{Error, Result};

/// The state's file name in the object's folder.
pub(super) const STATE_FILE: &str = "_state.json";
/// The layout of the state this version writes and reads.
const STATE_VERSION: u32 = 1;

/// What an object's last good run left behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct ObjectState {
    pub(super) state_version: u32,
    pub(super) object: String,
    /// The cursor field the state's stamps are of.
    pub(super) cursor_field: Option<String>,
    /// The newest cursor value landed so far (RFC 3339, milliseconds, `Z`).
    pub(super) cursor: Option<String>,
    /// The run that last completed for this object.
    pub(super) last_run: String,
    /// Rows landed by that run.
    pub(super) last_run_rows: u64,
    /// Rows landed by every complete run, added up (an Id changed twice counts twice).
    pub(super) rows: u64,
    /// Every complete run, oldest first: the run folders a reader should take.
    pub(super) runs: Vec<String>,
    /// The (Id, stamp) pairs landed with a stamp within the lookback of `cursor`: a next run reads
    /// that window again and drops these.
    pub(super) landed_near_cursor: Vec<(String, String)>,
}

impl ObjectState {
    /// The state in `folder`, `None` before the first complete run.
    pub(super) async fn load(folder: &Destination, object: &str) -> Result<Option<Self>> {
        let Some(bytes) = folder.read_file(STATE_FILE).await? else {
            return Ok(None);
        };
        let shown = format!("{folder}{STATE_FILE}");
        let state: Self = serde_json::from_slice(&bytes)
            .map_err(|e| Error::invalid_input(format!("{shown} is not an extract state: {e}")))?;
        if state.state_version != STATE_VERSION {
            return Err(Error::invalid_input(format!(
                "{shown} has state version {}; this haul reads version {STATE_VERSION}",
                state.state_version
            )));
        }
        if !state.object.eq_ignore_ascii_case(object) {
            return Err(Error::invalid_input(format!(
                "{shown} is the state of {}, not of {object}",
                state.object
            )));
        }
        Ok(Some(state))
    }

    /// Saves the state, replacing the last one whole.
    pub(super) async fn save(&self, folder: &Destination) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self).expect("a state serialises");
        folder.write_file(STATE_FILE, bytes).await
    }

    /// The cursor as an instant, if the state has one that reads.
    pub(super) fn cursor_millis(&self) -> Result<Option<i64>> {
        self.cursor.as_deref().map(parse_stamp).transpose()
    }

    /// The pairs to drop when read again.
    pub(super) fn landed(&self) -> Result<HashSet<(String, i64)>> {
        self.landed_near_cursor
            .iter()
            .map(|(id, stamp)| Ok((id.clone(), parse_stamp(stamp)?)))
            .collect()
    }

    /// The state after a run: `previous` carried forward, with the run's newest stamp and the
    /// pairs near it.
    pub(super) fn after_run(previous: Option<&Self>, run: RunOutcome) -> Self {
        let old_cursor = previous.and_then(|p| p.cursor_millis().ok().flatten());
        let cursor = match (old_cursor, run.max_stamp) {
            (Some(old), Some(new)) => Some(old.max(new)),
            (old, new) => old.or(new),
        };
        let mut pairs: HashSet<(String, i64)> =
            previous.and_then(|p| p.landed().ok()).unwrap_or_default();
        pairs.extend(run.near_cursor);
        let floor = cursor.map(|c| c - run.lookback_ms);
        let mut landed_near_cursor: Vec<(String, String)> = pairs
            .into_iter()
            .filter(|(_, stamp)| floor.is_some_and(|floor| *stamp >= floor))
            .map(|(id, stamp)| (id, format_stamp(stamp)))
            .collect();
        landed_near_cursor.sort();
        let mut runs = previous.map(|p| p.runs.clone()).unwrap_or_default();
        runs.push(run.run_id.clone());
        Self {
            state_version: STATE_VERSION,
            object: run.object,
            cursor_field: run.cursor_field,
            cursor: cursor.map(format_stamp),
            last_run: run.run_id,
            last_run_rows: run.rows,
            rows: previous.map_or(0, |p| p.rows) + run.rows,
            runs,
            landed_near_cursor,
        }
    }
}

/// What a complete run of one object contributes to its state.
#[derive(Debug, Clone)]
pub(super) struct RunOutcome {
    pub(super) object: String,
    pub(super) cursor_field: Option<String>,
    pub(super) run_id: String,
    pub(super) rows: u64,
    /// The newest stamp read, in milliseconds since the epoch.
    pub(super) max_stamp: Option<i64>,
    /// (Id, stamp) pairs read within the lookback of `max_stamp` (perhaps more).
    pub(super) near_cursor: Vec<(String, i64)>,
    pub(super) lookback_ms: i64,
}

/// A date-time as Salesforce prints it (`2024-05-01T10:00:00.000Z`, or with `+0000`), in
/// milliseconds since the epoch.
pub(super) fn parse_stamp(text: &str) -> Result<i64> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .map(|t| t.timestamp_millis())
        .map_err(|_| Error::invalid_input(format!("{text:?} is not a date-time")))
}

/// Milliseconds since the epoch as `2024-05-01T10:00:00.000Z`.
pub(super) fn format_stamp(millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(run: &str, max: Option<i64>, pairs: &[(&str, i64)]) -> RunOutcome {
        RunOutcome {
            object: "Account".into(),
            cursor_field: Some("SystemModstamp".into()),
            run_id: run.into(),
            rows: pairs.len() as u64,
            max_stamp: max,
            near_cursor: pairs.iter().map(|(i, s)| ((*i).to_owned(), *s)).collect(),
            lookback_ms: 1_000,
        }
    }

    #[test]
    fn stamps_read_both_salesforce_forms_and_print_one() {
        let z = parse_stamp("2024-05-01T10:00:00.000Z").unwrap();
        assert_eq!(parse_stamp("2024-05-01T10:00:00.000+0000").unwrap(), z);
        assert_eq!(format_stamp(z), "2024-05-01T10:00:00.000Z");
        assert!(parse_stamp("yesterday").is_err());
    }

    #[test]
    fn a_run_moves_the_cursor_and_keeps_only_pairs_within_the_lookback() {
        let first = ObjectState::after_run(
            None,
            outcome(
                "r1",
                Some(10_000),
                &[("a", 8_000), ("b", 9_500), ("c", 10_000)],
            ),
        );
        assert_eq!(first.cursor.as_deref(), Some("1970-01-01T00:00:10.000Z"));
        let kept: Vec<&str> = first
            .landed_near_cursor
            .iter()
            .map(|(i, _)| i.as_str())
            .collect();
        assert_eq!(kept, ["b", "c"]);
        // A run that reads nothing newer keeps the cursor and the pairs.
        let second = ObjectState::after_run(Some(&first), outcome("r2", None, &[]));
        assert_eq!(second.cursor, first.cursor);
        assert_eq!(second.landed_near_cursor, first.landed_near_cursor);
        assert_eq!(second.runs, ["r1", "r2"]);
        assert_eq!(second.rows, 3);
    }
}
