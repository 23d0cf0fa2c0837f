//! `GET .../query?q=...&columns=true`: what a query's columns are, without running it. The
//! REST API Developer Guide does not document this mode, but real orgs answer it and Salesforce's
//! own CLI depends on it: `sf data query` asks for it first and reads `columnMetadata`, each
//! column with `columnName`, `displayName`, `aggregate` and `joinColumns` (the fields of a parent
//! reached through a lookup), from `@salesforce/plugin-data`'s `retrieveColumns`. The other keys
//! (`apexType`, `booleanType`, `numberType`, `textType`, `custom`, `insertable`, `updatable`,
//! `foreignKeyName`; `entityName`, `groupBy`, `idSelected`, `keyPrefix`) are those real orgs send.

use serde_json::{Value, json};

use crate::shared::data::schema::{Field, FieldType};
use crate::shared::data::soql::{Column, Soql};

/// The Apex type of a field's values.
fn apex_type(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Id | FieldType::Reference(_) => "Id",
        FieldType::Int => "Integer",
        FieldType::Currency(..) | FieldType::Double(..) | FieldType::Percent(..) => "Double",
        FieldType::Date => "Date",
        FieldType::DateTime => "Datetime",
        FieldType::Time => "Time",
        FieldType::Boolean => "Boolean",
        FieldType::Address => "Address",
        FieldType::Location => "Location",
        FieldType::Base64 => "Blob",
        _ => "String",
    }
}

/// One column's metadata; `display` is how the column is headed (`Account.Name` for a parent's).
fn column(f: &Field, display: &str, join: Vec<Value>) -> Value {
    json!({
        "aggregate": false,
        "apexType": apex_type(f.ty),
        "booleanType": f.ty == FieldType::Boolean,
        "columnName": f.name,
        "custom": f.name.ends_with("__c"),
        "displayName": display,
        "foreignKeyName": null,
        "insertable": f.writable(),
        "joinColumns": join,
        "numberType": f.ty.is_numeric(),
        "textType": matches!(apex_type(f.ty), "String"),
        "updatable": f.writable(),
    })
}

/// The `columns=true` answer for a parsed query.
pub(super) fn metadata(soql: &Soql) -> Value {
    let object = soql.object;
    let mut columns: Vec<Value> = Vec::new();
    let mut parents: Vec<(usize, usize)> = Vec::new();
    for c in &soql.columns {
        match *c {
            Column::Own(field) => {
                let f = &object.fields[field];
                columns.push(column(f, f.name, Vec::new()));
            }
            Column::Parent(p) => {
                let lookup = &object.fields[p.lookup];
                let relationship = lookup.relationship_name().unwrap_or_default();
                let target = &p.object.fields[p.field];
                let joined = column(
                    target,
                    &format!("{relationship}.{}", target.name),
                    Vec::new(),
                );
                match parents.iter().find(|(l, _)| *l == p.lookup) {
                    Some(&(_, at)) => {
                        if let Some(join) = columns[at]["joinColumns"].as_array_mut() {
                            join.push(joined);
                        }
                    }
                    None => {
                        parents.push((p.lookup, columns.len()));
                        let mut parent = column(lookup, &relationship, vec![joined]);
                        parent["columnName"] = json!(relationship);
                        parent["apexType"] = json!(p.object.name);
                        parent["foreignKeyName"] = json!(lookup.name);
                        columns.push(parent);
                    }
                }
            }
        }
    }
    json!({
        "columnMetadata": columns,
        "entityName": object.name,
        "groupBy": false,
        "idSelected": soql.fields.contains(&0),
        "keyPrefix": object.key_prefix,
    })
}
