//! `RELIABILITY.md`: the command, the machine, what was injected, then each part's section and a
//! list of everything that failed.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use super::{EXPIRE_EVERY, FAULTS, FIRST_EXPIRY, Reliability, Section, TOKEN_LIFETIME_SECS};
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

/// The whole document; `built_from` is the commit the release binaries were built from.
pub(super) fn document(
    rel: &Reliability,
    sections: &[Section],
    args: &[String],
    built_from: &str,
) -> String {
    let mut doc = String::from("# Reliability\n\n");
    let command = format!("cargo xtask reliability {}", args.join(" "));
    let now = commit(&rel.root);
    let source = if now == built_from {
        format!("from `{now}`")
    } else {
        format!("with release binaries from `{built_from}` and the suites compiled from `{now}`")
    };
    let _ = writeln!(
        doc,
        "Produced by `{}` (issue 8) on {} UTC {source}; do not edit by hand. `--quick` runs \
         write `target/reliability/RELIABILITY-quick.md` instead. Logs of every run: \
         `target/reliability/logs/`.\n",
        command.trim_end(),
        utc_now()
    );
    let failures: Vec<&String> = sections.iter().flat_map(|s| &s.failures).collect();
    let _ = writeln!(
        doc,
        "**Overall: {}.**\n",
        if failures.is_empty() {
            "every run matched its fault-free reference and every suite passed".to_owned()
        } else {
            format!("{} FAILED (listed at the end)", failures.len())
        }
    );
    let _ = writeln!(doc, "## Machine\n\n{}", machine_facts(&rel.root));
    let _ = writeln!(
        doc,
        "## What was injected\n\n\
         Every faulty run gets a fresh release `haul-sim` with `--faults {FAULTS},seed=S` for seeds \
         S = 1..{} and `--token-lifetime-secs {TOKEN_LIFETIME_SECS}`: of all requests (the \
         simulator's own `/__sim` routes excepted), 5% are answered 503, 2% 429 with \
         `Retry-After: 1`, 2% have their body cut midway and the connection closed (reset), 1% \
         promise a `Content-Length` and send less (truncated). Which request gets which fault follows \
         a seeded sequence, but the order requests arrive in varies between runs. Access tokens live \
         {TOKEN_LIFETIME_SECS} s; as most runs are shorter than that, every token is also expired \
         through `POST /__sim/expire-tokens` {} ms after a run starts and every {} s after, so each \
         run must refresh its token. haul runs as the `haul` CLI with client credentials \
         (`SF_CLIENT_ID`/`SF_CLIENT_SECRET`, `LOOKER_CLIENT_ID`/`LOOKER_CLIENT_SECRET`). Fault counts \
         are the simulator's (`GET /__sim/faults`): a reset or truncation drawn for a body too short \
         to cut is sent whole and not counted.\n",
        rel.seeds,
        FIRST_EXPIRY.as_millis(),
        EXPIRE_EVERY.as_secs()
    );
    for section in sections {
        let _ = writeln!(doc, "## {}\n\n{}", section.title, section.markdown);
    }
    if !failures.is_empty() {
        doc.push_str("## Failures\n\n");
        for failure in failures {
            let _ = writeln!(doc, "- **FAILED**: {}", failure.replace('\n', " "));
        }
    }
    doc
}
