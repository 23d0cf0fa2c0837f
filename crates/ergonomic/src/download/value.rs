//! CSV fields read as their columns' types: the one set of rules that the typed formats (Parquet,
//! and JSON lines given a [`Schema`]) share, so that a value reads the same whichever is written.
//! An empty field is null; a value that does not read as its type is [`Error::InvalidValue`],
//! naming its row (counted from the partition's start), its column and the value.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use super::decimal;
use super::records::Fields;
use super::schema::{Column, ColumnType, Schema};
use crate::error::{Error, Result};

/// Characters of a refused value shown in an error.
pub(crate) const VALUE_SHOWN: usize = 200;

/// A field's value, read as its column's type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value<'a> {
    Utf8(&'a str),
    Boolean(bool),
    Int32(i32),
    Int64(i64),
    /// `units` of `10^-scale`.
    Decimal {
        units: i128,
        scale: u8,
    },
    Float64(f64),
    /// Days since 1970-01-01.
    Date(i32),
    /// Milliseconds since 1970 UTC.
    Timestamp(i64),
    /// Microseconds since 1970 UTC.
    TimestampMicros(i64),
    /// Microseconds since 1970-01-01T00:00:00 on a wall clock (no time zone).
    TimestampNtzMicros(i64),
    /// Milliseconds since midnight.
    Time(i32),
    /// The list's items, separated by `;` (see [`Value::items`]).
    Utf8List(&'a str),
}

impl<'a> Value<'a> {
    /// `text` (never empty) read as `ty`, or why it cannot be.
    pub(crate) fn parse(ty: ColumnType, text: &'a str) -> std::result::Result<Self, String> {
        Ok(match ty {
            ColumnType::Utf8 => Self::Utf8(text),
            ColumnType::Boolean => Self::Boolean(parse_boolean(text)?),
            ColumnType::Int32 => Self::Int32(parse_integer(text)?),
            ColumnType::Int64 => Self::Int64(parse_integer(text)?),
            ColumnType::Decimal { precision, scale } => Self::Decimal {
                units: decimal::parse(text, precision, scale)?,
                scale,
            },
            ColumnType::Float64 => Self::Float64(parse_float(text)?),
            ColumnType::Date => Self::Date(parse_date(text)?),
            ColumnType::Timestamp => Self::Timestamp(parse_timestamp(text)?),
            ColumnType::TimestampMicros => Self::TimestampMicros(parse_timestamp_micros(text)?),
            ColumnType::TimestampNtzMicros => Self::TimestampNtzMicros(parse_ntz_micros(text)?),
            ColumnType::Time => Self::Time(parse_time(text)?),
            ColumnType::Utf8List => Self::Utf8List(text),
        })
    }

    /// The items of a [`Value::Utf8List`]'s text.
    pub(crate) fn items(list: &'a str) -> impl Iterator<Item = &'a str> {
        list.split(';')
    }
}

/// Reads a partition's records by a schema: checks its header row against the schema's columns,
/// numbers its rows from 1, and reads each field as its column's type.
pub(crate) struct TypedRecords {
    schema: Arc<Schema>,
    header_seen: bool,
    rows: u64,
}

impl TypedRecords {
    pub(crate) fn new(schema: Arc<Schema>) -> Self {
        Self {
            schema,
            header_seen: false,
            rows: 0,
        }
    }

    /// Rows read so far (the header not counted).
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// Whether the header row has been read.
    pub(crate) fn header_seen(&self) -> bool {
        self.header_seen
    }

    /// Reads one record. The first is the header row, checked against the schema's column names
    /// (without regard to case): `false`. Every later one is a row: each column's index and value
    /// (`None` for null) go to `value`, in order, and the answer is `true`.
    pub(crate) fn read<'f>(
        &mut self,
        fields: &Fields<'f>,
        mut value: impl FnMut(usize, Option<Value<'f>>),
    ) -> Result<bool> {
        self.read_texts(fields, |index, ty, text| {
            value(index, text.map(|text| Value::parse(ty, text)).transpose()?);
            Ok(())
        })
    }

    /// As [`read`](Self::read), but each field goes to `field` as text (`None` for null, a
    /// column that may not be null and UTF-8 already checked) with its column's index and type,
    /// for a reader that reads it as [`Value::parse`] does without the [`Value`] in between (the
    /// Parquet encoder's builders); `field` answers why a text does not read, and the error
    /// names the row, the column and the value as [`read`](Self::read)'s do.
    pub(crate) fn read_texts<'f>(
        &mut self,
        fields: &Fields<'f>,
        mut field: impl FnMut(usize, ColumnType, Option<&'f str>) -> std::result::Result<(), String>,
    ) -> Result<bool> {
        let columns = &self.schema.columns;
        if fields.len() != columns.len() {
            return Err(Error::integrity(format!(
                "row {} has {} fields, the schema {} columns",
                self.rows,
                fields.len(),
                columns.len()
            )));
        }
        if !self.header_seen {
            for (name, column) in fields.iter().zip(columns) {
                if !name.eq_ignore_ascii_case(column.name.as_bytes()) {
                    return Err(Error::integrity(format!(
                        "the results' columns are {:?}, the schema's {:?}",
                        fields
                            .iter()
                            .map(String::from_utf8_lossy)
                            .collect::<Vec<_>>(),
                        columns.iter().map(|c| &c.name).collect::<Vec<_>>()
                    )));
                }
            }
            self.header_seen = true;
            return Ok(false);
        }
        self.rows += 1;
        for (index, (text, column)) in fields.texts().zip(columns).enumerate() {
            let text = field_text(column, text, self.rows)?;
            if let Err(why) = field(index, column.ty, text) {
                let text = text.unwrap_or_default().as_bytes();
                let why = format!("{}: {why}", column.ty);
                return Err(refused(column, text, self.rows, why));
            }
        }
        Ok(true)
    }
}

/// Row `row`'s field in `column` (its text, or its bytes when they are not UTF-8) as text, `None`
/// when empty.
#[inline]
fn field_text<'f>(
    column: &Column,
    text: std::result::Result<&'f str, &'f [u8]>,
    row: u64,
) -> Result<Option<&'f str>> {
    match text {
        Ok("") if column.nullable => Ok(None),
        Ok("") => {
            let why = format!("{} (the column may not be null)", column.ty);
            Err(refused(column, b"", row, why))
        }
        Ok(text) => Ok(Some(text)),
        Err(bytes) => {
            let why = format!("{}: it is not UTF-8", column.ty);
            Err(refused(column, bytes, row, why))
        }
    }
}

/// The error for row `row`'s field `text` in `column`, refused because `expected`; out of line,
/// so that reading a field that is fine stays short.
#[cold]
#[inline(never)]
fn refused(column: &Column, text: &[u8], row: u64, expected: String) -> Error {
    Error::InvalidValue {
        row,
        column: column.name.clone(),
        value: String::from_utf8_lossy(text)
            .chars()
            .take(VALUE_SHOWN)
            .collect(),
        expected,
    }
}

/// An integer (`i32`, `i64`) in decimal digits, as Rust's `parse` reads it.
#[inline]
pub(crate) fn parse_integer<T>(text: &str) -> std::result::Result<T, String>
where
    T: std::str::FromStr<Err = std::num::ParseIntError>,
{
    text.parse()
        .map_err(|e: std::num::ParseIntError| format!("{e}"))
}

fn parse_boolean(text: &str) -> std::result::Result<bool, String> {
    if text.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if text.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err("expected true or false".into())
    }
}

fn parse_float(text: &str) -> std::result::Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        Ok(_) => Err("it is not a finite number".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Days since 1970-01-01.
fn parse_date(text: &str) -> std::result::Result<i32, String> {
    let date = match fixed_date(text.as_bytes()) {
        Some(date) => date,
        None => NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| e.to_string())?,
    };
    let days = date.signed_duration_since(NaiveDate::default()).num_days();
    i32::try_from(days).map_err(|_| "it is out of range".into())
}

/// The digits of `text` as a number, if they are all digits.
fn digits(text: &[u8]) -> Option<u32> {
    text.iter().try_fold(0u32, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

/// `YYYY-MM-DD` exactly, read without a format string (the form every Salesforce date takes;
/// anything else goes to chrono's parser).
fn fixed_date(text: &[u8]) -> Option<NaiveDate> {
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *text else {
        return None;
    };
    NaiveDate::from_ymd_opt(
        i32::try_from(digits(&[y0, y1, y2, y3])?).ok()?,
        digits(&[m0, m1])?,
        digits(&[d0, d1])?,
    )
}

/// Milliseconds since 1970 UTC from `YYYY-MM-DDTHH:MM:SS.sssZ` or `...+0000` exactly, the
/// forms Salesforce's Bulk and REST APIs print, read without a format string: date-times are
/// often a third of a result's values, and chrono's general parser was the largest cost of the
/// Parquet encoder. Anything else (other offsets, other precisions) goes to chrono.
fn fixed_timestamp(text: &[u8]) -> Option<i64> {
    let (date, time, zone) = (text.get(..10)?, text.get(10..23)?, text.get(23..)?);
    if !matches!(zone, b"Z" | b"z" | b"+0000") {
        return None;
    }
    let [b'T', h0, h1, b':', n0, n1, b':', s0, s1, b'.', f0, f1, f2] = *time else {
        return None;
    };
    let (hour, minute, second) = (digits(&[h0, h1])?, digits(&[n0, n1])?, digits(&[s0, s1])?);
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = fixed_date(date)?
        .signed_duration_since(NaiveDate::default())
        .num_days();
    let millis = i64::from(((hour * 60 + minute) * 60 + second) * 1000 + digits(&[f0, f1, f2])?);
    Some(days * 86_400_000 + millis)
}

/// Milliseconds since 1970 UTC, from `2024-01-02T03:04:05.000Z` or `...+0000` (any offset).
pub(crate) fn parse_timestamp(text: &str) -> std::result::Result<i64, String> {
    if let Some(millis) = fixed_timestamp(text.as_bytes()) {
        return Ok(millis);
    }
    let instant = match text.strip_suffix(['Z', 'z']) {
        Some(utc) => NaiveDateTime::parse_from_str(utc, "%Y-%m-%dT%H:%M:%S%.f")
            .map_err(|e| e.to_string())?
            .and_utc(),
        None => DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z")
            .map_err(|e| e.to_string())?
            .to_utc(),
    };
    if instant.nanosecond() % 1_000_000 != 0 {
        return Err("it is more precise than a millisecond".into());
    }
    Ok(instant.timestamp_millis())
}

/// A date-time's wall-clock reading in microseconds since 1970-01-01T00:00:00, from
/// `YYYY-MM-DD?HH:MM:SS` (`?` being `T` or a space) with up to 6 digits after a `.`, read without
/// chrono; and the bytes that follow it (a zone, or nothing).
fn fixed_micros(text: &[u8]) -> Option<(i64, &[u8])> {
    let date = fixed_date(text.get(..10)?)?;
    let [separator, h0, h1, b':', n0, n1, b':', s0, s1] = *text.get(10..19)? else {
        return None;
    };
    let (hour, minute, second) = (digits(&[h0, h1])?, digits(&[n0, n1])?, digits(&[s0, s1])?);
    if !matches!(separator, b'T' | b' ') || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut rest = &text[19..];
    let mut micros = 0;
    if let [b'.', fraction @ ..] = rest {
        let length = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if length == 0 || length > 6 {
            return None;
        }
        micros = digits(&fraction[..length])? * 10u32.pow(6 - length as u32);
        rest = &fraction[length..];
    }
    let days = date.signed_duration_since(NaiveDate::default()).num_days();
    let seconds = i64::from((hour * 60 + minute) * 60 + second);
    Some((
        days * 86_400_000_000 + seconds * 1_000_000 + i64::from(micros),
        rest,
    ))
}

/// `text` with a space between the date and the time turned into the `T` chrono's formats expect.
fn with_t(text: &str) -> std::borrow::Cow<'_, str> {
    match text.as_bytes().get(10) {
        Some(b' ') => format!("{}T{}", &text[..10], &text[11..]).into(),
        _ => text.into(),
    }
}

/// Microseconds since 1970 UTC, from `2024-01-02T03:04:05.123456Z`: a `T` or a space, up to 6
/// digits after the second, and a zone (`Z` or an offset such as `+00:00`, `+0100`).
fn parse_timestamp_micros(text: &str) -> std::result::Result<i64, String> {
    if let Some((micros, b"Z" | b"z" | b"+0000" | b"+00:00")) = fixed_micros(text.as_bytes()) {
        return Ok(micros);
    }
    let text = with_t(text);
    let instant = match text.strip_suffix(['Z', 'z']) {
        Some(utc) => NaiveDateTime::parse_from_str(utc, "%Y-%m-%dT%H:%M:%S%.f")
            .map_err(|e| e.to_string())?
            .and_utc(),
        None => DateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f%z")
            .map_err(
                |e| match NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f") {
                    Ok(_) => "it has no time zone (Z or an offset such as +00:00)".to_owned(),
                    Err(_) => e.to_string(),
                },
            )?
            .to_utc(),
    };
    if instant.nanosecond() % 1000 != 0 {
        return Err("it is more precise than a microsecond".into());
    }
    Ok(instant.timestamp_micros())
}

/// Microseconds since 1970-01-01T00:00:00 on a wall clock, from `2024-01-02T03:04:05.123456`
/// (or a space for the `T`), up to 6 digits after the second, without a zone.
fn parse_ntz_micros(text: &str) -> std::result::Result<i64, String> {
    if let Some((micros, b"")) = fixed_micros(text.as_bytes()) {
        return Ok(micros);
    }
    let time = NaiveDateTime::parse_from_str(&with_t(text), "%Y-%m-%dT%H:%M:%S%.f").map_err(
        |e| match text.ends_with(['Z', 'z']) {
            true => "it has a time zone, and this date-time has none".to_owned(),
            false => e.to_string(),
        },
    )?;
    if time.nanosecond() % 1000 != 0 {
        return Err("it is more precise than a microsecond".into());
    }
    Ok(time.and_utc().timestamp_micros())
}

/// Milliseconds since midnight, from `03:04:05.000Z`.
fn parse_time(text: &str) -> std::result::Result<i32, String> {
    let time = text.strip_suffix(['Z', 'z']).unwrap_or(text);
    let time = NaiveTime::parse_from_str(time, "%H:%M:%S%.f").map_err(|e| e.to_string())?;
    if time.nanosecond() % 1_000_000 != 0 {
        return Err("it is more precise than a millisecond".into());
    }
    Ok((time.num_seconds_from_midnight() * 1000 + time.nanosecond() / 1_000_000) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_times_parse_in_the_forms_salesforce_sends() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:01.000Z"), Ok(1000));
        assert_eq!(parse_timestamp("1970-01-01T00:00:01.000+0000"), Ok(1000));
        assert_eq!(parse_timestamp("1970-01-01T00:00:01+00:00"), Ok(1000));
        assert!(parse_timestamp("1970-01-01T00:00:01.0001Z").is_err());
        assert!(parse_timestamp("1970-01-01").is_err());
        assert_eq!(parse_time("00:00:01.500Z"), Ok(1500));
        assert!(parse_time("25:00:00.000Z").is_err());
        assert_eq!(parse_date("1969-12-31"), Ok(-1));
        assert!(parse_date("2024-02-30").is_err());
        assert!(parse_boolean("yes").is_err());
        assert!(parse_float("NaN").is_err());
        for bad in [
            "2024-13-01T00:00:00.000Z",
            "2024-01-01T24:00:00.000Z",
            "2024-01-01T00:60:00.000Z",
            "2024-0a-01T00:00:00.000Z",
            "2024-01-01 00:00:00.000Z",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn microsecond_date_times_read_with_a_t_or_a_space_and_their_zone() {
        let micros = 1_704_164_645_123_456; // 2024-01-02T03:04:05.123456Z
        for text in [
            "2024-01-02T03:04:05.123456Z",
            "2024-01-02 03:04:05.123456Z",
            "2024-01-02T03:04:05.123456+00:00",
            "2024-01-02T04:04:05.123456+0100",
            "2024-01-02 02:04:05.123456-01:00",
        ] {
            assert_eq!(parse_timestamp_micros(text), Ok(micros), "{text}");
        }
        assert_eq!(
            parse_timestamp_micros("1970-01-01T00:00:01Z"),
            Ok(1_000_000)
        );
        assert_eq!(
            parse_timestamp_micros("1970-01-01 00:00:00.5Z"),
            Ok(500_000)
        );
        assert_eq!(
            parse_timestamp_micros("1969-12-31T23:59:59.999999Z"),
            Ok(-1)
        );
        let error = parse_timestamp_micros("2024-01-02 03:04:05.123456").unwrap_err();
        assert!(error.contains("no time zone"), "{error}");
        assert!(parse_timestamp_micros("2024-01-02T03:04:05.1234567Z").is_err());
        assert!(parse_timestamp_micros("2024-01-02T24:04:05Z").is_err());
        assert!(parse_timestamp_micros("2024-01-02").is_err());

        for text in ["2024-01-02T03:04:05.123456", "2024-01-02 03:04:05.123456"] {
            assert_eq!(parse_ntz_micros(text), Ok(micros), "{text}");
        }
        assert_eq!(
            parse_ntz_micros("2024-01-02 03:04:05"),
            Ok(micros - 123_456)
        );
        let error = parse_ntz_micros("2024-01-02T03:04:05Z").unwrap_err();
        assert!(error.contains("time zone"), "{error}");
        assert!(parse_ntz_micros("2024-01-02T03:04:05+01:00").is_err());
        assert!(parse_ntz_micros("2024-01-02T03:04:05.0000001").is_err());
        assert_eq!(
            Value::parse(ColumnType::TimestampNtzMicros, "1970-01-01 00:00:00.000001"),
            Ok(Value::TimestampNtzMicros(1))
        );
    }

    #[test]
    fn each_type_reads_into_its_value() {
        let decimal = ColumnType::Decimal {
            precision: 18,
            scale: 0,
        };
        assert_eq!(
            Value::parse(decimal, "1.6147805824397E13"),
            Ok(Value::Decimal {
                units: 16_147_805_824_397,
                scale: 0
            })
        );
        assert_eq!(
            Value::parse(ColumnType::Boolean, "TRUE"),
            Ok(Value::Boolean(true))
        );
        assert_eq!(
            Value::parse(ColumnType::Int64, "-12"),
            Ok(Value::Int64(-12))
        );
        assert!(Value::parse(ColumnType::Int32, "2147483648").is_err());
        assert_eq!(Value::items("a;b c;").collect::<Vec<_>>(), ["a", "b c", ""]);
    }

    proptest::proptest! {
        /// The fixed-form readers agree with chrono's general parser on every instant.
        #[test]
        fn the_fixed_forms_read_as_chrono_reads_them(
            millis in -2_208_988_800_000i64..7_258_118_400_000,
        ) {
            let instant = DateTime::from_timestamp_millis(millis).unwrap();
            for text in [
                instant.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                instant.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string(),
            ] {
                proptest::prop_assert_eq!(fixed_timestamp(text.as_bytes()), Some(millis));
                let general = NaiveDateTime::parse_from_str(&text[..23], "%Y-%m-%dT%H:%M:%S%.f")
                    .unwrap()
                    .and_utc()
                    .timestamp_millis();
                proptest::prop_assert_eq!(general, millis);
            }
            let micros = millis * 1000 + millis.rem_euclid(997);
            let instant = DateTime::from_timestamp_micros(micros).unwrap();
            let text = instant.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
            proptest::prop_assert_eq!(parse_ntz_micros(&text), Ok(micros));
            let text = instant.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
            proptest::prop_assert_eq!(fixed_micros(text.as_bytes()), Some((micros, &b"Z"[..])));
            let general = NaiveDateTime::parse_from_str(&text[..26], "%Y-%m-%dT%H:%M:%S%.f")
                .unwrap()
                .and_utc()
                .timestamp_micros();
            proptest::prop_assert_eq!(general, micros);
            let day = instant.format("%Y-%m-%d").to_string();
            proptest::prop_assert_eq!(fixed_date(day.as_bytes()), Some(instant.date_naive()));
        }
    }
}
