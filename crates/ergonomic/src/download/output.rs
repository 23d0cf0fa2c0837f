//! The single-file download's temporary output: partitions appended in order (CSV ones with one
//! header row in all).
//!
//! Appending runs on a blocking thread with `std::fs`, in one hop a page: the header row is read and
//! checked, and the rest of the part file is handed to [`std::io::copy`], which on Linux copies inside
//! the kernel (`copy_file_range`) instead of reading every byte into the process and writing it back.
//!
//! The file is synced before it is renamed into place. So that this final sync does not have to write
//! the whole file at the end, a background sync starts whenever [`SYNC_AHEAD`] bytes are unsynced and
//! none is running: the disk then writes while the network delivers the next pages.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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
        Ok(Self {
            path,
            file: Arc::new(file),
            syncer: Arc::default(),
        })
    }

    /// The temporary file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the part file `part` whole.
    pub(crate) async fn append(&self, part: &Path) -> Result<u64> {
        let (file, output, part) = (self.file.clone(), self.path.clone(), part.to_path_buf());
        let appended = blocking(move || {
            let mut source = File::open(&part).map_err(|e| Error::io(&part, e))?;
            std::io::copy(&mut source, &mut &*file).map_err(|e| Error::io(&output, e))
        })
        .await?;
        self.sync_in_background(appended);
        Ok(appended)
    }

    /// Appends the CSV part file `part`: whole for the first page, without its header row after
    /// that, once the header matches the first page's (`first_header`, set by the first page).
    /// Returns the bytes appended.
    pub(crate) async fn append_csv(
        &self,
        part: &Path,
        page: usize,
        first_header: &mut Option<String>,
    ) -> Result<u64> {
        let (file, output, part) = (self.file.clone(), self.path.clone(), part.to_path_buf());
        let expected = first_header.clone();
        let (appended, header) =
            blocking(move || append_part(&file, &output, &part, page, expected.as_deref())).await?;
        first_header.get_or_insert(header);
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

    /// Flushes the file to disk, so that the rename that follows never publishes missing data.
    pub(crate) async fn sync(&self) -> Result<()> {
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

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::invalid_response("download", format!("a file task failed: {e}")))?
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

/// Appends one part file; returns the bytes appended and the page's header row.
fn append_part(
    mut output: &File,
    output_path: &Path,
    part_path: &Path,
    page: usize,
    first_header: Option<&str>,
) -> Result<(u64, String)> {
    let mut part = File::open(part_path).map_err(|e| Error::io(part_path, e))?;
    let header = read_header(&mut part, part_path, page)?;
    let text = String::from_utf8_lossy(&header).into_owned();
    let skip = match first_header {
        None => 0,
        Some(first) if first == text => header.len() as u64,
        Some(first) => {
            return Err(Error::integrity(format!(
                "page {page}: header row {text:?} differs from the first page's {first:?}"
            )));
        }
    };
    part.seek(SeekFrom::Start(skip))
        .map_err(|e| Error::io(part_path, e))?;
    let appended = std::io::copy(&mut part, &mut output).map_err(|e| Error::io(output_path, e))?;
    Ok((appended, text))
}

/// The page's header row, terminator included (the whole page when the header never ends).
fn read_header(part: &mut File, path: &Path, page: usize) -> Result<Vec<u8>> {
    let mut splitter = HeaderSplitter::default();
    let mut buffer = vec![0u8; HEADER_READ];
    while !splitter.is_done() {
        let read = part.read(&mut buffer).map_err(|e| Error::io(path, e))?;
        if read == 0 {
            break;
        }
        splitter
            .feed(&buffer[..read])
            .map_err(|detail| Error::integrity(format!("page {page}: {detail}")))?;
    }
    Ok(splitter.header().to_vec())
}
