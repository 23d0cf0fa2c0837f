//! The Databricks benchmark's section of the report: what was run, one table and one chart panel
//! per profile, the commands, and the targets.

use std::fmt::Write as _;

use super::super::contender::{self, CPU, Contender, RSS_MB, WALL};
use super::super::report::{self, Group, Panel, figure, table, thousands};
use super::super::{Bench, Section};
use super::{BYTES, CEILING, Config, PHASE, ROWS, SDK, SIM_CPU, SQL, mrows_per_s, targets};

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
    md.push_str(
        "\nThe documented loop (`target/bench/scripts/databricks_sdk_download.py`):\n\n```python\n",
    );
    md.push_str(super::SDK_DOWNLOAD.trim());
    md.push_str("\n```\n");
    Section {
        name: "databricks",
        title: "7. Databricks statement results".into(),
        markdown: md,
        targets: targets::targets(configs),
        untargeted: targets::untargeted(configs),
        svg: report::svg(
            "Databricks EXTERNAL_LINKS download, million rows/s (higher is better)",
            &panels,
        ),
    }
}

fn introduction(runs: usize) -> String {
    format!(
        "A Databricks SQL statement (`{SQL}`) over the simulator's generated `main.sales.orders` \
         (8 typed columns; `note` holds commas, quotes, line breaks and non-ASCII text), its result \
         in `EXTERNAL_LINKS` chunks on the simulator's second origin (standing in for cloud \
         storage), downloaded to one file. haul runs `haul databricks query` with its defaults \
         (8 chunks at once) to CSV (CSV chunks) and to Parquet (`ARROW_STREAM` chunks converted as \
         they arrive). `{SDK}` is the Databricks SDK for Python 0.162.0 used as its API reference \
         and the Statement Execution API tutorial show: `execute_statement` with `EXTERNAL_LINKS` \
         and CSV, then each chunk's link fetched with `requests` in order and appended to one file, \
         the next link through `get_statement_result_chunk_n` (the script is below). `{CEILING}` is \
         curl fetching the chunks of one finished statement, their links listed beforehand through \
         the chunk endpoint, over 8 parallel connections of one process, each chunk to its own \
         file (checked: every chunk there, as many bytes as its link declares). All authenticate \
         with the workspace's personal access token. Every run gets a fresh simulator \
         (`--job-seconds 0`: statements finish as soon as their result is built), so that each \
         statement is the simulator's first and every contender's chunks are served alike. \
         Medians of {runs} runs per contender, one after the other, round after round. Wall time is \
         the whole command: process start, statement, waiting, links, downloading, writing (the \
         ceiling's statement and links are made before its run); haul's download phase (`elapsed_ms` of \
         its `--json` summary) starts once the statement has succeeded, and it is what the speed \
         targets compare with the ceiling, whose statement also ran before it started (the \
         whole command adds the statement's run on the warehouse, the same for every client). Rows \
         are checked after each run: \
         the CSV outputs read with the `csv` crate and the Parquet output with the `parquet` \
         crate's Arrow reader, every row there and each `order_id` once (the ceiling: the rows the \
         manifest declares). Peak RSS and CPU seconds are the contender's own (rusage of the \
         child); sim CPU is what the simulator spent meanwhile.\n\n"
    )
}

fn config_table(config: &Config) -> String {
    let mut md = format!(
        "### {}, {} rows in chunks of {}\n\nSimulator: `{}` (fresh for each run). Load average (1 \
         min) before the runs: {}.\n\n",
        config.profile.name(),
        thousands(config.rows),
        thousands(config.chunk_rows),
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
            "rows",
            "output MB",
            "M rows/s",
            "peak RSS MB",
            "CPU s",
            "sim CPU s",
            "vs the ceiling (wall)",
            "vs the SDK loop (wall)",
        ],
        &rows,
    ));
    md.push('\n');
    md
}

fn table_row(config: &Config, c: &Contender) -> Vec<String> {
    let vs = |other: Option<&Contender>| {
        other.map_or("–".into(), |o| {
            format!("{:.2}x", o.median(WALL) / c.median(WALL))
        })
    };
    vec![
        c.name.clone(),
        format!("{:.2}", c.median(WALL)),
        c.get(PHASE).map_or("–".into(), |p| format!("{p:.2}")),
        thousands(c.median(ROWS) as u64),
        format!("{:.0}", c.median(BYTES) / 1e6),
        figure(mrows_per_s(c)),
        format!("{:.0}", c.median(RSS_MB)),
        format!("{:.2}", c.median(CPU)),
        format!("{:.2}", c.median(SIM_CPU)),
        vs(config.find(CEILING)),
        vs(config.find(SDK)),
    ]
}

fn panel(config: &Config) -> Panel {
    Panel {
        title: format!("{}, {} rows", config.profile.name(), thousands(config.rows)),
        unit: "M rows/s".into(),
        groups: vec![Group {
            label: "whole command".into(),
            bars: config
                .contenders
                .iter()
                .map(|c| (c.name.clone(), mrows_per_s(c)))
                .collect(),
        }],
    }
}
