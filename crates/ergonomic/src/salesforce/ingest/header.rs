//! Checking the header row against the operation before anything is sent: a delete whose CSV holds
//! other columns, or an upsert without its key column, would otherwise fail only on the server, job
//! by job.

use haul_types::IngestOperation;

use crate::error::{Error, Result};

/// The column names of a header row (terminator included or not).
pub(crate) fn columns(header: &[u8], delimiter: u8) -> Result<Vec<String>> {
    let header = header.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(header);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .from_reader(header);
    let record = reader
        .records()
        .next()
        .transpose()
        .map_err(|e| Error::invalid_input(format!("reading the CSV header row: {e}")))?
        .ok_or_else(|| Error::invalid_input("the CSV input has no header row"))?;
    Ok(record.iter().map(|name| name.trim().to_owned()).collect())
}

/// Whether the columns suit the operation.
pub(crate) fn check(
    operation: &IngestOperation,
    external_id: Option<&str>,
    columns: &[String],
) -> Result<()> {
    if columns.iter().any(String::is_empty) {
        return Err(Error::invalid_input(
            "the CSV header row has an empty column name (is the column delimiter right?)",
        ));
    }
    let deleting = matches!(
        operation,
        IngestOperation::Delete | IngestOperation::HardDelete
    );
    if deleting && !(columns.len() == 1 && columns[0].eq_ignore_ascii_case("Id")) {
        return Err(Error::invalid_input(format!(
            "a {operation} job's CSV must hold only the Id column; it holds {columns:?}"
        )));
    }
    if let Some(key) = external_id
        && !columns.iter().any(|c| c.eq_ignore_ascii_case(key))
    {
        return Err(Error::invalid_input(format!(
            "an upsert by {key} needs a {key} column; the CSV holds {columns:?}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_quoted_names_with_the_delimiter() {
        assert_eq!(
            columns(b"\xEF\xBB\xBF\"Id\";Name\r\n", b';').unwrap(),
            ["Id", "Name"]
        );
    }

    #[test]
    fn delete_needs_exactly_id_and_upsert_its_key() {
        let cols = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert!(check(&IngestOperation::Delete, None, &cols(&["Id"])).is_ok());
        assert!(check(&IngestOperation::HardDelete, None, &cols(&["Id", "Name"])).is_err());
        assert!(check(&IngestOperation::Upsert, Some("Ext__c"), &cols(&["Name"])).is_err());
        assert!(check(&IngestOperation::Upsert, Some("Ext__c"), &cols(&["ext__c"])).is_ok());
        assert!(check(&IngestOperation::Insert, None, &cols(&["Name", ""])).is_err());
    }
}
