//! The sink part of the engine: where fetched partitions land, committed in order.
//!
//! Partitions are fetched into memory or, beyond the memory budget, into part files in a side folder
//! (see [`super::part`]); committing one appends it to the temporary output (one file), puts its
//! part file into place (a folder), or uploads it (an object store, see [`super::store`]). Only
//! when every partition is in does the output take its final name, and the manifest (see
//! [`super::manifest`]) is written last: an output without one is incomplete.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::task::JoinSet;

use super::Format;
use super::checkpoint::Checkpoint;
use super::manifest::{
    FILE_MANIFEST_SUFFIX, FOLDER_MANIFEST, Manifest, ManifestFile, ManifestSource, digest_file,
};
use super::output::OrderedOutput;
use super::parquet_file::ParquetFile;
use super::part::{PartData, blocking};
use super::store::{StoreSink, StoreTarget};
use crate::error::{Error, Result};

/// Where the download goes.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// One file.
    File(PathBuf),
    /// A folder of part files.
    Dir(PathBuf),
    /// An object or a prefix in an object store.
    Store(Arc<StoreTarget>),
}

impl Target {
    /// The output, as the report names it: a path, or a store's URL.
    pub(crate) fn shown(&self) -> PathBuf {
        match self {
            Self::File(path) | Self::Dir(path) => path.clone(),
            Self::Store(store) => PathBuf::from(store.url()),
        }
    }

    /// Where partitions are written while in flight.
    pub(crate) fn parts_dir(&self) -> PathBuf {
        match self {
            Self::File(path) => sibling(path, ".haul-parts"),
            Self::Dir(path) => path.join(".haul-parts"),
            Self::Store(store) => store.parts_dir().to_path_buf(),
        }
    }

    /// Whether a resumable download may go here.
    pub(crate) fn check_resumable(&self) -> Result<()> {
        match self {
            Self::Store(store) if !store.is_folder() => Err(Error::invalid_input(format!(
                "{}: a download to a single object cannot be resumed (its multipart upload \
                 cannot be reopened by another run, nor read before it completes); download to \
                 a folder (a URL ending in /) to resume",
                store.url()
            ))),
            _ => Ok(()),
        }
    }

    /// The single-file download's temporary output.
    fn temporary_file(&self) -> Option<PathBuf> {
        match self {
            Self::File(path) => Some(sibling(path, ".part")),
            Self::Dir(_) | Self::Store(_) => None,
        }
    }

    /// Cleans up after a failed download: a resumable one keeps what its checkpoint vouches for.
    pub(crate) async fn discard(&self, resumable: bool) {
        if let Self::Store(store) = self {
            return store.discard().await;
        }
        if resumable {
            return;
        }
        let _ = tokio::fs::remove_dir_all(self.parts_dir()).await;
        if let Some(temporary) = self.temporary_file() {
            let _ = tokio::fs::remove_file(temporary).await;
        }
    }

    /// The checkpoint of an interrupted download here, if there is one.
    pub(crate) async fn load_checkpoint(&self) -> Result<Option<Checkpoint>> {
        match self {
            Self::File(path) | Self::Dir(path) => Checkpoint::load(path),
            Self::Store(store) => store.load_checkpoint().await,
        }
    }

    pub(crate) async fn save_checkpoint(&self, checkpoint: &Checkpoint) -> Result<()> {
        match self {
            Self::File(path) | Self::Dir(path) => checkpoint.save(path).await,
            Self::Store(store) => store.save_checkpoint(checkpoint).await,
        }
    }

    /// Where the checkpoint is kept, for messages.
    pub(crate) fn checkpoint_shown(&self) -> String {
        match self {
            Self::File(path) | Self::Dir(path) => Checkpoint::path_for(path).display().to_string(),
            Self::Store(store) => store.checkpoint_shown(),
        }
    }

    /// A local output's manifest.
    fn manifest_path(&self) -> Option<PathBuf> {
        match self {
            Self::File(path) => Some(sibling(path, FILE_MANIFEST_SUFFIX)),
            Self::Dir(path) => Some(path.join(FOLDER_MANIFEST)),
            Self::Store(_) => None,
        }
    }

    /// The manifest of a complete output here: the manifest exists, and for a single file so does
    /// the file.
    pub(crate) async fn complete_manifest(&self) -> Result<Option<Manifest>> {
        let (path, manifest_path) = match (self, self.manifest_path()) {
            (Self::Store(store), _) => return store.complete_manifest().await,
            (Self::File(path) | Self::Dir(path), Some(manifest)) => (path, manifest),
            _ => return Ok(None),
        };
        let Some(manifest) = Manifest::load_local(&manifest_path).await? else {
            return Ok(None);
        };
        if matches!(self, Self::File(_)) && !tokio::fs::try_exists(path).await.unwrap_or(false) {
            return Ok(None);
        }
        Ok(Some(manifest))
    }

    /// Makes a complete output incomplete, then removes the part files it listed (a single file is
    /// replaced when the new one takes its name). The manifest goes first, so that a crash midway
    /// never leaves a manifest vouching for missing files.
    pub(crate) async fn remove_complete(&self, manifest: &Manifest) -> Result<()> {
        let dir = match self {
            Self::Store(store) => return store.remove_complete(manifest).await,
            Self::File(_) => None,
            Self::Dir(dir) => Some(dir),
        };
        if let Some(path) = self.manifest_path() {
            remove_file(&path).await?;
        }
        for file in manifest.files.iter().filter(|_| dir.is_some()) {
            let plain = Path::new(&file.path)
                .file_name()
                .is_some_and(|name| name == file.path.as_str());
            if !plain {
                return Err(Error::invalid_input(format!(
                    "the manifest lists {:?}, not a file name in its folder",
                    file.path
                )));
            }
            if let Some(dir) = dir {
                remove_file(&dir.join(&file.path)).await?;
            }
        }
        Ok(())
    }
}

async fn remove_file(path: &Path) -> Result<()> {
    match tokio::fs::remove_file(path).await {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, error)),
        _ => Ok(()),
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
pub(crate) enum Sink {
    /// A local file or folder.
    Local(LocalSink),
    /// An object store.
    Store(StoreSink),
}

/// What committing a partition added.
#[derive(Debug)]
pub(crate) struct Committed {
    /// Bytes added to the output.
    pub(crate) bytes: u64,
    /// The SHA-256 of the partition's own file, when taken as it was written.
    pub(crate) sha256: Option<String>,
}

impl Sink {
    /// Prepares the target, keeping what `checkpoint` vouches for.
    pub(crate) async fn open(
        target: Target,
        format: Format,
        checkpoint: &Checkpoint,
    ) -> Result<Self> {
        match target {
            Target::Store(store) => Ok(Self::Store(
                StoreSink::open(store, format, checkpoint).await?,
            )),
            local => Ok(Self::Local(
                LocalSink::open(local, format, checkpoint).await?,
            )),
        }
    }

    /// Commits the next partition. A CSV header row is kept once in a single file (`header`
    /// holds the first partition's).
    pub(crate) async fn commit(
        &mut self,
        index: usize,
        data: PartData,
        fetched_bytes: u64,
        header: &mut Option<String>,
    ) -> Result<Committed> {
        match self {
            Self::Local(sink) => Ok(Committed {
                bytes: sink.commit(index, data, fetched_bytes, header).await?,
                sha256: None,
            }),
            Self::Store(sink) => {
                let (bytes, sha256) = sink.commit(index, data, header).await?;
                Ok(Committed { bytes, sha256 })
            }
        }
    }

    /// Completes the output, then writes its manifest, last. Returns a local single file's size
    /// (a Parquet file's footer is written only when it is finished).
    pub(crate) async fn finish(
        self,
        checkpoint: &Checkpoint,
        source: ManifestSource,
    ) -> Result<Option<u64>> {
        match self {
            Self::Local(sink) => sink.finish(checkpoint, source).await,
            Self::Store(sink) => {
                sink.finish(checkpoint, source).await?;
                Ok(None)
            }
        }
    }
}

/// A local file or folder, taking committed partitions in order.
pub(crate) struct LocalSink {
    target: Target,
    format: Format,
    /// The single-file download's temporary output.
    output: Option<FileOutput>,
    /// Removals of appended part files. They run beside the next commits: freeing a partition's
    /// blocks can wait on the file system's journal (for tens of milliseconds while a sync runs), and
    /// the commit is the one thing every partition waits for.
    removals: JoinSet<()>,
}

impl LocalSink {
    /// Prepares the target, keeping what `checkpoint` vouches for.
    async fn open(target: Target, format: Format, checkpoint: &Checkpoint) -> Result<Self> {
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
                create_dir(&target.shown()).await?;
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
    async fn commit(
        &mut self,
        index: usize,
        data: PartData,
        fetched_bytes: u64,
        header: &mut Option<String>,
    ) -> Result<u64> {
        let Some(output) = &mut self.output else {
            let final_path = self.target.shown().join(part_name(index, self.format));
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

    /// Moves the output into place, removes what the download kept on the side, and writes the
    /// manifest, last, with each file's digest: a CSV or JSON-lines single file's taken while it was
    /// written (see `digest.rs`), the others read back from the disk.
    ///
    /// The checkpoint goes first: a crash right after leaves a complete temporary file and no
    /// checkpoint, so the next run starts over; the other order could leave a checkpoint vouching
    /// for a temporary file that was already renamed away. Returns the single file's size, for a
    /// single-file download.
    async fn finish(
        mut self,
        checkpoint: &Checkpoint,
        source: ManifestSource,
    ) -> Result<Option<u64>> {
        let final_path = self.target.shown();
        Checkpoint::remove(&final_path).await?;
        let mut size = None;
        let files = if let Some(output) = self.output.take() {
            if checkpoint.pages.is_empty() {
                return Err(Error::invalid_response(
                    "download",
                    "the results have no partitions",
                ));
            }
            let (written, digest) = match output {
                FileOutput::Bytes(output) => {
                    let path = output.path().to_path_buf();
                    (path, Some(output.finish().await?))
                }
                FileOutput::Parquet(output) => {
                    let path = output.path().to_path_buf();
                    output.finish().await?;
                    (path, None)
                }
            };
            tokio::fs::rename(&written, &final_path)
                .await
                .map_err(|e| Error::io(&final_path, e))?;
            let (sha256, bytes) = match digest {
                Some(taken) => taken,
                None => digest_file(&final_path).await?,
            };
            size = Some(bytes);
            let name = final_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            vec![ManifestFile {
                path: name,
                rows: checkpoint.records(),
                bytes,
                sha256,
            }]
        } else {
            let mut files = Vec::with_capacity(checkpoint.pages.len());
            for page in &checkpoint.pages {
                let name = part_name(page.index, self.format);
                let (sha256, bytes) = digest_file(&final_path.join(&name)).await?;
                files.push(ManifestFile {
                    path: name,
                    rows: page.records,
                    bytes,
                    sha256,
                });
            }
            files
        };
        while self.removals.join_next().await.is_some() {}
        let _ = tokio::fs::remove_dir_all(self.target.parts_dir()).await;
        let columns = checkpoint.columns.as_deref().unwrap_or_default();
        let schema = checkpoint.schema.as_ref();
        let manifest = Manifest::new(source, self.format, columns, schema, files);
        let manifest_path = self.target.manifest_path().expect("a local target");
        manifest.save_local(&manifest_path).await?;
        Ok(size)
    }
}

async fn create_dir(path: &Path) -> Result<()> {
    tokio::fs::create_dir_all(path)
        .await
        .map_err(|e| Error::io(path, e))
}
