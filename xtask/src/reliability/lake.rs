//! The dataset an extract's folder holds, as a reader takes it (`haul::salesforce::extract`'s module
//! docs): per object, the rows of every complete run (a `run=<id>` folder with `_run.json`), the
//! newest version of each Id by `SystemModstamp` winning. Plus the comparison of two datasets.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context as _, Result, bail};

/// The cursor stamp that orders the versions of a record.
const STAMP: &str = "SystemModstamp";
/// The audit stamps a change sets from the org's clock: they differ between two runs made at
/// different times, so they are masked on the records the runs changed.
pub(super) const CLOCK_FIELDS: [&str; 2] = ["SystemModstamp", "LastModifiedDate"];

/// One object's records: the newest version of each Id.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct Table {
    /// The column names, as the first file read has them.
    pub(super) header: Vec<String>,
    /// Id → the row, in `header`'s order.
    pub(super) rows: BTreeMap<String, Vec<String>>,
    /// Versions met again with the same Id and stamp (a version landed twice).
    pub(super) twice: u64,
}

impl Table {
    /// Adds one version read under `header`; an older version than the one kept is dropped.
    pub(super) fn add(&mut self, header: &[String], record: &[String]) -> Result<()> {
        if self.header.is_empty() {
            self.header = header.to_vec();
        }
        let row = reorder(&self.header, header, record)?;
        let (id, stamp) = (self.index("Id")?, self.index(STAMP)?);
        match self.rows.get(&row[id]) {
            Some(kept) if kept[stamp] > row[stamp] => {}
            Some(kept) if kept[stamp] == row[stamp] => {
                self.twice += 1;
                if *kept != row {
                    bail!(
                        "Id {} has two different versions stamped {}",
                        row[id],
                        row[stamp]
                    );
                }
            }
            _ => {
                self.rows.insert(row[id].clone(), row);
            }
        }
        Ok(())
    }

    fn index(&self, column: &str) -> Result<usize> {
        self.header
            .iter()
            .position(|c| c == column)
            .with_context(|| format!("no {column} column"))
    }

    /// Replaces the clock-stamped fields of the records `ids` with a mark.
    pub(super) fn mask(&mut self, ids: &BTreeSet<String>) {
        let columns: Vec<usize> = CLOCK_FIELDS
            .iter()
            .filter_map(|c| self.index(c).ok())
            .collect();
        for (id, row) in self.rows.iter_mut() {
            if ids.contains(id) {
                for &c in &columns {
                    row[c] = "<stamp of the change>".into();
                }
            }
        }
    }
}

/// `record`, read under `header`, in the order of `canonical` (the same columns).
fn reorder(canonical: &[String], header: &[String], record: &[String]) -> Result<Vec<String>> {
    if header.len() != canonical.len() || record.len() != header.len() {
        bail!("a part file's columns differ from the object's: {header:?} vs {canonical:?}");
    }
    canonical
        .iter()
        .map(|c| {
            let at = header.iter().position(|h| h == c);
            at.map(|i| record[i].clone())
                .with_context(|| format!("a part file has no {c} column"))
        })
        .collect()
}

/// Object name → its table.
pub(super) type Dataset = BTreeMap<String, Table>;

/// The dataset of the extract folder `dir` (every object folder in it, `_runs` aside).
pub(super) fn read(dir: &Path) -> Result<Dataset> {
    let mut dataset = Dataset::new();
    for object in sorted_dirs(dir)? {
        let name = file_name(&object);
        if name.starts_with('_') {
            continue;
        }
        let table = dataset.entry(name).or_default();
        for run in sorted_dirs(&object)? {
            if file_name(&run).starts_with("run=") && run.join("_run.json").is_file() {
                read_run(&run, table)?;
            }
        }
    }
    Ok(dataset)
}

/// Every CSV part file of one complete run folder (its windows `w000/`, ...).
fn read_run(run: &Path, table: &mut Table) -> Result<()> {
    for window in sorted_dirs(run)? {
        let mut parts: Vec<_> = std::fs::read_dir(&window)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        parts.retain(|p| p.extension().is_some_and(|e| e == "csv"));
        parts.sort();
        for part in parts {
            let mut reader =
                csv::Reader::from_path(&part).with_context(|| part.display().to_string())?;
            let header: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
            for record in reader.records() {
                let record: Vec<String> = record?.iter().map(str::to_owned).collect();
                table
                    .add(&header, &record)
                    .with_context(|| part.display().to_string())?;
            }
        }
    }
    Ok(())
}

fn sorted_dirs(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut dirs: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| dir.display().to_string())?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    dirs.retain(|p| p.is_dir());
    dirs.sort();
    Ok(dirs)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// What differs between two datasets, if anything: objects, columns, Ids, and rows by value.
pub(super) fn difference(reference: &Dataset, run: &Dataset) -> Option<String> {
    let mut problems = Vec::new();
    let names: BTreeSet<&String> = reference.keys().chain(run.keys()).collect();
    for name in names {
        let (Some(a), Some(b)) = (reference.get(name), run.get(name)) else {
            problems.push(format!("{name} is in one dataset only"));
            continue;
        };
        if a.header != b.header {
            problems.push(format!("{name}: columns {:?} vs {:?}", a.header, b.header));
            continue;
        }
        let missing = a.rows.keys().filter(|id| !b.rows.contains_key(*id)).count();
        let extra = b.rows.keys().filter(|id| !a.rows.contains_key(*id)).count();
        let differing: Vec<&String> = a
            .rows
            .iter()
            .filter(|(id, row)| b.rows.get(*id).is_some_and(|other| other != *row))
            .map(|(id, _)| id)
            .collect();
        if missing + extra + differing.len() > 0 {
            problems.push(format!(
                "{name}: {missing} Ids missing, {extra} extra, {} rows differ{}",
                differing.len(),
                differing.first().map_or(String::new(), |id| {
                    format!(" (first {id}: {})", first_column(a, b, id))
                })
            ));
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// The first column in which the two versions of `id` differ, with both values.
fn first_column(a: &Table, b: &Table, id: &str) -> String {
    let (x, y) = (&a.rows[id], &b.rows[id]);
    let at = x.iter().zip(y).position(|(p, q)| p != q).unwrap_or(0);
    format!("{} {:?} vs {:?}", a.header[at], x[at], y[at])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    #[test]
    fn the_newest_version_wins_whatever_the_order_and_column_order() {
        let header = strings(&["Id", "Name", "SystemModstamp"]);
        let swapped = strings(&["SystemModstamp", "Id", "Name"]);
        let mut table = Table::default();
        table
            .add(&header, &strings(&["a", "new", "2024-02"]))
            .unwrap();
        table
            .add(&swapped, &strings(&["2024-01", "a", "old"]))
            .unwrap();
        table
            .add(&header, &strings(&["b", "only", "2024-01"]))
            .unwrap();
        table
            .add(&header, &strings(&["b", "only", "2024-01"]))
            .unwrap();
        assert_eq!(table.rows["a"], strings(&["a", "new", "2024-02"]));
        assert_eq!(table.rows.len(), 2);
        assert_eq!(table.twice, 1);
        let conflict = table.add(&header, &strings(&["b", "other", "2024-01"]));
        assert!(conflict.is_err());
        assert!(
            table
                .add(&strings(&["Id", "SystemModstamp"]), &strings(&["c", "x"]))
                .is_err()
        );
    }

    #[test]
    fn differences_are_found_and_masking_hides_only_the_changed_stamps() {
        let header = strings(&["Id", "Name", "SystemModstamp", "LastModifiedDate"]);
        let mut a = Table::default();
        a.add(&header, &strings(&["a", "x", "t1", "t1"])).unwrap();
        a.add(&header, &strings(&["b", "y", "t1", "t1"])).unwrap();
        let mut b = a.clone();
        b.add(&header, &strings(&["a", "x", "t9", "t9"])).unwrap();
        let (mut ra, mut rb) = (Dataset::new(), Dataset::new());
        ra.insert("Account".into(), a);
        rb.insert("Account".into(), b);
        let found = difference(&ra, &rb).unwrap();
        assert!(found.contains("1 rows differ"), "{found}");
        assert!(found.contains("SystemModstamp"), "{found}");
        let changed = BTreeSet::from(["a".to_owned()]);
        for table in ra.values_mut().chain(rb.values_mut()) {
            table.mask(&changed);
        }
        assert_eq!(difference(&ra, &rb), None);
        assert_eq!(ra["Account"].rows["b"], strings(&["b", "y", "t1", "t1"]));
        rb.get_mut("Account").unwrap().rows.remove("b");
        let found = difference(&ra, &rb).unwrap();
        assert!(found.contains("1 Ids missing"), "{found}");
    }

    #[test]
    fn reads_complete_runs_only() {
        let dir = std::env::temp_dir().join(format!("xtask-lake-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let write = |run: &str, body: &str, complete: bool| {
            let window = dir.join("Account").join(run).join("w000");
            std::fs::create_dir_all(&window).unwrap();
            std::fs::write(window.join("part-00000.csv"), body).unwrap();
            if complete {
                std::fs::write(dir.join("Account").join(run).join("_run.json"), "{}").unwrap();
            }
        };
        write(
            "run=1",
            "Id,Note,SystemModstamp\na,\"x\ny\",t1\nb,z,t1\n",
            true,
        );
        write("run=2", "Id,Note,SystemModstamp\na,half,t2\n", false);
        write("run=3", "Id,Note,SystemModstamp\nb,new,t3\n", true);
        std::fs::create_dir_all(dir.join("_runs")).unwrap();
        let dataset = read(&dir).unwrap();
        assert_eq!(dataset.len(), 1);
        let table = &dataset["Account"];
        assert_eq!(table.rows["a"], strings(&["a", "x\ny", "t1"]));
        assert_eq!(table.rows["b"], strings(&["b", "new", "t3"]));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
