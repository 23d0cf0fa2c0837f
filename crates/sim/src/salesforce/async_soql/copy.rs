//! Running a query: the shared lifecycle takes it `New → Scheduled` (queued), `Running`, then
//! `Complete` or `Failed` (done); running copies the source rows into the target object.

use std::collections::HashMap;
use std::time::Duration;

use haul_types::AsyncQueryStatus;

use super::AsyncQueries;
use super::query::AsyncQuery;
use crate::shared::data::query::{ResultSet, evaluate};
use crate::shared::data::schema::ObjectSchema;
use crate::shared::data::soql::Soql;
use crate::shared::data::{Editor, Snapshot};
use crate::shared::lifecycle::{Jobs, Step};
use crate::shared::lock;

/// What a running query does: copy its rows, or fail because a test said so.
#[derive(Debug)]
pub(crate) enum Work {
    /// Run the query and write its rows as the plan says.
    Copy(Box<Soql>, CopyPlan),
    /// Fail without touching the target.
    Fail,
}

impl Jobs for AsyncQueries {
    type Work = Work;
    /// `Err` is the query's failure message.
    type Outcome = Result<(), String>;

    fn step(&self, id: &str) -> Step<Work> {
        let mut queries = lock(&self.queries);
        let Some(q) = queries.get_mut(id) else {
            return Step::Gone;
        };
        match q.status {
            AsyncQueryStatus::New => {
                q.status = AsyncQueryStatus::Scheduled;
                Step::Queued
            }
            AsyncQueryStatus::Scheduled => {
                q.status = AsyncQueryStatus::Running;
                Step::Running(if q.fail {
                    Work::Fail
                } else {
                    Work::Copy(Box::new(q.soql.clone()), CopyPlan::of(q))
                })
            }
            _ => Step::Gone,
        }
    }

    fn work(&self, work: Work) -> Result<(), String> {
        let Work::Copy(soql, plan) = work else {
            return Err("The simulator was told to fail this query".to_owned());
        };
        // One snapshot for both selecting the rows and reading their values.
        let snapshot = self.core.org.snapshot(soql.object);
        let source = evaluate(snapshot.clone(), Vec::new(), &soql, false);
        self.core
            .org
            .edit(plan.target, |editor| plan.write(editor, &snapshot, &source));
        Ok(())
    }

    fn finish(&self, id: &str, outcome: Result<(), String>, _ran: Duration) {
        let mut queries = lock(&self.queries);
        let Some(q) = queries
            .get_mut(id)
            .filter(|q| q.status == AsyncQueryStatus::Running)
        else {
            return;
        };
        match outcome {
            Ok(()) => q.status = AsyncQueryStatus::Complete,
            Err(message) => {
                q.status = AsyncQueryStatus::Failed;
                q.message = message;
            }
        }
    }
}

/// Where a query's rows go: the target object, and which source field or literal fills which
/// target field.
#[derive(Debug)]
pub(crate) struct CopyPlan {
    id: String,
    target: &'static ObjectSchema,
    field_map: Vec<(usize, usize)>,
    value_map: Vec<(String, usize)>,
    key: Option<usize>,
}

impl CopyPlan {
    fn of(q: &AsyncQuery) -> Self {
        Self {
            id: q.id.clone(),
            target: q.target,
            field_map: q.field_map.clone(),
            value_map: q.value_map.clone(),
            key: q
                .external_id
                .as_deref()
                .and_then(|k| q.target.field_index(k)),
        }
    }
    fn write(&self, editor: &mut Editor<'_>, snapshot: &Snapshot, rows: &ResultSet) {
        let mut index: HashMap<String, u64> = HashMap::new();
        if let Some(key) = self.key {
            let view = editor.current();
            for row in (0..view.slots()).filter(|&r| view.is_live(r)) {
                if let Some(value) = view.value(key, row) {
                    index.insert(value, row);
                }
            }
        }
        for position in 0..rows.len() {
            let row = rows.row_index(position);
            let mut values = vec![None; self.target.fields.len()];
            for &(source, dest) in &self.field_map {
                values[dest] = snapshot.value(source, row);
            }
            for (literal, dest) in &self.value_map {
                values[*dest] = Some(if literal == "$JOB_ID" {
                    self.id.clone()
                } else {
                    literal.clone()
                });
            }
            let existing = self
                .key
                .and_then(|k| values[k].as_ref())
                .and_then(|v| index.get(v).copied());
            match existing {
                Some(target_row) => {
                    let changes: Vec<_> = values
                        .into_iter()
                        .enumerate()
                        .skip(1)
                        .filter(|(_, v)| v.is_some())
                        .collect();
                    editor.update(target_row, &changes);
                }
                None => {
                    let key_value = self.key.and_then(|k| values[k].clone());
                    let new_id = editor.insert(values);
                    if let (Some(v), Some(r)) = (key_value, editor.row_of_id(&new_id)) {
                        index.insert(v, r);
                    }
                }
            }
        }
    }
}
