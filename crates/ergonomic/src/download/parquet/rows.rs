//! Rows handed over cell by cell, rather than as CSV, into one typed Parquet file: for results a
//! family reads itself (JSON bodies), where text alone cannot tell a null from an empty string.
//! Each cell's text is read exactly as a CSV field of the same column would be.

use std::sync::Arc;

use super::{BATCH_ROWS, ColumnBuilder, Compression, LazyWriter, ParquetSchema, encoding};
use crate::download::schema::Schema;
use crate::download::value::{VALUE_SHOWN, Value};
use crate::error::{Error, Result};

/// Writes rows given as cells into one Parquet file held in memory.
pub(crate) struct RowWriter {
    schema: Arc<ParquetSchema>,
    columns: Vec<ColumnBuilder>,
    writer: LazyWriter,
    /// Rows appended, from 1, and rows not yet handed to the writer.
    rows: u64,
    batched: usize,
}

impl RowWriter {
    /// A writer of rows of `schema` (checked as for any Parquet download).
    pub(crate) fn new(schema: Schema, compression: Compression) -> Result<Self> {
        let schema = Arc::new(ParquetSchema::new(Arc::new(schema))?);
        let writer = LazyWriter::new(schema.clone(), compression);
        let columns = schema
            .schema
            .columns
            .iter()
            .map(|c| ColumnBuilder::new(c.ty))
            .collect();
        Ok(Self {
            schema,
            columns,
            writer,
            rows: 0,
            batched: 0,
        })
    }

    /// Appends one row: a cell for each column, in the schema's order; `None` is null, `Some` the
    /// value's text in the form a CSV field of that column's type takes (`Some("")` is an empty
    /// text, not a null). A cell that does not read as its column's type is an
    /// [`Error::InvalidValue`] naming the row, the column and the value. After an error the
    /// row's earlier cells are already appended: the writer is spent, drop it.
    pub(crate) fn push<'a>(
        &mut self,
        cells: impl IntoIterator<Item = Option<&'a str>>,
    ) -> Result<()> {
        self.rows += 1;
        let row = self.rows;
        let columns = &self.schema.schema.columns;
        let mut count = 0;
        for (cell, (column, builder)) in
            cells.into_iter().zip(columns.iter().zip(&mut self.columns))
        {
            count += 1;
            let refused = |value: &str, expected: String| Error::InvalidValue {
                row,
                column: column.name.clone(),
                value: value.chars().take(VALUE_SHOWN).collect(),
                expected,
            };
            match cell {
                None if column.nullable => builder.append_null(),
                None => {
                    return Err(refused(
                        "",
                        format!("{} (the column may not be null)", column.ty),
                    ));
                }
                Some(text) => builder
                    .append(Some(Value::parse(column.ty, text).map_err(|why| {
                        refused(text, format!("{}: {why}", column.ty))
                    })?)),
            }
        }
        if count != columns.len() {
            return Err(Error::integrity(format!(
                "row {row} has {count} cells, the schema {} columns",
                columns.len()
            )));
        }
        self.batched += 1;
        if self.batched >= BATCH_ROWS {
            self.write_batch()?;
        }
        Ok(())
    }

    /// Ends the file: the Parquet bytes and the rows they hold.
    pub(crate) fn finish(mut self) -> Result<(Vec<u8>, u64)> {
        self.write_batch()?;
        let bytes = self.writer.into_inner()?;
        Ok((bytes, self.rows))
    }

    fn write_batch(&mut self) -> Result<()> {
        if self.batched == 0 {
            return Ok(());
        }
        let arrays = self.columns.iter_mut().map(ColumnBuilder::finish).collect();
        let batch = arrow_array::RecordBatch::try_new(self.schema.arrow.clone(), arrays)
            .map_err(encoding)?;
        self.writer.write(&batch)?;
        self.batched = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;
    use crate::download::schema::{Column, ColumnType};

    fn schema() -> Schema {
        Schema::new(vec![
            Column::new("name", ColumnType::Utf8, true),
            Column::new("count", ColumnType::Int64, false),
        ])
    }

    #[test]
    fn an_empty_text_stays_apart_from_a_null() {
        let mut writer = RowWriter::new(schema(), Compression::Zstd).unwrap();
        writer.push([Some(""), Some("1")]).unwrap();
        writer.push([None, Some("-2")]).unwrap();
        let (bytes, rows) = writer.finish().unwrap();
        assert_eq!(rows, 2);
        let batch = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
            .unwrap()
            .build()
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        let names = batch.column(0).as_string::<i32>();
        assert!(!names.is_null(0) && names.value(0).is_empty());
        assert!(names.is_null(1));
        let counts = batch.column(1).as_primitive::<Int64Type>();
        assert_eq!((counts.value(0), counts.value(1)), (1, -2));
    }

    #[test]
    fn a_refused_cell_names_row_column_and_value() {
        let mut writer = RowWriter::new(schema(), Compression::Zstd).unwrap();
        writer.push([Some("a"), Some("1")]).unwrap();
        let error = writer.push([Some("b"), Some("1.5")]).unwrap_err();
        let Error::InvalidValue {
            row, column, value, ..
        } = &error
        else {
            panic!("{error}");
        };
        assert_eq!((*row, column.as_str(), value.as_str()), (2, "count", "1.5"));
        let error = writer.push([Some("c"), None]).unwrap_err();
        assert!(
            matches!(error, Error::InvalidValue { row: 3, .. }),
            "{error}"
        );
        assert!(writer.push([Some("d")]).unwrap_err().is_integrity());
    }
}
