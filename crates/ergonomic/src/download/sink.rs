//! The sink part of the engine: where fetched partitions land, committed in order.
//!
//! Partitions are fetched into memory or, beyond the memory budget, into part files in a side folder
//! (see [`super::part`]); committing one appends it to the temporary output (one file) or puts its
//! part file into place (a folder). Only when every partition is in
//! does the temporary output take its final name, so an unfinished download never appears there.

use std::io::Write;
use std::path::{Path, PathBuf};

use tokio::task::JoinSet;

use super::Format;
use super::checkpoint::Checkpoint;
use super::output::OrderedOutput;
use super::parquet_file::ParquetFile;
use super::part::{PartData, blocking};
use crate::error::{Error, Result};

/// Where the download goes.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// One file.
    File(PathBuf),
    /// A folder of part files.
    Dir(PathBuf),
}

impl Target {
    pub(crate) fn output(&self) -> &Path {
        match self {
            Self::File(path) | Self::Dir(path) => path,
        }
    }

    /// Where partitions are written while in flight.
    pub(crate) fn parts_dir(&self) -> PathBuf {
        match self {
            Self::File(path) => sibling(path, ".haul-parts"),
            Self::Dir(path) => path.join(".haul-parts"),
        }
    }

    /// The single-file download's temporary output.
    fn temporary_file(&self) -> Option<PathBuf> {
        match self {
            Self::File(path) => Some(sibling(path, ".part")),
            Self::Dir(_) => None,
        }
    }

    /// Removes what a failed, non-resumable download left.
    pub(crate) async fn discard(&self) {
        let _ = tokio::fs::remove_dir_all(self.parts_dir()).await;
        if let Some(temporary) = self.temporary_file() {
            let _ = tokio::fs::remove_file(temporary).await;
        }
    }
}

/// The name of partition `index`'s file, in the parts folder and in a folder target alike.
pub(crate) fn part_name(index: usize, format: Format) -> String {
    format!("part-{index:05}.{}", format.extension())
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

/// A single-file download's temporary output.
#[derive(Debug)]
enum FileOutput {
    /// Partitions' bytes appended (CSV with one header row, JSON lines).
    Bytes(OrderedOutput),
    /// Partitions' Parquet row groups appended, the footer written at the end.
    Parquet(ParquetFile),
}

/// An open target, taking committed partitions in order.
pub(crate) struct Sink {
    target: Target,
    format: Format,
    /// The single-file download's temporary output.
    output: Option<FileOutput>,
    /// Removals of appended part files. They run beside the next commits: freeing a partition's
    /// blocks can wait on the file system's journal (for tens of milliseconds while a sync runs), and
    /// the commit is the one thing every partition waits for.
    removals: JoinSet<()>,
}

impl Sink {
    /// Prepares the target, keeping what `checkpoint` vouches for.
    pub(crate) async fn open(
        target: Target,
        format: Format,
        checkpoint: &Checkpoint,
    ) -> Result<Self> {
        let parts_dir = target.parts_dir();
        create_dir(&parts_dir).await?;
        let output = match target.temporary_file() {
            Some(temporary) if matches!(format, Format::Parquet(_)) => {
                Some(FileOutput::Parquet(ParquetFile::new(temporary)))
            }
            Some(temporary) => Some(FileOutput::Bytes(
                OrderedOutput::open(temporary, checkpoint.file_bytes).await?,
            )),
            None => {
                create_dir(target.output()).await?;
                None
            }
        };
        Ok(Self {
            target,
            format,
            output,
            removals: JoinSet::new(),
        })
    }

    /// Commits the next partition; returns the bytes added to the output. A CSV header row is kept
    /// once in a single file (`header` holds the first partition's).
    pub(crate) async fn commit(
        &mut self,
        index: usize,
        data: PartData,
        fetched_bytes: u64,
        header: &mut Option<String>,
    ) -> Result<u64> {
        let Some(output) = &mut self.output else {
            let final_path = self.target.output().join(part_name(index, self.format));
            let part = match data {
                PartData::Spilled(part) => part,
                held => self.write_part_file(index, held).await?,
            };
            tokio::fs::rename(&part, &final_path)
                .await
                .map_err(|e| Error::io(&final_path, e))?;
            return Ok(fetched_bytes);
        };
        let spilled = match &data {
            PartData::Spilled(part) => Some(part.clone()),
            PartData::Held { .. } => None,
        };
        let header = self.format.repeats_header().then_some(header);
        let appended = match output {
            FileOutput::Bytes(output) => output.append(data, index, header).await?,
            FileOutput::Parquet(output) => output.append(data, index).await?,
        };
        if let Some(part) = spilled {
            // A part file left by a failed removal goes with the parts folder at the end.
            self.removals.spawn(async move {
                if let Err(error) = tokio::fs::remove_file(&part).await {
                    tracing::debug!(%error, path = %part.display(), "removing a part file");
                }
            });
        }
        Ok(appended)
    }

    /// Writes a held partition to its part file, so that a folder target only ever shows whole
    /// partitions (the file is renamed into place after).
    async fn write_part_file(&self, index: usize, data: PartData) -> Result<PathBuf> {
        let path = self.target.parts_dir().join(part_name(index, self.format));
        let written = path.clone();
        blocking(move || {
            let mut file = std::fs::File::create(&written).map_err(|e| Error::io(&written, e))?;
            if let PartData::Held { chunks, .. } = &data {
                for chunk in chunks {
                    file.write_all(chunk).map_err(|e| Error::io(&written, e))?;
                }
            }
            Ok(())
        })
        .await?;
        Ok(path)
    }

    /// Moves the output into place and removes what the download kept on the side.
    ///
    /// The checkpoint goes first: a crash right after leaves a complete temporary file and no
    /// checkpoint, so the next run starts over; the other order could leave a checkpoint vouching
    /// for a temporary file that was already renamed away. Returns the single file's size, for a
    /// single-file download.
    pub(crate) async fn finish(mut self, partitions: usize) -> Result<Option<u64>> {
        let final_path = self.target.output().to_path_buf();
        Checkpoint::remove(&final_path).await?;
        let mut size = None;
        if let Some(output) = self.output.take() {
            if partitions == 0 {
                return Err(Error::invalid_response(
                    "download",
                    "the results have no partitions",
                ));
            }
            let written = match output {
                FileOutput::Bytes(output) => {
                    output.sync().await?;
                    output.path().to_path_buf()
                }
                FileOutput::Parquet(output) => {
                    let path = output.path().to_path_buf();
                    output.finish().await?;
                    path
                }
            };
            tokio::fs::rename(&written, &final_path)
                .await
                .map_err(|e| Error::io(&final_path, e))?;
            let metadata = tokio::fs::metadata(&final_path)
                .await
                .map_err(|e| Error::io(&final_path, e))?;
            size = Some(metadata.len());
        }
        while self.removals.join_next().await.is_some() {}
        let _ = tokio::fs::remove_dir_all(self.target.parts_dir()).await;
        Ok(size)
    }
}

async fn create_dir(path: &Path) -> Result<()> {
    tokio::fs::create_dir_all(path)
        .await
        .map_err(|e| Error::io(path, e))
}
