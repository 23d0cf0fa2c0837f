//! A result's [`Schema`] from its manifest: each column's `type_name` (or, for a name this
//! version does not know, its `type_text`) mapped onto the engine's [`ColumnType`].

use haul_client::databricks_sql_statements::types;
use haul_types::ColumnTypeName;

use crate::download::{Column, ColumnType, Schema};
use crate::error::{Error, Result};

/// The columns of `manifest`, in order; every column nullable (the manifest does not say).
pub(crate) fn schema_of(manifest: &types::ResultManifest) -> Result<Schema> {
    let columns = manifest
        .schema
        .as_ref()
        .map(|s| s.columns.as_slice())
        .unwrap_or_default();
    if columns.is_empty() {
        return Err(Error::invalid_response(
            "get_statement",
            "the manifest lists no columns",
        ));
    }
    let mut ordered: Vec<&types::ColumnInfo> = columns.iter().collect();
    ordered.sort_by_key(|c| c.position.unwrap_or(i64::MAX));
    let columns = ordered
        .into_iter()
        .map(|info| {
            let name = info.name.clone().ok_or_else(|| {
                Error::invalid_response("get_statement", "a manifest column has no name")
            })?;
            Ok(Column::new(name, column_type(info), true))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Schema::new(columns))
}

/// INT and smaller as 32-bit integers, BIGINT as 64-bit, DECIMAL(p,s) exact, FLOAT and DOUBLE as
/// floats, BOOLEAN, DATE, TIMESTAMP (an instant) and TIMESTAMP_NTZ (a wall-clock time) in
/// microseconds; everything else (strings, binary, intervals, nested types) as text.
fn column_type(info: &types::ColumnInfo) -> ColumnType {
    let text = info.type_text.as_deref().unwrap_or_default();
    match info.type_name.as_ref() {
        Some(ColumnTypeName::Byte | ColumnTypeName::Short | ColumnTypeName::Int) => {
            ColumnType::Int32
        }
        Some(ColumnTypeName::Long) => ColumnType::Int64,
        Some(ColumnTypeName::Float | ColumnTypeName::Double) => ColumnType::Float64,
        Some(ColumnTypeName::Boolean) => ColumnType::Boolean,
        Some(ColumnTypeName::Date) => ColumnType::Date,
        Some(ColumnTypeName::Timestamp) => ColumnType::TimestampMicros,
        Some(ColumnTypeName::Decimal) => decimal(info, text),
        Some(ColumnTypeName::Other(name)) => {
            by_text(name).unwrap_or_else(|| by_text(text).unwrap_or(ColumnType::Utf8))
        }
        Some(_) => ColumnType::Utf8,
        None => by_text(text).unwrap_or(ColumnType::Utf8),
    }
}

/// A type read from SQL's own spelling (`BIGINT`, `SMALLINT`, `DECIMAL(10,2)`, ...), for type
/// names this version does not know.
fn by_text(text: &str) -> Option<ColumnType> {
    let upper = text.trim().to_ascii_uppercase();
    let head = upper.split(['(', '<', ' ']).next().unwrap_or_default();
    Some(match head {
        "TINYINT" | "BYTE" | "SMALLINT" | "SHORT" | "INT" | "INTEGER" => ColumnType::Int32,
        "BIGINT" | "LONG" => ColumnType::Int64,
        "FLOAT" | "REAL" | "DOUBLE" => ColumnType::Float64,
        "BOOLEAN" => ColumnType::Boolean,
        "DATE" => ColumnType::Date,
        "TIMESTAMP" | "TIMESTAMP_LTZ" => ColumnType::TimestampMicros,
        "TIMESTAMP_NTZ" => ColumnType::TimestampNtzMicros,
        "DECIMAL" | "DEC" | "NUMERIC" => decimal_text(&upper)?,
        _ => return None,
    })
}

/// DECIMAL from `type_precision` and `type_scale`, or from `DECIMAL(p,s)` in `type_text`;
/// Databricks' default, DECIMAL(10,0), when neither says.
fn decimal(info: &types::ColumnInfo, text: &str) -> ColumnType {
    let stated = info
        .type_precision
        .zip(info.type_scale)
        .and_then(|(p, s)| Some((u8::try_from(p).ok()?, u8::try_from(s).ok()?)));
    match stated {
        Some((precision, scale)) => ColumnType::Decimal { precision, scale },
        None => decimal_text(&text.to_ascii_uppercase()).unwrap_or(ColumnType::Decimal {
            precision: 10,
            scale: 0,
        }),
    }
}

fn decimal_text(upper: &str) -> Option<ColumnType> {
    let Some((_, args)) = upper.split_once('(') else {
        return Some(ColumnType::Decimal {
            precision: 10,
            scale: 0,
        });
    };
    let args = args.strip_suffix(')')?;
    let (precision, scale) = match args.split_once(',') {
        Some((p, s)) => (p.trim().parse().ok()?, s.trim().parse().ok()?),
        None => (args.trim().parse().ok()?, 0),
    };
    Some(ColumnType::Decimal { precision, scale })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(columns: &str) -> types::ResultManifest {
        serde_json::from_str(&format!(r#"{{"schema":{{"columns":{columns}}}}}"#)).unwrap()
    }

    #[test]
    fn manifest_types_map_onto_column_types() {
        let schema = schema_of(&manifest(
            r#"[
            {"name":"b","position":1,"type_name":"LONG","type_text":"BIGINT"},
            {"name":"a","position":0,"type_name":"INT","type_text":"INT"},
            {"name":"s","position":2,"type_name":"SHORT","type_text":"SMALLINT"},
            {"name":"d","position":3,"type_name":"DECIMAL","type_text":"DECIMAL(12,3)","type_precision":12,"type_scale":3},
            {"name":"e","position":4,"type_name":"DECIMAL","type_text":"DECIMAL(7,2)"},
            {"name":"f","position":5,"type_name":"DOUBLE","type_text":"DOUBLE"},
            {"name":"g","position":6,"type_name":"BOOLEAN","type_text":"BOOLEAN"},
            {"name":"h","position":7,"type_name":"DATE","type_text":"DATE"},
            {"name":"i","position":8,"type_name":"TIMESTAMP","type_text":"TIMESTAMP"},
            {"name":"j","position":9,"type_name":"STRING","type_text":"STRING"},
            {"name":"k","position":10,"type_name":"ARRAY","type_text":"ARRAY<INT>"},
            {"name":"l","position":11,"type_name":"BIGINT_SOMEDAY","type_text":"BIGINT"},
            {"name":"m","position":12,"type_name":"TIMESTAMP_NTZ","type_text":"TIMESTAMP_NTZ"}
        ]"#,
        ))
        .unwrap();
        let types: Vec<(&str, ColumnType)> = schema
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.ty))
            .collect();
        assert_eq!(
            types,
            [
                ("a", ColumnType::Int32),
                ("b", ColumnType::Int64),
                ("s", ColumnType::Int32),
                (
                    "d",
                    ColumnType::Decimal {
                        precision: 12,
                        scale: 3
                    }
                ),
                (
                    "e",
                    ColumnType::Decimal {
                        precision: 7,
                        scale: 2
                    }
                ),
                ("f", ColumnType::Float64),
                ("g", ColumnType::Boolean),
                ("h", ColumnType::Date),
                ("i", ColumnType::TimestampMicros),
                ("j", ColumnType::Utf8),
                ("k", ColumnType::Utf8),
                ("l", ColumnType::Int64),
                ("m", ColumnType::TimestampNtzMicros),
            ]
        );
        assert!(schema.columns.iter().all(|c| c.nullable));
    }

    #[test]
    fn a_manifest_without_columns_is_refused() {
        assert!(schema_of(&manifest("[]")).is_err());
    }
}
