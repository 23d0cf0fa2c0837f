//! Databricks' response shapes: JSON bodies, and the REST API's error body `{"error_code",
//! "message"}` (the SDK's `DatabricksError` reads exactly these two fields).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

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

/// The REST API's error body.
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    respond(status, &json!({ "error_code": code, "message": message }))
}

/// 400 `INVALID_PARAMETER_VALUE`: a request field Databricks refuses.
pub(crate) fn invalid(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", message)
}

/// 404 for an unknown statement, as for any resource the workspace does not have.
pub(crate) fn no_statement(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        &format!("The statement {id} was not found."),
    )
}
