//! The SHA-256 of a single-file output, taken while the download runs.
//!
//! The manifest names every file's checksum. Taken in a second pass over the finished file, the
//! digest was a quarter of a loopback download's CPU and all of it came after the last partition, on
//! the wall clock. Here a thread of its own hashes the output in commit order while later partitions
//! are still arriving: a partition held in memory is hashed from the very buffers that were written
//! (shared, not copied), one appended from its part file inside the kernel is read back from the
//! output's page cache, and so is the prefix a checkpoint kept from an earlier run.
//!
//! The bytes queued for the thread are bounded ([`QUEUED`]), so that a slow hash holds back the
//! commits instead of keeping partitions alive after the download's memory budget let them go.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::manifest::hex;
use super::part::blocking;
use crate::error::{Error, Result};

/// Bytes of memory the hashing thread may fall behind by (ranges of the file cost none).
const QUEUED: usize = 4 << 20;
/// Bytes read at a time from the output file.
const READ: usize = 1 << 20;

/// A piece of the output, in file order.
enum Piece {
    /// Bytes just written.
    Bytes(Bytes),
    /// Bytes written without passing through the process, to be read back from the file.
    Range { start: u64, length: u64 },
}

/// The hashing thread of one output file.
#[derive(Debug)]
pub(crate) struct RunningDigest {
    feed: DigestFeed,
    thread: std::thread::JoinHandle<Result<(String, u64)>>,
}

/// Sends pieces to a [`RunningDigest`] from the thread that writes them.
#[derive(Clone, Debug)]
pub(crate) struct DigestFeed {
    pieces: Sender<Piece>,
    queued: Arc<Queued>,
}

/// Bytes sent and not hashed yet.
#[derive(Debug, Default)]
struct Queued {
    state: Mutex<QueueState>,
    hashed: Condvar,
}

#[derive(Debug, Default)]
struct QueueState {
    bytes: usize,
    /// The thread stopped: nothing will be hashed any more, so nobody may wait for it.
    closed: bool,
}

impl Queued {
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until `more` bytes fit under [`QUEUED`] (or nothing is queued), then counts them.
    fn add(&self, more: usize) {
        let mut state = self.lock();
        while !state.closed && state.bytes > 0 && state.bytes + more > QUEUED {
            state = self.hashed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        state.bytes += more;
    }

    fn remove(&self, hashed: usize) {
        let mut state = self.lock();
        state.bytes = state.bytes.saturating_sub(hashed);
        self.hashed.notify_all();
    }
}

/// Closes the queue when the thread ends, however it ends.
struct CloseOnExit<'a>(&'a Queued);

impl Drop for CloseOnExit<'_> {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.hashed.notify_all();
    }
}

impl RunningDigest {
    /// Starts hashing `path`, whose first `kept` bytes are already written.
    pub(crate) fn start(path: &Path, kept: u64) -> Result<Self> {
        let reader = File::open(path).map_err(|e| Error::io(path, e))?;
        let (pieces, received) = channel();
        let queued = Arc::<Queued>::default();
        let path = path.to_path_buf();
        let hashed = queued.clone();
        let thread = std::thread::Builder::new()
            .name("haul-digest".into())
            .spawn(move || hash(received, &hashed, reader, path))
            .map_err(|e| Error::io("a digest thread", e))?;
        let digest = Self {
            feed: DigestFeed { pieces, queued },
            thread,
        };
        if kept > 0 {
            digest.feed().range(0, kept);
        }
        Ok(digest)
    }

    /// A sender for the thread that appends to the file.
    pub(crate) fn feed(&self) -> DigestFeed {
        self.feed.clone()
    }

    /// Waits for the thread to hash what it was sent; returns the digest and the bytes hashed.
    pub(crate) async fn finish(self) -> Result<(String, u64)> {
        let Self { feed, thread } = self;
        drop(feed);
        blocking(move || {
            thread.join().unwrap_or_else(|_| {
                Err(Error::invalid_response(
                    "download",
                    "the digest thread panicked",
                ))
            })
        })
        .await
    }
}

impl DigestFeed {
    /// Hashes `bytes`, just written at the end of the file.
    pub(crate) fn bytes(&self, bytes: Bytes) {
        self.queued.add(bytes.len());
        // A closed queue means the thread stopped on an error, which `finish` reports.
        let _ = self.pieces.send(Piece::Bytes(bytes));
    }

    /// Hashes `length` bytes of the file from `start`, written without passing through here.
    pub(crate) fn range(&self, start: u64, length: u64) {
        let _ = self.pieces.send(Piece::Range { start, length });
    }
}

/// The thread: hashes pieces until every sender is gone.
fn hash(
    pieces: Receiver<Piece>,
    queued: &Queued,
    mut reader: File,
    path: PathBuf,
) -> Result<(String, u64)> {
    let _close = CloseOnExit(queued);
    let mut hasher = Sha256::new();
    let mut hashed = 0u64;
    let mut buffer = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Bytes(bytes) => {
                hasher.update(&bytes);
                hashed += bytes.len() as u64;
                queued.remove(bytes.len());
            }
            Piece::Range { start, length } => {
                if start != hashed {
                    return Err(Error::integrity(format!(
                        "{}: the digest reached byte {hashed} but was sent a range from {start}",
                        path.display()
                    )));
                }
                buffer.resize(READ, 0);
                read_range(&mut reader, start, length, &mut buffer, &mut hasher)
                    .map_err(|e| Error::io(&path, e))?;
                hashed += length;
            }
        }
    }
    Ok((hex(&hasher.finalize()), hashed))
}

fn read_range(
    reader: &mut File,
    start: u64,
    length: u64,
    buffer: &mut [u8],
    hasher: &mut Sha256,
) -> std::io::Result<()> {
    reader.seek(SeekFrom::Start(start))?;
    let mut left = length;
    while left > 0 {
        let want = buffer
            .len()
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        reader.read_exact(&mut buffer[..want])?;
        hasher.update(&buffer[..want]);
        left -= want as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A file of this test process's own in the temporary folder.
    fn scratch(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("haul-digest-{}-{name}", std::process::id()))
    }

    #[tokio::test]
    async fn bytes_and_ranges_hash_as_the_whole_file() {
        let path = scratch("whole");
        let mut file = File::create(&path).unwrap();
        file.write_all(b"kept,").unwrap();
        let digest = RunningDigest::start(&path, 5).unwrap();
        let feed = digest.feed();
        file.write_all(b"held,").unwrap();
        feed.bytes(Bytes::from_static(b"held,"));
        file.write_all(b"copied").unwrap();
        feed.range(10, 6);
        drop(feed);
        let (sha256, bytes) = digest.finish().await.unwrap();
        assert_eq!(bytes, 16);
        assert_eq!(sha256, hex(&Sha256::digest(b"kept,held,copied")));
        std::fs::remove_file(&path).unwrap();
    }

    #[tokio::test]
    async fn a_range_out_of_order_is_an_error() {
        let path = scratch("order");
        std::fs::write(&path, b"abcdef").unwrap();
        let digest = RunningDigest::start(&path, 0).unwrap();
        digest.feed().range(3, 3);
        let error = digest.finish().await.unwrap_err();
        assert!(error.is_integrity(), "{error}");
        std::fs::remove_file(&path).unwrap();
    }

    #[tokio::test]
    async fn a_stopped_thread_never_holds_back_the_writer() {
        let path = scratch("stopped");
        std::fs::write(&path, b"abcdef").unwrap();
        let digest = RunningDigest::start(&path, 0).unwrap();
        let feed = digest.feed();
        feed.range(3, 3);
        // More than the queue holds, sent after the thread stopped on the range above. A plain
        // thread, so that a writer held back forever fails the test instead of hanging it.
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for _ in 0..4 {
                feed.bytes(Bytes::from(vec![0u8; QUEUED]));
            }
            let _ = done.send(());
        });
        finished
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the writer was held back by a stopped digest");
        assert!(digest.finish().await.unwrap_err().is_integrity());
        std::fs::remove_file(&path).unwrap();
    }
}
