//! Workspace authentication: personal access tokens and OAuth machine-to-machine.
//!
//! - Every API request carries `Authorization: Bearer <token>`, a personal access token
//!   ([`super::Handle::token`]) or an OAuth access token. None (or another scheme) is
//!   401 and a token the workspace does not know is 403 `Invalid access token.`, with the
//!   numeric `error_code` the workspace sends on these two answers.
//! - OAuth M2M as the Databricks SDKs run it: `GET /.well-known/databricks-config` (the host
//!   metadata the Python SDK reads first: `oidc_endpoint`, `workspace_id`, `cloud`), `GET
//!   /oidc/.well-known/oauth-authorization-server` (the discovery document, with
//!   `token_endpoint`), then `POST /oidc/v1/token` with `grant_type=client_credentials` and
//!   `scope=all-apis`, the client's id and secret in HTTP Basic (`use_header=True`) or in the
//!   form. It answers `{access_token, token_type: "Bearer", expires_in, scope}`, at most an hour,
//!   or the OAuth errors `invalid_client` (401) and `unsupported_grant_type` (400).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;

use super::Databricks;
use super::errors::respond;
use crate::shared::tokens::Realm;

/// Longest lifetime of an OAuth access token: one hour, as the workspace issues them.
const MAX_LIFETIME: Duration = Duration::from_secs(3600);

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Rejects API requests without a live workspace token.
pub(super) async fn guard(
    State(db): State<Arc<Databricks>>,
    request: Request,
    next: Next,
) -> Response {
    match bearer(request.headers()) {
        Some(token) if db.core.tokens.valid(Realm::Databricks, token) => next.run(request).await,
        Some(_) => respond(
            StatusCode::FORBIDDEN,
            &json!({ "error_code": 403, "message": "Invalid access token." }),
        ),
        None => respond(
            StatusCode::UNAUTHORIZED,
            &json!({ "error_code": 401, "message": "Credential was not sent or was of an unsupported type for this API." }),
        ),
    }
}

/// `http://<Host>`: the workspace URL as the client reached it.
fn host(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// `GET /.well-known/databricks-config`: the host metadata.
pub(super) async fn host_metadata(
    State(db): State<Arc<Databricks>>,
    headers: HeaderMap,
) -> Response {
    respond(
        StatusCode::OK,
        &json!({
            "oidc_endpoint": format!("{}/oidc", host(&headers)),
            "workspace_id": db.workspace_id.to_string(),
            "cloud": "AWS",
        }),
    )
}

/// `GET /oidc/.well-known/oauth-authorization-server`: the OAuth discovery document.
pub(super) async fn discovery(headers: HeaderMap) -> Response {
    let oidc = format!("{}/oidc", host(&headers));
    respond(
        StatusCode::OK,
        &json!({
            "issuer": oidc,
            "authorization_endpoint": format!("{oidc}/v1/authorize"),
            "token_endpoint": format!("{oidc}/v1/token"),
            "jwks_uri": format!("{oidc}/jwks.json"),
            "grant_types_supported": ["client_credentials", "authorization_code", "refresh_token"],
            "response_types_supported": ["code", "id_token"],
            "scopes_supported": ["all-apis", "offline_access", "openid", "profile", "email", "sql"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "code_challenge_methods_supported": ["S256"],
        }),
    )
}

#[derive(Debug, Default, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

/// The client's id and secret from HTTP Basic, or else from the form.
fn client(headers: &HeaderMap, form: &TokenForm) -> (Option<String>, Option<String>) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            Some((id.to_owned(), secret.to_owned()))
        });
    match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (form.client_id.clone(), form.client_secret.clone()),
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    respond(
        status,
        &json!({ "error": error, "error_description": description }),
    )
}

/// `POST /oidc/v1/token`: the client credentials grant.
pub(super) async fn token(
    State(db): State<Arc<Databricks>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: TokenForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let creds = &db.core.credentials;
    let (id, secret) = client(&headers, &form);
    if id.as_deref() != Some(creds.databricks_client_id.as_str())
        || secret.as_deref() != Some(creds.databricks_client_secret.as_str())
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    if form.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Only the client_credentials grant is supported here",
        );
    }
    let lifetime = db.core.config.token_lifetime.min(MAX_LIFETIME);
    let access = db.core.tokens.issue(Realm::Databricks, lifetime);
    respond(
        StatusCode::OK,
        &json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": lifetime.as_secs(),
            "scope": form.scope.unwrap_or_else(|| "all-apis".to_owned()),
        }),
    )
}
