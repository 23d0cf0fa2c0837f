//! The record of a download's progress that lets an interrupted download resume.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Format;
use super::schema::Schema;
use crate::error::{Error, Result};

/// What a download has safely written so far. Saved beside the output after every partition, removed
/// when the download completes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Checkpoint {
    /// Format of this record.
    pub format: u32,
    /// The results being downloaded.
    pub source: SourceKey,
    /// What is written.
    pub output: Format,
    /// The columns' types the output is written with (Parquet); a resumed download must use the
    /// same.
    #[serde(default)]
    pub schema: Option<Schema>,
    /// The partition size the partitions' keys were made for.
    pub max_records: Option<u64>,
    /// Partitions written, in the order they were written.
    pub pages: Vec<CommittedPage>,
    /// Single-file downloads: bytes of the temporary output that hold whole partitions.
    pub file_bytes: u64,
    /// Single-file CSV downloads: the header row (every partition repeats it; it is written once).
    pub header: Option<String>,
    /// For a chain of partitions: the key of the one after the last written (`None` once the chain
    /// has ended).
    pub next_key: Option<String>,
    /// The columns, as the first partition's CSV header row (or Arrow stream's schema) names
    /// them (for the manifest).
    #[serde(default)]
    pub columns: Option<Vec<String>>,
}

/// Which results a download is of: a checkpoint resumes only the download it was written for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SourceKey {
    /// The kind of results, such as `salesforce-bulk-query`.
    pub kind: String,
    /// The job, such as a query job's id.
    pub job: String,
    /// The API version the job's results are read with, when the kind has versions.
    pub version: Option<String>,
}

impl SourceKey {
    pub(crate) fn new(kind: &str, job: impl Into<String>, version: Option<String>) -> Self {
        Self {
            kind: kind.to_owned(),
            job: job.into(),
            version,
        }
    }
}

impl std::fmt::Display for SourceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.job)?;
        match &self.version {
            Some(version) => write!(f, " (API {version})"),
            None => Ok(()),
        }
    }
}

/// One partition that is safely written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CommittedPage {
    /// Position of the partition, from 0.
    pub index: usize,
    /// The key the source fetched it by (Salesforce's locator).
    pub key: Option<String>,
    /// Its rows.
    pub records: u64,
    /// Bytes it added to the output.
    #[serde(default)]
    pub bytes: u64,
    /// The SHA-256 of its file, in lowercase hex, when it has a file of its own whose digest was
    /// taken as it was written (a folder in an object store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// Format 2 keys the checkpoint by its source; format 1 (a Salesforce job id) is not read.
const FORMAT: u32 = 2;

impl Checkpoint {
    pub(crate) fn new(
        source: SourceKey,
        output: Format,
        schema: Option<Schema>,
        max_records: Option<u64>,
    ) -> Self {
        Self {
            format: FORMAT,
            source,
            output,
            schema,
            max_records,
            pages: Vec::new(),
            file_bytes: 0,
            header: None,
            next_key: None,
            columns: None,
        }
    }

    /// Where the checkpoint of a download to `output` (a file or a folder) is kept.
    pub fn path_for(output: &Path) -> PathBuf {
        let mut name = output
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(".haul-checkpoint.json");
        output.with_file_name(name)
    }

    /// The checkpoint of an interrupted download to `output`, if there is one.
    pub fn load(output: &Path) -> Result<Option<Self>> {
        let path = Self::path_for(output);
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(Error::io(path, error)),
        };
        Self::parse(&text, &path.display().to_string()).map(Some)
    }

    /// Reads a saved checkpoint; `shown` names where it was found, for errors.
    pub(crate) fn parse(text: &[u8], shown: &str) -> Result<Self> {
        let not_ours = |e| Error::invalid_input(format!("{shown} is not a haul checkpoint: {e}"));
        // The format number first: an older record would not parse as this one.
        #[derive(Deserialize)]
        struct Versioned {
            format: u32,
        }
        let versioned: Versioned = serde_json::from_slice(text).map_err(not_ours)?;
        if versioned.format != FORMAT {
            return Err(Error::invalid_input(format!(
                "{shown} has checkpoint format {}; this haul reads format {FORMAT}: remove it (and \
                 the partial output beside it) to start over",
                versioned.format
            )));
        }
        serde_json::from_slice(text).map_err(not_ours)
    }

    /// The checkpoint as saved.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a checkpoint serialises")
    }

    /// Rows in the written pages.
    pub fn records(&self) -> u64 {
        self.pages.iter().map(|p| p.records).sum()
    }

    /// Saves atomically: a crash leaves either the previous checkpoint or this one.
    pub(crate) async fn save(&self, output: &Path) -> Result<()> {
        let path = Self::path_for(output);
        let temporary = path.with_extension("json.tmp");
        let text = self.to_json();
        tokio::fs::write(&temporary, text)
            .await
            .map_err(|e| Error::io(&temporary, e))?;
        tokio::fs::rename(&temporary, &path)
            .await
            .map_err(|e| Error::io(&path, e))
    }

    pub(crate) async fn remove(output: &Path) -> Result<()> {
        let path = Self::path_for(output);
        match tokio::fs::remove_file(&path).await {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::io(path, error))
            }
            _ => Ok(()),
        }
    }
}
