//! The SQL the simulated warehouse runs: `SELECT <* | col, ...> FROM [catalog.][schema.]table
//! [WHERE cond AND ...] [LIMIT n] [;]`, where a condition is `col <op> literal` (`=`, `<>`, `!=`,
//! `<`, `<=`, `>`, `>=`) or `col IS [NOT] NULL`, and a literal a number, a `'string'`, `TRUE`,
//! `FALSE`, `NULL`, `DATE '…'`, `TIMESTAMP '…'` or a named parameter marker `:name`.
//!
//! Keywords and names are case-insensitive; names may be quoted with backticks. Anything else is
//! answered as Databricks SQL answers what it cannot parse: `[PARSE_SYNTAX_ERROR] Syntax error at
//! or near 'x'. SQLSTATE: 42601 (line L, pos P)` followed by the statement with the spot marked.
//! Unknown tables, columns and parameters, and literals that do not read as their column's type,
//! get Databricks' error classes (`TABLE_OR_VIEW_NOT_FOUND`, `UNRESOLVED_COLUMN.WITH_SUGGESTION`,
//! `UNBOUND_SQL_PARAMETER`, `CAST_INVALID_INPUT`) with their SQLSTATEs.

mod lex;

use self::lex::{Tok, Token, lex, line_pos};
use super::tables::{Data, SqlType, TABLES, Value};

/// Why a statement failed, as its `status.error.message` and `status.sql_state` say it (an
/// empty SQLSTATE is left out: failures outside the SQL engine have none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SqlError {
    pub(crate) message: String,
    pub(crate) sql_state: &'static str,
}

/// A comparison of a WHERE condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    IsNull,
    IsNotNull,
}

/// One condition: column, comparison, and the literal read as the column's type (`Null` for a
/// `NULL` literal, which no row equals).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Filter {
    pub(crate) column: usize,
    pub(crate) op: Op,
    pub(crate) value: Value,
}

impl Filter {
    /// Whether `value` passes this condition.
    pub(crate) fn keeps(&self, value: &Value) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self.op {
            Op::IsNull => *value == Value::Null,
            Op::IsNotNull => *value != Value::Null,
            op => match (value.compare(&self.value), op) {
                (None, _) => false,
                (Some(o), Op::Eq) => o == Equal,
                (Some(o), Op::Ne) => o != Equal,
                (Some(o), Op::Lt) => o == Less,
                (Some(o), Op::Le) => o != Greater,
                (Some(o), Op::Gt) => o == Greater,
                (Some(o), _) => o != Less,
            },
        }
    }
}

/// A parsed, resolved query.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Query {
    pub(crate) table: usize,
    pub(crate) columns: Vec<usize>,
    pub(crate) filters: Vec<Filter>,
    pub(crate) limit: Option<u64>,
}

/// A named parameter of the request: its value (`None` for SQL NULL) and its declared type, if
/// any ("If the type is given, parameters will be checked for type correctness according to the
/// given type"; without one the value is a string).
#[derive(Debug, Clone)]
pub(crate) struct Param {
    pub(crate) name: String,
    pub(crate) value: Option<String>,
    pub(crate) ty: Option<String>,
}

/// The SQL type a parameter's `type` names (`INT`, `BIGINT`, `DECIMAL(10,2)`, ...), or `None`
/// for a name outside the generated tables' types.
fn declared_type(name: &str) -> Option<SqlType> {
    let name = name.trim().to_ascii_uppercase();
    Some(match name.as_str() {
        "INT" | "INTEGER" => SqlType::Int,
        "BIGINT" | "LONG" => SqlType::BigInt,
        "DOUBLE" => SqlType::Double,
        "BOOLEAN" => SqlType::Boolean,
        "DATE" => SqlType::Date,
        "TIMESTAMP" => SqlType::Timestamp,
        "STRING" => SqlType::String,
        "DECIMAL" => SqlType::Decimal(10, 0),
        other => {
            let inner = other.strip_prefix("DECIMAL(")?.strip_suffix(')')?;
            let (p, s) = inner.split_once(',').unwrap_or((inner, "0"));
            SqlType::Decimal(p.trim().parse().ok()?, s.trim().parse().ok()?)
        }
    })
}

/// Where names resolve: the request's `catalog` and `schema` (Databricks' defaults otherwise).
#[derive(Debug, Clone)]
pub(crate) struct Scope<'a> {
    pub(crate) catalog: &'a str,
    pub(crate) schema: &'a str,
    pub(crate) params: &'a [Param],
}

/// `[PARSE_SYNTAX_ERROR]` at byte `at` (`near` the offending text, or the end of input).
fn syntax_error(sql: &str, at: usize, near: Option<&str>) -> SqlError {
    let (line, pos) = line_pos(sql, at);
    let near = match near {
        Some(text) => format!("'{text}'"),
        None => "end of input".to_owned(),
    };
    let mut marked = String::new();
    for (n, text) in sql.split('\n').enumerate() {
        marked.push_str(text);
        marked.push('\n');
        if n + 1 == line {
            marked.push_str(&"-".repeat(pos));
            marked.push_str("^^^\n");
        }
    }
    SqlError {
        message: format!(
            "[PARSE_SYNTAX_ERROR] Syntax error at or near {near}. SQLSTATE: 42601 (line {line}, pos {pos})\n\n== SQL ==\n{marked}"
        ),
        sql_state: "42601",
    }
}

/// The `; line L pos P` suffix of analysis errors.
fn at_suffix(sql: &str, at: usize) -> String {
    let (line, pos) = line_pos(sql, at);
    format!("; line {line} pos {pos}")
}

struct Parser<'a> {
    sql: &'a str,
    tokens: Vec<Token>,
    next: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.next.min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let token = self.peek().clone();
        self.next += 1;
        token
    }

    fn unexpected(&self) -> SqlError {
        let token = self.peek();
        match token.tok {
            Tok::End => syntax_error(self.sql, token.at, None),
            _ => syntax_error(self.sql, token.at, Some(&token.text)),
        }
    }

    fn keyword(&mut self, word: &str) -> bool {
        if matches!(&self.peek().tok, Tok::Word(w) if w.eq_ignore_ascii_case(word)) {
            self.next += 1;
            return true;
        }
        false
    }

    fn expect_keyword(&mut self, word: &str) -> Result<(), SqlError> {
        if self.keyword(word) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn symbol(&mut self, sym: &'static str) -> bool {
        if self.peek().tok == Tok::Sym(sym) {
            self.next += 1;
            return true;
        }
        false
    }

    /// A name (bare, not a keyword, or backticked), with where it starts.
    fn name(&mut self) -> Result<(String, usize), SqlError> {
        let token = self.peek().clone();
        match token.tok {
            Tok::Word(w) if !is_keyword(&w) => {
                self.next += 1;
                Ok((w, token.at))
            }
            Tok::Quoted(q) => {
                self.next += 1;
                Ok((q, token.at))
            }
            _ => Err(self.unexpected()),
        }
    }
}

const KEYWORDS: &[&str] = &[
    "SELECT", "FROM", "WHERE", "AND", "LIMIT", "IS", "NOT", "NULL", "TRUE", "FALSE", "OR",
];

fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

/// The select list as written: `*`, or names with their positions.
enum Projection {
    All,
    Names(Vec<(String, usize)>),
}

/// A literal as written.
enum Literal {
    /// A number, string, boolean, date or timestamp, as text.
    Text(String),
    /// `NULL`.
    Null,
    /// A parameter marker `:name`.
    Param(String),
}

/// A condition as written, before it is resolved against the table: the literal with where it
/// is (none for `IS [NOT] NULL`).
struct RawFilter {
    column: (String, usize),
    op: Op,
    literal: Option<(Literal, usize)>,
}

/// Parses and resolves `sql` against `data` in `scope`.
pub(crate) fn parse(sql: &str, data: &Data, scope: &Scope<'_>) -> Result<Query, SqlError> {
    let tokens = lex(sql).map_err(|at| {
        let near: String = sql[at..].chars().take(1).collect();
        syntax_error(sql, at, Some(&near))
    })?;
    let mut p = Parser {
        sql,
        tokens,
        next: 0,
    };
    p.expect_keyword("SELECT")?;
    let projection = if p.symbol("*") {
        Projection::All
    } else {
        let mut names = vec![p.name()?];
        while p.symbol(",") {
            names.push(p.name()?);
        }
        Projection::Names(names)
    };
    p.expect_keyword("FROM")?;
    let mut path = vec![p.name()?];
    while p.symbol(".") {
        path.push(p.name()?);
    }
    if path.len() > 3 {
        return Err(syntax_error(sql, path[3].1, Some(".")));
    }
    let mut filters = Vec::new();
    if p.keyword("WHERE") {
        filters.push(condition(&mut p)?);
        while p.keyword("AND") {
            filters.push(condition(&mut p)?);
        }
    }
    let limit = if p.keyword("LIMIT") {
        match p.bump() {
            Token {
                tok: Tok::Number(n),
                ..
            } if n.parse::<u64>().is_ok() => n.parse().ok(),
            _ => {
                p.next -= 1;
                return Err(p.unexpected());
            }
        }
    } else {
        None
    };
    p.symbol(";");
    if p.peek().tok != Tok::End {
        return Err(p.unexpected());
    }
    resolve(sql, data, scope, projection, &path, filters, limit)
}

fn condition(p: &mut Parser<'_>) -> Result<RawFilter, SqlError> {
    let column = p.name()?;
    if p.keyword("IS") {
        let op = if p.keyword("NOT") {
            Op::IsNotNull
        } else {
            Op::IsNull
        };
        p.expect_keyword("NULL")?;
        return Ok(RawFilter {
            column,
            op,
            literal: None,
        });
    }
    let op = match p.peek().tok {
        Tok::Sym("=") => Op::Eq,
        Tok::Sym("<>" | "!=") => Op::Ne,
        Tok::Sym("<") => Op::Lt,
        Tok::Sym("<=") => Op::Le,
        Tok::Sym(">") => Op::Gt,
        Tok::Sym(">=") => Op::Ge,
        _ => return Err(p.unexpected()),
    };
    p.next += 1;
    let literal = Some(literal(p)?);
    Ok(RawFilter {
        column,
        op,
        literal,
    })
}

/// A literal, with where it is.
fn literal(p: &mut Parser<'_>) -> Result<(Literal, usize), SqlError> {
    let negative = p.symbol("-");
    let token = p.bump();
    let keyword = |w: &str, k: &str| w.eq_ignore_ascii_case(k);
    let literal = match token.tok {
        Tok::Number(n) if negative => Literal::Text(format!("-{n}")),
        Tok::Number(n) => Literal::Text(n),
        _ if negative => {
            p.next -= 1;
            return Err(p.unexpected());
        }
        Tok::Str(s) => Literal::Text(s),
        Tok::Param(name) => Literal::Param(name),
        Tok::Word(w) if keyword(&w, "DATE") || keyword(&w, "TIMESTAMP") => match p.bump().tok {
            Tok::Str(s) => Literal::Text(s),
            _ => {
                p.next -= 1;
                return Err(p.unexpected());
            }
        },
        Tok::Word(w) if keyword(&w, "TRUE") || keyword(&w, "FALSE") => {
            Literal::Text(w.to_ascii_lowercase())
        }
        Tok::Word(w) if keyword(&w, "NULL") => Literal::Null,
        _ => {
            p.next -= 1;
            return Err(p.unexpected());
        }
    };
    Ok((literal, token.at))
}

fn resolve(
    sql: &str,
    data: &Data,
    scope: &Scope<'_>,
    projection: Projection,
    path: &[(String, usize)],
    filters: Vec<RawFilter>,
    limit: Option<u64>,
) -> Result<Query, SqlError> {
    let (catalog, schema, name) = match path {
        [t] => (scope.catalog, scope.schema, t.0.as_str()),
        [s, t] => (scope.catalog, s.0.as_str(), t.0.as_str()),
        [c, s, t] => (c.0.as_str(), s.0.as_str(), t.0.as_str()),
        _ => return Err(syntax_error(sql, 0, None)),
    };
    let Some(table) = data.table(catalog, schema, name) else {
        let written: Vec<String> = path.iter().map(|(n, _)| format!("`{n}`")).collect();
        return Err(SqlError {
            message: format!(
                "[TABLE_OR_VIEW_NOT_FOUND] The table or view {} cannot be found. Verify the spelling and correctness of the schema and catalog.\nIf you did not qualify the name with a schema, verify the current_schema() output, or qualify the name with the correct schema and catalog.\nTo tolerate the error on drop use DROP VIEW IF EXISTS or DROP TABLE IF EXISTS. SQLSTATE: 42P01{}",
                written.join("."),
                at_suffix(sql, path[0].1)
            ),
            sql_state: "42P01",
        });
    };
    let def = &TABLES[table];
    let column = |(name, at): &(String, usize)| {
        def.column(name).ok_or_else(|| {
            let known: Vec<String> = def.columns.iter().map(|c| format!("`{}`", c.name)).collect();
            SqlError {
                message: format!(
                    "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with name `{name}` cannot be resolved. Did you mean one of the following? [{}]. SQLSTATE: 42703{}",
                    known.join(", "),
                    at_suffix(sql, *at)
                ),
                sql_state: "42703",
            }
        })
    };
    let columns = match projection {
        Projection::All => (0..def.columns.len()).collect(),
        Projection::Names(names) => names.iter().map(column).collect::<Result<_, _>>()?,
    };
    let mut resolved = Vec::with_capacity(filters.len());
    for filter in filters {
        let index = column(&filter.column)?;
        let ty = def.columns[index].ty;
        let text = match filter.literal {
            None | Some((Literal::Null, _)) => None,
            Some((Literal::Text(text), _)) => Some(text),
            Some((Literal::Param(name), at)) => bound(sql, scope, &name, at)?,
        };
        let value = match text {
            None => Value::Null,
            Some(text) => cast(&text, ty)?,
        };
        resolved.push(Filter {
            column: index,
            op: filter.op,
            value,
        });
    }
    Ok(Query {
        table,
        columns,
        filters: resolved,
        limit,
    })
}

/// The value bound to parameter `name`, or `UNBOUND_SQL_PARAMETER`.
fn bound(sql: &str, scope: &Scope<'_>, name: &str, at: usize) -> Result<Option<String>, SqlError> {
    match scope.params.iter().find(|p| p.name == name) {
        Some(param) => {
            if let (Some(value), Some(ty)) =
                (&param.value, param.ty.as_deref().and_then(declared_type))
            {
                cast(value, ty)?;
            }
            Ok(param.value.clone())
        }
        None => Err(SqlError {
            message: format!(
                "[UNBOUND_SQL_PARAMETER] Found the unbound parameter: {name}. Please, fix `args` and provide a mapping of the parameter to either a SQL literal or collection constructor functions such as `map()`, `array()`, `struct()`. SQLSTATE: 42P02{}",
                at_suffix(sql, at)
            ),
            sql_state: "42P02",
        }),
    }
}

/// `text` read as `ty`, or `CAST_INVALID_INPUT`.
fn cast(text: &str, ty: SqlType) -> Result<Value, SqlError> {
    Value::parse(ty, text).ok_or_else(|| SqlError {
        message: format!(
            "[CAST_INVALID_INPUT] The value '{text}' of the type \"STRING\" cannot be cast to \"{}\" because it is malformed. Correct the value as per the syntax, or change its target type. Use `try_cast` to tolerate malformed input and return NULL instead. SQLSTATE: 22018",
            ty.type_text()
        ),
        sql_state: "22018",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope<'static> {
        Scope {
            catalog: "main",
            schema: "default",
            params: &[],
        }
    }

    fn data() -> Data {
        Data::new(1, |_| None)
    }

    #[test]
    fn parses_the_subset() {
        let q = parse(
            "select order_id, `amount` from main.sales.orders where paid = true and amount >= -1.5 and note is not null limit 10;",
            &data(),
            &scope(),
        )
        .expect("parses");
        assert_eq!(q.table, 0);
        assert_eq!(q.columns, [0, 2]);
        assert_eq!(q.limit, Some(10));
        assert_eq!(q.filters.len(), 3);
        assert_eq!(q.filters[1].value, Value::Decimal(-150));
        assert_eq!(q.filters[2].op, Op::IsNotNull);
        let star =
            parse("SELECT * FROM sales.customers", &data(), &scope()).expect("two-part name");
        assert_eq!((star.table, star.columns.len()), (1, 5));
    }

    #[test]
    fn syntax_errors_name_the_spot_as_databricks_does() {
        let e = parse("SELECT * FORM orders", &data(), &scope()).unwrap_err();
        assert_eq!(e.sql_state, "42601");
        assert!(
            e.message.starts_with(
                "[PARSE_SYNTAX_ERROR] Syntax error at or near 'FORM'. SQLSTATE: 42601 (line 1, pos 9)"
            ),
            "{}",
            e.message
        );
        assert!(
            e.message.ends_with("SELECT * FORM orders\n---------^^^\n"),
            "{}",
            e.message
        );
        let e = parse("SELECT * FROM", &data(), &scope()).unwrap_err();
        assert!(
            e.message.contains("at or near end of input."),
            "{}",
            e.message
        );
        let e = parse("SELECT count(*) FROM main.sales.orders", &data(), &scope()).unwrap_err();
        assert!(e.message.contains("near '('"), "{}", e.message);
    }

    #[test]
    fn unknown_names_and_bad_literals_get_their_error_classes() {
        let e = parse("SELECT * FROM nope", &data(), &scope()).unwrap_err();
        assert_eq!(e.sql_state, "42P01");
        assert!(
            e.message
                .starts_with("[TABLE_OR_VIEW_NOT_FOUND] The table or view `nope` cannot be found.")
        );
        assert!(
            e.message.ends_with("SQLSTATE: 42P01; line 1 pos 14"),
            "{}",
            e.message
        );
        let e = parse("SELECT wat FROM main.sales.orders", &data(), &scope()).unwrap_err();
        assert_eq!(e.sql_state, "42703");
        let e = parse(
            "SELECT * FROM main.sales.orders WHERE paid = :p",
            &data(),
            &scope(),
        )
        .unwrap_err();
        assert_eq!(e.sql_state, "42P02");
        let e = parse(
            "SELECT * FROM main.sales.orders WHERE customer_id = 'x'",
            &data(),
            &scope(),
        )
        .unwrap_err();
        assert_eq!(e.sql_state, "22018");
        let params = [
            Param {
                name: "d".into(),
                value: Some("2021-03-04".into()),
                ty: Some("DATE".into()),
            },
            Param {
                name: "n".into(),
                value: Some("ten".into()),
                ty: Some("INT".into()),
            },
        ];
        let typed = Scope {
            params: &params,
            ..scope()
        };
        let e = parse(
            "SELECT * FROM main.sales.orders WHERE note = :n",
            &data(),
            &typed,
        )
        .unwrap_err();
        assert_eq!(
            e.sql_state, "22018",
            "a value that is not its declared type"
        );
        assert_eq!(
            declared_type("decimal(18, 2)"),
            Some(SqlType::Decimal(18, 2))
        );
        let q = parse(
            "SELECT * FROM main.sales.orders WHERE order_date < :d",
            &data(),
            &Scope {
                params: &params,
                ..scope()
            },
        )
        .expect("bound");
        assert_eq!(
            q.filters[0].value,
            Value::parse(SqlType::Date, "2021-03-04").unwrap()
        );
    }

    #[test]
    fn filters_keep_by_sql_rules() {
        let f = Filter {
            column: 0,
            op: Op::Ge,
            value: Value::Int(3),
        };
        assert!(f.keeps(&Value::Int(3)) && !f.keeps(&Value::Int(2)) && !f.keeps(&Value::Null));
        let null = Filter {
            column: 0,
            op: Op::Eq,
            value: Value::Null,
        };
        assert!(!null.keeps(&Value::Null));
    }
}
