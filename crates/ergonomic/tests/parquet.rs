//! Typed Parquet downloads against haul-sim: the schema from describe, every value read back with
//! the `parquet` crate's Arrow reader and compared with the CSV download of the same job, folder
//! output, and a value that does not parse.

mod common;

use std::fs::File;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float64Type, Int32Type, Int64Type, Time32MillisecondType,
    TimestampMillisecondType,
};
use arrow_array::{Array, RecordBatch, RecordBatchReader};
use arrow_schema::{DataType, TimeUnit};
use chrono::{DateTime, NaiveDate, NaiveTime};
use common::{TempDir, client, sim};
use haul::download::{Column, ColumnType, Compression, Format, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const ACCOUNTS: &str = "SELECT Id, Name, NumberOfEmployees, AnnualRevenue, Description, \
     Tax_Number__c, Discount__c, Preferred_Call_Time__c, Services__c, CreatedDate, IsDeleted, \
     Headquarters__Latitude__s FROM Account";
const CONTACTS: &str =
    "SELECT Id, LastName, Birthdate, HasOptedOutOfEmail, Account.Name, AccountId FROM Contact";

fn decimal(precision: u8, scale: u8) -> ColumnType {
    ColumnType::Decimal { precision, scale }
}

/// The rows of a Parquet file, every batch together.
fn read_parquet(path: &Path) -> (arrow_schema::SchemaRef, Vec<RecordBatch>) {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let schema = reader.schema();
    let batches = reader.map(|b| b.unwrap()).collect();
    (schema, batches)
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// A Parquet value as the Bulk API prints it (`None` for null); decimals (as their units) and
/// floats are compared by value instead (see [`assert_same`]).
fn cell(array: &dyn Array, row: usize) -> Option<String> {
    if array.is_null(row) {
        return None;
    }
    Some(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(row).to_owned(),
        DataType::Boolean => array.as_boolean().value(row).to_string(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(row).to_string(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::Date32 => {
            let days = array.as_primitive::<Date32Type>().value(row);
            (NaiveDate::default() + chrono::Days::new(days as u64)).to_string()
        }
        DataType::Timestamp(TimeUnit::Millisecond, Some(zone)) if zone.as_ref() == "UTC" => {
            let ms = array.as_primitive::<TimestampMillisecondType>().value(row);
            DateTime::from_timestamp_millis(ms)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string()
        }
        DataType::Time32(TimeUnit::Millisecond) => {
            let ms = array.as_primitive::<Time32MillisecondType>().value(row) as u32;
            NaiveTime::from_num_seconds_from_midnight_opt(ms / 1000, (ms % 1000) * 1_000_000)
                .unwrap()
                .format("%H:%M:%S%.3fZ")
                .to_string()
        }
        DataType::List(_) => {
            let list = array.as_list::<i32>().value(row);
            let items = list.as_string::<i32>();
            (0..items.len())
                .map(|i| items.value(i))
                .collect::<Vec<_>>()
                .join(";")
        }
        DataType::Decimal128(..) => array
            .as_primitive::<Decimal128Type>()
            .value(row)
            .to_string(),
        DataType::Float64 => array.as_primitive::<Float64Type>().value(row).to_string(),
        other => panic!("no text form for {other}"),
    })
}

/// The joined file keeps each page's place (the offset index), so that a reader skipping rows
/// by it lands on the right ones: rows 2,500 to 2,509 (the third page's row group) read alone
/// equal the same rows read in full.
fn assert_pages_found_by_the_page_index(path: &Path) {
    use parquet::arrow::arrow_reader::{ArrowReaderOptions, RowSelection, RowSelector};

    let options = ArrowReaderOptions::new()
        .with_page_index_policy(parquet::file::metadata::PageIndexPolicy::Required);
    let builder =
        ParquetRecordBatchReaderBuilder::try_new_with_options(File::open(path).unwrap(), options)
            .unwrap();
    let metadata = builder.metadata().clone();
    let indexed = metadata
        .page_index()
        .is_some_and(|index| index.has_offset_indexes());
    assert!(indexed, "no offset index in {}", path.display());
    let selection = RowSelection::from(vec![RowSelector::skip(2_500), RowSelector::select(10)]);
    let reader = builder.with_row_selection(selection).build().unwrap();
    let picked = cells(&reader.map(|b| b.unwrap()).collect::<Vec<_>>());
    let all = cells(&read_parquet(path).1);
    assert!(
        picked == all[2_500..2_510],
        "rows found by the page index differ"
    );
}

/// Every row of `batches`, each value in its text form.
fn cells(batches: &[RecordBatch]) -> Vec<Vec<Option<String>>> {
    batches
        .iter()
        .flat_map(|batch| {
            (0..batch.num_rows()).map(move |row| {
                batch
                    .columns()
                    .iter()
                    .map(|array| cell(array.as_ref(), row))
                    .collect()
            })
        })
        .collect()
}

/// Every value of the Parquet output equals the CSV output's, read by type.
fn assert_same(parquet: &Path, csv: &Path) -> usize {
    let (schema, batches) = read_parquet(parquet);
    let (header, rows) = read_csv(csv);
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, header);
    let mut at = 0;
    for batch in &batches {
        for row in 0..batch.num_rows() {
            let expected = &rows[at];
            for (column, array) in batch.columns().iter().enumerate() {
                let text = &expected[column];
                let name = &header[column];
                match array.data_type() {
                    DataType::Decimal128(_, scale) => {
                        if text.is_empty() {
                            assert!(array.is_null(row), "row {at} {name}");
                            continue;
                        }
                        // Every value here is below 2^53 units: exact as a float.
                        let units = array.as_primitive::<Decimal128Type>().value(row);
                        let from_csv = text.parse::<f64>().unwrap() * 10f64.powi(i32::from(*scale));
                        assert_eq!(units, from_csv.round() as i128, "row {at} {name} {text}");
                    }
                    DataType::Float64 => {
                        let value = array.as_primitive::<Float64Type>().value(row);
                        assert_eq!(value, text.parse::<f64>().unwrap(), "row {at} {name}");
                    }
                    _ => assert_eq!(
                        cell(array, row).unwrap_or_default(),
                        *text,
                        "row {at} {name}"
                    ),
                }
            }
            at += 1;
        }
    }
    assert_eq!(at, rows.len(), "every CSV row is in the Parquet file");
    at
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_comes_from_describe_with_relationship_paths() {
    let sim = sim().rows("Account", 10).start().await.unwrap();
    let sf = client(&sim);
    let schema = sf.query_schema(ACCOUNTS).await.unwrap();
    let types: Vec<(&str, ColumnType, bool)> = schema
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.ty, c.nullable))
        .collect();
    assert_eq!(
        types,
        [
            ("Id", ColumnType::Utf8, false),
            ("Name", ColumnType::Utf8, false),
            ("NumberOfEmployees", ColumnType::Int32, true),
            ("AnnualRevenue", decimal(18, 2), true),
            ("Description", ColumnType::Utf8, true),
            ("Tax_Number__c", decimal(18, 0), true),
            ("Discount__c", decimal(5, 2), true),
            ("Preferred_Call_Time__c", ColumnType::Time, true),
            ("Services__c", ColumnType::Utf8List, true),
            ("CreatedDate", ColumnType::Timestamp, false),
            ("IsDeleted", ColumnType::Boolean, false),
            ("Headquarters__Latitude__s", decimal(12, 9), true),
        ]
    );
    let contacts = sf.query_schema(CONTACTS).await.unwrap();
    let account_name = &contacts.columns[4];
    assert_eq!(
        (
            account_name.name.as_str(),
            account_name.ty,
            account_name.nullable
        ),
        ("Account.Name", ColumnType::Utf8, true),
        "Account.Name takes Account's Name type, nullable through the relationship"
    );
    assert_eq!(contacts.columns[2].ty, ColumnType::Date);
    // A record's own Id is its key; an id reached through a lookup (AccountId) repeats.
    let unique: Vec<&str> = schema
        .columns
        .iter()
        .chain(&contacts.columns)
        .filter(|c| c.unique)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(unique, ["Id", "Id"]);

    let address = sf
        .query_schema("SELECT Id, BillingAddress FROM Account")
        .await
        .unwrap_err();
    assert!(address.is_invalid_input(), "{address}");
    assert!(address.to_string().contains("BillingStreet"), "{address}");
    let aggregate = sf
        .query_schema("SELECT COUNT(Id) FROM Account")
        .await
        .unwrap_err();
    assert!(aggregate.is_invalid_input(), "{aggregate}");
    let unknown = sf
        .query_schema("SELECT Id, Nope__c FROM Account")
        .await
        .unwrap_err();
    assert!(unknown.to_string().contains("Nope__c"), "{unknown}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_value_equals_the_csv_download_in_one_file_and_in_a_folder() {
    let sim = sim()
        .rows("Account", 5_000)
        .rows("Contact", 3_000)
        .start()
        .await
        .unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("parquet-values");
    for (name, soql) in [("accounts", ACCOUNTS), ("contacts", CONTACTS)] {
        let schema = sf.query_schema(soql).await.unwrap();
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
        let file = dir.join(&format!("{name}.parquet"));
        // Accounts' pages are held in memory until appended, contacts' go through part files.
        let memory = if name == "accounts" { 16 << 20 } else { 0 };
        let report = done
            .download()
            .max_records(1_000)
            .memory(memory)
            .format(Format::parquet())
            .schema(schema.clone())
            .to_file(&file)
            .await
            .unwrap();
        assert!(report.pages >= 3, "{report:?}");
        assert_eq!(report.bytes, std::fs::metadata(&file).unwrap().len());
        let rows = assert_same(&file, &csv);
        assert_eq!(rows as u64, report.records);
        assert_pages_found_by_the_page_index(&file);

        let folder = dir.join(&format!("{name}-parts"));
        let types: Vec<(String, serde_json::Value)> = schema
            .columns
            .iter()
            .map(|c| (c.name.clone(), serde_json::to_value(c.ty).unwrap()))
            .collect();
        let report = done
            .download()
            .max_records(1_000)
            .memory((16 << 20) - memory)
            .format(Format::Parquet(Compression::Snappy))
            .schema(schema)
            .to_dir(&folder)
            .await
            .unwrap();
        let mut parts: Vec<_> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name != "_manifest.json")
            .collect();
        parts.sort();
        assert_eq!(parts.len(), report.pages);
        assert!(parts.iter().all(|p| p.ends_with(".parquet")), "{parts:?}");
        // The manifest, written last, names every part and types every column as the schema.
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(folder.join("_manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest["files"].as_array().unwrap().len(), parts.len());
        let columns = manifest["columns"].as_array().unwrap();
        assert_eq!(columns.len(), types.len(), "{manifest}");
        for (column, (name, ty)) in columns.iter().zip(&types) {
            assert!(column["name"].as_str().unwrap().eq_ignore_ascii_case(name));
            assert_eq!(&column["type"], ty, "{manifest}");
        }
        if name == "accounts" {
            let revenue = columns
                .iter()
                .find(|c| c["name"] == "AnnualRevenue")
                .unwrap();
            let decimal = serde_json::json!({"decimal": {"precision": 18, "scale": 2}});
            assert_eq!(revenue["type"], decimal);
        }
        // The parts, read one after the other, hold the single file's rows in order.
        let single = cells(&read_parquet(&file).1);
        let split: Vec<Vec<Option<String>>> = parts
            .iter()
            .flat_map(|p| cells(&read_parquet(&folder.join(p)).1))
            .collect();
        assert_eq!(single.len() as u64, report.records);
        assert!(single == split, "the parts differ from the single file");
    }
    // Multi-line text and exponent notation were among the values compared.
    let csv = std::fs::read_to_string(dir.join("accounts.csv")).unwrap();
    assert!(csv.contains("Line one\nLine two"));
    assert!(csv.contains("E13"), "Tax_Number__c in exponent notation");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_that_does_not_parse_names_its_row_column_and_value_and_publishes_nothing() {
    let sim = sim().rows("Account", 3_000).start().await.unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("parquet-refused");
    let soql = "SELECT Id, NumberOfEmployees FROM Account";
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
    // The third page (rows 2001 to 3000) comes back with its fifth row's number spelled out: row
    // 2005 of the result, counted across pages while the pages are fetched in parallel.
    let (_, rows) = read_csv(&dir.join("all.csv"));
    let mut page = String::from("\"Id\",\"NumberOfEmployees\"\n");
    for (i, row) in rows[2_000..].iter().enumerate() {
        let employees = if i == 4 { "forty" } else { row[1].as_str() };
        page.push_str(&format!("\"{}\",\"{employees}\"\n", row[0]));
    }
    let results = "/services/data/{version}/jobs/query/{id}/results";
    let third = format!("locator={}", sim.result_locator(2_000));
    for target in ["one.parquet", "folder"] {
        sim.misbehave_next_where(
            "GET",
            results,
            &third,
            haul_sim::Misbehaviour::body(page.clone()),
        );
        let builder = done
            .download()
            .max_records(1_000)
            .concurrency(3)
            .format(Format::parquet())
            .schema(schema.clone());
        let error = if target == "folder" {
            builder.to_dir(dir.join(target)).await.unwrap_err()
        } else {
            builder.to_file(dir.join(target)).await.unwrap_err()
        };
        let haul::Error::InvalidValue {
            row, column, value, ..
        } = &error
        else {
            panic!("not an invalid value: {error}");
        };
        assert_eq!(
            (*row, column.as_str(), value.as_str()),
            (2_005, "NumberOfEmployees", "forty"),
            "{error}"
        );
        assert!(error.is_invalid_value());
        let shown = error.to_string();
        assert!(
            shown.contains("row 2005")
                && shown.contains("NumberOfEmployees")
                && shown.contains("forty"),
            "{shown}"
        );
    }
    // No single file, no temporary file nor parts folder; the folder holds only the whole pages
    // committed before the third (a folder's completeness is its manifest's to say).
    assert_eq!(
        dir.names(),
        ["all.csv", "all.csv.manifest.json", "folder"],
        "nothing incomplete is left"
    );
    let mut parts: Vec<String> = std::fs::read_dir(dir.join("folder"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    parts.sort();
    // And no manifest: the folder is incomplete.
    assert_eq!(parts, ["part-00000.parquet", "part-00001.parquet"]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_needs_a_schema_and_one_file_does_not_resume() {
    let sim = sim().rows("Account", 10).start().await.unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("parquet-refusals");
    let done = sf
        .bulk_query("SELECT Id FROM Account")
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let schema = Schema::new(vec![Column::new("Id", ColumnType::Utf8, false)]);
    let error = done
        .download()
        .format(Format::parquet())
        .to_file(dir.join("a.parquet"))
        .await
        .unwrap_err();
    assert!(error.is_invalid_input(), "{error}");
    let error = done
        .download()
        .format(Format::parquet())
        .schema(schema.clone())
        .resume(true)
        .to_file(dir.join("a.parquet"))
        .await
        .unwrap_err();
    assert!(
        error.is_invalid_input() && error.to_string().contains("folder"),
        "{error}"
    );
    let report = done
        .download()
        .format(Format::parquet())
        .schema(schema)
        .resume(true)
        .to_dir(dir.join("parts"))
        .await
        .unwrap();
    assert_eq!(report.records, 10);
    assert_eq!(dir.names(), ["parts"]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_folder_download_resumes_with_the_same_schema_only() {
    let sim = sim().rows("Account", 2_500).start().await.unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("parquet-resume");
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
    let folder = dir.join("parts");
    let download = || {
        done.download()
            .concurrency(1)
            .max_records(500)
            .resume(true)
            .format(Format::parquet())
    };
    // The third page is refused, so the first run stops with two pages in its checkpoint.
    common::refuse_next_page(&sim, &format!("locator={}", sim.result_locator(1_000)));
    let first = download()
        .schema(schema.clone())
        .to_dir(&folder)
        .await
        .unwrap_err();
    assert_eq!(first.status(), Some(400), "{first}");
    let checkpoint = haul::salesforce::query::Checkpoint::load(&folder)
        .unwrap()
        .expect("a checkpoint");
    assert_eq!(checkpoint.pages.len(), 2);
    assert_eq!(checkpoint.schema.as_ref(), Some(&schema));

    // Another schema would mix types across the parts: refused.
    let mut other = schema.clone();
    other.columns[2].ty = ColumnType::Float64;
    let error = download().schema(other).to_dir(&folder).await.unwrap_err();
    assert!(
        error.is_invalid_input() && error.to_string().contains("schema"),
        "{error}"
    );

    let report = download().schema(schema).to_dir(&folder).await.unwrap();
    assert_eq!(
        (report.pages, report.resumed_pages, report.records),
        (5, 2, 2_500)
    );
    let csv = dir.join("all.csv");
    done.download().to_file(&csv).await.unwrap();
    let (_, rows) = read_csv(&csv);
    let mut parts: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "parquet"))
        .collect();
    parts.sort();
    let ids: Vec<Option<String>> = parts
        .iter()
        .flat_map(|p| cells(&read_parquet(p).1))
        .map(|row| row[0].clone())
        .collect();
    let expected: Vec<Option<String>> = rows.iter().map(|r| Some(r[0].clone())).collect();
    assert!(
        ids == expected,
        "the resumed parts hold every row once, in order"
    );
    assert!(
        haul::salesforce::query::Checkpoint::load(&folder)
            .unwrap()
            .is_none()
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_of_pages_in_another_dialect_is_typed_the_same_and_rows_counted_across_it() {
    use haul::types::{ApiVersion, ColumnDelimiter, LineEnding};

    let sim = sim().rows("Account", 2_500).start().await.unwrap();
    // Before API 58.0 there is no resultPages: the pages form a chain, fetched one at a time.
    let sf = haul::Salesforce::builder()
        .instance_url(sim.instance_url())
        .auth(haul::auth::AccessToken::new(sim.access_token()))
        .api_version(ApiVersion::new(57, 0))
        .build()
        .unwrap();
    let dir = TempDir::new("parquet-chain");
    let soql = "SELECT Id, NumberOfEmployees, AnnualRevenue, Description FROM Account";
    let schema = sf.query_schema(soql).await.unwrap();
    let piped = sf
        .bulk_query(soql)
        .column_delimiter(ColumnDelimiter::Pipe)
        .line_ending(LineEnding::Crlf)
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let file = dir.join("piped.parquet");
    let report = piped
        .download()
        .max_records(1_000)
        .format(Format::parquet())
        .schema(schema)
        .to_file(&file)
        .await
        .unwrap();
    assert_eq!((report.records, report.pages), (2_500, 3));
    assert_eq!(
        sim.stats().count(
            "GET",
            "/services/data/{version}/jobs/query/{id}/resultPages"
        ),
        0
    );
    let csv = dir.join("comma.csv");
    client(&sim)
        .bulk_query(soql)
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap()
        .download()
        .to_file(&csv)
        .await
        .unwrap();
    assert_eq!(assert_same(&file, &csv), 2_500);

    // The chain's third page with its fifth row spelled out: row 2005 of the result.
    let narrow = "SELECT Id, NumberOfEmployees FROM Account";
    let schema = sf.query_schema(narrow).await.unwrap();
    let done = sf
        .bulk_query(narrow)
        .column_delimiter(ColumnDelimiter::Pipe)
        .line_ending(LineEnding::Crlf)
        .submit()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let (_, rows) = read_csv(&csv);
    let mut page = String::from("\"Id\"|\"NumberOfEmployees\"\r\n");
    for (i, row) in rows[2_000..].iter().enumerate() {
        let employees = if i == 4 { "forty" } else { row[1].as_str() };
        page.push_str(&format!("\"{}\"|\"{employees}\"\r\n", row[0]));
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
        .format(Format::parquet())
        .schema(schema)
        .to_file(dir.join("refused.parquet"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, haul::Error::InvalidValue { row: 2_005, column, value, .. }
            if column == "NumberOfEmployees" && value == "forty"),
        "{error}"
    );
    assert_eq!(
        dir.names(),
        [
            "comma.csv",
            "comma.csv.manifest.json",
            "piped.parquet",
            "piped.parquet.manifest.json"
        ]
    );
    sim.shutdown().await;
}
