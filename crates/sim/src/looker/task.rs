//! One query task, and how the shared lifecycle runs it (`added` queued, `running`, then
//! `complete` or `error` done); a complete task whose results outlive their time to live shows
//! as `expired`.

use std::time::{Duration, Instant};

use haul_types::QueryTaskStatus;
use serde_json::{Value, json};

use super::Looker;
use super::engine::{self, Spec};
use crate::shared::lifecycle::{Jobs, Step};
use crate::shared::lock;

/// What a finished task produced.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    Done {
        body: Vec<u8>,
        content_type: &'static str,
        data: Value,
    },
    Failed {
        message: String,
        sql: String,
    },
}

/// One query task.
#[derive(Debug)]
pub(super) struct Task {
    pub(super) id: String,
    pub(super) query_id: String,
    pub(super) query: Value,
    pub(super) format: String,
    pub(super) source: Option<String>,
    pub(super) limit: Option<i64>,
    pub(super) status: QueryTaskStatus,
    pub(super) outcome: Option<Outcome>,
    pub(super) finished: Option<Instant>,
    pub(super) runtime: Option<f64>,
}

impl Task {
    /// The status now: a complete task whose results outlived `ttl` is expired.
    pub(super) fn current_status(&self, ttl: Duration) -> QueryTaskStatus {
        match (&self.status, self.finished) {
            (QueryTaskStatus::Complete, Some(at)) if at.elapsed() > ttl => QueryTaskStatus::Expired,
            (status, _) => status.clone(),
        }
    }

    /// The task as `GET /query_tasks/{id}` shows it.
    pub(super) fn info(&self, ttl: Duration) -> Value {
        json!({
            "id": self.id,
            "query_id": self.query_id,
            "query": self.query,
            "generate_links": false,
            "force_production": false,
            "path_prefix": null,
            "cache": true,
            "server_table_calcs": false,
            "cache_only": false,
            "cache_key": null,
            "status": self.current_status(ttl),
            "source": self.source,
            "runtime": self.runtime,
            "rebuild_pdts": false,
            "result_source": null,
            "look_id": null,
            "dashboard_id": null,
            "result_format": self.format,
            "can": {},
        })
    }
}

/// What a running task computes.
#[derive(Debug)]
pub(crate) struct Work {
    id: String,
    spec: Spec,
    format: String,
    limit: Option<i64>,
    started: Instant,
}

impl Jobs for Looker {
    type Work = Work;
    type Outcome = Outcome;

    fn step(&self, id: &str) -> Step<Work> {
        let (query_id, format, limit) = {
            let mut tasks = lock(&self.tasks);
            let Some(task) = tasks
                .get_mut(id)
                .filter(|t| t.status == QueryTaskStatus::Added)
            else {
                return Step::Gone;
            };
            task.status = QueryTaskStatus::Running;
            (task.query_id.clone(), task.format.clone(), task.limit)
        };
        // Stored queries are never deleted, and a task is only created for a stored one.
        let Some(spec) = lock(&self.queries).get(&query_id).map(|q| q.spec.clone()) else {
            return Step::Gone;
        };
        Step::Running(Work {
            id: id.to_owned(),
            spec,
            format,
            limit,
            started: Instant::now(),
        })
    }

    fn work(&self, work: Work) -> Outcome {
        match engine::run(&self.data, &work.spec, work.limit) {
            Ok(table) => {
                let runtime = work.started.elapsed().as_secs_f64();
                let (body, content_type, data) =
                    engine::render(&table, &work.format, &work.id, runtime);
                Outcome::Done {
                    body,
                    content_type,
                    data,
                }
            }
            Err(message) => Outcome::Failed {
                sql: engine::run_sql(&work.spec),
                message,
            },
        }
    }

    fn finish(&self, id: &str, outcome: Outcome, ran: Duration) {
        let mut tasks = lock(&self.tasks);
        let Some(task) = tasks
            .get_mut(id)
            .filter(|t| t.status == QueryTaskStatus::Running)
        else {
            return;
        };
        task.status = match outcome {
            Outcome::Done { .. } => QueryTaskStatus::Complete,
            Outcome::Failed { .. } => QueryTaskStatus::Error,
        };
        task.outcome = Some(outcome);
        task.finished = Some(Instant::now());
        task.runtime = Some(ran.as_secs_f64());
    }
}
