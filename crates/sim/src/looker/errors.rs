//! Looker's response shapes: JSON bodies, the `{message, documentation_url}` error, 404 and the
//! 422 validation error.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Where Looker's error bodies point.
const DOCS: &str = "http://docs.looker.com/";

/// A JSON response.
pub(crate) fn respond(status: StatusCode, body: &serde_json::Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response()
}

/// Looker's `Error` body.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    respond(
        status,
        &json!({ "message": message, "documentation_url": DOCS }),
    )
}

/// 404 `Not found`: unknown ids (and, on Looker, things the caller may not see).
pub(crate) fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not found")
}

/// 422 `ValidationError` with one entry per problem.
pub(crate) fn validation(problems: &[(String, String)]) -> Response {
    let errors: Vec<_> = problems
        .iter()
        .map(|(field, message)| json!({ "field": field, "code": "invalid", "message": message, "documentation_url": DOCS }))
        .collect();
    respond(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({ "message": "Validation Failed", "errors": errors, "documentation_url": DOCS }),
    )
}
