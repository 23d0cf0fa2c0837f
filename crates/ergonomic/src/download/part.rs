//! A fetched partition on its way to the sink: held in memory while a budget shared by every worker
//! allows, spilled to its part file beyond it.
//!
//! Holding a partition saves three passes over its bytes: writing the part file, copying it into
//! the output and freeing its blocks. The budget bounds memory whatever the partitions' sizes; a
//! partition that does not fit goes to disk whole (what it held so far first), so that a committed
//! partition is either all in memory or all in its file.

use std::fs::File;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{Bytes, BytesMut};

use super::fetch::PartWriter;
use crate::error::{Error, Result};

/// Bytes of a spilled partition gathered before they go to its file in one blocking hop.
const SPILL_BATCH: usize = 1 << 20;
/// Chunks smaller than this are gathered into blocks of this size before they are kept: a gzip
/// decoder yields a few KiB at a time, and writing those one by one costs a system call each.
const BLOCK: usize = 64 * 1024;

/// Memory the workers of one download may hold partitions in, together.
#[derive(Debug)]
pub(crate) struct Budget {
    free: AtomicUsize,
}

impl Budget {
    pub(crate) fn new(bytes: usize) -> Arc<Self> {
        Arc::new(Self {
            free: AtomicUsize::new(bytes),
        })
    }

    /// Takes `bytes` from the budget, when that many are free.
    fn take(self: &Arc<Self>, bytes: usize) -> Option<Reservation> {
        self.free
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |free| {
                free.checked_sub(bytes)
            })
            .ok()?;
        Some(Reservation {
            budget: self.clone(),
            bytes,
        })
    }
}

/// Bytes taken from a [`Budget`], given back when dropped.
#[derive(Debug)]
pub(crate) struct Reservation {
    budget: Arc<Budget>,
    bytes: usize,
}

impl Reservation {
    fn absorb(&mut self, other: Reservation) {
        self.bytes += other.bytes;
        // `other` gives nothing back: its bytes are now this reservation's.
        std::mem::forget(other);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.free.fetch_add(self.bytes, Ordering::AcqRel);
    }
}

/// A finished partition's bytes.
#[derive(Debug)]
pub(crate) enum PartData {
    /// In memory, in the order received; the memory returns to the budget when this is dropped.
    Held {
        chunks: Vec<Bytes>,
        /// Never read: dropping it gives the memory back to the budget.
        _reservation: Option<Reservation>,
    },
    /// In the part file at this path.
    Spilled(PathBuf),
}

/// Where a worker writes one partition.
#[derive(Debug)]
pub(crate) struct PartBuffer {
    path: PathBuf,
    budget: Arc<Budget>,
    held: Vec<Bytes>,
    reservation: Option<Reservation>,
    spill: Option<Spill>,
    /// Small chunks being gathered into a block.
    gathering: BytesMut,
}

/// The part file of a partition that outgrew the budget, and the bytes not yet written to it.
#[derive(Debug)]
struct Spill {
    file: Arc<File>,
    pending: Vec<Bytes>,
    pending_bytes: usize,
}

impl PartBuffer {
    /// A partition whose file, if it spills, is `path`.
    pub(crate) fn new(path: PathBuf, budget: Arc<Budget>) -> Self {
        Self {
            path,
            budget,
            held: Vec::new(),
            reservation: None,
            spill: None,
            gathering: BytesMut::new(),
        }
    }

    /// The partition's bytes, all written to its file when it spilled.
    pub(crate) async fn finish(mut self) -> Result<PartData> {
        let gathered = self.gathering.split().freeze();
        self.keep(gathered).await?;
        match self.spill.take() {
            None => Ok(PartData::Held {
                chunks: self.held,
                _reservation: self.reservation,
            }),
            Some(mut spill) => {
                spill.flush(&self.path).await?;
                Ok(PartData::Spilled(self.path))
            }
        }
    }

    /// Moves what is held to a new part file, and gives its memory back.
    async fn start_spilling(&mut self) -> Result<()> {
        if self.spill.is_none() {
            let path = self.path.clone();
            let file =
                blocking(move || File::create(&path).map_err(|e| Error::io(&path, e))).await?;
            let pending = std::mem::take(&mut self.held);
            self.reservation = None;
            self.spill = Some(Spill {
                file: Arc::new(file),
                pending_bytes: pending.iter().map(Bytes::len).sum(),
                pending,
            });
        }
        Ok(())
    }
}

impl Spill {
    /// Writes the pending bytes to the file, on a blocking thread.
    async fn flush(&mut self, path: &Path) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let (file, chunks, path) = (
            self.file.clone(),
            std::mem::take(&mut self.pending),
            path.to_path_buf(),
        );
        self.pending_bytes = 0;
        blocking(move || {
            let mut file = &*file;
            chunks
                .iter()
                .try_for_each(|chunk| file.write_all(chunk))
                .map_err(|e| Error::io(&path, e))
        })
        .await
    }
}

impl PartWriter for PartBuffer {
    async fn restart(&mut self) -> Result<()> {
        self.gathering.clear();
        self.held.clear();
        self.reservation = None;
        let Some(spill) = &mut self.spill else {
            return Ok(());
        };
        spill.pending.clear();
        spill.pending_bytes = 0;
        let (file, path) = (spill.file.clone(), self.path.clone());
        blocking(move || {
            let io = |e| Error::io(&path, e);
            file.set_len(0).map_err(io)?;
            (&*file).rewind().map_err(io)
        })
        .await
    }

    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        if chunk.len() < BLOCK {
            self.gathering.extend_from_slice(&chunk);
            if self.gathering.len() < BLOCK {
                return Ok(());
            }
            let block = self.gathering.split().freeze();
            self.gathering.reserve(BLOCK);
            return self.keep(block).await;
        }
        let gathered = self.gathering.split().freeze();
        self.keep(gathered).await?;
        self.keep(chunk).await
    }
}

impl PartBuffer {
    /// Keeps a block: in memory while the budget allows, else in the part file.
    async fn keep(&mut self, block: Bytes) -> Result<()> {
        if block.is_empty() {
            return Ok(());
        }
        if self.spill.is_none()
            && let Some(taken) = self.budget.take(block.len())
        {
            match &mut self.reservation {
                Some(reservation) => reservation.absorb(taken),
                None => self.reservation = Some(taken),
            }
            self.held.push(block);
            return Ok(());
        }
        self.start_spilling().await?;
        let spill = self.spill.as_mut().expect("start_spilling made it");
        spill.pending_bytes += block.len();
        spill.pending.push(block);
        if spill.pending_bytes >= SPILL_BATCH {
            spill.flush(&self.path).await?;
        }
        Ok(())
    }
}

pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::invalid_response("download", format!("a file task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(text: &str) -> Bytes {
        Bytes::copy_from_slice(text.as_bytes())
    }

    #[tokio::test]
    async fn a_partition_within_the_budget_stays_in_memory_and_gives_it_back() {
        let dir = std::env::temp_dir().join(format!("haul-part-held-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let budget = Budget::new(10);
        let mut part = PartBuffer::new(dir.join("p"), budget.clone());
        part.write(chunk("abcd")).await.unwrap();
        part.write(chunk("efgh")).await.unwrap();
        let PartData::Held {
            chunks,
            _reservation: reservation,
        } = part.finish().await.unwrap()
        else {
            panic!("a partition within the budget spilled");
        };
        assert_eq!(chunks.concat(), b"abcdefgh");
        assert_eq!(chunks.len(), 1, "small chunks are gathered into one block");
        assert_eq!(budget.free.load(Ordering::Acquire), 2);
        drop(reservation);
        assert_eq!(budget.free.load(Ordering::Acquire), 10);
        assert!(!dir.join("p").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_partition_beyond_the_budget_goes_to_its_file_whole() {
        let dir = std::env::temp_dir().join(format!("haul-part-spill-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let budget = Budget::new(BLOCK + 10);
        let mut part = PartBuffer::new(dir.join("p"), budget.clone());
        part.write(Bytes::from(vec![b'a'; BLOCK])).await.unwrap();
        assert_eq!(budget.free.load(Ordering::Acquire), 10);
        part.write(Bytes::from(vec![b'b'; BLOCK])).await.unwrap();
        assert_eq!(
            budget.free.load(Ordering::Acquire),
            BLOCK + 10,
            "spilling gives the memory back"
        );
        part.restart().await.unwrap();
        part.write(chunk("ijkl")).await.unwrap();
        part.write(chunk("mn")).await.unwrap();
        let PartData::Spilled(path) = part.finish().await.unwrap() else {
            panic!("a partition beyond the budget stayed in memory");
        };
        assert_eq!(std::fs::read(&path).unwrap(), b"ijklmn");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
