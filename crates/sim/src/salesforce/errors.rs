//! Salesforce response shapes: JSON bodies, the `[{"errorCode","message"}]` error array, empty
//! bodies, and the API version in the path.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use haul_types::ApiVersion;
use serde::Serialize;

/// The content type of Salesforce JSON bodies.
pub(crate) const JSON: &str = "application/json;charset=UTF-8";

/// A JSON body with the vendor's content type.
pub(crate) fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(JSON))],
        bytes,
    )
        .into_response()
}

/// The vendor's error body: a JSON array with one `{errorCode, message}`.
pub(crate) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    json(
        status,
        &serde_json::json!([{ "errorCode": code, "message": message.into() }]),
    )
}

/// 404 for an unknown job or URL.
pub(crate) fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested resource does not exist",
    )
}

/// 400 for a body that is not the JSON expected.
pub(crate) fn bad_json(problem: impl std::fmt::Display) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "JSON_PARSER_ERROR",
        format!("Unable to parse the request body: {problem}"),
    )
}

/// An empty body (201 upload, 204 delete) as `text/plain`, as the vendor sends it.
pub(crate) fn empty(status: StatusCode) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"))],
    )
        .into_response()
}

/// The API version from the `vXX.X` path segment; 404 below `min` or when unreadable, as for any
/// resource a version does not have.
pub(crate) fn version(segment: &str, min: ApiVersion) -> Result<ApiVersion, Response> {
    match segment
        .strip_prefix('v')
        .and_then(|v| v.parse::<ApiVersion>().ok())
    {
        Some(v) if v >= min && v <= ApiVersion::LATEST => Ok(v),
        _ => Err(not_found()),
    }
}

/// Parses a JSON request body, answering the vendor's 400 when it is not what was expected.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(bad_json)
}
