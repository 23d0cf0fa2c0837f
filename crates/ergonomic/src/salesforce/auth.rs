//! Salesforce credentials, and the token store that turns them into `Authorization` headers.
//!
//! Four ways to authenticate: a ready [`AccessToken`], or one of three OAuth 2.0 flows against
//! `/services/oauth2/token` ([`ClientCredentials`], [`RefreshToken`], [`JwtBearer`]) which haul runs
//! itself, again whenever the server says the token expired.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use haul_client::TokenSource;
use haul_client::reqwest::{self, header::HeaderValue};
use serde::Deserialize;

use crate::error::{Error, Result, bounded};
use crate::retry::{self, Replay, RetryPolicy};
use crate::secret::Secret;
use crate::transport::{Refresh, read_whole};

/// A ready access token (a session id). It cannot be refreshed: when it expires, requests fail with
/// an authentication error.
#[derive(Debug, Clone)]
pub struct AccessToken(Secret);

impl AccessToken {
    /// A token obtained elsewhere.
    pub fn new(token: impl Into<Secret>) -> Self {
        Self(token.into())
    }
}

/// The OAuth 2.0 client-credentials flow of a connected app.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    client_id: String,
    client_secret: Secret,
}

impl ClientCredentials {
    /// The connected app's consumer key and secret.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<Secret>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }
}

/// The OAuth 2.0 refresh-token flow.
#[derive(Debug, Clone)]
pub struct RefreshToken {
    client_id: String,
    client_secret: Option<Secret>,
    refresh_token: Secret,
}

impl RefreshToken {
    /// A refresh token issued to the connected app `client_id`.
    pub fn new(client_id: impl Into<String>, refresh_token: impl Into<Secret>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: None,
            refresh_token: refresh_token.into(),
        }
    }

    /// The connected app's secret, when the app requires it for refreshes.
    pub fn client_secret(mut self, secret: impl Into<Secret>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }
}

/// The OAuth 2.0 JWT bearer flow: an assertion signed (RS256) with the connected app's private key.
#[derive(Debug, Clone)]
pub struct JwtBearer {
    client_id: String,
    username: String,
    private_key_pem: Secret,
    audience: String,
}

impl JwtBearer {
    /// Authenticates as `username` through the connected app `client_id`, signing with an RSA private
    /// key in PEM form. The audience defaults to `https://login.salesforce.com`.
    pub fn new(
        client_id: impl Into<String>,
        username: impl Into<String>,
        private_key_pem: impl Into<Secret>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            username: username.into(),
            private_key_pem: private_key_pem.into(),
            audience: "https://login.salesforce.com".into(),
        }
    }

    /// The audience claim: `https://test.salesforce.com` for sandboxes, or a My Domain URL.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    fn assertion(&self) -> Result<String> {
        #[derive(serde::Serialize)]
        struct Claims<'a> {
            iss: &'a str,
            sub: &'a str,
            aud: &'a str,
            exp: u64,
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let claims = Claims {
            iss: &self.client_id,
            sub: &self.username,
            aud: &self.audience,
            exp: (now + Duration::from_secs(180)).as_secs(),
        };
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(self.private_key_pem.expose().as_bytes())
            .map_err(|source| Error::Auth {
                detail: "the JWT private key is not an RSA key in PEM form".into(),
                source: Some(Box::new(source)),
            })?;
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        jsonwebtoken::encode(&header, &claims, &key).map_err(|source| Error::Auth {
            detail: "signing the JWT assertion failed".into(),
            source: Some(Box::new(source)),
        })
    }
}

/// How a [`Salesforce`](crate::Salesforce) client authenticates.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SalesforceAuth {
    /// A ready access token.
    AccessToken(AccessToken),
    /// The client-credentials flow.
    ClientCredentials(ClientCredentials),
    /// The refresh-token flow.
    RefreshToken(RefreshToken),
    /// The JWT bearer flow.
    JwtBearer(JwtBearer),
}

macro_rules! into_auth {
    ($($variant:ident),+) => {$(
        impl From<$variant> for SalesforceAuth {
            fn from(value: $variant) -> Self {
                Self::$variant(value)
            }
        }
    )+};
}
into_auth!(AccessToken, ClientCredentials, RefreshToken, JwtBearer);

/// The current token, and the means to obtain a new one.
pub(crate) struct TokenStore {
    auth: SalesforceAuth,
    token_url: String,
    http: reqwest::Client,
    retry: RetryPolicy,
    current: RwLock<Option<HeaderValue>>,
    /// The identity URL (`id`) of the last token response, when the flow gave one.
    identity_url: RwLock<Option<String>>,
    /// Serialises refreshes so that many requests failing at once cause one token request.
    refreshing: tokio::sync::Mutex<()>,
}

impl TokenStore {
    pub(crate) fn new(
        auth: SalesforceAuth,
        token_url: String,
        http: reqwest::Client,
        retry: RetryPolicy,
    ) -> Result<Arc<Self>> {
        let current = match &auth {
            SalesforceAuth::AccessToken(AccessToken(token)) => Some(bearer(token)?),
            _ => None,
        };
        Ok(Arc::new(Self {
            auth,
            token_url,
            http,
            retry,
            current: RwLock::new(current),
            identity_url: RwLock::new(None),
            refreshing: tokio::sync::Mutex::new(()),
        }))
    }

    async fn refresh_token(&self, stale: Option<&HeaderValue>) -> Result<()> {
        let _only_one = self.refreshing.lock().await;
        if self.authorization().as_ref() != stale {
            return Ok(());
        }
        let granted = self.request_token().await?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) =
            Some(bearer(&granted.access_token)?);
        if granted.identity_url.is_some() {
            *self
                .identity_url
                .write()
                .unwrap_or_else(PoisonError::into_inner) = granted.identity_url;
        }
        tracing::debug!("obtained a new Salesforce access token");
        Ok(())
    }

    /// Asks the token endpoint, repeating the request on transient failures like a GET: a token
    /// request changes nothing on the server, and a token expiring under a fault should not end a
    /// long download. The answer is read inside the attempt, so that a cut body is asked again too.
    async fn request_token(&self) -> Result<Granted> {
        let form = self.token_form()?;
        let answer = retry::run(
            &self.retry,
            Replay::Idempotent,
            "the token request",
            || async {
                let response = self.http.post(&self.token_url).form(&form).send().await?;
                read_whole(response, MAX_TOKEN_RESPONSE).await
            },
        )
        .await
        .map_err(|source| Error::Auth {
            detail: "the token endpoint could not be reached".into(),
            source: Some(Box::new(source)),
        })?;
        let status = answer.status().as_u16();
        // The body is already in memory: reading it cannot fail.
        let body = answer.bytes().await.unwrap_or_default();
        parse_token_response(status, &body)
    }

    /// The form the token request sends for this flow.
    fn token_form(&self) -> Result<Vec<(&'static str, String)>> {
        Ok(match &self.auth {
            SalesforceAuth::AccessToken(_) => {
                return Err(Error::Auth {
                    detail: "the access token was refused and cannot be refreshed".into(),
                    source: None,
                });
            }
            SalesforceAuth::ClientCredentials(c) => vec![
                ("grant_type", "client_credentials".into()),
                ("client_id", c.client_id.clone()),
                ("client_secret", c.client_secret.expose().to_owned()),
            ],
            SalesforceAuth::RefreshToken(r) => {
                let mut form = vec![
                    ("grant_type", "refresh_token".into()),
                    ("client_id", r.client_id.clone()),
                    ("refresh_token", r.refresh_token.expose().to_owned()),
                ];
                if let Some(secret) = &r.client_secret {
                    form.push(("client_secret", secret.expose().to_owned()));
                }
                form
            }
            SalesforceAuth::JwtBearer(j) => vec![
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:jwt-bearer".into(),
                ),
                ("assertion", j.assertion()?),
            ],
        })
    }
}

impl TokenStore {
    /// The identity URL the token endpoint named with the current token (`id`), if any.
    pub(crate) fn identity_url(&self) -> Option<String> {
        self.identity_url
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The OAuth token endpoint.
    pub(crate) fn token_url(&self) -> &str {
        &self.token_url
    }
}

impl Refresh for TokenStore {
    fn can_refresh(&self) -> bool {
        !matches!(self.auth, SalesforceAuth::AccessToken(_))
    }

    fn refresh<'a>(&'a self, stale: Option<&'a HeaderValue>) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.refresh_token(stale))
    }
}

impl TokenSource for TokenStore {
    fn authorization(&self) -> Option<HeaderValue> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn bearer(token: &Secret) -> Result<HeaderValue> {
    let mut value =
        HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| Error::Auth {
            detail: "the access token holds characters an HTTP header cannot carry".into(),
            source: None,
        })?;
    value.set_sensitive(true);
    Ok(value)
}

/// The most of a token response read: a token answer is a few kilobytes, and a hostile or broken
/// endpoint must not make haul hold an unbounded body.
const MAX_TOKEN_RESPONSE: usize = 1 << 20;

/// What a token response grants: the token, and the identity URL of its user (`id`). The token
/// never prints (`Secret`).
#[derive(Debug)]
struct Granted {
    access_token: Secret,
    identity_url: Option<String>,
}

/// Reads `{access_token, id, ...}` or the OAuth error `{error, error_description}`.
fn parse_token_response(status: u16, body: &[u8]) -> Result<Granted> {
    #[derive(Deserialize)]
    struct Answer {
        access_token: String,
        id: Option<String>,
    }
    #[derive(Deserialize)]
    struct Refused {
        error: String,
        error_description: Option<String>,
    }
    if (200..300).contains(&status)
        && let Ok(answer) = serde_json::from_slice::<Answer>(body)
    {
        return Ok(Granted {
            access_token: Secret::new(answer.access_token),
            identity_url: answer.id,
        });
    }
    let detail = match serde_json::from_slice::<Refused>(body) {
        Ok(refused) => format!(
            "the token endpoint answered {status}: {}{}",
            bounded(refused.error),
            refused
                .error_description
                .map(|d| format!(" ({})", bounded(d)))
                .unwrap_or_default()
        ),
        Err(_) => format!("the token endpoint answered {status} without a token"),
    };
    Err(Error::Auth {
        detail,
        source: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_error_description_is_cut() {
        let body = format!(
            r#"{{"error":"invalid_grant","error_description":"{}"}}"#,
            "x".repeat(5 << 20)
        );
        let refused = parse_token_response(400, body.as_bytes()).unwrap_err();
        let text = refused.to_string();
        assert!(text.len() < 1_200, "{} bytes", text.len());
        assert!(text.contains("(cut; 5242880 bytes in all)"), "{text}");
    }

    #[test]
    fn token_responses_are_read_without_echoing_secrets() {
        let granted =
            parse_token_response(200, br#"{"access_token":"00Dabc","instance_url":"x"}"#).unwrap();
        let token = granted.access_token;
        assert_eq!(token.expose(), "00Dabc");
        assert_eq!(format!("{token:?} {token}"), "<redacted> <redacted>");
        assert_eq!(granted.identity_url, None);
        let with_id = parse_token_response(
            200,
            br#"{"access_token":"t","id":"https://login.salesforce.com/id/00D/005"}"#,
        )
        .unwrap();
        assert_eq!(
            with_id.identity_url.as_deref(),
            Some("https://login.salesforce.com/id/00D/005")
        );
        let refused = parse_token_response(
            400,
            br#"{"error":"invalid_grant","error_description":"authentication failure"}"#,
        )
        .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "authentication failed: the token endpoint answered 400: invalid_grant (authentication failure)"
        );
        assert!(refused.is_auth());
    }

    #[test]
    fn credentials_never_print_their_secrets() {
        let printed = format!(
            "{:?} {:?} {:?}",
            ClientCredentials::new("id", "s3cr3t"),
            RefreshToken::new("id", "r3fr3sh").client_secret("s3cr3t"),
            JwtBearer::new("id", "user", "-----BEGIN PRIVATE KEY-----k3y"),
        );
        for secret in ["s3cr3t", "r3fr3sh", "k3y"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }
}
