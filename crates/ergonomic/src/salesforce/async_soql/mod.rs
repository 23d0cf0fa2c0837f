//! Async SOQL queries.
