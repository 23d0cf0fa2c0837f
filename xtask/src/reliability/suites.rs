//! Part 4: the reliability test suites, run with `cargo test`, and their pass/fail counts; and the
//! last saved results of `cargo xtask fuzz`, if any.

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use super::{Reliability, Section};
use crate::bench::report::table;

/// The suites: package and test target. Those of `haul` beyond `faults` run when their file exists.
const SUITES: [(&str, &str); 7] = [
    ("haul-cli", "crash"),
    ("haul", "faults"),
    ("haul", "bad_responses"),
    ("haul", "hostile"),
    ("haul", "secrets"),
    ("haul", "load"),
    ("haul", "properties"),
];
/// Longest a suite may take, its build included.
const SUITE_LIMIT: Duration = Duration::from_secs(2400);

/// One suite's outcome.
#[derive(Debug)]
struct Outcome {
    command: String,
    passed: u64,
    failed: u64,
    ignored: u64,
    success: bool,
    wall: f64,
    log: String,
}

pub(super) fn run(rel: &Reliability) -> Result<Section> {
    let mut outcomes = Vec::new();
    for (package, test) in SUITES {
        let file = match package {
            "haul-cli" => format!("crates/cli/tests/{test}.rs"),
            _ => format!("crates/ergonomic/tests/{test}.rs"),
        };
        if !rel.root.join(&file).exists() {
            continue;
        }
        let outcome = run_suite(rel, package, test)?;
        eprintln!(
            "reliability:   {}: {} passed, {} failed{}",
            outcome.command,
            outcome.passed,
            outcome.failed,
            if outcome.success { "" } else { " (FAILED)" }
        );
        outcomes.push(outcome);
    }
    Ok(section(rel, &outcomes))
}

fn run_suite(rel: &Reliability, package: &str, test: &str) -> Result<Outcome> {
    let log = rel.logs.join(format!("test-{package}-{test}.log"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let started = Instant::now();
    let mut child = Command::new(cargo)
        .current_dir(&rel.root)
        .args(["test", "-p", package, "--test", test])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log)?)
        .stderr(std::fs::File::create(&log)?.try_clone()?)
        .spawn()
        .context("starting cargo test")?;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() > SUITE_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let (passed, failed, ignored) = counts(&text);
    Ok(Outcome {
        command: format!("cargo test -p {package} --test {test}"),
        passed,
        failed,
        ignored,
        success: status.is_some_and(|s| s.success()),
        wall: started.elapsed().as_secs_f64(),
        log: log
            .strip_prefix(&rel.root)
            .unwrap_or(&log)
            .display()
            .to_string(),
    })
}

/// Sums the `test result: ... N passed; M failed; K ignored` lines of a cargo test log.
fn counts(log: &str) -> (u64, u64, u64) {
    let mut sums = (0, 0, 0);
    for line in log.lines().filter(|l| l.starts_with("test result:")) {
        let number = |word: &str| {
            line.split([';', '.'])
                .find_map(|part| part.trim().strip_suffix(word)?.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        sums.0 += number(" passed");
        sums.1 += number(" failed");
        sums.2 += number(" ignored");
    }
    sums
}

fn section(rel: &Reliability, outcomes: &[Outcome]) -> Section {
    let mut md = String::from(
        "Each suite runs on its own (`cargo test -p P --test T`, debug profile); counts are from \
         its `test result:` lines, logs in `target/reliability/logs/`.\n\n",
    );
    let rows: Vec<Vec<String>> = outcomes
        .iter()
        .map(|o| {
            vec![
                format!("`{}`", o.command),
                o.passed.to_string(),
                o.failed.to_string(),
                o.ignored.to_string(),
                format!("{:.0}", o.wall),
                if o.success {
                    "passed".into()
                } else {
                    format!("**FAILED** (log `{}`)", o.log)
                },
            ]
        })
        .collect();
    md.push_str(&table(
        &["suite", "passed", "failed", "ignored", "wall s", "result"],
        &rows,
    ));
    let fuzz = rel.root.join(crate::fuzz::OUT).join("summary.md");
    md.push_str("\n### Fuzzing\n\n");
    match std::fs::read_to_string(&fuzz) {
        Ok(summary) => {
            let _ = writeln!(
                md,
                "The last `cargo xtask fuzz` results, from `{}/summary.md`:\n\n{summary}",
                crate::fuzz::OUT
            );
        }
        Err(_) => md.push_str(
            "No fuzzing results saved (`cargo xtask fuzz` has not run in this checkout).\n",
        ),
    }
    let mut failures: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.success)
        .map(|o| {
            format!(
                "{}: failed ({} failed tests; log {})",
                o.command, o.failed, o.log
            )
        })
        .collect();
    if std::fs::read_to_string(&fuzz).is_ok_and(|s| s.contains("FAILED")) {
        failures.push(format!(
            "the last fuzz run found a crash (see {}/summary.md)",
            crate::fuzz::OUT
        ));
    }
    Section {
        title: "Reliability test suites and fuzzing".into(),
        markdown: md,
        failures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_test_result_lines() {
        let log = "running 3 tests\ntest result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 2.1s\n\
                   test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out\n";
        assert_eq!(counts(log), (5, 1, 1));
        assert_eq!(counts("error: could not compile"), (0, 0, 0));
    }
}
