//! REST Query and QueryAll, and the simulated org as real tools see it through them and through
//! Bulk API: batches and `nextRecordsUrl`, parent fields, deleted rows, audit fields, the Bulk
//! API's refusals and its number formats.
mod common;

use std::collections::HashSet;

use chrono::Timelike as _;
use common::*;
use haul_sim::Sim;
use serde_json::{Value, json};

/// `GET {path}` with `Sforce-Query-Options: batchSize=N` when given.
async fn query_page(sim: &Sim, path: &str, batch: Option<u32>) -> Value {
    let url = if path.starts_with("/services/") {
        format!("{}{path}", sim.instance_url())
    } else {
        sf(sim, path)
    };
    let mut request = client().get(url).bearer_auth(sim.access_token());
    if let Some(n) = batch {
        request = request.header("Sforce-Query-Options", format!("batchSize={n}"));
    }
    let r = request.send().await.expect("request");
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.expect("json")
}

/// Every record of a query, following `nextRecordsUrl` (at most 100 batches); the batch sizes.
async fn query_all_pages(
    sim: &Sim,
    resource: &str,
    soql: &str,
    batch: Option<u32>,
) -> (Vec<Value>, Vec<usize>) {
    let mut page = query_page(
        sim,
        &format!("/{resource}?q={}", soql.replace(' ', "+")),
        batch,
    )
    .await;
    let total = page["totalSize"].as_u64().expect("totalSize");
    let (mut records, mut sizes) = (Vec::new(), Vec::new());
    for _ in 0..100 {
        let batch_records = page["records"].as_array().expect("records").clone();
        sizes.push(batch_records.len());
        records.extend(batch_records);
        if page["done"] == true {
            assert!(page.get("nextRecordsUrl").is_none(), "{page}");
            assert_eq!(records.len() as u64, total);
            return (records, sizes);
        }
        let next = page["nextRecordsUrl"]
            .as_str()
            .expect("nextRecordsUrl")
            .to_owned();
        assert!(
            next.starts_with(&format!("/services/data/v62.0/{resource}/01g")),
            "{next}"
        );
        assert!(next.ends_with(&format!("-{}", records.len())), "{next}");
        page = query_page(sim, &next, None).await;
    }
    panic!("more than 100 batches");
}

#[tokio::test]
async fn query_batches_by_2000_or_the_asked_batch_size() {
    let sim = Sim::builder()
        .rows("Account", 4_500)
        .start()
        .await
        .expect("starts");
    let soql = "SELECT Id, Name, NumberOfEmployees, AnnualRevenue, Industry FROM Account";
    let (records, sizes) = query_all_pages(&sim, "query", soql, None).await;
    assert_eq!(sizes, [2_000, 2_000, 500]);
    let ids: HashSet<&str> = records.iter().filter_map(|r| r["Id"].as_str()).collect();
    assert_eq!(ids.len(), 4_500);
    let (_, sizes) = query_all_pages(&sim, "query", soql, Some(1_000)).await;
    assert_eq!(sizes, [1_000, 1_000, 1_000, 1_000, 500]);
    let (_, sizes) =
        query_all_pages(&sim, "query", "SELECT Id FROM Account LIMIT 450", Some(10)).await;
    assert_eq!(sizes, [200, 200, 50], "batchSize is at least 200");
    let first = &records[0];
    assert_eq!(first["attributes"]["type"], "Account");
    assert!(
        first["NumberOfEmployees"].is_i64() && first["AnnualRevenue"].is_f64(),
        "{first}"
    );
    assert!(
        records.iter().any(|r| r["Industry"].is_null()),
        "null is null"
    );
    let keys: Vec<&String> = first.as_object().expect("record").keys().collect();
    assert_eq!(keys.len(), 6);
    let r = client()
        .get(sf(&sim, "/query/01gHs0000000nopAAA-2000"))
        .bearer_auth(sim.access_token())
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body[0]["errorCode"], "INVALID_QUERY_LOCATOR");
    let (status, bad) = get_json(&sim, "/query?q=SELECT+Nope+FROM+Account").await;
    assert_eq!(
        (status, &bad[0]["errorCode"]),
        (400, &json!("INVALID_FIELD"))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn records_keep_attributes_first_and_select_order() {
    let sim = Sim::builder()
        .rows("Account", 20)
        .start()
        .await
        .expect("starts");
    let r = client()
        .get(sf(
            &sim,
            "/query?q=SELECT+Name,+Id,+Industry+FROM+Account+LIMIT+1",
        ))
        .bearer_auth(sim.access_token())
        .send()
        .await
        .expect("request");
    let text = r.text().await.expect("text");
    let at = |key: &str| {
        text.find(&format!("\"{key}\""))
            .unwrap_or_else(|| panic!("{key} in {text}"))
    };
    assert!(
        at("totalSize") < at("done") && at("done") < at("records"),
        "{text}"
    );
    assert!(
        at("attributes") < at("Name") && at("Name") < at("Id") && at("Id") < at("Industry"),
        "{text}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn parent_fields_nest_under_the_relationship_name() {
    let sim = Sim::builder()
        .rows("Account", 30)
        .rows("Contact", 40)
        .start()
        .await
        .expect("starts");
    let (records, _) = query_all_pages(
        &sim,
        "query",
        "SELECT Id, Account.Name, LastName, Account.Industry FROM Contact LIMIT 10",
        None,
    )
    .await;
    for record in &records {
        let account = &record["Account"];
        let url = account["attributes"]["url"].as_str().expect("parent url");
        assert_eq!(account["attributes"]["type"], "Account");
        let (status, parent) = get_absolute(&sim, url).await;
        assert_eq!(status, 200);
        assert_eq!(account["Name"], parent["Name"], "{record}");
        assert_eq!(account["Industry"], parent["Industry"], "{record}");
        assert!(record["LastName"].is_string());
    }
    let id = create_query(&sim, "SELECT Id, Account.Name FROM Contact LIMIT 3").await;
    wait_for(
        &sim,
        &format!("/jobs/query/{id}"),
        "state",
        &["JobComplete"],
    )
    .await;
    let (_, _, csv) = page(&sim, &id, "").await;
    assert!(csv.starts_with("\"Id\",\"Account.Name\"\n"), "{csv}");
    sim.shutdown().await;
}

#[tokio::test]
async fn deletes_show_in_query_all_with_is_deleted_and_new_stamps() {
    let sim = Sim::builder()
        .rows("Account", 10)
        .start()
        .await
        .expect("starts");
    // Stamps are whole seconds, as a real org's are: compare with the start's second.
    let started = chrono::Utc::now()
        .with_nanosecond(0)
        .expect("zero nanoseconds is a valid time");
    let (before, _) = query_all_pages(
        &sim,
        "query",
        "SELECT Id, CreatedDate, SystemModstamp FROM Account",
        None,
    )
    .await;
    let gone: Vec<&str> = before[..2]
        .iter()
        .map(|r| r["Id"].as_str().expect("id"))
        .collect();
    let renamed = before[2]["Id"].as_str().expect("id");
    let csv = format!("Id\n{}\n{}\n", gone[0], gone[1]);
    let info = run_ingest(
        &sim,
        &json!({"object": "Account", "operation": "delete"}),
        &csv,
    )
    .await;
    assert_eq!(info["numberRecordsFailed"], 0, "{info}");
    let csv = format!("Id,Name\n{renamed},Renamed Co\n");
    run_ingest(
        &sim,
        &json!({"object": "Account", "operation": "update"}),
        &csv,
    )
    .await;

    let soql = "SELECT Id, IsDeleted, CreatedDate, LastModifiedDate, SystemModstamp FROM Account";
    let (live, _) = query_all_pages(&sim, "query", soql, None).await;
    assert_eq!(live.len(), 8);
    assert!(live.iter().all(|r| r["IsDeleted"] == false));
    let (all, _) = query_all_pages(&sim, "queryAll", soql, None).await;
    assert_eq!(all.len(), 10);
    let deleted: Vec<&Value> = all.iter().filter(|r| r["IsDeleted"] == true).collect();
    assert_eq!(deleted.len(), 2);
    let after = |record: &Value, field: &str| {
        let text = record[field].as_str().expect("date-time");
        chrono::DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.3f%z").expect("vendor format")
            >= started
    };
    for record in deleted
        .iter()
        .copied()
        .chain(all.iter().filter(|r| r["Id"] == renamed))
    {
        assert!(
            after(record, "SystemModstamp") && after(record, "LastModifiedDate"),
            "{record}"
        );
        assert!(!after(record, "CreatedDate"), "{record}");
    }
    let untouched = all
        .iter()
        .find(|r| r["Id"] == before[5]["Id"])
        .expect("row 5");
    assert_eq!(untouched["LastModifiedDate"], untouched["SystemModstamp"]);
    assert!(untouched["LastModifiedDate"].as_str() >= untouched["CreatedDate"].as_str());
    let (status, _) = get_json(&sim, &format!("/sobjects/Account/{}", gone[0])).await;
    assert_eq!(status, 404, "a deleted record is not found");

    let (body, job) = bulk_csv(&sim, "queryAll", "SELECT Id, IsDeleted FROM Account").await;
    assert_eq!(job["numberRecordsProcessed"], 10);
    assert_eq!(body.matches(",\"true\"").count(), 2, "{body}");
    let (body, _) = bulk_csv(&sim, "query", "SELECT Id, IsDeleted FROM Account").await;
    assert_eq!(
        (body.lines().count(), body.matches("true").count()),
        (9, 0),
        "{body}"
    );
    sim.shutdown().await;
}

/// Runs a Bulk API query job of `operation` to the end: its single result page and job info.
async fn bulk_csv(sim: &Sim, operation: &str, soql: &str) -> (String, Value) {
    let (status, job) = post_json(
        sim,
        "/jobs/query",
        &json!({"operation": operation, "query": soql}),
    )
    .await;
    assert_eq!(status, 200, "{job}");
    let id = job["id"].as_str().expect("id");
    let info = wait_for(sim, &format!("/jobs/query/{id}"), "state", &["JobComplete"]).await;
    let (status, _, body) = page(sim, id, "").await;
    assert_eq!(status, 200);
    (body, info)
}

#[tokio::test]
async fn bulk_refuses_compound_and_binary_fields_and_unsupported_objects() {
    let sim = Sim::builder().start().await.expect("starts");
    let refused = |code: &str, message: &str| json!([{"errorCode": code, "message": message}]);
    let compound = refused(
        "FUNCTIONALITY_NOT_ENABLED",
        "Selecting compound data not supported in Bulk Query",
    );
    for soql in [
        "SELECT Id, BillingAddress FROM Account",
        "SELECT ShippingAddress FROM Account",
        "SELECT Id, Headquarters__c FROM Account",
        "SELECT Id, Address FROM Lead",
    ] {
        let (status, body) = post_json(
            &sim,
            "/jobs/query",
            &json!({"operation": "query", "query": soql}),
        )
        .await;
        assert_eq!((status, &body), (400, &compound), "{soql}");
    }
    let (status, body) = post_json(
        &sim,
        "/jobs/query",
        &json!({"operation": "query", "query": "SELECT Id, Body FROM Attachment"}),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            400,
            refused("FeatureNotEnabled", "Binary field not supported")
        )
    );
    let (status, body) = post_json(
        &sim,
        "/jobs/query",
        &json!({"operation": "query", "query": "SELECT Id FROM AccountFeed"}),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            400,
            refused(
                "INVALIDENTITY",
                "Entity 'AccountFeed' is not supported by the Bulk API."
            )
        )
    );
    let components = "SELECT Id, BillingStreet, BillingCity, BillingLatitude, Headquarters__Latitude__s FROM Account";
    let (status, body) = post_json(
        &sim,
        "/jobs/query",
        &json!({"operation": "query", "query": components}),
    )
    .await;
    assert_eq!(status, 200, "components are plain fields: {body}");
    let (records, _) = {
        let page = get_json(
            &sim,
            "/query?q=SELECT+Id,+BillingAddress,+Headquarters__c+FROM+Account+LIMIT+50",
        )
        .await
        .1;
        (page["records"].as_array().expect("records").clone(), ())
    };
    let address = records
        .iter()
        .find_map(|r| r["BillingAddress"].as_object())
        .expect("an address");
    for key in [
        "street",
        "city",
        "state",
        "postalCode",
        "country",
        "latitude",
        "longitude",
        "geocodeAccuracy",
    ] {
        assert!(address.contains_key(key), "{key}: {address:?}");
    }
    let place = records
        .iter()
        .find_map(|r| r["Headquarters__c"].as_object())
        .expect("a location");
    assert!(
        place["latitude"].is_f64() && place["longitude"].is_f64(),
        "{place:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn bulk_csv_prints_numbers_dates_and_booleans_as_a_real_org() {
    let sim = Sim::builder()
        .rows("Account", 300)
        .start()
        .await
        .expect("starts");
    let soql = "SELECT Id, Tax_Number__c, Discount__c, Preferred_Call_Time__c, CreatedDate, IsDeleted, Services__c FROM Account";
    let (body, _) = bulk_csv(&sim, "query", soql).await;
    let expected = sim
        .expected_query_csv(soql, Default::default(), Default::default())
        .expect("expected");
    assert_eq!(body.as_bytes(), expected, "expected_query_csv agrees");
    let rows: Vec<Vec<String>> = body
        .lines()
        .skip(1)
        // No value of these columns holds a comma or a quote: splitting on commas is parsing.
        .map(|l| {
            l.split(',')
                .map(|f| f.trim_matches('"').to_owned())
                .collect()
        })
        .collect();
    let exponent = |v: &str| {
        let (mantissa, exp) = v.split_once('E').unwrap_or(("", ""));
        mantissa.contains('.')
            && mantissa
                .replace('.', "")
                .chars()
                .all(|c| c.is_ascii_digit())
            && exp.parse::<u32>().is_ok_and(|e| e >= 7)
    };
    let large = rows.iter().filter(|r| exponent(&r[1])).count();
    assert!(
        large > 200,
        "large doubles print like 1.6147805824397E13: {}",
        &body[..400]
    );
    assert!(rows.iter().any(|r| r[1].is_empty()), "some are null");
    assert!(
        rows.iter().all(|r| r[2].contains('.')),
        "percent keeps its decimals"
    );
    assert!(
        rows.iter()
            .all(|r| r[3].len() == 13 && r[3].ends_with(".000Z")),
        "HH:MM:SS.000Z"
    );
    assert!(
        rows.iter()
            .all(|r| r[4].len() == 24 && r[4].ends_with(".000Z") && &r[4][10..11] == "T")
    );
    assert!(rows.iter().all(|r| r[5] == "false"));
    assert!(
        rows.iter().any(|r| r[6].contains(';')),
        "multi-select values are joined by ;"
    );
    let id = &rows[0][0];
    let (_, record) = get_json(
        &sim,
        &format!("/sobjects/Account/{id}?fields=Tax_Number__c"),
    )
    .await;
    if exponent(&rows[0][1]) {
        let printed: f64 = rows[0][1].parse().expect("number");
        assert_eq!(
            record["Tax_Number__c"].as_f64(),
            Some(printed),
            "REST gives the same number"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn columns_true_describes_the_columns_without_running_the_query() {
    let sim = Sim::builder().start().await.expect("starts");
    let (status, body) = get_json(
        &sim,
        "/query?q=SELECT+Id,+Account.Name,+Account.Industry,+LastName+FROM+Contact&columns=true",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["entityName"], "Contact");
    assert_eq!(body["idSelected"], true);
    assert!(body.get("records").is_none(), "{body}");
    let columns = body["columnMetadata"].as_array().expect("columnMetadata");
    let names: Vec<&str> = columns
        .iter()
        .filter_map(|c| c["columnName"].as_str())
        .collect();
    assert_eq!(names, ["Id", "Account", "LastName"]);
    let joined: Vec<&str> = columns[1]["joinColumns"]
        .as_array()
        .expect("joinColumns")
        .iter()
        .filter_map(|c| c["displayName"].as_str())
        .collect();
    assert_eq!(joined, ["Account.Name", "Account.Industry"]);
    assert!(columns.iter().all(|c| c["aggregate"] == false));
    sim.shutdown().await;
}
