//! Enumerations of the Looker API 4.0 query-task family.

tolerant_enum! {
    /// Format a Looker query task renders its results in.
    pub enum LookerResultFormat {
        /// Plain JSON rows, inline.
        InlineJson = "inline_json",
        /// Plain JSON rows.
        Json = "json",
        /// JSON with metadata, SQL and errors.
        JsonDetail = "json_detail",
        /// JSON for the front end.
        JsonFe = "json_fe",
        /// JSON with BI metadata.
        JsonBi = "json_bi",
        /// Comma-separated values.
        Csv = "csv",
        /// An HTML table.
        Html = "html",
        /// A Markdown table.
        Md = "md",
        /// Tab-separated text.
        Txt = "txt",
        /// An Excel workbook.
        Xlsx = "xlsx",
        /// Google Sheets XML.
        Gsxml = "gsxml",
        /// The generated SQL.
        Sql = "sql",
        /// An Office data connection.
        Odc = "odc",
    }
}

tolerant_enum! {
    /// Status of a Looker query task. The spec leaves it un-enumerated; these are the values seen on
    /// the wire (lower-case, although Looker's prose capitalises them).
    pub enum QueryTaskStatus {
        /// Queued.
        Added = "added",
        /// Running.
        Running = "running",
        /// Finished; results are ready.
        Complete = "complete",
        /// The query failed.
        Error = "error",
        /// Cancelled through `DELETE /running_queries/{id}`.
        Killed = "killed",
        /// The cached results aged out.
        Expired = "expired",
        /// Unknown to the caller, or not visible to them (multi_results only).
        Missing = "missing",
    }
}

impl QueryTaskStatus {
    /// Whether the task is still queued or running.
    pub fn is_pending(&self) -> bool {
        matches!(self, Self::Added | Self::Running)
    }
}
