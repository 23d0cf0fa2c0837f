//! The Looker family's settings, given to [`crate::SimBuilder::looker`].

use std::time::Duration;

/// Settings of the simulated Looker instance; each setter documents its default.
///
/// ```no_run
/// # async fn demo() -> Result<(), haul_sim::SimError> {
/// let sim = haul_sim::Sim::builder()
///     .looker(|o| o.legacy_204(true))
///     .start()
///     .await?;
/// println!("{}", sim.looker().base_url());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    pub(super) legacy_204: bool,
    pub(super) result_ttl: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            legacy_204: false,
            result_ttl: Duration::from_secs(3_600),
        }
    }
}

impl Options {
    /// Answer the results of unfinished tasks with the legacy 204 instead of 202; default off.
    pub fn legacy_204(mut self, legacy: bool) -> Self {
        self.legacy_204 = legacy;
        self
    }

    /// How long finished task results stay before the task is `expired`; default one hour.
    pub fn result_ttl(mut self, ttl: Duration) -> Self {
        self.result_ttl = ttl;
        self
    }
}
