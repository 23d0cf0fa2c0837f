//! External links: presigned URLs on the storage origin, shaped like the S3 presigned URLs
//! Databricks on AWS hands out (`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`,
//! `X-Amz-Expires`, `X-Amz-Security-Token`, `X-Amz-SignedHeaders`, `X-Amz-Signature`), and the
//! check the storage origin makes of each request.
//!
//! The signature is SHA-256 over a secret of the seed, the path, the date, the lifetime and the
//! security token: any edit of the URL breaks it. A link expires `X-Amz-Expires` seconds after
//! `X-Amz-Date` (the link lifetime, by default the documented 15 minutes), or earlier when a test
//! expires every link issued so far ([`Links::expire_all`]; the security token carries the
//! link's serial number). With [`super::Options::link_headers`], each link also names the two
//! SSE-C headers S3 requires to read an object encrypted with a customer key: the
//! `http_headers` the API documents as "typically used to pass a decryption key".

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, NaiveDateTime, Utc};
use sha2::{Digest, Sha256};

use crate::shared::listener::Origin;
use crate::shared::rng::mix;

/// The SSE-C headers a link may require, in the order they are listed.
pub(crate) const SSE_ALGORITHM: &str = "x-amz-server-side-encryption-customer-algorithm";
/// See [`SSE_ALGORITHM`].
pub(crate) const SSE_KEY: &str = "x-amz-server-side-encryption-customer-key";

/// The path every chunk object lives under (the bucket, as S3 path-style URLs put it first).
pub(crate) const BUCKET: &str = "haul-sim-results";

/// One link as minted.
#[derive(Debug, Clone)]
pub(crate) struct Minted {
    pub(crate) url: String,
    pub(crate) expiration: DateTime<Utc>,
    pub(crate) headers: BTreeMap<String, String>,
}

/// Why the storage origin refuses a request for a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The request carried an `Authorization` header besides the presigned query.
    Authorization,
    /// The signature does not match (or the presigned query is incomplete).
    Signature,
    /// The link is past its expiry: when it expired.
    Expired {
        expired_at: DateTime<Utc>,
        lifetime: u64,
    },
    /// The SSE-C headers the link requires are missing or wrong.
    Encryption,
}

/// Mints and checks links.
#[derive(Debug)]
pub(crate) struct Links {
    secret: u64,
    origin: Origin,
    lifetime: Duration,
    headers: bool,
    serial: AtomicU64,
    /// Links with a serial at or below this one count as expired.
    revoked_through: AtomicU64,
}

impl Links {
    /// Links on `origin` (the storage listener's URL, once bound), valid for `lifetime` (whole
    /// seconds, at least one), naming the SSE-C headers when `headers`.
    pub(crate) fn new(seed: u64, origin: Origin, lifetime: Duration, headers: bool) -> Self {
        Self {
            secret: mix(seed ^ 0x5167_4E41_5455_5245),
            origin,
            lifetime: lifetime.max(Duration::from_secs(1)),
            headers,
            serial: AtomicU64::new(0),
            revoked_through: AtomicU64::new(0),
        }
    }

    /// The storage origin, `http://127.0.0.1:PORT`.
    pub(crate) fn origin(&self) -> &str {
        self.origin.url()
    }

    fn signature(&self, path: &str, date: &str, expires: &str, token: &str) -> String {
        let mut hash = Sha256::new();
        hash.update(self.secret.to_le_bytes());
        for part in [path, date, expires, token] {
            hash.update(part.as_bytes());
            hash.update(b"\n");
        }
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The SSE-C key of a statement's objects.
    fn key(&self, statement: &str) -> String {
        let mut hash = Sha256::new();
        hash.update(self.secret.to_be_bytes());
        hash.update(statement.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(hash.finalize())
    }

    /// The path of chunk `chunk` of `statement`, stored with extension `ext`.
    pub(crate) fn path(statement: &str, chunk: usize, ext: &str) -> String {
        format!("/{BUCKET}/{statement}/chunk-{chunk}.{ext}")
    }

    /// A fresh link to chunk `chunk` of `statement`.
    pub(crate) fn mint(&self, statement: &str, chunk: usize, ext: &str) -> Minted {
        let path = Self::path(statement, chunk, ext);
        let now = Utc::now();
        let date = now.format("%Y%m%dT%H%M%SZ").to_string();
        let expires = self.lifetime.as_secs().to_string();
        let serial = self.serial.fetch_add(1, Ordering::SeqCst) + 1;
        let token = format!("IQoJb3JpZ2luX2VjEsim{serial}");
        let signature = self.signature(&path, &date, &expires, &token);
        let credential = format!(
            "ASIAHAULSIM000000000%2F{}%2Fus-west-2%2Fs3%2Faws4_request",
            &date[..8]
        );
        let url = format!(
            "{}{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={credential}&X-Amz-Date={date}&X-Amz-Expires={expires}&X-Amz-Security-Token={token}&X-Amz-SignedHeaders=host&X-Amz-Signature={signature}",
            self.origin.url()
        );
        let mut headers = BTreeMap::new();
        if self.headers {
            headers.insert(SSE_ALGORITHM.to_owned(), "AES256".to_owned());
            headers.insert(SSE_KEY.to_owned(), self.key(statement));
        }
        let expiration = now
            .checked_add_signed(chrono::Duration::seconds(self.lifetime.as_secs() as i64))
            .unwrap_or(now);
        Minted {
            url,
            expiration,
            headers,
        }
    }

    /// Every link issued so far expires now (later ones are unaffected).
    pub(crate) fn expire_all(&self) {
        let issued = self.serial.load(Ordering::SeqCst);
        self.revoked_through.fetch_max(issued, Ordering::SeqCst);
    }

    /// Checks a request for `path` of `statement` with the query string `query` and the request's
    /// headers (`authorization` set when it carried one; `header` reads any other by name).
    pub(crate) fn check(
        &self,
        path: &str,
        statement: &str,
        query: &str,
        authorization: bool,
        header: impl Fn(&str) -> Option<String>,
    ) -> Result<(), Refusal> {
        if authorization {
            return Err(Refusal::Authorization);
        }
        let params: BTreeMap<String, String> =
            serde_urlencoded::from_str(query).map_err(|_| Refusal::Signature)?;
        let get = |name: &str| params.get(name).map(String::as_str);
        let (Some(date), Some(expires), Some(token), Some(signature)) = (
            get("X-Amz-Date"),
            get("X-Amz-Expires"),
            get("X-Amz-Security-Token"),
            get("X-Amz-Signature"),
        ) else {
            return Err(Refusal::Signature);
        };
        if self.signature(path, date, expires, token) != signature {
            return Err(Refusal::Signature);
        }
        let issued = NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ")
            .map_err(|_| Refusal::Signature)?
            .and_utc();
        let lifetime: u64 = expires.parse().map_err(|_| Refusal::Signature)?;
        let expired_at = issued + chrono::Duration::seconds(lifetime as i64);
        let serial: u64 = token
            .rsplit("sim")
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or(Refusal::Signature)?;
        if Utc::now() >= expired_at || serial <= self.revoked_through.load(Ordering::SeqCst) {
            return Err(Refusal::Expired {
                expired_at: expired_at.min(Utc::now()),
                lifetime,
            });
        }
        if self.headers
            && (header(SSE_ALGORITHM).as_deref() != Some("AES256")
                || header(SSE_KEY) != Some(self.key(statement)))
        {
            return Err(Refusal::Encryption);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        let origin = Origin::default();
        origin.set("http://127.0.0.1:9".to_owned());
        origin
    }

    fn split(url: &str) -> (String, String) {
        let rest = url.strip_prefix("http://127.0.0.1:9").expect("origin");
        let (path, query) = rest.split_once('?').expect("query");
        (path.to_owned(), query.to_owned())
    }

    #[test]
    fn a_minted_link_passes_and_any_edit_fails() {
        let links = Links::new(1, origin(), Duration::from_secs(900), false);
        let minted = links.mint("st", 3, "csv");
        assert!(minted.headers.is_empty());
        let (path, query) = split(&minted.url);
        assert_eq!(path, "/haul-sim-results/st/chunk-3.csv");
        assert_eq!(links.check(&path, "st", &query, false, |_| None), Ok(()));
        assert_eq!(
            links.check(&path, "st", &query, true, |_| None),
            Err(Refusal::Authorization)
        );
        let other = "/haul-sim-results/st/chunk-4.csv";
        assert_eq!(
            links.check(other, "st", &query, false, |_| None),
            Err(Refusal::Signature)
        );
        let longer = query.replace("X-Amz-Expires=900", "X-Amz-Expires=9000");
        assert_eq!(
            links.check(&path, "st", &longer, false, |_| None),
            Err(Refusal::Signature)
        );
        assert_eq!(
            links.check(&path, "st", "", false, |_| None),
            Err(Refusal::Signature)
        );
    }

    #[test]
    fn links_expire_all_at_once_and_fresh_ones_work() {
        let links = Links::new(1, origin(), Duration::from_secs(900), false);
        let (path, old) = split(&links.mint("st", 0, "csv").url);
        links.expire_all();
        assert!(matches!(
            links.check(&path, "st", &old, false, |_| None),
            Err(Refusal::Expired { lifetime: 900, .. })
        ));
        let (_, fresh) = split(&links.mint("st", 0, "csv").url);
        assert_eq!(links.check(&path, "st", &fresh, false, |_| None), Ok(()));
    }

    #[test]
    fn links_with_headers_require_them() {
        let links = Links::new(1, origin(), Duration::from_secs(60), true);
        let minted = links.mint("st", 0, "arrow");
        let (path, query) = split(&minted.url);
        assert_eq!(
            links.check(&path, "st", &query, false, |_| None),
            Err(Refusal::Encryption)
        );
        let sent = |name: &str| minted.headers.get(name).cloned();
        assert_eq!(links.check(&path, "st", &query, false, sent), Ok(()));
        let other = links.mint("other", 0, "arrow");
        let (path, query) = split(&other.url);
        assert_eq!(
            links.check(&path, "other", &query, false, sent),
            Err(Refusal::Encryption)
        );
    }
}
