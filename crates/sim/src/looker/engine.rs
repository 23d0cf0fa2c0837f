//! Running a Looker query against `thelook`: filter, group by the dimensions, aggregate the
//! measures (distinct per view row, like Looker's symmetric aggregates), sort, limit; then render
//! in the task's result format.
//!
//! Filter expressions understood: `value`, `a,b` (any of), `-value` (not), `NULL`, `-NULL`,
//! `>n`, `>=n`, `<n`, `<=n` for numbers, `after D` / `before D` for dates. Others are rejected
//! with 422 when the query is created.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

use super::model::{self, Data, Kind};

/// The parts of a query that decide its rows.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub(crate) view: String,
    pub(crate) fields: Vec<String>,
    pub(crate) filters: Vec<(String, String)>,
    pub(crate) sorts: Vec<String>,
    pub(crate) limit: Option<String>,
}

/// A computed result.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub(crate) fields: Vec<String>,
    pub(crate) rows: Vec<Vec<Value>>,
    pub(crate) sql: String,
}

#[derive(Debug, Clone)]
enum Filter {
    AnyOf(Vec<Value>, bool),
    IsNull(bool),
    Compare(&'static str, Value),
}

/// Checks a spec against the model: `(field, message)` for every problem (for a 422).
pub(crate) fn validate(spec: &Spec) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let Some(explore) = model::explore(&spec.view) else {
        return vec![(
            "view".into(),
            format!(
                "explore '{}' not found in model '{}'",
                spec.view,
                model::MODEL
            ),
        )];
    };
    let known = |name: &str| {
        model::field(name)
            .filter(|(v, _)| explore.views.contains(&v.name))
            .map(|(_, f)| f.kind)
    };
    for name in &spec.fields {
        if known(name).is_none() {
            problems.push((
                "fields".into(),
                format!("field '{name}' not found in explore '{}'", explore.name),
            ));
        }
    }
    for (name, expression) in &spec.filters {
        match known(name) {
            None => problems.push((
                "filters".into(),
                format!("field '{name}' not found in explore '{}'", explore.name),
            )),
            Some(kind) if kind.is_measure() => problems.push((
                "filters".into(),
                format!("haul-sim cannot filter on measure '{name}'"),
            )),
            Some(kind) if parse_filter(kind, expression).is_none() => {
                problems.push((
                    "filters".into(),
                    format!("unsupported filter expression '{expression}' for '{name}'"),
                ));
            }
            Some(_) => {}
        }
    }
    for sort in &spec.sorts {
        let name = sort.trim_end_matches(" desc").trim_end_matches(" asc");
        if name != "__UNSORTED__" && !spec.fields.iter().any(|f| f == name) {
            problems.push((
                "sorts".into(),
                format!("sort field '{name}' is not among the query's fields"),
            ));
        }
    }
    problems
}

fn parse_filter(kind: Kind, expression: &str) -> Option<Filter> {
    let e = expression.trim();
    match e.to_ascii_uppercase().as_str() {
        "NULL" => return Some(Filter::IsNull(true)),
        "-NULL" => return Some(Filter::IsNull(false)),
        _ => {}
    }
    let typed = |text: &str| -> Option<Value> {
        match kind {
            Kind::Number => text.trim().parse::<f64>().ok().map(Value::from),
            Kind::Date => chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .ok()
                .map(|d| Value::from(d.to_string())),
            _ => Some(Value::from(text.trim())),
        }
    };
    for op in [">=", "<=", ">", "<"] {
        if let Some(rest) = e.strip_prefix(op).filter(|_| kind == Kind::Number) {
            return Some(Filter::Compare(op, typed(rest)?));
        }
    }
    if kind == Kind::Date {
        for (word, op) in [("after ", ">="), ("before ", "<")] {
            if let Some(rest) = e.strip_prefix(word) {
                return Some(Filter::Compare(op, typed(rest)?));
            }
        }
    }
    let (negated, body) = e.strip_prefix('-').map_or((false, e), |rest| (true, rest));
    let values = body.split(',').map(typed).collect::<Option<Vec<_>>>()?;
    Some(Filter::AnyOf(values, negated))
}

fn passes(filter: &Filter, value: &Value) -> bool {
    match filter {
        Filter::IsNull(want) => value.is_null() == *want,
        Filter::AnyOf(values, negated) => values.iter().any(|v| same(v, value)) != *negated,
        Filter::Compare(op, bound) => match order(value, bound) {
            Some(o) => match *op {
                ">" => o.is_gt(),
                ">=" => o.is_ge(),
                "<" => o.is_lt(),
                _ => o.is_le(),
            },
            None => false,
        },
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a
            .as_str()
            .zip(b.as_str())
            .is_some_and(|(x, y)| x.eq_ignore_ascii_case(y)),
    }
}

fn order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Null, Value::Null) => Some(std::cmp::Ordering::Equal),
        (Value::Null, _) => Some(std::cmp::Ordering::Less),
        (_, Value::Null) => Some(std::cmp::Ordering::Greater),
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x.partial_cmp(&y),
            _ => Some(
                a.as_str()
                    .unwrap_or_default()
                    .cmp(b.as_str().unwrap_or_default()),
            ),
        },
    }
}

/// Distinct contributions of one measure in one group: view row → value.
type Accumulator = HashMap<u64, f64>;

/// Runs a validated spec; `Err` carries the database error of a broken field.
pub(crate) fn run(data: &Data, spec: &Spec, limit_override: Option<i64>) -> Result<Table, String> {
    let sql = run_sql(spec);
    let explore =
        model::explore(&spec.view).ok_or_else(|| format!("unknown explore {}", spec.view))?;
    let kinds: Vec<Kind> = spec
        .fields
        .iter()
        .map(|f| model::field(f).map_or(Kind::Text, |(_, lf)| lf.kind))
        .collect();
    if let Some(broken) = spec
        .fields
        .iter()
        .zip(&kinds)
        .find(|(_, k)| **k == Kind::Broken)
    {
        return Err(format!("ERROR: column \"{}\" does not exist", broken.0));
    }
    let filters: Vec<(String, Filter)> = spec
        .filters
        .iter()
        .filter_map(|(name, e)| Some((name.clone(), parse_filter(model::field(name)?.1.kind, e)?)))
        .collect();
    let dims: Vec<usize> = (0..kinds.len())
        .filter(|&i| !kinds[i].is_measure())
        .collect();
    let value_of = |qualified: &str, row: u64| -> (u64, Value) {
        let (view, name) = qualified.split_once('.').unwrap_or_default();
        let index = data.joined(explore, view, row);
        (index, data.value(view, name, index))
    };
    let mut groups: Vec<(Vec<Value>, Vec<Accumulator>)> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for row in 0..data.rows_of(explore.views[0]) {
        if !filters
            .iter()
            .all(|(name, filter)| passes(filter, &value_of(name, row).1))
        {
            continue;
        }
        let key_values: Vec<Value> = dims
            .iter()
            .map(|&i| value_of(&spec.fields[i], row).1)
            .collect();
        let key = serde_json::to_string(&key_values).unwrap_or_default();
        let slot = *by_key.entry(key).or_insert_with(|| {
            groups.push((key_values, vec![Accumulator::new(); kinds.len()]));
            groups.len() - 1
        });
        for (i, kind) in kinds.iter().enumerate() {
            let (view, _) = spec.fields[i].split_once('.').unwrap_or_default();
            let source = match kind {
                Kind::Count => None,
                Kind::Sum(s) | Kind::Average(s) => Some(*s),
                _ => continue,
            };
            let index = data.joined(explore, view, row);
            let amount = source
                .and_then(|s| data.value(view, s, index).as_f64())
                .unwrap_or(0.0);
            groups[slot].1[i].insert(index, amount);
        }
    }
    let mut rows: Vec<Vec<Value>> = groups
        .into_iter()
        .map(|(key, acc)| assemble(&kinds, key, &acc))
        .collect();
    sort(&mut rows, spec, &kinds);
    let limit = limit_override
        .or_else(|| spec.limit.as_deref().and_then(|l| l.trim().parse().ok()))
        .unwrap_or(500);
    if limit >= 0 {
        rows.truncate(limit as usize);
    }
    Ok(Table {
        fields: spec.fields.clone(),
        rows,
        sql,
    })
}

fn assemble(kinds: &[Kind], key: Vec<Value>, acc: &[Accumulator]) -> Vec<Value> {
    let mut key = key.into_iter();
    kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| match kind {
            Kind::Count => Value::from(acc[i].len()),
            Kind::Sum(_) => Value::from((acc[i].values().sum::<f64>() * 100.0).round() / 100.0),
            Kind::Average(_) if acc[i].is_empty() => Value::Null,
            Kind::Average(_) => Value::from(acc[i].values().sum::<f64>() / acc[i].len() as f64),
            _ => key.next().unwrap_or(Value::Null),
        })
        .collect()
}

fn sort(rows: &mut [Vec<Value>], spec: &Spec, kinds: &[Kind]) {
    if spec.sorts.iter().any(|s| s == "__UNSORTED__") {
        return;
    }
    let mut keys: Vec<(usize, bool)> = spec
        .sorts
        .iter()
        .filter_map(|s| {
            let desc = s.ends_with(" desc");
            let name = s.trim_end_matches(" desc").trim_end_matches(" asc");
            spec.fields
                .iter()
                .position(|f| f == name)
                .map(|i| (i, desc))
        })
        .collect();
    if keys.is_empty() {
        let default = kinds
            .iter()
            .position(|k| *k == Kind::Date)
            .map(|i| (i, true))
            .or_else(|| kinds.iter().position(|k| k.is_measure()).map(|i| (i, true)))
            .unwrap_or((0, false));
        keys.push(default);
    }
    rows.sort_by(|a, b| {
        keys.iter()
            .map(|&(i, desc)| {
                let o = order(&a[i], &b[i]).unwrap_or(std::cmp::Ordering::Equal);
                if desc { o.reverse() } else { o }
            })
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
}

/// The SQL a query runs (shown in json_detail and error bodies).
pub(crate) fn run_sql(spec: &Spec) -> String {
    let columns: Vec<String> = spec
        .fields
        .iter()
        .map(|f| format!("{f} AS \"{f}\""))
        .collect();
    format!(
        "SELECT\n    {}\nFROM {}.{} AS {}\nLIMIT {}",
        columns.join(",\n    "),
        model::MODEL,
        spec.view,
        spec.view,
        spec.limit.as_deref().unwrap_or("500")
    )
}

/// Formats this simulator renders.
pub(crate) const FORMATS: &[&str] = &[
    "csv",
    "txt",
    "json",
    "inline_json",
    "json_detail",
    "json_bi",
    "md",
    "html",
    "sql",
];

/// The rendered body and content type, plus the `data` multi_results shows for it.
pub(crate) fn render(
    table: &Table,
    format: &str,
    task_id: &str,
    runtime: f64,
) -> (Vec<u8>, &'static str, Value) {
    let text = |body: String| {
        let content_type = if format == "csv" {
            "text/csv; charset=utf-8"
        } else {
            "text/plain; charset=utf-8"
        };
        (body.clone().into_bytes(), content_type, Value::from(body))
    };
    let json = |body: Value| {
        (
            serde_json::to_vec(&body).unwrap_or_default(),
            "application/json",
            body,
        )
    };
    match format {
        "csv" => text(delimited(table, ",", csv_cell)),
        "txt" => text(delimited(table, "\t", |c| c.replace(['\t', '\n'], " "))),
        "md" => text(markdown(table)),
        "html" => text(html(table)),
        "sql" => text(table.sql.clone()),
        "json_detail" => json(json_detail(table, task_id, runtime)),
        "json_bi" => json(
            json!({ "metadata": { "fields": field_metadata(table, false), "sql": table.sql }, "rows": row_objects(table) }),
        ),
        _ => json(Value::from(row_objects(table))),
    }
}

/// A cell as text: null is empty, strings bare, numbers as JSON writes them.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn labels(table: &Table) -> Vec<String> {
    table.fields.iter().map(|f| model::label(f)).collect()
}

/// A header of labels and one line per row, cells passed through `escape`.
fn delimited(table: &Table, separator: &str, escape: impl Fn(&str) -> String) -> String {
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .map(|c| escape(c))
            .collect::<Vec<_>>()
            .join(separator)
            + "\n"
    };
    let mut out = line(labels(table));
    for row in &table.rows {
        out.push_str(&line(row.iter().map(cell).collect()));
    }
    out
}

fn markdown(table: &Table) -> String {
    let labels = labels(table);
    let mut out = format!(
        "| {} |\n|{}\n",
        labels.join(" | "),
        " --- |".repeat(labels.len())
    );
    for row in &table.rows {
        out.push_str(&format!(
            "| {} |\n",
            row.iter().map(cell).collect::<Vec<_>>().join(" | ")
        ));
    }
    out
}

fn html(table: &Table) -> String {
    let escape = |s: String| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let cells = |tag: &str, r: Vec<String>| {
        r.into_iter()
            .map(|c| format!("<{tag}>{}</{tag}>", escape(c)))
            .collect::<String>()
    };
    let body: String = table
        .rows
        .iter()
        .map(|r| format!("<tr>{}</tr>", cells("td", r.iter().map(cell).collect())))
        .collect();
    format!(
        "<table><tr>{}</tr>{body}</table>",
        cells("th", labels(table))
    )
}

/// Rows as objects keyed by field name (json, inline_json, json_bi rows).
fn row_objects(table: &Table) -> Vec<Value> {
    table
        .rows
        .iter()
        .map(|r| {
            Value::Object(
                table
                    .fields
                    .iter()
                    .cloned()
                    .zip(r.iter().cloned())
                    .collect(),
            )
        })
        .collect()
}

fn json_detail(table: &Table, task_id: &str, runtime: f64) -> Value {
    let data: Vec<Value> = table
        .rows
        .iter()
        .map(|r| {
            Value::Object(
                table
                    .fields
                    .iter()
                    .cloned()
                    .zip(r.iter().map(|v| json!({ "value": v })))
                    .collect(),
            )
        })
        .collect();
    json!({
        "id": task_id,
        "fields": field_metadata(table, true),
        "data": data,
        "sql": table.sql,
        "runtime": runtime,
        "has_totals": false,
        "has_subtotals": false,
        "null_sort_treatment": "low",
    })
}

/// The body of a task whose SQL failed: json_detail keeps 200 with `errors`, others get 400.
pub(crate) fn error_detail(task_id: &str, sql: &str, message: &str) -> Value {
    json!({
        "id": task_id,
        "runtime": 0.0,
        "sql": sql,
        "data": [],
        "errors": [{ "message": message, "message_details": null, "sql_error_loc": { "line": 1, "column": 1 } }],
    })
}

/// Each field's metadata: `json_detail` gives the explore field's (`LookmlModelExploreField`, with
/// `is_numeric`), `json_bi` a `JsonBiField` (name, type, category, view, label; no `is_numeric`).
fn field_metadata(table: &Table, detail: bool) -> Value {
    let mut dims = Vec::new();
    let mut measures = Vec::new();
    let mut seen = HashSet::new();
    for name in &table.fields {
        if !seen.insert(name) {
            continue;
        }
        let kind = model::field(name).map_or(Kind::Text, |(_, f)| f.kind);
        let (view, _) = name.split_once('.').unwrap_or_default();
        let mut meta = Map::new();
        meta.insert("name".into(), json!(name));
        meta.insert("label".into(), json!(model::label(name)));
        meta.insert("type".into(), json!(kind.type_name()));
        meta.insert("view".into(), json!(view));
        meta.insert(
            "category".into(),
            json!(if kind.is_measure() {
                "measure"
            } else {
                "dimension"
            }),
        );
        if detail {
            meta.insert(
                "is_numeric".into(),
                json!(matches!(kind, Kind::Number) || kind.is_measure()),
            );
        }
        if kind.is_measure() {
            measures.push(Value::Object(meta))
        } else {
            dims.push(Value::Object(meta))
        }
    }
    json!({ "dimensions": dims, "measures": measures, "pivots": [], "table_calculations": [] })
}

fn csv_cell(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(fields: &[&str], filters: &[(&str, &str)], limit: Option<&str>) -> Spec {
        Spec {
            view: "order_items".into(),
            fields: fields.iter().map(|s| s.to_string()).collect(),
            filters: filters
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            sorts: Vec::new(),
            limit: limit.map(str::to_owned),
        }
    }

    #[test]
    fn groups_filters_and_limits() {
        let data = Data::new(1, |_| None);
        let s = spec(
            &["users.state", "order_items.count"],
            &[("users.state", "California,Texas")],
            None,
        );
        assert!(validate(&s).is_empty());
        let table = run(&data, &s, None).expect("runs");
        assert_eq!(table.rows.len(), 2);
        let total: u64 = table.rows.iter().map(|r| r[1].as_u64().unwrap_or(0)).sum();
        assert!(total > 0 && total < 30_000);
        assert!(
            table.rows[0][1].as_u64() >= table.rows[1][1].as_u64(),
            "default sort: measure desc"
        );
        let limited = run(&data, &spec(&["order_items.id"], &[], Some("7")), None).expect("runs");
        assert_eq!(limited.rows.len(), 7);
        let all = run(&data, &spec(&["order_items.id"], &[], Some("-1")), None).expect("runs");
        assert_eq!(all.rows.len(), 30_000);
    }

    #[test]
    fn rejects_what_it_cannot_do_and_fails_broken_sql() {
        assert!(!validate(&spec(&["nope.x"], &[], None)).is_empty());
        assert!(!validate(&spec(&["users.age"], &[("users.age", "7 days")], None)).is_empty());
        let data = Data::new(1, |_| None);
        assert!(run(&data, &spec(&["orders.bad_sql"], &[], None), None).is_err());
    }

    #[test]
    fn renders_csv_and_json() {
        let table = Table {
            fields: vec!["users.city".into(), "users.count".into()],
            rows: vec![vec![json!("a, b"), json!(3)]],
            sql: "SELECT".into(),
        };
        let (csv, _, _) = render(&table, "csv", "t", 0.1);
        assert_eq!(
            String::from_utf8(csv).expect("utf8"),
            "Users City,Users Count\n\"a, b\",3\n"
        );
        let (json_body, _, data) = render(&table, "json", "t", 0.1);
        assert_eq!(data, json!([{ "users.city": "a, b", "users.count": 3 }]));
        assert_eq!(
            serde_json::from_slice::<Value>(&json_body).expect("json"),
            data
        );
    }
}
