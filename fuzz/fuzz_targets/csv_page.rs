//! Fuzzes the CSV record scanning of the download path (row counts, the header cut) and the ingest
//! splitter's cut at record boundaries.
//!
//! Two kinds of input:
//! - raw bytes, cut into chunks: nothing panics, chunking never changes what the scanner sees, and
//!   the scanner, the header splitter and the splitter's cut agree with a byte-by-byte reference;
//! - well-formed CSV built from records (every quoting the vendors use, quoted newlines, doubled
//!   quotes, each Salesforce delimiter, LF or CRLF): the scanner's count equals the `csv` crate's
//!   (the oracle, same dialect) and the number of records written.
#![no_main]

use arbitrary::Arbitrary;
use haul::fuzzing;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Input {
    Raw { data: Vec<u8>, cuts: Vec<u16> },
    Records(Page),
}

#[derive(Debug, Arbitrary)]
struct Page {
    delimiter: Delimiter,
    crlf: bool,
    terminate_last: bool,
    records: Vec<Vec<Field>>,
    cuts: Vec<u16>,
}

/// Salesforce's `columnDelimiter` values.
#[derive(Debug, Clone, Copy, Arbitrary)]
enum Delimiter {
    Comma,
    Tab,
    Pipe,
    Semicolon,
    Caret,
    Backquote,
}

impl Delimiter {
    fn byte(self) -> u8 {
        match self {
            Self::Comma => b',',
            Self::Tab => b'\t',
            Self::Pipe => b'|',
            Self::Semicolon => b';',
            Self::Caret => b'^',
            Self::Backquote => b'`',
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Field {
    /// Any bytes, quoted, inner quotes doubled.
    Quoted(Vec<u8>),
    /// Bytes without quotes, line breaks or the delimiter, unquoted.
    Plain(Vec<u8>),
    /// Salesforce's null: an empty unquoted field.
    Null,
}

fuzz_target!(|input: Input| match input {
    Input::Raw { data, cuts } => raw(&data, &offsets(&cuts, data.len())),
    Input::Records(page) => records(&page),
});

/// Chunk boundaries within `0..=len`, ascending.
fn offsets(cuts: &[u16], len: usize) -> Vec<usize> {
    let mut offsets: Vec<usize> = cuts.iter().map(|&c| usize::from(c) % (len + 1)).collect();
    offsets.sort_unstable();
    offsets
}

/// The record count, whether the data ends in quotes, and every record end, one byte at a time.
fn reference(data: &[u8]) -> (u64, bool, Vec<usize>) {
    let (mut in_quotes, mut ends) = (false, Vec::new());
    for (i, &byte) in data.iter().enumerate() {
        match byte {
            b'"' => in_quotes = !in_quotes,
            b'\n' if !in_quotes => ends.push(i + 1),
            _ => {}
        }
    }
    let pending = data.last().is_some_and(|&b| b != b'\n' || in_quotes);
    (ends.len() as u64 + u64::from(pending), in_quotes, ends)
}

fn raw(data: &[u8], cuts: &[usize]) {
    let (records, in_quotes, ends) = reference(data);
    let whole = fuzzing::scan(data, &[]);
    assert_eq!(
        fuzzing::scan(data, cuts),
        whole,
        "chunking changed the scan"
    );
    assert_eq!(whole.records, records);
    assert_eq!(whole.ends_in_quotes, in_quotes);
    assert_eq!(whole.first_end, ends.first().copied());
    let (header, rest) = fuzzing::split_header(data, cuts).expect("a header under 1 MiB");
    assert_eq!(header.len(), ends.first().copied().unwrap_or(data.len()));
    assert_eq!(
        [header, rest].concat(),
        data,
        "the header split lost or added bytes"
    );
    for &limit in cuts.iter().chain([data.len()].iter()) {
        let expected = ends.iter().rev().find(|&&end| end <= limit).copied();
        assert_eq!(
            fuzzing::last_record_end(data, limit),
            expected,
            "limit {limit}"
        );
    }
}

/// The page as the server would write it; the records as written (a record that would be an empty
/// line gets a quoted empty field instead, as an empty line is no record to a CSV reader).
fn render(page: &Page) -> (Vec<u8>, Vec<usize>) {
    let delimiter = page.delimiter.byte();
    let (mut out, mut widths) = (Vec::new(), Vec::new());
    for (i, record) in page.records.iter().enumerate() {
        let start = out.len();
        for (j, field) in record.iter().enumerate() {
            if j > 0 {
                out.push(delimiter);
            }
            match field {
                Field::Quoted(text) => {
                    out.push(b'"');
                    for &b in text {
                        out.extend_from_slice(if b == b'"' {
                            b"\"\""
                        } else {
                            std::slice::from_ref(&b)
                        });
                    }
                    out.push(b'"');
                }
                Field::Plain(text) => out.extend(
                    text.iter()
                        .filter(|&&b| !matches!(b, b'"' | b'\n' | b'\r') && b != delimiter),
                ),
                Field::Null => {}
            }
        }
        if out.len() == start {
            out.extend_from_slice(b"\"\"");
        }
        widths.push(record.len().max(1));
        if i + 1 < page.records.len() || page.terminate_last {
            out.extend_from_slice(if page.crlf { b"\r\n" } else { b"\n" });
        }
    }
    (out, widths)
}

fn records(page: &Page) {
    let (data, widths) = render(page);
    let cuts = offsets(&page.cuts, data.len());
    let scan = fuzzing::scan(&data, &cuts);
    assert_eq!(
        scan.records,
        widths.len() as u64,
        "scanner vs records written"
    );
    assert!(!scan.ends_in_quotes);
    let mut oracle = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(page.delimiter.byte())
        .from_reader(data.as_slice());
    let read: Vec<usize> = oracle
        .byte_records()
        .map(|r| r.expect("well-formed CSV").len())
        .collect();
    assert_eq!(read, widths, "the csv crate vs records written");
    let (_, rest) = fuzzing::split_header(&data, &cuts).expect("a header under 1 MiB");
    assert_eq!(
        fuzzing::scan(&rest, &[]).records,
        scan.records.saturating_sub(1)
    );
    if page.terminate_last && !data.is_empty() {
        assert_eq!(
            fuzzing::last_record_end(&data, data.len()),
            Some(data.len())
        );
    }
}
