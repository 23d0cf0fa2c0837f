//! `sf.extract()`: keep objects of an org in a lake, run after run, landing only what changed.
//!
//! ```no_run
//! # async fn example(sf: haul::Salesforce) -> haul::Result<()> {
//! use haul::download::Destination;
//!
//! let report = sf
//!     .extract(Destination::parse("lake/")?)
//!     .objects(["Account", "Contact"])
//!     .run()
//!     .await?;
//! for object in &report.objects {
//!     println!("{}: {} rows, {:?}", object.object, object.rows, object.error);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! ```text
//! DEST/<Object>/run=<run id>/w000/part-00000.parquet    one folder a window (a bulk job), each with
//! DEST/<Object>/run=<run id>/w000/_manifest.json        the download engine's manifest, written last
//! DEST/<Object>/run=<run id>/hard_deletes/              Ids gone since the last run (detect_hard_deletes)
//! DEST/<Object>/run=<run id>/_ids.txt                   the Id set the next run compares with (same)
//! DEST/<Object>/run=<run id>/_run.json                  the object's part of the run, after every window
//! DEST/<Object>/_state.json                             cursor, last run, rows; after `_run.json`
//! DEST/_runs/<run id>.json                              the run's summary, every object, at the end
//! ```
//!
//! A run id is its start, UTC, to the millisecond (`20240501T100000.000Z`). A reader takes the
//! run folders that have `_run.json` (also listed in `_state.json`'s `runs`); a folder without
//! one is a run that failed or was killed, and its rows are read again by the next run. Each row
//! landed is a version of a record: a dataset is all complete runs, the newest version of each Id
//! (by the cursor stamp) winning; rows with `IsDeleted` true are deletions.
//!
//! # What is read
//!
//! - **Fields**: every field describe lists, or the ones given ([`ObjectSpec::fields`]); compound
//!   fields (address, location) are replaced by their components, base64 fields are left out;
//!   both are named in the report ([`ObjectReport::replaced`], [`ObjectReport::left_out`]). `Id`,
//!   `IsDeleted` and the cursor field are always read.
//! - **Cursor**: `SystemModstamp`, else `LastModifiedDate`, else `CreatedDate`, or the one given;
//!   an object with none of them (a big object, say) is read whole every run, each run a full
//!   snapshot (its state's `cursor_field` is null: a reader takes its last run only).
//! - **Deletes**: every job is a `queryAll`, so soft-deleted rows land with `IsDeleted` true. Hard
//!   deletes, which `queryAll` never shows, are found by comparing Id sets with
//!   [`ExtractBuilder::detect_hard_deletes`]: `DEST/<Object>/run=<run id>/hard_deletes/` then
//!   holds the Ids gone since the last complete run, with `IsDeleted` true and the run's start as
//!   their cursor stamp, and `_ids.txt` beside it the Id set the next run compares with.
//!
//! # Why no row is lost or landed twice
//!
//! A run reads the cursor window `[cursor - lookback, open)` (with `>=`: rows stamped exactly at
//! the last cursor are read again) and drops every row whose (Id, stamp) pair the state says was
//! landed. The state keeps every pair landed with a stamp at or after `cursor - lookback`.
//! - *Not lost*: a row version not landed yet has a stamp either after the cursor, which the
//!   window holds, or at most `lookback` before it (rows committed late, or a burst sharing the
//!   boundary stamp that grew after the last run read), which the window also holds; a version is
//!   dropped only if its exact (Id, stamp) pair was landed.
//! - *Not twice*: a pair read again falls in `[cursor - lookback, cursor]`, exactly the pairs the
//!   state keeps, so it is dropped. Within a run, windows are half-open and disjoint, so a
//!   version is read by one window only.
//! - *Failures*: the state is written after the run's data, manifests and `_run.json`; a run that
//!   fails or is killed leaves the last good state, and the next run reads from its cursor again,
//!   landing what the failed run may have half landed (in a folder without `_run.json`).
//!
//! A version committed more than `lookback` after its stamp was taken (a transaction longer than
//! the lookback) can be missed; choose the lookback above the org's longest transaction. Raising
//! the lookback between runs may land pairs older than the former lookback a second time (never
//! fewer). A record changed again between two windows of the same run lands in both, old and new
//! version; the newest-wins rule above reads it right.
//!
//! # Big objects
//!
//! A job that fails with `QUERY_TIMEOUT` (or "running for too long") is split: its window is cut
//! in two halves at the middle (an open end counts as now, or 1999 below), each read by its own
//! job, recursively, down to [`ExtractBuilder::split_floor`]; each split is reported
//! ([`ObjectReport::splits`]). A window narrower than twice the floor that still times out fails
//! the object.
//!
//! # Objects the Bulk API cannot serve
//!
//! When the Bulk API refuses an object (`INVALIDENTITY`, "not supported by the Bulk API", as for
//! feeds), its windows are read through the REST API's `queryAll` instead (batches following
//! `nextRecordsUrl`, checked against `totalSize`), and the report says so with the Bulk API's
//! answer ([`ObjectReport::api`]). Such rows are written as the REST API sends them (date-times
//! with `+0000` rather than `Z` in CSV; the typed formats read both the same).
//!
//! # Failures and limits
//!
//! An object that fails is reported with its error ([`ObjectReport::error`]) and its state is not
//! advanced; the other objects go on. At most [`ExtractBuilder::max_jobs`] objects are worked on
//! at once, and as many bulk jobs (each object reads its windows one after another; a job holds
//! one of the run's permits from its creation until its rows are landed).
//!
//! # The budget
//!
//! A run reads the org's `/limits` at its start and again before each window (`budget.rs`), and
//! starts a window (a bulk job, or a REST `queryAll`) only when what is left covers it: the org's
//! remaining daily API requests less a reserve ([`ExtractBuilder::reserve`], by default 20% of
//! `DailyApiRequests`; the same share of `DailyBulkV2QueryJobs` for jobs), and the run's own cap
//! ([`ExtractBuilder::max_api_requests`]). A window costs what windows have cost so far in the
//! run, planning included (at least 5 requests). Once a window is refused, or the org answers
//! `REQUEST_LIMIT_EXCEEDED` or `LIMIT_EXCEEDED`, the run starts nothing more: windows under way
//! finish, and an object that completes saves its state as usual; the objects not begun or
//! stopped are reported with [`FailureKind::BudgetSpent`] (the one the org refused with
//! [`FailureKind::LimitExceeded`]), their state untouched, and named in
//! [`BudgetReport::left_for_next_run`]. The next run (once the org's day turns, or with a larger
//! budget) lands them like any failed object. Objects never landed go first in a run, then the
//! others by their last complete run, oldest first, so that the objects one run left are the
//! first the next one reads.

mod budget;
mod filter;
mod hard_deletes;
mod plan;
mod read;
mod report;
mod rest_source;
mod run;
mod state;
mod window;

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::download::{Destination, Format};
use crate::poll::WaitOptions;
use crate::{Handle, Salesforce};

pub use report::{
    BudgetReport, ExtractProgress, ExtractReport, FailureKind, LeftOut, ObjectPhase,
    ObjectProgress, ObjectReport, ReadPath, Replaced, Split, WindowReport,
};

/// A run under way. Await it for the [`ExtractReport`]; watch
/// [`progress`](crate::Handle::progress); [`cancel`](crate::Handle::cancel) or dropping it stops
/// the run (no state of an unfinished object is written).
pub type ExtractHandle = Handle<ExtractReport, ExtractProgress>;

/// One object to extract, and how.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ObjectSpec {
    /// The object's API name.
    pub name: String,
    /// The fields to read; every field describe lists when `None`.
    #[serde(default)]
    pub fields: Option<Vec<String>>,
    /// A SOQL condition every run adds (`Industry = 'Banking'`).
    #[serde(default)]
    pub filter: Option<String>,
    /// The cursor field, a date-time; `SystemModstamp`, else `LastModifiedDate`, else
    /// `CreatedDate` when `None`.
    #[serde(default)]
    pub cursor: Option<String>,
}

impl ObjectSpec {
    /// Every field of `name`, the default cursor, no filter.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            fields: None,
            filter: None,
            cursor: None,
        }
    }

    /// Reads these fields only (compound fields are still replaced by their components).
    pub fn fields<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.fields = Some(fields.into_iter().map(Into::into).collect());
        self
    }

    /// Adds this SOQL condition to every window.
    pub fn filter(mut self, condition: impl Into<String>) -> Self {
        self.filter = Some(condition.into());
        self
    }

    /// Uses this date-time field as the cursor.
    pub fn cursor(mut self, field: impl Into<String>) -> Self {
        self.cursor = Some(field.into());
        self
    }
}

/// Configures an extract; finish with [`start`](Self::start) or [`run`](Self::run).
#[derive(Debug, Clone)]
#[must_use]
pub struct ExtractBuilder {
    config: Config,
}

/// Everything a run needs, as configured.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    sf: Salesforce,
    destination: Destination,
    objects: Vec<ObjectSpec>,
    all: bool,
    exclude: Vec<String>,
    format: Format,
    lookback: Duration,
    split_floor: Duration,
    max_jobs: usize,
    concurrency: usize,
    wait: WaitOptions,
    detect_hard_deletes: bool,
    max_api_requests: Option<u64>,
    reserve: f64,
}

impl Salesforce {
    /// Extracts objects of the org to `destination`, a folder (local, or a prefix in an object
    /// store), incrementally from run to run; see [`extract`](crate::salesforce::extract).
    pub fn extract(&self, destination: Destination) -> ExtractBuilder {
        ExtractBuilder {
            config: Config {
                sf: self.clone(),
                destination,
                objects: Vec::new(),
                all: false,
                exclude: Vec::new(),
                format: Format::parquet(),
                lookback: Duration::from_secs(300),
                split_floor: Duration::from_secs(60),
                max_jobs: 4,
                concurrency: 4,
                wait: WaitOptions::default(),
                detect_hard_deletes: false,
                max_api_requests: None,
                reserve: 0.2,
            },
        }
    }
}

impl ExtractBuilder {
    /// Adds these objects, every field of each.
    pub fn objects<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config
            .objects
            .extend(names.into_iter().map(ObjectSpec::new));
        self
    }

    /// Adds one object as `spec` says (with [`all`](Self::all), it overrides how that object is
    /// read).
    pub fn object(mut self, spec: ObjectSpec) -> Self {
        self.config.objects.push(spec);
        self
    }

    /// Adds every object the global describe marks queryable and replicateable.
    pub fn all(mut self, all: bool) -> Self {
        self.config.all = all;
        self
    }

    /// Leaves these objects out of [`all`](Self::all) (case-insensitive).
    pub fn exclude<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config
            .exclude
            .extend(names.into_iter().map(Into::into));
        self
    }

    /// What the part files are (default [`Format::parquet`], typed from describe).
    pub fn format(mut self, format: Format) -> Self {
        self.config.format = format;
        self
    }

    /// How far before the last cursor a run reads again (default 5 minutes): longer than the
    /// org's longest transaction.
    pub fn lookback(mut self, lookback: Duration) -> Self {
        self.config.lookback = lookback;
        self
    }

    /// The narrowest window a timed-out job is split into (default 1 minute).
    pub fn split_floor(mut self, floor: Duration) -> Self {
        self.config.split_floor = floor;
        self
    }

    /// At most this many bulk jobs at once, all objects together, and as many objects worked on
    /// at once (default 4, at least 1).
    pub fn max_jobs(mut self, jobs: usize) -> Self {
        self.config.max_jobs = jobs.max(1);
        self
    }

    /// Spends at most about this many API requests (as the org counts them during the run): no
    /// window starts once what is left would not cover it; unlimited by default (the
    /// [`reserve`](Self::reserve) still applies). See [the budget](crate::salesforce::extract#the-budget).
    pub fn max_api_requests(mut self, requests: u64) -> Self {
        self.config.max_api_requests = Some(requests);
        self
    }

    /// The share of the org's daily API requests and bulk query jobs the run leaves for others,
    /// from 0 to 1 (default 0.2): no window starts once what remains of either would fall below
    /// it.
    pub fn reserve(mut self, share: f64) -> Self {
        self.config.reserve = if share.is_finite() {
            share.clamp(0.0, 1.0)
        } else {
            0.2
        };
        self
    }

    /// Result pages fetched at once within one job's download (default 4).
    pub fn concurrency(mut self, pages: usize) -> Self {
        self.config.concurrency = pages.max(1);
        self
    }

    /// Also finds the records hard-deleted since the last run (which `queryAll` never shows) by
    /// comparing Id sets, and lands them as deleted rows (default false): one more bulk job an
    /// object a run, and its Id set kept in the run folder (`_ids.txt`, 19 bytes an Id).
    pub fn detect_hard_deletes(mut self, detect: bool) -> Self {
        self.config.detect_hard_deletes = detect;
        self
    }

    /// How each job is waited for (default [`WaitOptions::default`]).
    pub fn wait_options(mut self, options: WaitOptions) -> Self {
        self.config.wait = options;
        self
    }

    /// Starts the run on its own task.
    pub fn start(self) -> ExtractHandle {
        let cancel = CancellationToken::new();
        let (progress, watched) = tokio::sync::watch::channel(ExtractProgress::default());
        let config = Arc::new(self.config);
        let work = run::run(config, progress, cancel.clone());
        Handle::spawn(cancel, watched, work)
    }

    /// Runs to the end: [`start`](Self::start), awaited. Fails only when the run as a whole
    /// cannot go on (no objects, the destination, the global describe or `/limits` failing,
    /// cancellation);
    /// an object that fails is reported in [`ExtractReport::objects`].
    pub async fn run(self) -> crate::Result<ExtractReport> {
        self.start().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_handles_and_reports_can_be_shared_across_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<ExtractBuilder>();
        shared::<ExtractHandle>();
        shared::<ExtractReport>();
        shared::<ExtractProgress>();
    }

    #[test]
    fn a_configuration_file_entry_reads_as_a_spec_and_unknown_keys_are_refused() {
        let spec: ObjectSpec = serde_json::from_value(serde_json::json!({
            "name": "Contact", "fields": ["LastName"], "cursor": "CreatedDate",
        }))
        .unwrap();
        assert_eq!(
            spec,
            ObjectSpec::new("Contact")
                .fields(["LastName"])
                .cursor("CreatedDate")
        );
        let typo = serde_json::json!({"name": "Contact", "feilds": ["LastName"]});
        assert!(serde_json::from_value::<ObjectSpec>(typo).is_err());
    }
}
