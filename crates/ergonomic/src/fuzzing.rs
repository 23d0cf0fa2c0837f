//! Thin wrappers around crate-private parsers, for the fuzz targets in `fuzz/` (feature `fuzzing`).
//!
//! cargo-fuzz targets are separate crates, so they can only call public items. These wrappers call
//! the very functions the download and ingest paths use, unchanged; they add nothing but a public
//! name. Not part of haul's API.

use haul_types::SalesforceId;
use url::Url;

use crate::csv_scan::{HeaderSplitter, RecordScanner};

/// What [`scan`] saw in a page fed in chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// Records, an unterminated last one included (`RecordScanner::records`).
    pub records: u64,
    /// Whether the data ended inside a quoted field.
    pub ends_in_quotes: bool,
    /// The offset just past the first record end, over the whole input.
    pub first_end: Option<usize>,
}

/// Feeds `data` to the download path's record scanner, cut at each offset of `cuts` (offsets out of
/// range or out of order are skipped).
pub fn scan(data: &[u8], cuts: &[usize]) -> Scan {
    let mut scanner = RecordScanner::default();
    let mut first_end = None;
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&data.len())) {
        if cut < start || cut > data.len() {
            continue;
        }
        if let Some(end) = scanner.feed(&data[start..cut]) {
            first_end.get_or_insert(start + end);
        }
        start = cut;
    }
    Scan {
        records: scanner.records(),
        ends_in_quotes: scanner.ends_in_quotes(),
        first_end,
    }
}

/// Feeds `data` to the header splitter (which cuts the header row off every page but the first), cut
/// at `cuts` as [`scan`] does. Returns the header and the rest, or the splitter's error.
pub fn split_header(data: &[u8], cuts: &[usize]) -> Result<(Vec<u8>, Vec<u8>), &'static str> {
    let mut splitter = HeaderSplitter::default();
    let mut rest = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&data.len())) {
        if cut < start || cut > data.len() {
            continue;
        }
        rest.extend_from_slice(splitter.feed(&data[start..cut])?);
        start = cut;
    }
    Ok((splitter.header().to_vec(), rest))
}

/// The ingest splitter's cut: the offset just past the last record end within `data[..limit]`.
///
/// # Panics
/// When `limit > data.len()`, as the splitter never asks.
pub fn last_record_end(data: &[u8], limit: usize) -> Option<usize> {
    crate::salesforce::ingest::last_record_end(data, limit)
}

/// The locator of a `resultPages` link to one of `job`'s endpoints (`results` or `resultPages`), as
/// the parallel download reads it; `Err` holds the refusal's text.
pub fn locator_from_link(
    link: &str,
    instance: &Url,
    job: &SalesforceId,
    endpoint: &str,
) -> Result<Option<String>, String> {
    crate::salesforce::links::locator_from_link(link, instance, job, endpoint, "fuzz")
        .map_err(|e| e.to_string())
}

/// The `queryLocator` of a job listing's `nextRecordsUrl`, as the listing walk reads it.
pub fn query_locator_from_link(link: &str, instance: &Url) -> Result<String, String> {
    crate::salesforce::links::query_locator_from_link(link, instance, "fuzz")
        .map_err(|e| e.to_string())
}

/// The API version and locator of a REST query's `nextRecordsUrl` (`endpoint` is `query` or
/// `queryAll`), as the REST query reads it.
pub fn query_more_from_link(
    link: &str,
    instance: &Url,
    endpoint: &str,
) -> Result<(String, String), String> {
    crate::salesforce::links::query_more_from_link(link, instance, endpoint, "fuzz")
        .map(|more| (more.version.to_string(), more.locator))
        .map_err(|e| e.to_string())
}
