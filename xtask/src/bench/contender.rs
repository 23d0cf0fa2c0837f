//! The one shape every benchmark has: contenders measured round after round, each run behind the
//! load gate, as a child whose rusage gives its CPU seconds and peak RSS; figures are medians.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Context as _, Result, bail};

use super::Bench;
use super::measure::{self, Job, Measurement};
use super::report::{figure, median};

/// Figures every run has, from `measure::run`.
pub(super) const WALL: &str = "wall s";
pub(super) const CPU: &str = "CPU s";
pub(super) const RSS_MB: &str = "peak RSS MB";

/// One program compared with others, and what its runs measured.
#[derive(Debug)]
pub(super) struct Contender {
    pub(super) name: String,
    /// The command line of its last run, as the report shows it.
    pub(super) command: String,
    figures: BTreeMap<&'static str, Vec<f64>>,
    /// The load seen by the gate before each run.
    loads: Vec<String>,
}

impl Contender {
    pub(super) fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            command: String::new(),
            figures: BTreeMap::new(),
            loads: Vec::new(),
        }
    }

    /// The median of a figure over the runs; `None` when no run has it.
    pub(super) fn get(&self, figure: &str) -> Option<f64> {
        self.figures.get(figure).map(|values| median(values))
    }

    /// The median of a figure every run has (0 when there was no run).
    pub(super) fn median(&self, figure: &str) -> f64 {
        self.get(figure).unwrap_or(0.0)
    }

    fn record(&mut self, seen: &Measurement, extra: Vec<(&'static str, f64)>, load: String) {
        let common = [
            (WALL, seen.wall.as_secs_f64()),
            (CPU, seen.cpu.as_secs_f64()),
            (RSS_MB, seen.max_rss_kib as f64 / 1024.0),
        ];
        let mut line = format!("bench:   {}:", self.name);
        for (name, value) in common.into_iter().chain(extra) {
            let _ = write!(line, " {} {name},", figure(value));
            self.figures.entry(name).or_default().push(value);
        }
        eprintln!("{}", line.trim_end_matches(','));
        self.loads.push(load);
    }
}

/// The loads seen before every run of some contenders.
pub(super) fn loads(contenders: &[Contender]) -> Vec<String> {
    contenders.iter().flat_map(|c| c.loads.clone()).collect()
}

/// What a benchmark does around each measured run of its contenders (by index).
pub(super) trait Trial {
    /// Gets ready for a run (fresh output folder, fresh simulator...) and returns the job to measure.
    fn job(&mut self, contender: usize, round: usize) -> Result<Job>;

    /// Checks what the run produced and returns the benchmark's own figures of it (wall time, CPU
    /// and peak RSS are recorded by the rounds loop).
    fn figures(&mut self, contender: usize, seen: &Measurement)
    -> Result<Vec<(&'static str, f64)>>;
}

/// How the contenders of a round run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Order {
    /// One after the other, each behind the load gate: they compete for nothing.
    OneAfterAnother,
    /// All at once, behind one gate: for figures that do not depend on the machine (requests, lag)
    /// when runs are long.
    AllAtOnce,
}

/// Measures every contender `bench.runs` times; logs go to `target/bench/logs/{tag}-{i}-{round}.log`.
pub(super) fn rounds(
    bench: &Bench,
    tag: &str,
    contenders: &mut [Contender],
    order: Order,
    trial: &mut impl Trial,
) -> Result<()> {
    for round in 0..bench.runs {
        eprintln!("bench: {tag}, round {} of {}", round + 1, bench.runs);
        match order {
            Order::OneAfterAnother => {
                for (i, contender) in contenders.iter_mut().enumerate() {
                    let job = trial.job(i, round)?;
                    let load = bench.gate();
                    let seen = measure_one(bench, tag, (i, contender), &job, round)?;
                    finish(bench, (i, contender), trial, &job, &seen, load)?;
                }
            }
            Order::AllAtOnce => {
                let jobs: Vec<Job> = (0..contenders.len())
                    .map(|i| trial.job(i, round))
                    .collect::<Result<_>>()?;
                let load = bench.gate();
                let outcomes = measure_all(bench, tag, contenders, &jobs, round);
                for (i, (job, seen)) in jobs.iter().zip(outcomes).enumerate() {
                    let seen = seen?;
                    finish(
                        bench,
                        (i, &mut contenders[i]),
                        trial,
                        job,
                        &seen,
                        load.clone(),
                    )?;
                }
            }
        }
    }
    Ok(())
}

fn finish(
    bench: &Bench,
    (i, contender): (usize, &mut Contender),
    trial: &mut impl Trial,
    job: &Job,
    seen: &Measurement,
    load: String,
) -> Result<()> {
    let extra = trial
        .figures(i, seen)
        .with_context(|| contender.name.clone())?;
    contender.command = job.display(&bench.root);
    contender.record(seen, extra, load);
    Ok(())
}

fn measure_one(
    bench: &Bench,
    tag: &str,
    (i, contender): (usize, &Contender),
    job: &Job,
    round: usize,
) -> Result<Measurement> {
    let log = bench.logs.join(format!("{tag}-{i}-{round}.log"));
    measure::run(job, &log).with_context(|| format!("{tag}: {}", contender.name))
}

fn measure_all(
    bench: &Bench,
    tag: &str,
    contenders: &[Contender],
    jobs: &[Job],
    round: usize,
) -> Vec<Result<Measurement>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = contenders
            .iter()
            .zip(jobs)
            .enumerate()
            .map(|(i, (contender, job))| {
                scope.spawn(move || measure_one(bench, tag, (i, contender), job, round))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| bail!("a measuring thread panicked"))
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn figures_are_medians_of_the_runs() {
        let mut contender = Contender::new("a");
        for (wall, extra) in [(1.0, 5.0), (3.0, 7.0), (2.0, 6.0)] {
            let seen = Measurement {
                wall: Duration::from_secs_f64(wall),
                max_rss_kib: 2048,
                cpu: Duration::from_millis(500),
                ended_unix_ms: 0,
                stdout: String::new(),
            };
            contender.record(&seen, vec![("extra", extra)], "0.50 0.40 0.30".into());
        }
        assert_eq!(contender.median(WALL), 2.0);
        assert_eq!(contender.median(CPU), 0.5);
        assert_eq!(contender.median(RSS_MB), 2.0);
        assert_eq!(contender.get("extra"), Some(6.0));
        assert_eq!(contender.get("absent"), None);
        assert_eq!(loads(&[contender]).len(), 3);
    }
}
