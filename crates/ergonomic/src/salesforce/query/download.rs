//! Downloading a job's results to one file or to a folder of page files, in parallel, checked, and
//! resumable.
//!
//! Workers fetch pages concurrently, each streaming its page into a part file (memory stays bounded by
//! the chunk size, whatever the page size). Pages are committed strictly in order: appended to the
//! temporary output without their repeated header row (single file), or renamed into place (folder).
//! After each commit a [`Checkpoint`] is saved, so a crash loses at most the pages in flight. The
//! temporary output is renamed to its final name only when every page is in and the row total matches
//! the job's `numberRecordsProcessed`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::BoxFuture;
use tokio::fs::File;
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::CompletedQueryJob;
use super::checkpoint::{Checkpoint, CommittedPage};
use super::output::OrderedOutput;
use super::pages::{PageMeta, PageSink, fetch_page, result_page_locators};
use crate::error::{Error, Result};

/// Bytes buffered per file write.
const WRITE_BUFFER: usize = 1 << 20;
/// Page links listed ahead of the workers.
const LISTED_AHEAD: usize = 64;

/// Configures a download; finish with [`to_file`](Self::to_file) or [`to_dir`](Self::to_dir).
#[derive(Debug, Clone)]
#[must_use]
pub struct DownloadBuilder {
    done: CompletedQueryJob,
    concurrency: usize,
    max_records: Option<u64>,
    resume: bool,
    cancel: CancellationToken,
}

/// How far a download has come.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DownloadProgress {
    /// Pages written.
    pub pages: usize,
    /// Rows written.
    pub records: u64,
    /// Bytes written (header rows of later pages not counted in single-file downloads).
    pub bytes: u64,
    /// Rows the job holds, when the server said.
    pub expected_records: Option<u64>,
}

/// What a finished download wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DownloadReport {
    /// The file or folder written.
    pub path: PathBuf,
    /// Pages downloaded in all, resumed ones included.
    pub pages: usize,
    /// Pages that an earlier, interrupted run had already written.
    pub resumed_pages: usize,
    /// Rows written, equal to the job's `numberRecordsProcessed`.
    pub records: u64,
    /// Bytes of the output.
    pub bytes: u64,
    /// Time this run took.
    pub elapsed: Duration,
}

impl DownloadBuilder {
    pub(crate) fn new(done: CompletedQueryJob) -> Self {
        Self {
            done,
            concurrency: 4,
            max_records: None,
            resume: false,
            cancel: CancellationToken::new(),
        }
    }

    /// Pages fetched at once (default 4). Above 1, pages are listed through `resultPages` (API 58.0+);
    /// before 58.0 the locator chain allows one page at a time.
    pub fn concurrency(mut self, pages: usize) -> Self {
        self.concurrency = pages;
        self
    }

    /// At most this many rows a page (the server's default when unset).
    pub fn max_records(mut self, rows: u64) -> Self {
        self.max_records = Some(rows);
        self
    }

    /// Resumes an interrupted download to the same output from its checkpoint, and keeps a checkpoint
    /// while downloading so that this one can be resumed too (default false).
    pub fn resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// Stops the download, with [`Error::Cancelled`], when `token` is cancelled; the download cleans up
    /// (or keeps its checkpoint, when resumable) before it answers.
    pub fn cancel_on(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }

    /// Downloads into one CSV file with a single header row. Starts at once; await the handle.
    pub fn to_file(self, path: impl Into<PathBuf>) -> DownloadHandle {
        self.start(Target::File(path.into()))
    }

    /// Downloads into a folder, one CSV file a page (`part-00000.csv`, ...), each with its header.
    pub fn to_dir(self, path: impl Into<PathBuf>) -> DownloadHandle {
        self.start(Target::Dir(path.into()))
    }

    fn start(self, target: Target) -> DownloadHandle {
        let cancel = self.cancel.child_token();
        let (progress, watcher) = watch::channel(DownloadProgress {
            expected_records: self.done.expected_records(),
            ..DownloadProgress::default()
        });
        let run = Run {
            options: self,
            target,
            progress,
            cancel: cancel.clone(),
        };
        DownloadHandle::spawn(cancel, watcher, run.execute())
    }
}

/// A download under way. Await it for the [`DownloadReport`]; [`cancel`](crate::Handle::cancel) or
/// dropping it stops the download (a resumable one keeps its checkpoint).
pub type DownloadHandle = crate::Handle<DownloadReport, DownloadProgress>;

#[derive(Debug, Clone)]
enum Target {
    File(PathBuf),
    Dir(PathBuf),
}

impl Target {
    fn output(&self) -> &Path {
        match self {
            Self::File(path) | Self::Dir(path) => path,
        }
    }

    /// Where pages are written while in flight.
    fn parts_dir(&self) -> PathBuf {
        match self {
            Self::File(path) => {
                let mut name = path
                    .file_name()
                    .map(|n| n.to_os_string())
                    .unwrap_or_default();
                name.push(".haul-parts");
                path.with_file_name(name)
            }
            Self::Dir(path) => path.join(".haul-parts"),
        }
    }

    /// The single-file download's temporary output.
    fn temporary_file(&self) -> Option<PathBuf> {
        match self {
            Self::File(path) => {
                let mut name = path
                    .file_name()
                    .map(|n| n.to_os_string())
                    .unwrap_or_default();
                name.push(".part");
                Some(path.with_file_name(name))
            }
            Self::Dir(_) => None,
        }
    }
}

/// A page fetched into its part file, waiting to be committed.
struct FetchedPart {
    index: usize,
    locator: Option<String>,
    path: PathBuf,
    meta: PageMeta,
}

struct Run {
    options: DownloadBuilder,
    target: Target,
    progress: watch::Sender<DownloadProgress>,
    cancel: CancellationToken,
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
        if outcome.is_err() && !resumable {
            discard(&target).await;
        }
        outcome
    }

    async fn download(&self) -> Result<DownloadReport> {
        if self.options.concurrency == 0 {
            return Err(Error::invalid_input(
                "download concurrency must be at least 1",
            ));
        }
        let started = Instant::now();
        let mut committer = Committer::open(self).await?;
        let resumed_pages = committer.checkpoint.pages.len();
        let job = &self.options.done.job;
        let parallel = self.options.concurrency > 1 && job.api_version().supports_result_pages();
        if parallel {
            self.fetch_parallel(&mut committer).await?;
        } else {
            self.fetch_chain(&mut committer).await?;
        }
        let records = committer.checkpoint.records();
        self.check_total(records).await?;
        let pages = committer.checkpoint.pages.len();
        let bytes = committer.finish().await?;
        Ok(DownloadReport {
            path: self.target.output().to_path_buf(),
            pages,
            resumed_pages,
            records,
            bytes,
            elapsed: started.elapsed(),
        })
    }

    /// One page at a time, each page's `Sforce-Locator` naming the next.
    async fn fetch_chain(&self, committer: &mut Committer<'_>) -> Result<()> {
        let mut index = committer.checkpoint.pages.len();
        let mut locator = committer.checkpoint.next_locator.clone();
        if index > 0 && locator.is_none() {
            return Ok(()); // The checkpoint says the chain already ended.
        }
        loop {
            let part = fetch_part(self, index, locator).await?;
            let next = part.meta.next_locator.clone();
            committer.commit(part).await?;
            match next {
                Some(next) => locator = Some(next),
                None => return Ok(()),
            }
            index += 1;
        }
    }

    /// Pages listed by `resultPages`, fetched by up to `concurrency` workers, committed in order.
    /// Workers run at most `2 * concurrency` pages ahead of the next page to commit, which bounds the
    /// part files waiting on disk.
    async fn fetch_parallel(&self, committer: &mut Committer<'_>) -> Result<()> {
        let job = self.options.done.job.clone();
        let skip = committer.checkpoint.pages.len();
        // The listing runs ahead on its own task, so that a worker slot that frees up gets its next
        // page at once instead of after a `resultPages` round trip every five pages. Dropping the
        // set (on return or cancellation) stops it.
        let (listed, mut locators) = tokio::sync::mpsc::channel(LISTED_AHEAD);
        let mut lister = JoinSet::new();
        let max_records = self.options.max_records;
        lister.spawn(async move {
            let mut pages = result_page_locators(job, max_records).enumerate().boxed();
            while let Some((index, locator)) = pages.next().await {
                let failed = locator.is_err();
                if listed.send((index, locator)).await.is_err() || failed {
                    break;
                }
            }
        });
        let window = self.options.concurrency * 2;
        let mut workers: JoinSet<Result<FetchedPart>> = JoinSet::new();
        let mut waiting: BTreeMap<usize, FetchedPart> = BTreeMap::new();
        let mut listed_all = false;
        loop {
            while !listed_all
                && workers.len() < self.options.concurrency
                && waiting.len() + workers.len() < window
            {
                match locators.recv().await {
                    Some((index, locator)) => {
                        let locator = locator?;
                        if index < skip {
                            committer.verify_resumed(index, locator.as_deref())?;
                            continue;
                        }
                        workers.spawn(fetch_part_owned(self.worker(), index, locator));
                    }
                    None => listed_all = true,
                }
            }
            let Some(joined) = workers.join_next().await else {
                break;
            };
            let part = joined.map_err(|e| {
                Error::invalid_response("download", format!("a page worker failed: {e}"))
            })??;
            waiting.insert(part.index, part);
            while let Some(part) = waiting.remove(&committer.next_index()) {
                committer.commit(part).await?;
            }
        }
        if let Some((&index, _)) = waiting.first_key_value() {
            return Err(Error::invalid_response(
                "get_query_job_result_pages",
                format!(
                    "page {index} was listed but page {} never was",
                    committer.next_index()
                ),
            ));
        }
        Ok(())
    }

    fn worker(&self) -> Worker {
        Worker {
            done: self.options.done.clone(),
            max_records: self.options.max_records,
            parts_dir: self.target.parts_dir(),
        }
    }

    /// The row total must equal the job's `numberRecordsProcessed`. The job info is read again once
    /// before a disagreement is reported, in case the first copy was stale.
    async fn check_total(&self, records: u64) -> Result<()> {
        let done = &self.options.done;
        let Some(expected) = done.expected_records() else {
            return Ok(());
        };
        if records == expected {
            return Ok(());
        }
        let fresh = done.job.info().await?;
        let expected = fresh
            .number_records_processed
            .and_then(|n| u64::try_from(n).ok());
        if expected == Some(records) {
            return Ok(());
        }
        Err(Error::integrity(format!(
            "job {} says it produced {} rows; the downloaded pages hold {records}",
            done.job.id(),
            expected.map_or_else(|| "an unknown number of".to_owned(), |n| n.to_string())
        )))
    }
}

/// What a page worker needs, owned so that it can run on its own task.
struct Worker {
    done: CompletedQueryJob,
    max_records: Option<u64>,
    parts_dir: PathBuf,
}

fn fetch_part<'a>(
    run: &'a Run,
    index: usize,
    locator: Option<String>,
) -> BoxFuture<'a, Result<FetchedPart>> {
    Box::pin(fetch_part_owned(run.worker(), index, locator))
}

async fn fetch_part_owned(
    worker: Worker,
    index: usize,
    locator: Option<String>,
) -> Result<FetchedPart> {
    let path = worker.parts_dir.join(format!("part-{index:05}.csv"));
    let mut sink = FileSink::create(&path).await?;
    let meta = fetch_page(
        &worker.done.job,
        locator.as_deref(),
        worker.max_records,
        &mut sink,
    )
    .await?;
    sink.finish().await?;
    Ok(FetchedPart {
        index,
        locator,
        path,
        meta,
    })
}

/// A part file that a failed attempt can start over.
struct FileSink {
    path: PathBuf,
    file: BufWriter<File>,
}

impl FileSink {
    async fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).await.map_err(|e| Error::io(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file: BufWriter::with_capacity(WRITE_BUFFER, file),
        })
    }

    async fn finish(mut self) -> Result<()> {
        self.file
            .flush()
            .await
            .map_err(|e| Error::io(&self.path, e))
    }
}

impl PageSink for FileSink {
    async fn restart(&mut self) -> Result<()> {
        self.file
            .flush()
            .await
            .map_err(|e| Error::io(&self.path, e))?;
        let file = self.file.get_mut();
        file.set_len(0)
            .await
            .map_err(|e| Error::io(&self.path, e))?;
        file.rewind().await.map_err(|e| Error::io(&self.path, e))?;
        Ok(())
    }

    async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.file
            .write_all(chunk)
            .await
            .map_err(|e| Error::io(&self.path, e))
    }
}

/// Commits fetched pages in order to the output, and keeps the checkpoint.
struct Committer<'a> {
    run: &'a Run,
    checkpoint: Checkpoint,
    /// The single-file download's temporary output.
    output: Option<OrderedOutput>,
    /// Removals of appended part files. They run beside the next commits: freeing a page's blocks
    /// can wait on the file system's journal (for tens of milliseconds while a sync runs), and the
    /// committer is the one thing every page waits for.
    removals: JoinSet<()>,
}

impl<'a> Committer<'a> {
    /// Prepares the output: resumes from a checkpoint when asked and one matches, else starts afresh.
    async fn open(run: &'a Run) -> Result<Self> {
        let output_path = run.target.output();
        let job = &run.options.done.job;
        let fresh = || {
            Checkpoint::new(
                job.id().to_string(),
                job.api_version(),
                run.options.max_records,
            )
        };
        let checkpoint = match (run.options.resume, Checkpoint::load(output_path)?) {
            (true, Some(saved)) => {
                if saved.job_id != job.id().as_str() || saved.api_version != job.api_version() {
                    return Err(Error::invalid_input(format!(
                        "{} belongs to job {} (API {}), not job {} (API {}); remove it to start over",
                        Checkpoint::path_for(output_path).display(),
                        saved.job_id,
                        saved.api_version,
                        job.id(),
                        job.api_version()
                    )));
                }
                if saved.max_records != run.options.max_records {
                    return Err(Error::invalid_input(format!(
                        "the interrupted download used max_records {:?}; resume with the same",
                        saved.max_records
                    )));
                }
                tracing::info!(
                    pages = saved.pages.len(),
                    records = saved.records(),
                    "resuming download"
                );
                saved
            }
            _ => fresh(),
        };
        let parts_dir = run.target.parts_dir();
        tokio::fs::create_dir_all(&parts_dir)
            .await
            .map_err(|e| Error::io(&parts_dir, e))?;
        let output = match (&run.target, run.target.temporary_file()) {
            (Target::File(_), Some(temporary)) => {
                Some(OrderedOutput::open(temporary, checkpoint.file_bytes).await?)
            }
            (Target::Dir(dir), _) => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| Error::io(dir, e))?;
                None
            }
            (Target::File(_), None) => unreachable!("a file target has a temporary file"),
        };
        let committer = Self {
            run,
            checkpoint,
            output,
            removals: JoinSet::new(),
        };
        committer.publish_progress();
        Ok(committer)
    }

    fn next_index(&self) -> usize {
        self.checkpoint.pages.len()
    }

    /// A page that a resumed download skips must still be the page it wrote before.
    fn verify_resumed(&self, index: usize, locator: Option<&str>) -> Result<()> {
        let saved = &self.checkpoint.pages[index];
        if saved.locator.as_deref() == locator {
            return Ok(());
        }
        Err(Error::integrity(format!(
            "page {index} now has locator {locator:?}, but the interrupted download wrote {:?}; \
             remove the checkpoint to start over",
            saved.locator
        )))
    }

    async fn commit(&mut self, part: FetchedPart) -> Result<()> {
        debug_assert_eq!(part.index, self.next_index());
        match &mut self.output {
            Some(output) => {
                let header = &mut self.checkpoint.header;
                self.checkpoint.file_bytes += output.append(&part.path, part.index, header).await?;
                // A part file left by a failed removal goes with the parts folder at the end.
                let appended = part.path.clone();
                self.removals.spawn(async move {
                    if let Err(error) = tokio::fs::remove_file(&appended).await {
                        tracing::debug!(%error, path = %appended.display(), "removing a part file");
                    }
                });
            }
            None => {
                let final_path = self
                    .run
                    .target
                    .output()
                    .join(format!("part-{:05}.csv", part.index));
                tokio::fs::rename(&part.path, &final_path)
                    .await
                    .map_err(|e| Error::io(&final_path, e))?;
                self.checkpoint.file_bytes += part.meta.bytes;
            }
        }
        self.checkpoint.next_locator = part.meta.next_locator.clone();
        self.checkpoint.pages.push(CommittedPage {
            index: part.index,
            locator: part.locator,
            records: part.meta.records,
        });
        if self.run.options.resume {
            self.checkpoint.save(self.run.target.output()).await?;
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

    /// Moves the output into place and removes what the download kept on the side.
    ///
    /// The checkpoint goes first: a crash right after leaves a complete temporary file and no
    /// checkpoint, so the next run starts over; the other order could leave a checkpoint vouching
    /// for a temporary file that was already renamed away.
    async fn finish(mut self) -> Result<u64> {
        let final_path = self.run.target.output().to_path_buf();
        Checkpoint::remove(&final_path).await?;
        if let Some(output) = self.output.take() {
            if self.checkpoint.pages.is_empty() {
                return Err(Error::invalid_response(
                    "get_query_job_results",
                    "the job has no result pages",
                ));
            }
            output.sync().await?;
            tokio::fs::rename(output.path(), &final_path)
                .await
                .map_err(|e| Error::io(&final_path, e))?;
        }
        while self.removals.join_next().await.is_some() {}
        let parts_dir = self.run.target.parts_dir();
        let _ = tokio::fs::remove_dir_all(&parts_dir).await;
        Ok(self.checkpoint.file_bytes)
    }
}

/// Removes what a failed, non-resumable download left.
async fn discard(target: &Target) {
    let _ = tokio::fs::remove_dir_all(target.parts_dir()).await;
    if let Some(temporary) = target.temporary_file() {
        let _ = tokio::fs::remove_file(temporary).await;
    }
}
