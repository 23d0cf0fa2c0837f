//! Progress on stderr: bars on a terminal, a plain line now and then otherwise, nothing when quiet.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use haul::salesforce::extract::{ExtractProgress, ObjectPhase};
use haul::salesforce::query::{DownloadProgress, QueryJobInfo};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Display {
    Quiet,
    Plain,
    Bars,
}

impl Display {
    pub(crate) fn choose(quiet: bool) -> Self {
        if quiet {
            Self::Quiet
        } else if std::io::stderr().is_terminal() {
            Self::Bars
        } else {
            Self::Plain
        }
    }
}

/// Stops showing progress when dropped.
pub(crate) struct Shown(Option<(JoinHandle<()>, Option<ProgressBar>)>);

impl Drop for Shown {
    fn drop(&mut self) {
        if let Some((task, bar)) = self.0.take() {
            task.abort();
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
        }
    }
}

/// Plain lines at most this often, so that logs stay readable.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// Shows the state of a job being waited for.
pub(crate) fn waiting(
    display: Display,
    job: String,
    mut states: watch::Receiver<Option<QueryJobInfo>>,
) -> Shown {
    let bar = (display == Display::Bars).then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} job {prefix} {msg} ({elapsed})")
                .expect("template"),
        );
        bar.set_prefix(job.clone());
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    if display == Display::Quiet {
        return Shown(None);
    }
    let shown_bar = bar.clone();
    let task = tokio::spawn(async move {
        let mut last_line = Instant::now() - PLAIN_EVERY;
        let mut last_state = String::new();
        while states.changed().await.is_ok() {
            let Some(info) = states.borrow_and_update().clone() else {
                continue;
            };
            let state = info.state.to_string();
            match &bar {
                Some(bar) => bar.set_message(state),
                None if state != last_state || last_line.elapsed() >= PLAIN_EVERY => {
                    eprintln!("haul: job {job} {state}");
                    last_line = Instant::now();
                    last_state = state;
                }
                None => {}
            }
        }
    });
    Shown(Some((task, shown_bar)))
}

/// Shows a download: pages, rows, bytes, rate and time left.
pub(crate) fn downloading(
    display: Display,
    mut progress: watch::Receiver<DownloadProgress>,
) -> Shown {
    if display == Display::Quiet {
        return Shown(None);
    }
    let expected = progress.borrow().expected_records;
    let bar = (display == Display::Bars).then(|| {
        let bar = ProgressBar::new(expected.unwrap_or(0));
        let template = "{bar:30} {human_pos}/{human_len} rows  {msg}  eta {eta}";
        bar.set_style(ProgressStyle::with_template(template).expect("template"));
        bar
    });
    let shown_bar = bar.clone();
    let started = Instant::now();
    let task = tokio::spawn(async move {
        let mut last_line = Instant::now();
        while progress.changed().await.is_ok() {
            let p = progress.borrow_and_update().clone();
            let mb = p.bytes as f64 / 1e6;
            let seconds = started.elapsed().as_secs_f64().max(1e-3);
            let rate = mb / seconds;
            match &bar {
                Some(bar) => {
                    bar.set_position(p.records);
                    let rows_per_second = p.records as f64 / seconds;
                    bar.set_message(format!(
                        "{} pages, {mb:.1} MB, {rate:.1} MB/s, {rows_per_second:.0} rows/s",
                        p.pages
                    ));
                }
                None if last_line.elapsed() >= PLAIN_EVERY => {
                    let of = expected.map(|n| format!(" of {n}")).unwrap_or_default();
                    eprintln!(
                        "haul: {} rows{of}, {} pages, {mb:.1} MB ({rate:.1} MB/s)",
                        p.records, p.pages
                    );
                    last_line = Instant::now();
                }
                None => {}
            }
        }
    });
    Shown(Some((task, shown_bar)))
}

/// Shows an extract: one line an object (its phase, rows and windows) and the run overall.
pub(crate) fn extracting(
    display: Display,
    mut progress: watch::Receiver<ExtractProgress>,
) -> Shown {
    if display == Display::Quiet {
        return Shown(None);
    }
    let bar = (display == Display::Bars).then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("template"),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let shown_bar = bar.clone();
    let task = tokio::spawn(async move {
        let mut last_line = Instant::now() - PLAIN_EVERY;
        while progress.changed().await.is_ok() {
            let p = progress.borrow_and_update().clone();
            match &bar {
                Some(bar) => bar.set_message(extract_lines(&p).join("\n  ")),
                None if last_line.elapsed() >= PLAIN_EVERY => {
                    for line in extract_lines(&p) {
                        eprintln!("haul: {line}");
                    }
                    last_line = Instant::now();
                }
                None => {}
            }
        }
    });
    Shown(Some((task, shown_bar)))
}

/// The overall line, then each object's.
fn extract_lines(p: &ExtractProgress) -> Vec<String> {
    let mut lines = vec![format!(
        "{} of {} objects done, {} rows landed",
        p.finished(),
        p.objects.len(),
        p.rows()
    )];
    lines.extend(p.objects.iter().map(|o| {
        let phase = match o.phase {
            ObjectPhase::Waiting => "waiting",
            ObjectPhase::Planning => "describing",
            ObjectPhase::Querying => "querying",
            ObjectPhase::Downloading => "downloading",
            ObjectPhase::Landed => "landed",
            ObjectPhase::Failed => "FAILED",
            _ => "working",
        };
        format!(
            "{}: {phase}, {} rows, {} windows",
            o.object, o.rows, o.windows
        )
    }));
    lines
}
