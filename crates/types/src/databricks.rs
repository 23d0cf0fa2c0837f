//! Enumerations of the Databricks SQL Statement Execution API.

tolerant_enum! {
    /// Where a Databricks SQL statement stands.
    pub enum StatementState {
        /// Waiting for a warehouse.
        Pending = "PENDING",
        /// Running.
        Running = "RUNNING",
        /// Finished; its result can be read.
        Succeeded = "SUCCEEDED",
        /// The warehouse could not run it (`status.error` says why).
        Failed = "FAILED",
        /// Cancelled by the caller, or by `on_wait_timeout: CANCEL`.
        Canceled = "CANCELED",
        /// It succeeded, and its result was closed since: it can no longer be read.
        Closed = "CLOSED",
    }
}

impl StatementState {
    /// Whether the statement is still queued or running.
    pub fn is_pending(&self) -> bool {
        matches!(self, Self::Pending | Self::Running)
    }
}

tolerant_enum! {
    /// How a statement's result is handed over.
    pub enum StatementDisposition {
        /// In the answers themselves, as JSON arrays (at most 25 MiB in all).
        Inline = "INLINE",
        /// As presigned URLs on cloud storage, one a chunk.
        ExternalLinks = "EXTERNAL_LINKS",
    }
}

tolerant_enum! {
    /// The format of a statement's result.
    pub enum StatementFormat {
        /// Arrays of values, each a string or null.
        JsonArray = "JSON_ARRAY",
        /// Apache Arrow IPC streams (with `EXTERNAL_LINKS` only).
        ArrowStream = "ARROW_STREAM",
        /// RFC 4180 CSV, a header row in the first chunk only (with `EXTERNAL_LINKS` only).
        Csv = "CSV",
    }
}

tolerant_enum! {
    /// The type of a result's column, as the manifest names it (`type_name`).
    pub enum ColumnTypeName {
        /// `BOOLEAN`.
        Boolean = "BOOLEAN",
        /// `TINYINT`: a signed byte.
        Byte = "BYTE",
        /// `SMALLINT`.
        Short = "SHORT",
        /// `INT`.
        Int = "INT",
        /// `BIGINT`.
        Long = "LONG",
        /// `FLOAT`.
        Float = "FLOAT",
        /// `DOUBLE`.
        Double = "DOUBLE",
        /// `DATE`.
        Date = "DATE",
        /// `TIMESTAMP`.
        Timestamp = "TIMESTAMP",
        /// `STRING`.
        String = "STRING",
        /// `BINARY`.
        Binary = "BINARY",
        /// `DECIMAL(p,s)`: precision and scale in `type_precision` and `type_scale`.
        Decimal = "DECIMAL",
        /// An `INTERVAL`.
        Interval = "INTERVAL",
        /// An `ARRAY<...>`.
        Array = "ARRAY",
        /// A `STRUCT<...>`.
        Struct = "STRUCT",
        /// A `MAP<...>`.
        Map = "MAP",
        /// `CHAR(n)`.
        Char = "CHAR",
        /// The type of a bare `NULL`.
        Null = "NULL",
        /// A user-defined type.
        UserDefinedType = "USER_DEFINED_TYPE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_are_kept() {
        let state: StatementState = serde_json::from_str("\"QUEUED_SOMEWHERE\"").unwrap();
        assert_eq!(state, StatementState::Other("QUEUED_SOMEWHERE".into()));
        assert_eq!(
            serde_json::to_string(&state).unwrap(),
            "\"QUEUED_SOMEWHERE\""
        );
        assert!(StatementState::Running.is_pending());
        assert!(!StatementState::Closed.is_pending());
        assert_eq!(ColumnTypeName::from("LONG"), ColumnTypeName::Long);
        assert_eq!(StatementFormat::Csv.as_str(), "CSV");
        assert_eq!(
            StatementDisposition::from("EXTERNAL_LINKS"),
            StatementDisposition::ExternalLinks
        );
    }
}
