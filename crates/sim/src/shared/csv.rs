//! CSV in the vendor's dialect: every value double-quoted, embedded quotes doubled, null as an empty
//! unquoted field; the job's delimiter and line ending. Plus a parser for uploaded job data.

use haul_types::{ColumnDelimiter, LineEnding};

/// Delimiter and line ending as bytes, resolved once per response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dialect {
    pub(crate) delimiter: u8,
    pub(crate) line_ending: &'static [u8],
}

impl Dialect {
    /// The dialect of a job; unknown values were rejected when the job was created.
    pub(crate) fn new(delimiter: &ColumnDelimiter, line_ending: &LineEnding) -> Self {
        Self {
            delimiter: delimiter.as_byte().unwrap_or(b','),
            line_ending: line_ending.as_bytes().unwrap_or(b"\n"),
        }
    }
}

impl Default for Dialect {
    fn default() -> Self {
        Self::new(&ColumnDelimiter::Comma, &LineEnding::Lf)
    }
}

/// Appends `value` double-quoted, doubling embedded quotes.
pub(crate) fn write_quoted(out: &mut Vec<u8>, value: &[u8]) {
    out.push(b'"');
    if value.contains(&b'"') {
        for &b in value {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
    } else {
        out.extend_from_slice(value);
    }
    out.push(b'"');
}

/// Appends a field: quoted text, or nothing for null.
pub(crate) fn write_field(out: &mut Vec<u8>, value: Option<&str>) {
    if let Some(value) = value {
        write_quoted(out, value.as_bytes());
    }
}

/// Appends one whole record.
pub(crate) fn write_record<'a>(
    out: &mut Vec<u8>,
    dialect: Dialect,
    values: impl IntoIterator<Item = Option<&'a str>>,
) {
    for (i, value) in values.into_iter().enumerate() {
        if i > 0 {
            out.push(dialect.delimiter);
        }
        write_field(out, value);
    }
    out.extend_from_slice(dialect.line_ending);
}

/// Why uploaded CSV could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CsvError {
    /// A quoted field never closed.
    #[error("unterminated quoted field starting on record {0}")]
    Unterminated(usize),
    /// A quote appeared inside an unquoted field, or text followed a closing quote.
    #[error("unexpected quote character on record {0}")]
    StrayQuote(usize),
    /// The bytes are not UTF-8.
    #[error("the data is not valid UTF-8")]
    NotUtf8,
}

/// Parses CSV with `delimiter`. Records end at LF or CRLF outside quotes (whatever the job declared:
/// the simulator is lenient here). A trailing line ending does not make an empty record.
pub(crate) fn parse(data: &[u8], delimiter: u8) -> Result<Vec<Vec<String>>, CsvError> {
    let text = std::str::from_utf8(data).map_err(|_| CsvError::NotUtf8)?;
    let bytes = text.as_bytes();
    let mut records = Vec::new();
    let mut record: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut i = 0;
    let mut at_field_start = true;
    while i < bytes.len() {
        let b = bytes[i];
        if at_field_start && b == b'"' {
            i = read_quoted(text, i + 1, &mut field)
                .ok_or(CsvError::Unterminated(records.len() + 1))?;
            let next = bytes.get(i).copied();
            if !matches!(next, None | Some(b'\n') | Some(b'\r')) && next != Some(delimiter) {
                return Err(CsvError::StrayQuote(records.len() + 1));
            }
            at_field_start = false;
            continue;
        }
        if b == delimiter {
            record.push(std::mem::take(&mut field));
            at_field_start = true;
        } else if b == b'\n' || (b == b'\r' && bytes.get(i + 1) == Some(&b'\n')) {
            record.push(std::mem::take(&mut field));
            records.push(std::mem::take(&mut record));
            at_field_start = true;
            i += usize::from(b == b'\r');
        } else if b == b'"' {
            return Err(CsvError::StrayQuote(records.len() + 1));
        } else {
            let end = next_special(bytes, i, delimiter);
            field.push_str(&text[i..end]);
            at_field_start = false;
            i = end;
            continue;
        }
        i += 1;
    }
    if !at_field_start || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

/// Reads a quoted field's content starting just after the opening quote; returns the index after
/// the closing quote.
fn read_quoted(text: &str, mut i: usize, field: &mut String) -> Option<usize> {
    let bytes = text.as_bytes();
    loop {
        let close = i + bytes[i..].iter().position(|&b| b == b'"')?;
        field.push_str(&text[i..close]);
        if bytes.get(close + 1) == Some(&b'"') {
            field.push('"');
            i = close + 2;
        } else {
            return Some(close + 1);
        }
    }
}

fn next_special(bytes: &[u8], from: usize, delimiter: u8) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == delimiter || b == b'\n' || b == b'\r' || b == b'"')
        .map_or(bytes.len(), |p| from + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_vendor_dialect() {
        let mut out = Vec::new();
        let dialect = Dialect::new(&ColumnDelimiter::Pipe, &LineEnding::Crlf);
        write_record(&mut out, dialect, [Some("a\"b"), None, Some("x|y\nz")]);
        assert_eq!(out, b"\"a\"\"b\"||\"x|y\nz\"\r\n");
    }

    #[test]
    fn parses_quotes_newlines_and_both_line_endings() {
        let data = b"Name,Description\r\n\"Acme, \"\"Inc\"\"\",\"two\nlines\"\nplain,\n";
        let records = parse(data, b',').expect("valid csv");
        assert_eq!(
            records,
            vec![
                vec!["Name".to_owned(), "Description".to_owned()],
                vec!["Acme, \"Inc\"".to_owned(), "two\nlines".to_owned()],
                vec!["plain".to_owned(), String::new()],
            ]
        );
        assert_eq!(parse(b"a;b", b';').expect("valid"), vec![vec!["a", "b"]]);
    }

    #[test]
    fn rejects_broken_quoting() {
        assert_eq!(parse(b"\"open,x\n", b','), Err(CsvError::Unterminated(1)));
        assert_eq!(parse(b"a\"b\n", b','), Err(CsvError::StrayQuote(1)));
        assert_eq!(parse(b"\"a\"b\n", b','), Err(CsvError::StrayQuote(1)));
    }
}
