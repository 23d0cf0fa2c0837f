//! Cursor windows: the half-open ranges `[from, to)` of the cursor field that a run reads, one bulk
//! job each, and their splitting in halves when a job times out.

use std::collections::VecDeque;

use crate::salesforce::query::QueryJobInfo;

use super::state::format_stamp;
use crate::error::Error;

/// The lower end used to halve a window that has none: no record of an org is older than
/// Salesforce (1999-01-01T00:00:00Z). A window without a lower end still queries without one, so a
/// record with an older stamp (set on migration) is read all the same.
const EARLIEST_MILLIS: i64 = 915_148_800_000;

/// A half-open range of the cursor field; `None` leaves that end open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Window {
    pub(super) from: Option<i64>,
    pub(super) to: Option<i64>,
}

impl Window {
    /// The SOQL conditions that select the window on `field`: `field >= from AND field < to`.
    pub(super) fn conditions(&self, field: &str) -> Vec<String> {
        let mut conditions = Vec::new();
        if let Some(from) = self.from {
            conditions.push(format!("{field} >= {}", soql_date_time(from)));
        }
        if let Some(to) = self.to {
            conditions.push(format!("{field} < {}", soql_date_time(to)));
        }
        conditions
    }

    /// The two halves, split at the middle of the window (an open upper end counts as `now`, an
    /// open lower end as 1999), or `None` when the window is narrower than twice `floor` (halves
    /// narrower than the floor are not tried).
    pub(super) fn halves(&self, now: i64, floor_ms: i64) -> Option<(Self, Self)> {
        let low = self.from.unwrap_or(EARLIEST_MILLIS);
        let high = self.to.unwrap_or(now).max(low);
        if high - low < 2 * floor_ms.max(1_000) {
            return None;
        }
        // Whole seconds, as SOQL date-time literals are written.
        let middle = (low + (high - low) / 2) / 1_000 * 1_000;
        Some((
            Self {
                from: self.from,
                to: Some(middle),
            },
            Self {
                from: Some(middle),
                to: self.to,
            },
        ))
    }

    /// The window for messages and reports: `[2024-05-01T10:00:00.000Z, open)`.
    pub(super) fn shown(&self) -> String {
        let end = |t: Option<i64>| t.map_or_else(|| "open".to_owned(), format_stamp);
        format!("[{}, {})", end(self.from), end(self.to))
    }
}

/// The windows still to read, in cursor order.
#[derive(Debug)]
pub(super) struct Windows(VecDeque<Window>);

impl Windows {
    /// One window from `from` (the cursor minus the lookback, or none on a first run), open above.
    pub(super) fn starting_at(from: Option<i64>) -> Self {
        Self(VecDeque::from([Window { from, to: None }]))
    }

    /// The next window to read.
    pub(super) fn next(&mut self) -> Option<Window> {
        self.0.pop_front()
    }

    /// Reads `window` again next (another way).
    pub(super) fn again(&mut self, window: Window) {
        self.0.push_front(window);
    }

    /// Reads the two halves of a window next, lower first.
    pub(super) fn split(&mut self, lower: Window, upper: Window) {
        self.0.push_front(upper);
        self.0.push_front(lower);
    }
}

/// Whether a bulk job failed because its query ran too long: the Bulk API's `QUERY_TIMEOUT`, or
/// the "took too long" wordings orgs also send; splitting the window may help these.
pub(super) fn is_query_timeout(error: &Error) -> bool {
    let message = error
        .failed_job::<QueryJobInfo>()
        .and_then(|info| info.error_message.as_deref())
        .or_else(|| error.vendor_message());
    let code = error.vendor_code();
    let timeout_text = |text: &str| {
        let lower = text.to_ascii_lowercase();
        text.contains("QUERY_TIMEOUT")
            || lower.contains("running for too long")
            || lower.contains("query timed out")
    };
    code == Some("QUERY_TIMEOUT") || message.is_some_and(timeout_text)
}

/// A SOQL date-time literal, whole seconds (`2024-05-01T10:00:00Z`); windows are cut on seconds.
fn soql_date_time(millis: i64) -> String {
    let text = format_stamp(millis.div_euclid(1_000) * 1_000);
    text.replace(".000Z", "Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn windows_are_half_open_in_soql() {
        let window = Window {
            from: Some(0),
            to: Some(DAY),
        };
        assert_eq!(
            window.conditions("SystemModstamp"),
            [
                "SystemModstamp >= 1970-01-01T00:00:00Z",
                "SystemModstamp < 1970-01-02T00:00:00Z"
            ]
        );
        let open = Window {
            from: None,
            to: None,
        };
        assert!(open.conditions("SystemModstamp").is_empty());
        assert_eq!(open.shown(), "[open, open)");
    }

    #[test]
    fn halves_are_disjoint_cover_the_window_and_stop_at_the_floor() {
        let window = Window {
            from: Some(EARLIEST_MILLIS),
            to: None,
        };
        let now = EARLIEST_MILLIS + 10 * DAY;
        let (lower, upper) = window.halves(now, 60_000).unwrap();
        assert_eq!(lower.from, window.from);
        assert_eq!(lower.to, upper.from);
        assert_eq!(upper.to, None);
        assert_eq!(lower.to, Some(EARLIEST_MILLIS + 5 * DAY));
        let narrow = Window {
            from: Some(0),
            to: Some(119_000),
        };
        assert_eq!(narrow.halves(now, 60_000), None);
        // Without a lower end, the halves keep none.
        let (first, _) = Window {
            from: None,
            to: None,
        }
        .halves(now, 60_000)
        .unwrap();
        assert_eq!(first.from, None);
    }

    #[test]
    fn split_windows_are_read_in_cursor_order() {
        let mut windows = Windows::starting_at(Some(0));
        let whole = windows.next().unwrap();
        let (lower, upper) = whole.halves(4 * DAY, 60_000).unwrap();
        windows.split(lower, upper);
        assert_eq!(windows.next(), Some(lower));
        assert_eq!(windows.next(), Some(upper));
        assert_eq!(windows.next(), None);
    }
}
