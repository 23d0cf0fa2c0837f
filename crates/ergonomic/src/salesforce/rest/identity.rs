//! Who the token belongs to: the OpenID Connect user info, and the identity URL of the token
//! response.

use haul_client::salesforce_rest::Client;
use haul_types::SalesforceId;
use url::Url;

use super::{Identity, UserInfo};
use crate::error::{Error, Result, from_client};
use crate::salesforce::Salesforce;

const IDENTITY: &str = "get_identity";

impl Salesforce {
    /// The token's user and org as the instance's OpenID Connect endpoint tells them
    /// (`/services/oauth2/userinfo`). Works with every kind of credentials.
    pub async fn user_info(&self) -> Result<UserInfo> {
        Ok(self
            .rest_client()
            .get_user_info()
            .send()
            .await
            .map_err(|e| from_client("get_user_info", e))?
            .into_inner())
    }

    /// What the identity URL of the token response (its `id`) says of the token's user and org.
    /// Obtains a token first when none is held. A ready
    /// [`AccessToken`](crate::auth::AccessToken) comes without an identity URL: use
    /// [`user_info`](Self::user_info) with one.
    ///
    /// The token is sent to the identity URL only when it is on the instance or on the host that
    /// issued the token.
    pub async fn identity(&self) -> Result<Identity> {
        if self.tokens().identity_url().is_none() {
            self.connect().await?;
        }
        let link = self.tokens().identity_url().ok_or_else(|| {
            Error::invalid_input(
                "no identity URL: the token was not obtained through an OAuth flow; use user_info()",
            )
        })?;
        let token_host = Url::parse(self.tokens().token_url()).ok();
        let allowed: Vec<&Url> = std::iter::once(self.instance_url())
            .chain(token_host.as_ref())
            .collect();
        let target = identity_target(&link, &allowed)?;
        Ok(self
            .generated_at(&target.origin, Client::new_with_client)
            .get_identity()
            .org_id(target.org)
            .user_id(target.user)
            .send()
            .await
            .map_err(|e| from_client(IDENTITY, e))?
            .into_inner())
    }
}

/// Where an identity URL points: its origin, and the org and user it names.
#[derive(Debug, PartialEq, Eq)]
struct IdentityTarget {
    origin: Url,
    org: SalesforceId,
    user: SalesforceId,
}

/// Reads an identity URL, `https://<host>/id/<orgId>/<userId>`, whose origin must be one of
/// `allowed`: the token travels there.
fn identity_target(link: &str, allowed: &[&Url]) -> Result<IdentityTarget> {
    let refuse = |why: &str| {
        let shown: String = link.chars().take(120).collect();
        Error::invalid_response(IDENTITY, format!("refused identity URL {shown:?}: {why}"))
    };
    let url = Url::parse(link).map_err(|_| refuse("not an absolute URL"))?;
    if !allowed.iter().any(|host| host.origin() == url.origin()) {
        return Err(refuse(
            "it is neither on the instance nor on the host that issued the token",
        ));
    }
    let segments: Vec<&str> = url.path().trim_end_matches('/').split('/').collect();
    let ["", "id", org, user] = segments.as_slice() else {
        return Err(refuse("it is not /id/<orgId>/<userId>"));
    };
    let (Ok(org), Ok(user)) = (org.parse::<SalesforceId>(), user.parse::<SalesforceId>()) else {
        return Err(refuse("it does not name an org id and a user id"));
    };
    let mut origin = url.clone();
    origin.set_path("/");
    origin.set_query(None);
    origin.set_fragment(None);
    Ok(IdentityTarget { origin, org, user })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> (Url, Url) {
        (
            Url::parse("https://acme.my.salesforce.com").unwrap(),
            Url::parse("https://login.salesforce.com/services/oauth2/token").unwrap(),
        )
    }

    #[test]
    fn reads_identity_urls_on_the_instance_or_the_token_host() {
        let (instance, login) = hosts();
        let target = identity_target(
            "https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P",
            &[&instance, &login],
        )
        .unwrap();
        assert_eq!(target.origin.as_str(), "https://login.salesforce.com/");
        assert_eq!(target.org.as_str(), "00Dx0000000BV7z");
        assert_eq!(target.user.as_str(), "005x00000012Q9P");
        let on_instance =
            "https://acme.my.salesforce.com/id/00Dx0000000BV7zEAC/005x00000012Q9PAAQ/";
        assert!(identity_target(on_instance, &[&instance, &login]).is_ok());
    }

    #[test]
    fn refuses_identity_urls_elsewhere_or_of_another_shape() {
        let (instance, login) = hosts();
        for link in [
            "https://evil.example/id/00Dx0000000BV7z/005x00000012Q9P",
            "http://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P",
            "https://login.salesforce.com:8443/id/00Dx0000000BV7z/005x00000012Q9P",
            "/id/00Dx0000000BV7z/005x00000012Q9P",
            "https://login.salesforce.com/id/00Dx0000000BV7z",
            "https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P/x",
            "https://login.salesforce.com/services/data/v62.0/limits/x",
            "https://login.salesforce.com/id/00D%2F..%2Fx/005x00000012Q9P",
        ] {
            assert!(
                identity_target(link, &[&instance, &login]).is_err(),
                "{link}"
            );
        }
    }
}
