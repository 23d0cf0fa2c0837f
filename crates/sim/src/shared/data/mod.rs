//! The deterministic org: generated rows plus the overlay of changes made by ingest, Async SOQL
//! and the simulator's undelete hook.
//!
//! Row `i < base` of an object is generated on demand from the seed; rows inserted later take the
//! indices after the generated ones. Updates and deletions sit in the overlay, which is copied on
//! write so that a running query keeps the consistent snapshot it started from.
//!
//! Every change stamps the audit fields with the org's clock ([`Calendar`]) in whole seconds, and
//! one edit (one ingest job, one Async SOQL copy, one undelete) reads the clock once: all the rows
//! it changes share one `SystemModstamp`, as the rows of a data load that a real org processes
//! within one second do. Those shared stamps are the boundary an incremental reader must not lose
//! rows on.

pub(crate) mod generate;
mod objects;
pub(crate) mod query;
pub(crate) mod schema;
pub(crate) mod soql;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use generate::Generator;
use schema::{Gen, OBJECTS, ObjectSchema};

use crate::shared::calendar::Calendar;
use crate::shared::ids;

/// A row stored in the overlay: every field of the object, in schema order.
pub(crate) type StoredRow = Arc<Vec<Option<String>>>;

/// Changes to one object since the org was generated.
#[derive(Debug, Clone, Default)]
pub(crate) struct Overlay {
    inserted: Vec<StoredRow>,
    updated: HashMap<u64, StoredRow>,
    /// Deleted rows; `true` for a hard delete (invisible even to `queryAll`).
    deleted: HashMap<u64, bool>,
}

/// A consistent view of one object at one moment.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    generator: Arc<Generator>,
    pub(crate) object: &'static ObjectSchema,
    ordinal: usize,
    overlay: Arc<Overlay>,
}

impl Snapshot {
    /// Number of generated rows.
    pub(crate) fn base(&self) -> u64 {
        self.generator.base_rows(self.ordinal)
    }

    /// Number of row indices in use: generated plus inserted.
    pub(crate) fn slots(&self) -> u64 {
        self.base() + self.overlay.inserted.len() as u64
    }

    /// Whether no row was deleted (so every slot is a live row).
    pub(crate) fn all_visible(&self, query_all: bool) -> bool {
        self.overlay
            .deleted
            .values()
            .all(|&hard| query_all && !hard)
    }

    /// Whether the row shows up in a `query` (live rows) or `queryAll` (also soft-deleted rows).
    pub(crate) fn visible(&self, row: u64, query_all: bool) -> bool {
        match self.overlay.deleted.get(&row) {
            None => true,
            Some(&hard) => query_all && !hard,
        }
    }

    /// Whether the row exists and is not deleted.
    pub(crate) fn is_live(&self, row: u64) -> bool {
        row < self.slots() && !self.overlay.deleted.contains_key(&row)
    }

    /// Number of live rows.
    pub(crate) fn live_count(&self) -> u64 {
        self.slots() - self.overlay.deleted.len() as u64
    }

    /// The stored version of a row, if the overlay holds one.
    pub(crate) fn stored(&self, row: u64) -> Option<&StoredRow> {
        let base = self.base();
        if row >= base {
            return self.overlay.inserted.get((row - base) as usize);
        }
        if self.overlay.updated.is_empty() {
            None
        } else {
            self.overlay.updated.get(&row)
        }
    }

    /// Appends the raw text of a field of a row (generated or stored); false for null.
    pub(crate) fn write_raw(
        &self,
        stored: Option<&StoredRow>,
        field: usize,
        row: u64,
        out: &mut Vec<u8>,
    ) -> bool {
        if let Gen::Join(parts) = self.object.fields[field].generator {
            return self.write_joined(stored, parts, row, out);
        }
        match stored {
            Some(values) => match &values[field] {
                Some(text) => {
                    out.extend_from_slice(text.as_bytes());
                    true
                }
                None => false,
            },
            None => self
                .generator
                .write(self.object, self.ordinal, field, row, out),
        }
    }

    /// Appends a field of a row as a CSV field (quoted, or nothing for null).
    pub(crate) fn write_csv(
        &self,
        stored: Option<&StoredRow>,
        field: usize,
        row: u64,
        out: &mut Vec<u8>,
    ) {
        if let Gen::Join(_) = self.object.fields[field].generator {
            let mut raw = Vec::new();
            if self.write_raw(stored, field, row, &mut raw) {
                crate::shared::csv::write_quoted(out, &raw);
            }
            return;
        }
        match stored {
            Some(values) => crate::shared::csv::write_field(out, values[field].as_deref()),
            None => self
                .generator
                .write_csv(self.object, self.ordinal, field, row, out),
        }
    }

    /// The non-null values of `parts` joined by spaces (a derived name); false if all are null.
    fn write_joined(
        &self,
        stored: Option<&StoredRow>,
        parts: &[&str],
        row: u64,
        out: &mut Vec<u8>,
    ) -> bool {
        let start = out.len();
        for part in parts {
            let Some(index) = self.object.field_index(part) else {
                continue;
            };
            let before = out.len();
            if before > start {
                out.push(b' ');
            }
            if !self.write_raw(stored, index, row, out) {
                out.truncate(before);
            }
        }
        out.len() > start
    }

    /// One field of a row as text.
    pub(crate) fn value(&self, field: usize, row: u64) -> Option<String> {
        let mut out = Vec::new();
        self.write_raw(self.stored(row), field, row, &mut out)
            .then(|| String::from_utf8_lossy(&out).into_owned())
    }

    /// Every field of a row.
    pub(crate) fn row(&self, row: u64) -> Vec<Option<String>> {
        (0..self.object.fields.len())
            .map(|f| self.value(f, row))
            .collect()
    }
}

/// The whole org.
#[derive(Debug)]
pub(crate) struct Org {
    generator: Arc<Generator>,
    overlays: RwLock<Vec<Arc<Overlay>>>,
    calendar: Calendar,
}

/// What the generated part of an org looks like, per object by name.
pub(crate) struct Shape<'a> {
    /// The seed every value is drawn from.
    pub(crate) seed: u64,
    /// Generated rows (absent: the object's default).
    pub(crate) rows: &'a dyn Fn(&str) -> Option<u64>,
    /// Consecutive rows that share one modification stamp (absent or 0: every row its own).
    pub(crate) bursts: &'a dyn Fn(&str) -> Option<u64>,
}

impl Org {
    /// An org generated as `shape` says, whose changes are stamped on `calendar`.
    pub(crate) fn new(shape: &Shape<'_>, calendar: Calendar) -> Self {
        let base = OBJECTS
            .iter()
            .map(|o| (shape.rows)(o.name).unwrap_or(o.default_rows))
            .collect();
        let bursts = OBJECTS
            .iter()
            .map(|o| (shape.bursts)(o.name).unwrap_or(0))
            .collect();
        Self {
            generator: Arc::new(Generator::new(shape.seed, base, bursts)),
            overlays: RwLock::new(vec![Arc::default(); OBJECTS.len()]),
            calendar,
        }
    }

    /// The clock changes are stamped with.
    pub(crate) fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// An org of `rows(name)` rows per object, no bursts, on a calendar of its own.
    #[cfg(test)]
    pub(crate) fn for_tests(seed: u64, rows: impl Fn(&str) -> Option<u64>) -> Self {
        let shape = Shape {
            seed,
            rows: &rows,
            bursts: &|_| None,
        };
        Self::new(&shape, Calendar::default())
    }

    /// A consistent view of `object` now.
    pub(crate) fn snapshot(&self, object: &'static ObjectSchema) -> Snapshot {
        let ordinal = ordinal(object);
        let overlay = self.overlays.read().unwrap_or_else(|e| e.into_inner())[ordinal].clone();
        Snapshot {
            generator: self.generator.clone(),
            object,
            ordinal,
            overlay,
        }
    }

    /// Applies changes to `object` atomically; queries started before keep their snapshot.
    pub(crate) fn edit<R>(
        &self,
        object: &'static ObjectSchema,
        f: impl FnOnce(&mut Editor<'_>) -> R,
    ) -> R {
        let ordinal = ordinal(object);
        let mut overlays = self.overlays.write().unwrap_or_else(|e| e.into_inner());
        let current = Snapshot {
            generator: self.generator.clone(),
            object,
            ordinal,
            overlay: overlays[ordinal].clone(),
        };
        let mut overlay = (*current.overlay).clone();
        let mut editor = Editor {
            view: current,
            overlay: &mut overlay,
            now: self.calendar.audit_stamp(),
        };
        let result = f(&mut editor);
        overlays[ordinal] = Arc::new(overlay);
        result
    }
}

/// Changes to one object inside [`Org::edit`].
#[derive(Debug)]
pub(crate) struct Editor<'a> {
    /// The object as it was before this edit began (plus nothing of it).
    view: Snapshot,
    overlay: &'a mut Overlay,
    /// The one audit stamp of every change this edit makes.
    now: String,
}

impl Editor<'_> {
    /// The current state, including this edit's changes so far.
    pub(crate) fn current(&self) -> Snapshot {
        Snapshot {
            overlay: Arc::new(self.overlay.clone()),
            ..self.view.clone()
        }
    }

    /// Inserts a row (the `Id` slot and the audit fields are filled here); returns its id.
    pub(crate) fn insert(&mut self, mut values: Vec<Option<String>>) -> String {
        let row = self.view.base() + self.overlay.inserted.len() as u64;
        let id = ids::id_string(self.view.object.key_prefix, row);
        values[ObjectSchema::ID] = Some(id.clone());
        let now = self.now.as_str();
        for (name, value) in [
            ("CreatedDate", now),
            ("LastModifiedDate", now),
            ("SystemModstamp", now),
            ("IsDeleted", "false"),
        ] {
            if let Some(index) = self.view.object.field_index(name) {
                values[index] = Some(value.to_owned());
            }
        }
        self.overlay.inserted.push(Arc::new(values));
        id
    }

    /// Sets some fields of a live row, and its modification stamps to now, as a real org does.
    pub(crate) fn update(&mut self, row: u64, changes: &[(usize, Option<String>)]) {
        let now = Some(self.now.clone());
        let mut all = changes.to_vec();
        all.extend(self.stamp("LastModifiedDate", now.clone()));
        all.extend(self.stamp("SystemModstamp", now));
        self.set(row, &all);
    }

    /// The change of the audit field `name`, if the object has it.
    fn stamp(&self, name: &str, value: Option<String>) -> Option<(usize, Option<String>)> {
        self.view.object.field_index(name).map(|i| (i, value))
    }

    /// Sets fields of a row as given.
    fn set(&mut self, row: u64, changes: &[(usize, Option<String>)]) {
        let base = self.view.base();
        let mut values = match self.stored(row) {
            Some(stored) => stored.as_ref().clone(),
            None => self.view.row(row),
        };
        for (field, value) in changes {
            values[*field] = value.clone();
        }
        if row >= base {
            self.overlay.inserted[(row - base) as usize] = Arc::new(values);
        } else {
            self.overlay.updated.insert(row, Arc::new(values));
        }
    }

    /// Deletes a row: soft (visible to `queryAll`, with `IsDeleted` true and its modification
    /// stamps moved to now, as the Recycle Bin keeps it) or hard.
    pub(crate) fn delete(&mut self, row: u64, hard: bool) {
        if !hard {
            self.mark_deleted(row, true);
        }
        self.overlay.deleted.insert(row, hard);
    }

    /// Restores a row from the Recycle Bin (`IsDeleted` false again, its modification stamps
    /// moved to now, as for any change a user makes); false, with nothing changed, for a row
    /// that is not there: live, hard-deleted (hard deletes bypass the Recycle Bin), or never
    /// created.
    pub(crate) fn undelete(&mut self, row: u64) -> bool {
        if self.overlay.deleted.get(&row) != Some(&false) {
            return false;
        }
        self.overlay.deleted.remove(&row);
        self.mark_deleted(row, false);
        true
    }

    /// Sets `IsDeleted` and moves the modification stamps to now.
    fn mark_deleted(&mut self, row: u64, deleted: bool) {
        let now = Some(self.now.clone());
        let mut changes: Vec<_> = self
            .stamp("IsDeleted", Some(deleted.to_string()))
            .into_iter()
            .collect();
        changes.extend(self.stamp("SystemModstamp", now.clone()));
        changes.extend(self.stamp("LastModifiedDate", now));
        self.set(row, &changes);
    }

    /// Whether the row exists and is not deleted, counting this edit's changes.
    pub(crate) fn is_live(&self, row: u64) -> bool {
        row < self.view.base() + self.overlay.inserted.len() as u64
            && !self.overlay.deleted.contains_key(&row)
    }

    /// Whether the row was deleted (so an update gets `ENTITY_IS_DELETED`).
    pub(crate) fn is_deleted(&self, row: u64) -> bool {
        self.overlay.deleted.contains_key(&row)
    }

    /// The row index of an id of this object, if the slot exists.
    pub(crate) fn row_of_id(&self, id: &str) -> Option<u64> {
        let slots = self.view.base() + self.overlay.inserted.len() as u64;
        ids::parse_id(self.view.object.key_prefix, id).filter(|&row| row < slots)
    }

    /// One field of a row, counting this edit's changes.
    pub(crate) fn value(&self, field: usize, row: u64) -> Option<String> {
        match self.stored(row) {
            Some(values) => values[field].clone(),
            None => self.view.value(field, row),
        }
    }

    fn stored(&self, row: u64) -> Option<&StoredRow> {
        let base = self.view.base();
        if row >= base {
            self.overlay.inserted.get((row - base) as usize)
        } else {
            self.overlay.updated.get(&row)
        }
    }
}

fn ordinal(object: &'static ObjectSchema) -> usize {
    OBJECTS
        .iter()
        .position(|o| std::ptr::eq(o, object))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_are_visible_to_later_snapshots_only() {
        let org = Org::for_tests(1, |name| (name == "Account").then_some(3));
        let account = schema::object("Account").expect("exists");
        let before = org.snapshot(account);
        let id = org.edit(account, |e| {
            let mut values = vec![None; account.fields.len()];
            values[1] = Some("New Co".to_owned());
            let id = e.insert(values);
            e.update(0, &[(1, Some("Renamed".to_owned()))]);
            e.delete(1, false);
            id
        });
        let after = org.snapshot(account);
        assert_eq!(before.live_count(), 3);
        assert_eq!(after.live_count(), 3);
        assert_eq!(ids::parse_id("001", &id), Some(3));
        assert_eq!(after.value(1, 3).as_deref(), Some("New Co"));
        assert_eq!(after.value(1, 0).as_deref(), Some("Renamed"));
        assert_ne!(before.value(1, 0).as_deref(), Some("Renamed"));
        assert!(!after.visible(1, false) && after.visible(1, true));
        assert_eq!(after.value(0, 0), before.value(0, 0));
    }

    #[test]
    fn only_rows_in_the_recycle_bin_are_undeleted() {
        let org = Org::for_tests(3, |name| (name == "Account").then_some(4));
        let account = schema::object("Account").expect("exists");
        let deleted = account.field_index("IsDeleted").expect("field");
        org.edit(account, |e| {
            e.delete(0, false);
            e.delete(1, true);
        });
        let restored = org.edit(account, |e| [0, 1, 2, 9].map(|row| e.undelete(row)));
        assert_eq!(restored, [true, false, false, false]);
        let after = org.snapshot(account);
        assert_eq!(after.live_count(), 3);
        assert!(after.visible(0, false) && !after.visible(1, true));
        assert_eq!(after.value(deleted, 0).as_deref(), Some("false"));
    }

    #[test]
    fn edits_stamp_the_audit_fields_as_a_real_org_does() {
        let org = Org::for_tests(2, |name| (name == "Contact").then_some(3));
        let contact = schema::object("Contact").expect("exists");
        let field = |name: &str| contact.field_index(name).expect("field");
        let before = org.snapshot(contact);
        org.edit(contact, |e| {
            e.update(0, &[(field("FirstName"), Some("Ada".to_owned()))]);
            e.delete(1, false);
        });
        let after = org.snapshot(contact);
        let last = before.value(field("LastName"), 0).expect("last name");
        assert_eq!(after.value(field("Name"), 0), Some(format!("Ada {last}")));
        for row in [0, 1] {
            let stamp = after.value(field("SystemModstamp"), row);
            assert_eq!(stamp, after.value(field("LastModifiedDate"), row));
            assert_ne!(stamp, before.value(field("SystemModstamp"), row));
            // Whole seconds, as a real org stores them.
            assert!(
                stamp.as_deref().is_some_and(|s| s.ends_with(".000Z")),
                "{stamp:?}"
            );
            assert_eq!(
                after.value(field("CreatedDate"), row),
                before.value(field("CreatedDate"), row)
            );
        }
        assert_eq!(after.value(field("IsDeleted"), 0).as_deref(), Some("false"));
        assert_eq!(after.value(field("IsDeleted"), 1).as_deref(), Some("true"));
        assert_eq!(after.value(field("IsDeleted"), 2).as_deref(), Some("false"));
    }
}
