//! Each part's last section, kept on its own so that `--only PART` re-measures one part and keeps
//! the others: `<dir>/<part>.md` holds the section's Markdown, `<dir>/<part>.json` when and from
//! which commit it was measured, with how many seeds, and the runs that failed. A full run keeps
//! them in the repository (`docs/reliability/sections/`), a quick run under `target/reliability/`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde_json::{Value, json};

use super::{Reliability, Section};
use crate::bench::report::write;

/// Where a full run keeps its sections, relative to the workspace.
pub(crate) const KEPT: &str = "docs/reliability/sections";

/// A section as kept: what the part measured, and when.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Kept {
    /// The section's title, without its number (the document numbers the parts in order).
    pub(crate) title: String,
    pub(crate) markdown: String,
    /// When it was measured, `YYYY-MM-DD HH:MM` (UTC).
    pub(crate) measured: String,
    /// `git describe --always --dirty` of the tree it was measured from.
    pub(crate) commit: String,
    /// Fault seeds of its runs (none for the test suites).
    pub(crate) seeds: Option<u64>,
    /// One line for each run that failed.
    pub(crate) failures: Vec<String>,
}

impl Kept {
    /// A section just measured, from `commit`, now.
    pub(crate) fn measured(section: Section, commit: &str, seeds: Option<u64>) -> Self {
        Self {
            title: section.title,
            markdown: section.markdown,
            measured: crate::bench::utc_now(),
            commit: commit.to_owned(),
            seeds,
            failures: section.failures,
        }
    }

    fn metadata(&self) -> Value {
        json!({
            "title": self.title,
            "measured_utc": self.measured,
            "commit": self.commit,
            "seeds": self.seeds,
            "failures": self.failures,
        })
    }
}

/// The folder of kept sections: the repository's, or a quick run's under `target/reliability/`.
pub(crate) fn dir(rel: &Reliability) -> PathBuf {
    if rel.quick {
        rel.work.join("sections-quick")
    } else {
        rel.root.join(KEPT)
    }
}

/// Keeps `part`'s section in `dir`, replacing the one kept before.
pub(crate) fn save(dir: &Path, part: &str, kept: &Kept) -> Result<()> {
    write(&dir.join(format!("{part}.md")), &kept.markdown)?;
    let metadata = serde_json::to_string_pretty(&kept.metadata())? + "\n";
    write(&dir.join(format!("{part}.json")), &metadata)
}

/// `part`'s kept section, or `None` when it has never been measured (into `dir`).
pub(crate) fn load(dir: &Path, part: &str) -> Result<Option<Kept>> {
    let metadata = dir.join(format!("{part}.json"));
    let Ok(text) = std::fs::read_to_string(&metadata) else {
        return Ok(None);
    };
    let value: Value =
        serde_json::from_str(&text).with_context(|| metadata.display().to_string())?;
    let markdown_path = dir.join(format!("{part}.md"));
    let markdown = std::fs::read_to_string(&markdown_path)
        .with_context(|| markdown_path.display().to_string())?;
    let text_of = |key: &str| -> Result<String> {
        value[key]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("{key} in {}", metadata.display()))
    };
    Ok(Some(Kept {
        title: text_of("title")?,
        markdown,
        measured: text_of("measured_utc")?,
        commit: text_of("commit")?,
        seeds: value["seeds"].as_u64(),
        failures: value["failures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str().map(str::to_owned))
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_section_reads_back_as_it_was_saved() {
        let dir = std::env::temp_dir().join(format!("xtask-sections-{}", std::process::id()));
        let kept = Kept {
            title: "Download under faults".into(),
            markdown: "A table.\n\n| a |\n|---|\n| 1 |\n".into(),
            measured: "2026-12-01 12:09".into(),
            commit: "4d092b7".into(),
            seeds: Some(20),
            failures: vec!["download seed 3: SHA-256 differs".into()],
        };
        save(&dir, "download", &kept).unwrap();
        assert_eq!(load(&dir, "download").unwrap(), Some(kept));
        assert_eq!(load(&dir, "ingest").unwrap(), None);
        let suites = Kept {
            seeds: None,
            failures: Vec::new(),
            ..load(&dir, "download").unwrap().unwrap()
        };
        save(&dir, "suites", &suites).unwrap();
        assert_eq!(load(&dir, "suites").unwrap().unwrap().seeds, None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
