//! The Parquet benchmark's section: what was run, a table and a chart panel per profile and size,
//! the column types each output holds, the commands, and the targets of issue 14.

use std::fmt::Write as _;

use super::super::contender::{self, CPU, Contender, RSS_MB, WALL};
use super::super::report::{self, Group, Panel, table, thousands};
use super::super::target::{Bound, Target};
use super::super::{Bench, Section};
use super::{
    Config, HAUL_CSV, HAUL_PARQUET, PAGE_ROWS, Profile, SOQL, THEN_DUCKDB, THEN_PYARROW,
    THEN_UPLOAD, TO_S3,
};

/// How much faster haul's direct Parquet must be than the fastest download-then-convert.
const FASTER_THAN_CONVERTING: f64 = 1.5;
/// On the WAN, haul's Parquet wall time against its CSV's, at most.
const WAN_PARQUET_VS_CSV: f64 = 1.10;
/// haul's peak RSS writing Parquet at the largest size, in MB, and its growth from the smallest.
const RSS_LIMIT_MB: f64 = 128.0;
const RSS_GROWTH: f64 = 1.2;

pub(super) fn section(bench: &Bench, configs: &[Config]) -> Section {
    let mut md = introduction(bench.runs);
    let mut panels = Vec::new();
    for config in configs {
        md.push_str(&config_table(config));
        panels.push(panel(config));
    }
    if let Some(config) = configs.iter().find(|c| !c.schemas.is_empty()) {
        md.push_str(&schema_table(config));
    }
    let _ = writeln!(md, "Commands (one run; paths relative to the workspace):\n");
    if let Some(config) = configs.iter().max_by_key(|c| c.contenders.len()) {
        let commands = config
            .contenders
            .iter()
            .map(|c| (c.name.as_str(), c.command.as_str()));
        md.push_str(&report::commands(commands));
    }
    Section {
        name: "parquet",
        title: "5. Typed Parquet and object storage".into(),
        markdown: md,
        targets: targets(configs),
        untargeted: Vec::new(),
        svg: report::svg(
            "Bulk query to Parquet, wall seconds (lower is better)",
            &panels,
        ),
    }
}

fn introduction(runs: usize) -> String {
    format!(
        "The bulk query `{SOQL}` (`maxRecords` {PAGE_ROWS}, concurrency 8, `--no-gzip`) landed as \
         typed Parquet, zstd. **{HAUL_PARQUET}** writes it directly, with the schema haul takes \
         from describe. The alternatives download the CSV with haul (the fastest CSV download \
         there is) and then convert it under the same schema: **pyarrow** (`read_csv` with the \
         column types, multi-threaded, then `write_table`) and **DuckDB** (`COPY (SELECT * FROM \
         read_csv(..., columns=...)) TO ... (FORMAT parquet)`). `{HAUL_CSV}` is the CSV download \
         alone. On loopback, the same Parquet download goes to an S3 server (moto's, on \
         127.0.0.1) as a folder of part files, against a local download followed by a boto3 \
         upload of the folder. Every run's rows are checked (haul's summary; the converters' \
         files read back with pyarrow). Wall time, CPU seconds and peak RSS cover the whole \
         command, both steps for the pairs (the largest step's peak RSS). Medians of {runs} runs, \
         contenders one after the other against the same simulator.\n\n"
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
    let fastest = fastest_conversion(config).map(|c| c.median(WALL));
    let rows: Vec<Vec<String>> = config
        .contenders
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                format!("{:.2}", c.median(WALL)),
                format!("{:.0}", config.rows as f64 / c.median(WALL)),
                format!("{:.0}", c.median(RSS_MB)),
                format!("{:.2}", c.median(CPU)),
                fastest.map_or("–".into(), |f| format!("{:.2}x", f / c.median(WALL))),
            ]
        })
        .collect();
    md.push_str(&table(
        &[
            "contender",
            "wall s",
            "rows/s",
            "peak RSS MB",
            "CPU s",
            "speed vs the fastest download-then-convert",
        ],
        &rows,
    ));
    md.push('\n');
    md
}

/// Each column's type in each Parquet output, as pyarrow reads it.
fn schema_table(config: &Config) -> String {
    let mut md = format!(
        "Column types of each output (pyarrow's reading, {}, {} rows):\n\n",
        config.profile.name(),
        thousands(config.rows)
    );
    let mut header = vec!["column"];
    header.extend(config.schemas.iter().map(|(name, _)| name.as_str()));
    let columns: Vec<String> = config.schemas[0]
        .1
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let rows: Vec<Vec<String>> = columns
        .iter()
        .map(|column| {
            let mut row = vec![format!("`{column}`")];
            row.extend(config.schemas.iter().map(|(_, schema)| {
                schema[column]
                    .as_str()
                    .map_or("(absent)".into(), |t| format!("`{t}`"))
            }));
            row
        })
        .collect();
    md.push_str(&table(&header, &rows));
    md.push('\n');
    md
}

fn fastest_conversion(config: &Config) -> Option<&Contender> {
    [THEN_PYARROW, THEN_DUCKDB]
        .iter()
        .filter_map(|name| config.find(name))
        .min_by(|a, b| a.median(WALL).total_cmp(&b.median(WALL)))
}

fn panel(config: &Config) -> Panel {
    Panel {
        title: format!("{}, {} rows", config.profile.name(), thousands(config.rows)),
        unit: "s".into(),
        groups: vec![Group {
            label: "whole command".into(),
            bars: config
                .contenders
                .iter()
                .map(|c| (c.name.clone(), c.median(WALL)))
                .collect(),
        }],
    }
}

fn targets(configs: &[Config]) -> Vec<Target> {
    let mut targets = Vec::new();
    for config in configs {
        targets.extend(faster_than_converting(config));
        if config.profile == Profile::Wan {
            targets.extend(wall_ratio(
                config,
                HAUL_PARQUET,
                HAUL_CSV,
                WAN_PARQUET_VS_CSV,
            ));
        }
        targets.extend(store_target(config));
    }
    for profile in [Profile::Loopback, Profile::Wan] {
        targets.extend(rss_targets(configs, profile));
    }
    targets
}

fn claim(config: &Config, what: &str) -> String {
    let profile = config.profile.name();
    let mut chars = profile.chars();
    let capital: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    format!("{capital}, {} rows: {what}", thousands(config.rows))
}

/// The fastest download-then-convert's wall / haul's direct Parquet wall.
fn faster_than_converting(config: &Config) -> Option<Target> {
    let (haul, other) = (config.find(HAUL_PARQUET)?, fastest_conversion(config)?);
    Some(Target::ratio(
        claim(
            config,
            &format!(
                "{HAUL_PARQUET} speed against the fastest conversion ({}), its wall / haul's wall",
                other.name
            ),
        ),
        (other.median(WALL), haul.median(WALL)),
        Bound::AtLeast(FASTER_THAN_CONVERTING),
        format!(
            "wall: haul {:.2} s, conversion {:.2} s",
            haul.median(WALL),
            other.median(WALL)
        ),
    ))
}

/// `a`'s wall / `b`'s wall, at most `at_most`.
fn wall_ratio(config: &Config, a: &str, b: &str, at_most: f64) -> Option<Target> {
    let (x, y) = (config.find(a)?, config.find(b)?);
    Some(Target::ratio(
        claim(config, &format!("{a} wall / {b} wall")),
        (x.median(WALL), y.median(WALL)),
        Bound::AtMost(at_most),
        format!("wall: {:.2} s and {:.2} s", x.median(WALL), y.median(WALL)),
    ))
}

/// The download to the store at least as fast as the local download plus a separate upload.
fn store_target(config: &Config) -> Option<Target> {
    let (direct, pair) = (config.find(TO_S3)?, config.find(THEN_UPLOAD)?);
    Some(Target::ratio(
        claim(
            config,
            &format!("{TO_S3} speed against {THEN_UPLOAD}, its wall / haul's wall"),
        ),
        (pair.median(WALL), direct.median(WALL)),
        Bound::AtLeast(1.0),
        format!(
            "wall: to S3 {:.2} s, local then upload {:.2} s",
            direct.median(WALL),
            pair.median(WALL)
        ),
    ))
}

/// haul's Parquet peak RSS at the largest size, and its growth from the smallest.
fn rss_targets(configs: &[Config], profile: Profile) -> Vec<Target> {
    let mut sizes: Vec<&Config> = configs.iter().filter(|c| c.profile == profile).collect();
    sizes.sort_by_key(|c| c.rows);
    let (Some(small), Some(large)) = (sizes.first(), sizes.last()) else {
        return Vec::new();
    };
    let (Some(s), Some(l)) = (small.find(HAUL_PARQUET), large.find(HAUL_PARQUET)) else {
        return Vec::new();
    };
    vec![
        Target {
            claim: claim(large, &format!("{HAUL_PARQUET} peak RSS")),
            bound: Bound::AtMost(RSS_LIMIT_MB),
            value: l.median(RSS_MB),
            unit: " MB",
            basis: "median of the runs' peak RSS".into(),
        },
        Target::ratio(
            claim(
                large,
                &format!(
                    "{HAUL_PARQUET} peak RSS against {} rows",
                    thousands(small.rows)
                ),
            ),
            (l.median(RSS_MB), s.median(RSS_MB)),
            Bound::AtMost(RSS_GROWTH),
            format!(
                "peak RSS: {:.1} MB and {:.1} MB",
                l.median(RSS_MB),
                s.median(RSS_MB)
            ),
        ),
    ]
}
