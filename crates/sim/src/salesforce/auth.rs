//! Salesforce authentication: the bearer-token guard on `/services/data/vXX.X/*` (with the API
//! usage count and `Sforce-Limit-Info`), and the OAuth token endpoint.
//!
//! The JWT bearer grant decodes the assertion's claims and checks `iss` (the client id) and `exp`;
//! **signatures are not verified** — the simulator has no certificate to verify them with.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;

use super::Salesforce;
use super::errors::{error, json};
use super::rest::{ORG_ID, USER_ID, instance_url};
use crate::shared::Core;
use crate::shared::tokens::{Credentials, Realm};

/// The token a request carries in `Authorization: Bearer …` (or the older `OAuth …` scheme).
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth"))
        .then(|| token.trim())
}

/// Rejects requests without a live token, counts API usage, enforces the daily limit, and adds
/// `Sforce-Limit-Info` to every response.
pub(crate) async fn guard(
    State(sf): State<Arc<Salesforce>>,
    request: Request,
    next: Next,
) -> Response {
    let authorised =
        bearer(request.headers()).is_some_and(|t| sf.core.tokens.valid(Realm::Salesforce, t));
    if !authorised {
        let response = error(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        );
        return with_usage(&sf, response, sf.usage());
    }
    let used = sf.count_request();
    if used > sf.api_limit {
        let response = error(
            StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        );
        return with_usage(&sf, response, used);
    }
    with_usage(&sf, next.run(request).await, used)
}

/// Adds `Sforce-Limit-Info: api-usage=used/limit` (REST API Developer Guide, "Limit Info
/// Header"), and a `Date` read from the org's clock, so that after [`crate::Sim::next_day`] the
/// server's time agrees with the stamps it writes (the HTTP server adds the real time only to
/// answers without one).
pub(crate) fn with_usage(sf: &Salesforce, mut response: Response, used: u64) -> Response {
    let value = format!("api-usage={used}/{}", sf.api_limit);
    let date = sf
        .core
        .calendar
        .now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert("sforce-limit-info", value);
    }
    if let Ok(date) = HeaderValue::from_str(&date) {
        headers.insert(header::DATE, date);
    }
    response
}

#[derive(Debug, Deserialize)]
pub(crate) struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    refresh_token: Option<String>,
    assertion: Option<String>,
}

fn oauth_error(code: &str, description: &str) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        &serde_json::json!({ "error": code, "error_description": description }),
    )
}

/// `POST /services/oauth2/token`: client_credentials, refresh_token and JWT bearer grants.
pub(crate) async fn token(
    State(sf): State<Arc<Salesforce>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Ok(mut form) = serde_urlencoded::from_bytes::<TokenForm>(&body) else {
        return oauth_error("invalid_request", "malformed request body");
    };
    if let Some((id, secret)) = basic_credentials(&headers) {
        form.client_id.get_or_insert(id);
        form.client_secret.get_or_insert(secret);
    }
    let st = &sf.core;
    if let Err(refusal) = grant(st, &form) {
        return refusal;
    }
    let access = st.tokens.issue(Realm::Salesforce, st.config.token_lifetime);
    let instance = instance_url(&headers);
    let issued = chrono::Utc::now().timestamp_millis().to_string();
    json(
        StatusCode::OK,
        &serde_json::json!({
            "access_token": access,
            "instance_url": instance,
            "id": format!("{instance}/id/{ORG_ID}/{USER_ID}"),
            "token_type": "Bearer",
            "issued_at": issued,
            "signature": STANDARD.encode(issued.as_bytes()),
            "scope": "api",
        }),
    )
    .into_response()
}

/// Checks the form against the grant it names; the vendor's OAuth error when refused.
fn grant(st: &Core, form: &TokenForm) -> Result<(), Response> {
    let creds = &st.credentials;
    let id_ok = |id: &Option<String>| id.as_deref() == Some(creds.sf_client_id.as_str());
    let granted = match form.grant_type.as_deref() {
        Some("client_credentials") => {
            id_ok(&form.client_id)
                && form.client_secret.as_deref() == Some(creds.sf_client_secret.as_str())
        }
        Some("refresh_token") => {
            let known = form
                .refresh_token
                .as_deref()
                .is_some_and(|t| st.tokens.is_refresh(t));
            if let Some((code, description)) = refresh_refusal(form, creds, known) {
                return Err(oauth_error(code, description));
            }
            true
        }
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            match form
                .assertion
                .as_deref()
                .map(|a| jwt_acceptable(a, &creds.sf_client_id))
            {
                Some(Ok(())) => true,
                Some(Err(why)) => return Err(oauth_error("invalid_grant", why)),
                None => return Err(oauth_error("invalid_request", "assertion is required")),
            }
        }
        Some(_) => {
            return Err(oauth_error(
                "unsupported_grant_type",
                "grant type not supported",
            ));
        }
        None => return Err(oauth_error("invalid_request", "grant_type is required")),
    };
    if granted {
        Ok(())
    } else {
        Err(oauth_error("invalid_client", "invalid client credentials"))
    }
}

/// Why a `refresh_token` grant is refused, if it is (OAuth 2.0 Refresh Token Flow): an unknown
/// `client_id`, a `client_secret` that is not the app's (the secret is optional, but one that is
/// sent must match), or a refresh token this org did not issue.
fn refresh_refusal(
    form: &TokenForm,
    creds: &Credentials,
    known_token: bool,
) -> Option<(&'static str, &'static str)> {
    if form
        .client_id
        .as_deref()
        .is_some_and(|id| id != creds.sf_client_id)
    {
        return Some(("invalid_client_id", "client identifier invalid"));
    }
    if form
        .client_secret
        .as_deref()
        .is_some_and(|secret| secret != creds.sf_client_secret)
    {
        return Some(("invalid_client", "invalid client credentials"));
    }
    (!known_token).then_some(("invalid_grant", "expired access/refresh token"))
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// Checks the claims of a JWT assertion: `iss` must be the client id and `exp` in the future.
/// The signature is deliberately not verified.
fn jwt_acceptable(assertion: &str, client_id: &str) -> Result<(), &'static str> {
    let mut parts = assertion.split('.');
    let (Some(_header), Some(claims), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("invalid assertion");
    };
    let claims = URL_SAFE_NO_PAD
        .decode(claims.trim_end_matches('='))
        .map_err(|_| "invalid assertion")?;
    let claims: serde_json::Value =
        serde_json::from_slice(&claims).map_err(|_| "invalid assertion")?;
    if claims.get("iss").and_then(|v| v.as_str()) != Some(client_id) {
        return Err("invalid client credentials");
    }
    let exp = claims
        .get("exp")
        .and_then(serde_json::Value::as_i64)
        .ok_or("invalid assertion")?;
    if exp <= chrono::Utc::now().timestamp() {
        return Err("expired authorization code");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &serde_json::Value) -> String {
        let enc = |v: &[u8]| URL_SAFE_NO_PAD.encode(v);
        format!(
            "{}.{}.{}",
            enc(br#"{"alg":"RS256"}"#),
            enc(claims.to_string().as_bytes()),
            enc(b"sig")
        )
    }

    #[test]
    fn jwt_claims_are_checked() {
        let future = chrono::Utc::now().timestamp() + 300;
        assert_eq!(
            jwt_acceptable(
                &jwt(&serde_json::json!({"iss": "cid", "exp": future})),
                "cid"
            ),
            Ok(())
        );
        assert!(
            jwt_acceptable(
                &jwt(&serde_json::json!({"iss": "other", "exp": future})),
                "cid"
            )
            .is_err()
        );
        assert!(jwt_acceptable(&jwt(&serde_json::json!({"iss": "cid", "exp": 1})), "cid").is_err());
        assert!(jwt_acceptable("not-a-jwt", "cid").is_err());
    }

    fn refresh_form(client_id: Option<&str>, client_secret: Option<&str>) -> TokenForm {
        TokenForm {
            grant_type: Some("refresh_token".into()),
            client_id: client_id.map(str::to_owned),
            client_secret: client_secret.map(str::to_owned),
            refresh_token: Some("5Aep".into()),
            assertion: None,
        }
    }

    #[test]
    fn a_refresh_grant_checks_the_client_and_a_secret_when_one_is_sent() {
        let creds = Credentials::from_seed(42);
        let (id, secret) = (creds.sf_client_id.as_str(), creds.sf_client_secret.as_str());
        assert_eq!(
            refresh_refusal(&refresh_form(Some(id), Some(secret)), &creds, true),
            None
        );
        // The secret is optional in the flow.
        assert_eq!(
            refresh_refusal(&refresh_form(Some(id), None), &creds, true),
            None
        );
        assert_eq!(
            refresh_refusal(&refresh_form(Some(id), Some("wrong")), &creds, true),
            Some(("invalid_client", "invalid client credentials"))
        );
        assert_eq!(
            refresh_refusal(&refresh_form(Some("other"), Some(secret)), &creds, true),
            Some(("invalid_client_id", "client identifier invalid"))
        );
        assert_eq!(
            refresh_refusal(&refresh_form(Some(id), Some(secret)), &creds, false),
            Some(("invalid_grant", "expired access/refresh token"))
        );
    }
}
