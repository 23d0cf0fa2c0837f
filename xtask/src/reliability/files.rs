//! Facts about output files: size, SHA-256, rows (CSV by the `csv` crate, quoted newlines respected;
//! Parquet by the `parquet` crate's Arrow reader) and the multiset of their first column (the record
//! Id), to count rows lost and duplicated.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::Path;

use anyhow::{Context as _, Result};
use arrow_array::cast::AsArray as _;
use arrow_array::types::Int64Type;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sha2::{Digest as _, Sha256};

/// What one output file holds (CSV, or Parquet read back).
#[derive(Debug, Default)]
pub(crate) struct CsvFacts {
    pub(crate) bytes: u64,
    pub(crate) sha256: String,
    /// Data rows (the header row not counted).
    pub(crate) rows: u64,
    /// How often each first-column value occurs among the data rows.
    pub(crate) ids: HashMap<Box<[u8]>, u32>,
}

/// The SHA-256 of a file, in hex.
pub(crate) fn sha256(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).with_context(|| path.display().to_string())?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 20];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Reads a CSV file with a header row.
pub(crate) fn examine(path: &Path) -> Result<CsvFacts> {
    let mut facts = CsvFacts {
        bytes: std::fs::metadata(path)?.len(),
        sha256: sha256(path)?,
        ..CsvFacts::default()
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .with_context(|| path.display().to_string())?;
    let mut record = csv::ByteRecord::new();
    while reader.read_byte_record(&mut record)? {
        facts.rows += 1;
        let id: Box<[u8]> = record.get(0).unwrap_or_default().into();
        *facts.ids.entry(id).or_default() += 1;
    }
    Ok(facts)
}

/// Reads a Parquet file whose first column is a 64-bit integer id (its ids kept as decimal text,
/// as a CSV holds them).
pub(crate) fn examine_parquet(path: &Path) -> Result<CsvFacts> {
    let mut facts = CsvFacts {
        bytes: std::fs::metadata(path)?.len(),
        sha256: sha256(path)?,
        ..CsvFacts::default()
    };
    let file = std::fs::File::open(path).with_context(|| path.display().to_string())?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| path.display().to_string())?
        .build()?;
    for batch in reader {
        let batch = batch?;
        let ids = batch
            .column(0)
            .as_primitive_opt::<Int64Type>()
            .context("the first column is not a 64-bit integer")?;
        for id in ids {
            facts.rows += 1;
            let text = id.map(|id| id.to_string()).unwrap_or_default();
            *facts.ids.entry(text.into_bytes().into()).or_default() += 1;
        }
    }
    Ok(facts)
}

/// Rows of `reference` missing from `output`, and rows of `output` beyond the first of each Id
/// (plus rows whose Id the reference does not have).
pub(crate) fn lost_and_duplicated(reference: &CsvFacts, output: &CsvFacts) -> (u64, u64) {
    let lost = reference
        .ids
        .iter()
        .map(|(id, &n)| u64::from(n.saturating_sub(output.ids.get(id).copied().unwrap_or(0))))
        .sum();
    let extra = output
        .ids
        .iter()
        .map(|(id, &n)| u64::from(n.saturating_sub(reference.ids.get(id).copied().unwrap_or(0))))
        .sum();
    (lost, extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_rows_with_quoted_newlines_and_compares_ids() {
        let dir = std::env::temp_dir().join(format!("xtask-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("a.csv");
        let b = dir.join("b.csv");
        std::fs::write(
            &a,
            "\"Id\",\"Note\"\n\"1\",\"x\ny\"\n\"2\",\"z\"\n\"3\",\"\"\n",
        )
        .unwrap();
        std::fs::write(
            &b,
            "\"Id\",\"Note\"\n\"1\",\"x\ny\"\n\"1\",\"x\ny\"\n\"3\",\"\"\n",
        )
        .unwrap();
        let (ra, rb) = (examine(&a).unwrap(), examine(&b).unwrap());
        assert_eq!((ra.rows, rb.rows), (3, 3));
        assert_eq!(lost_and_duplicated(&ra, &rb), (1, 1));
        assert_eq!(lost_and_duplicated(&ra, &ra), (0, 0));
        assert_ne!(ra.sha256, rb.sha256);
        assert_eq!(ra.sha256.len(), 64);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
