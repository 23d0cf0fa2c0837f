//! `cargo xtask fuzz [--seconds N] [--target T]`: runs the cargo-fuzz (libFuzzer) targets of `fuzz/`,
//! each for N seconds (default 600), and saves libFuzzer's summary lines.
//!
//! Installs cargo-fuzz (`cargo install cargo-fuzz --locked`) when it is missing. cargo-fuzz needs
//! nightly flags; `RUSTC_BOOTSTRAP=1` lets the stable toolchain accept them. The targets are built
//! without a sanitizer (`-s none`: haul forbids unsafe code, and what is looked for is panics and
//! wrong answers) but with debug assertions, so that integer overflow panics too.
//!
//! Each target's whole log goes to `target/xtask-fuzz/<target>.log`; the summary of the last run
//! (runs executed, coverage, crashes) to `target/xtask-fuzz/summary.md`, which
//! `cargo xtask reliability` copies into `RELIABILITY.md`. The growing corpus stays in
//! `fuzz/corpus/` (ignored by git), crashes in `fuzz/artifacts/`; the committed seeds are in
//! `fuzz/seeds/`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

const USAGE: &str = "usage: cargo xtask fuzz [--seconds N] [--target csv_page|links]";
/// The targets of `fuzz/Cargo.toml`.
pub(crate) const TARGETS: [&str; 2] = ["csv_page", "links"];
/// Where the logs and the summary go, under the workspace root.
pub(crate) const OUT: &str = "target/xtask-fuzz";
/// Time allowed for building a target before its fuzzing time starts.
const BUILD_ALLOWANCE: Duration = Duration::from_secs(3600);

/// What one target's run showed.
#[derive(Debug)]
struct Outcome {
    target: &'static str,
    seconds: u64,
    /// libFuzzer's `Done N runs in S second(s)` line, or its last status line when it stopped early.
    done: String,
    /// The last `#N ... cov: ... ft: ... corp: ...` status line.
    last_status: String,
    executed: Option<u64>,
    crashed: bool,
    /// Lines about the crash (`panicked at`, `SUMMARY`, the artifact written).
    crash_lines: Vec<String>,
    log: PathBuf,
}

/// Entry point of `cargo xtask fuzz`.
pub(crate) fn run(root: &Path, args: &[String]) -> Result<()> {
    let (seconds, targets) = parse(args)?;
    ensure_cargo_fuzz(root)?;
    let out = root.join(OUT);
    std::fs::create_dir_all(&out)?;
    let mut outcomes = Vec::new();
    for target in targets {
        outcomes.push(run_target(root, target, seconds)?);
    }
    let summary = summary(&outcomes, seconds);
    std::fs::write(out.join("summary.md"), &summary)?;
    eprintln!("{summary}");
    eprintln!("fuzz: wrote {}/summary.md", OUT);
    if outcomes.iter().any(|o| o.crashed) {
        bail!("a fuzz target crashed; see the summary above and fuzz/artifacts/");
    }
    Ok(())
}

fn parse(args: &[String]) -> Result<(u64, Vec<&'static str>)> {
    let mut seconds = 600;
    let mut targets: Vec<&'static str> = TARGETS.to_vec();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "--seconds" => {
                seconds = words
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n: &u64| n >= 1)
                    .context(USAGE)?;
            }
            "--target" => {
                let name = words.next().context(USAGE)?;
                let target = TARGETS
                    .iter()
                    .find(|t| *t == name)
                    .with_context(|| format!("unknown target {name}; {USAGE}"))?;
                targets = vec![target];
            }
            _ => bail!(USAGE),
        }
    }
    Ok((seconds, targets))
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Installs cargo-fuzz when `cargo fuzz --version` does not run.
fn ensure_cargo_fuzz(root: &Path) -> Result<()> {
    let present = Command::new(cargo())
        .current_dir(root)
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    eprintln!("fuzz: installing cargo-fuzz (cargo install cargo-fuzz --locked)");
    let status = Command::new(cargo())
        .args(["install", "cargo-fuzz", "--locked"])
        .status()
        .context("running cargo install")?;
    if !status.success() {
        bail!("cargo install cargo-fuzz failed ({status})");
    }
    Ok(())
}

/// Builds and runs one target for `seconds`, its output into its log; stops it if it overruns.
fn run_target(root: &Path, target: &'static str, seconds: u64) -> Result<Outcome> {
    let fuzz = root.join("fuzz");
    let corpus = fuzz.join("corpus").join(target);
    std::fs::create_dir_all(&corpus)?;
    let seeds = fuzz.join("seeds").join(target);
    let log = root.join(OUT).join(format!("{target}.log"));
    let mut command = Command::new(cargo());
    command
        .current_dir(&fuzz)
        .env("RUSTC_BOOTSTRAP", "1")
        .args(["fuzz", "run", "-s", "none", "--debug-assertions", target])
        .arg(&corpus);
    if seeds.is_dir() {
        command.arg(&seeds);
    }
    command
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log)?)
        .stderr(std::fs::File::create(&log)?.try_clone()?);
    eprintln!(
        "fuzz: {target} for {seconds} s (RUSTC_BOOTSTRAP=1 cargo fuzz run -s none --debug-assertions {target} ...); log {}",
        log.display()
    );
    let mut child = command.spawn().context("starting cargo fuzz")?;
    let deadline = Instant::now() + BUILD_ALLOWANCE + Duration::from_secs(seconds + 60);
    let mut next_report = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "cargo fuzz run {target} overran its time; log {}",
                log.display()
            );
        }
        if Instant::now() > next_report {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            eprintln!("fuzz: {target}: {}", last_status(&text));
            next_report += Duration::from_secs(60);
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    Ok(read_outcome(target, seconds, &text, !status.success(), log))
}

/// The last libFuzzer status line (`#N  pulse/NEW/REDUCE ... cov: ...`).
fn last_status(log: &str) -> String {
    log.lines()
        .rev()
        .find(|l| l.starts_with('#') && l.contains("cov:"))
        .unwrap_or("(no status line yet)")
        .trim()
        .to_owned()
}

fn read_outcome(
    target: &'static str,
    seconds: u64,
    log: &str,
    failed: bool,
    path: PathBuf,
) -> Outcome {
    let done = log
        .lines()
        .rev()
        .find(|l| l.starts_with("Done ") && l.contains(" runs in "))
        .map(str::to_owned);
    let executed = log
        .lines()
        .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
        .and_then(|n| n.trim().parse().ok());
    let crash_lines: Vec<String> = log
        .lines()
        .filter(|l| {
            l.contains("panicked at")
                || l.starts_with("SUMMARY:")
                || l.contains("Test unit written to")
                || l.starts_with("==") && l.contains("ERROR")
        })
        .map(|l| l.trim().to_owned())
        .take(10)
        .collect();
    let crashed = failed || done.is_none() || !crash_lines.is_empty();
    Outcome {
        target,
        seconds,
        done: done.unwrap_or_else(|| "(libFuzzer did not finish)".into()),
        last_status: last_status(log),
        executed,
        crashed,
        crash_lines,
        log: path,
    }
}

/// The Markdown summary: one row a target, then the crash lines of any that crashed.
fn summary(outcomes: &[Outcome], seconds: u64) -> String {
    let mut md = format!(
        "Produced by `cargo xtask fuzz --seconds {seconds}` at {} UTC (targets built with \
         `RUSTC_BOOTSTRAP=1 cargo fuzz run -s none --debug-assertions`).\n\n\
         | target | seconds asked | runs executed | libFuzzer's last lines | result |\n|---|---:|---:|---|---|\n",
        crate::bench::utc_now()
    );
    for o in outcomes {
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | `{}`; `{}` | {} |",
            o.target,
            o.seconds,
            o.executed.map_or("–".into(), |n| n.to_string()),
            o.last_status,
            o.done,
            if o.crashed {
                "**FAILED (crash)**"
            } else {
                "no crash"
            }
        );
    }
    for o in outcomes.iter().filter(|o| o.crashed) {
        let _ = writeln!(md, "\n`{}` crashed; log `{}`:\n", o.target, o.log.display());
        for line in &o.crash_lines {
            let _ = writeln!(md, "    {line}");
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "INFO: Seed: 1\n#2\tINITED cov: 10 ft: 11 corp: 1/1b exec/s: 0 rss: 30Mb\n\
        #4096\tpulse  cov: 120 ft: 300 corp: 40/2Kb lim: 43 exec/s: 2048 rss: 40Mb\n\
        stat::number_of_executed_units: 174347\nstat::peak_rss_mb: 41\nDone 174347 runs in 16 second(s)\n";

    #[test]
    fn reads_a_clean_run() {
        let outcome = read_outcome("csv_page", 16, LOG, false, PathBuf::from("x.log"));
        assert!(!outcome.crashed);
        assert_eq!(outcome.executed, Some(174_347));
        assert_eq!(outcome.done, "Done 174347 runs in 16 second(s)");
        assert!(outcome.last_status.starts_with("#4096\tpulse  cov: 120"));
    }

    #[test]
    fn a_panic_or_a_missing_done_line_is_a_crash() {
        let panicked = "#2\tINITED cov: 1\nthread '<unnamed>' panicked at fuzz_targets/links.rs:9:5:\n\
            ==123== ERROR: libFuzzer: deadly signal\nTest unit written to ./artifacts/links/crash-ab\n";
        let outcome = read_outcome("links", 5, panicked, true, PathBuf::from("x.log"));
        assert!(outcome.crashed);
        assert_eq!(outcome.crash_lines.len(), 3);
        let md = summary(&[outcome], 5);
        assert!(md.contains("**FAILED (crash)**") && md.contains("crash-ab"));
        assert!(read_outcome("links", 5, "#1 cov: 1\n", false, PathBuf::new()).crashed);
    }

    #[test]
    fn parses_arguments() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(parse(&[]).unwrap(), (600, TARGETS.to_vec()));
        assert_eq!(
            parse(&args(&["--seconds", "60", "--target", "links"])).unwrap(),
            (60, vec!["links"])
        );
        assert!(parse(&args(&["--target", "nope"])).is_err());
        assert!(parse(&args(&["--seconds", "0"])).is_err());
    }
}
