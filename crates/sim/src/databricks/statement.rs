//! One statement and how the shared lifecycle runs it: `PENDING` while queued, `RUNNING` while
//! the warehouse evaluates it, then `SUCCEEDED` or `FAILED`; `CANCELED` when a cancel arrives
//! first (or the wait of a request with `on_wait_timeout=CANCEL` runs out); `CLOSED` once a
//! succeeded statement's results are gone (the result time to live, an hour by default: "The
//! results are only available for one hour after success").

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::Databricks;
use super::render::Format;
use super::result::{Chunk, Limits, ResultSet};
use super::sql::{self, Param, Scope, SqlError};
use crate::shared::lifecycle::{Jobs, Step};
use crate::shared::lock;

/// A statement's state, as `status.state` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Pending,
    Running,
    Succeeded,
    Failed,
    Canceled,
    Closed,
}

impl State {
    /// The name on the wire.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::Canceled => "CANCELED",
            Self::Closed => "CLOSED",
        }
    }

    /// Whether the statement has stopped moving.
    pub(crate) fn is_terminal(self) -> bool {
        !matches!(self, Self::Pending | Self::Running)
    }
}

/// How results are handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disposition {
    Inline,
    ExternalLinks,
}

/// What the request asked for, kept for the run and the answers.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) statement: String,
    pub(crate) catalog: String,
    pub(crate) schema: String,
    pub(crate) params: Vec<Param>,
    pub(crate) disposition: Disposition,
    pub(crate) format: Format,
    pub(crate) limits: Limits,
}

/// A succeeded statement's result: its rows, chunks and (for external links) each chunk's bytes.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) result: ResultSet,
    pub(crate) chunks: Vec<Chunk>,
    pub(crate) bytes: Vec<u64>,
}

/// One statement.
#[derive(Debug)]
pub(crate) struct Statement {
    pub(crate) request: Arc<Request>,
    pub(crate) state: State,
    pub(crate) error: Option<SqlError>,
    pub(crate) finished: Option<Arc<Finished>>,
    pub(crate) ended: Option<Instant>,
    /// Turns true when the statement reaches a terminal state (what a waiting request waits for).
    pub(crate) done: watch::Sender<bool>,
}

impl Statement {
    /// A new `PENDING` statement for `request`.
    pub(crate) fn new(request: Request) -> Self {
        Self {
            request: Arc::new(request),
            state: State::Pending,
            error: None,
            finished: None,
            ended: None,
            done: watch::Sender::new(false),
        }
    }

    /// The state now: a succeeded statement whose results outlived `ttl` is closed.
    pub(crate) fn current(&self, ttl: Duration) -> State {
        match (self.state, self.ended) {
            (State::Succeeded, Some(at)) if at.elapsed() > ttl => State::Closed,
            (state, _) => state,
        }
    }

    /// What an answer about the statement needs, taken under the lock and rendered outside it.
    pub(crate) fn snapshot(&self, ttl: Duration) -> Snapshot {
        Snapshot {
            state: self.current(ttl),
            error: self.error.clone(),
            request: self.request.clone(),
            finished: self.finished.clone(),
        }
    }

    /// Ends the statement in `state` and wakes whoever waits for it.
    pub(crate) fn end(&mut self, state: State) {
        self.state = state;
        self.ended = Some(Instant::now());
        self.done.send_replace(true);
    }
}

/// A statement as of one moment.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub(crate) state: State,
    pub(crate) error: Option<SqlError>,
    pub(crate) request: Arc<Request>,
    pub(crate) finished: Option<Arc<Finished>>,
}

/// Runs a statement's SQL: its result, or why it failed.
pub(crate) fn run(db: &Databricks, request: &Request) -> Result<Finished, SqlError> {
    let scope = Scope {
        catalog: &request.catalog,
        schema: &request.schema,
        params: &request.params,
    };
    let query = sql::parse(&request.statement, &db.data, &scope)?;
    let result = ResultSet::evaluate(&db.data, &query, request.limits);
    let chunks = result.chunks(db.options.chunk_rows);
    let bytes = match request.disposition {
        Disposition::Inline => Vec::new(),
        Disposition::ExternalLinks => chunks
            .iter()
            .map(|&c| request.format.render(&result, c).len() as u64)
            .collect(),
    };
    Ok(Finished {
        result,
        chunks,
        bytes,
    })
}

impl Jobs for Databricks {
    type Work = Arc<Request>;
    type Outcome = Result<Finished, SqlError>;

    fn step(&self, id: &str) -> Step<Arc<Request>> {
        let mut statements = lock(&self.statements);
        match statements.get_mut(id).filter(|s| s.state == State::Pending) {
            Some(statement) => {
                statement.state = State::Running;
                Step::Running(statement.request.clone())
            }
            None => Step::Gone,
        }
    }

    fn work(&self, request: Arc<Request>) -> Self::Outcome {
        run(self, &request)
    }

    fn finish(&self, id: &str, outcome: Self::Outcome, _ran: Duration) {
        let mut statements = lock(&self.statements);
        let Some(statement) = statements.get_mut(id).filter(|s| s.state == State::Running) else {
            return;
        };
        match outcome {
            Ok(finished) => {
                statement.finished = Some(Arc::new(finished));
                statement.end(State::Succeeded);
            }
            Err(error) => {
                statement.error = Some(error);
                statement.end(State::Failed);
            }
        }
    }
}
