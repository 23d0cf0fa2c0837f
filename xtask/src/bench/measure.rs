//! Running one contender as a measured child: wall time, peak RSS and CPU seconds from its rusage.
//!
//! `getrusage(RUSAGE_CHILDREN)` reports the largest child's peak RSS, not a delta, so each contender
//! runs under a fresh copy of this xtask (`cargo xtask bench __measure ...`) whose only child it is:
//! that copy's children's rusage is exactly the contender's. The copy enforces the time limit (the
//! contender is killed when it runs over) and writes what it saw as one JSON file.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use nix::sys::resource::{UsageWho, getrusage};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

/// A program to measure.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<OsString>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) timeout: Duration,
}

impl Job {
    pub(crate) fn new(program: impl Into<PathBuf>, timeout: Duration) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            timeout,
        }
    }

    pub(crate) fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub(crate) fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub(crate) fn env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.env.push((name.to_owned(), value.into()));
        self
    }

    /// The command line as a reader could type it (environment first).
    pub(crate) fn display(&self, root: &Path) -> String {
        let mut words: Vec<String> = self
            .env
            .iter()
            .map(|(name, value)| match is_secret(name) {
                // The simulator's credentials are derived from its seed, but a report shows none.
                true => format!("{name}='<from the simulator's ready line>'"),
                false => format!("{name}={}", quote(value)),
            })
            .collect();
        let program = self.program.strip_prefix(root).unwrap_or(&self.program);
        words.push(program.display().to_string());
        let prefix = format!("{}/", root.display());
        words.extend(self.args.iter().map(|a| {
            let text = a.to_string_lossy();
            quote(text.strip_prefix(&prefix).unwrap_or(&text))
        }));
        redact_session_ids(&words.join(" "))
    }
}

/// Replaces Salesforce session ids (`00D` + org id + `!` + token), which peers take as arguments and
/// curl in a header, by a placeholder: a report shows no credential, even the simulator's.
fn redact_session_ids(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("00D") {
        shown.push_str(&rest[..start]);
        let candidate = &rest[start..];
        let id_end = candidate
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(candidate.len());
        if candidate[id_end..].starts_with('!') {
            let token = &candidate[id_end + 1..];
            let token_end = token
                .find(|c: char| !(c.is_ascii_alphanumeric() || "._".contains(c)))
                .unwrap_or(token.len());
            shown.push_str("<session id from the simulator's ready line>");
            rest = &token[token_end..];
        } else {
            shown.push_str("00D");
            rest = &candidate[3..];
        }
    }
    shown.push_str(rest);
    shown
}

/// Whether an environment variable carries a credential.
fn is_secret(name: &str) -> bool {
    ["TOKEN", "SECRET", "PASSWORD"]
        .iter()
        .any(|word| name.ends_with(word))
}

fn quote(word: &str) -> String {
    let plain = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if plain && !word.is_empty() {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// What one run of a contender cost.
#[derive(Debug, Clone)]
pub(crate) struct Measurement {
    pub(crate) wall: Duration,
    /// Peak resident set, in KiB (Linux `ru_maxrss`).
    pub(crate) max_rss_kib: u64,
    /// User plus system CPU time.
    pub(crate) cpu: Duration,
    /// Wall-clock time at which the contender's exit was seen, in milliseconds since the epoch.
    pub(crate) ended_unix_ms: u64,
    /// What the contender printed on stdout.
    pub(crate) stdout: String,
}

/// Runs `job` under a measuring copy of this xtask; stdout is captured, stderr goes to `log`.
/// Fails when the job fails or runs over its time limit (it is killed then).
pub(crate) fn run(job: &Job, log: &Path) -> Result<Measurement> {
    let dir = log.parent().context("log path has a folder")?;
    std::fs::create_dir_all(dir)?;
    let report = log.with_extension("rusage.json");
    let stdout_path = log.with_extension("stdout");
    let _ = std::fs::remove_file(&report);
    let child = spawn_helper(job, &report, &stdout_path, log)?;
    let status = wait_for_helper(child, job)?;
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let text = std::fs::read_to_string(&report)
        .with_context(|| format!("{} wrote no report ({status})", job.program.display()))?;
    let seen: Value = serde_json::from_str(&text)?;
    if seen["timed_out"].as_bool() == Some(true) {
        bail!(
            "{} ran over its limit of {:?} and was killed (log: {})",
            job.program.display(),
            job.timeout,
            log.display()
        );
    }
    if seen["success"].as_bool() != Some(true) {
        bail!(
            "{} failed ({}); log {}:\n{}",
            job.program.display(),
            seen["status"],
            log.display(),
            tail(log, 8)
        );
    }
    let number = |key: &str| seen[key].as_u64().unwrap_or_default();
    Ok(Measurement {
        wall: Duration::from_micros(number("wall_us")),
        max_rss_kib: number("max_rss_kib"),
        cpu: Duration::from_micros(number("cpu_us")),
        ended_unix_ms: number("ended_unix_ms"),
        stdout,
    })
}

/// Starts `cargo xtask bench __measure` on `job`: stdout to `stdout_path`, stderr to `log`.
fn spawn_helper(job: &Job, report: &Path, stdout_path: &Path, log: &Path) -> Result<Child> {
    Command::new(std::env::current_exe()?)
        .args(["bench", "__measure"])
        .arg(job.timeout.as_millis().to_string())
        .arg(report)
        .arg("--")
        .arg(&job.program)
        .args(&job.args)
        .envs(job.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(stdout_path)?)
        .stderr(std::fs::File::create(log)?)
        .spawn()
        .context("starting the measuring helper")
}

/// Waits for the measuring helper. It enforces the job's limit; this only guards against the helper
/// itself hanging.
fn wait_for_helper(mut child: Child, job: &Job) -> Result<ExitStatus> {
    let deadline = Instant::now() + job.timeout + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the measuring helper for {} hung", job.program.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The last `lines` lines of a log.
fn tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut last: Vec<&str> = text.lines().rev().take(lines).collect();
    last.reverse();
    last.join("\n")
}

/// The helper: `__measure TIMEOUT_MS REPORT -- PROGRAM ARGS...`. Runs the program with inherited
/// stdio, kills it when it runs over, then writes its rusage to REPORT.
pub(crate) fn helper(args: &[String]) -> Result<()> {
    let [timeout_ms, report, dashes, program, rest @ ..] = args else {
        bail!("usage: cargo xtask bench __measure TIMEOUT_MS REPORT -- PROGRAM [ARGS]");
    };
    if dashes != "--" {
        bail!("expected -- before the program");
    }
    let timeout = Duration::from_millis(timeout_ms.parse()?);
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(rest)
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    let pid = Pid::from_raw(i32::try_from(child.id())?);
    let (done, finished) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        match finished.recv_timeout(timeout) {
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // Still running: the child has not been reaped, so its pid is still its own.
                let _ = kill(pid, Signal::SIGKILL);
                true
            }
            _ => false,
        }
    });
    let status = child.wait()?;
    let wall = started.elapsed();
    let ended = SystemTime::now().duration_since(UNIX_EPOCH)?;
    let _ = done.send(());
    let timed_out = watchdog.join().unwrap_or(false);
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN)?;
    let micros = |t: nix::sys::time::TimeVal| t.tv_sec() as u64 * 1_000_000 + t.tv_usec() as u64;
    let seen = json!({
        "success": status.success() && !timed_out,
        "status": status.to_string(),
        "timed_out": timed_out,
        "wall_us": wall.as_micros() as u64,
        "cpu_us": micros(usage.user_time()) + micros(usage.system_time()),
        "max_rss_kib": usage.max_rss(),
        "ended_unix_ms": ended.as_millis() as u64,
    });
    std::fs::write(report, seen.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_redacted_and_nothing_else() {
        assert_eq!(
            redact_session_ids("-H 'Authorization: Bearer 00DHs0000000sim!AQc5.4_9' x 00D1 y"),
            "-H 'Authorization: Bearer <session id from the simulator's ready line>' x 00D1 y"
        );
    }
}
