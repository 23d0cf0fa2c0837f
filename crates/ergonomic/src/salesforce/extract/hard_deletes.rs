//! Hard deletes, which `queryAll` never shows: each run asks for every Id of the object (an
//! Id-only `queryAll`, so rows in the Recycle Bin count as present), keeps that set in its run
//! folder (`_ids.txt`), and lands the Ids of the last complete run's set that are gone as rows
//! with `IsDeleted` true and the run's start as their cursor stamp (`hard_deletes/`).
//!
//! The set is read from the run named by the state, so only a complete run's set is ever compared
//! with: a run killed after landing its hard deletes lands them again next time. A row purged
//! from the Recycle Bin (after 15 days, or emptied) also vanishes and is landed the same way; it
//! was landed as deleted before, so landing it again changes nothing for a reader.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use futures::future::BoxFuture;
use serde::Deserialize;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::report::{ObjectReport, ReadPath};
use super::state::{ObjectState, format_stamp};
use crate::Salesforce;
use crate::download::source::{Answer, Listing, Partition, Plan, Source};
use crate::download::{
    Column, ColumnType, Destination, DownloadBuilder, Format, Schema, SourceKey,
};
use crate::error::{Error, Result};
use crate::poll::WaitOptions;
use crate::retry::RetryPolicy;

/// The Id set's file in a run folder.
const IDS_FILE: &str = "_ids.txt";
/// The hard deletes' folder in a run folder.
const HARD_DELETES: &str = "hard_deletes";

/// What the detection needs of the run.
pub(super) struct Detect<'a> {
    pub(super) sf: &'a Salesforce,
    pub(super) wait: WaitOptions,
    pub(super) format: Format,
    pub(super) run_id: &'a str,
    pub(super) started_ms: i64,
    pub(super) object: &'a str,
    pub(super) cursor: Option<&'a str>,
    /// The run's bulk job permits: the Id-only job holds one.
    pub(super) jobs: &'a Semaphore,
    pub(super) cancel: &'a CancellationToken,
}

/// Reads the object's Ids, lands the ones gone since the last complete run, and keeps in
/// `run_folder` the set the next run compares with: the Ids now, with the Ids this run `landed`
/// (a row landed and hard-deleted before the Id query is then found gone by the next run), less
/// the ones landed as gone. `places` is the object's folder and the run's.
pub(super) async fn detect(
    detect: Detect<'_>,
    previous: Option<&ObjectState>,
    landed: Vec<String>,
    places: (&Destination, &Destination),
    report: &mut ObjectReport,
) -> Result<()> {
    let (object_folder, run_folder) = places;
    let now = org_ids(&detect, &report.api).await?;
    let before = match previous {
        Some(state) => last_ids(object_folder, &state.last_run).await?,
        None => None,
    };
    let gone: BTreeSet<String> = before
        .map(|before| before.difference(&now).cloned().collect())
        .unwrap_or_default();
    if !gone.is_empty() {
        report.hard_deleted = gone.len() as u64;
        land(&detect, &gone, &run_folder.folder(HARD_DELETES)?).await?;
    }
    let mut kept = now;
    kept.extend(landed);
    let mut text = String::with_capacity(kept.len() * 19);
    for id in kept.difference(&gone) {
        text.push_str(id);
        text.push('\n');
    }
    run_folder.write_file(IDS_FILE, text.into_bytes()).await
}

/// The Id set kept by run `run`, `None` when it kept none (the detection was off then).
async fn last_ids(object_folder: &Destination, run: &str) -> Result<Option<BTreeSet<String>>> {
    let folder = object_folder.folder(&format!("run={run}"))?;
    let Some(bytes) = folder.read_file(IDS_FILE).await? else {
        return Ok(None);
    };
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::invalid_input(format!("{folder}{IDS_FILE} is not text")))?;
    Ok(Some(text.lines().map(str::to_owned).collect()))
}

#[derive(Deserialize)]
struct IdOnly {
    #[serde(rename = "Id")]
    id: String,
}

/// Every Id of the object now, deleted ones in the Recycle Bin included, checked against the count
/// the server states (an Id missed here would look deleted).
async fn org_ids(detect: &Detect<'_>, api: &ReadPath) -> Result<BTreeSet<String>> {
    let soql = format!("SELECT Id FROM {}", detect.object);
    if let ReadPath::Rest { .. } = api {
        let rows: Vec<_> = detect.sf.query_all(soql).rows().try_collect().await?;
        let ids = rows.iter().filter_map(|row| row.get("Id")?.as_str());
        return Ok(ids.map(str::to_owned).collect());
    }
    let _permit = detect.jobs.acquire().await.map_err(|_| Error::Cancelled)?;
    let job = detect.sf.bulk_query(soql).query_all().submit().await?;
    let done = job
        .wait()
        .wait_options(detect.wait.with_abort_on_drop(true))
        .cancel_on(detect.cancel.clone())
        .await?;
    let ids: Vec<IdOnly> = done.records().try_collect().await?;
    if let Some(expected) = done.expected_records()
        && expected != ids.len() as u64
    {
        return Err(Error::integrity(format!(
            "query job {} says {expected} Ids, its pages hold {}",
            job.id(),
            ids.len()
        )));
    }
    if let Err(error) = job.delete().await {
        tracing::warn!(job = %job.id(), error = %error, "could not delete the finished job");
    }
    Ok(ids.into_iter().map(|row| row.id).collect())
}

/// Lands `gone` as deleted rows (Id, IsDeleted, and the cursor stamped with the run's start).
async fn land(detect: &Detect<'_>, gone: &BTreeSet<String>, folder: &Destination) -> Result<()> {
    let stamp = format_stamp(detect.started_ms);
    let mut csv = String::from("\"Id\",\"IsDeleted\"");
    let mut columns = vec![
        Column::new("Id", ColumnType::Utf8, false).unique(true),
        Column::new("IsDeleted", ColumnType::Boolean, false),
    ];
    if let Some(cursor) = detect.cursor {
        csv.push_str(&format!(",\"{cursor}\""));
        columns.push(Column::new(cursor, ColumnType::Timestamp, false));
    }
    csv.push('\n');
    for id in gone {
        csv.push_str(&format!("\"{id}\",\"true\""));
        if detect.cursor.is_some() {
            csv.push_str(&format!(",\"{stamp}\""));
        }
        csv.push('\n');
    }
    let source = GoneIds {
        key: SourceKey::new("haul-extract-hard-deletes", detect.run_id, None),
        csv: Bytes::from(csv),
        rows: gone.len() as u64,
        retry: detect.sf.retry_policy().clone(),
    };
    let mut download = DownloadBuilder::new(Arc::new(source))
        .format(detect.format)
        .query(format!("hard deletes of {}", detect.object))
        .cancel_on(detect.cancel.child_token());
    if detect.format != Format::Csv {
        download = download.schema(Schema::new(columns));
    }
    download.to(folder.clone()).await.map(drop)
}

/// The Ids found gone, as one partition of CSV.
struct GoneIds {
    key: SourceKey,
    csv: Bytes,
    rows: u64,
    retry: RetryPolicy,
}

impl Source for GoneIds {
    fn key(&self) -> SourceKey {
        self.key.clone()
    }

    fn describe(&self) -> String {
        "hard deletes".to_owned()
    }

    fn delimiter(&self) -> Result<u8> {
        Ok(b',')
    }

    fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    fn partition_noun(&self) -> &'static str {
        "list"
    }

    fn declared_by(&self) -> &'static str {
        "the Id comparison"
    }

    fn expected_rows(&self) -> Option<u64> {
        Some(self.rows)
    }

    fn refresh_expected_rows(&self) -> BoxFuture<'_, Result<Option<u64>>> {
        Box::pin(async move { Ok(Some(self.rows)) })
    }

    fn listing(&self, _plan: Plan) -> Result<Listing> {
        Ok(Listing::Chained)
    }

    fn fetch<'a>(
        &'a self,
        _partition: &'a Partition,
        _plan: Plan,
    ) -> BoxFuture<'a, Result<Answer>> {
        let body = futures::stream::iter([Ok(self.csv.clone())]);
        Box::pin(async move {
            Ok(Answer {
                body: Box::pin(body),
                declared_rows: Some(self.rows),
                next: None,
            })
        })
    }
}
