//! haul: get the results of asynchronous query jobs fast and without losing a row.
//!
//! This crate layers polling, pagination and parallel download over the generated low-level client
//! in `haul-client`. It re-exports the shared types of `haul-types`.
#![warn(missing_docs)]

pub use haul_types as types;
