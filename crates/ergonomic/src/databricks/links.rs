//! Chunks' presigned links: kept per chunk, asked for again through the chunk endpoint when
//! expired (or refused by storage), checked against the host rule, and fetched without the
//! `Authorization` header and with the link's own `http_headers`. A link holds a credential: it is
//! never logged, and an error shows it without its query. Links are asked for ahead of the chunks
//! that need them ([`Links::look_ahead`]), so that a chunk's download does not first wait a
//! round trip to the workspace; each chunk's link is asked for once at a time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use haul_client::databricks_sql_statements::types;
use haul_client::reqwest::{
    self,
    header::{HeaderName, HeaderValue},
};
use url::Url;

use super::{Databricks, api_error};
use crate::download::source::HostRule;
use crate::error::{Error, Result};
use crate::retry::retry_after;

/// The operation named in errors of a link's GET.
pub(crate) const LINK_OP: &str = "fetching a result chunk from its link";
const CHUNK_OP: &str = "get_statement_result_chunk";
/// A link this close to its expiration is asked for again rather than used.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);
/// How many chunks beyond the last one started have their links asked for ahead: as many as the
/// default download concurrency, so that the next wave of chunks finds its links ready, and no
/// more, so that a result of thousands of chunks does not burst requests at the workspace or hold
/// links that expire before their turn.
const LOOK_AHEAD: usize = 8;

/// The links of one statement's chunks.
pub(crate) struct Links {
    db: Databricks,
    statement_id: String,
    cache: Mutex<HashMap<u64, types::ExternalLink>>,
    /// One gate a chunk, held while its link is asked for, so that a fetch and a look-ahead
    /// never ask for the same link twice at once.
    asking: Mutex<HashMap<u64, Arc<tokio::sync::Mutex<()>>>>,
    /// The chunks in order, and the position of the next one whose link is to be asked ahead.
    order: Vec<u64>,
    ahead: AtomicUsize,
    /// The hosts allowed: the client's list, or the host of the first link the API handed out.
    rule: OnceLock<HostRule>,
}

impl Links {
    /// The links of `statement_id`'s chunks (`order`, their indexes in order), starting with
    /// those its answer (`first`) already holds.
    pub(crate) fn new(
        db: Databricks,
        statement_id: String,
        first: Option<&types::ResultData>,
        order: Vec<u64>,
    ) -> Self {
        let links = Self {
            rule: OnceLock::new(),
            db,
            statement_id,
            cache: Mutex::new(HashMap::new()),
            asking: Mutex::new(HashMap::new()),
            order,
            ahead: AtomicUsize::new(0),
        };
        if !links.db.link_hosts().is_empty() {
            let _ = links
                .rule
                .set(HostRule::Hosts(links.db.link_hosts().to_vec()));
        }
        for link in first
            .map(|r| r.external_links.as_slice())
            .unwrap_or_default()
        {
            links.keep(link.clone());
        }
        links
    }

    /// A link to chunk `index` that has not expired: the one kept, or a new one from the chunk
    /// endpoint. That request is retried on its own (429, 5xx, a refused token): it is another
    /// resource than the chunk's GET, which the engine's retry loop repeats, and a failed attempt
    /// to ask for a link would otherwise use up one of the chunk's attempts, which a chunk whose
    /// links keep expiring while it waits out its retries cannot spare.
    pub(crate) async fn link(&self, index: u64) -> Result<types::ExternalLink> {
        if let Some(link) = self.fresh(index) {
            return Ok(link);
        }
        let gate = self
            .asking
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(index)
            .or_default()
            .clone();
        let _asking = gate.lock().await;
        // Asked for by someone else while this one waited at the gate.
        if let Some(link) = self.fresh(index) {
            return Ok(link);
        }
        let chunk_index = i32::try_from(index)
            .map_err(|_| Error::invalid_response(CHUNK_OP, "a chunk index beyond i32"))?;
        let data = self
            .db
            .client(false)
            .get_statement_result_chunk()
            .statement_id(&self.statement_id)
            .chunk_index(chunk_index)
            .send()
            .await
            .map_err(|e| api_error(CHUNK_OP, e))?
            .into_inner();
        let link = data
            .external_links
            .iter()
            .find(|l| l.chunk_index.is_none_or(|i| i == i64::from(chunk_index)))
            .cloned()
            .ok_or_else(|| {
                Error::invalid_response(CHUNK_OP, format!("no link to chunk {index} in the answer"))
            })?;
        self.keep(link.clone());
        tracing::debug!(statement = %self.statement_id, chunk = index, "obtained a new link to the chunk");
        Ok(link)
    }

    /// The kept link to chunk `index`, unless it has expired.
    fn fresh(&self, index: u64) -> Option<types::ExternalLink> {
        let kept = self.lock().get(&index).cloned();
        kept.filter(|link| !expired(link, Utc::now()))
    }

    /// Chunk `index` is starting: asks, in the background, for the links of the chunks up to
    /// [`LOOK_AHEAD`] places after it that have not been asked for yet. A failure there is left
    /// for the chunk's own fetch to meet (and retry) when its turn comes. The requests run in
    /// `tasks`, which the owner of the download drops (aborting them) when it ends.
    pub(crate) fn look_ahead(self: &Arc<Self>, index: u64, tasks: &mut tokio::task::JoinSet<()>) {
        // `order` is sorted (the chunks as the manifest lists them, by index).
        let Ok(position) = self.order.binary_search(&index) else {
            return;
        };
        let until = (position + LOOK_AHEAD).min(self.order.len().saturating_sub(1));
        while let Ok(next) = self
            .ahead
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |next| {
                (next <= until).then_some(next + 1)
            })
        {
            let (links, chunk) = (Arc::clone(self), self.order[next]);
            if next > position && self.fresh(chunk).is_none() {
                tasks.spawn(async move {
                    let _ = links.link(chunk).await;
                });
            }
        }
        // Finished look-aheads are reaped here, so that the set holds only those in flight.
        while tasks.try_join_next().is_some() {}
    }

    /// `link` (chunk `index`), unless the rows it states disagree with the manifest's `declared`:
    /// then it is forgotten and the answer is an integrity error that the next fetch may mend
    /// (with a new link), as [`is_stale_link`] tells the retry loop.
    pub(crate) fn agreeing(
        &self,
        index: u64,
        link: types::ExternalLink,
        declared: Option<u64>,
    ) -> Result<types::ExternalLink> {
        let stated = link.row_count.and_then(|n| u64::try_from(n).ok());
        match (stated, declared) {
            (Some(stated), Some(declared)) if stated != declared => {
                self.lock().remove(&index);
                Err(Error::integrity(format!(
                    "{DISAGREES} {index} says {stated} rows, the manifest {declared}"
                )))
            }
            _ => Ok(link),
        }
    }

    /// GETs `link` (chunk `index`). A 403 from storage forgets the link, so that the next fetch
    /// asks for a new one ([`is_stale_link`] tells the retry loop so); a redirect is refused.
    pub(crate) async fn get(
        &self,
        index: u64,
        link: &types::ExternalLink,
    ) -> Result<reqwest::Response> {
        let url = self.checked(link)?;
        let mut request = self.db.http().get(url);
        for (name, value) in &link.http_headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                Error::invalid_response(CHUNK_OP, format!("a link's header name {name:?}"))
            })?;
            let mut value = HeaderValue::from_str(value).map_err(|_| {
                Error::invalid_response(CHUNK_OP, format!("the value of the link's header {name}"))
            })?;
            value.set_sensitive(true);
            request = request.header(name, value);
        }
        let response = request
            .send()
            .await
            // reqwest names the URL in its errors: the link holds a credential, so it is left out.
            .map_err(|e| Error::transport(LINK_OP, e.without_url()))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        if status.is_redirection() {
            return Err(Error::invalid_response(
                LINK_OP,
                format!("storage answered {status}: a redirect, which haul never follows"),
            ));
        }
        if status == reqwest::StatusCode::FORBIDDEN {
            self.lock().remove(&index);
        }
        Err(Error::Api {
            operation: LINK_OP,
            status: status.as_u16(),
            code: None,
            message: (status == reqwest::StatusCode::FORBIDDEN).then(|| {
                "storage refused the chunk's link (expired?); a new link is asked for".to_owned()
            }),
            retry_after: retry_after(response.headers()),
        })
    }

    /// The link as a URL, if the host rule allows it. The rule is checked on the link without
    /// its query, so that a refusal never shows the credential in it.
    fn checked(&self, link: &types::ExternalLink) -> Result<Url> {
        let text = link
            .external_link
            .as_deref()
            .ok_or_else(|| Error::invalid_response(CHUNK_OP, "a chunk without its link"))?;
        let shown = text.split(['?', '#']).next().unwrap_or_default();
        let rule = self.rule.get_or_init(|| learned_rule(shown));
        rule.check(shown, LINK_OP)?;
        Url::parse(text).map_err(|_| Error::invalid_response(LINK_OP, "the link is not a URL"))
    }

    fn keep(&self, link: types::ExternalLink) {
        if let Some(index) = link.chunk_index.and_then(|i| u64::try_from(i).ok()) {
            self.lock().insert(index, link);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, types::ExternalLink>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The rule learned from the first link the API handed out: its host, and its port when the link
/// names one.
fn learned_rule(link: &str) -> HostRule {
    let entry = Url::parse(link)
        .ok()
        .and_then(|url| {
            let host = url.host_str()?.to_owned();
            Some(match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        })
        .unwrap_or_default();
    HostRule::Hosts(vec![entry])
}

/// Whether `link` has expired, or will within the margin, at `now`. A link without a readable
/// expiration is tried: storage refuses it with 403 if it has expired.
fn expired(link: &types::ExternalLink, now: DateTime<Utc>) -> bool {
    link.expiration
        .as_deref()
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .is_some_and(|at| at.to_utc() <= now + EXPIRY_MARGIN)
}

/// How a link that disagrees with the manifest is reported (see [`Links::agreeing`]).
const DISAGREES: &str = "the link to chunk";

/// Whether `error` is a link that storage refused with 403, or one that disagreed with the
/// manifest: the link was forgotten, and the next fetch asks for a new one.
pub(crate) fn is_stale_link(error: &Error) -> bool {
    match error {
        Error::Api {
            operation,
            status: 403,
            ..
        } => *operation == LINK_OP,
        Error::Integrity { detail } => detail.starts_with(DISAGREES),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(json: &str) -> types::ExternalLink {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn links_expire_a_little_before_their_expiration() {
        let now = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let at = |expiration: &str| {
            expired(
                &link(&format!(
                    r#"{{"chunk_index":0,"expiration":"{expiration}"}}"#
                )),
                now,
            )
        };
        assert!(at("2023-12-31T23:59:00Z"));
        assert!(at("2024-01-01T00:00:05.000Z"));
        assert!(!at("2024-01-01T00:10:00Z"));
        assert!(!at("not a date"));
        assert!(!expired(&link(r#"{"chunk_index":0}"#), now));
    }

    #[test]
    fn a_403_on_a_link_or_a_link_that_disagrees_is_a_stale_link() {
        let api = |operation: &'static str, status: u16| Error::Api {
            operation,
            status,
            code: None,
            message: None,
            retry_after: None,
        };
        assert!(is_stale_link(&api(LINK_OP, 403)));
        assert!(!is_stale_link(&api(LINK_OP, 404)));
        assert!(!is_stale_link(&api("get_statement", 403)));
        assert!(is_stale_link(&Error::integrity(format!(
            "{DISAGREES} 3 says 31 rows, the manifest 30"
        ))));
        assert!(!is_stale_link(&Error::integrity("something else")));
    }

    #[test]
    fn the_learned_rule_allows_the_first_links_host_only() {
        let rule = learned_rule("https://bucket.s3.amazonaws.com/chunk-0");
        assert!(
            rule.check("https://bucket.s3.amazonaws.com/chunk-1", "t")
                .is_ok()
        );
        assert!(rule.check("https://evil.example/chunk-1", "t").is_err());
        let rule = learned_rule("http://127.0.0.1:41000/haul-sim-results/st/chunk-0.csv?sig=x");
        assert!(
            rule.check("http://127.0.0.1:41000/st/chunk-1.csv", "t")
                .is_ok()
        );
        assert!(
            rule.check("http://127.0.0.1:41001/st/chunk-1.csv", "t")
                .is_err()
        );
    }
}
