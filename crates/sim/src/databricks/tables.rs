//! The workspace's generated tables, `main.sales.orders` and `main.sales.customers`: their
//! columns with Databricks SQL types, and every value a function of (seed, table, column, row).
//!
//! The values cover what a client must carry through untouched: integers past 2^53
//! (`order_id`), exact decimals (`amount`, some negative), doubles, booleans, dates, timestamps
//! with milliseconds, strings with commas, double quotes, line breaks (LF and CRLF), non-ASCII
//! text and the empty string, and nulls in most columns.

use chrono::{DateTime, Duration, NaiveDate};

use crate::shared::rng::{hash_str, mix};

/// A Databricks SQL column type of the generated tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SqlType {
    /// `INT` (32 bits).
    Int,
    /// `BIGINT` (64 bits; `type_name` `LONG`).
    BigInt,
    /// `DECIMAL(precision, scale)`.
    Decimal(u8, u8),
    /// `DOUBLE`.
    Double,
    /// `BOOLEAN`.
    Boolean,
    /// `DATE`.
    Date,
    /// `TIMESTAMP` (microseconds, UTC).
    Timestamp,
    /// `STRING`.
    String,
}

impl SqlType {
    /// The manifest's `type_name` (the SDK's `ColumnInfoTypeName`: `BIGINT` is `LONG`).
    pub(crate) fn type_name(self) -> &'static str {
        match self {
            Self::Int => "INT",
            Self::BigInt => "LONG",
            Self::Decimal(..) => "DECIMAL",
            Self::Double => "DOUBLE",
            Self::Boolean => "BOOLEAN",
            Self::Date => "DATE",
            Self::Timestamp => "TIMESTAMP",
            Self::String => "STRING",
        }
    }

    /// The manifest's `type_text`: the type as SQL spells it.
    pub(crate) fn type_text(self) -> String {
        match self {
            Self::Int => "INT".into(),
            Self::BigInt => "BIGINT".into(),
            Self::Decimal(p, s) => format!("DECIMAL({p},{s})"),
            Self::Double => "DOUBLE".into(),
            Self::Boolean => "BOOLEAN".into(),
            Self::Date => "DATE".into(),
            Self::Timestamp => "TIMESTAMP".into(),
            Self::String => "STRING".into(),
        }
    }
}

/// One column of a table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Column {
    pub(crate) name: &'static str,
    pub(crate) ty: SqlType,
}

const fn col(name: &'static str, ty: SqlType) -> Column {
    Column { name, ty }
}

/// The catalog and schema holding the generated tables.
pub(crate) const CATALOG: &str = "main";
/// See [`CATALOG`].
pub(crate) const SCHEMA: &str = "sales";

/// One generated table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TableDef {
    pub(crate) name: &'static str,
    pub(crate) columns: &'static [Column],
    default_rows: u64,
}

impl TableDef {
    /// `main.sales.<name>`, the key of [`crate::SimBuilder::rows`].
    pub(crate) fn full_name(&self) -> String {
        format!("{CATALOG}.{SCHEMA}.{}", self.name)
    }

    /// The index of column `name` (case-insensitive, as Databricks resolves names).
    pub(crate) fn column(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
    }
}

/// Every generated table.
pub(crate) const TABLES: &[TableDef] = &[
    TableDef {
        name: "orders",
        columns: &[
            col("order_id", SqlType::BigInt),
            col("customer_id", SqlType::Int),
            col("amount", SqlType::Decimal(18, 2)),
            col("discount", SqlType::Double),
            col("paid", SqlType::Boolean),
            col("order_date", SqlType::Date),
            col("updated_at", SqlType::Timestamp),
            col("note", SqlType::String),
        ],
        default_rows: 10_000,
    },
    TableDef {
        name: "customers",
        columns: &[
            col("customer_id", SqlType::Int),
            col("name", SqlType::String),
            col("email", SqlType::String),
            col("signup_date", SqlType::Date),
            col("vip", SqlType::Boolean),
        ],
        default_rows: 1_000,
    },
];

/// One value. Decimals are unscaled integers (the column type says the scale), dates days since
/// 1970-01-01, timestamps microseconds since the epoch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Decimal(i128),
    Double(f64),
    Bool(bool),
    Date(i32),
    Timestamp(i64),
    Text(String),
}

impl Value {
    /// The value as the `JSON_ARRAY` and `CSV` formats print it, `None` for null: integers and
    /// decimals in plain digits (a decimal with all of its scale's digits), doubles in their
    /// shortest form with a fraction (`12.5`, `3.0`), booleans as `true`/`false`, dates
    /// `YYYY-MM-DD`, timestamps ISO 8601 in UTC with milliseconds (`2024-01-31T10:15:00.250Z`).
    pub(crate) fn text(&self, ty: SqlType) -> Option<String> {
        Some(match self {
            Self::Null => return None,
            Self::Int(v) => v.to_string(),
            Self::Decimal(unscaled) => decimal_text(*unscaled, scale(ty)),
            Self::Double(v) => format!("{v:?}"),
            Self::Bool(v) => v.to_string(),
            Self::Date(days) => date(*days).format("%Y-%m-%d").to_string(),
            Self::Timestamp(micros) => DateTime::from_timestamp_micros(*micros)
                .unwrap_or_default()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string(),
            Self::Text(s) => s.clone(),
        })
    }

    /// Reads `text` as a value of `ty` (a literal of a WHERE clause), `None` if it does not read.
    pub(crate) fn parse(ty: SqlType, text: &str) -> Option<Self> {
        let text = text.trim();
        Some(match ty {
            SqlType::Int | SqlType::BigInt => Self::Int(text.parse().ok()?),
            SqlType::Decimal(_, s) => Self::Decimal(parse_decimal(text, s)?),
            SqlType::Double => Self::Double(text.parse().ok()?),
            SqlType::Boolean => Self::Bool(match text.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return None,
            }),
            SqlType::Date => {
                let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
                Self::Date((day - epoch()).num_days() as i32)
            }
            SqlType::Timestamp => {
                let at = DateTime::parse_from_rfc3339(text)
                    .map(|t| t.to_utc())
                    .or_else(|_| {
                        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
                            .map(|t| t.and_utc())
                    })
                    .ok()?;
                Self::Timestamp(at.timestamp_micros())
            }
            SqlType::String => Self::Text(text.to_owned()),
        })
    }

    /// Orders two values of one column; `None` when either is null (SQL's unknown).
    pub(crate) fn compare(&self, other: &Self) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Self::Int(a), Self::Int(b)) => Some(a.cmp(b)),
            (Self::Decimal(a), Self::Decimal(b)) => Some(a.cmp(b)),
            (Self::Double(a), Self::Double(b)) => a.partial_cmp(b),
            (Self::Bool(a), Self::Bool(b)) => Some(a.cmp(b)),
            (Self::Date(a), Self::Date(b)) => Some(a.cmp(b)),
            (Self::Timestamp(a), Self::Timestamp(b)) => Some(a.cmp(b)),
            (Self::Text(a), Self::Text(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

fn scale(ty: SqlType) -> u8 {
    match ty {
        SqlType::Decimal(_, s) => s,
        _ => 0,
    }
}

/// `unscaled` with `scale` digits after the point: `-1234` at scale 2 is `-12.34`.
pub(crate) fn decimal_text(unscaled: i128, scale: u8) -> String {
    let digits = unscaled.unsigned_abs().to_string();
    let scale = usize::from(scale);
    let sign = if unscaled < 0 { "-" } else { "" };
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (whole, fraction) = padded.split_at(padded.len() - scale);
    format!("{sign}{whole}.{fraction}")
}

/// `text` as an unscaled decimal of `scale`; `None` for more fraction digits than the scale.
fn parse_decimal(text: &str, scale: u8) -> Option<i128> {
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty()
        || !all_digits(whole)
        || !all_digits(fraction)
        || fraction.len() > usize::from(scale)
    {
        return None;
    }
    let padded = format!("{whole}{fraction:0<width$}", width = usize::from(scale));
    let value: i128 = padded.parse().ok()?;
    Some(if negative { -value } else { value })
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

fn date(days: i32) -> NaiveDate {
    epoch() + Duration::days(i64::from(days))
}

/// The generated data: the seed and each table's row count.
#[derive(Debug, Clone)]
pub(crate) struct Data {
    seed: u64,
    rows: Vec<u64>,
}

impl Data {
    /// The tables of `seed`, each with `rows(full name)` rows or its default.
    pub(crate) fn new(seed: u64, rows: impl Fn(&str) -> Option<u64>) -> Self {
        let rows = TABLES
            .iter()
            .map(|t| rows(&t.full_name()).unwrap_or(t.default_rows))
            .collect();
        Self { seed, rows }
    }

    /// The table `catalog.schema.name` (case-insensitive), with its index.
    pub(crate) fn table(&self, catalog: &str, schema: &str, name: &str) -> Option<usize> {
        if !catalog.eq_ignore_ascii_case(CATALOG) || !schema.eq_ignore_ascii_case(SCHEMA) {
            return None;
        }
        TABLES
            .iter()
            .position(|t| t.name.eq_ignore_ascii_case(name))
    }

    /// Rows of table `table`.
    pub(crate) fn row_count(&self, table: usize) -> u64 {
        self.rows[table]
    }

    /// The value of column `column` of row `row` of table `table`.
    pub(crate) fn value(&self, table: usize, column: usize, row: u64) -> Value {
        let def = &TABLES[table];
        let h = mix(self.seed ^ hash_str(def.name) ^ mix(row) ^ hash_str(def.columns[column].name));
        match (def.name, def.columns[column].name) {
            ("orders", name) => self.order(name, row, h),
            (_, name) => customer(name, row, h),
        }
    }

    fn order(&self, column: &str, row: u64, h: u64) -> Value {
        let customers = self.rows[1].max(1);
        match column {
            "order_id" => Value::Int(9_007_199_254_740_993 + row as i64),
            "customer_id" => Value::Int(1 + (h % customers) as i64),
            "amount" if row % 11 == 5 => Value::Null,
            "amount" => Value::Decimal(i128::from(h % 5_000_000) - 250_000),
            "discount" if row % 13 == 7 => Value::Null,
            "discount" => Value::Double((h % 1000) as f64 / 8.0),
            "paid" if row % 17 == 3 => Value::Null,
            "paid" => Value::Bool(h & 1 == 1),
            "order_date" => Value::Date(day_in_2020s(h)),
            "updated_at" => Value::Timestamp(micros_in_2020s(h)),
            _ => note(row),
        }
    }
}

/// A note: null, or text with commas, quotes, line breaks, non-ASCII letters, or nothing.
fn note(row: u64) -> Value {
    Value::Text(match row % 8 {
        0 => return Value::Null,
        1 => format!("Deliver to {row} Main St, Suite 4, Springfield"),
        2 => format!("He said \"ship it\" for #{row}"),
        3 => format!("line one of {row}\nline two"),
        4 => String::new(),
        5 => format!("Ünïcødé ✓ {row}"),
        6 => format!("windows line\r\nend, \"quoted\", {row}"),
        _ => format!("plain note {row}"),
    })
}

fn customer(column: &str, row: u64, h: u64) -> Value {
    match column {
        "customer_id" => Value::Int(row as i64 + 1),
        "name" if row % 5 == 2 => Value::Text(format!("O'Brien \"Bee\", Ltd #{}", row + 1)),
        "name" => Value::Text(format!("Customer {}, Inc.", row + 1)),
        "email" if row % 9 == 4 => Value::Null,
        "email" => Value::Text(format!("customer{}@example.com", row + 1)),
        "signup_date" => Value::Date(day_in_2020s(h)),
        _ => Value::Bool(h.is_multiple_of(10)),
    }
}

/// A day from 2020-01-01 on (about five years).
fn day_in_2020s(h: u64) -> i32 {
    18_262 + (h % 1_826) as i32
}

/// An instant from 2020-01-01T00:00:00Z on, in whole milliseconds.
fn micros_in_2020s(h: u64) -> i64 {
    1_577_836_800_000_000 + ((h >> 8) % 157_766_400_000) as i64 * 1_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_print_and_read_with_their_scale() {
        assert_eq!(decimal_text(-1234, 2), "-12.34");
        assert_eq!(decimal_text(5, 2), "0.05");
        assert_eq!(decimal_text(-5, 2), "-0.05");
        assert_eq!(decimal_text(7, 0), "7");
        assert_eq!(parse_decimal("-12.3", 2), Some(-1230));
        assert_eq!(parse_decimal("0.05", 2), Some(5));
        assert_eq!(parse_decimal("1.234", 2), None);
        assert_eq!(parse_decimal("x", 2), None);
    }

    #[test]
    fn values_are_deterministic_and_print_as_documented() {
        let data = Data::new(7, |_| None);
        let again = Data::new(7, |_| None);
        for row in 0..50 {
            for column in 0..TABLES[0].columns.len() {
                assert_eq!(data.value(0, column, row), again.value(0, column, row));
            }
        }
        assert_eq!(
            Value::Timestamp(1_577_836_800_250_000).text(SqlType::Timestamp),
            Some("2020-01-01T00:00:00.250Z".into())
        );
        assert_eq!(
            Value::Date(18_262).text(SqlType::Date),
            Some("2020-01-01".into())
        );
        assert_eq!(Value::Double(3.0).text(SqlType::Double), Some("3.0".into()));
        assert_eq!(Value::Null.text(SqlType::String), None);
        assert_eq!(
            Value::parse(SqlType::Date, "2020-01-02"),
            Some(Value::Date(18_263))
        );
        assert_eq!(
            Value::parse(SqlType::Timestamp, "2020-01-01T00:00:00.250Z"),
            Some(Value::Timestamp(1_577_836_800_250_000))
        );
    }
}
