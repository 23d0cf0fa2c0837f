//! Part 5: a Databricks statement's result downloaded with `haul databricks query` under the fault
//! plan, to CSV (from CSV chunks) and to Parquet (from `ARROW_STREAM` chunks), one fresh simulator a
//! seed and output, compared byte for byte and row by row with a fault-free reference. Besides the
//! workspace's tokens, the external links are expired during the run
//! (`POST /__sim/databricks/expire-links`), so that links are asked for again through the chunk
//! endpoint.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use super::expire::Expirer;
use super::files::{self, CsvFacts};
use super::probe::Seen;
use super::{EXPIRE_EVERY, FIRST_EXPIRY, Reliability, Section};
use crate::bench::download::thousands;
use crate::bench::measure::{self, Job};
use crate::bench::report::table;
use crate::bench::sim::{Sim, curl_json};

/// Every column of the generated orders table; `order_id` (first) is the row's id. `note` holds
/// commas, quotes, line breaks and non-ASCII text; most columns hold nulls.
pub(crate) const SQL: &str = "SELECT order_id, customer_id, amount, discount, paid, order_date, updated_at, note FROM main.sales.orders";
/// Chunks of the result: small chunks make hundreds of requests, so that every run meets faults.
const CHUNKS: u64 = 200;
/// When the first forced link expiry comes after a run starts, and how often the next ones do:
/// as often as tokens expire, so that a chunk fetched again after a fault or a `Retry-After` often
/// finds its link expired. (Databricks documents links that live about 15 minutes.) Every second,
/// nearly every retried attempt met an expired link first, so that an attempt made up to three
/// requests, each faulted at 10%: 3 of 40 runs had a chunk use up its 6 attempts.
const FIRST_LINK_EXPIRY: Duration = Duration::from_millis(500);
const LINK_EXPIRE_EVERY: Duration = Duration::from_secs(2);
/// Route templates of the simulator's statistics.
const STATEMENTS: &str = "/api/2.0/sql/statements";
const CHUNK_ROUTE: &str = "/api/2.0/sql/statements/{statement_id}/result/chunks/{chunk_index}";
const STORAGE: &str = "/haul-sim-results/";

/// The two outputs: CSV from CSV chunks, Parquet from Arrow IPC chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    Csv,
    Parquet,
}

impl Output {
    const ALL: [Self; 2] = [Self::Csv, Self::Parquet];

    fn name(self) -> &'static str {
        match self {
            Self::Csv => "CSV",
            Self::Parquet => "Parquet",
        }
    }

    fn file(self, stem: &str) -> String {
        match self {
            Self::Csv => format!("{stem}.csv"),
            Self::Parquet => format!("{stem}.parquet"),
        }
    }

    /// Size, SHA-256, rows and the multiset of `order_id`s of an output.
    fn examine(self, path: &Path) -> Result<CsvFacts> {
        match self {
            Self::Csv => files::examine(path),
            Self::Parquet => files::examine_parquet(path),
        }
    }
}

/// What the simulator counted of the Databricks side of a run.
#[derive(Debug, Clone, Default)]
struct Counts {
    /// API requests refused for their token (403 `Invalid access token.`, or 401).
    token_refusals: u64,
    /// Chunk GETs that storage refused with 403: their link had expired.
    links_refused: u64,
    /// `GET .../result/chunks/{chunk_index}` answered 200: new links.
    chunk_links: u64,
}

impl Counts {
    fn read(sim: &Sim) -> Result<Self> {
        let stats = curl_json(
            "GET",
            &format!("{}/__sim/stats", sim.instance_url),
            None,
            None,
        )?;
        let mut counts = Self::default();
        for entry in stats["requests"].as_array().context("stats.requests")? {
            let route = entry["route"].as_str().unwrap_or("");
            let status = entry["status"].as_u64().unwrap_or(0);
            let n = entry["count"].as_u64().unwrap_or(0);
            if route.starts_with(STATEMENTS) && (status == 401 || status == 403) {
                counts.token_refusals += n;
            }
            if route.starts_with(STORAGE) && status == 403 {
                counts.links_refused += n;
            }
            if route == CHUNK_ROUTE && status == 200 {
                counts.chunk_links += n;
            }
        }
        Ok(counts)
    }
}

/// One seed's run of one output.
#[derive(Debug)]
struct Run {
    seed: u64,
    output: Output,
    wall: Option<f64>,
    facts: Option<CsvFacts>,
    lost: u64,
    duplicated: u64,
    identical: bool,
    seen: Seen,
    counts: Counts,
    token_expiries: u64,
    link_expiries: u64,
    failure: Option<String>,
}

/// The fault-free reference of one output, and the command that made it.
#[derive(Debug)]
struct Reference {
    output: Output,
    facts: CsvFacts,
    command: String,
}

pub(super) fn run(rel: &Reliability) -> Result<Section> {
    let mut references = Vec::new();
    for output in Output::ALL {
        eprintln!(
            "reliability: databricks, fault-free {} reference ({} rows)",
            output.name(),
            rel.databricks_rows
        );
        references.push(reference(rel, output)?);
    }
    let mut runs = Vec::new();
    let mut command = String::new();
    for seed in 1..=rel.seeds {
        for reference in &references {
            let (run, shown) = one_seed(rel, seed, reference);
            eprintln!(
                "reliability:   databricks seed {seed} {}: {}",
                reference.output.name(),
                summary(&run)
            );
            command = shown;
            runs.push(run);
        }
    }
    for output in Output::ALL {
        remove_output(&rel.work.join(output.file("databricks-run")));
    }
    Ok(section(rel, &references, &command, &runs))
}

fn chunk_rows(rel: &Reliability) -> u64 {
    (rel.databricks_rows / CHUNKS).max(1)
}

fn sim_args(rel: &Reliability) -> Vec<String> {
    vec![
        "--databricks-rows".into(),
        rel.databricks_rows.to_string(),
        "--databricks-chunk-rows".into(),
        chunk_rows(rel).to_string(),
    ]
}

/// `haul databricks query` against `sim`, as a service principal (OAuth M2M, so that a refused
/// token can be renewed), with the credentials in its environment.
fn haul_job(rel: &Reliability, sim: &Sim, out: &Path) -> Job {
    let db = &sim.databricks;
    Job::new(rel.haul(), Duration::from_secs(600))
        .env("DATABRICKS_HOST", db.host.clone())
        .env("DATABRICKS_CLIENT_ID", db.client_id.clone())
        .env("DATABRICKS_CLIENT_SECRET", db.client_secret.clone())
        .args(["--quiet", "--json", "databricks", "query", SQL])
        .args(["--warehouse", db.warehouse_id.as_str(), "--overwrite", "-o"])
        .arg(out)
}

/// An output and its manifest.
fn remove_output(path: &Path) {
    let _ = std::fs::remove_file(path);
    let mut manifest = path.as_os_str().to_owned();
    manifest.push(".manifest.json");
    let _ = std::fs::remove_file(PathBuf::from(manifest));
}

/// Two fault-free downloads of `output`; fails unless both hold exactly the table's rows, each
/// `order_id` once, and are byte-identical (so that a faulty run can be held to the same bytes).
fn reference(rel: &Reliability, output: Output) -> Result<Reference> {
    let mut seen: Vec<CsvFacts> = Vec::new();
    let mut command = String::new();
    for attempt in 1..=2 {
        let name = format!("databricks-ref-{}-{attempt}", output.name().to_lowercase());
        let sim = Sim::start(
            &rel.root,
            &sim_args(rel),
            &rel.logs.join(format!("{name}-sim.log")),
        )?;
        let out = rel.work.join(output.file(&name));
        remove_output(&out);
        let job = haul_job(rel, &sim, &out);
        measure::run(&job, &rel.logs.join(format!("{name}.log")))
            .with_context(|| format!("the fault-free {} reference", output.name()))?;
        let facts = output.examine(&out)?;
        if facts.rows != rel.databricks_rows || facts.ids.len() as u64 != rel.databricks_rows {
            bail!(
                "the fault-free {} reference holds {} rows ({} distinct order_ids), not {}",
                output.name(),
                facts.rows,
                facts.ids.len(),
                rel.databricks_rows
            );
        }
        if let Some(first) = seen.first().filter(|first| first.sha256 != facts.sha256) {
            bail!(
                "two fault-free {} downloads differ (SHA-256 {} and {}): the output is not \
                 deterministic, so runs cannot be compared byte for byte",
                output.name(),
                first.sha256,
                facts.sha256
            );
        }
        command = super::report::masked(&job.display(&rel.root), &sim);
        remove_output(&out);
        seen.push(facts);
    }
    Ok(Reference {
        output,
        facts: seen.swap_remove(0),
        command,
    })
}

/// One seed: a faulty simulator, forced token and link expiries, the download, the comparison.
fn one_seed(rel: &Reliability, seed: u64, reference: &Reference) -> (Run, String) {
    let output = reference.output;
    let out = rel.work.join(output.file("databricks-run"));
    let mut run = Run {
        seed,
        output,
        wall: None,
        facts: None,
        lost: 0,
        duplicated: 0,
        identical: false,
        seen: Seen::default(),
        counts: Counts::default(),
        token_expiries: 0,
        link_expiries: 0,
        failure: None,
    };
    let mut args = sim_args(rel);
    args.extend(Reliability::fault_args(seed));
    let tag = format!("databricks-seed{seed}-{}", output.name().to_lowercase());
    let log = |name: &str| rel.logs.join(format!("{tag}-{name}.log"));
    let sim = match Sim::start(&rel.root, &args, &log("sim")) {
        Ok(sim) => sim,
        Err(error) => {
            run.failure = Some(format!("the simulator did not start: {error:#}"));
            return (run, String::new());
        }
    };
    remove_output(&out);
    let job = haul_job(rel, &sim, &out);
    let tokens = Expirer::start(&sim.instance_url, FIRST_EXPIRY, EXPIRE_EVERY);
    let links = Expirer::posting(
        format!("{}/__sim/databricks/expire-links", sim.instance_url),
        FIRST_LINK_EXPIRY,
        LINK_EXPIRE_EVERY,
    );
    let outcome = measure::run(&job, &log("haul"));
    run.token_expiries = tokens.stop();
    run.link_expiries = links.stop();
    run.seen = Seen::read(&sim).unwrap_or_default();
    run.counts = Counts::read(&sim).unwrap_or_default();
    match outcome {
        Ok(seen) => run.wall = Some(seen.wall.as_secs_f64()),
        Err(error) => {
            // Paths relative to the workspace, as the report shows every other path.
            let prefix = format!("{}/", rel.root.display());
            run.failure = Some(format!("haul failed: {error:#}").replace(&prefix, ""));
        }
    }
    if run.failure.is_none() {
        compare(&mut run, &reference.facts, &out);
    }
    (
        run,
        format!(
            "{}  # simulator: {}",
            super::report::masked(&job.display(&rel.root), &sim),
            sim.command
        ),
    )
}

/// Fills in the comparison with the reference; a difference of any kind fails the run, and so
/// does a run in which no fault, no token refresh or no link renewal happened.
fn compare(run: &mut Run, reference: &CsvFacts, out: &Path) {
    let facts = match run.output.examine(out) {
        Ok(facts) => facts,
        Err(error) => {
            run.failure = Some(format!(
                "the output is not readable {}: {error:#}",
                run.output.name()
            ));
            return;
        }
    };
    (run.lost, run.duplicated) = files::lost_and_duplicated(reference, &facts);
    run.identical = facts.sha256 == reference.sha256;
    let mut problems = Vec::new();
    if !run.identical {
        problems.push("SHA-256 differs from the reference".to_owned());
    }
    if run.lost + run.duplicated > 0 {
        problems.push(format!(
            "{} rows lost, {} duplicated",
            run.lost, run.duplicated
        ));
    }
    if run.seen.faults.values().sum::<u64>() == 0 {
        problems.push("no fault was injected: the run proves nothing".to_owned());
    }
    if run.seen.grants < 2 {
        problems.push("no token refresh happened during the run".to_owned());
    }
    if run.counts.links_refused == 0 {
        problems.push("no link renewal happened (storage refused no expired link)".to_owned());
    }
    if !problems.is_empty() {
        run.failure = Some(problems.join("; "));
    }
    run.facts = Some(facts);
}

fn summary(run: &Run) -> String {
    match &run.failure {
        Some(why) => format!("FAILED: {why}"),
        None => format!(
            "identical, {:.1} s, faults {}, {} token grants, {} expired links refused",
            run.wall.unwrap_or_default(),
            run.seen.faults_text(),
            run.seen.grants,
            run.counts.links_refused
        ),
    }
}

fn section(rel: &Reliability, references: &[Reference], command: &str, runs: &[Run]) -> Section {
    let mut md = String::new();
    let failed = runs.iter().filter(|r| r.failure.is_some()).count();
    let compared: u64 = runs
        .iter()
        .filter_map(|r| r.facts.as_ref())
        .map(|f| f.bytes)
        .sum();
    let lost: u64 = runs.iter().map(|r| r.lost).sum();
    let duplicated: u64 = runs.iter().map(|r| r.duplicated).sum();
    md.push_str(&introduction(rel, references));
    let _ = writeln!(
        md,
        "**Result: {} of {} runs byte-identical to their reference; {} bytes compared; rows lost: \
         {lost}; rows duplicated: {duplicated}.**{}\n",
        runs.len() - failed,
        runs.len(),
        thousands(compared),
        if failed > 0 {
            " **FAILED runs are marked below.**"
        } else {
            ""
        }
    );
    md.push_str(&table(&header(), &runs.iter().map(row).collect::<Vec<_>>()));
    let _ = writeln!(
        md,
        "\nToken grants are successful `POST /oidc/v1/token` answers (the first token plus every \
         renewal); token refusals are API requests answered 403 `Invalid access token.` (or 401). \
         Expired links refused are chunk GETs that storage answered 403 (`AccessDenied`, \"Request \
         has expired\"); new links are `GET .../result/chunks/{{chunk_index}}` answers. Token \
         expiries and link expiries are the forced `POST /__sim/expire-tokens` and \
         `POST /__sim/databricks/expire-links` calls during the run.\n\n\
         Commands (paths relative to the workspace):\n\n```sh"
    );
    for reference in references {
        let _ = writeln!(
            md,
            "# {} reference\n{}",
            reference.output.name(),
            reference.command
        );
    }
    let _ = writeln!(md, "# under faults (the last run)\n{command}\n```\n");
    Section {
        title: "Databricks under faults".into(),
        markdown: md,
        failures: runs
            .iter()
            .filter_map(|r| {
                Some(format!(
                    "databricks seed {} {}: {}",
                    r.seed,
                    r.output.name(),
                    r.failure.as_ref()?
                ))
            })
            .collect(),
    }
}

fn introduction(rel: &Reliability, references: &[Reference]) -> String {
    let mut md = format!(
        "`{SQL}` over {} generated rows of `main.sales.orders` (`note` holds commas, doubled quotes, \
         line breaks and non-ASCII text; most columns hold nulls), in chunks of {} rows \
         (`--databricks-chunk-rows`, {CHUNKS} chunks, so that a run makes hundreds of requests), \
         downloaded by `haul databricks query` with its defaults (8 chunks at once) as a service \
         principal (`DATABRICKS_CLIENT_ID`/`DATABRICKS_CLIENT_SECRET`, OAuth M2M), once to CSV \
         (CSV chunks) and once to Parquet (`ARROW_STREAM` chunks, converted as they arrive). \
         Besides the tokens, every external link issued so far is expired through `POST \
         /__sim/databricks/expire-links` {} ms after a run starts and every {} s after, so that a \
         chunk fetched again after a fault finds its link expired and must ask the chunk endpoint \
         for a new one (every 2 s, as tokens; at every 1 s, 3 of 40 runs had a chunk use up its 6 \
         attempts, since nearly every retried attempt then met an expired link first and made up \
         to three requests, each faulted at 10%). A run also fails when no fault was injected, no token refresh happened or \
         storage refused no expired link. References: for each output, two fault-free downloads, \
         which must be byte-identical (haul's Parquet is deterministic) and hold every row once:",
        thousands(rel.databricks_rows),
        thousands(chunk_rows(rel)),
        FIRST_LINK_EXPIRY.as_millis(),
        LINK_EXPIRE_EVERY.as_secs()
    );
    for reference in references {
        let _ = write!(
            md,
            " {} {} bytes, {} rows, SHA-256 `{}`;",
            reference.output.name(),
            thousands(reference.facts.bytes),
            thousands(reference.facts.rows),
            reference.facts.sha256
        );
    }
    md.pop();
    md.push_str(
        ". Then one fresh simulator per seed and output with the fault plan; each output is \
         compared with its reference by SHA-256, its rows read back (CSV with the `csv` crate, \
         Parquet with the `parquet` crate's Arrow reader) and their `order_id`s compared as a \
         multiset: rows lost are reference ids missing, rows duplicated are ids beyond their count \
         in the reference.\n\n",
    );
    md
}

fn header() -> Vec<&'static str> {
    vec![
        "seed",
        "output",
        "result",
        "wall s",
        "bytes",
        "rows",
        "identical",
        "lost",
        "duplicated",
        "503",
        "429",
        "reset",
        "truncate",
        "token expiries",
        "token grants",
        "token refusals",
        "link expiries",
        "expired links refused",
        "new links",
        "requests",
    ]
}

fn row(run: &Run) -> Vec<String> {
    let fault = |k: &str| run.seen.faults.get(k).copied().unwrap_or(0).to_string();
    let facts = run.facts.as_ref();
    vec![
        run.seed.to_string(),
        run.output.name().into(),
        super::report::verdict(run.failure.as_deref()),
        run.wall.map_or("–".into(), |w| format!("{w:.1}")),
        facts.map_or("–".into(), |f| thousands(f.bytes)),
        facts.map_or("–".into(), |f| thousands(f.rows)),
        if run.identical { "yes" } else { "no" }.into(),
        run.lost.to_string(),
        run.duplicated.to_string(),
        fault("503"),
        fault("429"),
        fault("reset"),
        fault("truncate"),
        run.token_expiries.to_string(),
        run.seen.grants.to_string(),
        run.counts.token_refusals.to_string(),
        run.link_expiries.to_string(),
        run.counts.links_refused.to_string(),
        run.counts.chunk_links.to_string(),
        run.seen.requests.to_string(),
    ]
}
