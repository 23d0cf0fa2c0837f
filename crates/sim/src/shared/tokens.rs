//! OAuth for every family: the client credentials the token endpoints accept, and the issued
//! access and refresh tokens of every realm, with their expiry.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::shared::rng::mix;

/// Client credentials the token endpoints accept.
#[derive(Debug, Clone)]
pub(crate) struct Credentials {
    pub(crate) sf_client_id: String,
    pub(crate) sf_client_secret: String,
    pub(crate) looker_client_id: String,
    pub(crate) looker_client_secret: String,
    /// A Databricks service principal's OAuth client id (a UUID, as Databricks shows them).
    pub(crate) databricks_client_id: String,
    /// Its OAuth secret (`dose` and hex, the shape of Databricks' OAuth secrets).
    pub(crate) databricks_client_secret: String,
}

impl Credentials {
    pub(crate) fn from_seed(seed: u64) -> Self {
        let h = |salt: u64| mix(seed ^ salt);
        Self {
            sf_client_id: format!("3MVG9sim{:016x}{:016x}", h(1), h(2)),
            sf_client_secret: format!("{:016X}{:016X}", h(3), h(4)),
            looker_client_id: format!("lk{:016x}", h(5)),
            looker_client_secret: format!("{:016x}{:08x}", h(6), h(7) as u32),
            databricks_client_id: format!(
                "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
                h(8) as u32,
                h(9) as u16,
                h(10) & 0xfff,
                h(11) & 0xfff,
                h(12) & 0xffff_ffff_ffff
            ),
            databricks_client_secret: format!("dose{:016x}{:016x}", h(13), h(14)),
        }
    }
}

/// Which API a token opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Realm {
    /// Salesforce REST and Bulk API (`Authorization: Bearer`).
    Salesforce,
    /// Looker API 4.0 (`Authorization: token` or `Bearer`).
    Looker,
    /// Databricks workspace REST API (`Authorization: Bearer`): personal access tokens and OAuth
    /// machine-to-machine tokens alike.
    Databricks,
}

#[derive(Debug, Default)]
struct Table {
    access: HashMap<String, (Realm, Instant)>,
    refresh: HashSet<String>,
    issued: u64,
    /// Every access and refresh token ever issued or accepted, in order, expired ones too.
    ever: Vec<String>,
}

/// The token store.
#[derive(Debug)]
pub(crate) struct Tokens {
    seed: u64,
    table: Mutex<Table>,
}

impl Tokens {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            seed,
            table: Mutex::default(),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Issues a new access token valid for `lifetime`.
    pub(crate) fn issue(&self, realm: Realm, lifetime: Duration) -> String {
        let token = self.mint(match realm {
            Realm::Salesforce => "00DHs0000000sim!AQ",
            Realm::Looker => "lk",
            Realm::Databricks => "dapi",
        });
        self.accept(realm, token.clone(), lifetime);
        token
    }

    /// Accepts a caller-chosen access token (the binary's `--token`).
    pub(crate) fn accept(&self, realm: Realm, token: String, lifetime: Duration) {
        let expires = Instant::now()
            .checked_add(lifetime)
            .unwrap_or_else(far_future);
        let mut table = self.table();
        table.ever.push(token.clone());
        table.access.insert(token, (realm, expires));
    }

    /// Every access and refresh token issued or accepted so far, in order, expired ones too.
    pub(crate) fn ever_issued(&self) -> Vec<String> {
        self.table().ever.clone()
    }

    /// Issues a refresh token (Salesforce realm).
    pub(crate) fn issue_refresh(&self) -> String {
        let token = self.mint("5Aep861sim");
        let mut table = self.table();
        table.ever.push(token.clone());
        table.refresh.insert(token.clone());
        token
    }

    /// Whether `token` is a live access token of `realm`.
    pub(crate) fn valid(&self, realm: Realm, token: &str) -> bool {
        self.table()
            .access
            .get(token)
            .is_some_and(|&(r, expires)| r == realm && Instant::now() < expires)
    }

    /// Whether `token` is a refresh token issued here.
    pub(crate) fn is_refresh(&self, token: &str) -> bool {
        self.table().refresh.contains(token)
    }

    /// Invalidates every access token issued so far (refresh tokens stay valid).
    pub(crate) fn expire_all(&self) {
        self.table().access.clear();
    }

    /// Invalidates one access token (Looker logout).
    pub(crate) fn revoke(&self, token: &str) -> bool {
        self.table().access.remove(token).is_some()
    }

    fn mint(&self, prefix: &str) -> String {
        let n = {
            let mut table = self.table();
            table.issued += 1;
            table.issued
        };
        let a = mix(self.seed ^ n.wrapping_mul(0xA076_1D64_78BD_642F));
        let b = mix(a ^ 0xE703_7ED1_A0B4_28DB);
        format!("{prefix}{a:016x}{b:016x}")
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_and_are_realm_bound() {
        let tokens = Tokens::new(1);
        let sf = tokens.issue(Realm::Salesforce, Duration::from_secs(60));
        let lk = tokens.issue(Realm::Looker, Duration::from_secs(60));
        let dead = tokens.issue(Realm::Salesforce, Duration::ZERO);
        assert_ne!(sf, lk);
        assert!(tokens.valid(Realm::Salesforce, &sf));
        assert!(!tokens.valid(Realm::Looker, &sf));
        assert!(!tokens.valid(Realm::Salesforce, &dead));
        assert!(tokens.revoke(&lk) && !tokens.valid(Realm::Looker, &lk));
        let refresh = tokens.issue_refresh();
        tokens.expire_all();
        assert!(!tokens.valid(Realm::Salesforce, &sf));
        assert!(tokens.is_refresh(&refresh));
        assert_eq!(tokens.ever_issued(), [sf, lk, dead, refresh]);
    }
}
