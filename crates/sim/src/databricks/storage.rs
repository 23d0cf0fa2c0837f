//! The storage origin: a second listener standing in for the cloud storage that external links
//! point at, answering as S3 answers presigned URLs.
//!
//! - A request that also carries an `Authorization` header: 400 `InvalidArgument`, "Only one
//!   auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string
//!   parameter or the Authorization header should be specified" (the API reference: "you must
//!   not set an Authorization header in the download requests").
//! - A signature that does not match: 403 `SignatureDoesNotMatch`.
//! - An expired link: 403 `AccessDenied`, "Request has expired", with `X-Amz-Expires`,
//!   `Expires` and `ServerTime`.
//! - A link whose SSE-C headers were not sent back: 400 `InvalidRequest`.
//! - A statement that is gone (closed, or never was): 404 `NoSuchKey`.
//!
//! Errors are S3's XML `<Error>` documents. A chunk's body is the one the statement kept, or
//! rendered again on a blocking thread.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::Databricks;
use super::links::{Links, Refusal};
use super::render::Format;
use super::statement::State as Phase;
use crate::shared::lock;
use crate::shared::surface::Surface;

/// S3's `<Error>` document.
pub(crate) fn s3_error(status: StatusCode, code: &str, message: &str, extra: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>{extra}<RequestId>HAULSIM0000000000</RequestId><HostId>haul-sim</HostId></Error>"
    );
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        )],
        body,
    )
        .into_response()
}

fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn refusal(refusal: Refusal) -> Response {
    match refusal {
        Refusal::Authorization => s3_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
            "<ArgumentName>Authorization</ArgumentName>",
        ),
        Refusal::Signature => s3_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
            "",
        ),
        Refusal::Expired {
            expired_at,
            lifetime,
        } => s3_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Request has expired",
            &format!(
                "<X-Amz-Expires>{lifetime}</X-Amz-Expires><Expires>{}</Expires><ServerTime>{}</ServerTime>",
                stamp(expired_at),
                stamp(Utc::now())
            ),
        ),
        Refusal::Encryption => s3_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
            "",
        ),
    }
}

fn no_such_key() -> Response {
    s3_error(
        StatusCode::NOT_FOUND,
        "NoSuchKey",
        "The specified key does not exist.",
        "",
    )
}

/// `chunk-<n>.<ext>`: the chunk index and extension.
fn object_name(file: &str) -> Option<(usize, &str)> {
    let (stem, ext) = file.strip_prefix("chunk-")?.split_once('.')?;
    Some((stem.parse().ok()?, ext))
}

/// `GET /haul-sim-results/{statement}/{file}`: one chunk's body.
pub(super) async fn object(
    State(db): State<Arc<Databricks>>,
    Path((statement, file)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let Some((index, ext)) = object_name(&file) else {
        return no_such_key();
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let path = Links::path(&statement, index, ext);
    if let Err(refused) = db.links.check(
        &path,
        &statement,
        uri.query().unwrap_or_default(),
        headers.contains_key(header::AUTHORIZATION),
        header,
    ) {
        return refusal(refused);
    }
    let snapshot = lock(&db.statements)
        .get(&statement)
        .map(|s| s.snapshot(db.options.result_ttl));
    let Some(snapshot) = snapshot.filter(|s| s.state == Phase::Succeeded) else {
        return no_such_key();
    };
    let format = snapshot.request.format;
    let Some(finished) = snapshot.finished.filter(|f| index < f.chunks.len()) else {
        return no_such_key();
    };
    let rendered = tokio::task::spawn_blocking(move || finished.body(format, index)).await;
    match rendered {
        Ok(body) => chunk_response(format, body),
        Err(_) => s3_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "We encountered an internal error. Please try again.",
            "",
        ),
    }
}

fn chunk_response(format: Format, body: bytes::Bytes) -> Response {
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            ),
            (header::ACCEPT_RANGES, HeaderValue::from_static("bytes")),
        ],
        body,
    )
        .into_response()
}

/// The storage origin's shapes for injected faults and unknown paths: S3's.
#[derive(Debug)]
pub(crate) struct Storage;

impl Surface for Storage {
    fn injected(&self, status: StatusCode, _route: &str) -> Response {
        let (code, message) = match status.as_u16() {
            503 => ("SlowDown", "Please reduce your request rate."),
            429 => ("SlowDown", "Please reduce your request rate."),
            _ => (
                "InternalError",
                "We encountered an internal error. Please try again.",
            ),
        };
        s3_error(status, code, message, "")
    }

    fn not_found(&self) -> Response {
        no_such_key()
    }
}
