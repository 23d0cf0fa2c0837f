//! Applying uploaded CSV rows of an ingest job to the org: header checks, per-field validation and
//! per-row errors in the vendor's `STATUS_CODE:message:fields --` format.
//!
//! Choices: an empty value leaves a field unchanged on update and is null on insert; `#N/A` sets
//! null. Lookup fields are checked for shape and key prefix, not for the target's existence.

use base64::Engine as _;
use std::collections::HashMap;

use haul_types::IngestOperation;

use crate::shared::csv;
use crate::shared::data::schema::{Field, FieldType, ObjectSchema};
use crate::shared::data::{Editor, Org};
use crate::shared::ids;

/// What processing a job's data produced.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) header: Vec<String>,
    /// `(sf__Id, sf__Created, original row)`.
    pub(crate) successes: Vec<(String, bool, Vec<String>)>,
    /// `(sf__Id, sf__Error, original row)`.
    pub(crate) failures: Vec<(String, String, Vec<String>)>,
    /// Rows never processed (the job failed or was aborted first).
    pub(crate) unprocessed: Vec<Vec<String>>,
}

/// How to apply rows.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) object: &'static ObjectSchema,
    pub(crate) operation: IngestOperation,
    pub(crate) external_id: Option<String>,
    pub(crate) delimiter: u8,
}

/// `CODE:message:fields --`; with no fields the vendor writes `CODE:message:--`.
fn row_error(code: &str, message: &str, fields: &str) -> String {
    if fields.is_empty() {
        format!("{code}:{message}:--")
    } else {
        format!("{code}:{message}:{fields} --")
    }
}

/// Uploaded data: the header as sent, the field index of each column, and the records.
pub(crate) type Parsed = (Vec<String>, Vec<usize>, Vec<Vec<String>>);

/// Parses the data and checks its header; a job-level problem is the job's `errorMessage`.
pub(crate) fn read(plan: &Plan, data: &[u8]) -> Result<Parsed, String> {
    let mut records =
        csv::parse(data, plan.delimiter).map_err(|e| format!("InvalidBatch : {e}"))?;
    if records.is_empty() {
        return Ok((Vec::new(), Vec::new(), Vec::new()));
    }
    let header = records.remove(0);
    let columns = header
        .iter()
        .map(|name| {
            plan.object
                .field_index(name.trim())
                .ok_or_else(|| format!("InvalidBatch : Field name not found : {name}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let deleting = matches!(
        plan.operation,
        IngestOperation::Delete | IngestOperation::HardDelete
    );
    if deleting && columns != [ObjectSchema::ID] {
        return Err(
            "InvalidBatch : The delete job's data must contain only the Id column".to_owned(),
        );
    }
    if let Some(key) = &plan.external_id {
        let field = plan
            .object
            .field_index(key)
            .ok_or_else(|| format!("InvalidBatch : Field name not found : {key}"))?;
        if !columns.contains(&field) {
            return Err(format!(
                "InvalidBatch : External ID field {key} is not in the data"
            ));
        }
    }
    if let Some(line) = records.iter().position(|r| r.len() != header.len()) {
        return Err(format!(
            "InvalidBatch : Wrong number of columns in record {}",
            line + 2
        ));
    }
    Ok((header, columns, records))
}

/// Applies every row to the org, one edit for the whole job.
pub(crate) fn apply(
    org: &Org,
    plan: &Plan,
    header: Vec<String>,
    columns: &[usize],
    rows: Vec<Vec<String>>,
) -> Outcome {
    let mut outcome = Outcome {
        header,
        ..Outcome::default()
    };
    org.edit(plan.object, |editor| {
        let mut keys: Option<HashMap<String, Vec<u64>>> = None;
        for row in rows {
            match apply_row(editor, plan, columns, &row, &mut keys) {
                Ok((id, created)) => outcome.successes.push((id, created, row)),
                Err((id, message)) => outcome.failures.push((id, message, row)),
            }
        }
    });
    outcome
}

type RowResult = Result<(String, bool), (String, String)>;

fn apply_row(
    editor: &mut Editor<'_>,
    plan: &Plan,
    columns: &[usize],
    row: &[String],
    keys: &mut Option<HashMap<String, Vec<u64>>>,
) -> RowResult {
    let object = plan.object;
    let given_id = columns
        .iter()
        .position(|&c| c == ObjectSchema::ID)
        .map(|i| row[i].trim().to_owned())
        .unwrap_or_default();
    let fail = |message: String| Err((given_id.clone(), message));
    let changes = match changes(object, columns, row, plan) {
        Ok(c) => c,
        Err(message) => return fail(message),
    };
    match plan.operation {
        IngestOperation::Insert => insert(editor, object, changes).or_else(fail),
        IngestOperation::Update => {
            let row_index = match existing(editor, object, &given_id) {
                Ok(r) => r,
                Err(m) => return fail(m),
            };
            update(editor, object, row_index, &changes)
                .map(|()| (given_id.clone(), false))
                .or_else(fail)
        }
        IngestOperation::Delete | IngestOperation::HardDelete => {
            let row_index = match existing(editor, object, &given_id) {
                Ok(r) => r,
                Err(m) => return fail(m),
            };
            editor.delete(row_index, plan.operation == IngestOperation::HardDelete);
            Ok((given_id.clone(), false))
        }
        _ => upsert(editor, plan, &given_id, changes, keys).or_else(fail),
    }
}

/// The field changes a row asks for: `None` value = set null; absent = leave unchanged.
fn changes(
    object: &ObjectSchema,
    columns: &[usize],
    row: &[String],
    plan: &Plan,
) -> Result<Vec<(usize, Option<String>)>, String> {
    let keyed_by_id = plan.operation != IngestOperation::Insert;
    let mut out = Vec::new();
    for (&column, value) in columns.iter().zip(row) {
        let field = &object.fields[column];
        let value = value.as_str();
        if column == ObjectSchema::ID && keyed_by_id {
            continue;
        }
        if value.is_empty() && plan.operation != IngestOperation::Insert {
            continue;
        }
        if column == ObjectSchema::ID || !field.writable() {
            if value.is_empty() {
                continue;
            }
            let message = format!(
                "Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
                field.name
            );
            return Err(row_error(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                &message,
                field.name,
            ));
        }
        let normalised = match value {
            "#N/A" | "" => None,
            text => Some(normalise(field, text)?),
        };
        out.push((column, normalised));
    }
    Ok(out)
}

/// Validates a value against its field's type, returning it in the form queries print.
fn normalise(field: &Field, text: &str) -> Result<String, String> {
    let name = field.name;
    let wrong_type = || {
        row_error(
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            &format!("{name}: value not of required type: {text}"),
            name,
        )
    };
    let too_long = |max: usize| {
        (text.chars().count() > max).then(|| {
            row_error(
                "STRING_TOO_LONG",
                &format!(
                    "{name}: data value too large: {}",
                    text.chars().take(40).collect::<String>()
                ),
                name,
            )
        })
    };
    match field.ty {
        FieldType::Text(max) => too_long(max).map_or(Ok(text.to_owned()), Err),
        FieldType::TextArea => too_long(32_000).map_or(Ok(text.to_owned()), Err),
        FieldType::Picklist | FieldType::Url => too_long(255).map_or(Ok(text.to_owned()), Err),
        FieldType::MultiPicklist => too_long(4_099).map_or(Ok(text.to_owned()), Err),
        FieldType::Phone => too_long(40).map_or(Ok(text.to_owned()), Err),
        FieldType::Base64 => base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map(|_| text.trim().to_owned())
            .map_err(|_| wrong_type()),
        FieldType::Time => {
            chrono::NaiveTime::parse_from_str(text.trim().trim_end_matches('Z'), "%H:%M:%S%.f")
                .map(|t| t.format("%H:%M:%S%.3fZ").to_string())
                .map_err(|_| wrong_type())
        }
        // Compound fields are refused before a value is read (they are not writable).
        FieldType::Address | FieldType::Location => Err(wrong_type()),
        FieldType::Email => {
            let valid = text
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
            if valid {
                Ok(text.to_owned())
            } else {
                Err(row_error(
                    "INVALID_EMAIL_ADDRESS",
                    &format!("{name}: invalid email address: {text}"),
                    name,
                ))
            }
        }
        FieldType::Int => text
            .trim()
            .parse::<i64>()
            .map(|n| n.to_string())
            .map_err(|_| wrong_type()),
        FieldType::Currency(..) | FieldType::Double(..) | FieldType::Percent(..) => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(|_| text.trim().to_owned())
            .ok_or_else(wrong_type),
        FieldType::Date => {
            chrono::NaiveDate::parse_from_str(text.trim().get(..10).unwrap_or(""), "%Y-%m-%d")
                .map(|d| d.format("%Y-%m-%d").to_string())
                .map_err(|_| wrong_type())
        }
        FieldType::DateTime => parse_datetime(text.trim()).ok_or_else(wrong_type),
        FieldType::Boolean => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok("true".to_owned()),
            "false" | "0" | "no" => Ok("false".to_owned()),
            _ => Err(wrong_type()),
        },
        FieldType::Reference(_) | FieldType::Id if !prefix_ok(field.ty, text) => Err(row_error(
            "MALFORMED_ID",
            &format!("{name}: id value of incorrect type: {text}"),
            name,
        )),
        FieldType::Reference(_) | FieldType::Id => Ok(text.trim().to_owned()),
    }
}

fn prefix_ok(ty: FieldType, text: &str) -> bool {
    let text = text.trim();
    match ty {
        FieldType::Reference(prefix) => ids::is_id_shaped(text) && text.starts_with(prefix),
        _ => ids::is_id_shaped(text),
    }
}

fn parse_datetime(text: &str) -> Option<String> {
    let utc = chrono::DateTime::parse_from_rfc3339(text)
        .or_else(|_| chrono::DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .map(|t| t.with_timezone(&chrono::Utc))
        .ok()
        .or_else(|| {
            let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
            Some(day.and_hms_opt(0, 0, 0)?.and_utc())
        })?;
    Some(utc.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

fn missing_required(object: &ObjectSchema, values: &[Option<String>]) -> Option<String> {
    let missing: Vec<&str> = object
        .fields
        .iter()
        .zip(values)
        .filter(|(f, v)| f.required && v.is_none())
        .map(|(f, _)| f.name)
        .collect();
    (!missing.is_empty()).then(|| {
        row_error(
            "REQUIRED_FIELD_MISSING",
            &format!("Required fields are missing: [{}]", missing.join(", ")),
            &missing.join(","),
        )
    })
}

fn insert(
    editor: &mut Editor<'_>,
    object: &ObjectSchema,
    changes: Vec<(usize, Option<String>)>,
) -> Result<(String, bool), String> {
    let mut values = vec![None; object.fields.len()];
    for (field, value) in changes {
        values[field] = value;
    }
    if let Some(error) = missing_required(object, &values) {
        return Err(error);
    }
    // The editor stamps the audit fields, `CreatedDate` included.
    Ok((editor.insert(values), true))
}

fn existing(editor: &Editor<'_>, object: &ObjectSchema, id: &str) -> Result<u64, String> {
    if id.is_empty() {
        return Err(row_error(
            "MISSING_ARGUMENT",
            "Id not specified in an update call",
            "",
        ));
    }
    if !ids::is_id_shaped(id) || !id.starts_with(object.key_prefix) {
        return Err(row_error(
            "MALFORMED_ID",
            &format!("{} ID: id value of incorrect type: {id}", object.name),
            "Id",
        ));
    }
    match editor.row_of_id(id) {
        Some(row) if editor.is_live(row) => Ok(row),
        Some(row) if editor.is_deleted(row) => {
            Err(row_error("ENTITY_IS_DELETED", "entity is deleted", ""))
        }
        _ => Err(row_error(
            "INVALID_CROSS_REFERENCE_KEY",
            "invalid cross reference id",
            "",
        )),
    }
}

fn update(
    editor: &mut Editor<'_>,
    object: &ObjectSchema,
    row: u64,
    changes: &[(usize, Option<String>)],
) -> Result<(), String> {
    let cleared: Vec<Option<String>> = object
        .fields
        .iter()
        .enumerate()
        .map(|(i, _)| match changes.iter().find(|(f, _)| *f == i) {
            Some((_, v)) => v.clone(),
            None => Some(String::new()),
        })
        .collect();
    if let Some(error) = missing_required(object, &cleared) {
        return Err(error);
    }
    editor.update(row, changes);
    Ok(())
}

fn upsert(
    editor: &mut Editor<'_>,
    plan: &Plan,
    given_id: &str,
    changes: Vec<(usize, Option<String>)>,
    keys: &mut Option<HashMap<String, Vec<u64>>>,
) -> Result<(String, bool), String> {
    let object = plan.object;
    let key_name = plan.external_id.as_deref().unwrap_or("Id");
    let key_field = object.field_index(key_name).unwrap_or(ObjectSchema::ID);
    if key_field == ObjectSchema::ID {
        if given_id.is_empty() {
            return insert(editor, object, changes);
        }
        let row = existing(editor, object, given_id)?;
        return update(editor, object, row, &changes).map(|()| (given_id.to_owned(), false));
    }
    let Some(Some(key)) = changes
        .iter()
        .find(|(f, _)| *f == key_field)
        .map(|(_, v)| v.clone())
    else {
        return Err(row_error(
            "MISSING_ARGUMENT",
            &format!("{key_name} not specified"),
            "",
        ));
    };
    let index = keys.get_or_insert_with(|| index_by(editor, key_field));
    let matches = index.get(&key).cloned().unwrap_or_default();
    let live: Vec<u64> = matches.into_iter().filter(|&r| editor.is_live(r)).collect();
    match live.as_slice() {
        [] => {
            let (id, created) = insert(editor, object, changes)?;
            if let Some(row) = editor.row_of_id(&id) {
                index.entry(key).or_default().push(row);
            }
            Ok((id, created))
        }
        [row] => {
            update(editor, object, *row, &changes)?;
            Ok((
                editor.value(ObjectSchema::ID, *row).unwrap_or_default(),
                false,
            ))
        }
        many => {
            let found: Vec<String> = many
                .iter()
                .filter_map(|&r| editor.value(ObjectSchema::ID, r))
                .collect();
            let message = format!(
                "{key_name}: more than one record found for external id field: [{}]",
                found.join(", ")
            );
            Err(row_error("DUPLICATE_EXTERNAL_ID", &message, key_name))
        }
    }
}

/// Live rows by the value of one field, built once per upsert job.
fn index_by(editor: &Editor<'_>, field: usize) -> HashMap<String, Vec<u64>> {
    let view = editor.current();
    let mut index: HashMap<String, Vec<u64>> = HashMap::new();
    for row in 0..view.slots() {
        if let Some(value) = view.value(field, row).filter(|_| view.is_live(row)) {
            index.entry(value).or_default().push(row);
        }
    }
    index
}
