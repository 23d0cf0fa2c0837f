//! The Parquet writer of one file, opened when its first batch arrives so that each column's
//! dictionary can be chosen from that batch.
//!
//! A dictionary pays when values repeat (an industry, a city) and costs when they do not (amounts,
//! date-times, counts): every value is hashed into it, and the file gets bigger (each value once
//! in the dictionary, then an index a row). The schema knows only keys as unique, so the first
//! batch decides the rest: a column whose first [`SAMPLE_MIN`] or more values are more than half
//! distinct is written without one. The choice is made again for each file (each partition), so a
//! result whose columns change character from partition to partition is served in each.

use std::collections::HashSet;
use std::hash::Hash;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float64Type, Int32Type, Int64Type, Time32MillisecondType,
    TimestampMicrosecondType, TimestampMillisecondType,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::ArrowWriter;

use super::{Compression, ParquetSchema, encoding};
use crate::error::Result;

/// Fewer values than this in the first batch tell too little: the column keeps its dictionary.
const SAMPLE_MIN: usize = 1024;

/// One Parquet file's writer, into memory, opened by its first batch.
pub(crate) struct LazyWriter {
    schema: Arc<ParquetSchema>,
    compression: Compression,
    writer: Option<ArrowWriter<Vec<u8>>>,
}

impl LazyWriter {
    pub(crate) fn new(schema: Arc<ParquetSchema>, compression: Compression) -> Self {
        Self {
            schema,
            compression,
            writer: None,
        }
    }

    /// Writes `batch` (of the schema's Arrow type), opening the file with it when it is the first.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if self.writer.is_none() {
            self.writer = Some(self.open(Some(batch))?);
        }
        let writer = self.writer.as_mut().expect("opened above");
        writer.write(batch).map_err(encoding)
    }

    /// Moves what the writer has finished (whole row groups) into `out`.
    pub(crate) fn drain(&mut self, out: &mut Vec<u8>) {
        if let Some(writer) = &mut self.writer {
            super::drain(writer, out);
        }
    }

    /// Writes the footer (of a file without rows when no batch came) and moves the rest into `out`.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) -> Result<()> {
        if self.writer.is_none() {
            self.writer = Some(self.open(None)?);
        }
        let writer = self.writer.as_mut().expect("opened above");
        writer.finish().map_err(encoding)?;
        super::drain(writer, out);
        Ok(())
    }

    /// The whole file, footer written.
    pub(crate) fn into_inner(mut self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.finish(&mut out)?;
        Ok(out)
    }

    fn open(&self, first: Option<&RecordBatch>) -> Result<ArrowWriter<Vec<u8>>> {
        let repeating_little: Vec<&str> = first
            .map(|batch| {
                batch
                    .columns()
                    .iter()
                    .zip(&self.schema.schema.columns)
                    // A unique column has no dictionary already (see `ParquetSchema::properties`).
                    .filter(|(array, column)| !column.unique && repeats_little(array.as_ref()))
                    .map(|(_, column)| column.name.as_str())
                    .collect()
            })
            .unwrap_or_default();
        let properties = self.schema.properties(self.compression, &repeating_little);
        ArrowWriter::try_new(Vec::new(), self.schema.arrow.clone(), Some(properties))
            .map_err(encoding)
    }
}

/// Whether more than half of `array`'s values (nulls aside, [`SAMPLE_MIN`] at least) differ.
fn repeats_little(array: &dyn Array) -> bool {
    let present = array.len() - array.null_count();
    if present < SAMPLE_MIN {
        return false;
    }
    let half = present / 2;
    let distinct = match array.data_type() {
        DataType::Utf8 => distinct(array.as_string::<i32>().iter(), half),
        DataType::Int32 => distinct(array.as_primitive::<Int32Type>().iter(), half),
        DataType::Int64 => distinct(array.as_primitive::<Int64Type>().iter(), half),
        DataType::Decimal128(..) => distinct(array.as_primitive::<Decimal128Type>().iter(), half),
        DataType::Float64 => distinct(
            array
                .as_primitive::<Float64Type>()
                .iter()
                .map(|v| v.map(f64::to_bits)),
            half,
        ),
        DataType::Date32 => distinct(array.as_primitive::<Date32Type>().iter(), half),
        DataType::Time32(TimeUnit::Millisecond) => {
            distinct(array.as_primitive::<Time32MillisecondType>().iter(), half)
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => distinct(
            array.as_primitive::<TimestampMillisecondType>().iter(),
            half,
        ),
        DataType::Timestamp(TimeUnit::Microsecond, _) => distinct(
            array.as_primitive::<TimestampMicrosecondType>().iter(),
            half,
        ),
        // Booleans are never dictionary-encoded; lists keep the writer's default.
        _ => return false,
    };
    distinct > half
}

/// How many of `values` differ, counted until more than `enough` do (then `enough + 1`): a column
/// whose sample is mostly distinct is known to be so halfway through, and hashing the rest of it
/// was most of the sample's cost.
fn distinct<T: Hash + Eq>(values: impl Iterator<Item = Option<T>>, enough: usize) -> usize {
    // The sample decides only whether to write a dictionary, so it needs no defence against
    // chosen collisions: aHash (already Arrow's) instead of the standard library's SipHash.
    let hasher = ahash::RandomState::with_seeds(1, 2, 3, 4);
    let mut seen = HashSet::with_capacity_and_hasher(enough + 1, hasher);
    for value in values.flatten() {
        if seen.insert(value) && seen.len() > enough {
            break;
        }
    }
    seen.len()
}
