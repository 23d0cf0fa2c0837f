//! `haul sf describe`, `haul sf objects` and `haul sf limits`: the org's metadata and limits.

use anyhow::Result;
use haul::salesforce::rest::Field;

use crate::Outcome;
use crate::args::DescribeArgs;
use crate::exit::Usage;
use crate::target::SfTarget;

/// A table of the object's fields; `--json` prints the describe as Salesforce sent it.
pub(crate) async fn describe(target: &SfTarget, args: DescribeArgs) -> Result<Outcome> {
    let described = match target.client.describe(&args.object).await {
        Err(error) if error.is_invalid_input() => return Err(Usage(error.to_string()).into()),
        other => other?,
    };
    let header = ["NAME", "TYPE", "SIZE", "NILLABLE", "LABEL"].map(str::to_owned);
    let rows = described.fields.iter().map(|field| {
        [
            field.name.clone(),
            field.type_.to_string(),
            size(field),
            if field.nillable.unwrap_or(false) {
                "yes"
            } else {
                "no"
            }
            .to_owned(),
            field.label.clone().unwrap_or_default(),
        ]
    });
    Ok(Outcome::Lines {
        lines: table(std::iter::once(header).chain(rows).collect()),
        json: serde_json::to_value(&described)?,
    })
}

/// What bounds a field's values: `length` for text, `precision,scale` for decimals, `digits` for
/// integers; nothing for the rest.
fn size(field: &Field) -> String {
    let known = |n: Option<i64>| n.filter(|n| *n > 0);
    if field.type_.has_length() {
        known(field.length)
            .map(|n| n.to_string())
            .unwrap_or_default()
    } else if field.type_.has_precision() {
        match known(field.precision) {
            Some(precision) => format!("{precision},{}", field.scale.unwrap_or(0)),
            None => String::new(),
        }
    } else {
        known(field.digits)
            .map(|n| n.to_string())
            .unwrap_or_default()
    }
}

/// The objects SOQL can query, one a line with its label; `--json` prints the global describe.
pub(crate) async fn objects(target: &SfTarget) -> Result<Outcome> {
    let global = target.client.global_describe().await?;
    let header = ["NAME", "KEY PREFIX", "LABEL"].map(str::to_owned);
    let rows = global
        .sobjects
        .iter()
        .filter(|object| object.queryable.unwrap_or(false))
        .map(|object| {
            [
                object.name.clone(),
                object.key_prefix.clone().unwrap_or_default(),
                object.label.clone().unwrap_or_default(),
            ]
        });
    Ok(Outcome::Lines {
        lines: table(std::iter::once(header).chain(rows).collect()),
        json: serde_json::to_value(&global)?,
    })
}

/// Every limit with its maximum, what remains and what is used; `--json` prints them as sent.
pub(crate) async fn limits(target: &SfTarget) -> Result<Outcome> {
    let limits = target.client.limits().await?;
    let header = ["LIMIT", "MAX", "REMAINING", "USED"].map(str::to_owned);
    let rows = limits.iter().map(|(name, limit)| {
        [
            name.to_owned(),
            limit.max.to_string(),
            limit.remaining.to_string(),
            limit.used().to_string(),
        ]
    });
    Ok(Outcome::Lines {
        lines: table(std::iter::once(header).chain(rows).collect()),
        json: serde_json::to_value(&limits)?,
    })
}

/// Rows of cells as lines, each column as wide as its widest cell (the last one unpadded).
fn table<const N: usize>(rows: Vec<[String; N]>) -> Vec<String> {
    let mut widths = [0; N];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i + 1 == N {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<width$}  ", width = widths[i]));
                }
            }
            line.trim_end().to_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(json: serde_json::Value) -> Field {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn sizes_follow_the_field_type() {
        let text = field(serde_json::json!({"name": "Name", "type": "string", "length": 255}));
        let money = field(
            serde_json::json!({"name": "Amount", "type": "currency", "precision": 18, "scale": 2}),
        );
        let count = field(serde_json::json!({"name": "N", "type": "int", "digits": 9}));
        let flag = field(serde_json::json!({"name": "B", "type": "boolean", "length": 0}));
        assert_eq!(size(&text), "255");
        assert_eq!(size(&money), "18,2");
        assert_eq!(size(&count), "9");
        assert_eq!(size(&flag), "");
    }

    #[test]
    fn tables_align_their_columns() {
        let lines = table(vec![
            ["NAME".into(), "TYPE".into(), "LABEL".into()],
            ["Id".into(), "id".into(), "Account ID".into()],
            [
                "AnnualRevenue".into(),
                "currency".into(),
                "Annual Revenue".into(),
            ],
        ]);
        assert_eq!(lines[0], "NAME           TYPE      LABEL");
        assert_eq!(lines[1], "Id             id        Account ID");
        assert_eq!(lines[2], "AnnualRevenue  currency  Annual Revenue");
    }
}
