//! Partitions that arrive as Arrow IPC streams, written as typed Parquet without a detour through
//! text. The stream is decoded as its chunks arrive; each record batch is checked against the
//! [`Schema`](crate::download::Schema) (column count and names, without regard to case, as a CSV
//! header row is), each column brought to the schema's type, and the batch handed to the same
//! Parquet writer as a CSV partition's rows (same properties, row groups and dictionary rules).
//!
//! How a column is brought to its type:
//! - the same type: as it is (a decimal's precision checked, which an IPC stream does not);
//! - text in the stream, another type in the schema: each value read by the CSV rules
//!   ([`Value::parse`]), so that a value reads the same whichever body carried it;
//! - text in the schema, another type in the stream (numbers, nested values, binary,
//!   intervals): each value's Arrow display text;
//! - otherwise Arrow's cast, strict: an overflow is refused, and so is a cast that would lose
//!   anything (a value that does not come back the same when cast back, such as 1.5 as an
//!   integer, or nanoseconds as microseconds).
//!
//! Instants (timestamps with a zone) are read whatever the zone's name (`Etc/UTC`,
//! `America/New_York`): an instant does not depend on it, and Arrow reads a name only with a
//! zone database, which haul does not carry; only their unit is cast. A wall-clock date-time
//! (no zone) is never read as an instant, nor an instant as one: that needs a zone the stream
//! does not give, and is refused as a mismatch of the schema.
//!
//! A refused value is [`Error::InvalidValue`] naming its row (counted from the partition's start,
//! as for CSV: the engine numbers it in the whole result), its column and the value; a stream
//! whose columns cannot be read as the schema's at all is an integrity error.

use std::fmt::Write as _;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, DecimalType};
use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchOptions, make_array, new_null_array};
use arrow_buffer::Buffer;
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_cast::{CastOptions, can_cast_types, cast_with_options};
use arrow_ipc::reader::StreamDecoder;
use arrow_schema::{ArrowError, DataType, SchemaRef};
use bytes::Bytes;

use super::{ColumnBuilder, Compression, LazyWriter, ParquetSchema, data_type, encoding};
use crate::download::schema::{Column, ColumnType};
use crate::download::value::{VALUE_SHOWN, Value};
use crate::error::{Error, Result};

/// Converts one partition's Arrow IPC stream into a Parquet file of its own.
pub(crate) struct ArrowEncoder {
    decoder: StreamDecoder,
    schema: Arc<ParquetSchema>,
    writer: LazyWriter,
    /// Rows written so far.
    rows: u64,
    /// The stream's schema, once checked against the download's.
    checked: Option<SchemaRef>,
}

impl ArrowEncoder {
    pub(crate) fn new(schema: Arc<ParquetSchema>, compression: Compression) -> Result<Self> {
        Ok(Self {
            decoder: StreamDecoder::new(),
            writer: LazyWriter::new(schema.clone(), compression),
            schema,
            rows: 0,
            checked: None,
        })
    }

    /// Rows read so far, counted from the record batches.
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// The columns' names as the stream's schema gives them, once it is read.
    pub(crate) fn names(&self) -> Option<Vec<String>> {
        let schema = self.decoder.schema()?;
        Some(schema.fields().iter().map(|f| f.name().clone()).collect())
    }

    /// Decodes `chunk`, appending to `out` what the Parquet writer has finished.
    pub(crate) fn feed(&mut self, chunk: Bytes, out: &mut Vec<u8>) -> Result<()> {
        let mut buffer = Buffer::from(chunk);
        while !buffer.is_empty() {
            if let Some(batch) = self.decoder.decode(&mut buffer).map_err(stream)? {
                self.write(&batch)?;
            }
        }
        self.writer.drain(out);
        Ok(())
    }

    /// Ends the partition: the stream must end at a message's end, after its schema at least;
    /// writes the last rows and the file's footer to `out`.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) -> Result<()> {
        self.decoder.finish().map_err(stream)?;
        if self.decoder.schema().is_none() {
            return Err(Error::integrity(
                "the partition's Arrow stream has no schema",
            ));
        }
        self.writer.finish(out)
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.check(batch.schema_ref())?;
        let arrays = batch
            .columns()
            .iter()
            .zip(&self.schema.schema.columns)
            .map(|(array, column)| convert(array, column, self.rows))
            .collect::<Result<Vec<_>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        let typed = RecordBatch::try_new_with_options(self.schema.arrow.clone(), arrays, &options)
            .map_err(encoding)?;
        self.writer.write(&typed)?;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Checks the stream's columns against the schema's: as many, the same names (without regard
    /// to case), each of a type that can be read as the schema's. Done once a stream schema.
    fn check(&mut self, stream: &SchemaRef) -> Result<()> {
        if self
            .checked
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, stream))
        {
            return Ok(());
        }
        let columns = &self.schema.schema.columns;
        let fields = stream.fields();
        let same_names = fields.len() == columns.len()
            && (fields.iter().zip(columns)).all(|(f, c)| f.name().eq_ignore_ascii_case(&c.name));
        if !same_names {
            return Err(Error::integrity(format!(
                "the results' columns are {:?}, the schema's {:?}",
                fields.iter().map(|f| f.name()).collect::<Vec<_>>(),
                columns.iter().map(|c| &c.name).collect::<Vec<_>>()
            )));
        }
        for (field, column) in fields.iter().zip(columns) {
            if !readable(field.data_type(), column.ty) {
                return Err(Error::integrity(format!(
                    "column {}: the Arrow stream sends {}, which cannot be read as {}",
                    column.name,
                    field.data_type(),
                    column.ty
                )));
            }
        }
        self.checked = Some(stream.clone());
        Ok(())
    }
}

/// Whether a stream's column of type `source` can be read as `ty` at all.
fn readable(source: &DataType, ty: ColumnType) -> bool {
    let source = match source {
        DataType::Dictionary(_, values) => values.as_ref(),
        other => other,
    };
    let target = data_type(ty);
    if let (DataType::Timestamp(_, from), DataType::Timestamp(_, to)) = (source, &target) {
        return from.is_some() == to.is_some();
    }
    ty == ColumnType::Utf8 || is_text(source) || can_cast_types(source, &target)
}

fn is_text(ty: &DataType) -> bool {
    matches!(
        ty,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// Why a column could not be brought to its type, and at which of its rows when known.
struct Refusal {
    index: Option<usize>,
    why: String,
}

impl Refusal {
    fn whole(why: impl std::fmt::Display) -> Self {
        Self {
            index: None,
            why: why.to_string(),
        }
    }
}

/// `array`, the stream's column for `column`, as the schema's type, its nulls allowed only where
/// the column may be null; its rows follow the partition's first `before`.
fn convert(array: &ArrayRef, column: &Column, before: u64) -> Result<ArrayRef> {
    let converted = to_type(array, column.ty).map_err(|refusal| {
        let (index, why) = match refusal.index {
            Some(index) => (index, refusal.why),
            None => locate(array, column.ty).unwrap_or((0, refusal.why)),
        };
        refused(
            array,
            index,
            column,
            before,
            format!("{}: {why}", column.ty),
        )
    })?;
    if !column.nullable && converted.null_count() > 0 {
        let index = (0..converted.len()).find(|&i| converted.is_null(i));
        let expected = format!("{} (the column may not be null)", column.ty);
        return Err(refused(array, index.unwrap_or(0), column, before, expected));
    }
    Ok(converted)
}

/// The first row of `array` that cannot be brought to `ty` on its own, and why.
fn locate(array: &ArrayRef, ty: ColumnType) -> Option<(usize, String)> {
    (0..array.len()).find_map(|index| match to_type(&array.slice(index, 1), ty) {
        Err(refusal) => Some((index, refusal.why)),
        Ok(_) => None,
    })
}

fn refused(
    array: &ArrayRef,
    index: usize,
    column: &Column,
    before: u64,
    expected: String,
) -> Error {
    let value = match array.is_null(index) {
        true => String::new(),
        false => ArrayFormatter::try_new(displayable(array).as_ref(), &FormatOptions::default())
            .map(|shown| shown.value(index).to_string())
            .unwrap_or_default(),
    };
    Error::InvalidValue {
        row: before + index as u64 + 1,
        column: column.name.clone(),
        value: value.chars().take(VALUE_SHOWN).collect(),
        expected,
    }
}

/// `array` as `ty`'s Arrow type (see the module's documentation).
fn to_type(array: &ArrayRef, ty: ColumnType) -> std::result::Result<ArrayRef, Refusal> {
    let target = data_type(ty);
    let array = match array.data_type() {
        DataType::Dictionary(_, values) => strict(array, values)?,
        _ => array.clone(),
    };
    let source = array.data_type();
    let converted = if *source == target {
        array
    } else if *source == DataType::Null {
        // A column of nulls only (`SELECT NULL`): nulls of the schema's type.
        new_null_array(&target, array.len())
    } else if ty == ColumnType::Utf8 && is_text(source) {
        strict(&array, &target)?
    } else if ty == ColumnType::Utf8 {
        display(&array)?
    } else if is_text(source) {
        parse(&array, ty)?
    } else if let (DataType::Timestamp(from, Some(_)), DataType::Timestamp(to, Some(_))) =
        (source, &target)
    {
        // Instants: the zone's name changes nothing; the unit is cast alone.
        let instants = retype(&array, DataType::Timestamp(*from, None))?;
        retype(
            &lossless(&instants, &DataType::Timestamp(*to, None))?,
            target,
        )?
    } else {
        lossless(&array, &target)?
    };
    if let ColumnType::Decimal { precision, .. } = ty {
        let decimals = converted.as_primitive::<Decimal128Type>();
        let too_long = (0..decimals.len()).find(|&i| {
            decimals.is_valid(i)
                && !Decimal128Type::is_valid_decimal_precision(decimals.value(i), precision)
        });
        if let Some(index) = too_long {
            return Err(Refusal {
                index: Some(index),
                why: format!("it has more than {precision} digits"),
            });
        }
    }
    Ok(converted)
}

/// `array`'s values as another type of the same layout (a timestamp's zone), without a copy.
fn retype(array: &ArrayRef, ty: DataType) -> std::result::Result<ArrayRef, Refusal> {
    let data = array.to_data().into_builder().data_type(ty);
    Ok(make_array(data.build().map_err(Refusal::whole)?))
}

/// `array` as Arrow can display it: instants shown in UTC (`+00:00`), Arrow reading a zone's
/// name only with a zone database.
fn displayable(array: &ArrayRef) -> ArrayRef {
    match array.data_type() {
        DataType::Timestamp(unit, Some(_)) => {
            retype(array, DataType::Timestamp(*unit, Some("+00:00".into())))
                .unwrap_or_else(|_| array.clone())
        }
        _ => array.clone(),
    }
}

/// Arrow's cast, refusing what does not fit (an overflow, a text that does not parse) instead
/// of making it null.
fn strict(array: &ArrayRef, target: &DataType) -> std::result::Result<ArrayRef, Refusal> {
    let options = CastOptions {
        safe: false,
        format_options: FormatOptions::default(),
    };
    cast_with_options(array, target, &options).map_err(Refusal::whole)
}

/// A strict cast whose every value comes back the same when cast back.
fn lossless(array: &ArrayRef, target: &DataType) -> std::result::Result<ArrayRef, Refusal> {
    let converted = strict(array, target)?;
    let same =
        strict(&converted, array.data_type()).is_ok_and(|back| back.to_data() == array.to_data());
    if !same {
        return Err(Refusal::whole(format!(
            "as {target} it would not keep its value"
        )));
    }
    Ok(converted)
}

/// Each value's Arrow display text (nested values, binary, intervals, numbers where the schema
/// says text); a null stays null.
fn display(array: &ArrayRef) -> std::result::Result<ArrayRef, Refusal> {
    let options = FormatOptions::default().with_null("null");
    let array = &displayable(array);
    let shown = ArrayFormatter::try_new(array.as_ref(), &options).map_err(Refusal::whole)?;
    let mut texts = StringBuilder::with_capacity(array.len(), array.len() * 8);
    for index in 0..array.len() {
        if array.is_null(index) {
            texts.append_null();
            continue;
        }
        write!(texts, "{}", shown.value(index)).map_err(|_| Refusal {
            index: Some(index),
            why: "its display text failed".into(),
        })?;
        texts.append_value("");
    }
    Ok(Arc::new(texts.finish()))
}

/// Each text read as `ty` by the rules a CSV field of that type is read by.
fn parse(array: &ArrayRef, ty: ColumnType) -> std::result::Result<ArrayRef, Refusal> {
    let texts = strict(array, &DataType::Utf8)?;
    let mut column = ColumnBuilder::new(ty);
    for (index, text) in texts.as_string::<i32>().iter().enumerate() {
        let value = text
            .map(|text| Value::parse(ty, text))
            .transpose()
            .map_err(|why| Refusal {
                index: Some(index),
                why,
            })?;
        column.append(value);
    }
    Ok(column.finish())
}

fn stream(error: ArrowError) -> Error {
    Error::integrity(format!("reading the Arrow stream: {error}"))
}

#[cfg(test)]
mod tests;
