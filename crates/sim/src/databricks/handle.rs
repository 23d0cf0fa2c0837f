//! What a test reads of the running Databricks workspace, and the controls it has over it:
//! [`crate::Sim::databricks`].

use std::net::SocketAddr;

use super::Databricks;

/// The simulated Databricks workspace of a running [`crate::Sim`]: its credentials, its one SQL
/// warehouse, its storage origin and its statements. Get one from [`crate::Sim::databricks`];
/// what it returns borrows the `Sim`, not the handle.
#[derive(Debug, Clone, Copy)]
pub struct Handle<'a> {
    family: &'a Databricks,
    addr: SocketAddr,
}

impl<'a> Handle<'a> {
    /// The handle of `family`, served on `addr`.
    pub(crate) fn new(family: &'a Databricks, addr: SocketAddr) -> Self {
        Self { family, addr }
    }

    /// The workspace URL (`DATABRICKS_HOST`), `http://127.0.0.1:PORT` (API under `/api/2.0/`);
    /// the simulator's one server.
    pub fn host(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A personal access token (`DATABRICKS_TOKEN`), valid until [`crate::Sim::expire_tokens`]
    /// or the token lifetime ends.
    pub fn token(&self) -> &'a str {
        self.family.token()
    }

    /// The service principal's OAuth client id (`DATABRICKS_CLIENT_ID`).
    pub fn client_id(&self) -> &'a str {
        &self.family.core.credentials.databricks_client_id
    }

    /// The service principal's OAuth secret (`DATABRICKS_CLIENT_SECRET`).
    pub fn client_secret(&self) -> &'a str {
        &self.family.core.credentials.databricks_client_secret
    }

    /// The id of the workspace's one SQL warehouse.
    pub fn warehouse_id(&self) -> &'a str {
        self.family.warehouse_id()
    }

    /// The storage origin external links point at, `http://127.0.0.1:PORT` (another port).
    pub fn storage_url(&self) -> &'a str {
        self.family.storage_url()
    }

    /// Every external link issued so far expires now (also `POST
    /// /__sim/databricks/expire-links`); links minted afterwards are good.
    pub fn expire_links(&self) {
        self.family.expire_links();
    }

    /// A statement's `status.state` now (`"PENDING"`, `"RUNNING"`, `"SUCCEEDED"`, `"FAILED"`,
    /// `"CANCELED"`, `"CLOSED"`), or `None` if there is no such statement.
    pub fn statement_state(&self, id: &str) -> Option<&'static str> {
        self.family.statement_state(id)
    }
}
