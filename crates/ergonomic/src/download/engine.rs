//! The engine: workers fetch partitions concurrently, each into memory within a budget shared by
//! all or else into its own part file (memory stays bounded whatever the partition size; see
//! [`super::part`]); partitions are committed strictly in order to the sink, and after each commit the [`Checkpoint`] is saved (when resumable), so a crash
//! loses at most the partitions in flight. The output takes its final name only when every partition
//! is in and the row total matches the source's.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::checkpoint::{Checkpoint, CommittedPage};
use super::fetch::{Columns, fetch_partition};
use super::format::{Encoding, Format};
use super::manifest::{ManifestSource, columns_of};
use super::part::{Budget, PartBuffer, PartData};
use super::sink::{Sink, Target, part_name};
use super::source::{Listing, Partition, Plan, Source};
use super::{DownloadBuilder, DownloadHandle, DownloadProgress, DownloadReport};
use crate::error::{Error, Result};

/// Partitions listed ahead of the workers.
const LISTED_AHEAD: usize = 64;

pub(super) fn start(options: DownloadBuilder, target: Target) -> DownloadHandle {
    let cancel = options.cancel.child_token();
    let (progress, watcher) = watch::channel(DownloadProgress {
        expected_records: options.source.expected_rows(),
        ..DownloadProgress::default()
    });
    let budget = Budget::new(options.memory);
    let encoding = match encoding(&options, &target) {
        Ok(encoding) => encoding,
        Err(error) => return refuse(options, error),
    };
    let run = Run {
        encoding,
        plan: Plan {
            concurrency: options.concurrency,
            max_records: options.max_records,
        },
        options,
        target,
        progress,
        cancel: cancel.clone(),
        budget,
    };
    DownloadHandle::spawn(cancel, watcher, run.execute())
}

/// A download that cannot start: its handle answers with `error`.
pub(super) fn refuse(options: DownloadBuilder, error: Error) -> DownloadHandle {
    let (_, watcher) = watch::channel(DownloadProgress {
        expected_records: options.source.expected_rows(),
        ..DownloadProgress::default()
    });
    DownloadHandle::spawn(
        options.cancel.child_token(),
        watcher,
        async move { Err(error) },
    )
}

/// The download's format with its schema, checked before anything is sent.
fn encoding(options: &DownloadBuilder, target: &Target) -> Result<Encoding> {
    if options.resume
        && matches!(options.format, Format::Parquet(_))
        && matches!(target, Target::File(_))
    {
        return Err(Error::invalid_input(
            "a download to one Parquet file cannot be resumed (its footer is written last): \
             download to a folder, one Parquet file a partition, to resume",
        ));
    }
    if matches!(options.format, Format::Parquet(_))
        && matches!(target, Target::Store(store) if !store.is_folder())
    {
        return Err(Error::invalid_input(
            "one Parquet object in a store is not supported (its row groups are gathered under \
             one footer on local disk): download to a prefix ending in /, one Parquet object a \
             partition",
        ));
    }
    let encoding = Encoding::new(options.format, options.schema.clone())?;
    encoding.accepts(options.source.body())?;
    Ok(encoding)
}

/// A fetched partition, waiting to be committed.
struct FetchedPart {
    index: usize,
    partition: Partition,
    data: PartData,
    records: u64,
    bytes: u64,
    next: Option<Partition>,
    columns: Columns,
    /// A value that did not read as its type ([`Error::InvalidValue`], its row counted from the
    /// partition's start): reported when the partition's turn to be committed comes, once the
    /// rows before it are known, so that the row is numbered in the whole result.
    refused: Option<Error>,
}

struct Run {
    encoding: Encoding,
    options: DownloadBuilder,
    plan: Plan,
    target: Target,
    progress: watch::Sender<DownloadProgress>,
    cancel: CancellationToken,
    budget: Arc<Budget>,
}

impl Run {
    async fn execute(self) -> Result<DownloadReport> {
        let cancel = self.cancel.clone();
        let resumable = self.options.resume;
        let target = self.target.clone();
        let outcome = tokio::select! {
            outcome = self.download() => outcome,
            () = cancel.cancelled() => Err(Error::Cancelled),
        };
        if outcome.is_err() {
            target.discard(resumable).await;
        }
        outcome
    }

    async fn download(&self) -> Result<DownloadReport> {
        if self.plan.concurrency == 0 {
            return Err(Error::invalid_input(
                "download concurrency must be at least 1",
            ));
        }
        if self.options.resume {
            self.target.check_resumable()?;
        }
        let started = Instant::now();
        let listing = self.options.source.listing(self.plan)?;
        let mut committer = Committer::open(self).await?;
        let resumed_pages = committer.checkpoint.pages.len();
        match listing {
            Listing::Listed(partitions) => self.fetch_listed(partitions, &mut committer).await?,
            Listing::Chained => self.fetch_chain(&mut committer).await?,
        }
        let records = committer.checkpoint.records();
        self.check_total(records).await?;
        let pages = committer.checkpoint.pages.len();
        let bytes = committer.checkpoint.file_bytes;
        let source = &self.options.source;
        let query = self.options.query.clone().or_else(|| source.query());
        let described = ManifestSource::new(source.key(), query);
        // A single file's own size: a Parquet file's footer is written only when it is finished.
        let bytes = committer
            .sink
            .finish(&committer.checkpoint, described)
            .await?
            .unwrap_or(bytes);
        Ok(DownloadReport {
            path: self.target.shown(),
            pages,
            resumed_pages,
            records,
            bytes,
            elapsed: started.elapsed(),
        })
    }

    /// One partition at a time, each naming the next.
    async fn fetch_chain(&self, committer: &mut Committer<'_>) -> Result<()> {
        let mut index = committer.checkpoint.pages.len();
        let key = committer.checkpoint.next_key.clone();
        if index > 0 && key.is_none() {
            return Ok(()); // The checkpoint says the chain already ended.
        }
        let mut partition = Partition { key };
        loop {
            let part = fetch_part(self.worker(), index, partition).await?;
            let next = part.next.clone();
            committer.commit(part).await?;
            match next {
                Some(next) => partition = next,
                None => return Ok(()),
            }
            index += 1;
        }
    }

    /// Listed partitions, fetched by up to `concurrency` workers, committed in order. Workers run at
    /// most `2 * concurrency` partitions ahead of the next to commit, which bounds the part files
    /// waiting on disk.
    async fn fetch_listed(
        &self,
        partitions: futures::stream::BoxStream<'static, Result<Partition>>,
        committer: &mut Committer<'_>,
    ) -> Result<()> {
        let skip = committer.checkpoint.pages.len();
        // The listing runs ahead on its own task, so that a worker slot that frees up gets its next
        // partition at once instead of after a listing round trip. Dropping the set (on return or
        // cancellation) stops it.
        let (listed, mut received) = tokio::sync::mpsc::channel(LISTED_AHEAD);
        let mut lister = JoinSet::new();
        lister.spawn(async move {
            let mut partitions = partitions.enumerate();
            while let Some((index, partition)) = partitions.next().await {
                let failed = partition.is_err();
                if listed.send((index, partition)).await.is_err() || failed {
                    break;
                }
            }
        });
        let concurrency = self.plan.concurrency;
        let window = concurrency * 2;
        let mut workers: JoinSet<Result<FetchedPart>> = JoinSet::new();
        let mut waiting: BTreeMap<usize, FetchedPart> = BTreeMap::new();
        let mut listed_all = false;
        loop {
            while !listed_all
                && workers.len() < concurrency
                && waiting.len() + workers.len() < window
            {
                match received.recv().await {
                    Some((index, partition)) => {
                        let partition = partition?;
                        if index < skip {
                            committer.verify_resumed(index, &partition)?;
                            continue;
                        }
                        workers.spawn(fetch_part(self.worker(), index, partition));
                    }
                    None => listed_all = true,
                }
            }
            let Some(joined) = workers.join_next().await else {
                break;
            };
            let part = joined.map_err(|e| {
                Error::invalid_response("download", format!("a partition worker failed: {e}"))
            })??;
            waiting.insert(part.index, part);
            while let Some(part) = waiting.remove(&committer.next_index()) {
                committer.commit(part).await?;
            }
        }
        if let Some((&index, _)) = waiting.first_key_value() {
            return Err(Error::invalid_response(
                "download",
                format!(
                    "{noun} {index} was listed but {noun} {} never was",
                    committer.next_index(),
                    noun = self.options.source.partition_noun(),
                ),
            ));
        }
        Ok(())
    }

    fn worker(&self) -> Worker {
        Worker {
            source: self.options.source.clone(),
            plan: self.plan,
            encoding: self.encoding.clone(),
            parts_dir: self.target.parts_dir(),
            budget: self.budget.clone(),
        }
    }

    /// The row total must equal the source's. The total is asked for again once before a
    /// disagreement is reported, in case the first copy was stale.
    async fn check_total(&self, records: u64) -> Result<()> {
        let source = &self.options.source;
        let Some(expected) = source.expected_rows() else {
            return Ok(());
        };
        if records == expected {
            return Ok(());
        }
        let expected = source.refresh_expected_rows().await?;
        if expected == Some(records) {
            return Ok(());
        }
        Err(Error::integrity(format!(
            "{} says it produced {} rows; the downloaded {}s hold {records}",
            source.describe(),
            expected.map_or_else(|| "an unknown number of".to_owned(), |n| n.to_string()),
            source.partition_noun(),
        )))
    }
}

/// What a partition worker needs, owned so that it can run on its own task.
struct Worker {
    source: Arc<dyn Source>,
    plan: Plan,
    encoding: Encoding,
    parts_dir: PathBuf,
    budget: Arc<Budget>,
}

async fn fetch_part(worker: Worker, index: usize, partition: Partition) -> Result<FetchedPart> {
    let path = worker
        .parts_dir
        .join(part_name(index, worker.encoding.format()));
    let mut part = PartBuffer::new(path, worker.budget);
    let fetched = fetch_partition(
        worker.source.as_ref(),
        &partition,
        worker.plan,
        &worker.encoding,
        &mut part,
    )
    .await;
    let fetched = match fetched {
        Err(refused @ Error::InvalidValue { .. }) => {
            return Ok(FetchedPart {
                index,
                partition,
                data: PartData::Held {
                    chunks: Vec::new(),
                    _reservation: None,
                },
                records: 0,
                bytes: 0,
                next: None,
                columns: Columns::Header(Vec::new()),
                refused: Some(refused),
            });
        }
        other => other?,
    };
    Ok(FetchedPart {
        index,
        partition,
        data: part.finish().await?,
        records: fetched.records,
        bytes: fetched.bytes,
        next: fetched.next,
        columns: fetched.columns,
        refused: None,
    })
}

/// Commits fetched partitions in order to the sink, and keeps the checkpoint.
struct Committer<'a> {
    run: &'a Run,
    checkpoint: Checkpoint,
    sink: Sink,
}

impl<'a> Committer<'a> {
    /// Prepares the output: resumes from a checkpoint when asked and one matches, else starts afresh.
    async fn open(run: &'a Run) -> Result<Self> {
        let source = &run.options.source;
        let fresh = Checkpoint::new(
            source.key(),
            run.encoding.format(),
            run.encoding.schema().cloned(),
            run.plan.max_records,
        );
        if let Some(manifest) = run.target.complete_manifest().await? {
            if !run.options.overwrite {
                return Err(Error::invalid_input(format!(
                    "{} is a complete download (its manifest names {} {}); overwrite it only \
                     when asked to (overwrite, or --overwrite)",
                    run.target.shown().display(),
                    manifest.source.kind,
                    manifest.source.job,
                )));
            }
            run.target.remove_complete(&manifest).await?;
        }
        let saved = match run.options.resume {
            true => run.target.load_checkpoint().await?,
            false => None,
        };
        let checkpoint = match (run.options.resume, saved) {
            (true, Some(saved)) => {
                resumable(&saved, &fresh, run)?;
                tracing::info!(
                    pages = saved.pages.len(),
                    records = saved.records(),
                    "resuming download"
                );
                saved
            }
            _ => fresh,
        };
        let sink = Sink::open(run.target.clone(), run.encoding.format(), &checkpoint).await?;
        let committer = Self {
            run,
            checkpoint,
            sink,
        };
        committer.publish_progress();
        Ok(committer)
    }

    fn next_index(&self) -> usize {
        self.checkpoint.pages.len()
    }

    /// A partition that a resumed download skips must still be the partition it wrote before.
    fn verify_resumed(&self, index: usize, partition: &Partition) -> Result<()> {
        let saved = &self.checkpoint.pages[index];
        if saved.key == partition.key {
            return Ok(());
        }
        Err(Error::integrity(format!(
            "{} {index} now has key {:?}, but the interrupted download wrote {:?}; remove the \
             checkpoint to start over",
            self.run.options.source.partition_noun(),
            partition.key,
            saved.key
        )))
    }

    async fn commit(&mut self, part: FetchedPart) -> Result<()> {
        debug_assert_eq!(part.index, self.next_index());
        if let Some(refused) = part.refused {
            let before = self.checkpoint.records();
            return Err(match refused {
                Error::InvalidValue {
                    row,
                    column,
                    value,
                    expected,
                } => Error::InvalidValue {
                    row: before + row,
                    column,
                    value,
                    expected,
                },
                other => other,
            });
        }
        if self.checkpoint.columns.is_none() {
            self.checkpoint.columns = match part.columns {
                Columns::Header(header) if header.is_empty() => None,
                Columns::Header(header) => {
                    let delimiter = self.run.options.source.delimiter()?;
                    Some(columns_of(&header, delimiter)?)
                }
                Columns::Names(names) => Some(names),
            };
        }
        let header = &mut self.checkpoint.header;
        let committed = self
            .sink
            .commit(part.index, part.data, part.bytes, header)
            .await?;
        self.checkpoint.file_bytes += committed.bytes;
        self.checkpoint.next_key = part.next.and_then(|next| next.key);
        self.checkpoint.pages.push(CommittedPage {
            index: part.index,
            key: part.partition.key,
            records: part.records,
            bytes: committed.bytes,
            sha256: committed.sha256,
        });
        if self.run.options.resume {
            self.run.target.save_checkpoint(&self.checkpoint).await?;
        }
        self.publish_progress();
        Ok(())
    }

    fn publish_progress(&self) {
        self.run.progress.send_modify(|progress| {
            progress.pages = self.checkpoint.pages.len();
            progress.records = self.checkpoint.records();
            progress.bytes = self.checkpoint.file_bytes;
        });
    }
}

/// Whether the checkpoint `saved` may be resumed by a download that would start as `fresh`.
fn resumable(saved: &Checkpoint, fresh: &Checkpoint, run: &Run) -> Result<()> {
    let path = || run.target.checkpoint_shown();
    if saved.source != fresh.source {
        return Err(Error::invalid_input(format!(
            "{} belongs to {}, not {}; remove it to start over",
            path(),
            saved.source,
            fresh.source
        )));
    }
    if saved.max_records != fresh.max_records {
        return Err(Error::invalid_input(format!(
            "the interrupted download used max_records {:?}; resume with the same",
            saved.max_records
        )));
    }
    if saved.output != fresh.output {
        return Err(Error::invalid_input(format!(
            "the interrupted download wrote {}; resume with the same format",
            saved.output
        )));
    }
    if saved.schema != fresh.schema {
        return Err(Error::invalid_input(
            "the interrupted download was typed by another schema; resume with the same, or \
             remove the checkpoint to start over",
        ));
    }
    Ok(())
}
