//! The Databricks benchmark's targets, as data: the same ceilings as the Salesforce download's
//! (issue 12), for haul to CSV: at least 0.9x curl's speed on loopback and on the WAN, at most
//! 1.5x its CPU seconds on loopback, at most 64 MB of peak RSS.
//!
//! Speed is haul's download phase against the ceiling's wall: the ceiling fetches the chunks of a
//! statement that finished before its run, so the time the warehouse spends running the
//! statement (the simulator rendering every chunk, the same for every client) is not in it, and
//! comparing haul's whole command with it would charge haul for the server's work. haul's phase
//! still holds its requests for links, which the ceiling's were listed before its run.

use super::super::contender::{CPU, RSS_MB, WALL};
use super::super::report::thousands;
use super::super::target::{Bound, Target};
use super::{CEILING, Config, HAUL_CSV, HAUL_PARQUET, PHASE, Profile, SDK};

/// Speed: haul's wall against the ceiling's, the least ratio, on every profile.
const SPEED_AT_LEAST: f64 = 0.9;
/// CPU target: on which profile, haul's CPU seconds against the ceiling's, the most ratio.
const CPU_RATIO: (Profile, f64) = (Profile::Loopback, 1.5);
/// Peak RSS allowed to haul, in MB.
const RSS_LIMIT_MB: f64 = 64.0;

pub(super) fn targets(configs: &[Config]) -> Vec<Target> {
    let mut targets = Vec::new();
    for config in configs {
        targets.extend(speed_target(config));
        if config.profile == CPU_RATIO.0 {
            targets.extend(cpu_target(config, CPU_RATIO.1));
        }
        targets.extend(rss_target(config));
    }
    targets
}

/// Figures the summary shows that no target decides: haul against the SDK's loop, and Parquet.
pub(super) fn untargeted(configs: &[Config]) -> Vec<String> {
    let mut lines = Vec::new();
    for config in configs {
        let (Some(csv), Some(parquet), Some(sdk)) = (
            config.find(HAUL_CSV),
            config.find(HAUL_PARQUET),
            config.find(SDK),
        ) else {
            continue;
        };
        lines.push(format!(
            "{}: {HAUL_CSV} is {:.2}x as fast as {SDK} ({:.2} s against {:.2} s); {HAUL_PARQUET} \
             takes {:.2} s, {:.0} MB peak RSS (no target).",
            heading(config),
            sdk.median(WALL) / csv.median(WALL),
            csv.median(WALL),
            sdk.median(WALL),
            parquet.median(WALL),
            parquet.median(RSS_MB),
        ));
    }
    lines
}

fn heading(config: &Config) -> String {
    format!(
        "Databricks, {}, {} rows",
        config.profile.name(),
        thousands(config.rows)
    )
}

/// haul's speed as a fraction of the ceiling's: ceiling wall / haul's download phase.
fn speed_target(config: &Config) -> Option<Target> {
    let (h, c) = (config.find(HAUL_CSV)?, config.find(CEILING)?);
    Some(Target::ratio(
        format!(
            "{}: {HAUL_CSV} download speed against {CEILING}, the ceiling's wall / haul's \
             download phase",
            heading(config)
        ),
        (c.median(WALL), h.median(PHASE)),
        Bound::AtLeast(SPEED_AT_LEAST),
        format!(
            "haul's download phase {:.2} s (whole command {:.2} s), curl {:.2} s",
            h.median(PHASE),
            h.median(WALL),
            c.median(WALL)
        ),
    ))
}

/// haul's CPU seconds against the ceiling's, both from the rusage of the child.
fn cpu_target(config: &Config, at_most: f64) -> Option<Target> {
    let (h, c) = (config.find(HAUL_CSV)?, config.find(CEILING)?);
    Some(Target::ratio(
        format!(
            "{}: {HAUL_CSV} CPU seconds against {CEILING}, haul's / the ceiling's",
            heading(config)
        ),
        (h.median(CPU), c.median(CPU)),
        Bound::AtMost(at_most),
        format!(
            "CPU: haul {:.2} s, curl {:.2} s",
            h.median(CPU),
            c.median(CPU)
        ),
    ))
}

fn rss_target(config: &Config) -> Option<Target> {
    let haul = config.find(HAUL_CSV)?;
    Some(Target {
        claim: format!("{}: {HAUL_CSV} peak RSS", heading(config)),
        bound: Bound::AtMost(RSS_LIMIT_MB),
        value: haul.median(RSS_MB),
        unit: " MB",
        basis: "median of the runs' peak RSS".into(),
    })
}
