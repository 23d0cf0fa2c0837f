//! REST query results through the download engine against haul-sim: the same SOQL through the
//! Bulk API and the REST API gives the same typed values in Parquet and in JSON lines, a decimal
//! with more digits than a float holds keeps them, relationship paths are flattened and a null
//! relationship gives nulls.

mod common;

use std::fs::File;
use std::io::Cursor;
use std::path::Path;
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Float64Type, Int32Type, Int64Type};
use arrow_array::{Array, RecordBatch, RecordBatchReader};
use arrow_schema::DataType;
use common::{TempDir, client, sim};
use haul::download::{Format, Schema};
use haul::{BackoffPolicy, Salesforce};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const ACCOUNTS: &str = "SELECT Id, Name, NumberOfEmployees, AnnualRevenue, Description, \
     Tax_Number__c, Discount__c, Preferred_Call_Time__c, Services__c, CreatedDate, IsDeleted, \
     Headquarters__Latitude__s FROM Account";
const CONTACTS: &str =
    "SELECT Id, LastName, Birthdate, HasOptedOutOfEmail, Account.Name, AccountId FROM Contact";
/// 18 significant digits: a float holds 15 to 17, so `1234567890123456.8` is what one makes of it.
const BIG_REVENUE: &str = "1234567890123456.78";

/// Every row of a Parquet file, each value as text (a decimal as its units, so that equal text is
/// an equal value), sorted by the first column.
fn parquet_rows(path: &Path) -> (Vec<String>, Vec<Vec<Option<String>>>) {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let names = reader
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let mut rows: Vec<Vec<Option<String>>> = batches
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
        .collect();
    rows.sort();
    (names, rows)
}

fn cell(array: &dyn Array, row: usize) -> Option<String> {
    if array.is_null(row) {
        return None;
    }
    Some(match array.data_type() {
        DataType::Decimal128(..) => array
            .as_primitive::<Decimal128Type>()
            .value(row)
            .to_string(),
        DataType::Float64 => array.as_primitive::<Float64Type>().value(row).to_string(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(row).to_string(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::Utf8 => array.as_string::<i32>().value(row).to_owned(),
        // Dates, times and lists: the array's own rendering of the one value.
        _ => format!("{:?}", array.slice(row, 1)),
    })
}

/// The lines of a JSON lines file, sorted.
fn jsonl_lines(path: &Path) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

/// Inserts an account whose revenue has more digits than a float holds (and a number in
/// exponent notation), and a contact with no account.
async fn insert_edge_records(sf: &Salesforce) {
    for (object, csv) in [
        (
            "Account",
            format!("Name,AnnualRevenue,Tax_Number__c\nBig Revenue,{BIG_REVENUE},1.5E+7\n"),
        ),
        (
            "Contact",
            "LastName,HasOptedOutOfEmail\nNo Account,false\n".to_owned(),
        ),
    ] {
        let outcome = sf
            .bulk_ingest(object)
            .insert()
            .csv_reader(Cursor::new(csv.into_bytes()))
            .backoff(BackoffPolicy::fixed(Duration::from_millis(10)))
            .run()
            .await
            .unwrap();
        assert_eq!(outcome.summary.records_failed, 0, "{object}: {outcome:?}");
    }
}

/// `soql` downloaded as `format` through the Bulk API and through the REST API (in batches of
/// 500): the two files.
async fn both(
    sf: &Salesforce,
    dir: &TempDir,
    name: &str,
    soql: &str,
    schema: &Schema,
    format: Format,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let bulk = dir.join(&format!("{name}-bulk.{format}"));
    let rest = dir.join(&format!("{name}-rest.{format}"));
    let done = sf.bulk_query(soql).submit().await.unwrap().wait().await;
    done.unwrap()
        .download()
        .format(format)
        .schema(schema.clone())
        .to_file(&bulk)
        .await
        .unwrap();
    let report = sf
        .query(soql)
        .batch_size(500)
        .download()
        .format(format)
        .schema(schema.clone())
        .to_file(&rest)
        .await
        .unwrap();
    assert!(report.pages >= 2, "{name}: {report:?}");
    (bulk, rest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_and_rest_give_the_same_typed_values() {
    let sim = sim()
        .rows("Account", 1_500)
        .rows("Contact", 1_200)
        .start()
        .await
        .unwrap();
    let sf = client(&sim);
    insert_edge_records(&sf).await;
    let dir = TempDir::new("rest-typed");
    for (name, soql) in [("accounts", ACCOUNTS), ("contacts", CONTACTS)] {
        let schema = sf.query_schema(soql).await.unwrap();
        let (bulk, rest) = both(&sf, &dir, name, soql, &schema, Format::parquet()).await;
        let (names, rest_rows) = parquet_rows(&rest);
        let (bulk_names, bulk_rows) = parquet_rows(&bulk);
        assert_eq!(names, bulk_names);
        assert!(rest_rows.len() > 1_000, "{name}: {} rows", rest_rows.len());
        assert!(rest_rows == bulk_rows, "{name}: the REST values differ");
        let (bulk, rest) = both(&sf, &dir, name, soql, &schema, Format::Jsonl).await;
        assert!(
            jsonl_lines(&rest) == jsonl_lines(&bulk),
            "{name}: the REST JSON lines differ"
        );
    }

    let (_, accounts) = parquet_rows(&dir.join("accounts-rest.parquet"));
    let big = accounts
        .iter()
        .find(|row| row[1].as_deref() == Some("Big Revenue"))
        .unwrap();
    // AnnualRevenue is a decimal(18, 2): its units are the digits, every one of them.
    assert_eq!(big[3].as_deref(), Some("123456789012345678"));
    assert_eq!(big[5].as_deref(), Some("15000000"), "1.5E+7 at scale 0");
    let line = jsonl_lines(&dir.join("accounts-rest.jsonl"))
        .into_iter()
        .find(|line| line.contains("Big Revenue"))
        .unwrap();
    assert!(
        line.contains(&format!("\"AnnualRevenue\":\"{BIG_REVENUE}\"")),
        "{line}"
    );

    let (names, contacts) = parquet_rows(&dir.join("contacts-rest.parquet"));
    assert_eq!(names[4], "Account.Name");
    let orphan = contacts
        .iter()
        .find(|row| row[1].as_deref() == Some("No Account"))
        .unwrap();
    assert_eq!((&orphan[4], &orphan[5]), (&None, &None), "{orphan:?}");
    let named = contacts.iter().filter(|row| row[4].is_some()).count();
    assert_eq!(
        named,
        contacts.len() - 1,
        "every other contact has its account"
    );

    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("contacts-rest.parquet.manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["source"]["kind"], "salesforce-rest-query");
    assert_eq!(manifest["source"]["query"], CONTACTS);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rest_download_writes_a_folder_and_refuses_what_it_cannot_do() {
    let sim = sim().rows("Account", 700).start().await.unwrap();
    let sf = client(&sim);
    let dir = TempDir::new("rest-folder");
    let soql = "SELECT Id, Name, AnnualRevenue FROM Account";
    let schema = sf.query_schema(soql).await.unwrap();
    let folder = dir.join("accounts/");
    // The second batch fails once with a 503: the engine's retry fetches it again.
    let more = "/services/data/{version}/queryAll/{cursor}";
    sim.misbehave_next("GET", more, haul_sim::Misbehaviour::huge_error(503, 100));
    let report = sf
        .query_all(soql)
        .batch_size(200)
        .download()
        .format(Format::parquet())
        .schema(schema.clone())
        .to_dir(&folder)
        .await
        .unwrap();
    assert_eq!((report.pages, report.records), (4, 700), "{report:?}");
    assert_eq!(
        sim.stats().count("GET", more),
        4,
        "three batches, one twice"
    );
    let mut names = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect::<Vec<_>>();
    names.sort();
    assert_eq!(
        names,
        [
            "_manifest.json",
            "part-00000.parquet",
            "part-00001.parquet",
            "part-00002.parquet",
            "part-00003.parquet"
        ]
    );
    let again = sf
        .query_all(soql)
        .download()
        .format(Format::parquet())
        .schema(schema.clone())
        .to_dir(&folder)
        .await
        .unwrap_err();
    assert!(again.is_invalid_input(), "a complete output stays: {again}");

    let file = dir.join("x.parquet");
    for refused in [
        sf.query("SELECT FIELDS(STANDARD) FROM Account")
            .download()
            .to_file(&file)
            .await,
        sf.query(soql)
            .download()
            .max_records(10)
            .to_file(&file)
            .await,
        sf.query(soql).batch_size(5).download().to_file(&file).await,
    ] {
        let error = refused.unwrap_err();
        assert!(error.is_invalid_input(), "{error}");
    }
    assert!(!file.exists());
    sim.shutdown().await;
}
