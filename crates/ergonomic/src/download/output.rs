//! The single-file download's temporary output: partitions appended in order (CSV ones with one
//! header row in all).
//!
//! Appending runs on a blocking thread with `std::fs`, in one hop a partition: the header row is
//! found and checked, then the rest is written from memory (a partition held within the budget) or
//! handed to [`std::io::copy`] from its part file, which on Linux copies inside the kernel
//! (`copy_file_range`) instead of reading every byte into the process and writing it back.
//!
//! The file is synced before it is renamed into place. So that this final sync does not have to write
//! the whole file at the end, a background sync starts whenever [`SYNC_AHEAD`] bytes are unsynced and
//! none is running: the disk then writes while the network delivers the next pages.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::digest::{DigestFeed, RunningDigest};
use super::part::{PartData, blocking};
use crate::csv_scan::HeaderSplitter;
use crate::error::{Error, Result};

/// Bytes read at a time while looking for the end of a page's header row.
const HEADER_READ: usize = 64 * 1024;
/// Unsynced bytes that start a background sync.
const SYNC_AHEAD: u64 = 32 << 20;

/// The temporary output file, positioned after the last whole page.
#[derive(Debug)]
pub(crate) struct OrderedOutput {
    path: PathBuf,
    file: Arc<File>,
    syncer: Arc<Syncer>,
    /// The file's SHA-256, taken as partitions are appended.
    digest: RunningDigest,
}

/// The background sync's state.
#[derive(Debug, Default)]
struct Syncer {
    running: AtomicBool,
    unsynced: AtomicU64,
    /// A failed background sync, locked while a sync runs. Linux reports a writeback error to one
    /// sync of an open file, so the background one must hand it on to the final sync rather than
    /// swallow it, and the final sync must not run beside it.
    failure: Mutex<Option<std::io::Error>>,
}

impl OrderedOutput {
    /// Opens `path` keeping its first `keep` bytes (the pages a checkpoint vouches for).
    pub(crate) async fn open(path: PathBuf, keep: u64) -> Result<Self> {
        let opened = path.clone();
        let file = blocking(move || open_truncated(&opened, keep)).await?;
        let digest = RunningDigest::start(&path, keep)?;
        Ok(Self {
            path,
            file: Arc::new(file),
            syncer: Arc::default(),
            digest,
        })
    }

    /// The temporary file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends a partition, and returns the bytes appended. With `header` (CSV), the first
    /// partition's header row is kept and recorded there; a later partition's is dropped once it
    /// matches the first's.
    pub(crate) async fn append(
        &self,
        data: PartData,
        page: usize,
        header: Option<&mut Option<String>>,
    ) -> Result<u64> {
        let (file, output, digest) = (self.file.clone(), self.path.clone(), self.digest.feed());
        let rule = match &header {
            None => HeaderRule::None,
            Some(None) => HeaderRule::Keep,
            Some(Some(first)) => HeaderRule::Drop(first.clone()),
        };
        let (appended, found) = blocking(move || {
            let mut writer = Appender {
                output: &file,
                path: &output,
                page,
                rule,
                digest,
            };
            match &data {
                PartData::Held { chunks, .. } => writer.chunks(chunks),
                PartData::Spilled(part) => writer.file(part),
            }
        })
        .await?;
        if let (Some(header), Some(found)) = (header, found) {
            header.get_or_insert(found);
        }
        self.sync_in_background(appended);
        Ok(appended)
    }

    /// Starts a background sync once enough is unsynced, unless one is running.
    fn sync_in_background(&self, appended: u64) {
        let unsynced = self.syncer.unsynced.fetch_add(appended, Ordering::Relaxed) + appended;
        if unsynced < SYNC_AHEAD || self.syncer.running.swap(true, Ordering::AcqRel) {
            return;
        }
        self.syncer.unsynced.store(0, Ordering::Relaxed);
        let (file, syncer) = (self.file.clone(), self.syncer.clone());
        // Detached on purpose: the final sync waits for the disk anyway, and a failure is kept.
        drop(tokio::task::spawn_blocking(move || {
            let mut failure = syncer.failure.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(error) = file.sync_data() {
                failure.get_or_insert(error);
            }
            drop(failure);
            syncer.running.store(false, Ordering::Release);
        }));
    }

    /// Flushes the file to disk, so that the rename that follows never publishes missing data, and
    /// returns its SHA-256 and length.
    pub(crate) async fn finish(self) -> Result<(String, u64)> {
        self.sync().await?;
        self.digest.finish().await
    }

    async fn sync(&self) -> Result<()> {
        let (file, path, syncer) = (self.file.clone(), self.path.clone(), self.syncer.clone());
        blocking(move || {
            let failed = syncer
                .failure
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            match failed {
                Some(error) => Err(Error::io(path, error)),
                None => file.sync_all().map_err(|e| Error::io(path, e)),
            }
        })
        .await
    }
}

fn open_truncated(path: &Path, keep: u64) -> Result<File> {
    let io = |e| Error::io(path, e);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(path)
        .map_err(io)?;
    let length = file.metadata().map_err(io)?.len();
    if length < keep {
        return Err(Error::integrity(format!(
            "{} holds {length} bytes but its checkpoint vouches for {keep}; remove both to start over",
            path.display()
        )));
    }
    file.set_len(keep).map_err(io)?;
    file.seek(SeekFrom::Start(keep)).map_err(io)?;
    Ok(file)
}

/// What to do with a partition's header row.
enum HeaderRule {
    /// The format has none.
    None,
    /// The first partition's: keep it.
    Keep,
    /// A later partition's: drop it when it matches the first's, else refuse the partition.
    Drop(String),
}

/// Appends one partition to the output, on a blocking thread.
struct Appender<'a> {
    output: &'a File,
    path: &'a Path,
    page: usize,
    rule: HeaderRule,
    digest: DigestFeed,
}

impl Appender<'_> {
    /// Appends held chunks; returns the bytes appended and the partition's header row.
    fn chunks(&mut self, chunks: &[Bytes]) -> Result<(u64, Option<String>)> {
        let header = match self.rule {
            HeaderRule::None => None,
            _ => {
                let mut splitter = HeaderSplitter::default();
                for chunk in chunks {
                    if splitter.is_done() {
                        break;
                    }
                    splitter
                        .feed(chunk)
                        .map_err(|detail| self.refused(detail))?;
                }
                Some(splitter.header().to_vec())
            }
        };
        let mut skip = self.skip(header.as_deref())?;
        let mut appended = 0u64;
        for chunk in chunks {
            let dropped = skip.min(chunk.len() as u64);
            skip -= dropped;
            let rest = chunk.slice(dropped as usize..);
            self.write(&rest)?;
            appended += rest.len() as u64;
            if !rest.is_empty() {
                self.digest.bytes(rest);
            }
        }
        Ok((appended, header.map(text)))
    }

    /// Appends a part file, in the kernel where it can (`copy_file_range`).
    fn file(&mut self, part_path: &Path) -> Result<(u64, Option<String>)> {
        let mut part = File::open(part_path).map_err(|e| Error::io(part_path, e))?;
        let header = match self.rule {
            HeaderRule::None => None,
            _ => Some(self.read_header(&mut part, part_path)?),
        };
        let skip = self.skip(header.as_deref())?;
        part.seek(SeekFrom::Start(skip))
            .map_err(|e| Error::io(part_path, e))?;
        let mut output = self.output;
        let io = |e| Error::io(self.path, e);
        let start = output.stream_position().map_err(io)?;
        let appended = std::io::copy(&mut part, &mut output).map_err(io)?;
        self.digest.range(start, appended);
        Ok((appended, header.map(text)))
    }

    /// How many leading bytes to leave out: the header row of a partition after the first.
    fn skip(&self, header: Option<&[u8]>) -> Result<u64> {
        let (HeaderRule::Drop(first), Some(header)) = (&self.rule, header) else {
            return Ok(0);
        };
        if String::from_utf8_lossy(header) == first.as_str() {
            return Ok(header.len() as u64);
        }
        Err(Error::integrity(format!(
            "page {}: header row {:?} differs from the first page's {first:?}",
            self.page,
            String::from_utf8_lossy(header)
        )))
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let mut output = self.output;
        output.write_all(bytes).map_err(|e| Error::io(self.path, e))
    }

    /// The part file's header row, terminator included (the whole part when it never ends).
    fn read_header(&self, part: &mut File, path: &Path) -> Result<Vec<u8>> {
        let mut splitter = HeaderSplitter::default();
        let mut buffer = vec![0u8; HEADER_READ];
        while !splitter.is_done() {
            let read = part.read(&mut buffer).map_err(|e| Error::io(path, e))?;
            if read == 0 {
                break;
            }
            splitter
                .feed(&buffer[..read])
                .map_err(|detail| self.refused(detail))?;
        }
        Ok(splitter.header().to_vec())
    }

    fn refused(&self, detail: &str) -> Error {
        Error::integrity(format!("page {}: {detail}", self.page))
    }
}

fn text(header: Vec<u8>) -> String {
    String::from_utf8_lossy(&header).into_owned()
}
