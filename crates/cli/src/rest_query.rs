//! `haul sf query --api rest`: a SOQL query through the REST API, columns in the order of the
//! SELECT list and relationship fields flattened as `Owner.Name`. Parquet and JSON lines go
//! through the download engine as a bulk query's results do (the REST query is its source), typed
//! from describe by the same rules, so the same query gives the same values through either API,
//! to a file, a folder or an object store, with its manifest. CSV is written here, one file, from
//! the records as the REST API types them, so that queries describe cannot type (aggregates,
//! `FIELDS(...)`, subqueries) still have an output.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use futures::StreamExt;
use haul::CancellationToken;
use haul::salesforce::rest::Row;
use serde_json::{Value, json};

use crate::args::{Format, QueryArgs};
use crate::exit::{Interrupted, Usage};
use crate::progress::Display;
use crate::sf::{checked_destination, output_format, run_download, typed_schema};
use crate::target::SfTarget;
use crate::{Outcome, Settings};
use haul::salesforce::rest::select_columns;

pub(crate) async fn run(
    target: &SfTarget,
    args: QueryArgs,
    settings: &Settings,
    cancel: CancellationToken,
) -> Result<Outcome> {
    match args.output_format() {
        Format::Csv => run_csv(target, args, settings, cancel).await,
        Format::Jsonl | Format::Parquet => run_typed(target, args, settings, cancel).await,
    }
}

/// The query or queryAll `args` ask for, with their batch size.
fn rest_query(sf: &haul::Salesforce, args: &QueryArgs) -> haul::salesforce::rest::RestQuery {
    let query = if args.all {
        sf.query_all(&args.soql)
    } else {
        sf.query(&args.soql)
    };
    match args.batch_size {
        Some(size) => query.batch_size(size),
        None => query,
    }
}

/// Parquet or JSON lines: the REST query's batches downloaded by the engine, typed from describe.
async fn run_typed(
    target: &SfTarget,
    args: QueryArgs,
    settings: &Settings,
    cancel: CancellationToken,
) -> Result<Outcome> {
    let refused = if args.resume {
        Some("--resume works with --api bulk only (a REST query's cursor lasts minutes)")
    } else if args.max_records.is_some() {
        Some("--max-records works with --api bulk only; use --batch-size")
    } else {
        None
    };
    if let Some(why) = refused {
        return Err(Usage(why.into()).into());
    }
    let destination = checked_destination(&args).await?;
    let sf = &target.client;
    let mut builder = rest_query(sf, &args)
        .download()
        .format(output_format(&args))
        .overwrite(args.overwrite)
        .cancel_on(cancel);
    if let Some(schema) = typed_schema(sf, &args).await? {
        builder = builder.schema(schema);
    }
    let report = run_download(builder, destination, settings.display)
        .await
        .map_err(|error| match error.downcast_ref::<haul::Error>() {
            Some(refused) if refused.is_invalid_input() => Usage(refused.to_string()).into(),
            _ => error,
        })?;
    if settings.display != Display::Quiet {
        eprintln!(
            "haul: wrote {} rows in {} batches to {} (REST API)",
            report.records,
            report.pages,
            args.output.display()
        );
    }
    Ok(Outcome::Json(json!({
        "api": "rest",
        "api_version": sf.api_version().to_string(),
        "records": report.records,
        "pages": report.pages,
        "bytes": report.bytes,
        "path": args.output,
        "format": output_format(&args).to_string(),
        "elapsed_ms": report.elapsed.as_millis() as u64,
        "simulator": target.simulator.is_some(),
    })))
}

/// CSV: the records written one by one into one local file, renamed into place when complete.
async fn run_csv(
    target: &SfTarget,
    args: QueryArgs,
    settings: &Settings,
    cancel: CancellationToken,
) -> Result<Outcome> {
    check_args(&args)?;
    forget_complete_output(&args).await?;
    let started = std::time::Instant::now();
    let part = part_path(&args.output);
    let written = write(target, &args, &part, &cancel).await;
    let records = match written {
        Ok(records) => records,
        Err(error) => {
            let _ = std::fs::remove_file(&part);
            return Err(error);
        }
    };
    std::fs::rename(&part, &args.output)
        .with_context(|| format!("renaming {} into place", part.display()))?;
    if settings.display != Display::Quiet {
        eprintln!(
            "haul: wrote {records} rows to {} (REST API)",
            args.output.display()
        );
    }
    Ok(Outcome::Json(json!({
        "api": "rest",
        "api_version": target.client.api_version().to_string(),
        "records": records,
        "path": args.output,
        "format": "csv",
        "elapsed_ms": started.elapsed().as_millis() as u64,
        "simulator": target.simulator.is_some(),
    })))
}

/// What CSV through the REST API cannot do; say so rather than ignore it.
fn check_args(args: &QueryArgs) -> Result<()> {
    let into_dir = args.output.is_dir() || args.output.as_os_str().to_string_lossy().ends_with('/');
    let is_url = args.output.to_string_lossy().contains("://");
    let refused = if is_url {
        Some(
            "--api rest writes CSV to a local file; object store destinations work with --api \
             bulk, or with --api rest and --format jsonl or parquet",
        )
    } else if into_dir {
        Some(
            "--api rest writes CSV to one file, not a folder (--format jsonl or parquet can \
             write a folder)",
        )
    } else if args.resume {
        Some("--resume works with --api bulk only")
    } else if args.max_records.is_some() {
        Some("--max-records works with --api bulk only; use --batch-size")
    } else if args.compression.is_some() {
        Some("--compression works with --format parquet only")
    } else {
        None
    };
    match refused {
        Some(why) => Err(Usage(why.into()).into()),
        None => Ok(()),
    }
}

/// A bulk download's complete output at the same path is replaced only with `--overwrite`, and
/// then its manifest goes first: this path writes none, and a manifest left beside a file it
/// replaced would vouch for bytes that are gone.
async fn forget_complete_output(args: &QueryArgs) -> Result<()> {
    let destination = haul::download::Destination::file(&args.output);
    if destination.manifest().await?.is_none() {
        return Ok(());
    }
    if !args.overwrite {
        return Err(Usage(format!(
            "{} is a complete download (it has its manifest); pass --overwrite to replace it",
            args.output.display()
        ))
        .into());
    }
    let mut manifest = args.output.as_os_str().to_owned();
    manifest.push(".manifest.json");
    std::fs::remove_file(&manifest)
        .with_context(|| format!("removing {}", Path::new(&manifest).display()))
}

/// Where the output is written until complete: nothing appears under its final name before.
fn part_path(output: &Path) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

/// Writes every record to `part`; returns how many.
async fn write(
    target: &SfTarget,
    args: &QueryArgs,
    part: &Path,
    cancel: &CancellationToken,
) -> Result<u64> {
    let sf = &target.client;
    let query = rest_query(sf, args);
    let file =
        std::fs::File::create(part).with_context(|| format!("creating {}", part.display()))?;
    let columns = select_columns(&args.soql);
    let mut out = Output::new(std::io::BufWriter::new(file), columns)?;
    let mut rows = query.rows();
    let mut records = 0u64;
    loop {
        let row = tokio::select! {
            row = rows.next() => row,
            () = cancel.cancelled() => return Err(Interrupted.into()),
        };
        let Some(row) = row else { break };
        let row = match row {
            Err(error) if error.is_invalid_input() => return Err(Usage(error.to_string()).into()),
            other => other?,
        };
        out.record(&row)?;
        records += 1;
    }
    out.finish()?;
    Ok(records)
}

/// Writes records as CSV, in a fixed column order: the SELECT list's, or else the first record's
/// fields in alphabetical order (a record's JSON object keeps no order here).
struct Output<W: std::io::Write> {
    columns: Option<Vec<String>>,
    csv: csv::Writer<W>,
}

impl<W: std::io::Write> Output<W> {
    /// Writes the CSV header at once when the columns are known from the query, so that an empty
    /// result still has one (as a bulk query's has).
    fn new(out: W, columns: Option<Vec<String>>) -> Result<Self> {
        let mut output = Self {
            columns: None,
            csv: csv::Writer::from_writer(out),
        };
        if let Some(columns) = columns {
            output.set_columns(columns)?;
        }
        Ok(output)
    }

    fn set_columns(&mut self, columns: Vec<String>) -> Result<()> {
        self.csv.write_record(&columns)?;
        self.columns = Some(columns);
        Ok(())
    }

    fn record(&mut self, row: &Row) -> Result<()> {
        if self.columns.is_none() {
            let mut names = Vec::new();
            flatten_names(row, "", &mut names);
            self.set_columns(names)?;
        }
        let columns = self.columns.as_deref().unwrap_or_default();
        let cells: Vec<String> = columns.iter().map(|c| cell(lookup(row, c))).collect();
        self.csv.write_record(&cells)?;
        Ok(())
    }

    /// Flushes everything written and hands back the writer.
    fn finish(self) -> Result<W> {
        let mut out = self
            .csv
            .into_inner()
            .map_err(|e| anyhow::anyhow!("writing the CSV: {}", e.error()))?;
        out.flush()?;
        Ok(out)
    }
}

/// The dotted paths of a record's fields, `attributes` left out, relationships entered.
fn flatten_names(row: &Row, prefix: &str, into: &mut Vec<String>) {
    for (name, value) in row {
        if name == "attributes" {
            continue;
        }
        let path = format!("{prefix}{name}");
        match value {
            Value::Object(nested) if nested.contains_key("attributes") => {
                flatten_names(nested, &format!("{path}."), into);
            }
            _ => into.push(path),
        }
    }
}

/// The value at a dotted path such as `Owner.Name`, field names matched without regard to case
/// (SOQL is case-insensitive; records carry the names as describe spells them). `None` when a
/// relationship on the way is empty.
fn lookup<'a>(row: &'a Row, path: &str) -> Option<&'a Value> {
    let mut current = row;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let value = current.get(part).or_else(|| {
            current
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(part))
                .map(|(_, v)| v)
        })?;
        if parts.peek().is_none() {
            return Some(value);
        }
        current = value.as_object()?;
    }
    None
}

/// A value as a CSV cell: empty for null, text as is, anything nested (an address, a subquery)
/// as compact JSON.
fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Bool(flag)) => flag.to_string(),
        Some(Value::Number(number)) => number.to_string(),
        Some(nested) => nested.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(value: Value) -> Row {
        value.as_object().unwrap().clone()
    }

    fn contact() -> Row {
        row(json!({
            "attributes": {"type": "Contact", "url": "/services/data/v62.0/sobjects/Contact/003"},
            "Id": "003000000000001AAA",
            "Name": "Jane \"JD\" Doe, Jr.",
            "Owner": {"attributes": {"type": "User"}, "Name": "Ann", "Manager": null},
            "Account": null,
            "NumberOfEmployees": 12,
            "IsDeleted": false,
            "MailingAddress": {"city": "Paris", "country": "FR"},
        }))
    }

    #[test]
    fn relationship_paths_are_found_whatever_their_case() {
        let contact = contact();
        assert_eq!(lookup(&contact, "owner.name"), Some(&json!("Ann")));
        assert_eq!(lookup(&contact, "Account.Name"), None);
        assert_eq!(lookup(&contact, "Owner.Manager.Name"), None);
        assert_eq!(cell(lookup(&contact, "NumberOfEmployees")), "12");
        assert_eq!(cell(lookup(&contact, "IsDeleted")), "false");
        assert_eq!(cell(lookup(&contact, "Account.Name")), "");
        assert_eq!(
            cell(lookup(&contact, "MailingAddress")),
            r#"{"city":"Paris","country":"FR"}"#
        );
    }

    #[test]
    fn names_are_flattened_without_attributes() {
        let mut names = Vec::new();
        flatten_names(&contact(), "", &mut names);
        assert_eq!(
            names,
            [
                "Account",
                "Id",
                "IsDeleted",
                "MailingAddress",
                "Name",
                "NumberOfEmployees",
                "Owner.Manager",
                "Owner.Name"
            ]
        );
    }

    fn written(columns: Option<Vec<String>>, rows: &[Row]) -> String {
        let mut out = Output::new(Vec::new(), columns).unwrap();
        for row in rows {
            out.record(row).unwrap();
        }
        String::from_utf8(out.finish().unwrap()).unwrap()
    }

    #[test]
    fn csv_follows_the_select_list_and_quotes_as_csv_does() {
        let columns = select_columns("SELECT Id, Name, Owner.Name, Account.Name FROM Contact");
        let csv = written(columns, &[contact()]);
        assert_eq!(
            csv,
            "Id,Name,Owner.Name,Account.Name\n003000000000001AAA,\"Jane \"\"JD\"\" Doe, Jr.\",Ann,\n"
        );
        let empty = written(select_columns("SELECT Id FROM Contact"), &[]);
        assert_eq!(empty, "Id\n");
    }

    #[test]
    fn without_a_select_list_the_first_record_names_the_columns() {
        let csv = written(
            None,
            &[row(json!({"attributes": {}, "Id": "1", "Name": "a"}))],
        );
        assert_eq!(csv, "Id,Name\n1,a\n");
    }
}
