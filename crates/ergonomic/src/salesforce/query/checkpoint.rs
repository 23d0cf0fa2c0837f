//! The record of a download's progress that lets an interrupted download resume.

use std::path::{Path, PathBuf};

use haul_types::ApiVersion;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What a download has safely written so far. Saved beside the output after every page, removed when
/// the download completes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Checkpoint {
    /// Format of this record.
    pub format: u32,
    /// The job whose results are being downloaded.
    pub job_id: String,
    /// The API version the job was created with.
    pub api_version: ApiVersion,
    /// The page size the locators were made for.
    pub max_records: Option<u64>,
    /// Pages written, in the order they were written.
    pub pages: Vec<CommittedPage>,
    /// Single-file downloads: bytes of the temporary output that hold whole pages.
    pub file_bytes: u64,
    /// Single-file downloads: the header row (every page repeats it; it is written once).
    pub header: Option<String>,
    /// Locator of the page after the last one written (`None` once the chain has ended).
    pub next_locator: Option<String>,
}

/// One page that is safely written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CommittedPage {
    /// Position of the page, from 0.
    pub index: usize,
    /// The locator it was requested with.
    pub locator: Option<String>,
    /// Its rows.
    pub records: u64,
}

const FORMAT: u32 = 1;

impl Checkpoint {
    pub(crate) fn new(job_id: String, api_version: ApiVersion, max_records: Option<u64>) -> Self {
        Self {
            format: FORMAT,
            job_id,
            api_version,
            max_records,
            pages: Vec::new(),
            file_bytes: 0,
            header: None,
            next_locator: None,
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
        let checkpoint: Self = serde_json::from_slice(&text).map_err(|e| {
            Error::invalid_input(format!("{} is not a haul checkpoint: {e}", path.display()))
        })?;
        if checkpoint.format != FORMAT {
            return Err(Error::invalid_input(format!(
                "{} has checkpoint format {}; this haul reads format {FORMAT}",
                path.display(),
                checkpoint.format
            )));
        }
        Ok(Some(checkpoint))
    }

    /// Rows in the written pages.
    pub fn records(&self) -> u64 {
        self.pages.iter().map(|p| p.records).sum()
    }

    /// Saves atomically: a crash leaves either the previous checkpoint or this one.
    pub(crate) async fn save(&self, output: &Path) -> Result<()> {
        let path = Self::path_for(output);
        let temporary = path.with_extension("json.tmp");
        let text = serde_json::to_vec(self).expect("a checkpoint serialises");
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
