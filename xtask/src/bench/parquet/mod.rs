//! Benchmark 5 (issue 14): typed Parquet straight from a bulk query against the ways people get it
//! today: download the CSV, then convert it with pyarrow or with DuckDB, under the same schema. And
//! the same download to an S3 server (moto's, on 127.0.0.1) against a local download plus a
//! separate upload.

mod s3;
mod section;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use self::s3::S3;
use super::contender::{self, Contender, Order, Trial};
use super::measure::{Job, Measurement};
use super::profile::Profile;
use super::sim::Sim;
use super::{Bench, Section};

const SOQL: &str = "SELECT Id, Name, Industry, NumberOfEmployees, AnnualRevenue, BillingCity, CreatedDate FROM Account";
const PAGE_ROWS: u64 = 50_000;

/// The schema haul takes from describe for [`SOQL`], as the converters are told it (pyarrow
/// types; DuckDB's are in its script).
const PYARROW_SCHEMA: &str = r#"pa.schema([
    ("Id", pa.string()), ("Name", pa.string()), ("Industry", pa.string()),
    ("NumberOfEmployees", pa.int32()), ("AnnualRevenue", pa.decimal128(18, 2)),
    ("BillingCity", pa.string()), ("CreatedDate", pa.timestamp("ms", tz="UTC")),
])"#;

const HAUL_PARQUET: &str = "haul → Parquet";
const HAUL_CSV: &str = "haul → CSV";
const THEN_PYARROW: &str = "haul → CSV, then pyarrow → Parquet";
const THEN_DUCKDB: &str = "haul → CSV, then DuckDB COPY → Parquet";
const TO_S3: &str = "haul → Parquet folder on S3";
const THEN_UPLOAD: &str = "haul → local Parquet folder, then boto3 upload";

/// The figure of the rows each run landed (checked against the table's rows).
const ROWS: &str = "rows";

/// What a contender runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Parquet,
    Csv,
    ThenPyarrow,
    ThenDuckdb,
    ToS3,
    ThenUpload,
}

const LOCAL: [(&str, Kind); 4] = [
    (HAUL_PARQUET, Kind::Parquet),
    (HAUL_CSV, Kind::Csv),
    (THEN_PYARROW, Kind::ThenPyarrow),
    (THEN_DUCKDB, Kind::ThenDuckdb),
];
const STORE: [(&str, Kind); 2] = [(TO_S3, Kind::ToS3), (THEN_UPLOAD, Kind::ThenUpload)];

const PYARROW_CONVERT: &str = r#"
import sys
import pyarrow as pa, pyarrow.csv as pc, pyarrow.parquet as pq
src, dst = sys.argv[1:3]
schema = SCHEMA
table = pc.read_csv(src, convert_options=pc.ConvertOptions(column_types=schema, strings_can_be_null=True))
pq.write_table(table.select(schema.names).cast(schema), dst, compression="zstd")
"#;

const DUCKDB_CONVERT: &str = r#"
import sys
import duckdb
src, dst = sys.argv[1:3]
columns = {"Id": "VARCHAR", "Name": "VARCHAR", "Industry": "VARCHAR", "NumberOfEmployees": "INTEGER",
           "AnnualRevenue": "DECIMAL(18,2)", "BillingCity": "VARCHAR", "CreatedDate": "TIMESTAMPTZ"}
duckdb.sql(f"COPY (SELECT * FROM read_csv('{src}', header=true, columns={columns!r})) "
           f"TO '{dst}' (FORMAT parquet, COMPRESSION zstd)")
"#;

/// Rows of a Parquet file or of a folder of them, and the schema of the first, as JSON.
const INSPECT: &str = r#"
import json, sys, pathlib
import pyarrow.parquet as pq
path = pathlib.Path(sys.argv[1])
files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
schema = pq.read_schema(files[0])
print(json.dumps({
    "rows": sum(pq.ParquetFile(f).metadata.num_rows for f in files),
    "schema": {field.name: str(field.type) for field in schema},
}))
"#;

/// One profile and data size, and what its contenders measured.
#[derive(Debug)]
struct Config {
    profile: Profile,
    rows: u64,
    sim_command: String,
    contenders: Vec<Contender>,
    /// Each Parquet output's column types, by contender, from the last round.
    schemas: Vec<(String, Value)>,
}

impl Config {
    fn find(&self, name: &str) -> Option<&Contender> {
        self.contenders.iter().find(|c| c.name == name)
    }
}

pub(super) fn run(bench: &Bench) -> Result<Section> {
    let sizes: &[u64] = if bench.quick {
        &[100_000, 400_000]
    } else {
        &[1_000_000, 4_000_000]
    };
    let s3 = S3::start(bench)?;
    let mut configs = Vec::new();
    for profile in [Profile::Loopback, Profile::Wan] {
        for &rows in sizes {
            // The store comparison runs where the simulator's link is not the limit.
            let store = (profile == Profile::Loopback).then_some(&s3);
            configs.push(run_config(bench, profile, rows, store)?);
        }
    }
    Ok(section::section(bench, &configs))
}

fn run_config(bench: &Bench, profile: Profile, rows: u64, s3: Option<&S3>) -> Result<Config> {
    let (tag, sim) = profile.start_accounts(bench, "parquet", rows)?;
    let kinds: Vec<(&str, Kind)> = LOCAL
        .iter()
        .chain(s3.map_or(&[][..], |_| &STORE[..]))
        .copied()
        .collect();
    let mut trial = Runs {
        bench,
        out: bench.work.join("out-parquet"),
        jobs: Vec::new(),
        kinds: kinds.iter().map(|(_, k)| *k).collect(),
        rows,
        s3,
    };
    // The conversions after the download get a minute more on the WAN.
    let limit = profile.limit(rows, Duration::from_secs(60));
    trial.jobs = kinds
        .iter()
        .map(|&(_, kind)| trial.job_of(&sim, kind, limit))
        .collect::<Result<_>>()?;
    let mut contenders: Vec<Contender> = kinds.iter().map(|(n, _)| Contender::new(*n)).collect();
    contender::rounds(
        bench,
        &tag,
        &mut contenders,
        Order::OneAfterAnother,
        &mut trial,
    )?;
    let schemas = trial.schemas(&kinds)?;
    let _ = std::fs::remove_dir_all(&trial.out);
    Ok(Config {
        profile,
        rows,
        sim_command: sim.command.clone(),
        contenders,
        schemas,
    })
}

/// The benchmark's side of each run: fresh outputs, the checks, the figures.
struct Runs<'a> {
    bench: &'a Bench,
    out: PathBuf,
    jobs: Vec<Job>,
    kinds: Vec<Kind>,
    rows: u64,
    s3: Option<&'a S3>,
}

impl Runs<'_> {
    /// Where a contender's Parquet lands locally (none for the store).
    fn parquet_of(&self, kind: Kind) -> Option<PathBuf> {
        Some(match kind {
            Kind::Parquet => self.out.join("haul.parquet"),
            Kind::ThenPyarrow => self.out.join("pyarrow.parquet"),
            Kind::ThenDuckdb => self.out.join("duckdb.parquet"),
            Kind::ThenUpload => self.out.join("upload/"),
            Kind::Csv | Kind::ToS3 => return None,
        })
    }

    fn job_of(&self, sim: &Sim, kind: Kind, limit: Duration) -> Result<Job> {
        let bench = self.bench;
        let csv = self.out.join("haul.csv");
        let then = |script: &str, text: &str, to: PathBuf| -> Result<Job> {
            Ok(then_python(
                haul(bench, sim, limit, &csv, "csv"),
                &bench.python,
                &bench.script(script, &text.replace("SCHEMA", PYARROW_SCHEMA))?,
                &[csv.clone(), to],
            ))
        };
        Ok(match kind {
            Kind::Parquet => haul(bench, sim, limit, &self.out.join("haul.parquet"), "parquet"),
            Kind::Csv => haul(bench, sim, limit, &csv, "csv"),
            Kind::ThenPyarrow => then(
                "pyarrow_convert.py",
                PYARROW_CONVERT,
                self.out.join("pyarrow.parquet"),
            )?,
            Kind::ThenDuckdb => then(
                "duckdb_convert.py",
                DUCKDB_CONVERT,
                self.out.join("duckdb.parquet"),
            )?,
            Kind::ToS3 => {
                let s3 = self.s3.context("the store contenders need the S3 server")?;
                let to = s3.url("haul/");
                s3.env(haul(bench, sim, limit, Path::new(&to), "parquet"))
            }
            Kind::ThenUpload => {
                let s3 = self.s3.context("the store contenders need the S3 server")?;
                let folder = self.out.join("upload/");
                let upload = s3.upload_script(bench)?;
                let job = haul(bench, sim, limit, &folder, "parquet");
                s3.env(then_python(
                    job,
                    &bench.python,
                    &upload,
                    &[folder, PathBuf::from(s3.bucket()), PathBuf::from("upload")],
                ))
            }
        })
    }

    /// The column types of every local Parquet output, as pyarrow reads them.
    fn schemas(&self, kinds: &[(&str, Kind)]) -> Result<Vec<(String, Value)>> {
        let mut schemas = Vec::new();
        for &(name, kind) in kinds {
            if let Some(path) = self.parquet_of(kind).filter(|p| p.exists()) {
                schemas.push((name.to_owned(), self.inspect(&path)?["schema"].clone()));
            }
        }
        Ok(schemas)
    }

    fn inspect(&self, path: &Path) -> Result<Value> {
        let script = self.bench.script("inspect_parquet.py", INSPECT)?;
        let output = std::process::Command::new(&self.bench.python)
            .arg(script)
            .arg(path)
            .output()?;
        if !output.status.success() {
            bail!(
                "reading {} back failed: {}",
                path.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(serde_json::from_slice(&output.stdout)?)
    }
}

impl Trial for Runs<'_> {
    fn job(&mut self, contender: usize, _round: usize) -> Result<Job> {
        // Each contender's output stays until its next run, so that the schemas can be compared.
        let kind = self.kinds[contender];
        let mut outputs = vec![self.out.join("haul.csv")];
        outputs.extend(self.parquet_of(kind));
        for path in outputs {
            // A complete output (its manifest beside it) would be refused without --overwrite.
            let _ = std::fs::remove_dir_all(&path);
            let _ = std::fs::remove_file(&path);
            let mut manifest = path.into_os_string();
            manifest.push(".manifest.json");
            let _ = std::fs::remove_file(manifest);
        }
        if let (Kind::ToS3 | Kind::ThenUpload, Some(s3)) = (kind, self.s3) {
            s3.empty_bucket()?;
        }
        std::fs::create_dir_all(&self.out)?;
        Ok(self.jobs[contender].clone())
    }

    fn figures(
        &mut self,
        contender: usize,
        seen: &Measurement,
    ) -> Result<Vec<(&'static str, f64)>> {
        let kind = self.kinds[contender];
        let summary: Value = serde_json::from_str(seen.stdout.trim())
            .with_context(|| format!("haul printed {:?}", seen.stdout))?;
        let wanted = if kind == Kind::Csv { "csv" } else { "parquet" };
        if !matches!(kind, Kind::ThenPyarrow | Kind::ThenDuckdb) && summary["format"] != wanted {
            bail!("{kind:?} wrote {}, not {wanted}", summary["format"]);
        }
        let mut rows = summary["records"].as_u64().context("records")?;
        // A converter's output is counted again, as it wrote it.
        if let (Kind::ThenPyarrow | Kind::ThenDuckdb, Some(path)) = (kind, self.parquet_of(kind)) {
            rows = self.inspect(&path)?["rows"].as_u64().context("rows")?;
        }
        if rows != self.rows {
            bail!("{kind:?} landed {rows} rows, not {}", self.rows);
        }
        Ok(vec![(ROWS, rows as f64)])
    }
}

/// haul's bulk query to `to` (a file, or a folder when it ends in `/`) in `format`, as a user
/// runs it (gzip off, as in the download benchmark, so that loopback does not measure
/// compression).
fn haul(bench: &Bench, sim: &Sim, limit: Duration, to: &Path, format: &str) -> Job {
    Job::new(bench.haul(), limit)
        .env("SF_INSTANCE_URL", sim.instance_url.clone())
        .env("SF_ACCESS_TOKEN", sim.access_token.clone())
        .env("SF_API_VERSION", "62.0")
        .args(["--quiet", "--json", "sf", "query", SOQL, "--no-gzip"])
        .args(["--format", format, "-o"])
        .arg(to)
        .args(["--concurrency", "8", "--max-records"])
        .arg(PAGE_ROWS.to_string())
}

/// `first`, then (if it succeeded) `python script ARGS`, as one measured command under bash,
/// whose children's rusage is the pair's. The words of both arrive as arguments, so that no path
/// or query is quoted into a script.
fn then_python(first: Job, python: &Path, script: &Path, args: &[PathBuf]) -> Job {
    let split = 1 + first.args.len();
    let mut job = Job::new("/bin/bash", first.timeout)
        .arg("-c")
        .arg(format!(
            r#"a=("$@"); "${{a[@]:0:{split}}}" && "${{a[@]:{split}}}" >/dev/null"#
        ))
        .arg("bash")
        .arg(first.program)
        .args(first.args)
        .arg(python)
        .arg(script)
        .args(args);
    for (name, value) in first.env {
        job = job.env(&name, value);
    }
    job
}
