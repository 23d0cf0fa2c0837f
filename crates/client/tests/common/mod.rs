//! Loading the specs of `specs/` as JSON values, for tests that read them.

use std::path::PathBuf;

use serde_json::Value;

/// Every spec, by file name, in a fixed order.
pub(crate) const SPECS: &[&str] = &[
    "salesforce-bulk-query.yaml",
    "salesforce-bulk-ingest.yaml",
    "salesforce-async-soql.yaml",
    "salesforce-rest.yaml",
    "looker-query-tasks.yaml",
    "databricks-sql-statements.yaml",
];

pub(crate) fn load(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../specs")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|error| panic!("parsing {name}: {error}"))
}

/// The operations of a spec: (path, method, operation object).
pub(crate) fn operations(spec: &Value) -> Vec<(String, String, &Value)> {
    let mut found = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths is an object") {
        for (method, operation) in item.as_object().expect("a path item is an object") {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                found.push((path.clone(), method.clone(), operation));
            }
        }
    }
    found
}

/// Follows a local `$ref` such as `#/components/responses/NotFound`.
pub(crate) fn resolve<'a>(spec: &'a Value, reference: &str) -> Option<&'a Value> {
    spec.pointer(reference.strip_prefix('#')?)
}

/// The value itself, or what its `$ref` points at.
pub(crate) fn deref<'a>(spec: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            resolve(spec, reference).unwrap_or_else(|| panic!("unresolved {reference}"))
        }
        None => value,
    }
}
