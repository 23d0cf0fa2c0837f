//! A bulk job's results as a download source that drops the rows an earlier run already landed
//! (the same Id with the same cursor stamp) and tallies what it lets through: rows, deleted rows,
//! the newest stamp and the (Id, stamp) pairs near it, which become the object's next state.
//!
//! The rows pass through as the raw CSV the server sent (records cut at line feeds outside
//! quotes), so every format downstream reads them exactly as it would the job's own results.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use super::state::parse_stamp;
use crate::download::SourceKey;
use crate::download::source::{Answer, Listing, Partition, Plan, Source};
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;

/// What one partition (or a whole download) let through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Tally {
    /// Rows kept (landed).
    pub(super) rows: u64,
    /// Rows dropped as already landed.
    pub(super) dropped: u64,
    /// Kept rows with `IsDeleted` true.
    pub(super) deleted: u64,
    /// The newest cursor stamp of the rows read (kept or dropped), in milliseconds.
    pub(super) max_stamp: Option<i64>,
    /// (Id, stamp) of rows read with a stamp within the lookback of `max_stamp` (perhaps more).
    pub(super) near: Vec<(String, i64)>,
    /// The Ids of the rows kept, when the spec asks for them.
    pub(super) ids: Vec<String>,
}

impl Tally {
    /// Adds what another partition or window let through.
    pub(super) fn add(&mut self, other: Self) {
        self.rows += other.rows;
        self.dropped += other.dropped;
        self.deleted += other.deleted;
        self.max_stamp = self.max_stamp.max(other.max_stamp);
        self.near.extend(other.near);
        self.ids.extend(other.ids);
    }

    /// Forgets the pairs older than the lookback of the newest stamp.
    fn prune(&mut self, lookback_ms: i64) {
        if let Some(max) = self.max_stamp {
            self.near.retain(|(_, stamp)| *stamp >= max - lookback_ms);
        }
    }
}

/// The rows to drop, and what to tally.
#[derive(Debug, Clone)]
pub(super) struct FilterSpec {
    /// The cursor field's column, `None` for an object read whole.
    pub(super) cursor: Option<String>,
    /// (Id, stamp) pairs already landed.
    pub(super) landed: Arc<HashSet<(String, i64)>>,
    pub(super) lookback_ms: i64,
    /// Whether to keep the Id of every row kept (for the hard-delete detection).
    pub(super) collect_ids: bool,
}

/// A job's results with the landed rows dropped; see the module's documentation.
pub(super) struct Filtered {
    inner: Arc<dyn Source>,
    spec: FilterSpec,
    /// Each partition's tally once its body was read to the end, by partition key: a partition
    /// fetched again replaces its tally rather than adding to it.
    tallies: Arc<Mutex<HashMap<Option<String>, Tally>>>,
}

impl Filtered {
    pub(super) fn new(inner: Arc<dyn Source>, spec: FilterSpec) -> Self {
        Self {
            inner,
            spec,
            tallies: Arc::default(),
        }
    }

    /// What every partition read so far let through, all together.
    pub(super) fn tally(&self) -> Tally {
        let mut total = Tally::default();
        for tally in lock(&self.tallies).values() {
            total.add(tally.clone());
        }
        total.prune(self.spec.lookback_ms);
        total
    }

    fn dropped(&self) -> u64 {
        lock(&self.tallies).values().map(|t| t.dropped).sum()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Source for Filtered {
    fn key(&self) -> SourceKey {
        self.inner.key()
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn query(&self) -> Option<String> {
        self.inner.query()
    }

    fn delimiter(&self) -> Result<u8> {
        self.inner.delimiter()
    }

    fn retry_policy(&self) -> &RetryPolicy {
        self.inner.retry_policy()
    }

    fn partition_noun(&self) -> &'static str {
        self.inner.partition_noun()
    }

    fn declared_by(&self) -> &'static str {
        self.inner.declared_by()
    }

    fn expected_rows(&self) -> Option<u64> {
        let dropped = self.dropped();
        self.inner
            .expected_rows()
            .map(|n| n.saturating_sub(dropped))
    }

    fn refresh_expected_rows(&self) -> BoxFuture<'_, Result<Option<u64>>> {
        Box::pin(async move {
            let fresh = self.inner.refresh_expected_rows().await?;
            let dropped = self.dropped();
            Ok(fresh.map(|n| n.saturating_sub(dropped)))
        })
    }

    fn listing(&self, plan: Plan) -> Result<Listing> {
        self.inner.listing(plan)
    }

    fn fetch<'a>(&'a self, partition: &'a Partition, plan: Plan) -> BoxFuture<'a, Result<Answer>> {
        Box::pin(async move {
            let answer = self.inner.fetch(partition, plan).await?;
            // With nothing to drop, the engine checks the server's count itself (reading a page
            // again once when it disagrees); otherwise the filter checks it on what it read,
            // before dropping, and the engine is told no count.
            let dropping = !self.spec.landed.is_empty();
            let (own_check, declared_rows) = match dropping {
                true => (answer.declared_rows, None),
                false => (None, answer.declared_rows),
            };
            let rows = RowFilter {
                fields: FieldSplitter::new(self.inner.delimiter()?),
                spec: self.spec.clone(),
                columns: None,
                record: Vec::new(),
                in_quotes: false,
                read: 0,
                tally: Tally::default(),
                declared: own_check,
                place: format!("{} {}", self.inner.describe(), self.inner.partition_noun()),
            };
            let body = filtered(
                answer.body,
                rows,
                self.tallies.clone(),
                partition.key.clone(),
            );
            Ok(Answer {
                body,
                declared_rows,
                next: answer.next,
            })
        })
    }
}

/// The body with the landed rows dropped; the tally is recorded when the body ends.
fn filtered(
    body: BoxStream<'static, Result<Bytes>>,
    rows: RowFilter,
    tallies: Arc<Mutex<HashMap<Option<String>, Tally>>>,
    key: Option<String>,
) -> BoxStream<'static, Result<Bytes>> {
    futures::stream::try_unfold((body, Some(rows)), move |(mut body, rows)| {
        let tallies = tallies.clone();
        let key = key.clone();
        async move {
            let Some(mut rows) = rows else {
                return Ok(None);
            };
            loop {
                match body.try_next().await? {
                    Some(chunk) => {
                        let kept = rows.feed(&chunk)?;
                        if !kept.is_empty() {
                            return Ok(Some((Bytes::from(kept), (body, Some(rows)))));
                        }
                    }
                    None => {
                        let (kept, tally) = rows.finish()?;
                        lock(&tallies).insert(key, tally);
                        return Ok(Some((Bytes::from(kept), (body, None))));
                    }
                }
            }
        }
    })
    .boxed()
}

/// Where the wanted columns are in the header.
#[derive(Debug, Clone, Copy)]
struct Columns {
    id: usize,
    cursor: Option<usize>,
    is_deleted: Option<usize>,
}

/// Cuts a body into records and keeps the ones not landed yet.
struct RowFilter {
    fields: FieldSplitter,
    spec: FilterSpec,
    /// Found in the header row, the first record.
    columns: Option<Columns>,
    /// The record being read, raw.
    record: Vec<u8>,
    in_quotes: bool,
    /// Data rows read (kept and dropped).
    read: u64,
    tally: Tally,
    declared: Option<u64>,
    /// Names the partition in errors.
    place: String,
}

impl RowFilter {
    /// The kept records of `chunk` (with the records it completes), raw.
    fn feed(&mut self, chunk: &[u8]) -> Result<Vec<u8>> {
        let mut kept = Vec::with_capacity(chunk.len());
        let mut start = 0;
        // Only quotes and line feeds matter for where a record ends.
        for offset in memchr::memchr2_iter(b'"', b'\n', chunk) {
            if chunk[offset] == b'"' {
                self.in_quotes = !self.in_quotes;
            } else if !self.in_quotes {
                self.record.extend_from_slice(&chunk[start..=offset]);
                start = offset + 1;
                self.take_record(&mut kept)?;
            }
        }
        self.record.extend_from_slice(&chunk[start..]);
        if self.tally.near.len() > 100_000 {
            self.tally.prune(self.spec.lookback_ms);
        }
        Ok(kept)
    }

    /// The last record, if the body did not end with a line feed, and the partition's tally.
    fn finish(mut self) -> Result<(Vec<u8>, Tally)> {
        let mut kept = Vec::new();
        if !self.record.is_empty() {
            self.take_record(&mut kept)?;
        }
        if let Some(declared) = self.declared.filter(|d| *d != self.read) {
            return Err(Error::integrity(format!(
                "{}: the server declared {declared} rows, the body holds {}",
                self.place, self.read
            )));
        }
        self.tally.prune(self.spec.lookback_ms);
        Ok((kept, self.tally))
    }

    /// Decides on the complete record in `self.record`.
    fn take_record(&mut self, kept: &mut Vec<u8>) -> Result<()> {
        let record = std::mem::take(&mut self.record);
        self.fields.split(&record);
        let Some(columns) = self.columns else {
            self.columns = Some(self.find_columns()?);
            kept.extend_from_slice(&record);
            return Ok(());
        };
        if record.iter().all(|b| matches!(b, b'\r' | b'\n')) {
            return Ok(());
        }
        self.read += 1;
        let stamp = match columns.cursor.map(|index| self.fields.get(index)) {
            Some(text) if !text.is_empty() => Some(parse_stamp(&String::from_utf8_lossy(text))?),
            _ => None,
        };
        if let Some(stamp) = stamp {
            self.tally.max_stamp = self.tally.max_stamp.max(Some(stamp));
            let pair = (
                String::from_utf8_lossy(self.fields.get(columns.id)).into_owned(),
                stamp,
            );
            if self.spec.landed.contains(&pair) {
                self.tally.dropped += 1;
                self.record = record;
                self.record.clear();
                return Ok(());
            }
            self.tally.near.push(pair);
        }
        self.tally.rows += 1;
        if self.spec.collect_ids {
            let id = String::from_utf8_lossy(self.fields.get(columns.id)).into_owned();
            self.tally.ids.push(id);
        }
        if columns
            .is_deleted
            .is_some_and(|index| self.fields.get(index).eq_ignore_ascii_case(b"true"))
        {
            self.tally.deleted += 1;
        }
        kept.extend_from_slice(&record);
        // The buffer is used again for the next record.
        self.record = record;
        self.record.clear();
        Ok(())
    }

    fn find_columns(&self) -> Result<Columns> {
        let position = |name: &str| {
            (0..self.fields.len())
                .find(|&i| self.fields.get(i).eq_ignore_ascii_case(name.as_bytes()))
        };
        let missing = |name: &str| {
            Error::integrity(format!("{}: the results have no {name} column", self.place))
        };
        let cursor = match &self.spec.cursor {
            Some(name) => Some(position(name).ok_or_else(|| missing(name))?),
            None => None,
        };
        Ok(Columns {
            id: position("Id").ok_or_else(|| missing("Id"))?,
            cursor,
            is_deleted: position("IsDeleted"),
        })
    }
}

/// Splits complete CSV records into their unquoted fields, reusing its buffers from record to
/// record (no allocation a field).
struct FieldSplitter {
    reader: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
    len: usize,
}

impl FieldSplitter {
    fn new(delimiter: u8) -> Self {
        Self {
            reader: csv_core::ReaderBuilder::new().delimiter(delimiter).build(),
            out: Vec::new(),
            ends: vec![0; 64],
            len: 0,
        }
    }

    /// Splits `record`, one whole record; its fields are then read with [`get`](Self::get).
    fn split(&mut self, record: &[u8]) {
        use csv_core::ReadRecordResult as R;
        self.reader.reset();
        // Unquoting never lengthens a field, so the record's length is enough for its fields.
        self.out.resize(record.len() + 1, 0);
        let (mut input, mut written, mut ended) = (record, 0, 0);
        loop {
            let (result, read, out, ends) =
                self.reader
                    .read_record(input, &mut self.out[written..], &mut self.ends[ended..]);
            input = &input[read..];
            written += out;
            ended += ends;
            match result {
                R::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                R::OutputFull => self.out.resize(self.out.len() * 2, 0),
                // An unterminated last record: empty input ends it.
                R::InputEmpty => {}
                R::Record | R::End => break,
            }
        }
        self.len = ended;
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Field `index` of the last record split, empty past its end.
    fn get(&self, index: usize) -> &[u8] {
        if index >= self.len {
            return &[];
        }
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        &self.out[start..self.ends[index]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(landed: &[(&str, &str)]) -> RowFilter {
        let landed = landed
            .iter()
            .map(|(id, stamp)| ((*id).to_owned(), parse_stamp(stamp).unwrap()))
            .collect();
        RowFilter {
            fields: FieldSplitter::new(b','),
            spec: FilterSpec {
                cursor: Some("SystemModstamp".into()),
                landed: Arc::new(landed),
                lookback_ms: 60_000,
                collect_ids: true,
            },
            columns: None,
            record: Vec::new(),
            in_quotes: false,
            read: 0,
            tally: Tally::default(),
            declared: Some(3),
            place: "test page".into(),
        }
    }

    const BODY: &str = "\"Id\",\"Name\",\"IsDeleted\",\"SystemModstamp\"\n\
        \"001A\",\"x\ny\",\"false\",\"2024-05-01T10:00:00.000Z\"\n\
        \"001B\",\"q \"\"z\"\"\",\"true\",\"2024-05-01T10:00:00.000Z\"\n\
        \"001C\",,\"false\",\"2024-05-01T09:00:00.000Z\"";

    #[test]
    fn drops_landed_pairs_in_any_chunking_and_tallies_the_rest() {
        for size in [1, 2, 7, 64, BODY.len()] {
            let mut rows = filter(&[("001A", "2024-05-01T10:00:00.000Z")]);
            let mut kept = Vec::new();
            for chunk in BODY.as_bytes().chunks(size) {
                kept.extend(rows.feed(chunk).unwrap());
            }
            let (tail, tally) = rows.finish().unwrap();
            kept.extend(tail);
            let text = String::from_utf8(kept).unwrap();
            assert!(!text.contains("001A") && text.contains("001B") && text.contains("001C"));
            assert!(text.starts_with("\"Id\",\"Name\""), "{text}");
            assert_eq!((tally.rows, tally.dropped, tally.deleted), (2, 1, 1));
            assert_eq!(
                tally.max_stamp,
                Some(parse_stamp("2024-05-01T10:00:00.000Z").unwrap())
            );
            // 001C is an hour older than the newest stamp, beyond the minute of lookback.
            assert_eq!(tally.near.len(), 1);
            assert_eq!(tally.ids, ["001B", "001C"]);
        }
    }

    #[test]
    fn fields_split_whole_records_of_any_width_and_quoting() {
        let mut fields = FieldSplitter::new(b',');
        let wide: Vec<String> = (0..150).map(|i| format!("\"v{i}\"")).collect();
        let record = format!("{}\n", wide.join(","));
        fields.split(record.as_bytes());
        assert_eq!(fields.len(), 150);
        assert_eq!(fields.get(0), b"v0");
        assert_eq!(fields.get(149), b"v149");
        fields.split(b"\"a \"\"b\"\"\",,\"x\ny\"");
        assert_eq!(fields.len(), 3);
        assert_eq!(fields.get(0), b"a \"b\"");
        assert_eq!(fields.get(1), b"");
        assert_eq!(fields.get(2), b"x\ny");
        assert_eq!(fields.get(3), b"");
    }

    #[test]
    fn a_body_short_of_its_declared_rows_is_an_integrity_error() {
        let mut rows = filter(&[]);
        rows.declared = Some(4);
        rows.feed(BODY.as_bytes()).unwrap();
        assert!(rows.finish().unwrap_err().is_integrity());
    }
}
