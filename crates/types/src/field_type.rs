//! The type of a Salesforce field, as describe reports it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Defines [`FieldType`] from its variants' wire spellings, matched without regard to case: describe
/// answers in lower case (`datetime`, with `anyType` the one exception), while Apex's
/// `Schema.DisplayType` and older documents spell the same types `DATETIME` or `DateTime`.
macro_rules! field_types {
    ($( $(#[$doc:meta])* $variant:ident = $wire:literal, )+) => {
        /// A field's type as the describe resources report it (`type` of a field).
        ///
        /// Tolerant: a type this version of haul does not know is kept verbatim as `Other`, and known
        /// types are recognised whatever their case. Source: FieldType in the SOAP API Developer Guide
        /// (describeSObjects) and `Schema.DisplayType` in the Apex Reference.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum FieldType {
            $( $(#[$doc])* $variant, )+
            /// A type this version of haul does not know, kept verbatim.
            Other(String),
        }

        impl FieldType {
            /// Every type this version of haul knows.
            pub const KNOWN: &'static [FieldType] = &[$(FieldType::$variant),+];

            /// The type as describe spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Other(other) => other,
                }
            }

            fn known(text: &str) -> Option<Self> {
                $( if text.eq_ignore_ascii_case($wire) { return Some(Self::$variant); } )+
                None
            }
        }
    };
}

field_types! {
    /// The record's id (primary key).
    Id = "id",
    /// A reference to another record (a foreign key); see the field's `referenceTo`.
    Reference = "reference",
    /// Text of at most `length` characters.
    String = "string",
    /// Multi-line text of at most `length` characters.
    Textarea = "textarea",
    /// One value of a list.
    Picklist = "picklist",
    /// Several values of a list, separated by semicolons.
    Multipicklist = "multipicklist",
    /// One value of a list, or any other text.
    Combobox = "combobox",
    /// An e-mail address.
    Email = "email",
    /// A phone number (free text).
    Phone = "phone",
    /// A URL.
    Url = "url",
    /// Encrypted text.
    EncryptedString = "encryptedstring",
    /// True or false.
    Boolean = "boolean",
    /// A 32-bit integer of at most `digits` digits.
    Int = "int",
    /// A 64-bit integer.
    Long = "long",
    /// A decimal number of `precision` digits, `scale` after the point.
    Double = "double",
    /// An amount of money (`precision`, `scale`).
    Currency = "currency",
    /// A percentage (`precision`, `scale`).
    Percent = "percent",
    /// A date, `2024-05-01`.
    Date = "date",
    /// A date and time, `2024-05-01T12:00:00.000+0000`.
    DateTime = "datetime",
    /// A time of day, `12:00:00.000Z`.
    Time = "time",
    /// Binary data, base64-encoded.
    Base64 = "base64",
    /// A compound address (street, city, ...), read-only.
    Address = "address",
    /// A compound geolocation (latitude, longitude), read-only.
    Location = "location",
    /// Any of several types, told apart per value (history fields).
    AnyType = "anyType",
    /// A complex value type.
    ComplexValue = "complexvalue",
    /// A reference to a data category group or category.
    DataCategoryGroupReference = "datacategorygroupreference",
    /// JSON.
    Json = "json",
}

impl FieldType {
    /// Whether this is one of the types this version of haul knows.
    pub fn is_known(&self) -> bool {
        !matches!(self, Self::Other(_))
    }

    /// Whether the field's size is given by `length` (text-like types).
    pub fn has_length(&self) -> bool {
        matches!(
            self,
            Self::Id
                | Self::Reference
                | Self::String
                | Self::Textarea
                | Self::Picklist
                | Self::Multipicklist
                | Self::Combobox
                | Self::Email
                | Self::Phone
                | Self::Url
                | Self::EncryptedString
        )
    }

    /// Whether the field's size is given by `precision` and `scale` (decimal numbers).
    pub fn has_precision(&self) -> bool {
        matches!(self, Self::Double | Self::Currency | Self::Percent)
    }

    /// Whether the field is a compound one, whose parts are fields of their own.
    pub fn is_compound(&self) -> bool {
        matches!(self, Self::Address | Self::Location)
    }
}

impl From<&str> for FieldType {
    fn from(value: &str) -> Self {
        Self::known(value).unwrap_or_else(|| Self::Other(value.to_owned()))
    }
}

impl From<String> for FieldType {
    fn from(value: String) -> Self {
        Self::known(&value).unwrap_or(Self::Other(value))
    }
}

impl FromStr for FieldType {
    type Err = std::convert::Infallible;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(Self::from(value))
    }
}

impl fmt::Display for FieldType {
    /// The type as describe spells it, honouring width and alignment (`{:<12}`), for tables.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl Serialize for FieldType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FieldType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_types_are_read_whatever_their_case_and_written_as_describe_spells_them() {
        for (wire, expected) in [
            ("datetime", FieldType::DateTime),
            ("DATETIME", FieldType::DateTime),
            ("DateTime", FieldType::DateTime),
            ("anyType", FieldType::AnyType),
            ("anytype", FieldType::AnyType),
            ("encryptedstring", FieldType::EncryptedString),
            ("int", FieldType::Int),
        ] {
            let parsed: FieldType = serde_json::from_str(&format!("\"{wire}\"")).unwrap();
            assert_eq!(parsed, expected, "{wire}");
        }
        assert_eq!(
            serde_json::to_string(&FieldType::AnyType).unwrap(),
            "\"anyType\""
        );
        assert_eq!(format!("{:<6}|", FieldType::Int), "int   |");
    }

    #[test]
    fn every_known_type_round_trips_and_unknown_ones_are_kept() {
        for known in FieldType::KNOWN {
            assert_eq!(&FieldType::from(known.as_str()), known);
            assert!(known.is_known());
        }
        let future: FieldType = serde_json::from_str("\"vector\"").unwrap();
        assert_eq!(future, FieldType::Other("vector".into()));
        assert_eq!(serde_json::to_string(&future).unwrap(), "\"vector\"");
        assert!(!future.is_known());
    }

    #[test]
    fn size_kinds_follow_the_type() {
        assert!(FieldType::String.has_length() && !FieldType::String.has_precision());
        assert!(FieldType::Currency.has_precision() && !FieldType::Currency.has_length());
        assert!(FieldType::Address.is_compound());
        assert!(!FieldType::Other("x".into()).has_length());
    }
}
