//! The download benchmark's section of the report: what was run, one table and one chart panel per
//! profile and size, the commands, and the targets.

use std::fmt::Write as _;

use super::super::contender::{self, CPU, Contender, RSS_MB, WALL};
use super::super::report::{self, Group, Panel, figure, table, thousands};
use super::super::{Bench, Section};
use super::{
    CEILING, Config, DEV_NULL, GZIP_CEILING, PAGE_ROWS, PEER, PHASE, SIM_CPU, SOQL, ceiling_of,
    mbps, phase_mbps, targets,
};

pub(super) fn section(bench: &Bench, configs: &[Config]) -> Section {
    let mut md = introduction(bench.runs);
    let mut panels = Vec::new();
    for config in configs {
        md.push_str(&config_table(config));
        panels.push(panel(config));
    }
    let _ = writeln!(md, "Commands (one run; paths relative to the workspace):\n");
    if let Some(config) = configs.first() {
        let commands = config
            .contenders
            .iter()
            .map(|c| (c.name.as_str(), c.command.as_str()));
        md.push_str(&report::commands(commands));
    }
    Section {
        name: "download",
        title: "1. Download".into(),
        markdown: md,
        targets: targets::targets(configs),
        untargeted: Vec::new(),
        svg: report::svg("Bulk query download, MB/s (higher is better)", &panels),
    }
}

fn introduction(runs: usize) -> String {
    format!(
        "A bulk query (`{SOQL}`) over an Account table, `maxRecords` {PAGE_ROWS}, downloaded to a file. \
         The ceilings are curl fetching the same result pages (listed beforehand from one finished \
         job) over 8 parallel connections of one process: `{CEILING}` writes each page to its own \
         file, `{GZIP_CEILING}` does the same with gzip on the wire, `{DEV_NULL}` writes nothing; the \
         files are checked after each run (every page there, and as many bytes as were received). \
         The simulator's job completes as soon as its result set is built (`--job-seconds 0`). \
         Medians of {runs} runs per contender, all contenders of a table run one after the other \
         against the same simulator, round after round. Wall time is the whole command: process \
         start, job creation, waiting, listing, downloading, writing. haul's download phase \
         (`elapsed_ms` of its `--json` summary) starts once the job is complete. MB are 10^6 bytes \
         of CSV received (inflated, for gzip). Peak RSS and CPU seconds are the contender's own \
         (rusage of the child, for curl as for haul); sim CPU is what the simulator spent \
         meanwhile.\n\n\
         **Compression.** haul asks for gzip by default (the library's `gzip(true)`); so does \
         simple-salesforce (requests). In these tables haul runs with `--no-gzip` and \
         simple-salesforce with `Accept-Encoding: identity`, so that they move the same bytes as \
         `{CEILING}`: on loopback the link costs nothing and compression only burns CPU on the two \
         cores that the simulator and the client share; on the WAN profile the point is a \
         network-bound comparison, and with gzip the simulator's compressor (not the network) \
         becomes the limit. One extra row shows haul at concurrency 8 with gzip on, the library \
         default, compared with `{GZIP_CEILING}`.\n\n"
    )
}

fn config_table(config: &Config) -> String {
    let mut md = format!(
        "### {}, {} rows\n\nSimulator: `{}`. Load average (1 min) before the runs: {}.\n\n",
        config.profile.name(),
        thousands(config.rows),
        config.sim_command,
        report::load_range(&contender::loads(&config.contenders))
    );
    let rows: Vec<Vec<String>> = config
        .contenders
        .iter()
        .map(|c| table_row(config, c))
        .collect();
    md.push_str(&table(
        &[
            "contender",
            "wall s",
            "download phase s",
            "MB",
            "MB/s (wall)",
            "MB/s (download phase)",
            "peak RSS MB",
            "CPU s",
            "sim CPU s",
            "vs its ceiling (MB/s, wall)",
            "vs simple-salesforce (MB/s, wall)",
        ],
        &rows,
    ));
    md.push('\n');
    md
}

fn table_row(config: &Config, c: &Contender) -> Vec<String> {
    let vs = |other: Option<&Contender>| {
        other.map_or("–".into(), |o| format!("{:.2}x", mbps(c) / mbps(o)))
    };
    vec![
        c.name.clone(),
        format!("{:.2}", c.median(WALL)),
        c.get(PHASE).map_or("–".into(), |p| format!("{p:.2}")),
        format!("{:.0}", c.median(super::BYTES) / 1e6),
        figure(mbps(c)),
        phase_mbps(c).map_or("–".into(), figure),
        format!("{:.0}", c.median(RSS_MB)),
        format!("{:.2}", c.median(CPU)),
        format!("{:.2}", c.median(SIM_CPU)),
        vs(config.find(ceiling_of(&c.name))),
        vs(config.find(PEER)),
    ]
}

fn panel(config: &Config) -> Panel {
    let whole = config
        .contenders
        .iter()
        .map(|c| (c.name.clone(), mbps(c)))
        .collect();
    // haul's download phase beside what curl does in the whole command.
    let phase = config
        .contenders
        .iter()
        .filter_map(|c| match phase_mbps(c) {
            Some(v) => Some((c.name.clone(), v)),
            None if c.name.starts_with("curl") => Some((c.name.clone(), mbps(c))),
            None => None,
        })
        .collect();
    Panel {
        title: format!("{}, {} rows", config.profile.name(), thousands(config.rows)),
        unit: "MB/s".into(),
        groups: vec![
            Group {
                label: "whole command".into(),
                bars: whole,
            },
            Group {
                label: "download phase (haul) vs the ceilings".into(),
                bars: phase,
            },
        ],
    }
}
