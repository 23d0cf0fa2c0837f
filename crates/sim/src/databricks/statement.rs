//! One statement and how the shared lifecycle runs it: `PENDING` while queued, `RUNNING` while
//! the warehouse evaluates it, then `SUCCEEDED` or `FAILED`; `CANCELED` when a cancel arrives
//! first (or the wait of a request with `on_wait_timeout=CANCEL` runs out); `CLOSED` once a
//! succeeded statement's results are gone (the result time to live, an hour by default: "The
//! results are only available for one hour after success").
//!
//! An `INLINE` result over 25 MiB fails the statement with `BAD_REQUEST` "Inline byte limit
//! exceeded. ...", as workspaces word it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
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

/// A succeeded statement's result: its rows, chunks and (for external links) each chunk's size
/// and, while the family's budget of kept bodies allows, each chunk's body as the storage origin
/// serves it.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) result: ResultSet,
    pub(crate) chunks: Vec<Chunk>,
    pub(crate) bytes: Vec<u64>,
    pub(crate) bodies: Vec<Bytes>,
}

impl Finished {
    /// The body of chunk `index` in `format`: kept, or rendered again (the same bytes).
    pub(crate) fn body(&self, format: Format, index: usize) -> Bytes {
        match self.bodies.get(index) {
            Some(body) => body.clone(),
            None => Bytes::from(format.render(&self.result, self.chunks[index])),
        }
    }
}

/// The most an `INLINE` result may hold: 25 MiB.
const INLINE_LIMIT: u64 = 25 * 1024 * 1024;

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
    if request.disposition == Disposition::Inline {
        if result.exceeds(INLINE_LIMIT) {
            return Err(SqlError {
                message: format!(
                    "Inline byte limit exceeded. Statements executed with disposition=INLINE can have a result size of at most {INLINE_LIMIT} bytes. Please execute the statement with disposition=EXTERNAL_LINKS if you want to download the full result."
                ),
                sql_state: "",
            });
        }
        return Ok(Finished {
            result,
            chunks,
            bytes: Vec::new(),
            bodies: Vec::new(),
        });
    }
    let mut bodies: Vec<Bytes> = chunks
        .iter()
        .map(|&chunk| Bytes::from(request.format.render(&result, chunk)))
        .collect();
    let bytes: Vec<u64> = bodies.iter().map(|b| b.len() as u64).collect();
    if !db.keep_bodies(bytes.iter().sum()) {
        bodies = Vec::new();
    }
    Ok(Finished {
        result,
        chunks,
        bytes,
        bodies,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::databricks::tables::Data;

    #[test]
    fn a_kept_body_and_a_rendered_one_are_the_same_bytes() {
        let data = Data::new(9, |_| Some(30));
        let scope = Scope {
            catalog: "main",
            schema: "sales",
            params: &[],
        };
        let query = sql::parse("SELECT * FROM orders", &data, &scope).expect("parses");
        let result = ResultSet::evaluate(&data, &query, Limits::default());
        let chunks = result.chunks(10);
        let kept: Vec<Bytes> = chunks
            .iter()
            .map(|&c| Bytes::from(Format::ArrowStream.render(&result, c)))
            .collect();
        let with = Finished {
            result: result.clone(),
            chunks: chunks.clone(),
            bytes: Vec::new(),
            bodies: kept,
        };
        let without = Finished {
            result,
            chunks,
            bytes: Vec::new(),
            bodies: Vec::new(),
        };
        for index in 0..3 {
            assert_eq!(
                with.body(Format::ArrowStream, index),
                without.body(Format::ArrowStream, index)
            );
        }
    }

    #[test]
    fn states_end_once_and_close_after_their_time_to_live() {
        let request = Request {
            statement: "SELECT * FROM orders".into(),
            catalog: "main".into(),
            schema: "sales".into(),
            params: Vec::new(),
            disposition: Disposition::Inline,
            format: Format::JsonArray,
            limits: Limits::default(),
        };
        let mut statement = Statement::new(request);
        let done = statement.done.subscribe();
        assert!(!*done.borrow() && !statement.state.is_terminal());
        statement.end(State::Succeeded);
        assert!(*done.borrow());
        assert_eq!(statement.current(Duration::from_secs(60)), State::Succeeded);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(statement.current(Duration::from_millis(1)), State::Closed);
        assert_eq!(State::Canceled.name(), "CANCELED");
    }
}
