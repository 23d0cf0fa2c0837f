//! A query's [`Schema`] from describe: each column of the SELECT list typed by the field it names,
//! never by its values.

use std::collections::HashMap;

use haul_types::FieldType;

use super::select_list::{self, Item};
use super::{Field, SObjectDescribe};
use crate::Salesforce;
use crate::download::{Column, ColumnType, Schema};
use crate::error::{Error, Result};

/// The largest precision a Parquet decimal column holds here (128-bit).
const MAX_PRECISION: i64 = 38;

impl Salesforce {
    /// The columns of `soql`'s results and their types, from describe: what a typed download
    /// ([`Format::Parquet`](crate::download::Format::Parquet), or
    /// [`Format::Jsonl`](crate::download::Format::Jsonl) typed) is given with
    /// [`DownloadBuilder::schema`](crate::download::DownloadBuilder::schema).
    ///
    /// Each item of the SELECT list must be a field path. The FROM object is described, and so is
    /// each object a relationship path leads to (`Owner.Name` takes `User.Name`'s type, through
    /// `Owner`'s `relationshipName` and `referenceTo`; a polymorphic reference, such as `What`,
    /// takes its first `referenceTo`). Types map so:
    ///
    /// | describe | column |
    /// |---|---|
    /// | id, reference, string, picklist, textarea, email, phone, url, combobox, encryptedstring (and anyType, json, complexvalue, datacategorygroupreference) | [`Utf8`](ColumnType::Utf8) |
    /// | boolean | [`Boolean`](ColumnType::Boolean) |
    /// | int | [`Int32`](ColumnType::Int32), or [`Int64`](ColumnType::Int64) above 9 digits; long: `Int64` |
    /// | currency, percent, double with a precision | [`Decimal`](ColumnType::Decimal) (precision at most 38) |
    /// | the same without a precision | [`Float64`](ColumnType::Float64) |
    /// | date, datetime, time | [`Date`](ColumnType::Date), [`Timestamp`](ColumnType::Timestamp), [`Time`](ColumnType::Time) |
    /// | multipicklist | [`Utf8List`](ColumnType::Utf8List) |
    ///
    /// A column is nullable as describe's `nillable` says; a relationship path's always is (the
    /// parent may be missing). A type this version of haul does not know becomes `Utf8`, with a
    /// warning logged.
    ///
    /// Refused with [`Error::InvalidInput`]: compound fields (address, location; the error names
    /// their components, to select instead), base64 fields, aggregates and other functions,
    /// `FIELDS(...)` and `TYPEOF`, and a path describe does not know.
    pub async fn query_schema(&self, soql: &str) -> Result<Schema> {
        self.schema_of(soql, Described::default()).await
    }

    /// [`query_schema`](Self::query_schema) given the describe of an object the caller has
    /// already read (the extract's FROM object), so that it is not read again.
    pub(crate) async fn query_schema_knowing(
        &self,
        soql: &str,
        known: SObjectDescribe,
    ) -> Result<Schema> {
        let mut described = Described::default();
        described
            .objects
            .insert(known.name.to_ascii_lowercase(), known);
        self.schema_of(soql, described).await
    }

    async fn schema_of(&self, soql: &str, mut described: Described) -> Result<Schema> {
        let items = select_list::items(soql).ok_or_else(|| {
            Error::invalid_input(
                "the query's columns cannot be typed: its SELECT list must name fields (not \
                 FIELDS(...) or TYPEOF)",
            )
        })?;
        let object = select_list::from_object(soql)
            .ok_or_else(|| Error::invalid_input("the query has no FROM object"))?;
        let mut columns = Vec::with_capacity(items.len());
        for item in items {
            let Item::Path(path) = item else {
                return Err(Error::invalid_input(format!(
                    "column {} is an aggregate or a function, which describe does not type; \
                     select fields only",
                    item.column()
                )));
            };
            let (field, through_relationship) =
                self.field_at(&mut described, object, &path).await?;
            let ty = column_type(&path, &field, described.components(&field))?;
            let nullable = through_relationship || field.nillable.unwrap_or(true);
            // The object's own id is its key; an id reached through a relationship repeats.
            let unique = !through_relationship && field.type_ == FieldType::Id;
            columns.push(Column::new(path, ty, nullable).unique(unique));
        }
        Ok(Schema::new(columns))
    }

    /// The field `path` names from `object`, and whether it was reached through a relationship.
    async fn field_at(
        &self,
        described: &mut Described,
        object: &str,
        path: &str,
    ) -> Result<(Field, bool)> {
        let mut segments: Vec<&str> = path.split('.').collect();
        // `SELECT Account.Name FROM Account` names the FROM object itself first.
        if segments.len() > 1 && segments[0].eq_ignore_ascii_case(object) {
            let describe = described.get(self, object).await?;
            if relationship(describe, segments[0]).is_none() {
                segments.remove(0);
            }
        }
        let (last, relationships) = segments.split_last().expect("split gives one at least");
        let mut current = object.to_owned();
        for name in relationships {
            let describe = described.get(self, &current).await?;
            let field = relationship(describe, name).ok_or_else(|| {
                Error::invalid_input(format!(
                    "{path}: {current} has no relationship named {name}"
                ))
            })?;
            current = field.reference_to.first().cloned().ok_or_else(|| {
                Error::invalid_input(format!(
                    "{path}: describe names no object that {current}.{name} refers to"
                ))
            })?;
        }
        let describe = described.get(self, &current).await?;
        let field = describe
            .fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(last))
            .cloned()
            .ok_or_else(|| {
                Error::invalid_input(format!("{path}: {current} has no field named {last}"))
            })?;
        Ok((field, !relationships.is_empty()))
    }
}

/// The objects described so far, by name in lower case.
#[derive(Default)]
struct Described {
    objects: HashMap<String, SObjectDescribe>,
    /// The object the last field was found on, for its compound field's components.
    last: Option<String>,
}

impl Described {
    async fn get(&mut self, sf: &Salesforce, object: &str) -> Result<&SObjectDescribe> {
        let key = object.to_ascii_lowercase();
        if !self.objects.contains_key(&key) {
            let describe = sf.describe(object).await?;
            self.objects.insert(key.clone(), describe);
        }
        self.last = Some(key.clone());
        Ok(&self.objects[&key])
    }

    /// The components of a compound field: the fields of its object naming it as their compound
    /// field.
    fn components(&self, field: &Field) -> Vec<String> {
        let Some(describe) = self.last.as_ref().and_then(|key| self.objects.get(key)) else {
            return Vec::new();
        };
        describe
            .fields
            .iter()
            .filter(|f| f.compound_field_name.as_deref() == Some(field.name.as_str()))
            .map(|f| f.name.clone())
            .collect()
    }
}

fn relationship<'a>(describe: &'a SObjectDescribe, name: &str) -> Option<&'a Field> {
    describe.fields.iter().find(|f| {
        f.relationship_name
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case(name))
    })
}

/// The column type of `field`, selected as `path`.
fn column_type(path: &str, field: &Field, components: Vec<String>) -> Result<ColumnType> {
    Ok(match &field.type_ {
        FieldType::Id
        | FieldType::Reference
        | FieldType::String
        | FieldType::Picklist
        | FieldType::Textarea
        | FieldType::Email
        | FieldType::Phone
        | FieldType::Url
        | FieldType::Combobox
        | FieldType::EncryptedString
        | FieldType::AnyType
        | FieldType::Json
        | FieldType::ComplexValue
        | FieldType::DataCategoryGroupReference => ColumnType::Utf8,
        FieldType::Boolean => ColumnType::Boolean,
        FieldType::Int if field.digits.unwrap_or(9) <= 9 => ColumnType::Int32,
        FieldType::Int | FieldType::Long => ColumnType::Int64,
        FieldType::Double | FieldType::Currency | FieldType::Percent => {
            match field.precision.filter(|p| *p > 0) {
                None => ColumnType::Float64,
                Some(precision) => decimal(path, precision, field.scale.unwrap_or(0))?,
            }
        }
        FieldType::Date => ColumnType::Date,
        FieldType::DateTime => ColumnType::Timestamp,
        FieldType::Time => ColumnType::Time,
        FieldType::Multipicklist => ColumnType::Utf8List,
        FieldType::Address | FieldType::Location => {
            return Err(Error::invalid_input(format!(
                "{path} is a compound {} field, which cannot be typed as one column: select its \
                 components instead ({})",
                field.type_,
                components.join(", ")
            )));
        }
        FieldType::Base64 => {
            return Err(Error::invalid_input(format!(
                "{path} is a base64 (binary) field, which bulk query results do not carry; leave \
                 it out"
            )));
        }
        other => {
            tracing::warn!(field = path, r#type = %other, "a field type haul does not know; typed as text");
            ColumnType::Utf8
        }
    })
}

fn decimal(path: &str, precision: i64, scale: i64) -> Result<ColumnType> {
    if precision > MAX_PRECISION || !(0..=precision).contains(&scale) {
        return Err(Error::invalid_input(format!(
            "{path} is a number of precision {precision} and scale {scale}, beyond what a \
             decimal column holds (precision at most {MAX_PRECISION})"
        )));
    }
    Ok(ColumnType::Decimal {
        precision: precision as u8,
        scale: scale as u8,
    })
}
