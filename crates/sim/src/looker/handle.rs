//! What a test reads of the running Looker instance: [`crate::Sim::looker`].

use std::net::SocketAddr;

use haul_types::QueryTaskStatus;

use super::Looker;

/// The simulated Looker instance of a running [`crate::Sim`]: its URL, its API client
/// credentials and its query tasks. Get one from [`crate::Sim::looker`]; what it returns borrows
/// the `Sim`, not the handle.
#[derive(Debug, Clone, Copy)]
pub struct Handle<'a> {
    family: &'a Looker,
    addr: SocketAddr,
}

impl<'a> Handle<'a> {
    /// The handle of `family`, served on `addr`.
    pub(crate) fn new(family: &'a Looker, addr: SocketAddr) -> Self {
        Self { family, addr }
    }

    /// The base URL (`LOOKER_BASE_URL`), `http://127.0.0.1:PORT` (API under `/api/4.0`); the
    /// simulator's one server.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The API client id (`LOOKER_CLIENT_ID`).
    pub fn client_id(&self) -> &'a str {
        &self.family.core.credentials.looker_client_id
    }

    /// The API client secret (`LOOKER_CLIENT_SECRET`).
    pub fn client_secret(&self) -> &'a str {
        &self.family.core.credentials.looker_client_secret
    }

    /// The status of a query task (as `GET /query_tasks/{id}` would show it), or `None` if there
    /// is no such task.
    pub fn task_status(&self, id: &str) -> Option<QueryTaskStatus> {
        self.family.task_status(id)
    }
}
