//! The typed rows of an ingest job's three result files, and the vendor's row error format.

use std::fmt;
use std::sync::Arc;

use haul_types::SalesforceId;

/// The values of a result row under the names of the uploaded CSV's columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    names: Arc<[String]>,
    values: Vec<String>,
}

impl Fields {
    pub(crate) fn new(names: Arc<[String]>, values: Vec<String>) -> Self {
        Self { names, values }
    }

    /// The value of column `name` (matched exactly), if the CSV has that column.
    pub fn get(&self, name: &str) -> Option<&str> {
        let index = self.names.iter().position(|n| n == name)?;
        self.values.get(index).map(String::as_str)
    }

    /// The column names, in CSV order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The values, in CSV order (an empty string for an empty field).
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// `(name, value)` pairs in CSV order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.names
            .iter()
            .zip(&self.values)
            .map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// A row the server wrote (`successfulResults`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SuccessfulRow {
    /// The record's id (`sf__Id`).
    pub id: SalesforceId,
    /// Whether the record was created rather than updated (`sf__Created`).
    pub created: bool,
    /// The row as uploaded.
    pub fields: Fields,
}

/// A row the server refused (`failedResults`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailedRow {
    /// The record's id (`sf__Id`); `None` for a failed insert.
    pub id: Option<SalesforceId>,
    /// Why the row failed (`sf__Error`).
    pub error: RowError,
    /// The row as uploaded.
    pub fields: Fields,
}

/// A row the server never processed because its job failed or was aborted (`unprocessedrecords`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnprocessedRow {
    /// The row as uploaded.
    pub fields: Fields,
}

/// A row's error, read from `sf__Error` in the form `STATUS_CODE:message:fields --`, such as
/// `REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RowError {
    /// The status code, such as `REQUIRED_FIELD_MISSING` (empty if the text had none).
    pub code: String,
    /// The explanation (the whole text if it did not have the documented form).
    pub message: String,
    /// The fields concerned, possibly none.
    pub fields: Vec<String>,
}

impl RowError {
    /// Reads the vendor's text. The message may itself hold colons, so the code is taken from the
    /// front and the field list from the back.
    pub fn parse(text: &str) -> Self {
        let trimmed = text.trim();
        let body = trimmed
            .strip_suffix("--")
            .map(str::trim_end)
            .unwrap_or(trimmed);
        let parsed = body.split_once(':').and_then(|(code, rest)| {
            let (message, fields) = rest.rsplit_once(':')?;
            let looks_like_code = !code.is_empty()
                && code
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            looks_like_code.then(|| Self {
                code: code.to_owned(),
                message: message.to_owned(),
                fields: fields
                    .split(',')
                    .map(str::trim)
                    .filter(|f| !f.is_empty())
                    .map(str::to_owned)
                    .collect(),
            })
        });
        parsed.unwrap_or_else(|| Self {
            code: String::new(),
            message: trimmed.to_owned(),
            fields: Vec::new(),
        })
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code.is_empty(), self.fields.is_empty()) {
            (true, _) => f.write_str(&self.message),
            (false, true) => write!(f, "{}: {}", self.code, self.message),
            (false, false) => write!(
                f,
                "{}: {} ({})",
                self.code,
                self.message,
                self.fields.join(", ")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_error_forms() {
        let error =
            RowError::parse("REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --");
        assert_eq!(error.code, "REQUIRED_FIELD_MISSING");
        assert_eq!(error.message, "Required fields are missing: [Name]");
        assert_eq!(error.fields, ["Name"]);

        let error = RowError::parse("INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--");
        assert_eq!(error.code, "INVALID_CROSS_REFERENCE_KEY");
        assert_eq!(error.message, "invalid cross reference id");
        assert!(error.fields.is_empty());

        let error = RowError::parse(
            "REQUIRED_FIELD_MISSING:Required fields are missing: [Name, StageName]:Name,StageName --",
        );
        assert_eq!(error.fields, ["Name", "StageName"]);
    }

    #[test]
    fn keeps_text_of_another_form_as_the_message() {
        let error = RowError::parse("something went wrong");
        assert_eq!(error.code, "");
        assert_eq!(error.message, "something went wrong");
        assert_eq!(error.to_string(), "something went wrong");
    }

    #[test]
    fn fields_are_found_by_name() {
        let fields = Fields::new(
            Arc::from(vec!["Id".to_owned(), "Name".to_owned()]),
            vec!["001".into(), "Acme".into()],
        );
        assert_eq!(fields.get("Name"), Some("Acme"));
        assert_eq!(fields.get("Other"), None);
        assert_eq!(fields.iter().count(), 2);
    }
}
