//! Databricks credentials, and the token store that turns them into `Authorization` headers: a
//! personal access token as it is, or OAuth machine-to-machine (the client-credentials grant of a
//! service principal) at `{host}/oidc/v1/token`, renewed before it expires and whenever the
//! workspace answers 401.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use haul_client::TokenSource;
use haul_client::reqwest::{self, header::HeaderValue};
use serde::Deserialize;

use crate::error::{Error, Result, bounded};
use crate::retry::{self, Replay, RetryPolicy};
use crate::secret::Secret;
use crate::transport::{Refresh, read_whole};

/// The scope Databricks' own tools ask for: every workspace API.
const SCOPE: &str = "all-apis";
/// Renew at most this long before the token expires.
const MAX_MARGIN: Duration = Duration::from_secs(60);
/// Databricks' OAuth tokens last an hour when the answer does not say.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
/// The most of a token response read.
const MAX_TOKEN_RESPONSE: usize = 1 << 20;

/// How a [`Databricks`](super::Databricks) client authenticates.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum DatabricksAuth {
    /// A personal access token (`DATABRICKS_TOKEN`), sent as it is; it cannot be renewed.
    Token(Secret),
    /// OAuth machine-to-machine: a service principal's client id and secret
    /// (`DATABRICKS_CLIENT_ID`, `DATABRICKS_CLIENT_SECRET`), exchanged for tokens.
    ClientCredentials {
        /// The service principal's OAuth client id.
        client_id: String,
        /// Its OAuth secret.
        client_secret: Secret,
    },
}

/// The current token, and the means to obtain a new one.
pub(crate) struct Tokens {
    auth: DatabricksAuth,
    token_url: String,
    http: reqwest::Client,
    retry: RetryPolicy,
    current: RwLock<Option<Token>>,
    /// Serialises token requests so that many requests failing at once cause one.
    refreshing: tokio::sync::Mutex<()>,
}

struct Token {
    header: HeaderValue,
    /// When to stop sending it; `None` for a personal access token.
    renew_at: Option<Instant>,
}

impl Tokens {
    pub(crate) fn new(
        auth: DatabricksAuth,
        token_url: String,
        http: reqwest::Client,
        retry: RetryPolicy,
    ) -> Result<Arc<Self>> {
        let current = match &auth {
            DatabricksAuth::Token(token) => Some(Token {
                header: bearer(token)?,
                renew_at: None,
            }),
            DatabricksAuth::ClientCredentials { .. } => None,
        };
        Ok(Arc::new(Self {
            auth,
            token_url,
            http,
            retry,
            current: RwLock::new(current),
            refreshing: tokio::sync::Mutex::new(()),
        }))
    }

    /// Obtains a token unless another request already replaced `stale` meanwhile (`None`: unless
    /// a token is held).
    pub(crate) async fn renew(&self, stale: Option<&HeaderValue>) -> Result<()> {
        let _only_one = self.refreshing.lock().await;
        if self.authorization().as_ref() != stale {
            return Ok(());
        }
        let DatabricksAuth::ClientCredentials {
            client_id,
            client_secret,
        } = &self.auth
        else {
            return Err(Error::Auth {
                detail: "the Databricks token was refused and cannot be renewed".into(),
                source: None,
            });
        };
        let sent = Instant::now();
        let granted = self.request_token(client_id, client_secret).await?;
        let lifetime = granted
            .expires_in
            .map_or(DEFAULT_LIFETIME, Duration::from_secs);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(Token {
            header: bearer(&granted.access_token)?,
            renew_at: Some(sent + lifetime - renewal_margin(lifetime)),
        });
        tracing::debug!("obtained a Databricks OAuth token");
        Ok(())
    }

    /// The client-credentials grant, the client authenticated by HTTP Basic as Databricks' SDKs
    /// do. A token request changes nothing on the server, so it is repeated like a GET.
    async fn request_token(&self, client_id: &str, secret: &Secret) -> Result<Granted> {
        let form = [("grant_type", "client_credentials"), ("scope", SCOPE)];
        let answer = retry::run(
            &self.retry,
            Replay::Idempotent,
            "the Databricks token request",
            || async {
                let response = self
                    .http
                    .post(&self.token_url)
                    .basic_auth(client_id, Some(secret.expose()))
                    .form(&form)
                    .send()
                    .await?;
                read_whole(response, MAX_TOKEN_RESPONSE).await
            },
        )
        .await
        .map_err(|source| Error::Auth {
            detail: "the Databricks token endpoint could not be reached".into(),
            source: Some(Box::new(source)),
        })?;
        let status = answer.status().as_u16();
        // The body is already in memory: reading it cannot fail.
        let body = answer.bytes().await.unwrap_or_default();
        parse_token_response(status, &body)
    }
}

impl TokenSource for Tokens {
    fn authorization(&self) -> Option<HeaderValue> {
        let now = Instant::now();
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|token| token.renew_at.is_none_or(|at| now < at))
            .map(|token| token.header.clone())
    }
}

impl Refresh for Tokens {
    fn can_refresh(&self) -> bool {
        matches!(self.auth, DatabricksAuth::ClientCredentials { .. })
    }

    fn refresh<'a>(&'a self, stale: Option<&'a HeaderValue>) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.renew(stale))
    }

    /// A workspace answers a token it no longer accepts with 403 `Invalid access token.`.
    fn refreshes_on_forbidden(&self) -> bool {
        true
    }
}

/// How long before expiry to renew: a tenth of the lifetime, at most a minute.
fn renewal_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(MAX_MARGIN)
}

fn bearer(token: &Secret) -> Result<HeaderValue> {
    let mut value =
        HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| Error::Auth {
            detail: "the Databricks token holds characters an HTTP header cannot carry".into(),
            source: None,
        })?;
    value.set_sensitive(true);
    Ok(value)
}

/// What a token response grants; the token never prints.
#[derive(Debug)]
struct Granted {
    access_token: Secret,
    expires_in: Option<u64>,
}

/// Reads `{access_token, token_type, expires_in}` or the OAuth error `{error, error_description}`.
fn parse_token_response(status: u16, body: &[u8]) -> Result<Granted> {
    #[derive(Deserialize)]
    struct Answer {
        access_token: String,
        expires_in: Option<u64>,
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
            expires_in: answer.expires_in,
        });
    }
    let detail = match serde_json::from_slice::<Refused>(body) {
        Ok(refused) => format!(
            "the Databricks token endpoint answered {status}: {}{}",
            bounded(refused.error),
            refused
                .error_description
                .map(|d| format!(" ({})", bounded(d)))
                .unwrap_or_default()
        ),
        Err(_) => format!("the Databricks token endpoint answered {status} without a token"),
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
    fn token_answers_are_read_and_refusals_explained() {
        let granted = parse_token_response(
            200,
            br#"{"access_token":"dapi-xyz","token_type":"Bearer","expires_in":3600}"#,
        )
        .unwrap();
        assert_eq!(granted.access_token.expose(), "dapi-xyz");
        assert_eq!(granted.expires_in, Some(3600));
        assert!(!format!("{granted:?}").contains("dapi-xyz"));
        let refused = parse_token_response(
            401,
            br#"{"error":"invalid_client","error_description":"Client authentication failed"}"#,
        )
        .unwrap_err();
        assert!(refused.is_auth());
        assert_eq!(
            refused.to_string(),
            "authentication failed: the Databricks token endpoint answered 401: invalid_client \
             (Client authentication failed)"
        );
        let garbage = parse_token_response(200, b"<html>").unwrap_err();
        assert!(garbage.to_string().contains("without a token"), "{garbage}");
    }

    #[test]
    fn a_personal_access_token_is_sent_as_bearer_and_never_renewed() {
        let http = reqwest::Client::new();
        let tokens = Tokens::new(
            DatabricksAuth::Token(Secret::new("dapi123")),
            "https://h/oidc/v1/token".into(),
            http,
            RetryPolicy::none(),
        )
        .unwrap();
        let header = tokens.authorization().unwrap();
        assert_eq!(header.to_str().unwrap(), "Bearer dapi123");
        assert!(header.is_sensitive());
        assert!(!tokens.can_refresh());
    }

    #[test]
    fn tokens_are_renewed_a_tenth_of_their_life_early_at_most_a_minute() {
        assert_eq!(renewal_margin(Duration::from_secs(3600)), MAX_MARGIN);
        assert_eq!(
            renewal_margin(Duration::from_secs(10)),
            Duration::from_secs(1)
        );
    }
}
