//! What to read of one object: its fields (from describe when none are listed), compound fields
//! replaced by their components, base64 fields left out, and its cursor field.

use haul_types::FieldType;

use super::ObjectSpec;
use super::report::{LeftOut, Replaced};
use crate::error::{Error, Result};
use crate::salesforce::rest::{Field, SObjectDescribe};

/// Cursor fields in order of preference: the first the object has is used.
const CURSORS: &[&str] = &["SystemModstamp", "LastModifiedDate", "CreatedDate"];

/// One object's reading plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ObjectPlan {
    /// The object's API name as describe spells it.
    pub(super) object: String,
    /// The fields selected, in describe's order (listed ones in the order given).
    pub(super) fields: Vec<String>,
    /// The cursor field, `None` for an object with no audit field (read whole every run).
    pub(super) cursor: Option<String>,
    /// Whether the object has `IsDeleted` (so deleted rows can be told apart).
    pub(super) has_is_deleted: bool,
    /// The caller's filter, ANDed to every window.
    pub(super) filter: Option<String>,
    pub(super) replaced: Vec<Replaced>,
    pub(super) left_out: Vec<LeftOut>,
}

impl ObjectPlan {
    /// The plan of `spec` against the object's describe.
    pub(super) fn new(spec: &ObjectSpec, describe: &SObjectDescribe) -> Result<Self> {
        if describe.queryable == Some(false) {
            return Err(Error::invalid_input(format!(
                "{} is not queryable",
                describe.name
            )));
        }
        let find = |name: &str| {
            describe
                .fields
                .iter()
                .find(|f| f.name.eq_ignore_ascii_case(name))
        };
        let cursor = match &spec.cursor {
            Some(name) => Some(cursor_field(find(name), name, &describe.name)?),
            None => CURSORS.iter().find_map(|c| find(c)).map(|f| f.name.clone()),
        };
        let wanted: Vec<&Field> = match &spec.fields {
            None => describe.fields.iter().collect(),
            Some(names) => names
                .iter()
                .map(|name| {
                    find(name).ok_or_else(|| {
                        Error::invalid_input(format!("{} has no field {name}", describe.name))
                    })
                })
                .collect::<Result<_>>()?,
        };
        let mut plan = Self {
            object: describe.name.clone(),
            fields: Vec::new(),
            cursor,
            has_is_deleted: find("IsDeleted").is_some(),
            filter: spec.filter.clone(),
            replaced: Vec::new(),
            left_out: Vec::new(),
        };
        for field in wanted {
            plan.take(field, describe);
        }
        // What the extract itself reads, whether listed or not.
        let required = ["Id", "IsDeleted"]
            .into_iter()
            .chain(plan.cursor.clone().as_deref())
            .map(str::to_owned)
            .collect::<Vec<_>>();
        for name in required {
            if let Some(field) = find(&name) {
                plan.push(&field.name);
            }
        }
        Ok(plan)
    }

    /// Selects `field`, or its components, or leaves it out with the reason.
    fn take(&mut self, field: &Field, describe: &SObjectDescribe) {
        match field.type_ {
            FieldType::Address | FieldType::Location => {
                let components: Vec<String> = describe
                    .fields
                    .iter()
                    .filter(|f| f.compound_field_name.as_deref() == Some(field.name.as_str()))
                    .filter(|f| !f.type_.is_compound())
                    .map(|f| f.name.clone())
                    .collect();
                for component in &components {
                    self.push(component);
                }
                self.replaced.push(Replaced {
                    field: field.name.clone(),
                    components,
                });
            }
            FieldType::Base64 => self.left_out.push(LeftOut {
                field: field.name.clone(),
                reason: "base64 (binary) fields are not carried by bulk query results".to_owned(),
            }),
            _ => self.push(&field.name),
        }
    }

    fn push(&mut self, name: &str) {
        if !self.fields.iter().any(|f| f.eq_ignore_ascii_case(name)) {
            self.fields.push(name.to_owned());
        }
    }

    /// The SOQL that reads the window selected by `conditions`.
    pub(super) fn soql(&self, conditions: &[String]) -> String {
        let mut all: Vec<String> = Vec::new();
        if let Some(filter) = &self.filter {
            // The simulator's and the Bulk API's parsers both take a plain AND chain; only a
            // filter with OR needs its parentheses to keep its meaning.
            if filter.to_ascii_uppercase().contains(" OR ") {
                all.push(format!("({filter})"));
            } else {
                all.push(filter.clone());
            }
        }
        all.extend(conditions.iter().cloned());
        let mut soql = format!("SELECT {} FROM {}", self.fields.join(", "), self.object);
        if !all.is_empty() {
            soql.push_str(" WHERE ");
            soql.push_str(&all.join(" AND "));
        }
        soql
    }
}

fn cursor_field(field: Option<&Field>, name: &str, object: &str) -> Result<String> {
    let field =
        field.ok_or_else(|| Error::invalid_input(format!("{object} has no field {name}")))?;
    if field.type_ != FieldType::DateTime {
        return Err(Error::invalid_input(format!(
            "{object}.{} is a {} field; a cursor must be a date-time",
            field.name, field.type_
        )));
    }
    Ok(field.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe() -> SObjectDescribe {
        serde_json::from_value(serde_json::json!({
            "name": "Account",
            "queryable": true,
            "fields": [
                {"name": "Id", "type": "id"},
                {"name": "Name", "type": "string"},
                {"name": "BillingCity", "type": "string", "compoundFieldName": "BillingAddress"},
                {"name": "BillingAddress", "type": "address"},
                {"name": "Logo__c", "type": "base64"},
                {"name": "IsDeleted", "type": "boolean"},
                {"name": "LastModifiedDate", "type": "datetime"},
                {"name": "SystemModstamp", "type": "datetime"},
            ],
        }))
        .unwrap()
    }

    #[test]
    fn every_field_with_compounds_replaced_and_base64_left_out() {
        let plan = ObjectPlan::new(&ObjectSpec::new("Account"), &describe()).unwrap();
        assert_eq!(
            plan.fields,
            [
                "Id",
                "Name",
                "BillingCity",
                "IsDeleted",
                "LastModifiedDate",
                "SystemModstamp"
            ]
        );
        assert_eq!(plan.cursor.as_deref(), Some("SystemModstamp"));
        assert_eq!(plan.replaced[0].field, "BillingAddress");
        assert_eq!(plan.replaced[0].components, ["BillingCity"]);
        assert_eq!(plan.left_out[0].field, "Logo__c");
    }

    #[test]
    fn listed_fields_get_the_id_the_cursor_and_is_deleted_too() {
        let spec = ObjectSpec::new("Account")
            .fields(["name", "BillingAddress"])
            .cursor("LastModifiedDate")
            .filter("Name != null");
        let plan = ObjectPlan::new(&spec, &describe()).unwrap();
        assert_eq!(
            plan.fields,
            ["Name", "BillingCity", "Id", "IsDeleted", "LastModifiedDate"]
        );
        assert_eq!(
            plan.soql(&["LastModifiedDate >= 2024-01-01T00:00:00Z".to_owned()]),
            "SELECT Name, BillingCity, Id, IsDeleted, LastModifiedDate FROM Account WHERE \
             Name != null AND LastModifiedDate >= 2024-01-01T00:00:00Z"
        );
        let bad = ObjectSpec::new("Account").cursor("Name");
        assert!(ObjectPlan::new(&bad, &describe()).is_err());
        let unknown = ObjectSpec::new("Account").fields(["Nope"]);
        assert!(ObjectPlan::new(&unknown, &describe()).is_err());
    }
}
