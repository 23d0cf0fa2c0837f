//! The three result files of a finished job: successful, failed and unprocessed records.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use haul_types::ApiVersion;

use super::IngestJobs;
use super::rows::Outcome;
use crate::salesforce::errors::{self, error, not_found};
use crate::salesforce::rest::JobPath;
use crate::shared::csv::{self, Dialect};
use crate::shared::{body, lock};

#[derive(Debug, Clone, Copy)]
enum ResultKind {
    Successful,
    Failed,
    Unprocessed,
}

fn render(outcome: &Outcome, kind: ResultKind, dialect: Dialect) -> Vec<u8> {
    let mut out = Vec::new();
    let original = outcome.header.iter().map(|h| Some(h.as_str()));
    fn cells(row: &[String]) -> impl Iterator<Item = Option<&str>> {
        row.iter().map(|v| (!v.is_empty()).then_some(v.as_str()))
    }
    match kind {
        ResultKind::Successful => {
            csv::write_record(
                &mut out,
                dialect,
                [Some("sf__Id"), Some("sf__Created")]
                    .into_iter()
                    .chain(original),
            );
            for (id, created, row) in &outcome.successes {
                let created = if *created { "true" } else { "false" };
                csv::write_record(
                    &mut out,
                    dialect,
                    [Some(id.as_str()), Some(created)]
                        .into_iter()
                        .chain(cells(row)),
                );
            }
        }
        ResultKind::Failed => {
            csv::write_record(
                &mut out,
                dialect,
                [Some("sf__Id"), Some("sf__Error")]
                    .into_iter()
                    .chain(original),
            );
            for (id, message, row) in &outcome.failures {
                let id = (!id.is_empty()).then_some(id.as_str());
                csv::write_record(
                    &mut out,
                    dialect,
                    [id, Some(message.as_str())].into_iter().chain(cells(row)),
                );
            }
        }
        ResultKind::Unprocessed => {
            csv::write_record(&mut out, dialect, original);
            for row in &outcome.unprocessed {
                csv::write_record(&mut out, dialect, cells(row));
            }
        }
    }
    out
}

fn result_file(fam: &IngestJobs, p: &JobPath, headers: &HeaderMap, kind: ResultKind) -> Response {
    if let Err(r) = errors::version(&p.version, ApiVersion::BULK_V2_INGEST) {
        return r;
    }
    let (outcome, dialect) = {
        let jobs = lock(&fam.jobs);
        let Some(job) = jobs.get(&p.id) else {
            return not_found();
        };
        if !job.state.is_terminal() {
            let message = format!(
                "Results are available once the job is complete; the job is {}",
                job.state
            );
            return error(StatusCode::BAD_REQUEST, "INVALIDJOBSTATE", message);
        }
        (
            job.outcome.clone().unwrap_or_default(),
            Dialect::new(&job.delimiter, &job.line_ending),
        )
    };
    let bytes = render(&outcome, kind, dialect);
    let gzip = body::wants_gzip(headers);
    let mut response = if gzip { body::gzip(&bytes) } else { bytes }.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv"));
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// `GET /jobs/ingest/{id}/successfulResults`.
pub(super) async fn successful(
    State(fam): State<Arc<IngestJobs>>,
    Path(p): Path<JobPath>,
    headers: HeaderMap,
) -> Response {
    result_file(&fam, &p, &headers, ResultKind::Successful)
}

/// `GET /jobs/ingest/{id}/failedResults`.
pub(super) async fn failed(
    State(fam): State<Arc<IngestJobs>>,
    Path(p): Path<JobPath>,
    headers: HeaderMap,
) -> Response {
    result_file(&fam, &p, &headers, ResultKind::Failed)
}

/// `GET /jobs/ingest/{id}/unprocessedrecords` (and the `unprocessedRecords` spelling).
pub(super) async fn unprocessed(
    State(fam): State<Arc<IngestJobs>>,
    Path(p): Path<JobPath>,
    headers: HeaderMap,
) -> Response {
    result_file(&fam, &p, &headers, ResultKind::Unprocessed)
}
