//! A REST query's batch as CSV rows: each record read from the JSON text as it was sent (borrowed
//! as [`RawValue`], so that a number is never parsed as a float on the way) and written as one row
//! of the SELECT list's columns, relationship paths (`Owner.Name`) looked up in the nested
//! records. The typed formats then read these rows by the same rules as a Bulk API result.
//!
//! What each JSON value becomes, chosen so that a REST batch reads as the Bulk API's CSV of the
//! same records reads:
//! - a number: its text as sent (`123456789012345.6789`, `1.5E+7`), every digit kept;
//! - a string: its text; `true` and `false` as such;
//! - `null`, a field under a null relationship, and the empty string: an empty field, which every
//!   typed format reads as null. The Bulk API writes a null and an empty text alike as an empty
//!   field, so the two APIs agree (Salesforce stores no empty text: it answers null for one);
//! - an object or an array (a compound address, a subquery's records): its JSON text, for CSV
//!   output (a typed download refuses such columns before anything is sent).

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;
use serde_json::value::RawValue;

/// One answer of `query` or `queryAll`, its records kept as the JSON text they arrived as.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawBatch<'a> {
    pub(super) total_size: i64,
    pub(super) done: bool,
    #[serde(default)]
    pub(super) next_records_url: Option<String>,
    #[serde(borrow)]
    pub(super) records: Vec<&'a RawValue>,
}

/// A record's fields by name, each value as sent.
type Record<'a> = HashMap<String, &'a RawValue>;

/// A SELECT list's columns, each split into its path.
pub(super) struct Columns {
    names: Vec<String>,
    paths: Vec<Vec<String>>,
    /// The FROM object: `SELECT Account.Name FROM Account` names it before its own field.
    object: Option<String>,
}

impl Columns {
    pub(super) fn new(names: Vec<String>, object: Option<String>) -> Self {
        let paths = names
            .iter()
            .map(|name| name.split('.').map(str::to_owned).collect())
            .collect();
        Self {
            names,
            paths,
            object,
        }
    }

    /// Writes a header row of the column names, then one row a record, into `out`. Fails, saying
    /// why, on a record that is not a JSON object or lacks a selected field.
    pub(super) fn write_csv(
        &self,
        records: &[&RawValue],
        out: &mut Vec<u8>,
    ) -> std::result::Result<(), String> {
        let mut csv = csv::Writer::from_writer(out);
        let written = |e: csv::Error| format!("writing a row: {e}");
        csv.write_record(&self.names).map_err(written)?;
        let mut row: Vec<Cow<'_, str>> = Vec::with_capacity(self.paths.len());
        for (index, raw) in records.iter().enumerate() {
            let record: Record<'_> = serde_json::from_str(raw.get())
                .map_err(|e| format!("record {} is not a JSON object: {e}", index + 1))?;
            row.clear();
            for (name, path) in self.names.iter().zip(&self.paths) {
                let value = self
                    .lookup(&record, path)
                    .map_err(|missing| format!("record {} has no {missing} ({name})", index + 1))?;
                row.push(field_text(value).map_err(|e| format!("{name}: {e}"))?);
            }
            csv.write_record(row.iter().map(|text| text.as_bytes()))
                .map_err(written)?;
        }
        csv.flush().map_err(|e| format!("writing a row: {e}"))
    }

    /// The value at `path` in `record`: `None` when a relationship on the way is null; `Err`
    /// with the missing field's name when the record lacks one.
    fn lookup<'a>(
        &self,
        record: &Record<'a>,
        path: &[String],
    ) -> std::result::Result<Option<&'a RawValue>, String> {
        let path = match path {
            [first, rest @ ..]
                if !rest.is_empty()
                    && self
                        .object
                        .as_deref()
                        .is_some_and(|o| o.eq_ignore_ascii_case(first))
                    && get(record, first).is_none() =>
            {
                rest
            }
            _ => path,
        };
        let (last, relationships) = path.split_last().ok_or_else(String::new)?;
        let mut nested: Option<Record<'a>> = None;
        for name in relationships {
            let current = nested.as_ref().unwrap_or(record);
            let value = get(current, name).ok_or_else(|| name.clone())?;
            if value.get() == "null" {
                return Ok(None);
            }
            nested = Some(serde_json::from_str(value.get()).map_err(|_| name.clone())?);
        }
        let current = nested.as_ref().unwrap_or(record);
        get(current, last).map(Some).ok_or_else(|| last.clone())
    }
}

/// The field `name` of `record`: its exact spelling first, else regardless of case (SOQL is
/// case-insensitive; records carry the names as describe spells them).
fn get<'a>(record: &Record<'a>, name: &str) -> Option<&'a RawValue> {
    record.get(name).copied().or_else(|| {
        record
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| *value)
    })
}

/// A value as a CSV field, by the rules in this module's documentation.
fn field_text(value: Option<&RawValue>) -> serde_json::Result<Cow<'_, str>> {
    let Some(value) = value else {
        return Ok(Cow::Borrowed(""));
    };
    let text = value.get();
    Ok(match text.as_bytes().first() {
        Some(b'n') => Cow::Borrowed(""),
        Some(b'"') => Cow::Owned(serde_json::from_str::<String>(text)?),
        _ => Cow::Borrowed(text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(
        names: &[&str],
        object: Option<&str>,
        body: &str,
    ) -> std::result::Result<String, String> {
        let batch: RawBatch<'_> = serde_json::from_str(body).unwrap();
        let columns = Columns::new(
            names.iter().map(|n| (*n).to_owned()).collect(),
            object.map(str::to_owned),
        );
        let mut out = Vec::new();
        columns.write_csv(&batch.records, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn numbers_keep_their_digits_and_relationships_are_flattened() {
        let body = r#"{"totalSize": 2, "done": true, "records": [
            {"attributes": {"type": "Contact"}, "Id": "003A", "Amount__c": 123456789012345.6789,
             "Big__c": 1.5E+7, "Flag__c": true, "Name": "Jane \"JD\", Jr.\n",
             "Account": {"attributes": {"type": "Account"}, "Name": "Acme",
                         "Owner": {"attributes": {}, "Email": "a@b.c"}}},
            {"attributes": {"type": "Contact"}, "Id": "003B", "Amount__c": null, "Big__c": -0.0,
             "Flag__c": false, "Name": "", "Account": null}
        ]}"#;
        let out = csv(
            &[
                "Id",
                "amount__c",
                "Big__c",
                "Flag__c",
                "Name",
                "Account.Name",
                "account.owner.email",
            ],
            None,
            body,
        )
        .unwrap();
        assert_eq!(
            out,
            "Id,amount__c,Big__c,Flag__c,Name,Account.Name,account.owner.email\n\
             003A,123456789012345.6789,1.5E+7,true,\"Jane \"\"JD\"\", Jr.\n\",Acme,a@b.c\n\
             003B,,-0.0,false,,,\n"
        );
    }

    #[test]
    fn the_from_object_may_name_its_own_fields_and_nested_values_stay_json() {
        let body = r#"{"totalSize": 1, "done": true, "records": [
            {"attributes": {}, "Name": "Acme", "BillingAddress": {"city": "Paris", "latitude": 48.85}}
        ]}"#;
        let out = csv(&["Account.Name", "BillingAddress"], Some("Account"), body).unwrap();
        assert_eq!(
            out,
            "Account.Name,BillingAddress\nAcme,\"{\"\"city\"\": \"\"Paris\"\", \"\"latitude\"\": 48.85}\"\n"
        );
    }

    #[test]
    fn a_missing_field_and_a_record_that_is_no_object_are_errors() {
        let body = r#"{"totalSize": 1, "done": true, "records": [{"Id": "1"}]}"#;
        let error = csv(&["Id", "Name"], None, body).unwrap_err();
        assert!(error.contains("record 1 has no Name"), "{error}");
        let body = r#"{"totalSize": 1, "done": true, "records": [{"Owner": {"Id": "1"}}]}"#;
        let error = csv(&["Owner.Name"], None, body).unwrap_err();
        assert!(error.contains("has no Name (Owner.Name)"), "{error}");
        let body = r#"{"totalSize": 1, "done": true, "records": [7]}"#;
        let error = csv(&["Id"], None, body).unwrap_err();
        assert!(error.contains("not a JSON object"), "{error}");
    }
}
