//! Enumerations of the Salesforce Bulk API 2.0 and Async SOQL families.

tolerant_enum! {
    /// State of a Bulk API 2.0 query job. Query jobs are created directly in `UploadComplete`.
    pub enum QueryJobState {
        /// Created; waiting to be processed.
        UploadComplete = "UploadComplete",
        /// Being processed.
        InProgress = "InProgress",
        /// Aborted by a user; terminal.
        Aborted = "Aborted",
        /// Finished; results can be downloaded. Terminal.
        JobComplete = "JobComplete",
        /// Failed; terminal.
        Failed = "Failed",
    }
}

impl QueryJobState {
    /// Whether the job will never change state again.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Aborted | Self::JobComplete | Self::Failed)
    }
}

tolerant_enum! {
    /// State of a Bulk API 2.0 ingest job.
    pub enum IngestJobState {
        /// Created; data can be uploaded.
        Open = "Open",
        /// Closed by the client; waiting to be processed.
        UploadComplete = "UploadComplete",
        /// Being processed.
        InProgress = "InProgress",
        /// Aborted by a user; terminal.
        Aborted = "Aborted",
        /// Processed (some rows may still have failed); terminal.
        JobComplete = "JobComplete",
        /// Failed as a whole, see `errorMessage`; terminal.
        Failed = "Failed",
    }
}

impl IngestJobState {
    /// Whether the job will never change state again.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Aborted | Self::JobComplete | Self::Failed)
    }
}

tolerant_enum! {
    /// Status of an Async SOQL query. Older docs (API 35–37) spell failure `Error`, newer ones `Failed`.
    pub enum AsyncQueryStatus {
        /// Created, not yet scheduled.
        New = "New",
        /// Scheduled, not yet running.
        Scheduled = "Scheduled",
        /// Running.
        Running = "Running",
        /// Finished; rows were written to the target object. Terminal.
        Complete = "Complete",
        /// Failed, see `message`; terminal.
        Failed = "Failed",
        /// The older spelling of `Failed`; terminal.
        Error = "Error",
        /// Cancelled before it ran; terminal.
        Canceled = "Canceled",
    }
}

impl AsyncQueryStatus {
    /// Whether the query will never change status again.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Complete | Self::Failed | Self::Error | Self::Canceled
        )
    }
}

tolerant_enum! {
    /// Operation of a Bulk API 2.0 query job.
    pub enum QueryOperation {
        /// Returns live records only.
        Query = "query",
        /// Also returns records deleted by merge or delete, and archived Task and Event records.
        QueryAll = "queryAll",
    }
}

tolerant_enum! {
    /// Operation of a Bulk API 2.0 ingest job.
    pub enum IngestOperation {
        /// Create records.
        Insert = "insert",
        /// Move records to the recycle bin; the CSV holds only `Id`.
        Delete = "delete",
        /// Delete records permanently; the CSV holds only `Id`.
        HardDelete = "hardDelete",
        /// Update records by `Id`.
        Update = "update",
        /// Insert or update by an external id field.
        Upsert = "upsert",
    }
}

tolerant_enum! {
    /// Operation of an Async SOQL query.
    pub enum AsyncQueryOperation {
        /// Insert the rows into the target object.
        Insert = "insert",
        /// Upsert the rows by the target's external id field (not supported into big objects).
        Upsert = "upsert",
    }
}

tolerant_enum! {
    /// Kind of job in a job listing.
    pub enum JobType {
        /// A Bulk API 1.0 job.
        Classic = "Classic",
        /// A Bulk API 2.0 query job.
        V2Query = "V2Query",
        /// A Bulk API 2.0 ingest job.
        V2Ingest = "V2Ingest",
        /// A big object ingest job (listed by older API versions).
        BigObjectIngest = "BigObjectIngest",
    }
}

tolerant_enum! {
    /// Format of job data; Bulk API 2.0 knows only CSV.
    pub enum ContentType {
        /// Comma-separated values (with the job's column delimiter).
        Csv = "CSV",
    }
}

tolerant_enum! {
    /// How the server processes a job's batches; reserved, always `Parallel`.
    pub enum ConcurrencyMode {
        /// Batches run in parallel.
        Parallel = "Parallel",
    }
}

tolerant_enum! {
    /// Column delimiter of a job's CSV data.
    #[derive(Default)]
    pub enum ColumnDelimiter {
        /// Backquote: `` ` ``.
        Backquote = "BACKQUOTE",
        /// Caret: `^`.
        Caret = "CARET",
        /// Comma: `,` (the default).
        #[default]
        Comma = "COMMA",
        /// Pipe: `|`.
        Pipe = "PIPE",
        /// Semicolon: `;`.
        Semicolon = "SEMICOLON",
        /// Tab.
        Tab = "TAB",
    }
}

impl ColumnDelimiter {
    /// The byte that separates columns, or `None` for a delimiter this version does not know.
    pub fn as_byte(&self) -> Option<u8> {
        match self {
            Self::Backquote => Some(b'`'),
            Self::Caret => Some(b'^'),
            Self::Comma => Some(b','),
            Self::Pipe => Some(b'|'),
            Self::Semicolon => Some(b';'),
            Self::Tab => Some(b'\t'),
            Self::Other(_) => None,
        }
    }
}

tolerant_enum! {
    /// Line ending of a job's CSV data.
    #[derive(Default)]
    pub enum LineEnding {
        /// `\n` (the default).
        #[default]
        Lf = "LF",
        /// `\r\n`.
        Crlf = "CRLF",
    }
}

impl LineEnding {
    /// The bytes that end a line, or `None` for a line ending this version does not know.
    pub fn as_bytes(&self) -> Option<&'static [u8]> {
        match self {
            Self::Lf => Some(b"\n"),
            Self::Crlf => Some(b"\r\n"),
            Self::Other(_) => None,
        }
    }
}
