//! The SOQL subset the simulator understands:
//! `SELECT f1, f2, Parent.f3 FROM Object [WHERE cond AND cond ...] [ORDER BY f [ASC|DESC]
//! [NULLS FIRST|LAST], ...] [LIMIT n]`, where `Parent.f3` is a field of the record a lookup points
//! at (child-to-parent, one level), a condition is `field op literal` with op one of
//! `= != <> < <= > >= LIKE IN`, and ORDER BY keys are fields of the object itself. Anything else is answered with the
//! vendor's error codes: `MALFORMED_QUERY`, `INVALID_FIELD`, `INVALID_TYPE`.

use std::cmp::Ordering;

use super::Snapshot;
use super::schema::{self, FieldType, ObjectSchema};

/// A SOQL error in the vendor's terms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub(crate) struct SoqlError {
    /// `MALFORMED_QUERY`, `INVALID_FIELD` or `INVALID_TYPE`.
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

fn malformed(message: impl Into<String>) -> SoqlError {
    SoqlError {
        code: "MALFORMED_QUERY",
        message: message.into(),
    }
}

/// A parsed query.
#[derive(Debug, Clone)]
pub(crate) struct Soql {
    pub(crate) object: &'static ObjectSchema,
    /// Selected fields of the object itself, in SELECT order.
    pub(crate) fields: Vec<usize>,
    /// Every selected column, the object's own and its parents', in SELECT order.
    pub(crate) columns: Vec<Column>,
    pub(crate) conditions: Vec<Condition>,
    /// `ORDER BY` keys, most significant first (none: the simulator's own order).
    pub(crate) order_by: Vec<SortKey>,
    pub(crate) limit: Option<u64>,
}

/// One key of `ORDER BY` (SOQL and SOSL Reference, "ORDER BY"): ascending unless `DESC`, and
/// nulls first unless `NULLS LAST`, whatever the direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SortKey {
    /// A field of the queried object.
    pub(crate) field: usize,
    pub(crate) descending: bool,
    pub(crate) nulls_last: bool,
}

impl SortKey {
    /// How two rows' values of the key's field (of type `ty`) are ordered: numbers as numbers,
    /// false before true, dates and date-times by time, text without regard to case (the
    /// English locale's sort, by upper-case value).
    pub(crate) fn compare(&self, ty: FieldType, a: Option<&str>, b: Option<&str>) -> Ordering {
        let (a, b) = match (a, b) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) if self.nulls_last => return Ordering::Greater,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) if self.nulls_last => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(a), Some(b)) => (a, b),
        };
        let ordering = if ty.is_numeric() {
            match (a.parse::<f64>(), b.parse::<f64>()) {
                (Ok(x), Ok(y)) => x.total_cmp(&y),
                _ => a.cmp(b),
            }
        } else if ty == FieldType::Boolean {
            let truth = |v: &str| v.eq_ignore_ascii_case("true");
            truth(a).cmp(&truth(b))
        } else if ty.is_temporal() {
            // Stored in one fixed UTC form, so the text orders as the time does.
            a.cmp(b)
        } else {
            a.to_uppercase().cmp(&b.to_uppercase())
        };
        if self.descending {
            ordering.reverse()
        } else {
            ordering
        }
    }
}

/// A selected column.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Column {
    /// A field of the queried object.
    Own(usize),
    /// `Parent.Field`: a field of the record the lookup `lookup` points at.
    Parent(Parent),
}

/// A field reached through a lookup.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parent {
    /// The lookup field of the queried object.
    pub(crate) lookup: usize,
    /// The object it points at.
    pub(crate) object: &'static ObjectSchema,
    /// The field of that object.
    pub(crate) field: usize,
}

impl Column {
    /// The type of the column's values.
    pub(crate) fn ty(self, object: &ObjectSchema) -> FieldType {
        match self {
            Self::Own(field) => object.fields[field].ty,
            Self::Parent(p) => p.object.fields[p.field].ty,
        }
    }

    /// The column's name in a CSV header: `Name`, or `Account.Name`.
    pub(crate) fn name(self, object: &ObjectSchema) -> String {
        match self {
            Self::Own(field) => object.fields[field].name.to_owned(),
            Self::Parent(p) => format!(
                "{}.{}",
                object.fields[p.lookup]
                    .relationship_name()
                    .unwrap_or_default(),
                p.object.fields[p.field].name
            ),
        }
    }
}

/// One `field op literal` comparison.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    field: usize,
    op: Op,
    value: Literal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    In,
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Null,
    Text(String),
    Number(f64),
    Bool(bool),
    /// A date or date-time, normalised to the CSV format so that text order is time order.
    Temporal(String),
    List(Vec<Literal>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Bare(String),
    Comma,
    Open,
    Close,
    Op(&'static str),
}

fn tokenize(text: &str) -> Result<Vec<Token>, SoqlError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        i += 1;
        match c {
            c if c.is_whitespace() => {}
            ',' => tokens.push(Token::Comma),
            '(' => tokens.push(Token::Open),
            ')' => tokens.push(Token::Close),
            '\'' => {
                let mut s = String::new();
                loop {
                    match chars.get(i) {
                        None => return Err(malformed("unterminated string literal")),
                        Some('\\') => {
                            s.push(
                                *chars
                                    .get(i + 1)
                                    .ok_or_else(|| malformed("unterminated string literal"))?,
                            );
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&c) => {
                            s.push(c);
                            i += 1;
                        }
                    }
                }
                tokens.push(Token::Str(s));
            }
            '=' => tokens.push(Token::Op("=")),
            '!' if chars.get(i) == Some(&'=') => {
                i += 1;
                tokens.push(Token::Op("!="));
            }
            '<' | '>' => {
                let op = match (c, chars.get(i)) {
                    ('<', Some('=')) => "<=",
                    ('<', Some('>')) => "!=",
                    ('>', Some('=')) => ">=",
                    ('<', _) => "<",
                    _ => ">",
                };
                i += usize::from(op.len() == 2);
                tokens.push(Token::Op(op));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                while chars
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
                {
                    i += 1;
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+') && chars.get(i).is_some_and(char::is_ascii_digit)) =>
            {
                while chars.get(i).is_some_and(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '-' | '+')
                }) {
                    i += 1;
                }
                tokens.push(Token::Bare(chars[start..i].iter().collect()));
            }
            other => return Err(malformed(format!("unexpected token: '{other}'"))),
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn keyword(&mut self, kw: &str) -> bool {
        if matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_keyword(&mut self, kw: &str) -> Result<(), SoqlError> {
        if self.keyword(kw) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn word(&mut self) -> Result<String, SoqlError> {
        match self.next() {
            Some(Token::Word(w)) => Ok(w),
            _ => {
                self.pos -= 1;
                Err(self.unexpected())
            }
        }
    }

    fn unexpected(&self) -> SoqlError {
        match self.peek() {
            None => malformed("unexpected token: <EOF>"),
            Some(t) => malformed(format!("unexpected token: '{}'", show(t))),
        }
    }
}

fn show(token: &Token) -> String {
    match token {
        Token::Word(w) | Token::Bare(w) => w.clone(),
        Token::Str(s) => format!("'{s}'"),
        Token::Comma => ",".into(),
        Token::Open => "(".into(),
        Token::Close => ")".into(),
        Token::Op(op) => (*op).into(),
    }
}

const RESERVED: &[&str] = &[
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "LIMIT", "ORDER", "GROUP", "OFFSET", "HAVING",
];

/// Parses `text` against the org's schema.
pub(crate) fn parse(text: &str) -> Result<Soql, SoqlError> {
    let mut p = Parser {
        tokens: tokenize(text)?,
        pos: 0,
    };
    p.expect_keyword("SELECT")?;
    let mut names = vec![select_item(&mut p)?];
    while matches!(p.peek(), Some(Token::Comma)) {
        p.pos += 1;
        names.push(select_item(&mut p)?);
    }
    p.expect_keyword("FROM")?;
    let object_name = p.word()?;
    let object = schema::object(&object_name).ok_or_else(|| SoqlError {
        code: "INVALID_TYPE",
        message: format!(
            "sObject type '{object_name}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."
        ),
    })?;
    let columns = names
        .iter()
        .map(|n| column(object, n))
        .collect::<Result<Vec<_>, _>>()?;
    let fields = columns
        .iter()
        .filter_map(|c| match c {
            Column::Own(field) => Some(*field),
            Column::Parent(_) => None,
        })
        .collect();
    let mut conditions = Vec::new();
    if p.keyword("WHERE") {
        conditions.push(condition(&mut p, object)?);
        while p.keyword("AND") {
            conditions.push(condition(&mut p, object)?);
        }
    }
    let mut order_by = Vec::new();
    if p.keyword("ORDER") {
        p.expect_keyword("BY")?;
        order_by.push(sort_key(&mut p, object)?);
        while matches!(p.peek(), Some(Token::Comma)) {
            p.pos += 1;
            order_by.push(sort_key(&mut p, object)?);
        }
    }
    let mut limit = None;
    if p.keyword("LIMIT") {
        limit = match p.next() {
            Some(Token::Bare(n)) => Some(
                n.parse::<u64>()
                    .map_err(|_| malformed(format!("unexpected token: '{n}'")))?,
            ),
            _ => {
                p.pos -= 1;
                return Err(p.unexpected());
            }
        };
    }
    if p.peek().is_some() {
        return Err(p.unexpected());
    }
    Ok(Soql {
        object,
        fields,
        columns,
        conditions,
        order_by,
        limit,
    })
}

/// `field [ASC|DESC] [NULLS FIRST|LAST]`.
fn sort_key(p: &mut Parser, object: &ObjectSchema) -> Result<SortKey, SoqlError> {
    let name = p.word()?;
    let field = resolve(object, &name)?;
    // Multi-select picklists and long text areas cannot be sorted.
    if matches!(
        object.fields[field].ty,
        FieldType::MultiPicklist | FieldType::TextArea
    ) {
        return Err(SoqlError {
            code: "INVALID_FIELD",
            message: format!("field '{name}' can not be sorted in a query call"),
        });
    }
    let descending = p.keyword("DESC") || {
        p.keyword("ASC");
        false
    };
    let nulls_last = p.keyword("NULLS")
        && (p.keyword("LAST") || {
            p.expect_keyword("FIRST")?;
            false
        });
    Ok(SortKey {
        field,
        descending,
        nulls_last,
    })
}

fn select_item(p: &mut Parser) -> Result<String, SoqlError> {
    let name = p.word()?;
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(&name))
        || matches!(p.peek(), Some(Token::Open))
    {
        return Err(malformed(format!("unexpected token: '{name}'")));
    }
    Ok(name)
}

/// A selected name: a field of `object`, or `Relationship.Field` of the object a lookup of it
/// points at.
fn column(object: &ObjectSchema, name: &str) -> Result<Column, SoqlError> {
    let Some((relationship, rest)) = name.split_once('.') else {
        return resolve(object, name).map(Column::Own);
    };
    let lookup = object.fields.iter().position(|f| {
        f.relationship_name()
            .is_some_and(|r| r.eq_ignore_ascii_case(relationship))
    });
    let target = lookup.and_then(|l| match object.fields[l].ty {
        FieldType::Reference(prefix) => schema::object_by_prefix(prefix),
        _ => None,
    });
    let (Some(lookup), Some(target)) = (lookup, target) else {
        return Err(SoqlError {
            code: "INVALID_FIELD",
            message: format!(
                "Didn't understand relationship '{relationship}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names."
            ),
        });
    };
    let field = resolve(target, rest)?;
    Ok(Column::Parent(Parent {
        lookup,
        object: target,
        field,
    }))
}

fn resolve(object: &ObjectSchema, name: &str) -> Result<usize, SoqlError> {
    object.field_index(name).ok_or_else(|| SoqlError {
        code: "INVALID_FIELD",
        message: format!(
            "No such column '{name}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
            object.name
        ),
    })
}

fn condition(p: &mut Parser, object: &ObjectSchema) -> Result<Condition, SoqlError> {
    let name = p.word()?;
    let field = resolve(object, &name)?;
    let op = match p.next() {
        Some(Token::Op(op)) => match op {
            "=" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            _ => Op::Ge,
        },
        Some(Token::Word(w)) if w.eq_ignore_ascii_case("LIKE") => Op::Like,
        Some(Token::Word(w)) if w.eq_ignore_ascii_case("IN") => Op::In,
        _ => {
            p.pos -= 1;
            return Err(p.unexpected());
        }
    };
    let ty = object.fields[field].ty;
    let value = if op == Op::In {
        in_list(p, ty, &name)?
    } else {
        literal(p, ty, &name)?
    };
    if op == Op::Like && !matches!(value, Literal::Text(_)) {
        return Err(malformed("LIKE needs a quoted string"));
    }
    if value == Literal::Null && !matches!(op, Op::Eq | Op::Ne) {
        return Err(malformed("null can only be compared with = or !="));
    }
    Ok(Condition { field, op, value })
}

fn in_list(p: &mut Parser, ty: FieldType, name: &str) -> Result<Literal, SoqlError> {
    if p.next() != Some(Token::Open) {
        p.pos -= 1;
        return Err(p.unexpected());
    }
    let mut items = vec![literal(p, ty, name)?];
    while matches!(p.peek(), Some(Token::Comma)) {
        p.pos += 1;
        items.push(literal(p, ty, name)?);
    }
    if p.next() != Some(Token::Close) {
        p.pos -= 1;
        return Err(p.unexpected());
    }
    Ok(Literal::List(items))
}

fn literal(p: &mut Parser, ty: FieldType, name: &str) -> Result<Literal, SoqlError> {
    let wrong_type = |expected: &str| SoqlError {
        code: "INVALID_FIELD",
        message: format!("value of filter criterion for field '{name}' must be of type {expected}"),
    };
    let token = p
        .next()
        .ok_or_else(|| malformed("unexpected token: <EOF>"))?;
    match token {
        Token::Word(w) if w.eq_ignore_ascii_case("null") => Ok(Literal::Null),
        Token::Word(w)
            if ty == FieldType::Boolean
                && (w.eq_ignore_ascii_case("true") || w.eq_ignore_ascii_case("false")) =>
        {
            Ok(Literal::Bool(w.eq_ignore_ascii_case("true")))
        }
        Token::Bare(b) if ty.is_numeric() => b
            .parse()
            .map(Literal::Number)
            .map_err(|_| wrong_type("double")),
        Token::Bare(b) if ty.is_temporal() => {
            temporal(&b, ty).ok_or_else(|| wrong_type("date or dateTime"))
        }
        Token::Str(s) if !ty.is_numeric() && !ty.is_temporal() && ty != FieldType::Boolean => {
            Ok(Literal::Text(s))
        }
        Token::Str(_) | Token::Bare(_) if ty.is_numeric() => {
            Err(wrong_type("double and should not be enclosed in quotes"))
        }
        Token::Str(_) | Token::Bare(_) if ty.is_temporal() => Err(wrong_type(
            "date or dateTime and should not be enclosed in quotes",
        )),
        Token::Str(_) | Token::Bare(_) if ty == FieldType::Boolean => Err(wrong_type("boolean")),
        Token::Bare(_) => Err(wrong_type("string and should be enclosed in quotes")),
        other => Err(malformed(format!("unexpected token: '{}'", show(&other)))),
    }
}

/// Normalises a date or date-time literal to the CSV format of the field's type.
fn temporal(text: &str, ty: FieldType) -> Option<Literal> {
    let date_time = chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc));
    let normalised = match (ty, date_time) {
        (FieldType::Date, None) => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()?
            .format("%Y-%m-%d")
            .to_string(),
        (FieldType::Date, Some(t)) => t.format("%Y-%m-%d").to_string(),
        (_, Some(t)) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        (_, None) => {
            let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
            day.format("%Y-%m-%dT00:00:00.000Z").to_string()
        }
    };
    Some(Literal::Temporal(normalised))
}

impl Condition {
    /// Whether row `row` of the snapshot satisfies this condition; `scratch` is reused.
    pub(crate) fn matches(&self, snapshot: &Snapshot, row: u64, scratch: &mut Vec<u8>) -> bool {
        scratch.clear();
        let present = snapshot.write_raw(snapshot.stored(row), self.field, row, scratch);
        let value = present.then(|| String::from_utf8_lossy(scratch));
        compare(self.op, value.as_deref(), &self.value)
    }
}

fn compare(op: Op, value: Option<&str>, literal: &Literal) -> bool {
    match (op, literal) {
        (Op::Eq, Literal::Null) => value.is_none(),
        (Op::Ne, Literal::Null) => value.is_some(),
        (Op::In, Literal::List(items)) => items.iter().any(|item| compare(Op::Eq, value, item)),
        // SOQL's `!=` keeps rows whose field is null.
        (Op::Ne, _) if value.is_none() => true,
        (_, _) if value.is_none() => false,
        (Op::Like, Literal::Text(pattern)) => like(
            &value.unwrap_or_default().to_lowercase(),
            &pattern.to_lowercase(),
        ),
        _ => {
            let Some(order) = order(value.unwrap_or_default(), literal) else {
                return false;
            };
            match op {
                Op::Eq => order == Ordering::Equal,
                Op::Ne => order != Ordering::Equal,
                Op::Lt => order == Ordering::Less,
                Op::Le => order != Ordering::Greater,
                Op::Gt => order == Ordering::Greater,
                _ => order != Ordering::Less,
            }
        }
    }
}

fn order(value: &str, literal: &Literal) -> Option<Ordering> {
    match literal {
        Literal::Number(n) => value.parse::<f64>().ok()?.partial_cmp(n),
        Literal::Bool(b) => Some(value.eq_ignore_ascii_case("true").cmp(b)),
        Literal::Temporal(t) => Some(value.cmp(t.as_str())),
        Literal::Text(t) => Some(value.to_lowercase().cmp(&t.to_lowercase())),
        Literal::Null | Literal::List(_) => None,
    }
}

/// SQL LIKE with `%` (any run) and `_` (one character).
fn like(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    let (mut ti, mut pi, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '_' || p[pi] == t[ti]) {
            ti += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '%')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> &'static str {
        parse(text).expect_err("should fail").code
    }

    #[test]
    fn parses_the_subset() {
        let q = parse("select Id, name FROM account WHERE Industry = 'Banking' and NumberOfEmployees > 5 LIMIT 10")
            .expect("valid");
        assert_eq!(q.object.name, "Account");
        assert_eq!(q.fields, vec![0, 1]);
        let related = parse("SELECT Id, Account.Name, Email FROM Contact").expect("valid");
        assert_eq!(related.fields.len(), 2);
        assert_eq!(related.columns.len(), 3);
        assert_eq!(related.columns[1].name(related.object), "Account.Name");
        assert_eq!(q.conditions.len(), 2);
        assert_eq!(q.limit, Some(10));
        assert!(parse("SELECT Id FROM Account WHERE CreatedDate >= 2020-01-01T00:00:00Z").is_ok());
        assert!(
            parse("SELECT Id FROM Opportunity WHERE StageName IN ('Closed Won','Closed Lost')")
                .is_ok()
        );
        assert!(parse("SELECT Id FROM Contact WHERE LastName LIKE 'O\\'B%'").is_ok());
    }

    #[test]
    fn reports_vendor_error_codes() {
        assert_eq!(code("SELECT Id FRM Account"), "MALFORMED_QUERY");
        assert_eq!(code("SELECT COUNT() FROM Account"), "MALFORMED_QUERY");
        assert_eq!(
            code("SELECT Id FROM Account GROUP BY Name"),
            "MALFORMED_QUERY"
        );
        assert_eq!(code("SELECT Nope FROM Account"), "INVALID_FIELD");
        assert_eq!(
            code("SELECT Id FROM Account WHERE NumberOfEmployees = 'x'"),
            "INVALID_FIELD"
        );
        assert_eq!(code("SELECT Id FROM Nope__c"), "INVALID_TYPE");
        assert_eq!(code("SELECT Nope.Name FROM Contact"), "INVALID_FIELD");
        assert_eq!(code("SELECT Account.Nope FROM Contact"), "INVALID_FIELD");
        assert_eq!(code("SELECT Id FROM Account LIMIT"), "MALFORMED_QUERY");
    }

    #[test]
    fn compares_like_soql() {
        assert!(compare(Op::Eq, Some("ACME"), &Literal::Text("acme".into())));
        assert!(compare(Op::Ne, None, &Literal::Text("acme".into())));
        assert!(!compare(Op::Gt, None, &Literal::Number(1.0)));
        assert!(compare(Op::Gt, Some("10"), &Literal::Number(9.5)));
        assert!(like("o'brien", "o'b%"));
        assert!(like("abc", "a_c") && !like("abcd", "a_c"));
    }

    #[test]
    fn order_by_parses_its_keys_and_orders_like_soql() {
        let q = parse("SELECT Id FROM Account WHERE Industry != null ORDER BY Name DESC NULLS LAST, NumberOfEmployees LIMIT 5").unwrap();
        assert_eq!(q.limit, Some(5));
        let name = q.object.field_index("Name").unwrap();
        let employees = q.object.field_index("NumberOfEmployees").unwrap();
        assert_eq!(
            q.order_by,
            [
                SortKey {
                    field: name,
                    descending: true,
                    nulls_last: true
                },
                SortKey {
                    field: employees,
                    descending: false,
                    nulls_last: false
                },
            ]
        );
        let text = q.order_by[0];
        assert_eq!(
            text.compare(FieldType::Text(255), Some("apple"), Some("Banana")),
            Ordering::Greater
        );
        assert_eq!(
            text.compare(FieldType::Text(255), None, Some("a")),
            Ordering::Greater
        );
        let number = q.order_by[1];
        assert_eq!(
            number.compare(FieldType::Int, Some("9"), Some("10")),
            Ordering::Less
        );
        assert_eq!(
            number.compare(FieldType::Int, None, Some("1")),
            Ordering::Less
        );
        assert_eq!(code("SELECT Id FROM Account ORDER Name"), "MALFORMED_QUERY");
        assert_eq!(
            code("SELECT Id FROM Account ORDER BY Nope"),
            "INVALID_FIELD"
        );
        assert_eq!(
            code("SELECT Id FROM Account ORDER BY Name NULLS"),
            "MALFORMED_QUERY"
        );
        assert_eq!(
            code("SELECT Id FROM Account LIMIT 5 ORDER BY Name"),
            "MALFORMED_QUERY"
        );
    }
}
