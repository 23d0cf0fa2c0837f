//! The single-file Parquet download's temporary output: each partition arrives as a standalone
//! Parquet file (see [`super::parquet`]), and its row groups are appended here in order, their
//! column chunks copied as they are (never decoded nor encoded again); the footer naming every row
//! group is written when the last partition is in.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::ChunkReader;
use parquet::file::writer::SerializedFileWriter;

use super::part::{PartData, blocking};
use crate::error::{Error, Result};

/// The temporary output file; its writer starts with the first partition, whose schema and
/// key-value metadata (the Arrow schema, which keeps types such as a timestamp's time zone) every
/// later partition must share.
pub(crate) struct ParquetFile {
    path: PathBuf,
    writer: Option<SerializedFileWriter<File>>,
}

impl std::fmt::Debug for ParquetFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl ParquetFile {
    /// A new temporary output at `path` (written when the first partition comes).
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path, writer: None }
    }

    /// The temporary file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends a partition's row groups; returns the bytes added to the file.
    pub(crate) async fn append(&mut self, data: PartData, page: usize) -> Result<u64> {
        let (path, writer) = (self.path.clone(), self.writer.take());
        let (writer, appended) = blocking(move || append(&path, writer, data, page)).await?;
        self.writer = Some(writer);
        Ok(appended)
    }

    /// Writes the footer and flushes the file to disk, so that the rename that follows never
    /// publishes missing data.
    pub(crate) async fn finish(mut self) -> Result<()> {
        let Some(mut writer) = self.writer.take() else {
            return Err(Error::invalid_response(
                "download",
                "the results have no partitions",
            ));
        };
        let path = self.path.clone();
        blocking(move || {
            writer.finish().map_err(|e| parquet_error(&path, e))?;
            writer.inner().sync_all().map_err(|e| Error::io(&path, e))
        })
        .await
    }
}

fn append(
    path: &Path,
    writer: Option<SerializedFileWriter<File>>,
    data: PartData,
    page: usize,
) -> Result<(SerializedFileWriter<File>, u64)> {
    match data {
        PartData::Held { chunks, .. } => {
            let bytes: Bytes = match chunks.as_slice() {
                [one] => one.clone(),
                many => many.concat().into(),
            };
            append_from(path, writer, &bytes, page)
        }
        PartData::Spilled(part) => {
            let file = File::open(&part).map_err(|e| Error::io(&part, e))?;
            append_from(path, writer, &file, page)
        }
    }
}

fn append_from<R: ChunkReader>(
    path: &Path,
    writer: Option<SerializedFileWriter<File>>,
    part: &R,
    page: usize,
) -> Result<(SerializedFileWriter<File>, u64)> {
    // The page indexes (each page's statistics and place) go along, so that readers can still skip
    // pages in the joined file.
    let metadata = ParquetMetaDataReader::new()
        .with_page_index_policy(PageIndexPolicy::Optional)
        .parse_and_finish(part)
        .map_err(|e| Error::integrity(format!("page {page}: its Parquet is unreadable: {e}")))?;
    let mut writer = match writer {
        Some(writer) => {
            check_same_schema(&writer, &metadata, page)?;
            writer
        }
        None => create(path, &metadata)?,
    };
    let before = writer.bytes_written();
    let error = |e| parquet_error(path, e);
    let page_index = metadata.page_index();
    for (g, group) in metadata.row_groups().iter().enumerate() {
        let mut out = writer.next_row_group().map_err(error)?;
        for (c, column) in group.columns().iter().enumerate() {
            let chunk = ColumnCloseResult {
                bytes_written: column.compressed_size() as u64,
                rows_written: group.num_rows() as u64,
                metadata: column.clone(),
                bloom_filter: None,
                column_index: page_index.and_then(|p| p.column_index(g, c)).cloned(),
                offset_index: page_index.and_then(|p| p.offset_index(g, c)).cloned(),
            };
            out.append_column(part, chunk).map_err(error)?;
        }
        out.close().map_err(error)?;
    }
    let appended = (writer.bytes_written() - before) as u64;
    Ok((writer, appended))
}

/// The output's writer, with the first partition's schema and key-value metadata.
fn create(path: &Path, first: &ParquetMetaData) -> Result<SerializedFileWriter<File>> {
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let file_metadata = first.file_metadata();
    let properties = WriterProperties::builder()
        .set_key_value_metadata(file_metadata.key_value_metadata().cloned())
        .build();
    SerializedFileWriter::new(
        file,
        file_metadata.schema_descr().root_schema_ptr(),
        Arc::new(properties),
    )
    .map_err(|e| parquet_error(path, e))
}

fn check_same_schema(
    writer: &SerializedFileWriter<File>,
    part: &ParquetMetaData,
    page: usize,
) -> Result<()> {
    if writer.schema_descr().root_schema() == part.file_metadata().schema_descr().root_schema() {
        return Ok(());
    }
    Err(Error::integrity(format!(
        "page {page}: its Parquet schema differs from the first page's"
    )))
}

fn parquet_error(path: &Path, error: parquet::errors::ParquetError) -> Error {
    match error {
        parquet::errors::ParquetError::External(source) => {
            match source.downcast::<std::io::Error>() {
                Ok(io) => Error::io(path, *io),
                Err(other) => Error::io(path, std::io::Error::other(other)),
            }
        }
        other => Error::io(path, std::io::Error::other(other)),
    }
}
