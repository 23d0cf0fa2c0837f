//! Describe Global (`GET .../sobjects`), sObject Basic Information (`GET .../sobjects/{object}`)
//! and sObject Describe (`GET .../sobjects/{object}/describe`).
//!
//! The shapes are the REST API Developer Guide's ("Get a List of Objects", "Get Field and Other
//! Metadata for an Object"), whose properties are those of the SOAP API's `DescribeGlobalResult`,
//! `DescribeSObjectResult` and `Field`: Describe Global is `{encoding, maxBatchSize, sobjects}`,
//! each object with its flags (`queryable`, `retrieveable`, `replicateable`, `custom`, ...),
//! `keyPrefix` and `urls`; sObject Describe adds `fields` (name, label, type, length, precision,
//! scale, digits, byteLength, nillable, compoundFieldName, referenceTo, relationshipName,
//! calculated, soapType, picklistValues, ...) and `childRelationships`.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use haul_types::ApiVersion;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::salesforce::errors::{self, not_found};
use crate::shared::data::schema::{self, Field, FieldType, Gen, OBJECTS, ObjectSchema};

#[derive(Debug, Deserialize)]
pub(super) struct ObjectPath {
    version: String,
    object: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct VersionOnly {
    version: String,
}

/// What Describe Global says of an object; sObject Describe starts from the same flags.
fn summary(object: &ObjectSchema, version: &str) -> Map<String, Value> {
    let base = format!("/services/data/{version}/sobjects/{}", object.name);
    let big = object.name.ends_with("__b");
    let writable = object.bulk;
    let Value::Object(map) = json!({
        "activateable": false,
        "createable": writable,
        "custom": object.custom(),
        "customSetting": false,
        "deepCloneable": false,
        "deletable": writable && !big,
        "deprecatedAndHidden": false,
        "feedEnabled": false,
        "hasSubtypes": false,
        "isInterface": false,
        "isSubtype": false,
        "keyPrefix": object.key_prefix,
        "label": object.label,
        "labelPlural": object.label_plural,
        "layoutable": !big,
        "mergeable": matches!(object.name, "Account" | "Contact" | "Lead"),
        "mruEnabled": !big,
        "name": object.name,
        "queryable": true,
        "replicateable": !big,
        "retrieveable": true,
        "searchable": !big,
        "triggerable": !big,
        "undeletable": object.has_recycle_bin(),
        "updateable": writable && !big,
        "urls": {
            "rowTemplate": format!("{base}/{{ID}}"),
            "describe": format!("{base}/describe"),
            "sobject": base,
        },
    }) else {
        unreachable!("a JSON object literal")
    };
    map
}

/// `GET .../sobjects`.
pub(super) async fn global(Path(p): Path<VersionOnly>) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::BULK_V2_INGEST) {
        return r;
    }
    let sobjects: Vec<Value> = OBJECTS
        .iter()
        .map(|o| Value::Object(summary(o, &p.version)))
        .collect();
    errors::json(
        StatusCode::OK,
        &json!({ "encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects }),
    )
}

/// `GET .../sobjects/{object}`: the object's summary and its recently viewed records (none: no
/// one views records in a simulator).
pub(super) async fn basic(Path(p): Path<ObjectPath>) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::BULK_V2_INGEST) {
        return r;
    }
    let Some(object) = schema::object(&p.object) else {
        return not_found();
    };
    errors::json(
        StatusCode::OK,
        &json!({ "objectDescribe": summary(object, &p.version), "recentItems": [] }),
    )
}

/// `GET .../sobjects/{object}/describe`.
pub(super) async fn object(Path(p): Path<ObjectPath>) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::BULK_V2_INGEST) {
        return r;
    }
    let Some(object) = schema::object(&p.object) else {
        return not_found();
    };
    let mut map = summary(object, &p.version);
    let fields: Vec<Value> = object.fields.iter().map(|f| field(object, f)).collect();
    map.insert("fields".into(), Value::Array(fields));
    map.insert("childRelationships".into(), children(object));
    for empty in [
        "actionOverrides",
        "namedLayoutInfos",
        "recordTypeInfos",
        "supportedScopes",
    ] {
        map.insert(empty.into(), json!([]));
    }
    for flag in [
        "compactLayoutable",
        "listviewable",
        "lookupLayoutable",
        "searchLayoutable",
    ] {
        map.insert(flag.into(), json!(false));
    }
    map.insert("networkScopeFieldName".into(), Value::Null);
    errors::json(StatusCode::OK, &Value::Object(map))
}

/// The lookups of other objects that point at this one.
fn children(object: &ObjectSchema) -> Value {
    let mut list = Vec::new();
    for child in OBJECTS {
        for f in child.fields {
            if f.ty != FieldType::Reference(object.key_prefix) {
                continue;
            }
            list.push(json!({
                "cascadeDelete": false,
                "childSObject": child.name,
                "deprecatedAndHidden": false,
                "field": f.name,
                "junctionIdListNames": [],
                "junctionReferenceTo": [],
                "relationshipName": child.label_plural.replace(' ', ""),
                "restrictedDelete": false,
            }));
        }
    }
    Value::Array(list)
}

/// A field's label: its name in words (`BillingPostalCode` is "Billing Postal Code",
/// `Tax_Number__c` is "Tax Number", `AccountId` is "Account ID").
fn label(object: &ObjectSchema, f: &Field) -> String {
    if f.name == "Id" {
        return format!("{} ID", object.label);
    }
    let bare = f.name.trim_end_matches("__c").trim_end_matches("__s");
    let mut words = String::new();
    let chars: Vec<char> = bare.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
        let boundary =
            i > 0 && c.is_ascii_uppercase() && (chars[i - 1].is_ascii_lowercase() || next_lower);
        if c == '_' {
            if !words.ends_with(' ') {
                words.push(' ');
            }
            continue;
        }
        if boundary && !words.ends_with(' ') {
            words.push(' ');
        }
        words.push(c);
    }
    match words.strip_suffix(" Id") {
        Some(stem) => format!("{stem} ID"),
        None => words,
    }
}

/// The picklist entries of a picklist field: the values generated rows draw from.
fn picklist_values(f: &Field) -> Value {
    let values: &[&str] = match f.generator {
        Gen::Pick(values, _) | Gen::Multi(values)
            if matches!(f.ty, FieldType::Picklist | FieldType::MultiPicklist) =>
        {
            values
        }
        _ => &[],
    };
    values
        .iter()
        .map(|v| json!({ "active": true, "defaultValue": false, "label": v, "validFor": null, "value": v }))
        .collect()
}

/// One entry of `fields`.
fn field(object: &ObjectSchema, f: &Field) -> Value {
    let d = f.ty.describe();
    let system = !f.writable() && !f.ty.is_compound() && !matches!(f.generator, Gen::Join(_));
    let long = matches!(
        f.ty,
        FieldType::TextArea | FieldType::MultiPicklist | FieldType::Base64
    ) || f.ty.is_compound();
    let reference_to: Vec<&str> = match f.ty {
        FieldType::Reference(prefix) => schema::object_by_prefix(prefix)
            .map(|o| vec![o.name])
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let custom = f.name.ends_with("__c") || f.name.ends_with("__s");
    let nillable = !f.required && !system && f.ty != FieldType::Boolean;
    let Value::Object(mut map) = json!({
        "aggregatable": !long,
        "aiPredictionField": false,
        "autoNumber": false,
        "byteLength": d.byte_length,
        "calculated": matches!(f.generator, Gen::Join(_)),
        "calculatedFormula": null,
        "cascadeDelete": false,
        "caseSensitive": false,
        "compoundFieldName": f.compound,
        "controllerName": null,
        "createable": f.writable(),
        "custom": custom,
        "defaultValue": if f.ty == FieldType::Boolean { json!(false) } else { Value::Null },
        "defaultValueFormula": null,
        "defaultedOnCreate": system || f.ty == FieldType::Boolean,
        "dependentPicklist": false,
        "deprecatedAndHidden": false,
        "digits": d.digits,
        "displayLocationInDecimal": f.ty == FieldType::Location,
        "encrypted": false,
        "externalId": false,
        "extraTypeInfo": match f.ty {
            FieldType::TextArea => json!("plaintextarea"),
            FieldType::Phone if f.name.contains("Fax") => json!("fax"),
            _ => Value::Null,
        },
        "filterable": !long,
    }) else {
        unreachable!("a JSON object literal")
    };
    let Value::Object(rest) = json!({
        "filteredLookupInfo": null,
        "formulaTreatNullNumberAsZero": false,
        "groupable": !long && !f.ty.is_numeric(),
        "highScaleNumber": false,
        "htmlFormatted": false,
        "idLookup": f.name == "Id",
        "inlineHelpText": null,
        "label": label(object, f),
        "length": d.length,
        "mask": null,
        "maskType": null,
        "name": f.name,
        "nameField": f.name == "Name",
        "namePointing": false,
        "nillable": nillable,
        "permissionable": f.writable() && !f.required,
        "picklistValues": picklist_values(f),
        "polymorphicForeignKey": false,
        "precision": d.precision,
        "queryByDistance": false,
        "referenceTargetField": null,
        "referenceTo": reference_to,
        "relationshipName": f.relationship_name(),
        "relationshipOrder": null,
        "restrictedDelete": false,
        "restrictedPicklist": false,
        "scale": d.scale,
        "searchPrefilterable": false,
        "soapType": d.soap_type,
        "sortable": !long,
        "type": d.name,
        "unique": false,
        "updateable": f.writable(),
        "writeRequiresMasterRead": false,
    }) else {
        unreachable!("a JSON object literal")
    };
    map.extend(rest);
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_like_the_vendors() {
        let account = schema::object("Account").expect("exists");
        let named = |name: &str| {
            label(
                account,
                &account.fields[account.field_index(name).expect("field")],
            )
        };
        assert_eq!(named("Id"), "Account ID");
        assert_eq!(named("BillingPostalCode"), "Billing Postal Code");
        assert_eq!(named("Tax_Number__c"), "Tax Number");
        assert_eq!(named("NumberOfEmployees"), "Number Of Employees");
        let contact = schema::object("Contact").expect("exists");
        let account_id = &contact.fields[contact.field_index("AccountId").expect("field")];
        assert_eq!(label(contact, account_id), "Account ID");
    }
}
