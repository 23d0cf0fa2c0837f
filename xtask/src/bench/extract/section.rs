//! The extract benchmark's section: what was run, one table of the four runs, the comparison of
//! the rows each tool landed, the commands, and a chart.

use std::fmt::Write as _;

use super::super::contender::{self, CPU, Contender, RSS_MB, WALL};
use super::super::report::{self, Group, Panel, table, thousands};
use super::super::{Bench, Section};
use super::airbyte::{PACKAGE, START_DATE};
use super::{
    Comparison, JOBS, OBJECTS, Phase, REQUESTS, REST_QUERIES, ROWS, ROWS_PER_S, RUNS, Setup,
};

pub(super) fn section(bench: &Bench, contenders: &[Contender], setup: &Setup) -> Section {
    let mut md = introduction(bench, contenders, setup);
    md.push_str(&runs_table(contenders));
    let _ = writeln!(
        md,
        "\nRows each tool landed, by (Id, SystemModstamp), last round. *Missing* are rows haul \
         landed that Airbyte did not emit, *extra* the Ids Airbyte emitted that haul did not \
         land, *different* the Ids both have with another SystemModstamp:\n"
    );
    md.push_str(&comparison_table(&setup.comparisons));
    md.push_str("\nCommands (one run; paths relative to the workspace):\n\n");
    md.push_str(&report::commands(
        contenders
            .iter()
            .map(|c| (c.name.as_str(), c.command.as_str())),
    ));
    Section {
        name: "extract",
        title: "6. Extract: haul against Airbyte's Salesforce source".into(),
        markdown: md,
        targets: Vec::new(),
        untargeted: untargeted(contenders, setup),
        svg: report::svg(
            "Extract of 4 objects: haul sf extract and Airbyte's source-salesforce",
            &panels(contenders),
        ),
    }
}

fn introduction(bench: &Bench, contenders: &[Contender], setup: &Setup) -> String {
    let objects = OBJECTS.map(|(object, _)| object).join(", ");
    let updated: Vec<String> = setup
        .updated
        .iter()
        .map(|(object, rows)| format!("{object} {}", thousands(*rows)))
        .collect();
    format!(
        "The objects {objects}, {} rows each ({} in all), kept in a folder by **haul** (`haul sf \
         extract --format parquet`) and by **Airbyte's Salesforce source** ({}; `source-salesforce \
         read`, its messages written to a file), side by side against one simulator (`{}`, bulk \
         jobs complete 0.2 s after creation). A round: haul's full run, Airbyte's full run (its \
         catalog in incremental mode on SystemModstamp, no state, `start_date` {START_DATE}, the \
         first day of the simulator's data), then 1% of each object's rows updated through `haul \
         sf ingest` (every hundredth Id: {}; unmeasured), then haul's incremental run (same \
         command, same folder) and Airbyte's (`--state` with the last STATE message of each \
         stream from its full run). A fresh simulator each round. Airbyte runs unmodified except \
         for its hard-wired login host (see the notes). *API requests* are the requests under \
         `/services/data` that the simulator counted during the run (what the org's \
         `DailyApiRequests` counts: REST and Bulk API calls, result pages included; the OAuth \
         token request is not one); *bulk jobs* are Bulk API 2.0 query jobs created, *REST \
         queries* the `query`/`queryAll` requests and their further batches. Wall time, CPU and \
         peak RSS are the process's own (Airbyte's Python process, through `exec`). Medians of {} \
         rounds. Load average (1 min) before the runs: {}.\n\n",
        thousands(setup.rows_each),
        thousands(setup.rows_each * OBJECTS.len() as u64),
        if setup.versions.is_empty() {
            PACKAGE.to_owned()
        } else {
            setup.versions.clone()
        },
        setup.sim_command,
        updated.join(", "),
        bench.runs,
        report::load_range(&contender::loads(contenders)),
    )
}

fn runs_table(contenders: &[Contender]) -> String {
    let rows: Vec<Vec<String>> = contenders
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                format!("{:.2}", c.median(WALL)),
                thousands(c.median(ROWS) as u64),
                format!("{:.0}", c.median(ROWS_PER_S)),
                format!("{:.0}", c.median(REQUESTS)),
                format!("{:.0}", c.median(JOBS)),
                format!("{:.0}", c.median(REST_QUERIES)),
                format!("{:.0}", c.median(RSS_MB)),
                format!("{:.2}", c.median(CPU)),
            ]
        })
        .collect();
    table(
        &[
            "contender",
            "wall s",
            "rows",
            "rows/s",
            "API requests",
            "bulk jobs",
            "REST queries",
            "peak RSS MB",
            "CPU s",
        ],
        &rows,
    )
}

fn comparison_table(comparisons: &[Comparison]) -> String {
    let rows: Vec<Vec<String>> = comparisons
        .iter()
        .map(|c| {
            vec![
                c.phase.name().to_owned(),
                c.object.clone(),
                thousands(c.haul_rows),
                thousands(c.airbyte_records),
                thousands(c.airbyte_ids),
                thousands(c.missing),
                thousands(c.extra),
                thousands(c.different),
            ]
        })
        .collect();
    table(
        &[
            "run",
            "object",
            "haul rows",
            "Airbyte records",
            "Airbyte distinct Ids",
            "missing",
            "extra",
            "different",
        ],
        &rows,
    )
}

/// Issue 15 sets no numeric target; the summary gives the figures and whether the rows agree.
fn untargeted(contenders: &[Contender], setup: &Setup) -> Vec<String> {
    let find = |i: usize| contenders.get(i);
    let (Some(hf), Some(af), Some(hi), Some(ai)) = (find(0), find(1), find(2), find(3)) else {
        return Vec::new();
    };
    let differences: u64 = setup
        .comparisons
        .iter()
        .map(|c| c.missing + c.extra + c.different)
        .sum();
    let agreement = if differences == 0 && !setup.comparisons.is_empty() {
        "both landed the same rows in both runs".to_owned()
    } else {
        format!("{differences} rows differ between them (see the section)")
    };
    vec![format!(
        "Extract ({} objects, {} rows; no numeric target in issue 15): full run haul {:.2} s, \
         {:.0} API requests, {:.0} MB; Airbyte {:.1} s, {:.0} requests, {:.0} MB. Incremental \
         run (1% changed) haul {:.2} s, {:.0} requests; Airbyte {:.1} s, {:.0} requests; {agreement}.",
        OBJECTS.len(),
        thousands(setup.rows_each * OBJECTS.len() as u64),
        hf.median(WALL),
        hf.median(REQUESTS),
        hf.median(RSS_MB),
        af.median(WALL),
        af.median(REQUESTS),
        af.median(RSS_MB),
        hi.median(WALL),
        hi.median(REQUESTS),
        ai.median(WALL),
        ai.median(REQUESTS),
    )]
}

fn panels(contenders: &[Contender]) -> Vec<Panel> {
    let group = |phase: Phase, figure: &str| Group {
        label: phase.name().into(),
        bars: RUNS
            .iter()
            .zip(contenders)
            .filter(|((_, p), _)| *p == phase)
            .map(|((tool, _), c)| (tool.name().to_owned(), c.median(figure)))
            .collect(),
    };
    let panel = |title: &str, unit: &str, figure: &str| Panel {
        title: title.into(),
        unit: unit.into(),
        groups: vec![
            group(Phase::Full, figure),
            group(Phase::Incremental, figure),
        ],
    };
    vec![
        panel("Wall time", "seconds", WALL),
        panel("Rows per second", "rows/s", ROWS_PER_S),
        panel("API requests", "count", REQUESTS),
        panel("Peak RSS", "MB", RSS_MB),
    ]
}
