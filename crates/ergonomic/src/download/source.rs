//! What a family implements so that the engine can download its results: a [`Source`].
//!
//! A source lists its partitions (or says they form a chain) and fetches one as a stream of bytes:
//! CSV, or an Arrow IPC stream when its [`Body`] says so.
//! Where a partition's link is on another host (presigned URLs, fetched without the
//! `Authorization` header, as Databricks and Snowflake hand them out), the source fetches it itself,
//! after checking the link against its own [`HostRule`]; the engine never follows a link.

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use url::Url;

use super::checkpoint::SourceKey;
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;

/// What the caller asked of the partitions, passed to every call of a [`Source`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Partitions fetched at once.
    pub(crate) concurrency: usize,
    /// At most this many rows a partition, when the caller chose.
    pub(crate) max_records: Option<u64>,
}

/// One partition of a job's results, as the source names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Partition {
    /// What the source fetches it by, kept in the checkpoint so that a resumed download can check
    /// that a partition it skips is the one it wrote (Salesforce's locator; `None` for the first page
    /// of a chain). Never a secret: presigned URLs stay out of it.
    pub(crate) key: Option<String>,
}

/// How a source's partitions are found.
pub(crate) enum Listing {
    /// Listed ahead, in order, lazily; partitions can be fetched in parallel.
    Listed(BoxStream<'static, Result<Partition>>),
    /// A chain: fetching a partition names the next ([`Answer::next`]), starting from `key: None`.
    Chained,
}

/// How a source's partitions are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Body {
    /// CSV, each partition with its header row first.
    #[default]
    Csv,
    /// An Arrow IPC stream (its schema message, then record batches; buffers may be compressed
    /// with LZ4 or zstd), written as Parquet only: a family asks its service for CSV when the
    /// output is CSV or JSON lines, and the engine refuses an Arrow body for those outputs before
    /// anything is sent.
    ArrowStream,
}

/// A partition's answer: its body, and what the server declared about it.
pub(crate) struct Answer {
    /// The partition's bytes, encoded as the source's [`Source::body`] says (CSV: header row
    /// first).
    pub(crate) body: BoxStream<'static, Result<Bytes>>,
    /// Rows the server says the partition holds (header not counted), when it says.
    pub(crate) declared_rows: Option<u64>,
    /// For a chain: the next partition, `None` after the last.
    pub(crate) next: Option<Partition>,
}

/// A job's results, as the download engine sees them. Implemented by each family.
pub(crate) trait Source: Send + Sync + 'static {
    /// Which results these are: what a checkpoint is keyed by.
    fn key(&self) -> SourceKey;
    /// Names the results in errors and logs, such as `query job 750...`.
    fn describe(&self) -> String;
    /// The query that produced the results, when the source knows it (for the manifest).
    fn query(&self) -> Option<String> {
        None
    }
    /// How the partitions' bodies are encoded (default CSV).
    fn body(&self) -> Body {
        Body::Csv
    }
    /// The partitions' column delimiter (CSV bodies).
    fn delimiter(&self) -> Result<u8>;
    /// The retry policy for fetching partitions.
    fn retry_policy(&self) -> &RetryPolicy;
    /// What the service calls a partition, for messages (such as `page`).
    fn partition_noun(&self) -> &'static str;
    /// What declares a partition's rows, for messages (such as a header's name).
    fn declared_by(&self) -> &'static str;
    /// Rows the whole result holds, as the server last said.
    fn expected_rows(&self) -> Option<u64>;
    /// Asks the server again for the total (a first copy may be stale).
    fn refresh_expected_rows(&self) -> BoxFuture<'_, Result<Option<u64>>>;
    /// How the partitions are found under `plan`.
    fn listing(&self, plan: Plan) -> Result<Listing>;
    /// Sends one request for `partition`; the engine retries and checks.
    fn fetch<'a>(&'a self, partition: &'a Partition, plan: Plan) -> BoxFuture<'a, Result<Answer>>;
    /// Whether `error`, which ended a fetch, is mended by fetching the partition again although
    /// it is not transient in itself: a presigned link that storage refused as expired, which the
    /// source has forgotten so that its next fetch asks for a new one. The engine's retry loop
    /// repeats such a fetch at once without using up an attempt, a bounded number of times
    /// (`retry::MAX_RENEWALS`), then as a transient failure.
    fn mended_by_refetch(&self, _error: &Error) -> bool {
        false
    }
}

/// Which hosts a source's partition links may point to. A link elsewhere is refused, so that a
/// hostile answer cannot send haul (or a token) anywhere it likes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostRule {
    /// Only the origin (scheme, host and port) of the API itself; the token may go there.
    SameOrigin(Url),
    /// Only these hosts, over HTTPS (or plain HTTP to a loopback address, for tests and local
    /// simulators); such links are fetched without the `Authorization` header. An entry is
    /// `host` or `host:port` (an IPv6 address in brackets); without a port it allows only the
    /// scheme's default one, so that another service on the same host (a loopback port, say) is
    /// not let in by its host name.
    Hosts(Vec<String>),
}

impl HostRule {
    /// `link` resolved against the rule's base, when the rule allows it.
    pub(crate) fn check(&self, link: &str, operation: &'static str) -> Result<Url> {
        let refuse = |why: &str| {
            let shown: String = link.chars().take(120).collect();
            Error::invalid_response(operation, format!("refused link {shown:?}: {why}"))
        };
        match self {
            Self::SameOrigin(base) => {
                let url = base.join(link).map_err(|_| refuse("not a URL"))?;
                if url.origin() != base.origin() {
                    return Err(refuse("it points to another origin"));
                }
                Ok(url)
            }
            Self::Hosts(hosts) => {
                let url = Url::parse(link).map_err(|_| refuse("not an absolute URL"))?;
                let host = url.host_str().unwrap_or_default();
                if !hosts.iter().any(|allowed| names(allowed, &url)) {
                    return Err(refuse("its host and port are not ones the source allows"));
                }
                let loopback = matches!(host, "127.0.0.1" | "localhost" | "[::1]");
                if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
                    return Err(refuse("it is not HTTPS"));
                }
                Ok(url)
            }
        }
    }
}

/// Whether the [`HostRule::Hosts`] entry `allowed` names `url`'s host and port.
fn names(allowed: &str, url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let with_port = allowed
        .rsplit_once(':')
        .and_then(|(name, port)| Some((name, port.parse::<u16>().ok()?)))
        .filter(|(name, _)| !name.is_empty());
    match with_port {
        Some((name, port)) => {
            name.eq_ignore_ascii_case(host) && url.port_or_known_default() == Some(port)
        }
        None => allowed.eq_ignore_ascii_case(host) && url.port().is_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_refuses_other_hosts_and_resolves_relative_links() {
        let rule = HostRule::SameOrigin(Url::parse("https://acme.my.salesforce.com").unwrap());
        let url = rule.check("/services/data/v62.0/x?locator=a", "t").unwrap();
        assert_eq!(url.host_str(), Some("acme.my.salesforce.com"));
        assert!(rule.check("https://evil.example/x", "t").is_err());
        assert!(rule.check("http://acme.my.salesforce.com/x", "t").is_err());
    }

    #[test]
    fn listed_hosts_must_match_and_use_https() {
        let rule = HostRule::Hosts(vec!["bucket.s3.amazonaws.com".into(), "127.0.0.1".into()]);
        assert!(
            rule.check("https://bucket.s3.amazonaws.com/p?X-Sig=1", "t")
                .is_ok()
        );
        assert!(rule.check("https://BUCKET.s3.amazonaws.com/p", "t").is_ok());
        assert!(rule.check("http://bucket.s3.amazonaws.com/p", "t").is_err());
        assert!(rule.check("https://other.example/p", "t").is_err());
        assert!(rule.check("/relative", "t").is_err());
        assert!(rule.check("http://127.0.0.1/p", "t").is_ok());
    }

    #[test]
    fn a_listed_port_is_the_only_one_allowed() {
        let rule = HostRule::Hosts(vec![
            "bucket.s3.amazonaws.com".into(),
            "127.0.0.1:9000".into(),
            "[::1]:9001".into(),
        ]);
        assert!(rule.check("http://127.0.0.1:9000/p", "t").is_ok());
        assert!(rule.check("http://127.0.0.1:9999/p", "t").is_err());
        assert!(rule.check("http://127.0.0.1/p", "t").is_err());
        assert!(rule.check("http://[::1]:9001/p", "t").is_ok());
        assert!(rule.check("http://[::1]:9000/p", "t").is_err());
        // Without a port, the scheme's default only, written or not.
        assert!(
            rule.check("https://bucket.s3.amazonaws.com:443/p", "t")
                .is_ok()
        );
        assert!(
            rule.check("https://bucket.s3.amazonaws.com:8443/p", "t")
                .is_err()
        );
    }
}
