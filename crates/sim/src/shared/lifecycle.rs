//! The one job lifecycle every family's jobs follow: queued, then running, then done, on the
//! clock of the timing profile.
//!
//! A job waits a tenth of the job duration for each queued step (most families have one; Async
//! SOQL passes `New → Scheduled → Running`, two), then runs: the work is done on a blocking thread
//! and the job is done once the rest of the job duration has passed (at once if the work took
//! longer). The family keeps its vendor states and decides, under its own lock, whether a job is
//! still where the lifecycle left it: a client may abort, cancel or delete a job at any moment, and
//! the lifecycle then lets it go.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// Where a queued job is after one queued step.
#[derive(Debug)]
pub(crate) enum Step<W> {
    /// Still queued, one step further (Async SOQL's `Scheduled`).
    Queued,
    /// Now running, with what it needs to do its work.
    Running(W),
    /// No longer queued (aborted, cancelled or deleted): the lifecycle stops here.
    Gone,
}

/// One family's jobs, as the lifecycle moves them.
pub(crate) trait Jobs: Send + Sync + 'static {
    /// What a job needs in order to run, taken from it as it starts running.
    type Work: Send + 'static;
    /// What running produced, handed back when the job is done.
    type Outcome: Send + 'static;

    /// Moves queued job `id` one step on. Every call must move a job to a later state, so that
    /// a job leaves the queue after finitely many steps.
    fn step(&self, id: &str) -> Step<Self::Work>;

    /// Does a job's work; runs on a blocking thread, since it may take long.
    fn work(&self, work: Self::Work) -> Self::Outcome;

    /// Records the outcome of job `id`, which `ran` long; the family ignores it, or keeps only
    /// what it must, if the job left the running state meanwhile.
    fn finish(&self, id: &str, outcome: Self::Outcome, ran: Duration);
}

/// The simulator's time: how long a job takes, and whether the simulator is shutting down.
#[derive(Debug, Clone)]
pub(crate) struct Clock {
    job_duration: Duration,
    shutdown: watch::Receiver<bool>,
}

impl Clock {
    /// A clock whose jobs take `job_duration` from creation to done.
    pub(crate) fn new(job_duration: Duration, shutdown: watch::Receiver<bool>) -> Self {
        Self {
            job_duration,
            shutdown,
        }
    }

    /// Sleeps `duration`; false if the simulator shut down meanwhile (the caller should stop).
    pub(crate) async fn pause(&self, duration: Duration) -> bool {
        let mut shutdown = self.shutdown.clone();
        if *shutdown.borrow() {
            return false;
        }
        if duration.is_zero() {
            return true;
        }
        tokio::select! {
            () = tokio::time::sleep(duration) => true,
            _ = shutdown.changed() => false,
        }
    }

    /// Starts the lifecycle of the new queued job `id` in the background. A job of no duration
    /// ("instant") has also finished when this returns, so that a client's first status request
    /// finds it done; otherwise whether it did would depend on how soon the request came, and a
    /// client that then waits its poll interval would be timed on that race (half of the runs of
    /// a 1,000,000-row query did). The lifecycle runs in its own task either way, so that a
    /// request given up by its client still leaves the job to finish.
    pub(crate) async fn start<J: Jobs>(&self, jobs: Arc<J>, id: String) {
        let lifecycle = tokio::spawn(self.clone().drive(jobs, id));
        if self.job_duration.is_zero() {
            let _ = lifecycle.await;
        }
    }

    /// Time spent in each queued step.
    fn queued_step(&self) -> Duration {
        self.job_duration / 10
    }

    async fn drive<J: Jobs>(self, jobs: Arc<J>, id: String) {
        let mut steps = 0;
        // Bounded: `Jobs::step` moves the job to a later state each time.
        let work = loop {
            if !self.pause(self.queued_step()).await {
                return;
            }
            steps += 1;
            match jobs.step(&id) {
                Step::Queued => continue,
                Step::Running(work) => break work,
                Step::Gone => return,
            }
        };
        let started = Instant::now();
        let worker = jobs.clone();
        let Ok(outcome) = tokio::task::spawn_blocking(move || worker.work(work)).await else {
            return;
        };
        let running = self.job_duration.saturating_sub(self.queued_step() * steps);
        if !self.pause(running.saturating_sub(started.elapsed())).await {
            return;
        }
        jobs.finish(&id, outcome, started.elapsed());
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;

    /// One job of the fake family.
    #[derive(Default)]
    struct FakeJob {
        steps: u32,
        running: bool,
        outcome: Option<u64>,
    }

    /// A family whose jobs pass `queued_steps` queued states, then run and double their number.
    #[derive(Default)]
    struct Fake {
        queued_steps: u32,
        jobs: Mutex<HashMap<String, FakeJob>>,
        /// Every move, in order, with the time it happened.
        log: Mutex<Vec<(String, Instant)>>,
    }

    impl Fake {
        fn add(&self, id: &str) {
            self.jobs
                .lock()
                .unwrap()
                .insert(id.into(), FakeJob::default());
        }

        fn note(&self, event: String) {
            self.log.lock().unwrap().push((event, Instant::now()));
        }

        fn events(&self) -> Vec<String> {
            self.log
                .lock()
                .unwrap()
                .iter()
                .map(|(e, _)| e.clone())
                .collect()
        }
    }

    impl Jobs for Fake {
        type Work = u64;
        type Outcome = u64;

        fn step(&self, id: &str) -> Step<u64> {
            let mut jobs = self.jobs.lock().unwrap();
            let Some(job) = jobs.get_mut(id) else {
                return Step::Gone;
            };
            job.steps += 1;
            self.note(format!("{id} step {}", job.steps));
            if job.steps < self.queued_steps {
                return Step::Queued;
            }
            job.running = true;
            Step::Running(id.len() as u64)
        }

        fn work(&self, work: u64) -> u64 {
            self.note(format!("work {work}"));
            work * 2
        }

        fn finish(&self, id: &str, outcome: u64, _ran: Duration) {
            if let Some(job) = self.jobs.lock().unwrap().get_mut(id).filter(|j| j.running) {
                job.outcome = Some(outcome);
                self.note(format!("{id} done"));
            }
        }
    }

    /// Waits (at most five seconds) until `id` is done; its outcome.
    async fn done(fake: &Fake, id: &str) -> Option<u64> {
        for _ in 0..500 {
            if let Some(outcome) = fake.jobs.lock().unwrap().get(id).and_then(|j| j.outcome) {
                return Some(outcome);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        None
    }

    fn clock(duration: Duration) -> (Clock, watch::Sender<bool>) {
        let (stop, stopped) = watch::channel(false);
        (Clock::new(duration, stopped), stop)
    }

    #[tokio::test]
    async fn an_instant_job_is_queued_runs_once_and_is_done() {
        let (clock, _stop) = clock(Duration::ZERO);
        let fake = Arc::new(Fake {
            queued_steps: 1,
            ..Fake::default()
        });
        fake.add("abc");
        clock.start(fake.clone(), "abc".into()).await;
        // Done by the time `start` returns, without waiting.
        let outcome = fake.jobs.lock().unwrap().get("abc").and_then(|j| j.outcome);
        assert_eq!(outcome, Some(6));
        assert_eq!(fake.events(), ["abc step 1", "work 3", "abc done"]);
    }

    #[tokio::test]
    async fn each_queued_step_takes_a_tenth_and_done_comes_after_the_whole_duration() {
        let (clock, _stop) = clock(Duration::from_millis(400));
        let fake = Arc::new(Fake {
            queued_steps: 2,
            ..Fake::default()
        });
        fake.add("q");
        let created = Instant::now();
        clock.start(fake.clone(), "q".into()).await;
        assert_eq!(done(&fake, "q").await, Some(2));
        let log = fake.log.lock().unwrap().clone();
        let events: Vec<_> = log.iter().map(|(e, _)| e.as_str()).collect();
        assert_eq!(events, ["q step 1", "q step 2", "work 1", "q done"]);
        let at = |i: usize| log[i].1.duration_since(created);
        assert!(at(0) >= Duration::from_millis(40), "{:?}", at(0));
        assert!(at(1) >= Duration::from_millis(80), "{:?}", at(1));
        assert!(at(3) >= Duration::from_millis(400), "{:?}", at(3));
    }

    #[tokio::test]
    async fn a_job_gone_from_the_queue_never_runs() {
        let (clock, _stop) = clock(Duration::ZERO);
        let fake = Arc::new(Fake::default());
        clock.start(fake.clone(), "missing".into()).await;
        fake.add("other");
        clock.start(fake.clone(), "other".into()).await;
        assert!(done(&fake, "other").await.is_some());
        assert!(!fake.events().iter().any(|e| e.contains("missing")));
        assert_eq!(fake.events().len(), 3);
    }

    #[tokio::test]
    async fn shutting_down_stops_every_lifecycle() {
        let (clock, stop) = clock(Duration::from_secs(3600));
        let fake = Arc::new(Fake {
            queued_steps: 1,
            ..Fake::default()
        });
        fake.add("long");
        clock.start(fake.clone(), "long".into()).await;
        stop.send(true).expect("clock listens");
        assert!(!clock.pause(Duration::from_secs(3600)).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(fake.events().is_empty());
    }
}
