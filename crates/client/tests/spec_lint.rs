//! The specs follow the project's rules: every operation has an id, a summary, a success response and
//! its error responses in the vendor's error schema; every `$ref` resolves; every schema is described.

mod common;

use std::collections::BTreeSet;

use serde_json::Value;

/// The one error schema each family's errors use.
fn error_schema(spec_name: &str) -> &'static str {
    if spec_name.starts_with("salesforce-") {
        "SalesforceErrorList"
    } else if spec_name.starts_with("databricks-") {
        "ServiceError"
    } else {
        "Error"
    }
}

#[test]
fn every_operation_has_an_id_a_summary_and_vendor_error_responses() {
    let mut problems = Vec::new();
    let mut operations = 0;
    for spec_name in common::SPECS {
        let spec = common::load(spec_name);
        let mut ids = BTreeSet::new();
        for (path, method, operation) in common::operations(&spec) {
            operations += 1;
            let at = format!("{spec_name}: {method} {path}");
            match operation["operationId"].as_str() {
                Some(id) if !id.is_empty() => {
                    if !ids.insert(id.to_owned()) {
                        problems.push(format!("{at}: operationId {id} is used twice"));
                    }
                }
                _ => problems.push(format!("{at}: no operationId")),
            }
            if operation["summary"].as_str().is_none_or(str::is_empty) {
                problems.push(format!("{at}: no summary"));
            }
            let responses = operation["responses"].as_object().expect("responses");
            if !responses.keys().any(|status| status.starts_with('2')) {
                problems.push(format!("{at}: no success response"));
            }
            if !responses.keys().any(|status| status.starts_with('4')) {
                problems.push(format!("{at}: no error response"));
            }
            for (status, response) in responses {
                if !(status.starts_with('4') || status.starts_with('5')) {
                    continue;
                }
                let schema = common::deref(&spec, response)
                    .pointer("/content/application~1json/schema/$ref")
                    .and_then(Value::as_str);
                let expected = format!("#/components/schemas/{}", error_schema(spec_name));
                if schema != Some(expected.as_str()) {
                    problems.push(format!(
                        "{at} {status}: error body is {schema:?}, not {expected}"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(operations >= 29, "only {operations} operations found");
}

#[test]
fn every_ref_resolves() {
    for spec_name in common::SPECS {
        let spec = common::load(spec_name);
        let mut references = Vec::new();
        collect_refs(&spec, &mut references);
        assert!(!references.is_empty(), "{spec_name}: no $ref at all");
        for reference in references {
            assert!(
                common::resolve(&spec, &reference).is_some(),
                "{spec_name}: {reference} does not resolve"
            );
        }
    }
}

fn collect_refs(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                into.push(reference.clone());
            }
            map.values().for_each(|child| collect_refs(child, into));
        }
        Value::Array(items) => items.iter().for_each(|child| collect_refs(child, into)),
        _ => {}
    }
}

#[test]
fn every_spec_names_its_version_and_describes_its_schemas() {
    for spec_name in common::SPECS {
        let spec = common::load(spec_name);
        assert_eq!(spec["openapi"], "3.0.3", "{spec_name}");
        assert!(
            spec["info"]["version"]
                .as_str()
                .is_some_and(|v| !v.is_empty()),
            "{spec_name}"
        );
        for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
            assert!(
                schema["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{spec_name}: schema {name} has no description"
            );
        }
    }
}

/// haul's default API version is the newest the Salesforce specs describe.
#[test]
fn the_default_api_version_is_the_one_the_salesforce_specs_describe() {
    for spec_name in common::SPECS
        .iter()
        .filter(|name| name.starts_with("salesforce-"))
    {
        let spec = common::load(spec_name);
        let version: haul_types::ApiVersion =
            spec["info"]["version"].as_str().unwrap().parse().unwrap();
        assert_eq!(version, haul_types::ApiVersion::LATEST, "{spec_name}");
    }
}
