//! Looker API 4.0 query tasks.
