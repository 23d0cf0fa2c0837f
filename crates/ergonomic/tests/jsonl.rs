//! Typed JSON lines against haul-sim: the schema from describe, every value compared with the CSV
//! download of the same job, read independently here; a value that does not parse; a resumed
//! download that must keep its schema.

mod common;

use std::path::Path;

use chrono::DateTime;
use common::{TempDir, client, sim};
use haul::download::{Column, ColumnType, Format, Schema};
use serde_json::Value;

const ACCOUNTS: &str = "SELECT Id, Name, NumberOfEmployees, AnnualRevenue, Description, \
     Tax_Number__c, Discount__c, Preferred_Call_Time__c, Services__c, CreatedDate, IsDeleted, \
     Headquarters__Latitude__s FROM Account";
const CONTACTS: &str =
    "SELECT Id, LastName, Birthdate, HasOptedOutOfEmail, Account.Name, AccountId FROM Contact";

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// Every line of a JSON lines file, parsed, with the line as written.
fn read_jsonl(path: &Path) -> Vec<(String, serde_json::Map<String, Value>)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| match serde_json::from_str(line).unwrap() {
            Value::Object(object) => (line.to_owned(), object),
            other => panic!("not an object: {other}"),
        })
        .collect()
}

/// `text`, in plain or exponent notation, as plain text with exactly `scale` digits after the
/// point: the point moved along the digits' text, which no float touches.
fn plain_decimal(text: &str, scale: usize) -> String {
    let (sign, unsigned) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().unwrap()),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits = format!("{whole}{fraction}");
    let mut point = whole.len() as i64 + exponent;
    if point < 0 {
        digits.insert_str(0, &"0".repeat((-point) as usize));
        point = 0;
    }
    let point = point as usize;
    if digits.len() < point + scale {
        digits.push_str(&"0".repeat(point + scale - digits.len()));
    }
    let (int, fraction) = digits.split_at(point);
    assert!(
        fraction[scale..].bytes().all(|b| b == b'0'),
        "{text} has more than {scale} digits after the point"
    );
    let int = match int.trim_start_matches('0') {
        "" => "0",
        int => int,
    };
    let fraction = &fraction[..scale];
    let zero = int == "0" && fraction.bytes().all(|b| b == b'0');
    let sign = if zero { "" } else { sign };
    match scale {
        0 => format!("{sign}{int}"),
        _ => format!("{sign}{int}.{fraction}"),
    }
}

/// Checks every typed value against the CSV text of the same row and column; returns the rows.
fn assert_same(jsonl: &Path, csv: &Path, schema: &Schema) -> usize {
    let lines = read_jsonl(jsonl);
    let (header, rows) = read_csv(csv);
    assert_eq!(lines.len(), rows.len(), "every CSV row is a JSON line");
    let names: Vec<&str> = schema.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names, header,
        "keys spelt as the schema and the header spell them"
    );
    for (at, ((line, object), row)) in lines.iter().zip(&rows).enumerate() {
        assert_eq!(object.len(), schema.columns.len(), "row {at}: {line}");
        // Keys in the schema's order: each after the one before it in the line as written.
        let mut from = 0;
        for name in &names {
            let key = format!("{}:", serde_json::to_string(name).unwrap());
            let found = line[from..].find(&key);
            assert!(found.is_some(), "row {at}: {key} out of order in {line}");
            from += found.unwrap() + key.len();
        }
        for (column, text) in schema.columns.iter().zip(row) {
            let value = &object[&column.name];
            let context = format!("row {at} {}: {text:?} became {value}", column.name);
            if text.is_empty() {
                assert!(value.is_null(), "{context}");
                continue;
            }
            match column.ty {
                ColumnType::Utf8 => assert_eq!(value.as_str(), Some(text.as_str()), "{context}"),
                ColumnType::Boolean => {
                    let expected = text.eq_ignore_ascii_case("true");
                    assert_eq!(value.as_bool(), Some(expected), "{context}");
                }
                ColumnType::Int32 | ColumnType::Int64 => {
                    let expected: i64 = text.parse().unwrap();
                    assert!(value.is_i64() || value.is_u64(), "{context}");
                    assert_eq!(value.as_i64(), Some(expected), "{context}");
                }
                ColumnType::Decimal { scale, .. } => {
                    let expected = plain_decimal(text, usize::from(scale));
                    assert_eq!(value.as_str(), Some(expected.as_str()), "{context}");
                }
                ColumnType::Float64 => {
                    assert!(value.is_f64(), "{context}");
                    let expected: f64 = text.parse().unwrap();
                    assert_eq!(value.as_f64(), Some(expected), "{context}");
                }
                ColumnType::Date => {
                    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap();
                    assert_eq!(value.as_str(), Some(text.as_str()), "{context}");
                }
                ColumnType::Timestamp => {
                    let instant = DateTime::parse_from_rfc3339(text).unwrap().to_utc();
                    let expected = instant.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
                    assert_eq!(value.as_str(), Some(expected.as_str()), "{context}");
                }
                ColumnType::Time => {
                    let expected = text.strip_suffix('Z').unwrap();
                    assert_eq!(expected.len(), "03:04:05.000".len(), "{context}");
                    assert_eq!(value.as_str(), Some(expected), "{context}");
                }
                ColumnType::Utf8List => {
                    let expected: Vec<Value> = text.split(';').map(Value::from).collect();
                    assert_eq!(value.as_array(), Some(&expected), "{context}");
                }
                other => panic!("no check for {other}"),
            }
        }
    }
    rows.len()
}

/// A query's CSV download and its typed JSON lines download, one file each.
async fn both(
    sf: &haul::Salesforce,
    soql: &str,
    schema: &Schema,
    dir: &TempDir,
    name: &str,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let done = sf
        .bulk_query(soql)
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let csv = dir.join(&format!("{name}.csv"));
    done.download()
        .max_records(1_000)
        .to_file(&csv)
        .await
        .unwrap();
    let jsonl = dir.join(&format!("{name}.jsonl"));
    let report = done
        .download()
        .max_records(1_000)
        .format(Format::Jsonl)
        .schema(schema.clone())
        .to_file(&jsonl)
        .await
        .unwrap();
    assert!(report.pages >= 2, "{report:?}");
    assert_eq!(report.bytes, std::fs::metadata(&jsonl).unwrap().len());
    (csv, jsonl)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_typed_value_equals_the_csv_download_of_the_same_job() {
    let sim = sim()
        .rows("Account", 3_000)
        .rows("Contact", 2_000)
        .start()
        .await
        .unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("jsonl-values");
    let mut seen = Vec::new();
    for (name, soql) in [("accounts", ACCOUNTS), ("contacts", CONTACTS)] {
        let schema = sf.query_schema(soql).await.unwrap();
        let (csv, jsonl) = both(&sf, soql, &schema, &dir, name).await;
        assert!(assert_same(&jsonl, &csv, &schema) >= 2_000);
        seen.extend(schema.columns.iter().map(|c| c.ty));
        // The manifest types every column as the schema.
        let manifest = haul::download::Destination::file(&jsonl)
            .manifest()
            .await
            .unwrap()
            .expect("a manifest");
        assert_eq!(manifest.format, Format::Jsonl);
        let types: Vec<_> = manifest.columns.iter().map(|c| c.ty).collect();
        let expected: Vec<_> = schema.columns.iter().map(|c| Some(c.ty)).collect();
        assert_eq!(types, expected);
    }
    // 64-bit integers and floats: no field of the simulated org is described so (every number
    // has its precision), so a schema of our own types its numbers that way.
    let soql = "SELECT Id, NumberOfEmployees, Discount__c FROM Account";
    let schema = Schema::new(vec![
        Column::new("Id", ColumnType::Utf8, false),
        Column::new("NumberOfEmployees", ColumnType::Int64, true),
        Column::new("Discount__c", ColumnType::Float64, true),
    ]);
    let (csv, jsonl) = both(&sf, soql, &schema, &dir, "wide").await;
    assert_eq!(assert_same(&jsonl, &csv, &schema), 3_000);
    seen.extend(schema.columns.iter().map(|c| c.ty));
    for ty in [
        ColumnType::Utf8,
        ColumnType::Boolean,
        ColumnType::Int32,
        ColumnType::Int64,
        ColumnType::Float64,
        ColumnType::Date,
        ColumnType::Timestamp,
        ColumnType::Time,
        ColumnType::Utf8List,
    ] {
        assert!(seen.contains(&ty), "no column of type {ty}");
    }
    assert!(
        seen.iter()
            .any(|ty| matches!(ty, ColumnType::Decimal { scale: 0, .. }))
    );
    assert!(
        seen.iter()
            .any(|ty| matches!(ty, ColumnType::Decimal { scale: 2, .. }))
    );

    // Among the values compared: multi-line text, exponent notation written out in full, a
    // currency with its two decimals, multi-selects, nulls.
    let csv = std::fs::read_to_string(dir.join("accounts.csv")).unwrap();
    assert!(csv.contains("Line one\nLine two"));
    assert!(csv.contains("E13"), "Tax_Number__c in exponent notation");
    let lines = read_jsonl(&dir.join("accounts.jsonl"));
    let column = |name: &'static str| lines.iter().map(move |(_, object)| &object[name]);
    let tax = column("Tax_Number__c")
        .filter_map(Value::as_str)
        .find(|tax| tax.len() >= 14)
        .expect("a tax number of 14 digits or more");
    assert!(tax.bytes().all(|b| b.is_ascii_digit()), "{tax}");
    assert!(
        column("AnnualRevenue")
            .filter_map(Value::as_str)
            .all(|revenue| {
                revenue
                    .split_once('.')
                    .is_some_and(|(_, cents)| cents.len() == 2)
            })
    );
    assert!(column("Description").any(|d| d.as_str().is_some_and(|d| d.contains('\n'))));
    assert!(column("Services__c").any(|s| s.as_array().is_some_and(|s| s.len() > 1)));
    assert!(column("Services__c").any(Value::is_null));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_that_does_not_parse_names_its_row_column_and_value_and_publishes_nothing() {
    let sim = sim().rows("Account", 3_000).start().await.unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("jsonl-refused");
    let soql = "SELECT Id, AnnualRevenue FROM Account";
    let schema = sf.query_schema(soql).await.unwrap();
    let done = sf
        .bulk_query(soql)
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    done.download()
        .max_records(1_000)
        .to_file(dir.join("all.csv"))
        .await
        .unwrap();
    // The third page comes back with its fifth row's revenue one cent finer than the currency's
    // scale: row 2005 of the result, refused rather than rounded.
    let (_, rows) = read_csv(&dir.join("all.csv"));
    let mut page = String::from("\"Id\",\"AnnualRevenue\"\n");
    for (i, row) in rows[2_000..].iter().enumerate() {
        let revenue = if i == 4 { "12.345" } else { row[1].as_str() };
        page.push_str(&format!("\"{}\",\"{revenue}\"\n", row[0]));
    }
    sim.misbehave_next_where(
        "GET",
        "/services/data/{version}/jobs/query/{id}/results",
        &format!("locator={}", sim.result_locator(2_000)),
        haul_sim::Misbehaviour::body(page),
    );
    let error = done
        .download()
        .max_records(1_000)
        .concurrency(3)
        .format(Format::Jsonl)
        .schema(schema)
        .to_file(dir.join("typed.jsonl"))
        .await
        .unwrap_err();
    let haul::Error::InvalidValue {
        row, column, value, ..
    } = &error
    else {
        panic!("not an invalid value: {error}");
    };
    assert_eq!(
        (*row, column.as_str(), value.as_str()),
        (2_005, "AnnualRevenue", "12.345"),
        "{error}"
    );
    assert_eq!(
        dir.names(),
        ["all.csv", "all.csv.manifest.json"],
        "nothing incomplete is left"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_typed_download_resumes_with_the_same_schema_only() {
    let sim = sim().rows("Account", 2_500).start().await.unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("jsonl-resume");
    let soql = "SELECT Id, Name, AnnualRevenue, CreatedDate FROM Account";
    let schema = sf.query_schema(soql).await.unwrap();
    let done = sf
        .bulk_query(soql)
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let file = dir.join("accounts.jsonl");
    let download = || {
        done.download()
            .concurrency(1)
            .max_records(500)
            .resume(true)
            .format(Format::Jsonl)
    };
    // The third page is refused, so the first run stops with two pages in its checkpoint.
    common::refuse_next_page(&sim, &format!("locator={}", sim.result_locator(1_000)));
    let first = download()
        .schema(schema.clone())
        .to_file(&file)
        .await
        .unwrap_err();
    assert_eq!(first.status(), Some(400), "{first}");
    let checkpoint = haul::salesforce::query::Checkpoint::load(&file)
        .unwrap()
        .expect("a checkpoint");
    assert_eq!(checkpoint.pages.len(), 2);
    assert_eq!(checkpoint.schema.as_ref(), Some(&schema));

    // Another schema, or none, would mix typed and other lines in one output: refused.
    let mut other = schema.clone();
    other.columns[2].ty = ColumnType::Float64;
    for refused in [download().schema(other), download()] {
        let error = refused.to_file(&file).await.unwrap_err();
        assert!(
            error.is_invalid_input() && error.to_string().contains("schema"),
            "{error}"
        );
    }

    let report = download()
        .schema(schema.clone())
        .to_file(&file)
        .await
        .unwrap();
    assert_eq!(
        (report.pages, report.resumed_pages, report.records),
        (5, 2, 2_500)
    );
    let csv = dir.join("all.csv");
    done.download().to_file(&csv).await.unwrap();
    assert_eq!(assert_same(&file, &csv, &schema), 2_500);
    assert!(
        haul::salesforce::query::Checkpoint::load(&file)
            .unwrap()
            .is_none()
    );
    sim.shutdown().await;
}
