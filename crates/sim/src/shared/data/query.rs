//! Running a parsed query against a snapshot: which rows, in which order, rendered as CSV.

use super::Snapshot;
use super::soql::Soql;
use crate::shared::csv::{self, Dialect};

/// The rows a query selected, fixed when the job ran: a locator's page never changes.
#[derive(Debug)]
pub(crate) struct ResultSet {
    snapshot: Snapshot,
    fields: Vec<usize>,
    rows: Rows,
}

#[derive(Debug)]
enum Rows {
    /// Rows `0..n`: no filter and nothing deleted, so positions are row indices.
    Dense(u64),
    /// The selected row indices in order.
    Sparse(Vec<u64>),
}

/// Selects the rows of `soql` in index order (generated rows, then inserted ones).
pub(crate) fn evaluate(snapshot: Snapshot, soql: &Soql, query_all: bool) -> ResultSet {
    let limit = soql.limit.unwrap_or(u64::MAX);
    let rows = if soql.conditions.is_empty() && snapshot.all_visible(query_all) {
        Rows::Dense(snapshot.slots().min(limit))
    } else {
        let mut selected = Vec::new();
        let mut scratch = Vec::new();
        for row in 0..snapshot.slots() {
            if selected.len() as u64 >= limit {
                break;
            }
            if snapshot.visible(row, query_all)
                && soql
                    .conditions
                    .iter()
                    .all(|c| c.matches(&snapshot, row, &mut scratch))
            {
                selected.push(row);
            }
        }
        Rows::Sparse(selected)
    };
    ResultSet {
        snapshot,
        fields: soql.fields.clone(),
        rows,
    }
}

impl ResultSet {
    /// Number of selected rows.
    pub(crate) fn len(&self) -> u64 {
        match &self.rows {
            Rows::Dense(n) => *n,
            Rows::Sparse(rows) => rows.len() as u64,
        }
    }

    /// The row index at a position of the set.
    pub(crate) fn row_index(&self, position: u64) -> u64 {
        match &self.rows {
            Rows::Dense(_) => position,
            Rows::Sparse(rows) => rows[position as usize],
        }
    }

    /// The header row: selected field names in SELECT order.
    pub(crate) fn write_header(&self, out: &mut Vec<u8>, dialect: Dialect) {
        let names = self
            .fields
            .iter()
            .map(|&f| Some(self.snapshot.object.fields[f].name));
        csv::write_record(out, dialect, names);
    }

    /// Appends the rows at positions `start..end` (clamped to the set).
    pub(crate) fn write_rows(&self, out: &mut Vec<u8>, dialect: Dialect, start: u64, end: u64) {
        for position in start..end.min(self.len()) {
            let row = self.row_index(position);
            let stored = self.snapshot.stored(row);
            for (i, &field) in self.fields.iter().enumerate() {
                if i > 0 {
                    out.push(dialect.delimiter);
                }
                self.snapshot.write_csv(stored, field, row, out);
            }
            out.extend_from_slice(dialect.line_ending);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::data::{Org, schema, soql};

    #[test]
    fn filters_limits_and_renders_quoted_csv() {
        let org = Org::new(9, |name| (name == "Account").then_some(500));
        let account = schema::object("Account").expect("exists");
        let all = evaluate(
            org.snapshot(account),
            &soql::parse("SELECT Id, Name FROM Account").expect("ok"),
            false,
        );
        assert_eq!(all.len(), 500);
        let limited = evaluate(
            org.snapshot(account),
            &soql::parse("SELECT Id FROM Account LIMIT 7").expect("ok"),
            false,
        );
        assert_eq!(limited.len(), 7);
        let q =
            soql::parse("SELECT Id, Industry FROM Account WHERE Industry = 'Banking'").expect("ok");
        let banking = evaluate(org.snapshot(account), &q, false);
        assert!(banking.len() > 0 && banking.len() < 500);
        let mut out = Vec::new();
        banking.write_header(&mut out, Dialect::default());
        banking.write_rows(&mut out, Dialect::default(), 0, 2);
        let text = String::from_utf8(out).expect("utf8");
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[0], "\"Id\",\"Industry\"");
        assert!(lines[1].starts_with("\"001") && lines[1].ends_with(",\"Banking\""));
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn doubles_embedded_quotes() {
        let org = Org::new(3, |_| Some(300));
        let account = schema::object("Account").expect("exists");
        let rs = evaluate(
            org.snapshot(account),
            &soql::parse("SELECT Name FROM Account").expect("ok"),
            false,
        );
        let mut out = Vec::new();
        rs.write_rows(&mut out, Dialect::default(), 0, 300);
        let text = String::from_utf8(out).expect("utf8");
        assert!(text.contains("\"\"Holdings\"\"\""));
        let parsed = csv::parse(text.as_bytes(), b',').expect("round trips");
        assert_eq!(parsed.len(), 300);
        assert!(parsed.iter().any(|r| r[0].contains("\"Holdings\"")));
    }
}
