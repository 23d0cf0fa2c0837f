//! Records as the REST API prints them, and sObject Rows (`GET .../sobjects/{object}/{id}`).
//!
//! A record is a JSON object that starts with `attributes {type, url}` and then has the selected
//! fields in order (REST API Developer Guide, "Query" and "sObject Rows"). Values keep their JSON
//! types: numbers are numbers (printed with the digits the org holds, as Bulk API CSV prints
//! them, never rounded through a float), booleans booleans, null is null; date-times carry `+0000`
//! (`2024-04-16T19:00:00.000+0000`, where Bulk API CSV has `Z`); an address is an object of its
//! components (`city`, `country`, `geocodeAccuracy`, `latitude`, `longitude`, `postalCode`,
//! `state`, `street`), a geolocation `{latitude, longitude}` ("Compound Fields", Object
//! Reference); a base64 field is the URL its content is read from, as in query results.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use haul_types::ApiVersion;
use serde::ser::SerializeMap as _;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value, json};

use super::RestApi;
use crate::salesforce::errors::{self, not_found};
use crate::shared::data::Snapshot;
use crate::shared::data::query::ResultSet;
use crate::shared::data::schema::{self, Field, FieldType, ObjectSchema};
use crate::shared::data::soql::Column;
use crate::shared::ids;

/// The keys of an address value, in the order real orgs print them.
const ADDRESS_KEYS: &[&str] = &[
    "city",
    "country",
    "geocodeAccuracy",
    "latitude",
    "longitude",
    "postalCode",
    "state",
    "street",
];

/// `/services/data/vXX.X/sobjects/Account/001...`: a record's own URL.
pub(super) fn record_url(version: &str, object: &ObjectSchema, id: &str) -> String {
    format!("/services/data/{version}/sobjects/{}/{id}", object.name)
}

/// A JSON object that keeps its keys in the order given (serde_json's map sorts them), so that
/// `attributes` comes first and the fields follow in SELECT order, as real orgs print records.
#[derive(Debug, Default)]
pub(super) struct Ordered(Vec<(String, Cell)>);

/// A value in an [`Ordered`] record: plain JSON, a number as its text, or a parent record nested
/// under its relationship name.
#[derive(Debug)]
pub(super) enum Cell {
    Value(Value),
    Number(Box<RawValue>),
    Record(Ordered),
}

impl Serialize for Ordered {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, cell) in &self.0 {
            map.serialize_entry(key, cell)?;
        }
        map.end()
    }
}

impl Serialize for Cell {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Value(value) => value.serialize(serializer),
            Self::Number(number) => number.serialize(serializer),
            Self::Record(record) => record.serialize(serializer),
        }
    }
}

impl Ordered {
    /// A record of `object` with only its `attributes {type, url}` yet.
    fn new(object: &ObjectSchema, id: &str, version: &str) -> Self {
        let attributes = json!({ "type": object.name, "url": record_url(version, object, id) });
        Self(vec![("attributes".to_owned(), Cell::Value(attributes))])
    }

    fn push(&mut self, key: &str, cell: Cell) {
        self.0.push((key.to_owned(), cell));
    }
}

/// One row as a REST record with the given fields of its own object.
pub(super) fn own_record(
    snapshot: &Snapshot,
    fields: &[usize],
    row: u64,
    version: &str,
) -> Ordered {
    let id = snapshot.value(ObjectSchema::ID, row).unwrap_or_default();
    let mut record = Ordered::new(snapshot.object, &id, version);
    for &field in fields {
        let cell = value(snapshot, field, row, version, &id);
        record.push(snapshot.object.fields[field].name, cell);
    }
    record
}

/// One row of a query's results as a REST record: its columns in SELECT order, parent fields
/// nested under the lookup's relationship name (null when the lookup is).
pub(super) fn record(results: &ResultSet, row: u64, version: &str) -> Ordered {
    let snapshot = results.snapshot();
    let object = snapshot.object;
    let id = snapshot.value(ObjectSchema::ID, row).unwrap_or_default();
    let mut record = Ordered::new(object, &id, version);
    for column in results.columns() {
        match column {
            Column::Own(field) => {
                let cell = value(snapshot, *field, row, version, &id);
                record.push(object.fields[*field].name, cell);
            }
            Column::Parent(p) => {
                let relationship = object.fields[p.lookup]
                    .relationship_name()
                    .unwrap_or_default();
                let parent = results.parent_row(column, row);
                let slot = match record.0.iter().position(|(k, _)| *k == relationship) {
                    Some(slot) => slot,
                    None => {
                        let cell = match parent {
                            Some((view, parent_row)) => {
                                let parent_id = view.value(ObjectSchema::ID, parent_row);
                                let parent_id = parent_id.unwrap_or_default();
                                Cell::Record(Ordered::new(p.object, &parent_id, version))
                            }
                            None => Cell::Value(Value::Null),
                        };
                        record.push(&relationship, cell);
                        record.0.len() - 1
                    }
                };
                if let (Cell::Record(nested), Some((view, parent_row))) =
                    (&mut record.0[slot].1, parent)
                {
                    let parent_id = view.value(ObjectSchema::ID, parent_row).unwrap_or_default();
                    let cell = value(view, p.field, parent_row, version, &parent_id);
                    nested.push(p.object.fields[p.field].name, cell);
                }
            }
        }
    }
    record
}

/// One field of a row in its JSON type.
fn value(snapshot: &Snapshot, field: usize, row: u64, version: &str, id: &str) -> Cell {
    let object = snapshot.object;
    let f = &object.fields[field];
    Cell::Value(match f.ty {
        FieldType::Address | FieldType::Location => compound(snapshot, f, row),
        FieldType::Base64 => {
            Value::String(format!("{}/{}", record_url(version, object, id), f.name))
        }
        ty => match snapshot.value(field, row) {
            None => Value::Null,
            Some(text) => return number(ty, &text).unwrap_or_else(|| Cell::Value(typed(ty, text))),
        },
    })
}

/// A fractional number field's value as a JSON number of the text the org holds (a real org
/// prints a Number(18, 2) or a currency with every digit it stores, which a float would round);
/// `None` for other types and for text that is not a JSON number.
fn number(ty: FieldType, text: &str) -> Option<Cell> {
    if ty == FieldType::Int || !ty.is_numeric() || serde_json::from_str::<Number>(text).is_err() {
        return None;
    }
    RawValue::from_string(text.to_owned())
        .ok()
        .map(Cell::Number)
}

/// The text of a value as its type prints in JSON.
fn typed(ty: FieldType, text: String) -> Value {
    match ty {
        FieldType::Int => text
            .parse::<i64>()
            .map_or(Value::String(text), |n| Value::Number(n.into())),
        t if t.is_numeric() => text
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or(Value::String(text), Value::Number),
        FieldType::Boolean => Value::Bool(text == "true"),
        FieldType::DateTime => match text.strip_suffix('Z') {
            Some(bare) => Value::String(format!("{bare}+0000")),
            None => Value::String(text),
        },
        _ => Value::String(text),
    }
}

/// A compound field's value built from its components; null when every component is null.
fn compound(snapshot: &Snapshot, f: &Field, row: u64) -> Value {
    let object = snapshot.object;
    let mut map = Map::new();
    if f.ty == FieldType::Address {
        for key in ADDRESS_KEYS {
            map.insert((*key).to_owned(), Value::Null);
        }
    }
    let mut any = false;
    for (index, part) in object.fields.iter().enumerate() {
        if part.compound != Some(f.name) {
            continue;
        }
        let value = snapshot
            .value(index, row)
            .map_or(Value::Null, |t| typed(part.ty, t));
        any |= !value.is_null();
        map.insert(component_key(f.name, part.name), value);
    }
    if any { Value::Object(map) } else { Value::Null }
}

/// The key of a component inside its compound value: `BillingPostalCode` of `BillingAddress` is
/// `postalCode`; `Place__Latitude__s` of `Place__c` is `latitude`.
fn component_key(compound: &str, part: &str) -> String {
    let prefix = compound
        .strip_suffix("Address")
        .or_else(|| compound.strip_suffix("__c"))
        .unwrap_or("");
    let bare = part
        .strip_prefix(prefix)
        .unwrap_or(part)
        .trim_start_matches('_')
        .trim_end_matches("__s");
    let mut chars = bare.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_lowercase().to_string() + chars.as_str()
    })
}

#[derive(Debug, Deserialize)]
pub(super) struct RecordPath {
    version: String,
    object: String,
    id: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct RecordQuery {
    fields: Option<String>,
}

/// `GET .../sobjects/{object}/{id}[?fields=a,b]`: a live record with every field (or the
/// listed ones); 404 `NOT_FOUND` for an unknown, deleted or other object's id.
pub(super) async fn record_route(
    State(rest): State<Arc<RestApi>>,
    Path(p): Path<RecordPath>,
    Query(q): Query<RecordQuery>,
) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::BULK_V2_INGEST) {
        return r;
    }
    let Some(object) = schema::object(&p.object) else {
        return not_found();
    };
    let snapshot = rest.core.org.snapshot(object);
    let Some(row) = ids::parse_id(object.key_prefix, &p.id).filter(|&r| snapshot.is_live(r)) else {
        return not_found();
    };
    let fields: Vec<usize> = match q.fields.as_deref() {
        None => (0..object.fields.len()).collect(),
        Some(list) => match list
            .split(',')
            .map(|name| object.field_index(name.trim()).ok_or(name))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(fields) => fields,
            Err(name) => {
                return errors::error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_FIELD",
                    format!("No such column '{name}' on sobject of type {}", object.name),
                );
            }
        },
    };
    errors::json(
        StatusCode::OK,
        &own_record(&snapshot, &fields, row, &p.version),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_keyed_like_the_vendors_compound_values() {
        assert_eq!(
            component_key("BillingAddress", "BillingPostalCode"),
            "postalCode"
        );
        assert_eq!(component_key("Address", "Street"), "street");
        assert_eq!(
            component_key("Headquarters__c", "Headquarters__Latitude__s"),
            "latitude"
        );
    }

    #[test]
    fn numbers_keep_the_digits_the_org_holds() {
        let printed = |ty, text: &str| match number(ty, text) {
            Some(Cell::Number(raw)) => Some(raw.get().to_owned()),
            _ => None,
        };
        assert_eq!(
            printed(FieldType::Currency(18, 2), "1234567890123456.78").as_deref(),
            Some("1234567890123456.78")
        );
        assert_eq!(
            printed(FieldType::Double(18, 0), "1.6147805824397E13").as_deref(),
            Some("1.6147805824397E13")
        );
        assert_eq!(printed(FieldType::Int, "42"), None);
        assert_eq!(printed(FieldType::Double(18, 0), "1,5"), None);
    }

    #[test]
    fn values_keep_their_json_types() {
        assert_eq!(typed(FieldType::Int, "42".into()), json!(42));
        assert_eq!(
            typed(FieldType::Double(18, 0), "1.6147805824397E13".into()),
            json!(16_147_805_824_397.0)
        );
        assert_eq!(typed(FieldType::Boolean, "false".into()), json!(false));
        assert_eq!(
            typed(FieldType::DateTime, "2018-12-10T17:50:19.000Z".into()),
            json!("2018-12-10T17:50:19.000+0000")
        );
    }
}
