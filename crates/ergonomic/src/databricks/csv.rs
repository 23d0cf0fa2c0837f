//! A CSV chunk as the engine expects it. Databricks writes a header row in the first chunk only,
//! and a null as an unquoted `null`; the engine wants every partition to start with the same
//! header row, and reads an empty field as null. So each chunk is rewritten as it streams: the
//! header row built from the manifest's column names goes first (the first chunk's own header is
//! read, checked against those names, and replaced, so that every partition's header is the same
//! bytes), and an unquoted `null` field becomes empty. A quoted `"null"` stays text.

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use crate::error::{Error, Result};

/// `chunk` (of a result whose columns are `names`; `first` for chunk 0) as the engine expects it,
/// rewritten as it streams.
pub(crate) fn rewritten(
    chunk: BoxStream<'static, Result<Bytes>>,
    names: &[String],
    first: bool,
) -> BoxStream<'static, Result<Bytes>> {
    let rewriter = ChunkCsv::new(names, first);
    futures::stream::unfold(Some((chunk, rewriter)), |state| async move {
        let (mut chunk, mut rewriter) = state?;
        match chunk.next().await {
            Some(Ok(bytes)) => match rewriter.feed(&bytes) {
                Ok(out) => Some((Ok(out), Some((chunk, rewriter)))),
                Err(error) => Some((Err(error), None)),
            },
            Some(Err(error)) => Some((Err(error), None)),
            None => Some((rewriter.finish(), None)),
        }
    })
    .try_filter(|bytes| futures::future::ready(!bytes.is_empty()))
    .boxed()
}

/// Where the scanner stands in the current record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field.
    Start,
    /// Inside a field that is not quoted.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// After a quote inside a quoted field: an escaped quote, or the field's end.
    QuotedQuote,
    /// The first bytes of `null` at a field's start, held back until the field ends.
    Null(u8),
}

const NULL: &[u8] = b"null";

/// Rewrites one chunk as it arrives (see the module's documentation).
struct ChunkCsv {
    /// The header row, without its terminator.
    header: Vec<u8>,
    /// The column names, to check the first chunk's own header row against.
    names: Vec<String>,
    /// While the first chunk's own header row is being read: its bytes so far.
    own_header: Option<Vec<u8>>,
    /// Output held until the first record's terminator is known, so that the header row gets the
    /// same (`None` once the header row went out, and all along in the first chunk, whose own
    /// header row says it).
    held: Option<Vec<u8>>,
    state: State,
}

impl ChunkCsv {
    /// A rewriter for a chunk of a result whose columns are `names`; `first` for chunk 0, the
    /// one that holds its own header row.
    fn new(names: &[String], first: bool) -> Self {
        Self {
            header: header_row(names),
            names: names.to_vec(),
            own_header: first.then(Vec::new),
            held: (!first).then(Vec::new),
            state: State::Start,
        }
    }

    /// The output for `input`, possibly empty (held back until more arrives).
    fn feed(&mut self, input: &[u8]) -> Result<Bytes> {
        let mut out = Vec::with_capacity(input.len() + self.header.len() + 2);
        let mut at = 0;
        while at < input.len() {
            if self.own_header.is_none() && self.held.is_none() {
                at += self.run(&input[at..], &mut out);
                continue;
            }
            let byte = input[at];
            at += 1;
            if let Some(mut own) = self.own_header.take() {
                if self.scan(byte, &mut own, false) {
                    self.check_own_header(&own)?;
                    self.emit_header(terminator_of(&own), &mut out);
                } else {
                    self.own_header = Some(own);
                }
            } else if let Some(mut held) = self.held.take() {
                if self.scan(byte, &mut held, true) {
                    self.emit_header(terminator_of(&held), &mut out);
                    out.extend_from_slice(&held);
                } else {
                    self.held = Some(held);
                }
            }
        }
        Ok(out.into())
    }

    /// Once the header row is out: copies the longest stretch of `input` that cannot hold a
    /// `null` field at once, else scans one byte; returns how many bytes it took (one at least).
    /// Inside quotes the stretch runs to the next quote. Outside them it runs to the next quote
    /// or `n`, whatever the fields in between: only there can a quoted field or a `null` start,
    /// and only if the byte before it ends a field. Numbers, dates and times hold neither, so
    /// whole runs of such fields pass at the speed of a copy.
    fn run(&mut self, input: &[u8], out: &mut Vec<u8>) -> usize {
        let end = match self.state {
            State::Quoted => memchr::memchr(b'"', input),
            State::Start | State::Unquoted => memchr::memchr2(b'"', b'n', input),
            _ => {
                self.scan(input[0], out, true);
                return 1;
            }
        };
        let Some(end) = end else {
            out.extend_from_slice(input);
            self.after(input);
            return input.len();
        };
        out.extend_from_slice(&input[..end]);
        self.after(&input[..end]);
        self.scan(input[end], out, true);
        end + 1
    }

    /// The state after `copied`, a stretch that holds no quote (inside quotes) or no quote and no
    /// `n` (outside them).
    fn after(&mut self, copied: &[u8]) {
        let Some(&last) = copied.last() else {
            return;
        };
        self.state = match self.state {
            State::Quoted => State::Quoted,
            _ if matches!(last, b',' | b'\r' | b'\n') => State::Start,
            _ => State::Unquoted,
        };
    }

    /// What is still held at the end of the chunk.
    fn finish(mut self) -> Result<Bytes> {
        let mut out = Vec::new();
        if let Some(own) = self.own_header.take() {
            if !own.is_empty() {
                self.check_own_header(&own)?;
            }
            self.emit_header(terminator_of(&own), &mut out);
            return Ok(out.into());
        }
        let mut tail = Vec::new();
        if let State::Null(seen) = self.state
            && usize::from(seen) < NULL.len()
        {
            tail.extend_from_slice(&NULL[..usize::from(seen)]);
        }
        match self.held.take() {
            Some(mut held) => {
                held.extend_from_slice(&tail);
                self.emit_header(terminator_of(&held), &mut out);
                out.extend_from_slice(&held);
            }
            None => out.extend_from_slice(&tail),
        }
        Ok(out.into())
    }

    fn emit_header(&mut self, terminator: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(&self.header);
        out.extend_from_slice(terminator);
        self.held = None;
    }

    fn check_own_header(&self, own: &[u8]) -> Result<()> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(own);
        let found: Vec<String> = match reader.records().next() {
            Some(Ok(record)) => record.iter().map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        let same = found.len() == self.names.len()
            && found
                .iter()
                .zip(&self.names)
                .all(|(a, b)| a.eq_ignore_ascii_case(b));
        if same {
            Ok(())
        } else {
            Err(Error::integrity(format!(
                "the first chunk's header row names {found:?}, the manifest {:?}",
                self.names
            )))
        }
    }

    /// Moves the scanner over `byte`, writing what it lets out to `out` (an unquoted `null` field
    /// written empty when `rewrite`); true when the byte ended a record.
    fn scan(&mut self, byte: u8, out: &mut Vec<u8>, rewrite: bool) -> bool {
        match self.state {
            State::Start => match byte {
                b'"' => self.pass(State::Quoted, byte, out),
                b'n' if rewrite => {
                    self.state = State::Null(1);
                    false
                }
                _ => self.unquoted(byte, out),
            },
            State::Unquoted => self.unquoted(byte, out),
            State::Quoted if byte == b'"' => self.pass(State::QuotedQuote, byte, out),
            State::Quoted => self.pass(State::Quoted, byte, out),
            State::QuotedQuote if byte == b'"' => self.pass(State::Quoted, byte, out),
            State::QuotedQuote => self.unquoted(byte, out),
            State::Null(seen) => {
                let seen = usize::from(seen);
                if seen < NULL.len() && byte == NULL[seen] {
                    self.state = State::Null(seen as u8 + 1);
                    false
                } else if seen == NULL.len() && matches!(byte, b',' | b'\r' | b'\n') {
                    self.unquoted(byte, out)
                } else {
                    out.extend_from_slice(&NULL[..seen]);
                    self.unquoted(byte, out)
                }
            }
        }
    }

    /// A byte outside quotes: a delimiter or line end starts a field.
    fn unquoted(&mut self, byte: u8, out: &mut Vec<u8>) -> bool {
        out.push(byte);
        self.state = match byte {
            b',' | b'\r' | b'\n' => State::Start,
            _ => State::Unquoted,
        };
        byte == b'\n'
    }

    fn pass(&mut self, next: State, byte: u8, out: &mut Vec<u8>) -> bool {
        out.push(byte);
        self.state = next;
        false
    }
}

/// The record terminator `record` ends with: CRLF or LF (LF when it has none).
fn terminator_of(record: &[u8]) -> &'static [u8] {
    if record.ends_with(b"\r\n") {
        b"\r\n"
    } else {
        b"\n"
    }
}

/// The names as one CSV record, quoted where they must be.
fn header_row(names: &[String]) -> Vec<u8> {
    let mut row = Vec::new();
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            row.push(b',');
        }
        if name.contains([',', '"', '\r', '\n']) {
            row.push(b'"');
            row.extend_from_slice(name.replace('"', "\"\"").as_bytes());
            row.push(b'"');
        } else {
            row.extend_from_slice(name.as_bytes());
        }
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec!["id".into(), "note, with comma".into()]
    }

    /// Feeds `input` in pieces of `piece` bytes.
    fn rewrite(input: &str, first: bool, piece: usize) -> Result<String> {
        let mut csv = ChunkCsv::new(&names(), first);
        let mut out = Vec::new();
        for part in input.as_bytes().chunks(piece.max(1)) {
            out.extend_from_slice(&csv.feed(part)?);
        }
        out.extend_from_slice(&csv.finish()?);
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn later_chunks_get_the_header_row_and_nulls_become_empty() {
        let input = "1,null\r\n2,\"null\"\r\nnull,nullable\r\n3,nul\r\n";
        let expected = "id,\"note, with comma\"\r\n1,\r\n2,\"null\"\r\n,nullable\r\n3,nul\r\n";
        for piece in [1, 2, 3, 5, 64] {
            assert_eq!(rewrite(input, false, piece).unwrap(), expected, "{piece}");
        }
        assert_eq!(
            rewrite("4,null", false, 2).unwrap(),
            "id,\"note, with comma\"\n4,"
        );
        assert_eq!(
            rewrite("5,\"a\"\"null\nb\"\n", false, 1).unwrap(),
            "id,\"note, with comma\"\n5,\"a\"\"null\nb\"\n"
        );
    }

    #[test]
    fn the_first_chunk_keeps_its_rows_and_its_header_is_checked_and_replaced() {
        let input = "ID,\"note, with comma\"\n1,x\n2,null\n";
        for piece in [1, 4, 64] {
            assert_eq!(
                rewrite(input, true, piece).unwrap(),
                "id,\"note, with comma\"\n1,x\n2,\n"
            );
        }
        let wrong = rewrite("id,other\n1,x\n", true, 3).unwrap_err();
        assert!(wrong.is_integrity(), "{wrong}");
    }

    #[test]
    fn long_chunks_cut_anywhere_read_as_their_rows() {
        let fields = [
            ("null", ""),
            ("\"null\"", "\"null\""),
            ("nullable", "nullable"),
            ("\"a,\"\"b\"\"\nnull\r\nc\"", "\"a,\"\"b\"\"\nnull\r\nc\""),
            ("12345.678", "12345.678"),
            ("nul", "nul"),
            ("\"\"", "\"\""),
        ];
        let (mut input, mut expected) = (String::new(), String::from("id,\"note, with comma\"\n"));
        for i in 0..700 {
            let (a, b) = (fields[i % fields.len()], fields[(i / 3) % fields.len()]);
            input.push_str(&format!("{},{}\n", a.0, b.0));
            expected.push_str(&format!("{},{}\n", a.1, b.1));
        }
        for piece in [1, 7, 64, 4096, input.len()] {
            assert_eq!(rewrite(&input, false, piece).unwrap(), expected, "{piece}");
        }
    }

    #[test]
    fn empty_chunks_are_a_header_row_alone() {
        assert_eq!(rewrite("", false, 1).unwrap(), "id,\"note, with comma\"\n");
        assert_eq!(rewrite("", true, 1).unwrap(), "id,\"note, with comma\"\n");
        assert!(
            rewrite("id,note, with comma\r\n", true, 1)
                .unwrap_err()
                .is_integrity()
        );
    }

    /// An independent reading of a whole chunk of well-formed CSV: each record's fields, quoted
    /// ones copied as they are, an unquoted `null` made empty; the header row first, ended as the
    /// first record is (LF when there is none).
    fn oracle(records: &[Vec<String>], terminator: &str) -> String {
        let header_end = if records.is_empty() { "\n" } else { terminator };
        let mut out = format!("id,\"note, with comma\"{header_end}");
        for record in records {
            let fields: Vec<&str> = record
                .iter()
                .map(|f| if f == "null" { "" } else { f.as_str() })
                .collect();
            out.push_str(&fields.join(","));
            out.push_str(terminator);
        }
        out
    }

    /// A field as Databricks could write it: unquoted text without delimiters, quotes or line
    /// ends (`null` and its look-alikes often), or a quoted one holding anything.
    fn field() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            Just("null".to_owned()),
            Just("nul".to_owned()),
            Just("nullx".to_owned()),
            Just(String::new()),
            "[0-9a-z.:T -]{0,12}",
            "[nul,\"\r\n a]{0,10}".prop_map(|text| format!("\"{}\"", text.replace('"', "\"\""))),
        ]
    }

    proptest::proptest! {
        /// The streaming rewrite, cut anywhere, reads every record as the oracle does.
        #[test]
        fn the_rewrite_cut_anywhere_agrees_with_a_whole_reading(
            records in proptest::collection::vec(proptest::collection::vec(field(), 1..5), 0..30),
            crlf in proptest::bool::ANY,
            piece in 1usize..40,
        ) {
            let terminator = if crlf { "\r\n" } else { "\n" };
            let input: String = records
                .iter()
                .map(|r| format!("{}{terminator}", r.join(",")))
                .collect();
            let expected = oracle(&records, terminator);
            proptest::prop_assert_eq!(rewrite(&input, false, piece).unwrap(), expected);
        }
    }
}
