//! The manifest: what a complete download wrote, written last, beside the data.
//!
//! An output without its manifest is incomplete by definition (a crash may have cut it anywhere);
//! a reader that finds the manifest can trust every file it lists, check each against its SHA-256,
//! and know the source, the query and the columns without opening the data. A folder's manifest is
//! `<folder>/_manifest.json` (the leading underscore keeps Spark, Trino and DuckDB from reading it
//! as data); a single file's is `<file>.manifest.json` next to it.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Format;
use super::checkpoint::SourceKey;
use super::part::blocking;
use super::schema::{ColumnType, Schema};
use crate::error::{Error, Result};

/// The manifest's name inside a folder output.
pub(crate) const FOLDER_MANIFEST: &str = "_manifest.json";
/// What follows a single file's name to make its manifest's.
pub(crate) const FILE_MANIFEST_SUFFIX: &str = ".manifest.json";

/// The version of the manifest's layout written by this haul.
const MANIFEST_VERSION: u32 = 1;

/// What a complete download wrote, as recorded in its `_manifest.json` (see the module docs of
/// [`download`](crate::download)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Manifest {
    /// The version of this layout (1).
    pub manifest_version: u32,
    /// The results downloaded.
    pub source: ManifestSource,
    /// What the files hold.
    pub format: Format,
    /// The columns, in order.
    pub columns: Vec<ManifestColumn>,
    /// Every file of the output, in order, named relative to the manifest's folder.
    pub files: Vec<ManifestFile>,
    /// Rows in all files.
    pub rows: u64,
    /// Bytes in all files.
    pub bytes: u64,
    /// When the manifest was written (RFC 3339, UTC).
    pub written_at: String,
}

/// The results a manifest describes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ManifestSource {
    /// The kind of results, such as `salesforce-bulk-query`.
    pub kind: String,
    /// The job, such as a query job's id.
    pub job: String,
    /// The API version the results were read with, when the kind has versions.
    pub api_version: Option<String>,
    /// The query that produced them, when known.
    pub query: Option<String>,
}

impl ManifestSource {
    pub(crate) fn new(key: SourceKey, query: Option<String>) -> Self {
        Self {
            kind: key.kind,
            job: key.job,
            api_version: key.version,
            query,
        }
    }
}

/// One column of the output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ManifestColumn {
    /// Its name, as the results' CSV header row (or Arrow stream's schema) gives it.
    pub name: String,
    /// Its type, when the download was typed by a [`Schema`] (Parquet, or JSON lines given one);
    /// `None` when the values are the service's text (CSV, untyped JSON lines).
    #[serde(rename = "type")]
    pub ty: Option<ColumnType>,
    /// Whether it may hold nulls, when the download was typed by a [`Schema`].
    pub nullable: Option<bool>,
}

/// One file of the output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ManifestFile {
    /// Its name, relative to the manifest's folder (or prefix).
    pub path: String,
    /// Its rows (a CSV header row not counted).
    pub rows: u64,
    /// Its length.
    pub bytes: u64,
    /// The SHA-256 of its bytes, in lowercase hex.
    pub sha256: String,
}

impl Manifest {
    /// `columns` as the header row names them, typed by `schema` when the download had one (its
    /// columns are matched by name, without regard to case, as the formats match them).
    pub(crate) fn new(
        source: ManifestSource,
        format: Format,
        columns: &[String],
        schema: Option<&Schema>,
        files: Vec<ManifestFile>,
    ) -> Self {
        let typed = |name: &str| {
            schema.and_then(|s| s.columns.iter().find(|c| c.name.eq_ignore_ascii_case(name)))
        };
        Self {
            manifest_version: MANIFEST_VERSION,
            source,
            format,
            columns: columns
                .iter()
                .map(|name| ManifestColumn {
                    name: name.clone(),
                    ty: typed(name).map(|c| c.ty),
                    nullable: typed(name).map(|c| c.nullable),
                })
                .collect(),
            rows: files.iter().map(|f| f.rows).sum(),
            bytes: files.iter().map(|f| f.bytes).sum(),
            files,
            written_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }
    }

    /// Reads a manifest; `shown` names where it was found, for errors.
    pub(crate) fn parse(text: &[u8], shown: &str) -> Result<Self> {
        serde_json::from_slice(text)
            .map_err(|e| Error::invalid_input(format!("{shown} is not a haul manifest: {e}")))
    }

    /// The manifest as written: pretty JSON, one line a field, ending in a newline.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        let mut text = serde_json::to_vec_pretty(self).expect("a manifest serialises");
        text.push(b'\n');
        text
    }

    /// The manifest of a local output at `path` (a file or a folder), if it has one.
    pub(crate) async fn load_local(path: &Path) -> Result<Option<Self>> {
        match tokio::fs::read(path).await {
            Ok(text) => Self::parse(&text, &path.display().to_string()).map(Some),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(Error::io(path, error)),
        }
    }

    /// Writes the manifest to `path` atomically, synced before it takes its name.
    pub(crate) async fn save_local(&self, path: &Path) -> Result<()> {
        let text = self.to_json();
        let path = path.to_path_buf();
        blocking(move || {
            use std::io::Write;
            let temporary = path.with_extension("json.tmp");
            let io = |e| Error::io(&temporary, e);
            let mut file = std::fs::File::create(&temporary).map_err(io)?;
            file.write_all(&text).map_err(io)?;
            file.sync_all().map_err(io)?;
            std::fs::rename(&temporary, &path).map_err(|e| Error::io(&path, e))
        })
        .await
    }
}

/// The names of a CSV header row's columns.
pub(crate) fn columns_of(header: &[u8], delimiter: u8) -> Result<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .from_reader(header);
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(true) => Ok(record.iter().map(str::to_owned).collect()),
        Ok(false) => Ok(Vec::new()),
        Err(error) => Err(Error::integrity(format!(
            "the header row is not CSV: {error}"
        ))),
    }
}

/// A SHA-256 in lowercase hex.
pub(crate) fn hex(digest: &[u8]) -> String {
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The SHA-256 and length of a local file, read on a blocking thread.
pub(crate) async fn digest_file(path: &Path) -> Result<(String, u64)> {
    let path = path.to_path_buf();
    blocking(move || {
        use std::io::Read;
        let io = |e| Error::io(&path, e);
        let mut file = std::fs::File::open(&path).map_err(io)?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 20];
        let mut length = 0u64;
        loop {
            let read = file.read(&mut buffer).map_err(io)?;
            if read == 0 {
                return Ok((hex(&hasher.finalize()), length));
            }
            hasher.update(&buffer[..read]);
            length += read as u64;
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_come_from_the_header_row_with_its_delimiter() {
        assert_eq!(
            columns_of(b"\"Id\";\"Owner.Name\";\"a;b\"\r\n", b';').unwrap(),
            ["Id", "Owner.Name", "a;b"]
        );
    }

    #[test]
    fn a_manifest_reads_back_what_it_wrote() {
        let manifest = Manifest::new(
            ManifestSource::new(
                SourceKey::new("kind", "job", Some("62.0".into())),
                Some("SELECT Id FROM Account".into()),
            ),
            Format::Csv,
            &["Id".to_owned()],
            None,
            vec![ManifestFile {
                path: "part-00000.csv".into(),
                rows: 2,
                bytes: 10,
                sha256: hex(&Sha256::digest(b"abc")),
            }],
        );
        assert_eq!(
            manifest.files[0].sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!((manifest.rows, manifest.bytes), (2, 10));
        let read = Manifest::parse(&manifest.to_json(), "test").unwrap();
        assert_eq!(read, manifest);
    }
}
