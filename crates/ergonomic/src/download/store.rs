//! Object storage destinations (S3 and S3-compatible stores, Google Cloud Storage, Azure Blob
//! Storage), through the `object_store` crate, and the [`Destination`] that names any output.
//!
//! A folder in a store (`s3://bucket/prefix/`) gets one object a partition, uploaded as each
//! partition commits (the engine's ordered commit), with the checkpoint beside them
//! (`<prefix>/_haul_checkpoint.json`) so that a resumed download sends only the partitions that
//! are missing. A single object (`s3://bucket/out.csv`) is one multipart upload fed in order, in
//! chunks of [`CHUNK`] with at most [`UPLOADS_AT_ONCE`] in flight: memory stays bounded whatever
//! the size, and nothing is staged whole on local disk. Such an upload cannot be resumed (the
//! store client cannot reopen a multipart upload that another process started, and an upload is
//! not readable until complete), so a resumable download to a single object is refused; on
//! failure or cancellation the upload is aborted, and the object never appears. On S3 and GCS the
//! abort also drops the uploaded parts; Azure has no such call (object_store's abort does nothing
//! there), and its uncommitted blocks expire on their own after seven days. A process killed
//! outright cannot abort it: the store keeps the parts until a lifecycle rule (S3's
//! `AbortIncompleteMultipartUpload`) or that expiry removes them.
//!
//! Each cloud is configured as its own tools are, from the environment (`AWS_*`, `GOOGLE_*`,
//! `AZURE_*`), plus [`Destination::option`]. For S3, `AWS_ENDPOINT_URL` names an S3-compatible
//! store, and an `http://` endpoint is allowed plain HTTP. Likewise for Azure,
//! `AZURE_STORAGE_ENDPOINT` (`azure_endpoint`) names another Blob endpoint, such as Azurite's
//! `http://127.0.0.1:10000/devstoreaccount1` (with `AZURE_STORAGE_ACCOUNT_NAME` and
//! `AZURE_STORAGE_ACCOUNT_KEY`), and an `http://` one is allowed plain HTTP; object_store's own
//! switch for Azurite, `AZURE_STORAGE_USE_EMULATOR=true`, takes the emulator's address from
//! `AZURITE_BLOB_STORAGE_URL` (default `http://127.0.0.1:10000`) and its well-known account.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use url::Url;

use super::Format;
use super::checkpoint::{Checkpoint, CommittedPage};
use super::manifest::{
    FILE_MANIFEST_SUFFIX, FOLDER_MANIFEST, Manifest, ManifestFile, ManifestSource, hex,
};
use super::multipart::Multipart;
use super::part::{PartData, Reservation};
use super::sink::part_name;
use crate::csv_scan::HeaderSplitter;
use crate::error::{Error, Result, StoreFailure};

/// The size of each part of a single object's multipart upload. S3 allows 10,000 parts, so an
/// object can reach about 97 GiB.
const CHUNK: usize = 10 << 20;
/// Parts of one multipart upload in flight at once: with [`CHUNK`], about 40 MiB held at most.
const UPLOADS_AT_ONCE: usize = 3;
/// Bytes read at a time from a partition that spilled to its local part file.
const READ_BLOCK: usize = 1 << 20;
/// The checkpoint's name in a folder of a store.
const STORE_CHECKPOINT: &str = "_haul_checkpoint.json";
/// Committed partitions checked at once when a download to a store resumes.
const CHECKS_AT_ONCE: usize = 8;

/// Where a download goes: a local file or folder, or an object store's object or prefix.
///
/// Parse one from what a user typed ([`parse`](Self::parse), or `str::parse`):
/// - `s3://bucket/prefix/`, `gs://bucket/prefix/`, `az://container/prefix/` (also `azure://`,
///   `abfs://container@account.dfs.core.windows.net/prefix/`, `abfss://`): a folder in a store,
///   one object a partition (`part-00000.csv`, ...);
/// - the same without the trailing slash (`s3://bucket/out.csv`): one object;
/// - `file:///path/` or a path: a local folder when it ends with `/` or is an existing folder,
///   else a local file.
///
/// Stores take their configuration from the environment as their own tools do
/// (`AmazonS3Builder::from_env` and its peers: `AWS_ACCESS_KEY_ID`, `AWS_REGION`,
/// `AWS_ENDPOINT_URL`, `GOOGLE_SERVICE_ACCOUNT`, `AZURE_STORAGE_ACCOUNT_NAME`, ...), then from
/// [`option`](Self::option).
#[derive(Clone)]
pub struct Destination {
    place: Place,
    /// Store options, by the store client's key names. Values are never shown (they may be keys).
    options: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
enum Place {
    File(PathBuf),
    Dir(PathBuf),
    Store(StoreUrl),
}

/// A parsed store URL.
#[derive(Debug, Clone)]
struct StoreUrl {
    cloud: Cloud,
    /// The URL as given, for the store client's builder (bucket, account).
    url: Url,
    /// `scheme://authority`, for messages.
    root: String,
    /// The object's key, or the folder's prefix (`None` for the bucket's root).
    key: Option<ObjectPath>,
    folder: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cloud {
    S3,
    Gcs,
    Azure,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&str> = self.options.iter().map(|(key, _)| key.as_str()).collect();
        f.debug_struct("Destination")
            .field("place", &self.to_string())
            .field("options", &keys)
            .finish()
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.place {
            Place::File(path) => write!(f, "{}", path.display()),
            Place::Dir(path) => {
                let shown = path.display().to_string();
                let slash = if shown.ends_with('/') { "" } else { "/" };
                write!(f, "{shown}{slash}")
            }
            Place::Store(url) => {
                let key = url.key.as_ref().map_or("", ObjectPath::as_ref);
                let slash = if url.folder && !key.is_empty() {
                    "/"
                } else {
                    ""
                };
                write!(f, "{}/{key}{slash}", url.root)
            }
        }
    }
}

impl std::str::FromStr for Destination {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        Self::parse(text)
    }
}

impl Destination {
    /// A local file: one CSV file with a single header row, or JSON lines.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self::at(Place::File(path.into()))
    }

    /// A local folder, one file a partition.
    pub fn dir(path: impl Into<PathBuf>) -> Self {
        Self::at(Place::Dir(path.into()))
    }

    fn at(place: Place) -> Self {
        Self {
            place,
            options: Vec::new(),
        }
    }

    /// Parses a URL or a local path (see [`Destination`]); a URL that cannot be a destination
    /// (an unknown scheme, no bucket, a query string, credentials in it) is refused with
    /// [`Error::InvalidInput`].
    pub fn parse(text: &str) -> Result<Self> {
        let Some((scheme, _)) = text.split_once("://") else {
            let path = PathBuf::from(text);
            let folder = text.ends_with('/') || path.is_dir();
            return Ok(Self::at(if folder {
                Place::Dir(path)
            } else {
                Place::File(path)
            }));
        };
        let shown = redacted(text);
        let refuse = |why: &str| Error::invalid_input(format!("destination {shown:?}: {why}"));
        let url = Url::parse(text).map_err(|e| refuse(&format!("not a URL ({e})")))?;
        let cloud = match scheme.to_ascii_lowercase().as_str() {
            "file" => {
                let path = url
                    .to_file_path()
                    .map_err(|()| refuse("not a local path"))?;
                let folder = text.ends_with('/') || path.is_dir();
                return Ok(Self::at(if folder {
                    Place::Dir(path)
                } else {
                    Place::File(path)
                }));
            }
            "s3" | "s3a" => Cloud::S3,
            "gs" => Cloud::Gcs,
            "az" | "azure" | "abfs" | "abfss" => Cloud::Azure,
            _ => {
                return Err(refuse(
                    "unknown scheme; use s3://, gs://, az://, abfs://, file:// or a path",
                ));
            }
        };
        if url.query().is_some() || url.fragment().is_some() {
            return Err(refuse("a destination takes no query string or fragment"));
        }
        if url.password().is_some() || (cloud != Cloud::Azure && !url.username().is_empty()) {
            return Err(refuse(
                "credentials do not belong in the URL; give them in the environment",
            ));
        }
        let authority = match url.host_str() {
            Some(host) if !host.is_empty() => match url.username() {
                "" => host.to_owned(),
                container => format!("{container}@{host}"),
            },
            _ => return Err(refuse("it names no bucket or container")),
        };
        let folder = url.path().is_empty() || url.path().ends_with('/');
        let key = url.path().trim_matches('/');
        let key = match key {
            "" => None,
            key => Some(
                ObjectPath::from_url_path(key)
                    .map_err(|e| refuse(&format!("not a valid object key ({e})")))?,
            ),
        };
        Ok(Self::at(Place::Store(StoreUrl {
            cloud,
            root: format!("{}://{authority}", url.scheme()),
            url,
            key,
            folder,
        })))
    }

    /// Sets a store option by the store client's key (such as `aws_endpoint`,
    /// `aws_access_key_id`, `aws_allow_http`, `google_service_account`, `azure_storage_account_key`);
    /// it overrides the environment. Values are never printed. A local destination refuses
    /// options when the download starts.
    pub fn option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.push((key.into(), value.into()));
        self
    }

    /// Whether the destination is a folder (or a prefix in a store), one file a partition.
    pub fn is_folder(&self) -> bool {
        match &self.place {
            Place::File(_) => false,
            Place::Dir(_) => true,
            Place::Store(url) => url.folder,
        }
    }

    /// Whether the destination is in an object store.
    pub fn is_store(&self) -> bool {
        matches!(self.place, Place::Store(_))
    }

    /// The manifest of a complete output at this destination, if there is one (see
    /// [`Manifest`]).
    pub async fn manifest(&self) -> Result<Option<Manifest>> {
        self.target()?.complete_manifest().await
    }

    /// The checkpoint of an interrupted, resumable download to this destination, if there is one.
    pub async fn checkpoint(&self) -> Result<Option<Checkpoint>> {
        self.target()?.load_checkpoint().await
    }

    /// The folder `name` inside this folder destination (`lake/` gives `lake/Account/`,
    /// `s3://bucket/lake/` gives `s3://bucket/lake/Account/`), with the same store options. `name`
    /// is one path segment: not empty, no `/` or `\\`, not `.` or `..`. A file destination has no
    /// folders and is refused with [`Error::InvalidInput`].
    pub fn folder(&self, name: &str) -> Result<Self> {
        Ok(Self {
            place: self.child(name, true)?,
            options: self.options.clone(),
        })
    }

    /// The bytes of the small file `name` in this folder destination, `None` when there is none:
    /// for what a caller keeps beside its downloads (a state, a summary), read whole.
    pub async fn read_file(&self, name: &str) -> Result<Option<Vec<u8>>> {
        match self.child(name, false)? {
            Place::File(path) | Place::Dir(path) => match tokio::fs::read(&path).await {
                Ok(bytes) => Ok(Some(bytes)),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(error) => Err(Error::io(path, error)),
            },
            Place::Store(url) => {
                let store = StoreTarget::new(&url, &self.options)?;
                let read = store.read(&store.object(), "read").await?;
                Ok(read.map(|bytes| bytes.to_vec()))
            }
        }
    }

    /// Writes the small file `name` in this folder destination whole, replacing it atomically: a
    /// reader sees the old bytes or the new, never a mix (locally a temporary file renamed into
    /// place; in a store one `put`, which stores make visible whole). Creates the folder if needed.
    pub async fn write_file(&self, name: &str, bytes: Vec<u8>) -> Result<()> {
        match self.child(name, false)? {
            Place::File(path) | Place::Dir(path) => {
                if let Some(parent) = path.parent() {
                    tokio::fs::create_dir_all(parent)
                        .await
                        .map_err(|e| Error::io(parent, e))?;
                }
                let temporary = path.with_file_name(format!(".{name}.tmp"));
                tokio::fs::write(&temporary, bytes)
                    .await
                    .map_err(|e| Error::io(&temporary, e))?;
                tokio::fs::rename(&temporary, &path)
                    .await
                    .map_err(|e| Error::io(path, e))
            }
            Place::Store(url) => {
                let store = StoreTarget::new(&url, &self.options)?;
                store.write(&store.object(), bytes, "write").await
            }
        }
    }

    /// Where `name`, one path segment, is inside this folder destination, as a folder or a file.
    fn child(&self, name: &str, folder: bool) -> Result<Place> {
        let segment = !name.is_empty()
            && name != "."
            && name != ".."
            && !name.contains(['/', '\\'])
            && !name.chars().any(char::is_control);
        if !segment {
            return Err(Error::invalid_input(format!(
                "{name:?} is not a name in a folder (one path segment)"
            )));
        }
        match &self.place {
            Place::Dir(path) if folder => Ok(Place::Dir(path.join(name))),
            Place::Dir(path) => Ok(Place::File(path.join(name))),
            Place::Store(url) if url.folder => {
                let key = match &url.key {
                    Some(prefix) => prefix.child(name),
                    None => ObjectPath::from(name),
                };
                Ok(Place::Store(StoreUrl {
                    key: Some(key),
                    folder,
                    ..url.clone()
                }))
            }
            Place::File(_) | Place::Store(_) => Err(Error::invalid_input(format!(
                "{self} is a file, not a folder: it holds no {name:?}"
            ))),
        }
    }

    /// The engine's view of the destination; builds the store's client.
    pub(crate) fn target(&self) -> Result<super::sink::Target> {
        use super::sink::Target;
        let local = |target: Target| {
            if self.options.is_empty() {
                Ok(target)
            } else {
                Err(Error::invalid_input(format!(
                    "{self}: store options apply to object store destinations only"
                )))
            }
        };
        match &self.place {
            Place::File(path) => local(Target::File(path.clone())),
            Place::Dir(path) => local(Target::Dir(path.clone())),
            Place::Store(url) => Ok(Target::Store(Arc::new(StoreTarget::new(
                url,
                &self.options,
            )?))),
        }
    }
}

/// `text` with whatever precedes an `@` in its authority replaced, so that a URL that carries
/// credentials never prints them.
fn redacted(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => text.to_owned(),
    }
}

/// Builds the store client of `url`: the environment first, then `options`.
fn build_store(url: &StoreUrl, options: &[(String, String)]) -> Result<Arc<dyn ObjectStore>> {
    let bad = |e: object_store::Error| {
        Error::invalid_input(format!("configuring the store {}: {e}", url.root))
    };
    let store: Arc<dyn ObjectStore> = match url.cloud {
        Cloud::S3 => {
            use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
            let mut builder = AmazonS3Builder::from_env().with_url(url.url.as_str());
            for (key, value) in options {
                builder = builder.with_config(key.parse().map_err(bad)?, value);
            }
            let endpoint = builder.get_config_value(&AmazonS3ConfigKey::Endpoint);
            if endpoint.is_some_and(|endpoint| endpoint.starts_with("http://")) {
                builder = builder.with_allow_http(true);
            }
            Arc::new(builder.build().map_err(bad)?)
        }
        Cloud::Gcs => {
            use object_store::gcp::GoogleCloudStorageBuilder;
            let mut builder = GoogleCloudStorageBuilder::from_env().with_url(url.url.as_str());
            for (key, value) in options {
                builder = builder.with_config(key.parse().map_err(bad)?, value);
            }
            Arc::new(builder.build().map_err(bad)?)
        }
        Cloud::Azure => {
            use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
            let mut builder = MicrosoftAzureBuilder::from_env().with_url(url.url.as_str());
            for (key, value) in options {
                builder = builder.with_config(key.parse().map_err(bad)?, value);
            }
            let endpoint = builder.get_config_value(&AzureConfigKey::Endpoint);
            if endpoint.is_some_and(|endpoint| endpoint.starts_with("http://")) {
                builder = builder.with_allow_http(true);
            }
            Arc::new(builder.build().map_err(bad)?)
        }
    };
    Ok(store)
}

/// Maps a store client's error onto [`Error::Store`].
fn store_error(operation: &'static str, location: String, error: object_store::Error) -> Error {
    use object_store::Error as E;
    let kind = match &error {
        E::NotFound { .. } => StoreFailure::NotFound,
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => StoreFailure::Denied,
        E::AlreadyExists { .. } | E::Precondition { .. } | E::NotModified { .. } => {
            StoreFailure::Conflict
        }
        E::NotSupported { .. } | E::NotImplemented => StoreFailure::Unsupported,
        _ => StoreFailure::Unavailable,
    };
    Error::Store {
        operation,
        location,
        kind,
        source: Box::new(error),
    }
}

/// A store destination, opened: its client, and the upload of a single object while it runs.
pub(crate) struct StoreTarget {
    store: Arc<dyn ObjectStore>,
    root: String,
    key: Option<ObjectPath>,
    folder: bool,
    /// Where partitions beyond the memory budget wait, on local disk, until they are uploaded.
    parts_dir: PathBuf,
    /// A single object's multipart upload, kept here so that a failed or cancelled download
    /// can abort it after the work that fed it is gone.
    upload: tokio::sync::Mutex<Option<Multipart>>,
}

impl std::fmt::Debug for StoreTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreTarget")
            .field("root", &self.root)
            .field("key", &self.key)
            .field("folder", &self.folder)
            .finish_non_exhaustive()
    }
}

impl StoreTarget {
    fn new(url: &StoreUrl, options: &[(String, String)]) -> Result<Self> {
        let store = build_store(url, options)?;
        let parts_dir = std::env::temp_dir().join(format!(
            "haul-parts-{}-{:016x}",
            std::process::id(),
            fastrand::u64(..)
        ));
        Ok(Self {
            store,
            root: url.root.clone(),
            key: url.key.clone(),
            folder: url.folder,
            parts_dir,
            upload: tokio::sync::Mutex::new(None),
        })
    }

    pub(crate) fn is_folder(&self) -> bool {
        self.folder
    }

    pub(crate) fn parts_dir(&self) -> &Path {
        &self.parts_dir
    }

    /// The object `name` in the folder.
    fn child(&self, name: &str) -> ObjectPath {
        match &self.key {
            Some(prefix) => prefix.child(name),
            None => ObjectPath::from(name),
        }
    }

    /// The single object's key.
    fn object(&self) -> ObjectPath {
        self.key.clone().unwrap_or_default()
    }

    fn manifest_path(&self) -> ObjectPath {
        if self.folder {
            return self.child(FOLDER_MANIFEST);
        }
        let name = format!("{}{FILE_MANIFEST_SUFFIX}", self.object().as_ref());
        ObjectPath::parse(name).expect("a valid key with a plain suffix is valid")
    }

    fn checkpoint_path(&self) -> ObjectPath {
        self.child(STORE_CHECKPOINT)
    }

    /// An object's URL, for messages.
    pub(crate) fn shown(&self, path: &ObjectPath) -> String {
        format!("{}/{}", self.root, path.as_ref())
    }

    /// The destination's URL.
    pub(crate) fn url(&self) -> String {
        let key = self.key.as_ref().map_or("", ObjectPath::as_ref);
        let slash = if self.folder && !key.is_empty() {
            "/"
        } else {
            ""
        };
        format!("{}/{key}{slash}", self.root)
    }

    /// Where the checkpoint is, for messages.
    pub(crate) fn checkpoint_shown(&self) -> String {
        self.shown(&self.checkpoint_path())
    }

    /// An object's bytes, `None` when it does not exist.
    async fn read(&self, path: &ObjectPath, operation: &'static str) -> Result<Option<Bytes>> {
        let fail = |e| store_error(operation, self.shown(path), e);
        match self.store.get(path).await {
            Ok(found) => Ok(Some(found.bytes().await.map_err(fail)?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(fail(error)),
        }
    }

    async fn write(
        &self,
        path: &ObjectPath,
        bytes: Vec<u8>,
        operation: &'static str,
    ) -> Result<()> {
        self.store
            .put(path, PutPayload::from(bytes))
            .await
            .map(drop)
            .map_err(|e| store_error(operation, self.shown(path), e))
    }

    async fn delete(&self, path: &ObjectPath, operation: &'static str) -> Result<()> {
        match self.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(store_error(operation, self.shown(path), error)),
        }
    }

    /// An object's length, `None` when it does not exist.
    async fn length(&self, path: &ObjectPath) -> Result<Option<u64>> {
        match self.store.head(path).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(store_error("check", self.shown(path), error)),
        }
    }

    /// The manifest of a complete output here: the manifest exists, and for a single object so
    /// does the object.
    pub(crate) async fn complete_manifest(&self) -> Result<Option<Manifest>> {
        let path = self.manifest_path();
        let Some(text) = self.read(&path, "read manifest").await? else {
            return Ok(None);
        };
        let manifest = Manifest::parse(&text, &self.shown(&path))?;
        if !self.folder && self.length(&self.object()).await?.is_none() {
            return Ok(None);
        }
        Ok(Some(manifest))
    }

    /// Makes a complete output incomplete, then removes what it listed: the manifest goes first,
    /// so that a crash midway never leaves a manifest that vouches for missing files.
    pub(crate) async fn remove_complete(&self, manifest: &Manifest) -> Result<()> {
        self.delete(&self.manifest_path(), "remove manifest")
            .await?;
        if self.folder {
            for file in &manifest.files {
                let path = ObjectPath::parse(&file.path)
                    .map(|name| self.child(name.as_ref()))
                    .map_err(|e| {
                        Error::invalid_input(format!(
                            "the manifest lists {:?}, not an object name: {e}",
                            file.path
                        ))
                    })?;
                self.delete(&path, "remove old output").await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn load_checkpoint(&self) -> Result<Option<Checkpoint>> {
        if !self.folder {
            return Ok(None);
        }
        let path = self.checkpoint_path();
        match self.read(&path, "read checkpoint").await? {
            Some(text) => Checkpoint::parse(&text, &self.shown(&path)).map(Some),
            None => Ok(None),
        }
    }

    pub(crate) async fn save_checkpoint(&self, checkpoint: &Checkpoint) -> Result<()> {
        self.write(
            &self.checkpoint_path(),
            checkpoint.to_json(),
            "save checkpoint",
        )
        .await
    }

    pub(crate) async fn remove_checkpoint(&self) -> Result<()> {
        if self.folder {
            self.delete(&self.checkpoint_path(), "remove checkpoint")
                .await?;
        }
        Ok(())
    }

    /// A partition that a resumed download skips must be in the store as it was written.
    async fn check_part(&self, page: &CommittedPage, format: Format) -> Result<()> {
        let path = self.child(&part_name(page.index, format));
        match self.length(&path).await? {
            Some(length) if length == page.bytes => Ok(()),
            found => Err(Error::integrity(format!(
                "{} holds {} but the checkpoint vouches for {} bytes; remove {} to start over",
                self.shown(&path),
                found.map_or_else(|| "nothing".to_owned(), |n| format!("{n} bytes")),
                page.bytes,
                self.checkpoint_shown()
            ))),
        }
    }

    /// Cleans up after a failed download: aborts a single object's upload (the object never
    /// appears; see the module docs for what each store keeps of its parts) and removes the
    /// local spill folder.
    pub(crate) async fn discard(&self) {
        if let Some(upload) = self.upload.lock().await.take()
            && let Err(error) = upload.abort().await
        {
            tracing::warn!(%error, object = %self.url(), "aborting the multipart upload failed");
        }
        let _ = tokio::fs::remove_dir_all(&self.parts_dir).await;
    }
}

/// The sink of a store destination.
pub(crate) struct StoreSink {
    target: Arc<StoreTarget>,
    format: Format,
    /// A single object's digest, and its length so far.
    digest: Sha256,
    length: u64,
}

impl StoreSink {
    /// Prepares the destination, checking that every partition `checkpoint` vouches for is in
    /// the store as it was written.
    pub(crate) async fn open(
        target: Arc<StoreTarget>,
        format: Format,
        checkpoint: &Checkpoint,
    ) -> Result<Self> {
        tokio::fs::create_dir_all(&target.parts_dir)
            .await
            .map_err(|e| Error::io(&target.parts_dir, e))?;
        if target.folder {
            let pages = checkpoint.pages.clone();
            futures::stream::iter(pages)
                .map(|page| {
                    let target = target.clone();
                    async move { target.check_part(&page, format).await }
                })
                .buffer_unordered(CHECKS_AT_ONCE)
                .try_collect::<()>()
                .await?;
        } else {
            let object = target.object();
            let upload = Multipart::start(&*target.store, &object, CHUNK)
                .await
                .map_err(|e| store_error("start upload", target.shown(&object), e))?;
            *target.upload.lock().await = Some(upload);
        }
        Ok(Self {
            target,
            format,
            digest: Sha256::new(),
            length: 0,
        })
    }

    /// Commits the next partition: its own object in a folder, or the next bytes of the single
    /// object's upload. Returns the bytes added, and the partition object's SHA-256.
    pub(crate) async fn commit(
        &mut self,
        index: usize,
        data: PartData,
        header: &mut Option<String>,
    ) -> Result<(u64, Option<String>)> {
        let mut reader = PartReader::open(data).await?;
        if self.target.folder {
            return self.put_part(index, reader).await;
        }
        let first = header.clone();
        let mut splitter = self.format.repeats_header().then(HeaderSplitter::default);
        let target = self.target.clone();
        let mut upload = target.upload.lock().await;
        let upload = upload.as_mut().ok_or_else(|| {
            Error::invalid_response("upload", "the multipart upload is gone".to_owned())
        })?;
        let mut appended = 0u64;
        while let Some(mut chunk) = reader.next().await? {
            if let Some(split) = &mut splitter {
                let rest = split
                    .feed(&chunk)
                    .map_err(|detail| Error::integrity(format!("page {index}: {detail}")))?;
                let rest_len = rest.len();
                if !split.is_done() {
                    continue;
                }
                let found = String::from_utf8_lossy(split.header()).into_owned();
                let keep_header = match &first {
                    None => true,
                    Some(first) if *first == found => false,
                    Some(first) => {
                        return Err(Error::integrity(format!(
                            "page {index}: header row {found:?} differs from the first page's \
                             {first:?}"
                        )));
                    }
                };
                if keep_header {
                    *header = Some(found);
                    let head = Bytes::copy_from_slice(split.header());
                    self.send(upload, head).await?;
                    appended += split.header().len() as u64;
                }
                chunk = chunk.split_off(chunk.len() - rest_len);
                splitter = None;
            }
            appended += chunk.len() as u64;
            self.send(upload, chunk).await?;
        }
        if let Some(split) = splitter {
            // A partition that is all header row (no terminator): the first keeps it.
            if first.is_none() && !split.header().is_empty() {
                *header = Some(String::from_utf8_lossy(split.header()).into_owned());
                let head = Bytes::copy_from_slice(split.header());
                appended += head.len() as u64;
                self.send(upload, head).await?;
            }
        }
        Ok((appended, None))
    }

    /// Feeds the single object's upload, waiting while [`UPLOADS_AT_ONCE`] parts are in flight.
    async fn send(&mut self, upload: &mut Multipart, chunk: Bytes) -> Result<()> {
        let object = self.target.object();
        upload
            .wait_for_capacity(UPLOADS_AT_ONCE)
            .await
            .map_err(|e| store_error("upload", self.target.shown(&object), e))?;
        self.digest.update(&chunk);
        self.length += chunk.len() as u64;
        upload.put(chunk);
        Ok(())
    }

    /// Uploads one partition as its own object: in one request from memory, or as a multipart
    /// upload from its part file.
    async fn put_part(
        &self,
        index: usize,
        mut reader: PartReader,
    ) -> Result<(u64, Option<String>)> {
        let path = self.target.child(&part_name(index, self.format));
        let fail = |e| store_error("upload", self.target.shown(&path), e);
        let mut digest = Sha256::new();
        let mut length = 0u64;
        if let PartReader::Held { chunks, .. } = &reader {
            for chunk in chunks.as_slice() {
                digest.update(chunk);
                length += chunk.len() as u64;
            }
            let payload: PutPayload = chunks.as_slice().iter().cloned().collect();
            self.target.store.put(&path, payload).await.map_err(fail)?;
            return Ok((length, Some(hex(&digest.finalize()))));
        }
        let mut upload = Multipart::start(&*self.target.store, &path, CHUNK)
            .await
            .map_err(fail)?;
        let sent: Result<()> = async {
            while let Some(chunk) = reader.next().await? {
                upload
                    .wait_for_capacity(UPLOADS_AT_ONCE)
                    .await
                    .map_err(fail)?;
                digest.update(&chunk);
                length += chunk.len() as u64;
                upload.put(chunk);
            }
            Ok(())
        }
        .await;
        match sent {
            Ok(()) => {
                upload.finish().await.map_err(fail)?;
                Ok((length, Some(hex(&digest.finalize()))))
            }
            Err(error) => {
                if let Err(abort) = upload.abort().await {
                    tracing::warn!(error = %abort, object = %self.target.shown(&path), "aborting a part's upload failed");
                }
                Err(error)
            }
        }
    }

    /// Completes the output: the single object's upload, then the manifest, written last; the
    /// checkpoint is removed before the manifest, so that no state has both.
    pub(crate) async fn finish(
        self,
        checkpoint: &Checkpoint,
        source: ManifestSource,
    ) -> Result<()> {
        let files = if self.target.folder {
            checkpoint
                .pages
                .iter()
                .map(|page| ManifestFile {
                    path: part_name(page.index, self.format),
                    rows: page.records,
                    bytes: page.bytes,
                    sha256: page.sha256.clone().unwrap_or_default(),
                })
                .collect()
        } else {
            let object = self.target.object();
            let upload = self.target.upload.lock().await.take().ok_or_else(|| {
                Error::invalid_response("upload", "the multipart upload is gone".to_owned())
            })?;
            if checkpoint.pages.is_empty() {
                let _ = upload.abort().await;
                return Err(Error::invalid_response(
                    "download",
                    "the results have no partitions",
                ));
            }
            upload
                .finish()
                .await
                .map_err(|e| store_error("complete upload", self.target.shown(&object), e))?;
            let name = object.filename().unwrap_or_default().to_owned();
            vec![ManifestFile {
                path: name,
                rows: checkpoint.records(),
                bytes: self.length,
                sha256: hex(&self.digest.finalize()),
            }]
        };
        self.target.remove_checkpoint().await?;
        let columns = checkpoint.columns.as_deref().unwrap_or_default();
        let schema = checkpoint.schema.as_ref();
        let manifest = Manifest::new(source, self.format, columns, schema, files);
        self.target
            .write(
                &self.target.manifest_path(),
                manifest.to_json(),
                "write manifest",
            )
            .await?;
        let _ = tokio::fs::remove_dir_all(&self.target.parts_dir).await;
        Ok(())
    }
}

/// A committed partition's bytes, read in order.
enum PartReader {
    /// In memory. The reservation is kept until the partition is sent, so that the memory it
    /// holds still counts against the download's budget.
    Held {
        chunks: std::vec::IntoIter<Bytes>,
        _reservation: Option<Reservation>,
    },
    File(tokio::fs::File, PathBuf),
}

impl PartReader {
    async fn open(data: PartData) -> Result<Self> {
        match data {
            PartData::Held {
                chunks,
                _reservation: reservation,
            } => Ok(Self::Held {
                chunks: chunks.into_iter(),
                _reservation: reservation,
            }),
            PartData::Spilled(path) => {
                let file = tokio::fs::File::open(&path)
                    .await
                    .map_err(|e| Error::io(&path, e))?;
                Ok(Self::File(file, path))
            }
        }
    }

    async fn next(&mut self) -> Result<Option<Bytes>> {
        match self {
            Self::Held { chunks, .. } => Ok(chunks.next()),
            Self::File(file, path) => {
                let mut block = vec![0u8; READ_BLOCK];
                let read = file
                    .read(&mut block)
                    .await
                    .map_err(|e| Error::io(&*path, e))?;
                if read == 0 {
                    let _ = tokio::fs::remove_file(&*path).await;
                    return Ok(None);
                }
                block.truncate(read);
                Ok(Some(block.into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str) -> String {
        Destination::parse(text).unwrap().to_string()
    }

    #[test]
    fn store_urls_name_a_folder_or_an_object() {
        let folder = Destination::parse("s3://bucket/some/prefix/").unwrap();
        assert!(folder.is_store() && folder.is_folder());
        assert_eq!(folder.to_string(), "s3://bucket/some/prefix/");
        let object = Destination::parse("s3://bucket/out.csv").unwrap();
        assert!(object.is_store() && !object.is_folder());
        assert_eq!(shown("s3://bucket"), "s3://bucket/");
        assert!(Destination::parse("s3://bucket").unwrap().is_folder());
        assert_eq!(shown("gs://b/x/"), "gs://b/x/");
        assert_eq!(shown("az://container/x.csv"), "az://container/x.csv");
        assert_eq!(
            shown("abfss://c@acct.dfs.core.windows.net/p/"),
            "abfss://c@acct.dfs.core.windows.net/p/"
        );
    }

    #[test]
    fn local_paths_and_file_urls_are_local() {
        let file = Destination::parse("out/accounts.csv").unwrap();
        assert!(!file.is_store() && !file.is_folder());
        assert!(Destination::parse("out/").unwrap().is_folder());
        let url = Destination::parse("file:///tmp/haul-x/").unwrap();
        assert!(!url.is_store() && url.is_folder());
        assert_eq!(url.to_string(), "/tmp/haul-x/");
        assert!(
            !Destination::parse("file:///tmp/haul-x.csv")
                .unwrap()
                .is_folder()
        );
    }

    #[test]
    fn folders_nest_in_folders_only_and_take_one_segment() {
        let lake = Destination::parse("s3://bucket/lake/").unwrap();
        let account = lake.folder("Account").unwrap();
        assert_eq!(account.to_string(), "s3://bucket/lake/Account/");
        assert!(account.is_folder() && account.is_store());
        let root = Destination::parse("s3://bucket/").unwrap();
        assert_eq!(root.folder("x").unwrap().to_string(), "s3://bucket/x/");
        let local = Destination::dir("/tmp/lake");
        assert_eq!(
            local.folder("run=1").unwrap().to_string(),
            "/tmp/lake/run=1/"
        );
        for bad in ["", ".", "..", "a/b", "a\\b", "a\nb"] {
            assert!(lake.folder(bad).unwrap_err().is_invalid_input(), "{bad:?}");
        }
        let file = Destination::parse("s3://bucket/out.csv").unwrap();
        assert!(file.folder("x").is_err());
        assert!(Destination::file("/tmp/out.csv").folder("x").is_err());
    }

    #[tokio::test]
    async fn side_files_are_written_whole_and_read_back_locally() {
        let dir = std::env::temp_dir().join(format!("haul-side-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let folder = Destination::dir(&dir).folder("Account").unwrap();
        assert_eq!(folder.read_file("_state.json").await.unwrap(), None);
        folder
            .write_file("_state.json", b"one".to_vec())
            .await
            .unwrap();
        folder
            .write_file("_state.json", b"two".to_vec())
            .await
            .unwrap();
        let read = folder.read_file("_state.json").await.unwrap();
        assert_eq!(read.as_deref(), Some(&b"two"[..]));
        let names: Vec<_> = std::fs::read_dir(dir.join("Account")).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_urls_are_refused_with_the_reason() {
        for (text, why) in [
            ("ftp://host/x", "unknown scheme"),
            ("s3:///x.csv", "names no bucket"),
            ("s3://b/x.csv?versionId=1", "no query string"),
            ("s3://key:secret@b/x.csv", "credentials do not belong"),
            ("s3://[bad/x", "not a URL"),
            ("s3://key:secret@[bad/x", "not a URL"),
        ] {
            let error = Destination::parse(text).unwrap_err();
            assert!(error.is_invalid_input(), "{text}: {error}");
            assert!(error.to_string().contains(why), "{text}: {error}");
            assert!(!error.to_string().contains("secret"), "{text}: {error}");
        }
    }

    #[test]
    fn option_values_never_print() {
        let destination = Destination::parse("s3://b/p/")
            .unwrap()
            .option("aws_secret_access_key", "hunter2");
        let debug = format!("{destination:?}");
        assert!(debug.contains("aws_secret_access_key"), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn unknown_option_keys_are_invalid_input() {
        let error = Destination::parse("s3://b/p/")
            .unwrap()
            .option("aws_no_such_key", "x")
            .target()
            .unwrap_err();
        assert!(error.is_invalid_input(), "{error}");
    }
}
