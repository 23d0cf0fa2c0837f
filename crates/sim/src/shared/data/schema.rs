//! What an sObject and a field are: a field's Salesforce type (with what describe reports for
//! it), how generated rows fill it, and whether it is part of a compound field. The org's objects
//! themselves are listed in `objects.rs`.

/// A field's Salesforce type; it decides how filters compare, how uploads are validated, how the
/// REST API prints values and what describe reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldType {
    /// The record id (18 characters, the object's key prefix).
    Id,
    /// Text with this maximum length.
    Text(usize),
    /// Long text area (32,000 characters); may hold newlines.
    TextArea,
    /// A picklist (unrestricted: any text is accepted on upload).
    Picklist,
    /// A multi-select picklist: values joined by `;`.
    MultiPicklist,
    /// A whole number.
    Int,
    /// A currency amount with this precision and scale.
    Currency(u8, u8),
    /// A floating-point number with this precision and scale (a custom Number(p, s) field).
    Double(u8, u8),
    /// A percentage with this precision and scale.
    Percent(u8, u8),
    /// `YYYY-MM-DD`.
    Date,
    /// `YYYY-MM-DDTHH:MM:SS.000Z`.
    DateTime,
    /// `HH:MM:SS.000Z`.
    Time,
    /// `true` or `false`.
    Boolean,
    /// An email address.
    Email,
    /// A phone number (free text, 40 characters).
    Phone,
    /// A URL (255 characters).
    Url,
    /// A lookup to the object with this key prefix.
    Reference(&'static str),
    /// A compound address, read-only, made of the fields whose `compound` names it.
    Address,
    /// A compound geolocation (latitude and longitude components).
    Location,
    /// Binary data, base64 in the API (Attachment.Body).
    Base64,
}

/// What describe reports for a type: its name, SOAP type, and the length, precision, scale and
/// digits of a field of it (the shape of the sObject Describe resource's `fields`; the
/// `byteLength` of text is three bytes per character, as real orgs report it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Describe {
    pub(crate) name: &'static str,
    pub(crate) soap_type: &'static str,
    pub(crate) length: usize,
    pub(crate) byte_length: usize,
    pub(crate) precision: u8,
    pub(crate) scale: u8,
    pub(crate) digits: u8,
}

impl FieldType {
    /// Whether filters compare this field as a number.
    pub(crate) fn is_numeric(self) -> bool {
        matches!(
            self,
            Self::Int | Self::Currency(..) | Self::Double(..) | Self::Percent(..)
        )
    }

    /// Whether filters take an unquoted date literal for this field.
    pub(crate) fn is_temporal(self) -> bool {
        matches!(self, Self::Date | Self::DateTime)
    }

    /// Whether the field is a compound of other fields (address, geolocation).
    pub(crate) fn is_compound(self) -> bool {
        matches!(self, Self::Address | Self::Location)
    }

    /// The type as describe reports it.
    pub(crate) fn describe(self) -> Describe {
        let text = |name, length: usize| Describe {
            name,
            soap_type: "xsd:string",
            length,
            byte_length: length * 3,
            precision: 0,
            scale: 0,
            digits: 0,
        };
        let number = |name, precision, scale| Describe {
            precision,
            scale,
            soap_type: "xsd:double",
            ..text(name, 0)
        };
        let other = |name, soap_type| Describe {
            soap_type,
            ..text(name, 0)
        };
        match self {
            Self::Id => Describe {
                soap_type: "tns:ID",
                ..text("id", 18)
            },
            Self::Text(n) => text("string", n),
            Self::TextArea => text("textarea", 32_000),
            Self::Picklist => text("picklist", 255),
            Self::MultiPicklist => text("multipicklist", 4_099),
            Self::Email => text("email", 80),
            Self::Phone => text("phone", 40),
            Self::Url => text("url", 255),
            Self::Int => Describe {
                digits: 9,
                ..other("int", "xsd:int")
            },
            Self::Currency(p, s) => number("currency", p, s),
            Self::Double(p, s) => number("double", p, s),
            Self::Percent(p, s) => number("percent", p, s),
            Self::Date => other("date", "xsd:date"),
            Self::DateTime => other("datetime", "xsd:dateTime"),
            Self::Time => other("time", "xsd:time"),
            Self::Boolean => other("boolean", "xsd:boolean"),
            Self::Reference(_) => Describe {
                soap_type: "tns:ID",
                ..text("reference", 18)
            },
            Self::Address => other("address", "urn:address"),
            Self::Location => other("location", "urn:location"),
            Self::Base64 => Describe {
                length: 52_428_800,
                byte_length: 52_428_800,
                ..other("base64", "xsd:base64Binary")
            },
        }
    }
}

/// How generated rows fill a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gen {
    /// The record id from the row index.
    Id,
    /// A company name; some contain commas and quotes.
    Company,
    /// A first name.
    FirstName,
    /// A last name; some contain an apostrophe or a quote.
    LastName,
    /// An email derived from the row index.
    Email,
    /// A city; some contain commas.
    City,
    /// One of these values, or null once in `null_one_in` rows (0: never null).
    Pick(&'static [&'static str], u64),
    /// Up to three of these values joined by `;` (a multi-select picklist).
    Multi(&'static [&'static str]),
    /// A whole number in `[min, max)`.
    Int(i64, i64),
    /// An amount in cents below this bound, printed with two decimals.
    Cents(u64),
    /// A number of units of `10^-scale` in `[min, max)`, printed with at least one decimal
    /// (`10.0`), as Bulk API CSV prints percent and number fields.
    Fixed(i64, i64, u8),
    /// A whole number in `[min, max)` held in a double field and printed as Java prints a
    /// double: `1.6147805824397E13` from 10^7 on (forcedotcom/cli#3367).
    Sci(i64, i64),
    /// A date-time between 2015 and 2025.
    DateTime,
    /// A date-time after the row's `CreatedDate` (the same for every field that uses it, so
    /// `LastModifiedDate` equals `SystemModstamp` on rows nobody touched).
    Modified,
    /// A date between 2015 and 2027.
    Date,
    /// A time of day, `HH:MM:SS.000Z`.
    Time,
    /// Free text; one in three rows null, some with newlines, quotes and commas.
    Prose,
    /// A phone number derived from the row index.
    Phone,
    /// A web address derived from the row index.
    Url,
    /// Base64 of a small text file derived from the row index.
    Base64,
    /// A reference to a generated row of the object with this key prefix.
    Ref(&'static str),
    /// A short text code derived from the row index.
    Code(&'static str),
    /// The non-null values of these fields of the same row, joined by spaces (a compound name
    /// such as `Contact.Name`); never stored, always derived.
    Join(&'static [&'static str]),
    /// Always null in generated rows (filled only by ingest or Async SOQL); also compound
    /// address and geolocation fields, which hold no value of their own.
    Null,
}

/// One field of an object.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) ty: FieldType,
    /// Required on insert (not nillable, no default).
    pub(crate) required: bool,
    pub(crate) generator: Gen,
    /// The compound field this one is a component of (`BillingCity` of `BillingAddress`).
    pub(crate) compound: Option<&'static str>,
}

/// Fields every sObject has that no API call can write.
const SYSTEM_FIELDS: &[&str] = &[
    "Id",
    "CreatedDate",
    "LastModifiedDate",
    "SystemModstamp",
    "IsDeleted",
];

impl Field {
    /// Whether inserts and updates may set this field: not a system field, not a compound
    /// (compound fields are read-only; their components are written instead) and not derived.
    pub(crate) fn writable(&self) -> bool {
        !SYSTEM_FIELDS.contains(&self.name)
            && !self.ty.is_compound()
            && !matches!(self.generator, Gen::Join(_))
    }

    /// The field as a component of `compound`.
    pub(crate) const fn part_of(self, compound: &'static str) -> Self {
        Self {
            compound: Some(compound),
            ..self
        }
    }

    /// The relationship a lookup is reached by in SOQL and nested records: `AccountId` is
    /// `Account`, `Parent__c` is `Parent__r`.
    pub(crate) fn relationship_name(&self) -> Option<String> {
        let FieldType::Reference(_) = self.ty else {
            return None;
        };
        if let Some(custom) = self.name.strip_suffix("__c") {
            return Some(format!("{custom}__r"));
        }
        self.name.strip_suffix("Id").map(str::to_owned)
    }
}

/// One sObject of the org.
#[derive(Debug)]
pub(crate) struct ObjectSchema {
    pub(crate) name: &'static str,
    pub(crate) label: &'static str,
    pub(crate) label_plural: &'static str,
    pub(crate) key_prefix: &'static str,
    /// Field 0 is always `Id`.
    pub(crate) fields: &'static [Field],
    /// Rows generated when the builder does not say.
    pub(crate) default_rows: u64,
    /// Whether Bulk API 2.0 can query it (feeds, for one, cannot).
    pub(crate) bulk: bool,
}

impl ObjectSchema {
    /// The index of the field named `name`, matched case-insensitively as SOQL does.
    pub(crate) fn field_index(&self, name: &str) -> Option<usize> {
        self.fields
            .iter()
            .position(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// The index of the `Id` field, first in every object.
    pub(crate) const ID: usize = 0;

    /// Whether deleted records go to the Recycle Bin (the object has `IsDeleted`), so that
    /// `queryAll` sees them and they can be undeleted.
    pub(crate) fn has_recycle_bin(&self) -> bool {
        self.field_index("IsDeleted").is_some()
    }

    /// Whether this is a custom object (`__c`) or a big object (`__b`).
    pub(crate) fn custom(&self) -> bool {
        self.name.ends_with("__c") || self.name.ends_with("__b")
    }
}

/// A field that is not a component of a compound field.
pub(crate) const fn field(
    name: &'static str,
    ty: FieldType,
    required: bool,
    generator: Gen,
) -> Field {
    Field {
        name,
        ty,
        required,
        generator,
        compound: None,
    }
}

pub(crate) use super::objects::OBJECTS;

/// The object named `name`, matched case-insensitively as SOQL does.
pub(crate) fn object(name: &str) -> Option<&'static ObjectSchema> {
    OBJECTS.iter().find(|o| o.name.eq_ignore_ascii_case(name))
}

/// The object whose ids start with `key_prefix`.
pub(crate) fn object_by_prefix(key_prefix: &str) -> Option<&'static ObjectSchema> {
    OBJECTS.iter().find(|o| o.key_prefix == key_prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_object_starts_with_id_and_has_unique_names_and_prefixes() {
        for (i, o) in OBJECTS.iter().enumerate() {
            assert_eq!(o.fields[ObjectSchema::ID].name, "Id");
            for other in &OBJECTS[i + 1..] {
                assert_ne!(o.key_prefix, other.key_prefix);
            }
            for (j, f) in o.fields.iter().enumerate() {
                assert_eq!(o.field_index(&f.name.to_lowercase()), Some(j));
            }
        }
        assert_eq!(object("account").map(|o| o.name), Some("Account"));
    }

    #[test]
    fn components_name_a_compound_of_their_object_and_audit_fields_are_read_only() {
        for o in OBJECTS {
            for f in o.fields {
                if let Some(compound) = f.compound {
                    let whole = &o.fields[o.field_index(compound).expect("compound exists")];
                    let derived = matches!(whole.generator, Gen::Join(_));
                    assert!(whole.ty.is_compound() || derived, "{}.{}", o.name, f.name);
                    assert!(f.writable(), "{}.{} is written instead", o.name, f.name);
                }
                if let Gen::Join(parts) = f.generator {
                    assert!(
                        parts.iter().all(|p| o.field_index(p).is_some()),
                        "{}",
                        o.name
                    );
                }
            }
            for name in ["Id", "CreatedDate", "SystemModstamp", "IsDeleted"] {
                if let Some(i) = o.field_index(name) {
                    assert!(!o.fields[i].writable(), "{}.{name}", o.name);
                }
            }
            let audited = o.field_index("SystemModstamp").is_some();
            assert!(
                audited || o.name.ends_with("__b"),
                "{} has audit fields",
                o.name
            );
        }
        let contact = object("Contact").expect("exists");
        let name = &contact.fields[contact.field_index("Name").expect("Name")];
        assert!(!name.writable());
        let lookup = &contact.fields[contact.field_index("AccountId").expect("AccountId")];
        assert_eq!(lookup.relationship_name().as_deref(), Some("Account"));
        assert_eq!(object_by_prefix("00Q").map(|o| o.name), Some("Lead"));
    }
}
