//! `haul sf query --api rest`: a SOQL query through the REST API, written to the same outputs as a
//! bulk one (CSV with one header row, or JSON lines), columns in the order of the SELECT list and
//! relationship fields flattened as `Owner.Name`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use futures::StreamExt;
use haul::CancellationToken;
use haul::salesforce::rest::Row;
use serde_json::{Value, json};

use crate::args::{Format, QueryArgs};
use crate::exit::{Interrupted, Usage};
use crate::progress::Display;
use crate::target::SfTarget;
use crate::{Outcome, Settings};
use haul::salesforce::rest::select_columns;

pub(crate) async fn run(
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
    let format = match args.output_format() {
        Format::Csv => "csv",
        Format::Jsonl => "jsonl",
        Format::Parquet => "parquet",
    };
    Ok(Outcome::Json(json!({
        "api": "rest",
        "api_version": target.client.api_version().to_string(),
        "records": records,
        "path": args.output,
        "format": format,
        "elapsed_ms": started.elapsed().as_millis() as u64,
        "simulator": target.simulator.is_some(),
    })))
}

/// The bulk-only options make no sense here; say so rather than ignore them.
fn check_args(args: &QueryArgs) -> Result<()> {
    let into_dir = args.output.is_dir() || args.output.as_os_str().to_string_lossy().ends_with('/');
    let is_url = args.output.to_string_lossy().contains("://");
    let refused = if is_url {
        Some("--api rest writes a local file; object store destinations work with --api bulk")
    } else if into_dir {
        Some("--api rest writes one file, not a folder")
    } else if args.resume {
        Some("--resume works with --api bulk only")
    } else if args.max_records.is_some() {
        Some("--max-records works with --api bulk only; use --batch-size")
    } else if args.output_format() == Format::Parquet {
        Some("Parquet works with --api bulk only: REST results are written as CSV or JSON lines")
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
    let mut query = if args.all {
        sf.query_all(&args.soql)
    } else {
        sf.query(&args.soql)
    };
    if let Some(size) = args.batch_size {
        query = query.batch_size(size);
    }
    let file =
        std::fs::File::create(part).with_context(|| format!("creating {}", part.display()))?;
    let columns = select_columns(&args.soql);
    let mut out = Output::new(args.output_format(), std::io::BufWriter::new(file), columns)?;
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

/// Writes records as CSV or JSON lines, in a fixed column order: the SELECT list's, or else the
/// first record's fields in alphabetical order (a record's JSON object keeps no order here).
struct Output<W: std::io::Write> {
    columns: Option<Vec<String>>,
    sink: Sink<W>,
}

enum Sink<W: std::io::Write> {
    Csv(Box<csv::Writer<W>>),
    Jsonl(W),
}

impl<W: std::io::Write> Output<W> {
    /// Writes the CSV header at once when the columns are known from the query, so that an empty
    /// result still has one (as a bulk query's has).
    fn new(format: Format, out: W, columns: Option<Vec<String>>) -> Result<Self> {
        let sink = match format {
            Format::Csv => Sink::Csv(Box::new(csv::Writer::from_writer(out))),
            Format::Jsonl => Sink::Jsonl(out),
            Format::Parquet => unreachable!("refused by check_args"),
        };
        let mut output = Self {
            columns: None,
            sink,
        };
        if let Some(columns) = columns {
            output.set_columns(columns)?;
        }
        Ok(output)
    }

    fn set_columns(&mut self, columns: Vec<String>) -> Result<()> {
        if let Sink::Csv(csv) = &mut self.sink {
            csv.write_record(&columns)?;
        }
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
        match &mut self.sink {
            Sink::Csv(csv) => {
                let cells: Vec<String> = columns.iter().map(|c| cell(lookup(row, c))).collect();
                csv.write_record(&cells)?;
            }
            Sink::Jsonl(out) => out.write_all(json_line(columns, row)?.as_bytes())?,
        }
        Ok(())
    }

    /// Flushes everything written and hands back the writer.
    fn finish(self) -> Result<W> {
        let mut out = match self.sink {
            Sink::Csv(csv) => csv
                .into_inner()
                .map_err(|e| anyhow::anyhow!("writing the CSV: {}", e.error()))?,
            Sink::Jsonl(out) => out,
        };
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

/// One record as a JSON object keyed by column, in column order, and a line feed.
fn json_line(columns: &[String], row: &Row) -> Result<String> {
    let mut line = String::from("{");
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push_str(&serde_json::to_string(column)?);
        line.push(':');
        line.push_str(&serde_json::to_string(
            lookup(row, column).unwrap_or(&Value::Null),
        )?);
    }
    line.push_str("}\n");
    Ok(line)
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

    fn written(format: Format, columns: Option<Vec<String>>, rows: &[Row]) -> String {
        let mut out = Output::new(format, Vec::new(), columns).unwrap();
        for row in rows {
            out.record(row).unwrap();
        }
        String::from_utf8(out.finish().unwrap()).unwrap()
    }

    #[test]
    fn csv_follows_the_select_list_and_quotes_as_csv_does() {
        let columns = select_columns("SELECT Id, Name, Owner.Name, Account.Name FROM Contact");
        let csv = written(Format::Csv, columns, &[contact()]);
        assert_eq!(
            csv,
            "Id,Name,Owner.Name,Account.Name\n003000000000001AAA,\"Jane \"\"JD\"\" Doe, Jr.\",Ann,\n"
        );
        let empty = written(Format::Csv, select_columns("SELECT Id FROM Contact"), &[]);
        assert_eq!(empty, "Id\n");
    }

    #[test]
    fn jsonl_keeps_types_and_column_order() {
        let columns = Some(vec![
            "Owner.Name".to_owned(),
            "NumberOfEmployees".to_owned(),
            "Account.Name".to_owned(),
        ]);
        let jsonl = written(Format::Jsonl, columns, &[contact()]);
        assert_eq!(
            jsonl,
            "{\"Owner.Name\":\"Ann\",\"NumberOfEmployees\":12,\"Account.Name\":null}\n"
        );
    }

    #[test]
    fn without_a_select_list_the_first_record_names_the_columns() {
        let csv = written(
            Format::Csv,
            None,
            &[row(json!({"attributes": {}, "Id": "1", "Name": "a"}))],
        );
        assert_eq!(csv, "Id,Name\n1,a\n");
    }
}
