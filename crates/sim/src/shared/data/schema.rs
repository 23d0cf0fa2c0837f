//! The simulated org's objects: the common standard fields of Account, Contact and Opportunity with
//! their types and required flags, a big object, and a custom object that Async SOQL writes into.

/// A field's Salesforce type; it decides how filters compare and how uploads are validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldType {
    /// The record id (18 characters, the object's key prefix).
    Id,
    /// Text with this maximum length.
    Text(usize),
    /// Long text; may hold newlines.
    TextArea,
    /// A picklist (unrestricted: any text is accepted on upload).
    Picklist,
    /// A whole number.
    Int,
    /// A currency amount.
    Currency,
    /// A floating-point number.
    Double,
    /// `YYYY-MM-DD`.
    Date,
    /// `YYYY-MM-DDTHH:MM:SS.000Z`.
    DateTime,
    /// `true` or `false`.
    Boolean,
    /// An email address.
    Email,
    /// A lookup to the object with this key prefix.
    Reference(&'static str),
}

impl FieldType {
    /// Whether filters compare this field as a number.
    pub(crate) fn is_numeric(self) -> bool {
        matches!(self, Self::Int | Self::Currency | Self::Double)
    }

    /// Whether filters take an unquoted date literal for this field.
    pub(crate) fn is_temporal(self) -> bool {
        matches!(self, Self::Date | Self::DateTime)
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
    /// A whole number in `[min, max)`.
    Int(i64, i64),
    /// An amount in cents below this bound, printed with two decimals.
    Cents(u64),
    /// A date-time between 2015 and 2025.
    DateTime,
    /// A date between 2015 and 2027.
    Date,
    /// Free text; one in three rows null, some with newlines, quotes and commas.
    Prose,
    /// A reference to a generated row of the object with this key prefix.
    Ref(&'static str),
    /// A short text code derived from the row index.
    Code(&'static str),
    /// Always null in generated rows (filled only by ingest or Async SOQL).
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
}

/// One sObject of the org.
#[derive(Debug)]
pub(crate) struct ObjectSchema {
    pub(crate) name: &'static str,
    pub(crate) key_prefix: &'static str,
    /// Field 0 is always `Id`.
    pub(crate) fields: &'static [Field],
    /// Rows generated when the builder does not say.
    pub(crate) default_rows: u64,
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
}

const fn field(name: &'static str, ty: FieldType, required: bool, generator: Gen) -> Field {
    Field {
        name,
        ty,
        required,
        generator,
    }
}

const INDUSTRIES: &[&str] = &[
    "Agriculture",
    "Banking",
    "Biotechnology",
    "Chemicals",
    "Communications",
    "Construction",
    "Consulting",
    "Education",
    "Electronics",
    "Energy",
    "Engineering",
    "Entertainment",
    "Finance",
    "Healthcare",
    "Insurance",
    "Manufacturing",
    "Media",
    "Retail",
    "Technology",
];
const STAGES: &[&str] = &[
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
];
const EVENT_KINDS: &[&str] = &["click", "view", "purchase", "login", "logout", "search"];

const ACCOUNT_FIELDS: &[Field] = &[
    field("Id", FieldType::Id, false, Gen::Id),
    field("Name", FieldType::Text(255), true, Gen::Company),
    field(
        "Industry",
        FieldType::Picklist,
        false,
        Gen::Pick(INDUSTRIES, 7),
    ),
    field(
        "NumberOfEmployees",
        FieldType::Int,
        false,
        Gen::Int(1, 250_000),
    ),
    field(
        "AnnualRevenue",
        FieldType::Currency,
        false,
        Gen::Cents(50_000_000_000),
    ),
    field("BillingCity", FieldType::Text(40), false, Gen::City),
    field("Description", FieldType::TextArea, false, Gen::Prose),
    field("CreatedDate", FieldType::DateTime, false, Gen::DateTime),
];
const CONTACT_FIELDS: &[Field] = &[
    field("Id", FieldType::Id, false, Gen::Id),
    field("FirstName", FieldType::Text(40), false, Gen::FirstName),
    field("LastName", FieldType::Text(80), true, Gen::LastName),
    field("Email", FieldType::Email, false, Gen::Email),
    field(
        "AccountId",
        FieldType::Reference("001"),
        false,
        Gen::Ref("001"),
    ),
    field("Description", FieldType::TextArea, false, Gen::Prose),
    field("CreatedDate", FieldType::DateTime, false, Gen::DateTime),
];
const OPPORTUNITY_FIELDS: &[Field] = &[
    field("Id", FieldType::Id, false, Gen::Id),
    field("Name", FieldType::Text(120), true, Gen::Company),
    field("StageName", FieldType::Picklist, true, Gen::Pick(STAGES, 0)),
    field(
        "Amount",
        FieldType::Currency,
        false,
        Gen::Cents(500_000_000),
    ),
    field("CloseDate", FieldType::Date, true, Gen::Date),
    field(
        "AccountId",
        FieldType::Reference("001"),
        false,
        Gen::Ref("001"),
    ),
    field("CreatedDate", FieldType::DateTime, false, Gen::DateTime),
];
const SAMPLE_EVENT_FIELDS: &[Field] = &[
    field("Id", FieldType::Id, false, Gen::Id),
    field("Account__c", FieldType::Text(18), true, Gen::Ref("001")),
    field("EventTime__c", FieldType::DateTime, true, Gen::DateTime),
    field(
        "Kind__c",
        FieldType::Text(40),
        true,
        Gen::Pick(EVENT_KINDS, 0),
    ),
    field("Value__c", FieldType::Double, false, Gen::Cents(1_000_000)),
    field("Session__c", FieldType::Text(40), false, Gen::Code("S-")),
];
const EVENT_COPY_FIELDS: &[Field] = &[
    field("Id", FieldType::Id, false, Gen::Id),
    field("Name", FieldType::Text(80), false, Gen::Code("EC-")),
    field("Account__c", FieldType::Text(18), false, Gen::Null),
    field("EventTime__c", FieldType::DateTime, false, Gen::Null),
    field("Kind__c", FieldType::Text(40), false, Gen::Null),
    field("Value__c", FieldType::Double, false, Gen::Null),
    field("Session__c", FieldType::Text(40), false, Gen::Null),
    field(
        "BackgroundOperationLookup__c",
        FieldType::Text(18),
        false,
        Gen::Null,
    ),
    field(
        "BackgroundOperationDescription__c",
        FieldType::Text(255),
        false,
        Gen::Null,
    ),
    field("CreatedDate", FieldType::DateTime, false, Gen::DateTime),
];

/// Every object of the org.
pub(crate) static OBJECTS: &[ObjectSchema] = &[
    ObjectSchema {
        name: "Account",
        key_prefix: "001",
        fields: ACCOUNT_FIELDS,
        default_rows: 1_000,
    },
    ObjectSchema {
        name: "Contact",
        key_prefix: "003",
        fields: CONTACT_FIELDS,
        default_rows: 2_000,
    },
    ObjectSchema {
        name: "Opportunity",
        key_prefix: "006",
        fields: OPPORTUNITY_FIELDS,
        default_rows: 1_500,
    },
    ObjectSchema {
        name: "Sample_Event__b",
        key_prefix: "a1B",
        fields: SAMPLE_EVENT_FIELDS,
        default_rows: 5_000,
    },
    ObjectSchema {
        name: "Event_Copy__c",
        key_prefix: "a2C",
        fields: EVENT_COPY_FIELDS,
        default_rows: 0,
    },
];

/// The object named `name`, matched case-insensitively as SOQL does.
pub(crate) fn object(name: &str) -> Option<&'static ObjectSchema> {
    OBJECTS.iter().find(|o| o.name.eq_ignore_ascii_case(name))
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
}
