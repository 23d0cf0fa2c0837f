//! The simulated org's objects: the standard objects people query most (Account, Contact,
//! Opportunity, Lead, Case, User, Task, Attachment) with their common real fields and types, a
//! feed object the Bulk API refuses, a big object, and a custom object that Async SOQL writes
//! into.
//!
//! Field names, types, lengths and compound fields follow the Object Reference for Salesforce
//! (<https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/>):
//! addresses are compound `address` fields whose components (`BillingStreet`, ..., `BillingLatitude`)
//! name them in `compoundFieldName`; `Contact.Name` is a derived name whose components are
//! `Salutation`, `FirstName` and `LastName`; `Attachment.Body` is `base64`. Custom fields
//! (`__c`) give Account a geolocation, a time, a multi-select picklist, a percent and a
//! Number(18, 0) field, the kind of field whose large values a real org exports in exponent
//! notation (forcedotcom/cli#3367).

use super::schema::{Field, FieldType as T, Gen, ObjectSchema, field};

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
const ACCOUNT_TYPES: &[&str] = &[
    "Prospect",
    "Customer - Direct",
    "Customer - Channel",
    "Channel Partner / Reseller",
    "Installation Partner",
    "Technology Partner",
    "Other",
];
const STREETS: &[&str] = &[
    "1 Market St",
    "415 Mission St\nFloor 3",
    "10 Downing Street",
    "1600 Amphitheatre Pkwy",
    "221B Baker St",
    "350 Fifth Avenue, Suite 5000",
    "Rue de Rivoli 99",
    "2-1 Marunouchi",
];
const STATES: &[&str] = &["CA", "NY", "TX", "WA", "IL", "MA", "ON", "NSW", "BY"];
const COUNTRIES: &[&str] = &[
    "United States",
    "USA",
    "Canada",
    "France",
    "Japan",
    "United Kingdom",
    "Germany",
    "Australia",
];
const POSTAL_CODES: &[&str] = &["94105", "10118", "SW1A 2AA", "75001", "100-0005", "2000"];
const SERVICES: &[&str] = &["Consulting", "Implementation", "Support", "Training"];
const SALUTATIONS: &[&str] = &["Mr.", "Ms.", "Mrs.", "Dr.", "Prof."];
const TITLES: &[&str] = &[
    "CEO",
    "CFO",
    "VP Sales",
    "Director, IT",
    "Buyer",
    "Engineer",
];
const LEAD_SOURCES: &[&str] = &["Web", "Phone Inquiry", "Partner Referral", "Trade Show"];
const LEAD_STATUSES: &[&str] = &[
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
];
const CASE_STATUSES: &[&str] = &["New", "Working", "Escalated", "Closed"];
const PRIORITIES: &[&str] = &["High", "Medium", "Low"];
const ORIGINS: &[&str] = &["Phone", "Email", "Web"];
const TASK_STATUSES: &[&str] = &[
    "Not Started",
    "In Progress",
    "Completed",
    "Waiting on someone else",
    "Deferred",
];
const TASK_SUBJECTS: &[&str] = &["Call", "Send Letter", "Send Quote", "Other"];
const OPPORTUNITY_TYPES: &[&str] = &["New Customer", "Existing Customer - Upgrade"];
const TIME_ZONES: &[&str] = &["America/Los_Angeles", "America/New_York", "Europe/Paris"];
const BOOLEANS: &[&str] = &["true", "false"];
const FALSE: &[&str] = &["false"];
const FEED_TYPES: &[&str] = &["TextPost", "LinkPost", "TrackedChange"];
const CONTENT_TYPES: &[&str] = &["text/plain", "text/csv"];

/// The audit fields of every sObject: when a row was created, last changed by a user, last
/// changed by anything, and whether it sits in the Recycle Bin. An ingest update sets the two
/// modification stamps, a delete also sets `IsDeleted` (see `Editor` in `mod.rs`).
macro_rules! audited {
    ($($field:expr),* $(,)?) => {
        &[
            $($field,)*
            field("CreatedDate", T::DateTime, false, Gen::DateTime),
            field("LastModifiedDate", T::DateTime, false, Gen::Modified),
            field("SystemModstamp", T::DateTime, false, Gen::Modified),
            field("IsDeleted", T::Boolean, false, Gen::Pick(FALSE, 0)),
        ]
    };
}

const fn address_parts(
    street: &'static str,
    rest: [&'static str; 6],
    compound: &'static str,
) -> [Field; 7] {
    [
        field(street, T::TextArea, false, Gen::Pick(STREETS, 6)).part_of(compound),
        field(rest[0], T::Text(40), false, Gen::City).part_of(compound),
        field(rest[1], T::Text(80), false, Gen::Pick(STATES, 5)).part_of(compound),
        field(rest[2], T::Text(20), false, Gen::Pick(POSTAL_CODES, 5)).part_of(compound),
        field(rest[3], T::Text(80), false, Gen::Pick(COUNTRIES, 5)).part_of(compound),
        field(
            rest[4],
            T::Double(18, 15),
            false,
            Gen::Fixed(-90_000_000, 90_000_000, 6),
        )
        .part_of(compound),
        field(
            rest[5],
            T::Double(18, 15),
            false,
            Gen::Fixed(-180_000_000, 180_000_000, 6),
        )
        .part_of(compound),
    ]
}

const BILLING: [Field; 7] = address_parts(
    "BillingStreet",
    [
        "BillingCity",
        "BillingState",
        "BillingPostalCode",
        "BillingCountry",
        "BillingLatitude",
        "BillingLongitude",
    ],
    "BillingAddress",
);
const SHIPPING: [Field; 7] = address_parts(
    "ShippingStreet",
    [
        "ShippingCity",
        "ShippingState",
        "ShippingPostalCode",
        "ShippingCountry",
        "ShippingLatitude",
        "ShippingLongitude",
    ],
    "ShippingAddress",
);
const LEAD_ADDRESS: [Field; 7] = address_parts(
    "Street",
    [
        "City",
        "State",
        "PostalCode",
        "Country",
        "Latitude",
        "Longitude",
    ],
    "Address",
);

/// `BillingCity` keeps its place (and its values) from before the address was complete.
const ACCOUNT_FIELDS: &[Field] = audited![
    field("Id", T::Id, false, Gen::Id),
    field("Name", T::Text(255), true, Gen::Company),
    field("Industry", T::Picklist, false, Gen::Pick(INDUSTRIES, 7)),
    field("NumberOfEmployees", T::Int, false, Gen::Int(1, 250_000)),
    field(
        "AnnualRevenue",
        T::Currency(18, 2),
        false,
        Gen::Cents(50_000_000_000)
    ),
    BILLING[1],
    field("Description", T::TextArea, false, Gen::Prose),
    field("Type", T::Picklist, false, Gen::Pick(ACCOUNT_TYPES, 4)),
    field("Phone", T::Phone, false, Gen::Phone),
    field("Website", T::Url, false, Gen::Url),
    BILLING[0],
    BILLING[2],
    BILLING[3],
    BILLING[4],
    BILLING[5],
    BILLING[6],
    field("BillingAddress", T::Address, false, Gen::Null),
    SHIPPING[0],
    SHIPPING[1],
    SHIPPING[2],
    SHIPPING[3],
    SHIPPING[4],
    SHIPPING[5],
    SHIPPING[6],
    field("ShippingAddress", T::Address, false, Gen::Null),
    field(
        "Tax_Number__c",
        T::Double(18, 0),
        false,
        Gen::Sci(1_000_000, 99_999_999_999_999)
    ),
    field(
        "Discount__c",
        T::Percent(5, 2),
        false,
        Gen::Fixed(0, 5_000, 2)
    ),
    field("Preferred_Call_Time__c", T::Time, false, Gen::Time),
    field("Services__c", T::MultiPicklist, false, Gen::Multi(SERVICES)),
    field(
        "Headquarters__Latitude__s",
        T::Double(12, 9),
        false,
        Gen::Fixed(-90_000_000, 90_000_000, 6)
    )
    .part_of("Headquarters__c"),
    field(
        "Headquarters__Longitude__s",
        T::Double(12, 9),
        false,
        Gen::Fixed(-180_000_000, 180_000_000, 6)
    )
    .part_of("Headquarters__c"),
    field("Headquarters__c", T::Location, false, Gen::Null),
];
const CONTACT_FIELDS: &[Field] = audited![
    field("Id", T::Id, false, Gen::Id),
    field("FirstName", T::Text(40), false, Gen::FirstName).part_of("Name"),
    field("LastName", T::Text(80), true, Gen::LastName).part_of("Name"),
    field("Email", T::Email, false, Gen::Email),
    field("AccountId", T::Reference("001"), false, Gen::Ref("001")),
    field("Description", T::TextArea, false, Gen::Prose),
    field("Salutation", T::Picklist, false, Gen::Pick(SALUTATIONS, 3)).part_of("Name"),
    field(
        "Name",
        T::Text(121),
        false,
        Gen::Join(&["FirstName", "LastName"])
    ),
    field("Title", T::Text(128), false, Gen::Pick(TITLES, 4)),
    field("Phone", T::Phone, false, Gen::Phone),
    field("Birthdate", T::Date, false, Gen::Date),
    field(
        "HasOptedOutOfEmail",
        T::Boolean,
        false,
        Gen::Pick(BOOLEANS, 0)
    ),
];
const OPPORTUNITY_FIELDS: &[Field] = audited![
    field("Id", T::Id, false, Gen::Id),
    field("Name", T::Text(120), true, Gen::Company),
    field("StageName", T::Picklist, true, Gen::Pick(STAGES, 0)),
    field("Amount", T::Currency(18, 2), false, Gen::Cents(500_000_000)),
    field("CloseDate", T::Date, true, Gen::Date),
    field("AccountId", T::Reference("001"), false, Gen::Ref("001")),
    field(
        "Probability",
        T::Percent(3, 0),
        false,
        Gen::Fixed(0, 101, 0)
    ),
    field("Type", T::Picklist, false, Gen::Pick(OPPORTUNITY_TYPES, 3)),
    field("LeadSource", T::Picklist, false, Gen::Pick(LEAD_SOURCES, 3)),
];
const LEAD_FIELDS: &[Field] = audited![
    field("Id", T::Id, false, Gen::Id),
    field("Salutation", T::Picklist, false, Gen::Pick(SALUTATIONS, 3)).part_of("Name"),
    field("FirstName", T::Text(40), false, Gen::FirstName).part_of("Name"),
    field("LastName", T::Text(80), true, Gen::LastName).part_of("Name"),
    field(
        "Name",
        T::Text(121),
        false,
        Gen::Join(&["FirstName", "LastName"])
    ),
    field("Company", T::Text(255), true, Gen::Company),
    field("Email", T::Email, false, Gen::Email),
    field("Phone", T::Phone, false, Gen::Phone),
    field("Status", T::Picklist, true, Gen::Pick(LEAD_STATUSES, 0)),
    field("LeadSource", T::Picklist, false, Gen::Pick(LEAD_SOURCES, 3)),
    LEAD_ADDRESS[0],
    LEAD_ADDRESS[1],
    LEAD_ADDRESS[2],
    LEAD_ADDRESS[3],
    LEAD_ADDRESS[4],
    LEAD_ADDRESS[5],
    LEAD_ADDRESS[6],
    field("Address", T::Address, false, Gen::Null),
];
const CASE_FIELDS: &[Field] = audited![
    field("Id", T::Id, false, Gen::Id),
    field("CaseNumber", T::Text(30), false, Gen::Code("0000")),
    field("Subject", T::Text(255), false, Gen::Prose),
    field("Status", T::Picklist, false, Gen::Pick(CASE_STATUSES, 0)),
    field("Priority", T::Picklist, false, Gen::Pick(PRIORITIES, 0)),
    field("Origin", T::Picklist, false, Gen::Pick(ORIGINS, 0)),
    field("AccountId", T::Reference("001"), false, Gen::Ref("001")),
    field("ContactId", T::Reference("003"), false, Gen::Ref("003")),
    field("Description", T::TextArea, false, Gen::Prose),
];
/// Users have no `IsDeleted`: a real org deactivates users, it never deletes them.
const USER_FIELDS: &[Field] = &[
    field("Id", T::Id, false, Gen::Id),
    field("Username", T::Text(80), true, Gen::Email),
    field("FirstName", T::Text(40), false, Gen::FirstName).part_of("Name"),
    field("LastName", T::Text(80), true, Gen::LastName).part_of("Name"),
    field(
        "Name",
        T::Text(121),
        false,
        Gen::Join(&["FirstName", "LastName"]),
    ),
    field("Email", T::Email, true, Gen::Email),
    field("Alias", T::Text(8), true, Gen::Code("u")),
    field("IsActive", T::Boolean, false, Gen::Pick(BOOLEANS, 0)),
    field(
        "TimeZoneSidKey",
        T::Picklist,
        true,
        Gen::Pick(TIME_ZONES, 0),
    ),
    field("Title", T::Text(80), false, Gen::Pick(TITLES, 4)),
    field("CreatedDate", T::DateTime, false, Gen::DateTime),
    field("LastModifiedDate", T::DateTime, false, Gen::Modified),
    field("SystemModstamp", T::DateTime, false, Gen::Modified),
];
const TASK_FIELDS: &[Field] = audited![
    field("Id", T::Id, false, Gen::Id),
    field("Subject", T::Text(255), false, Gen::Pick(TASK_SUBJECTS, 0)),
    field("Status", T::Picklist, true, Gen::Pick(TASK_STATUSES, 0)),
    field("Priority", T::Picklist, true, Gen::Pick(PRIORITIES, 0)),
    field("ActivityDate", T::Date, false, Gen::Date),
    field("WhoId", T::Reference("003"), false, Gen::Ref("003")),
    field("WhatId", T::Reference("001"), false, Gen::Ref("001")),
    field("Description", T::TextArea, false, Gen::Prose),
];
const ATTACHMENT_FIELDS: &[Field] = audited![
    field("Id", T::Id, false, Gen::Id),
    field("ParentId", T::Reference("001"), true, Gen::Ref("001")),
    field("Name", T::Text(255), true, Gen::Code("notes-")),
    field(
        "ContentType",
        T::Text(120),
        false,
        Gen::Pick(CONTENT_TYPES, 0)
    ),
    field("Body", T::Base64, true, Gen::Base64),
    field("IsPrivate", T::Boolean, false, Gen::Pick(FALSE, 0)),
    field("OwnerId", T::Reference("005"), false, Gen::Ref("005")),
];
const ACCOUNT_FEED_FIELDS: &[Field] = audited![
    field("Id", T::Id, false, Gen::Id),
    field("ParentId", T::Reference("001"), false, Gen::Ref("001")),
    field("Type", T::Picklist, false, Gen::Pick(FEED_TYPES, 0)),
    field("Body", T::TextArea, false, Gen::Prose),
];
const SAMPLE_EVENT_FIELDS: &[Field] = &[
    field("Id", T::Id, false, Gen::Id),
    field("Account__c", T::Text(18), true, Gen::Ref("001")),
    field("EventTime__c", T::DateTime, true, Gen::DateTime),
    field("Kind__c", T::Text(40), true, Gen::Pick(EVENT_KINDS, 0)),
    field("Value__c", T::Double(18, 2), false, Gen::Cents(1_000_000)),
    field("Session__c", T::Text(40), false, Gen::Code("S-")),
];
const EVENT_COPY_FIELDS: &[Field] = audited![
    field("Id", T::Id, false, Gen::Id),
    field("Name", T::Text(80), false, Gen::Code("EC-")),
    field("Account__c", T::Text(18), false, Gen::Null),
    field("EventTime__c", T::DateTime, false, Gen::Null),
    field("Kind__c", T::Text(40), false, Gen::Null),
    field("Value__c", T::Double(18, 2), false, Gen::Null),
    field("Session__c", T::Text(40), false, Gen::Null),
    field(
        "BackgroundOperationLookup__c",
        T::Text(18),
        false,
        Gen::Null
    ),
    field(
        "BackgroundOperationDescription__c",
        T::Text(255),
        false,
        Gen::Null
    ),
];

const fn object(
    name: &'static str,
    labels: (&'static str, &'static str),
    key_prefix: &'static str,
    fields: &'static [Field],
    default_rows: u64,
) -> ObjectSchema {
    ObjectSchema {
        name,
        label: labels.0,
        label_plural: labels.1,
        key_prefix,
        fields,
        default_rows,
        bulk: true,
    }
}

/// Every object of the org; ids of each start with its key prefix.
pub(crate) static OBJECTS: &[ObjectSchema] = &[
    object(
        "Account",
        ("Account", "Accounts"),
        "001",
        ACCOUNT_FIELDS,
        1_000,
    ),
    object(
        "Contact",
        ("Contact", "Contacts"),
        "003",
        CONTACT_FIELDS,
        2_000,
    ),
    object(
        "Opportunity",
        ("Opportunity", "Opportunities"),
        "006",
        OPPORTUNITY_FIELDS,
        1_500,
    ),
    object(
        "Sample_Event__b",
        ("Sample Event", "Sample Events"),
        "a1B",
        SAMPLE_EVENT_FIELDS,
        5_000,
    ),
    object(
        "Event_Copy__c",
        ("Event Copy", "Event Copies"),
        "a2C",
        EVENT_COPY_FIELDS,
        0,
    ),
    object("Lead", ("Lead", "Leads"), "00Q", LEAD_FIELDS, 500),
    object("Case", ("Case", "Cases"), "500", CASE_FIELDS, 500),
    object("User", ("User", "Users"), "005", USER_FIELDS, 25),
    object("Task", ("Task", "Tasks"), "00T", TASK_FIELDS, 1_000),
    object(
        "Attachment",
        ("Attachment", "Attachments"),
        "00P",
        ATTACHMENT_FIELDS,
        20,
    ),
    // Feeds are among the objects Bulk API does not support ("Entity 'AccountFeed' is not
    // supported by the Bulk API."; see Salesforce help article 000383508).
    ObjectSchema {
        bulk: false,
        ..object(
            "AccountFeed",
            ("Account Feed", "Account Feed"),
            "0D5",
            ACCOUNT_FEED_FIELDS,
            50,
        )
    },
];
