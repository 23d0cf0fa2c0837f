//! The download benchmark's targets (issue 12), as data: haul c8 against the curl ceiling that moves
//! the same bytes, and haul's peak RSS at the largest size.

use super::super::contender::{CPU, RSS_MB, WALL};
use super::super::report::thousands;
use super::super::target::{Bound, Target};
use super::{CEILING, Config, GZIP_CEILING, HAUL_C8, HAUL_GZIP, Profile};

/// Speed targets: on which profile, which haul row against which ceiling, the least ratio.
const SPEED: [(Profile, &str, &str, f64); 3] = [
    (Profile::Loopback, HAUL_C8, CEILING, 0.9),
    (Profile::Loopback, HAUL_GZIP, GZIP_CEILING, 0.8),
    (Profile::Wan, HAUL_C8, CEILING, 0.9),
];
/// CPU target: on which profile, haul c8's CPU seconds against the ceiling's, the most ratio.
const CPU_RATIO: (Profile, f64) = (Profile::Loopback, 1.5);
/// Peak RSS allowed to haul c8 at the largest size, in MB.
const RSS_LIMIT_MB: f64 = 64.0;

pub(super) fn targets(configs: &[Config]) -> Vec<Target> {
    let mut targets = Vec::new();
    for config in configs {
        for (profile, haul, ceiling, at_least) in SPEED {
            if config.profile == profile {
                targets.extend(speed_target(config, haul, ceiling, at_least));
            }
        }
        if config.profile == CPU_RATIO.0 {
            targets.extend(cpu_target(config, CPU_RATIO.1));
        }
    }
    let largest = configs.iter().map(|c| c.rows).max().unwrap_or(0);
    for config in configs.iter().filter(|c| c.rows == largest) {
        targets.extend(rss_target(config));
    }
    targets
}

/// haul's speed as a fraction of the ceiling's, whole commands: ceiling wall / haul wall.
fn speed_target(config: &Config, haul: &str, ceiling: &str, at_least: f64) -> Option<Target> {
    let (h, c) = (config.find(haul)?, config.find(ceiling)?);
    Some(Target::ratio(
        format!(
            "{}, {} rows: {haul} speed against {ceiling}, the ceiling's wall / haul's wall",
            capitalised(config.profile.name()),
            thousands(config.rows)
        ),
        (c.median(WALL), h.median(WALL)),
        Bound::AtLeast(at_least),
        format!(
            "wall: haul {:.2} s, curl {:.2} s",
            h.median(WALL),
            c.median(WALL)
        ),
    ))
}

/// haul's CPU seconds against the ceiling's, both from the rusage of the child.
fn cpu_target(config: &Config, at_most: f64) -> Option<Target> {
    let (h, c) = (config.find(HAUL_C8)?, config.find(CEILING)?);
    Some(Target::ratio(
        format!(
            "{}, {} rows: {HAUL_C8} CPU seconds against {CEILING}, haul's / the ceiling's",
            capitalised(config.profile.name()),
            thousands(config.rows)
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
    let haul = config.find(HAUL_C8)?;
    Some(Target {
        claim: format!(
            "{}, {} rows: {HAUL_C8} peak RSS",
            capitalised(config.profile.name()),
            thousands(config.rows)
        ),
        bound: Bound::AtMost(RSS_LIMIT_MB),
        value: haul.median(RSS_MB),
        unit: " MB",
        basis: "median of the runs' peak RSS".into(),
    })
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}
