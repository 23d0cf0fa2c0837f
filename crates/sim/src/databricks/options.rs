//! The Databricks family's settings, given to [`crate::SimBuilder::databricks`].

use std::net::SocketAddr;
use std::time::Duration;

/// Settings of the simulated Databricks workspace; each setter documents its default.
///
/// ```no_run
/// # async fn demo() -> Result<(), haul_sim::SimError> {
/// let sim = haul_sim::Sim::builder()
///     .databricks(|o| o.rows(2_500).chunk_rows(1_000))
///     .start()
///     .await?;
/// println!("{}", sim.databricks().warehouse_id());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    pub(super) rows: Option<u64>,
    pub(super) chunk_rows: u64,
    pub(super) link_lifetime: Duration,
    pub(super) link_headers: bool,
    pub(super) result_ttl: Duration,
    pub(super) storage_addr: SocketAddr,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            rows: None,
            chunk_rows: 100_000,
            link_lifetime: Duration::from_secs(900),
            link_headers: false,
            result_ttl: Duration::from_secs(3_600),
            storage_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

impl Options {
    /// Rows of the table `main.sales.orders` (default 10 000): the same as
    /// `SimBuilder::rows("main.sales.orders", rows)`, and the one that counts if both are given.
    pub fn rows(mut self, rows: u64) -> Self {
        self.rows = Some(rows);
        self
    }

    /// Rows in each chunk of a statement's result (the last may hold fewer), for both
    /// dispositions; default 100 000.
    pub fn chunk_rows(mut self, rows: u64) -> Self {
        self.chunk_rows = rows.max(1);
        self
    }

    /// How long an external link stays valid, in whole seconds (at least one); default 15
    /// minutes, the documented lifetime. [`super::Handle::expire_links`] ends them early.
    pub fn link_lifetime(mut self, lifetime: Duration) -> Self {
        self.link_lifetime = lifetime;
        self
    }

    /// Whether each external link names `http_headers` (the SSE-C key headers of S3) that its
    /// download must send, as links "typically used to pass a decryption key" do; default off.
    pub fn link_headers(mut self, headers: bool) -> Self {
        self.link_headers = headers;
        self
    }

    /// How long a succeeded statement keeps its results before it shows as `CLOSED`; default
    /// one hour, as documented.
    pub fn result_ttl(mut self, ttl: Duration) -> Self {
        self.result_ttl = ttl;
        self
    }

    /// Address of the storage origin that external links point at; default `127.0.0.1:0` (any
    /// free port).
    pub fn storage_addr(mut self, addr: SocketAddr) -> Self {
        self.storage_addr = addr;
        self
    }
}
