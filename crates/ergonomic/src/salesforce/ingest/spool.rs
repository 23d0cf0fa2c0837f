//! Temporary files holding one job's CSV between splitting and uploading, so that memory stays small
//! whatever the size of a job.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncWriteExt, BufWriter};

use crate::error::{Error, Result};

const WRITE_BUFFER: usize = 256 * 1024;

/// A temporary file, removed when dropped.
#[derive(Debug)]
pub(crate) struct Spool {
    path: PathBuf,
}

impl Spool {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_file(&self.path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), %error, "could not remove a spool file");
        }
    }
}

/// Writes a spool file; [`finish`](SpoolWriter::finish) flushes it and hands over the [`Spool`].
#[derive(Debug)]
pub(crate) struct SpoolWriter {
    spool: Spool,
    file: BufWriter<tokio::fs::File>,
}

impl SpoolWriter {
    /// Creates a new file in `dir` under a name no other writer uses.
    pub(crate) async fn create(dir: &Path) -> Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = dir.join(format!(
            "haul-ingest-{}-{}-{}.csv",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            fastrand::u32(..)
        ));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(|e| Error::io(&path, e))?;
        Ok(Self {
            spool: Spool { path },
            file: BufWriter::with_capacity(WRITE_BUFFER, file),
        })
    }

    pub(crate) async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.file
            .write_all(bytes)
            .await
            .map_err(|e| Error::io(&self.spool.path, e))
    }

    pub(crate) async fn finish(mut self) -> Result<Spool> {
        self.file
            .shutdown()
            .await
            .map_err(|e| Error::io(&self.spool.path, e))?;
        Ok(self.spool)
    }
}
