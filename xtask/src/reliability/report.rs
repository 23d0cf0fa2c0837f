//! `RELIABILITY.md`, rendered from the kept sections: the command, the machine, what was injected,
//! then each part's section (with when and from which commit it was measured) and a list of
//! everything that failed.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::Result;

use super::sections::{self, Kept};
use super::{EXPIRE_EVERY, FAULTS, FIRST_EXPIRY, PARTS, Reliability, TOKEN_LIFETIME_SECS};
use crate::bench::report::{machine_facts, utc_now};

/// A table cell for a run's result: `ok`, or `**FAILED**: why` (made safe for a table).
pub(crate) fn verdict(failure: Option<&str>) -> String {
    match failure {
        None => "ok".into(),
        Some(why) => {
            let short: String = why.chars().take(300).collect();
            format!(
                "**FAILED**: {}",
                short.replace('|', "\\|").replace('\n', " ")
            )
        }
    }
}

/// A command line with the simulator's client secrets replaced by a placeholder (they are the
/// simulator's, derived from its seed, but a report shows no secret).
pub(crate) fn masked(command: &str, sim: &crate::bench::sim::Sim) -> String {
    let mut shown = command.to_owned();
    for secret in [
        &sim.sf_client_secret,
        &sim.looker_client_secret,
        &sim.access_token,
        &sim.databricks.token,
        &sim.databricks.client_secret,
    ] {
        if !secret.is_empty() {
            shown = shown.replace(secret.as_str(), "<secret from the ready line>");
        }
    }
    shown
}

/// The commit the tree at `root` stands on (`-dirty` when it has changes).
pub(super) fn commit(root: &Path) -> String {
    Command::new("git")
        .current_dir(root)
        .args(["describe", "--always", "--dirty"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// The whole document, from the sections kept in `dir`: the machine, what was injected, then every
/// part's section in the order of [`PARTS`], each with when and from which commit it was measured;
/// the overall verdict is over all of them. Returns the document and every failure it lists.
pub(super) fn document(
    rel: &Reliability,
    dir: &Path,
    command: &str,
) -> Result<(String, Vec<String>)> {
    let mut kept = Vec::new();
    for part in PARTS {
        kept.push((part, sections::load(dir, part)?));
    }
    let failures: Vec<String> = kept
        .iter()
        .filter_map(|(_, k)| k.as_ref())
        .flat_map(|k| k.failures.clone())
        .collect();
    let missing: Vec<&str> = kept
        .iter()
        .filter(|(_, k)| k.is_none())
        .map(|(part, _)| *part)
        .collect();
    let seeds = kept
        .iter()
        .filter_map(|(_, k)| k.as_ref()?.seeds)
        .max()
        .unwrap_or(rel.seeds);
    let shown_dir = dir.strip_prefix(&rel.root).unwrap_or(dir).display();
    let mut doc = String::from("# Reliability\n\n");
    let _ = writeln!(
        doc,
        "Rendered by `{}` (issue 8) on {} UTC from the sections kept in `{shown_dir}/`: each part \
         is measured on its own (`--only PART` re-measures one and keeps the others' sections, \
         `--report` only renders this file) and says when and from which commit it was measured; \
         do not edit by hand. `--quick` runs write `target/reliability/RELIABILITY-quick.md` \
         instead. Logs of every run: `target/reliability/logs/`.\n",
        command.trim_end(),
        utc_now()
    );
    let _ = writeln!(doc, "**Overall: {}.**\n", overall(&failures, &missing));
    let _ = writeln!(doc, "## Machine\n\n{}", machine_facts(&rel.root));
    let _ = writeln!(doc, "## What was injected\n\n{}", injected(seeds));
    for (number, (part, section)) in kept.iter().enumerate() {
        match section {
            Some(k) => {
                let _ = writeln!(
                    doc,
                    "## {}. {}\n\n{}\n\n{}",
                    number + 1,
                    k.title,
                    provenance(k),
                    k.markdown
                );
            }
            None => {
                let _ = writeln!(
                    doc,
                    "## {}. {part}\n\nNot measured: no section kept in `{shown_dir}/` \
                     (`cargo xtask reliability --only {part}` measures it).\n",
                    number + 1
                );
            }
        }
    }
    if !failures.is_empty() {
        doc.push_str("## Failures\n\n");
        for failure in &failures {
            let _ = writeln!(doc, "- **FAILED**: {}", failure.replace('\n', " "));
        }
    }
    Ok((doc, failures))
}

fn overall(failures: &[String], missing: &[&str]) -> String {
    let mut verdict = if failures.is_empty() {
        "every run matched its fault-free reference and every suite passed".to_owned()
    } else {
        format!("{} FAILED (listed at the end)", failures.len())
    };
    if !missing.is_empty() {
        let _ = write!(verdict, "; not measured: {}", missing.join(", "));
    }
    verdict
}

/// When and from what a kept section was measured, and its verdict, as one line.
fn provenance(kept: &Kept) -> String {
    let (what, good) = match kept.seeds {
        Some(seeds) => (
            format!("release binaries, fault seeds 1..{seeds}"),
            "every run matched its reference",
        ),
        None => (
            "each suite compiled when it ran".to_owned(),
            "every suite passed",
        ),
    };
    let verdict = match kept.failures.len() {
        0 => good.to_owned(),
        n => format!("**{n} FAILED**"),
    };
    format!(
        "*Measured {} UTC from `{}` ({what}): {verdict}.*",
        kept.measured, kept.commit
    )
}

fn injected(seeds: u64) -> String {
    format!(
        "Every faulty run gets a fresh release `haul-sim` with `--faults {FAULTS},seed=S` for seeds \
         S = 1..{seeds} and `--token-lifetime-secs {TOKEN_LIFETIME_SECS}`: of all requests (the \
         simulator's own `/__sim` routes excepted), 5% are answered 503, 2% 429 with \
         `Retry-After: 1`, 2% have their body cut midway and the connection closed (reset), 1% \
         promise a `Content-Length` and send less (truncated). Which request gets which fault follows \
         a seeded sequence, but the order requests arrive in varies between runs. Access tokens live \
         {TOKEN_LIFETIME_SECS} s; as most runs are shorter than that, every token is also expired \
         through `POST /__sim/expire-tokens` {} ms after a run starts and every {} s after, so each \
         run must refresh its token. haul runs as the `haul` CLI with client credentials \
         (`SF_CLIENT_ID`/`SF_CLIENT_SECRET`, `LOOKER_CLIENT_ID`/`LOOKER_CLIENT_SECRET`, \
         `DATABRICKS_CLIENT_ID`/`DATABRICKS_CLIENT_SECRET`). Fault counts \
         are the simulator's (`GET /__sim/faults`): a reset or truncation drawn for a body too short \
         to cut is sent whole and not counted.\n",
        FIRST_EXPIRY.as_millis(),
        EXPIRE_EVERY.as_secs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(title: &str, seeds: Option<u64>, failures: &[&str]) -> Kept {
        Kept {
            title: title.into(),
            markdown: format!("The {title} table.\n"),
            measured: "2026-12-01 12:09".into(),
            commit: "4d092b7".into(),
            seeds,
            failures: failures.iter().map(|f| (*f).to_owned()).collect(),
        }
    }

    #[test]
    fn the_document_numbers_every_part_in_order_and_judges_all_kept_sections() {
        let root = std::env::temp_dir().join(format!("xtask-report-{}", std::process::id()));
        let dir = root.join(sections::KEPT);
        sections::save(&dir, "suites", &kept("Suites", None, &[])).unwrap();
        sections::save(&dir, "download", &kept("Download", Some(20), &[])).unwrap();
        let failed = kept(
            "Databricks",
            Some(2),
            &["databricks seed 1 CSV: haul failed"],
        );
        sections::save(&dir, "databricks", &failed).unwrap();
        let rel = Reliability {
            root: root.clone(),
            seeds: 20,
            quick: false,
            rows: 0,
            ingest_rows: 0,
            looker_tasks: 0,
            databricks_rows: 0,
            work: root.join("target/reliability"),
            logs: root.join("target/reliability/logs"),
        };
        let (doc, failures) = document(&rel, &dir, "cargo xtask reliability --report").unwrap();
        assert_eq!(failures, ["databricks seed 1 CSV: haul failed"]);
        assert!(doc.contains(
            "**Overall: 1 FAILED (listed at the end); not measured: ingest, looker, extract.**"
        ));
        let at = |heading: &str| doc.find(heading).unwrap_or_else(|| panic!("{heading}"));
        assert!(at("## 1. Download\n") < at("## 2. ingest\n\nNot measured"));
        assert!(at("## 4. extract\n") < at("## 5. Databricks\n"));
        assert!(at("## 5. Databricks\n") < at("## 6. Suites\n"));
        assert!(doc.contains(
            "## 5. Databricks\n\n*Measured 2026-12-01 12:09 UTC from `4d092b7` (release binaries, \
             fault seeds 1..2): **1 FAILED**.*\n\nThe Databricks table.\n"
        ));
        assert!(doc.contains("(each suite compiled when it ran): every suite passed.*"));
        assert!(doc.contains("seeds S = 1..20"));
        assert!(doc.ends_with("## Failures\n\n- **FAILED**: databricks seed 1 CSV: haul failed\n"));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
