//! A statement's result: the rows a query selects, cut by the request's `row_limit` and
//! `byte_limit` (marking the manifest `truncated`), and split into chunks of a fixed row count.
//!
//! Rows are kept as indexes into the generated table, so a result costs 8 bytes a row whatever its
//! width; values are generated again whenever a chunk is rendered.

use super::sql::Query;
use super::tables::{Data, SqlType, TABLES, Value};

/// The rows of one finished statement.
#[derive(Debug, Clone)]
pub(crate) struct ResultSet {
    data: Data,
    table: usize,
    columns: Vec<usize>,
    rows: Vec<u64>,
    /// Whether `row_limit` or `byte_limit` cut rows the query selected.
    pub(crate) truncated: bool,
}

/// One chunk: its place in the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub(crate) index: usize,
    pub(crate) row_offset: u64,
    pub(crate) row_count: u64,
}

/// The request's limits on a result.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Limits {
    pub(crate) rows: Option<u64>,
    pub(crate) bytes: Option<u64>,
}

impl ResultSet {
    /// Runs `query` over `data` within `limits`. The byte limit counts each row as its CSV line
    /// (Databricks counts "internal data representations", which no client can see either).
    pub(crate) fn evaluate(data: &Data, query: &Query, limits: Limits) -> Self {
        let table = query.table;
        let mut rows = Vec::new();
        let mut bytes = 0u64;
        let mut truncated = false;
        let wanted = query.limit.unwrap_or(u64::MAX);
        for row in 0..data.row_count(table) {
            if rows.len() as u64 >= wanted {
                break;
            }
            let keep = query
                .filters
                .iter()
                .all(|f| f.keeps(&data.value(table, f.column, row)));
            if !keep {
                continue;
            }
            if limits.rows.is_some_and(|max| rows.len() as u64 >= max) {
                truncated = true;
                break;
            }
            if let Some(max) = limits.bytes {
                bytes += row_bytes(data, table, &query.columns, row);
                if bytes > max {
                    truncated = true;
                    break;
                }
            }
            rows.push(row);
        }
        Self {
            data: data.clone(),
            table,
            columns: query.columns.clone(),
            rows,
            truncated,
        }
    }

    /// Whether the result takes more than `limit` bytes, each row counted as its CSV line (what
    /// the byte limit counts too); stops counting once past.
    pub(crate) fn exceeds(&self, limit: u64) -> bool {
        let mut bytes = 0;
        for &row in &self.rows {
            bytes += row_bytes(&self.data, self.table, &self.columns, row);
            if bytes > limit {
                return true;
            }
        }
        false
    }

    /// Rows in the result.
    pub(crate) fn len(&self) -> u64 {
        self.rows.len() as u64
    }

    /// Names and types of the result's columns, in order.
    pub(crate) fn schema(&self) -> Vec<(&'static str, SqlType)> {
        let def = &TABLES[self.table];
        self.columns
            .iter()
            .map(|&c| (def.columns[c].name, def.columns[c].ty))
            .collect()
    }

    /// The value of result column `column` in result row `row`.
    pub(crate) fn value(&self, row: u64, column: usize) -> Value {
        self.data
            .value(self.table, self.columns[column], self.rows[row as usize])
    }

    /// The chunks of `chunk_rows` rows each (the last one shorter); none for an empty result.
    pub(crate) fn chunks(&self, chunk_rows: u64) -> Vec<Chunk> {
        let chunk_rows = chunk_rows.max(1);
        let mut out = Vec::new();
        let mut offset = 0;
        while offset < self.len() {
            let count = chunk_rows.min(self.len() - offset);
            out.push(Chunk {
                index: out.len(),
                row_offset: offset,
                row_count: count,
            });
            offset += count;
        }
        out
    }
}

/// The bytes row `row` takes as a CSV line.
fn row_bytes(data: &Data, table: usize, columns: &[usize], row: u64) -> u64 {
    let def = &TABLES[table];
    columns
        .iter()
        .map(|&c| {
            let text = data.value(table, c, row).text(def.columns[c].ty);
            text.map_or(4, |t| t.len() as u64 + 2) + 1
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::databricks::sql::{Scope, parse};

    fn run(sql: &str, rows: u64, limits: Limits) -> ResultSet {
        let data = Data::new(3, |name| (name == "main.sales.orders").then_some(rows));
        let scope = Scope {
            catalog: "main",
            schema: "sales",
            params: &[],
        };
        ResultSet::evaluate(&data, &parse(sql, &data, &scope).expect("parses"), limits)
    }

    #[test]
    fn limits_truncate_and_say_so_but_limit_clauses_do_not() {
        let all = run("SELECT * FROM orders", 100, Limits::default());
        assert_eq!((all.len(), all.truncated), (100, false));
        let limited = run("SELECT * FROM orders LIMIT 7", 100, Limits::default());
        assert_eq!((limited.len(), limited.truncated), (7, false));
        let rows = Limits {
            rows: Some(10),
            bytes: None,
        };
        let cut = run("SELECT * FROM orders", 100, rows);
        assert_eq!((cut.len(), cut.truncated), (10, true));
        let exact = run("SELECT * FROM orders LIMIT 10", 100, rows);
        assert_eq!((exact.len(), exact.truncated), (10, false));
        let bytes = Limits {
            rows: None,
            bytes: Some(1_000),
        };
        let small = run("SELECT * FROM orders", 100, bytes);
        assert!(small.truncated && small.len() > 0 && small.len() < 100);
    }

    #[test]
    fn filters_select_rows_and_chunks_cover_them_in_order() {
        let nulls = run(
            "SELECT order_id FROM orders WHERE note IS NULL",
            80,
            Limits::default(),
        );
        assert_eq!(nulls.len(), 10);
        let all = run("SELECT order_id FROM orders", 25, Limits::default());
        let chunks = all.chunks(10);
        let counts: Vec<_> = chunks.iter().map(|c| (c.row_offset, c.row_count)).collect();
        assert_eq!(counts, [(0, 10), (10, 10), (20, 5)]);
        assert!(
            run(
                "SELECT * FROM orders WHERE order_id < 0",
                25,
                Limits::default()
            )
            .chunks(10)
            .is_empty()
        );
    }
}
