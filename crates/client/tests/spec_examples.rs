//! Every example in the specs (the vendors' documented payloads) deserialises into the generated type of
//! its schema and serialises back to equivalent JSON.

mod common;

use chrono::{DateTime, FixedOffset};
use haul_client::databricks_sql_statements as databricks;
use haul_client::salesforce_rest as rest;
use haul_client::{looker_query_tasks as looker, salesforce_async_soql as async_soql};
use haul_client::{salesforce_bulk_ingest as ingest, salesforce_bulk_query as query};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// One example: where it stands, the schema it illustrates, and its JSON.
struct Example {
    spec: &'static str,
    place: String,
    schema: String,
    value: Value,
}

type Check = fn(&Value) -> Result<(), String>;

/// The generated (or replacement) type of each schema that has examples.
fn check_for(spec: &str, schema: &str) -> Option<Check> {
    macro_rules! table {
        ($($spec:literal => { $($schema:literal => $ty:ty),+ $(,)? })+) => {
            match (spec, schema) {
                $($(($spec, $schema) => Some(roundtrip::<$ty> as Check),)+)+
                _ => None,
            }
        };
    }
    table! {
        "salesforce-bulk-query.yaml" => {
            "CreateQueryJobRequest" => query::types::CreateQueryJobRequest,
            "QueryJobInfo" => query::types::QueryJobInfo,
            "QueryJobList" => query::types::QueryJobList,
            "AbortQueryJobRequest" => query::types::AbortQueryJobRequest,
            "ResultPages" => query::types::ResultPages,
            "SalesforceErrorList" => query::types::SalesforceErrorList,
            "SalesforceId" => haul_types::SalesforceId,
            "ApiVersion" => haul_types::ApiVersion,
        }
        "salesforce-bulk-ingest.yaml" => {
            "CreateIngestJobRequest" => ingest::types::CreateIngestJobRequest,
            "IngestJobInfo" => ingest::types::IngestJobInfo,
            "IngestJobList" => ingest::types::IngestJobList,
            "IngestJobStateChange" => ingest::types::IngestJobStateChange,
            "SalesforceErrorList" => ingest::types::SalesforceErrorList,
            "SalesforceId" => haul_types::SalesforceId,
            "ApiVersion" => haul_types::ApiVersion,
        }
        "salesforce-async-soql.yaml" => {
            "AsyncQueryInput" => async_soql::types::AsyncQueryInput,
            "AsyncQuery" => async_soql::types::AsyncQuery,
            "AsyncQueryCollection" => async_soql::types::AsyncQueryCollection,
            "SalesforceErrorList" => async_soql::types::SalesforceErrorList,
        }
        "salesforce-rest.yaml" => {
            "VersionList" => rest::types::VersionList,
            "VersionResources" => rest::types::VersionResources,
            "Limits" => haul_types::OrgLimits,
            "DescribeGlobal" => rest::types::DescribeGlobal,
            "SObjectDescribe" => rest::types::SObjectDescribe,
            "Record" => rest::types::Record,
            "QueryResult" => rest::types::QueryResult,
            "UserInfo" => rest::types::UserInfo,
            "Identity" => rest::types::Identity,
            "SalesforceErrorList" => rest::types::SalesforceErrorList,
            "SalesforceId" => haul_types::SalesforceId,
        }
        "looker-query-tasks.yaml" => {
            "AccessToken" => looker::types::AccessToken,
            "WriteQuery" => looker::types::WriteQuery,
            "WriteCreateQueryTask" => looker::types::WriteCreateQueryTask,
            "QueryTaskMultiResults" => looker::types::QueryTaskMultiResults,
            "Error" => looker::types::Error,
        }
        "databricks-sql-statements.yaml" => {
            "ExecuteStatementRequest" => databricks::types::ExecuteStatementRequest,
            "StatementResponse" => databricks::types::StatementResponse,
            "StatementStatus" => databricks::types::StatementStatus,
            "ResultData" => databricks::types::ResultData,
            "CancelStatementResponse" => databricks::types::CancelStatementResponse,
            "ServiceError" => databricks::types::ServiceError,
        }
    }
}

fn roundtrip<T: DeserializeOwned + Serialize>(original: &Value) -> Result<(), String> {
    let typed: T =
        serde_json::from_value(original.clone()).map_err(|e| format!("deserialise: {e}"))?;
    let back = serde_json::to_value(&typed).map_err(|e| format!("serialise: {e}"))?;
    if equivalent(original, &back) {
        Ok(())
    } else {
        Err(format!(
            "serialised back differently:\n  was {original}\n  now {back}"
        ))
    }
}

/// JSON equality that allows what serialisation legitimately changes: an absent key equals `null` or
/// an empty collection (optional maps and lists are skipped when empty), numbers compare by value, and
/// date-times compare as instants (`.000+0000` becomes `Z`).
fn equivalent(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.keys()
                .chain(y.keys())
                .all(|key| match (x.get(key), y.get(key)) {
                    (Some(p), Some(q)) => equivalent(p, q),
                    (Some(present), None) | (None, Some(present)) => is_empty_or_null(present),
                    (None, None) => unreachable!("the key came from one of the maps"),
                })
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equivalent(p, q))
        }
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(x), Value::String(y)) => x == y || same_instant(x, y),
        _ => a == b,
    }
}

fn is_empty_or_null(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(list) => list.is_empty(),
        _ => false,
    }
}

fn same_instant(a: &str, b: &str) -> bool {
    let parse = |text: &str| -> Option<DateTime<FixedOffset>> {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .or_else(|| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z").ok())
    };
    matches!((parse(a), parse(b)), (Some(x), Some(y)) if x == y)
}

/// Collects the JSON examples of a spec: on component schemas, and on JSON media types whose schema is
/// a `$ref` (request bodies, operation responses and shared responses).
fn json_examples(spec_name: &'static str, spec: &Value) -> Vec<Example> {
    let mut found = Vec::new();
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        if let Some(value) = schema.get("example") {
            found.push(Example {
                spec: spec_name,
                place: format!("components/schemas/{name}"),
                schema: name.clone(),
                value: value.clone(),
            });
        }
    }
    let mut media_types: Vec<(String, &Value)> = Vec::new();
    for (path, method, operation) in common::operations(spec) {
        if let Some(content) = operation.pointer("/requestBody/content") {
            media_types.push((format!("{method} {path} request"), content));
        }
        for (status, response) in operation["responses"].as_object().unwrap() {
            if let Some(content) = response.get("content") {
                media_types.push((format!("{method} {path} {status}"), content));
            }
        }
    }
    for (name, response) in spec["components"]["responses"].as_object().unwrap() {
        if let Some(content) = response.get("content") {
            media_types.push((format!("components/responses/{name}"), content));
        }
    }
    for (place, content) in media_types {
        let Some(media) = content.get("application/json") else {
            continue;
        };
        let (Some(value), Some(reference)) = (
            media.get("example"),
            media.pointer("/schema/$ref").and_then(Value::as_str),
        ) else {
            continue;
        };
        let schema = reference.rsplit('/').next().unwrap().to_owned();
        found.push(Example {
            spec: spec_name,
            place,
            schema,
            value: value.clone(),
        });
    }
    found
}

#[test]
fn every_json_example_roundtrips_through_its_generated_type() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for spec_name in common::SPECS {
        let spec = common::load(spec_name);
        for example in json_examples(spec_name, &spec) {
            let Some(check) = check_for(example.spec, &example.schema) else {
                failures.push(format!(
                    "{} {}: no type registered for schema {} in this test's table",
                    example.spec, example.place, example.schema
                ));
                continue;
            };
            if let Err(problem) = check(&example.value) {
                failures.push(format!(
                    "{} {} ({}): {problem}",
                    example.spec, example.place, example.schema
                ));
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} example(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Guard against the walk silently finding nothing (a renamed key, say).
    assert!(checked >= 25, "only {checked} examples found");
}

/// CSV examples (results and upload bodies) have a header and rows of the same width.
#[test]
fn every_csv_example_is_rectangular() {
    let mut checked = 0;
    for spec_name in common::SPECS {
        let spec = common::load(spec_name);
        let mut contents: Vec<&Value> = Vec::new();
        for (_, _, operation) in common::operations(&spec) {
            for response in operation["responses"].as_object().unwrap().values() {
                contents.extend(common::deref(&spec, response).get("content"));
            }
        }
        for content in contents {
            let Some(example) = content
                .pointer("/text~1csv/example")
                .and_then(Value::as_str)
            else {
                continue;
            };
            let widths: Vec<usize> = example.lines().map(csv_width).collect();
            assert!(
                widths.len() >= 2,
                "{spec_name}: CSV example without rows: {example:?}"
            );
            assert!(
                widths.iter().all(|w| *w == widths[0]),
                "{spec_name}: ragged CSV {example:?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} CSV examples found");
}

/// Number of fields in one CSV line whose quoted values hold no line breaks.
fn csv_width(line: &str) -> usize {
    let mut quoted = false;
    1 + line
        .chars()
        .filter(|c| {
            if *c == '"' {
                quoted = !quoted;
            }
            *c == ',' && !quoted
        })
        .count()
}

#[test]
fn unknown_job_state_is_kept_as_data() {
    let json = serde_json::json!({
        "id": "750R0000000zlh9IAA",
        "state": "Paused",
        "jobType": "V3Query",
        "columnDelimiter": "DOUBLEPIPE",
        "apiVersion": 70.0,
    });
    let info: query::types::QueryJobInfo = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(
        info.state,
        haul_types::QueryJobState::Other("Paused".into())
    );
    assert_eq!(
        info.job_type,
        Some(haul_types::JobType::Other("V3Query".into()))
    );
    assert_eq!(
        info.column_delimiter.as_ref().and_then(|d| d.as_byte()),
        None
    );
    assert!(equivalent(&json, &serde_json::to_value(&info).unwrap()));
}

#[test]
fn unknown_looker_status_and_format_are_kept_as_data() {
    let json = serde_json::json!({
        "a1": {"status": "queued_for_gpu"},
        "b2": {"status": "complete", "data": [{"orders.count": 3}]},
    });
    let results: looker::types::QueryTaskMultiResults =
        serde_json::from_value(json.clone()).unwrap();
    assert_eq!(
        results["a1"].status,
        haul_types::QueryTaskStatus::Other("queued_for_gpu".into())
    );
    assert_eq!(results["b2"].status, haul_types::QueryTaskStatus::Complete);
    assert!(equivalent(&json, &serde_json::to_value(&results).unwrap()));

    let task: looker::types::WriteCreateQueryTask =
        serde_json::from_value(serde_json::json!({"query_id": "1", "result_format": "parquet"}))
            .unwrap();
    assert_eq!(
        task.result_format,
        haul_types::LookerResultFormat::Other("parquet".into())
    );
}

#[test]
fn a_malformed_job_id_is_rejected_when_deserialising() {
    let json = serde_json::json!({"id": "../../x", "state": "JobComplete"});
    let error = serde_json::from_value::<query::types::QueryJobInfo>(json).unwrap_err();
    assert!(
        error.to_string().contains("is not a Salesforce id"),
        "{error}"
    );
}
