//! Looker login (form body or query parameters), logout, and the token guard accepting both the
//! `token` and `Bearer` schemes.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::Looker;
use super::errors::{error, not_found, respond};
use crate::shared::tokens::Realm;

/// Longest lifetime Looker reports for a token: one hour.
const MAX_LIFETIME: Duration = Duration::from_secs(3600);

fn token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    (scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer"))
        .then(|| token.trim())
}

/// Rejects requests without a live Looker token.
pub(super) async fn guard(
    State(looker): State<Arc<Looker>>,
    request: Request,
    next: Next,
) -> Response {
    if token(request.headers()).is_some_and(|t| looker.core.tokens.valid(Realm::Looker, t)) {
        next.run(request).await
    } else {
        error(StatusCode::UNAUTHORIZED, "Requires authentication.")
    }
}

#[derive(Debug, Default, Deserialize)]
struct Credentials {
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// `POST /api/4.0/login`: `client_id` and `client_secret` in a form body or the query string.
pub(super) async fn login(State(looker): State<Arc<Looker>>, uri: Uri, body: Bytes) -> Response {
    let st = &looker.core;
    let from_body: Credentials = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let from_query: Credentials =
        serde_urlencoded::from_str(uri.query().unwrap_or_default()).unwrap_or_default();
    let id = from_body.client_id.or(from_query.client_id);
    let secret = from_body.client_secret.or(from_query.client_secret);
    let creds = &st.credentials;
    if id.as_deref() != Some(creds.looker_client_id.as_str())
        || secret.as_deref() != Some(creds.looker_client_secret.as_str())
    {
        // Looker answers bad credentials with 404, not 401 (api-facts §4.1).
        return not_found();
    }
    let lifetime = st.config.token_lifetime.min(MAX_LIFETIME);
    let access = st.tokens.issue(Realm::Looker, lifetime);
    respond(
        StatusCode::OK,
        &json!({ "access_token": access, "token_type": "Bearer", "expires_in": lifetime.as_secs(), "refresh_token": null }),
    )
}

/// `DELETE /api/4.0/logout` and `DELETE /api/logout`: revokes the presented token.
pub(super) async fn logout(State(looker): State<Arc<Looker>>, headers: HeaderMap) -> Response {
    if let Some(t) = token(&headers) {
        looker.core.tokens.revoke(t);
    }
    StatusCode::NO_CONTENT.into_response()
}
