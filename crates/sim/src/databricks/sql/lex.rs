//! The tokens of the SQL subset: words, backticked names, numbers, quoted strings, symbols and
//! parameter markers, each with the byte where it starts; and where a byte is as Databricks
//! reports it (line from 1, position in the line from 0).

/// A token.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// A keyword or bare name.
    Word(String),
    /// A name in backticks.
    Quoted(String),
    /// Digits, with a decimal point perhaps.
    Number(String),
    /// A string in single quotes.
    Str(String),
    /// One of [`SYMBOLS`].
    Sym(&'static str),
    /// A parameter marker `:name` (the name).
    Param(String),
    /// The end of the statement.
    End,
}

/// A token, where it starts, and its text as written.
#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) at: usize,
    pub(super) text: String,
}

/// The symbols of the subset, longest first where one starts another.
pub(super) const SYMBOLS: &[&str] = &[
    "<>", "!=", "<=", ">=", "=", "<", ">", ",", ".", "*", ";", "-",
];

/// The tokens of `sql`, ending with [`Tok::End`]; or the byte where no token starts.
pub(super) fn lex(sql: &str) -> Result<Vec<Token>, usize> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let tok = if c.is_ascii_alphabetic() || c == b'_' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            Tok::Word(sql[start..i].to_owned())
        } else if c.is_ascii_digit() {
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            Tok::Number(sql[start..i].to_owned())
        } else if c == b'\'' || c == b'`' {
            let (text, end) = quoted(sql, i).ok_or(start)?;
            i = end;
            if c == b'`' {
                Tok::Quoted(text)
            } else {
                Tok::Str(text)
            }
        } else if c == b':' && bytes.get(i + 1).is_some_and(|b| b.is_ascii_alphabetic()) {
            i += 1;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            Tok::Param(sql[start + 1..i].to_owned())
        } else if let Some(sym) = SYMBOLS.iter().find(|s| sql[i..].starts_with(**s)) {
            i += sym.len();
            Tok::Sym(sym)
        } else {
            return Err(start);
        };
        out.push(Token {
            tok,
            at: start,
            text: sql[start..i].to_owned(),
        });
    }
    out.push(Token {
        tok: Tok::End,
        at: sql.len(),
        text: String::new(),
    });
    Ok(out)
}

/// The text of a quoted string or name starting at `start` (the quote doubled inside, or a
/// backslash escape), and where it ends.
fn quoted(sql: &str, start: usize) -> Option<(String, usize)> {
    let quote = sql[start..].chars().next()?;
    let mut text = String::new();
    let mut chars = sql[start + 1..].char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c == quote {
            if chars.peek().map(|&(_, next)| next) == Some(quote) {
                chars.next();
                text.push(quote);
                continue;
            }
            return Some((text, start + 1 + at + 1));
        }
        if c == '\\' && quote == '\'' {
            text.push(chars.next()?.1);
            continue;
        }
        text.push(c);
    }
    None
}

/// Line (from 1) and position in the line (from 0) of byte `at`.
pub(super) fn line_pos(sql: &str, at: usize) -> (usize, usize) {
    let before = &sql[..at.min(sql.len())];
    let line = before.matches('\n').count() + 1;
    let pos = before
        .rsplit('\n')
        .next()
        .unwrap_or_default()
        .chars()
        .count();
    (line, pos)
}
