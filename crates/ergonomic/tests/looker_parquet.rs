//! Looker results as typed Parquet against haul-sim: the Arrow schema follows the field metadata
//! of json_detail and json_bi, and every value read back with the `parquet` crate equals the `json`
//! result of the same query, nulls included.

mod common;

use std::collections::BTreeMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, RecordBatch, RecordBatchReader};
use arrow_schema::{DataType, TimeUnit};
use chrono::{NaiveDate, NaiveDateTime};
use common::sim;
use haul::download::{ColumnType, Compression};
use haul::looker::{Looker, LookerResultFormat, Query};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

/// Every type the simulated model has, a date with nulls among them, one row per order item.
fn items() -> Query {
    Query::new("thelook", "order_items")
        .fields([
            "order_items.id",
            "orders.status",
            "orders.created_date",
            "orders.created_time",
            "order_items.returned_date",
            "order_items.is_returned",
            "users.age",
            "order_items.count",
            "order_items.total_sale_price",
            "order_items.average_sale_price",
        ])
        .sort("order_items.id")
        .limit(300)
}

const EXPECTED: &[(&str, ColumnType)] = &[
    ("order_items.id", ColumnType::Float64),
    ("orders.status", ColumnType::Utf8),
    ("orders.created_date", ColumnType::Date),
    ("orders.created_time", ColumnType::Timestamp),
    ("order_items.returned_date", ColumnType::Date),
    ("order_items.is_returned", ColumnType::Boolean),
    ("users.age", ColumnType::Float64),
    ("order_items.count", ColumnType::Int64),
    ("order_items.total_sale_price", ColumnType::Float64),
    ("order_items.average_sale_price", ColumnType::Float64),
];

async fn looker(sim: &haul_sim::Sim) -> Looker {
    Looker::builder()
        .base_url(sim.looker().base_url())
        .client_credentials(sim.looker().client_id(), sim.looker().client_secret())
        .build()
        .expect("settings")
}

fn read(bytes: bytes::Bytes) -> (arrow_schema::SchemaRef, RecordBatch) {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .unwrap()
        .build()
        .unwrap();
    let schema = reader.schema();
    let mut batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    assert_eq!(batches.len(), 1, "300 rows fit one batch");
    (schema, batches.remove(0))
}

/// Checks that column `index` of `batch` holds the `json` result's values of `name`.
fn assert_column_equals(
    batch: &RecordBatch,
    index: usize,
    name: &str,
    ty: ColumnType,
    json: &[BTreeMap<String, Value>],
) {
    let column = batch.column(index);
    assert_eq!(column.len(), json.len(), "{name}");
    for (row, expected) in json.iter().map(|r| &r[name]).enumerate() {
        if expected.is_null() {
            assert!(column.is_null(row), "{name} row {row}: null expected");
            continue;
        }
        assert!(
            !column.is_null(row),
            "{name} row {row}: {expected} expected"
        );
        match ty {
            ColumnType::Utf8 => {
                assert_eq!(
                    column.as_string::<i32>().value(row),
                    expected.as_str().unwrap()
                )
            }
            ColumnType::Float64 => assert_eq!(
                column.as_primitive::<Float64Type>().value(row),
                expected.as_f64().unwrap(),
                "{name} row {row}"
            ),
            ColumnType::Int64 => assert_eq!(
                column.as_primitive::<Int64Type>().value(row),
                expected.as_i64().unwrap()
            ),
            ColumnType::Boolean => assert_eq!(
                column.as_boolean().value(row),
                expected.as_str() == Some("Yes")
            ),
            ColumnType::Date => {
                let date =
                    NaiveDate::parse_from_str(expected.as_str().unwrap(), "%Y-%m-%d").unwrap();
                let days = date.signed_duration_since(NaiveDate::default()).num_days();
                assert_eq!(
                    i64::from(column.as_primitive::<Date32Type>().value(row)),
                    days
                );
            }
            ColumnType::Timestamp => {
                let at =
                    NaiveDateTime::parse_from_str(expected.as_str().unwrap(), "%Y-%m-%d %H:%M:%S")
                        .unwrap()
                        .and_utc();
                assert_eq!(
                    column.as_primitive::<TimestampMillisecondType>().value(row),
                    at.timestamp_millis()
                );
            }
            other => panic!("{other} is not expected from the simulated model"),
        }
    }
}

#[tokio::test]
async fn json_detail_and_json_bi_become_typed_parquet_equal_to_the_json_result() {
    let sim = sim().start().await.unwrap();
    let looker = looker(&sim).await;
    let id = looker.create_query(items()).await.unwrap();
    let json: Vec<BTreeMap<String, Value>> = looker
        .run_query(&id)
        .format(LookerResultFormat::Json)
        .rows()
        .await
        .unwrap();
    assert_eq!(json.len(), 300);
    let returned = json
        .iter()
        .filter(|r| r["order_items.returned_date"].is_null())
        .count();
    assert!(
        returned > 0 && returned < 300,
        "some dates are null, some not: {returned}"
    );

    for format in [LookerResultFormat::JsonDetail, LookerResultFormat::JsonBi] {
        let parquet = looker
            .run_query(&id)
            .format(format.clone())
            .parquet(Compression::Zstd)
            .await
            .unwrap();
        assert_eq!(parquet.rows, 300, "{format}");
        let names: Vec<(&str, ColumnType)> = parquet
            .schema
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.ty))
            .collect();
        assert_eq!(names, EXPECTED, "{format}: dimensions, then measures");
        let (schema, batch) = read(parquet.bytes.clone());
        let arrow: Vec<(&str, &DataType, bool)> = schema
            .fields()
            .iter()
            .map(|f| (f.name().as_str(), f.data_type(), f.is_nullable()))
            .collect();
        let utc = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
        let expected_arrow = [
            ("order_items.id", &DataType::Float64),
            ("orders.status", &DataType::Utf8),
            ("orders.created_date", &DataType::Date32),
            ("orders.created_time", &utc),
            ("order_items.returned_date", &DataType::Date32),
            ("order_items.is_returned", &DataType::Boolean),
            ("users.age", &DataType::Float64),
            ("order_items.count", &DataType::Int64),
            ("order_items.total_sale_price", &DataType::Float64),
            ("order_items.average_sale_price", &DataType::Float64),
        ]
        .map(|(name, ty)| (name, ty, true));
        assert_eq!(arrow, expected_arrow, "{format}");
        for (index, (name, ty)) in EXPECTED.iter().enumerate() {
            assert_column_equals(&batch, index, name, *ty, &json);
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn formats_without_field_types_are_refused_before_anything_is_written() {
    let sim = sim().start().await.unwrap();
    let looker = looker(&sim).await;
    let id = looker.create_query(items().limit(3)).await.unwrap();
    let task = looker
        .run_query(&id)
        .format(LookerResultFormat::Csv)
        .submit()
        .await
        .unwrap();
    let csv = task.wait().await.unwrap().read().await.unwrap();
    let error = csv.to_parquet(Compression::Zstd).unwrap_err();
    assert!(error.is_invalid_input(), "{error}");
    assert!(error.to_string().contains("json_detail"), "{error}");
    sim.shutdown().await;
}
