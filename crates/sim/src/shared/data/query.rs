//! Running a parsed query against a snapshot: which rows, in which order, rendered as CSV.

use super::soql::{Column, Soql};
use super::{Org, Snapshot};
use crate::shared::csv::{self, Dialect};

/// The rows a query selected, fixed when the job ran: a locator's page never changes.
#[derive(Debug)]
pub(crate) struct ResultSet {
    snapshot: Snapshot,
    columns: Vec<Column>,
    /// The objects parent columns read from, as they were when the query ran, by key prefix.
    parents: Vec<Snapshot>,
    rows: Rows,
}

#[derive(Debug)]
enum Rows {
    /// Rows `0..n`: no filter and nothing deleted, so positions are row indices.
    Dense(u64),
    /// The selected row indices in order.
    Sparse(Vec<u64>),
}

/// Views of the objects that the parent columns of `soql` read from.
pub(crate) fn parents(org: &Org, soql: &Soql) -> Vec<Snapshot> {
    let mut views: Vec<Snapshot> = Vec::new();
    for column in &soql.columns {
        if let Column::Parent(p) = column
            && !views.iter().any(|v| std::ptr::eq(v.object, p.object))
        {
            views.push(org.snapshot(p.object));
        }
    }
    views
}

/// Selects the rows of `soql` in index order (generated rows, then inserted ones); `parents`
/// (from [`parents`]) are where parent columns read from.
pub(crate) fn evaluate(
    snapshot: Snapshot,
    parents: Vec<Snapshot>,
    soql: &Soql,
    query_all: bool,
) -> ResultSet {
    let limit = soql.limit.unwrap_or(u64::MAX);
    // With ORDER BY, LIMIT keeps the first rows of the sorted set, so every match is read.
    let ordered = !soql.order_by.is_empty();
    let rows = if !ordered && soql.conditions.is_empty() && snapshot.all_visible(query_all) {
        Rows::Dense(snapshot.slots().min(limit))
    } else {
        let mut selected = Vec::new();
        let mut scratch = Vec::new();
        for row in 0..snapshot.slots() {
            if !ordered && selected.len() as u64 >= limit {
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
        if ordered {
            sort(&snapshot, soql, &mut selected);
            selected.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        Rows::Sparse(selected)
    };
    ResultSet {
        snapshot,
        columns: soql.columns.clone(),
        parents,
        rows,
    }
}

/// Sorts selected rows by the query's ORDER BY keys (stable: rows that tie keep their order).
fn sort(snapshot: &Snapshot, soql: &Soql, rows: &mut Vec<u64>) {
    let keys: Vec<Vec<Option<String>>> = rows
        .iter()
        .map(|&row| {
            soql.order_by
                .iter()
                .map(|key| snapshot.value(key.field, row))
                .collect()
        })
        .collect();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| {
        soql.order_by
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let ty = soql.object.fields[key.field].ty;
                key.compare(ty, keys[a][i].as_deref(), keys[b][i].as_deref())
            })
            .find(|ordering| ordering.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    *rows = order.into_iter().map(|i| rows[i]).collect();
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

    /// The snapshot the rows were selected from.
    pub(crate) fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The selected columns, in SELECT order.
    pub(crate) fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The row of the parent a parent column reads, with the view to read it in: `None` when
    /// the lookup is null or points at no live row.
    pub(crate) fn parent_row(&self, column: &Column, row: u64) -> Option<(&Snapshot, u64)> {
        let Column::Parent(p) = column else {
            return None;
        };
        let view = self
            .parents
            .iter()
            .find(|v| std::ptr::eq(v.object, p.object))?;
        let id = self.snapshot.value(p.lookup, row)?;
        let parent = crate::shared::ids::parse_id(p.object.key_prefix, &id)?;
        view.is_live(parent).then_some((view, parent))
    }

    /// The header row: selected column names in SELECT order.
    pub(crate) fn write_header(&self, out: &mut Vec<u8>, dialect: Dialect) {
        let names: Vec<String> = self
            .columns
            .iter()
            .map(|c| c.name(self.snapshot.object))
            .collect();
        csv::write_record(out, dialect, names.iter().map(|n| Some(n.as_str())));
    }

    /// Appends the rows at positions `start..end` (clamped to the set).
    pub(crate) fn write_rows(&self, out: &mut Vec<u8>, dialect: Dialect, start: u64, end: u64) {
        for position in start..end.min(self.len()) {
            let row = self.row_index(position);
            let stored = self.snapshot.stored(row);
            for (i, column) in self.columns.iter().enumerate() {
                if i > 0 {
                    out.push(dialect.delimiter);
                }
                match column {
                    Column::Own(field) => self.snapshot.write_csv(stored, *field, row, out),
                    Column::Parent(p) => {
                        if let Some((view, parent)) = self.parent_row(column, row) {
                            view.write_csv(view.stored(parent), p.field, parent, out);
                        }
                    }
                }
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
        let org = Org::for_tests(9, |name| (name == "Account").then_some(500));
        let account = schema::object("Account").expect("exists");
        let all = evaluate(
            org.snapshot(account),
            Vec::new(),
            &soql::parse("SELECT Id, Name FROM Account").expect("ok"),
            false,
        );
        assert_eq!(all.len(), 500);
        let limited = evaluate(
            org.snapshot(account),
            Vec::new(),
            &soql::parse("SELECT Id FROM Account LIMIT 7").expect("ok"),
            false,
        );
        assert_eq!(limited.len(), 7);
        let q =
            soql::parse("SELECT Id, Industry FROM Account WHERE Industry = 'Banking'").expect("ok");
        let banking = evaluate(org.snapshot(account), Vec::new(), &q, false);
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
        let org = Org::for_tests(3, |_| Some(300));
        let account = schema::object("Account").expect("exists");
        let rs = evaluate(
            org.snapshot(account),
            Vec::new(),
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

    #[test]
    fn order_by_sorts_the_whole_selection_before_the_limit() {
        let org = Org::for_tests(9, |name| (name == "Account").then_some(500));
        let account = schema::object("Account").expect("exists");
        let employees = account.field_index("NumberOfEmployees").expect("field");
        let run = |text: &str| {
            let rs = evaluate(
                org.snapshot(account),
                Vec::new(),
                &soql::parse(text).expect("ok"),
                false,
            );
            (0..rs.len())
                .map(|i| rs.snapshot().value(employees, rs.row_index(i)))
                .collect::<Vec<_>>()
        };
        let number = |v: &Option<String>| v.as_deref().and_then(|t| t.parse::<i64>().ok());
        let all = run("SELECT Id FROM Account ORDER BY NumberOfEmployees DESC NULLS LAST");
        assert_eq!(all.len(), 500);
        let values: Vec<Option<i64>> = all.iter().map(number).collect();
        let present: Vec<i64> = values.iter().flatten().copied().collect();
        assert!(present.windows(2).all(|w| w[0] >= w[1]), "descending");
        // Nulls, if any, come after every number.
        assert!(
            values
                .iter()
                .skip_while(|v| v.is_some())
                .all(Option::is_none)
        );
        let top = run("SELECT Id FROM Account ORDER BY NumberOfEmployees DESC NULLS LAST LIMIT 3");
        assert_eq!(top, all[..3]);
        let ids = {
            let id = account.field_index("Id").expect("Id");
            let rs = evaluate(
                org.snapshot(account),
                Vec::new(),
                &soql::parse("SELECT Id FROM Account ORDER BY Id DESC").expect("ok"),
                false,
            );
            (0..rs.len())
                .filter_map(|i| rs.snapshot().value(id, rs.row_index(i)))
                .collect::<Vec<_>>()
        };
        assert!(
            ids.windows(2)
                .all(|w| w[0].to_uppercase() >= w[1].to_uppercase())
        );
    }
}
