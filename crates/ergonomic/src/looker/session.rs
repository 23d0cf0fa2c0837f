//! A Looker API session: log in with an API key, renew the token before it expires (and whenever the
//! server answers 401), log out.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use haul_client::looker_query_tasks::{Client, types};
use haul_client::reqwest::{self, header::HeaderValue};
use haul_client::{Context, NoToken, TokenSource};

use crate::error::{Error, Result, from_client};
use crate::retry::{self, Replay, RetryPolicy};
use crate::secret::Secret;
use crate::transport::Refresh;

/// Renew at most this long before the token expires (spectacles uses the same minute).
const MAX_MARGIN: Duration = Duration::from_secs(60);
/// Looker's tokens last an hour when the answer does not say.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// The current token and the means to obtain another.
pub(crate) struct Session {
    client_id: String,
    client_secret: Secret,
    /// Sends login with no `Authorization` header at all, once a call: [`Self::log_in`] repeats it.
    login: Client,
    /// How [`Self::log_in`] repeats a login that failed transiently.
    retry: RetryPolicy,
    api_base: String,
    http: reqwest::Client,
    current: RwLock<Option<Token>>,
    /// Serialises logins so that many requests failing at once cause one login.
    refreshing: tokio::sync::Mutex<()>,
}

struct Token {
    header: HeaderValue,
    access_token: Secret,
    /// When to stop sending it and log in again: some time before it expires.
    renew_at: Instant,
}

impl Session {
    pub(crate) fn new(
        client_id: String,
        client_secret: Secret,
        api_base: String,
        http: reqwest::Client,
        login: Context,
        retry: RetryPolicy,
    ) -> Arc<Self> {
        Arc::new(Self {
            client_id,
            client_secret,
            login: Client::new_with_client(&api_base, http.clone(), login),
            retry,
            api_base,
            http,
            current: RwLock::new(None),
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    /// The token now in use, if one was obtained and has not been given up.
    pub(crate) fn access_token(&self) -> Option<Secret> {
        self.read(|token| token.access_token.clone())
    }

    fn read<T>(&self, f: impl FnOnce(&Token) -> T) -> Option<T> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(f)
    }

    /// Logs in unless another request already replaced `stale` in the meantime.
    pub(crate) async fn renew(&self, stale: Option<&HeaderValue>) -> Result<()> {
        let _only_one = self.refreshing.lock().await;
        if self.authorization().as_ref() != stale {
            return Ok(());
        }
        let token = self.log_in().await?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(token);
        tracing::debug!("logged in to Looker");
        Ok(())
    }

    /// `POST /login` with the credentials in the form body, never in the URL (URLs end up in logs).
    /// A login changes nothing on the server, so a transient failure is answered by logging in again.
    async fn log_in(&self) -> Result<Token> {
        let sent = Instant::now();
        let form = types::LoginForm {
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.expose().to_owned(),
        };
        let granted = retry::run(&self.retry, Replay::Duplicable, "Looker login", || async {
            self.login
                .login()
                .body(form.clone())
                .send()
                .await
                .map_err(|e| refused(&self.client_id, from_client("login", e)))
        })
        .await?
        .into_inner();
        let lifetime = granted
            .expires_in
            .and_then(|secs| u64::try_from(secs).ok())
            .map_or(DEFAULT_LIFETIME, Duration::from_secs);
        let access_token = Secret::new(granted.access_token);
        Ok(Token {
            header: token_header(&access_token)?,
            access_token,
            renew_at: sent + lifetime - renewal_margin(lifetime),
        })
    }

    /// `DELETE /logout` with the current token, which is given up whatever the answer. Sent once and
    /// never with a fresh login: logging in only to log out would be absurd.
    pub(crate) async fn log_out(&self) -> Result<()> {
        let _no_login_meanwhile = self.refreshing.lock().await;
        let token = self
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(token) = token else {
            return Ok(());
        };
        let context = Context::new(Fixed(token.header));
        let client = Client::new_with_client(&self.api_base, self.http.clone(), context);
        match client.logout().send().await {
            Ok(_) => {
                tracing::debug!("logged out of Looker");
                Ok(())
            }
            // The token had already expired or been revoked: the session is over either way.
            Err(e) => match from_client("logout", e) {
                error if matches!(error.status(), Some(401 | 404)) => Ok(()),
                error => Err(error),
            },
        }
    }
}

/// How long before expiry to renew: a tenth of the lifetime, at most a minute.
fn renewal_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(MAX_MARGIN)
}

/// `Authorization: token <access token>`, the scheme Looker documents; marked sensitive.
fn token_header(token: &Secret) -> Result<HeaderValue> {
    let mut value =
        HeaderValue::from_str(&format!("token {}", token.expose())).map_err(|_| Error::Auth {
            detail: "the Looker access token holds characters an HTTP header cannot carry".into(),
            source: None,
        })?;
    value.set_sensitive(true);
    Ok(value)
}

/// A refused login is an authentication error; Looker answers bad credentials with 404.
fn refused(client_id: &str, error: Error) -> Error {
    match error.status() {
        Some(status @ (400 | 401 | 403 | 404)) => Error::Auth {
            detail: format!("Looker refused the API key {client_id:?} (HTTP {status})"),
            source: Some(Box::new(error)),
        },
        _ => error,
    }
}

impl TokenSource for Session {
    fn authorization(&self) -> Option<HeaderValue> {
        let now = Instant::now();
        self.read(|token| (now < token.renew_at).then(|| token.header.clone()))
            .flatten()
    }
}

impl Refresh for Session {
    fn can_refresh(&self) -> bool {
        true
    }

    fn refresh<'a>(&'a self, stale: Option<&'a HeaderValue>) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.renew(stale))
    }
}

/// Login goes through the retrying transport too, but a 401 there is final: no token to renew.
impl Refresh for NoToken {
    fn can_refresh(&self) -> bool {
        false
    }

    fn refresh<'a>(&'a self, _stale: Option<&'a HeaderValue>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// The token being given up, for the logout request alone.
struct Fixed(HeaderValue);

impl TokenSource for Fixed {
    fn authorization(&self) -> Option<HeaderValue> {
        Some(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_a_tenth_of_their_life_early_at_most_a_minute() {
        assert_eq!(
            renewal_margin(Duration::from_secs(3600)),
            Duration::from_secs(60)
        );
        assert_eq!(
            renewal_margin(Duration::from_secs(2)),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn the_token_header_uses_the_token_scheme_and_never_prints() {
        let header = token_header(&Secret::new("abc123")).unwrap();
        assert_eq!(header.to_str().unwrap(), "token abc123");
        assert!(header.is_sensitive());
        assert!(!format!("{header:?}").contains("abc123"));
    }
}
