//! The columns of a result and their types, as the service's metadata states them: what the typed
//! formats (Parquet, and JSON lines given a schema) write. A family builds it from its own metadata
//! (Salesforce's describe); the engine never infers a type from the values.

use serde::{Deserialize, Serialize};

use super::decimal;
use crate::error::{Error, Result};

/// The columns of a result, in the order its CSV holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Schema {
    /// The columns, in order.
    pub columns: Vec<Column>,
}

impl Schema {
    /// A schema of these columns, in this order.
    pub fn new(columns: Vec<Column>) -> Self {
        Self { columns }
    }

    /// Checks that values can be read by it: a column at least, decimal precisions within 1 to
    /// 38, each scale within its precision.
    pub(crate) fn check(&self) -> Result<()> {
        if self.columns.is_empty() {
            return Err(Error::invalid_input("a schema needs a column"));
        }
        for column in &self.columns {
            if let ColumnType::Decimal { precision, scale } = column.ty
                && (precision == 0 || precision > decimal::MAX_PRECISION || scale > precision)
            {
                return Err(Error::invalid_input(format!(
                    "column {}: decimal({precision}, {scale}) cannot be written (precision 1 to \
                     {}, scale at most the precision)",
                    column.name,
                    decimal::MAX_PRECISION
                )));
            }
        }
        Ok(())
    }
}

/// One column of a [`Schema`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Column {
    /// The column's name, as the result's header row spells it (compared without regard to case).
    pub name: String,
    /// What its values are.
    pub ty: ColumnType,
    /// Whether it may hold nulls (empty CSV fields). An empty field in a column that may not is an
    /// error naming the row and the column.
    pub nullable: bool,
    /// Whether every row holds a different value (a key, such as a record's own id): Parquet
    /// stores such a column without a dictionary, which could only make it bigger and slower.
    #[serde(default)]
    pub unique: bool,
}

impl Column {
    /// A column named `name`, of type `ty`, whose values may repeat.
    pub fn new(name: impl Into<String>, ty: ColumnType, nullable: bool) -> Self {
        Self {
            name: name.into(),
            ty,
            nullable,
            unique: false,
        }
    }

    /// Says whether every row holds a different value (see [`Column::unique`](Self#structfield.unique)).
    pub fn unique(mut self, unique: bool) -> Self {
        self.unique = unique;
        self
    }
}

/// The type of a column's values, and how its CSV text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ColumnType {
    /// Text, as it came.
    Utf8,
    /// `true` or `false`.
    Boolean,
    /// A 32-bit signed integer.
    Int32,
    /// A 64-bit signed integer.
    Int64,
    /// An exact decimal number of at most `precision` digits (1 to 38), `scale` of them after the
    /// point; read from plain or exponent notation (`1.5E+7`) without rounding: a value with more
    /// digits than that is an error.
    Decimal {
        /// Digits in all, 1 to 38.
        precision: u8,
        /// Digits after the point, at most `precision`.
        scale: u8,
    },
    /// A 64-bit float: only for numbers whose precision and scale the metadata does not state.
    Float64,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// An instant, kept in milliseconds since 1970 UTC: `2024-01-02T03:04:05.000Z`, or with an
    /// offset such as `+0000`.
    Timestamp,
    /// An instant, kept in microseconds since 1970 UTC (Databricks' `TIMESTAMP`):
    /// `2024-01-02T03:04:05.123456Z`, with up to 6 digits after the second, a space instead of
    /// the `T`, and any offset instead of the `Z` (`+00:00`, `+0100`); the zone is required, an
    /// instant without one being ambiguous.
    TimestampMicros,
    /// A date and a time of day read on a wall clock, with no time zone (Databricks'
    /// `TIMESTAMP_NTZ`), kept in microseconds: `2024-01-02T03:04:05.123456` or
    /// `2024-01-02 03:04:05.123456`, up to 6 digits after the second, never a zone. Parquet
    /// writes it as a timestamp not adjusted to UTC, JSON lines without a `Z`.
    TimestampNtzMicros,
    /// A time of day, kept in milliseconds since midnight: `03:04:05.000Z`.
    Time,
    /// A list of texts, read from values separated by `;` (multi-select picklists).
    Utf8List,
}

impl std::fmt::Display for ColumnType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Utf8 => f.write_str("text"),
            Self::Boolean => f.write_str("a boolean"),
            Self::Int32 => f.write_str("a 32-bit integer"),
            Self::Int64 => f.write_str("a 64-bit integer"),
            Self::Decimal { precision, scale } => write!(f, "a decimal({precision}, {scale})"),
            Self::Float64 => f.write_str("a number"),
            Self::Date => f.write_str("a date (YYYY-MM-DD)"),
            Self::Timestamp => f.write_str("a date-time"),
            Self::TimestampMicros => f.write_str("a date-time with microseconds"),
            Self::TimestampNtzMicros => {
                f.write_str("a date-time without time zone, with microseconds")
            }
            Self::Time => f.write_str("a time of day"),
            Self::Utf8List => f.write_str("a list of texts"),
        }
    }
}
