//! The REST API around a bulk job: versions, resources, limits, describe, records, identity, and
//! how paths are served (repeated slashes, unknown paths).
mod common;

use std::collections::HashMap;

use common::*;
use haul_sim::Sim;
use serde::Deserialize;
use serde_json::{Value, json};

async fn sim_with(rows: &[(&str, u64)]) -> Sim {
    let mut builder = Sim::builder();
    for (object, n) in rows {
        builder = builder.rows(object, *n);
    }
    builder.start().await.expect("sim starts")
}

#[tokio::test]
async fn versions_are_listed_without_a_session_and_name_their_resources() {
    let sim = sim_with(&[]).await;
    let r = client()
        .get(format!("{}/services/data/", sim.instance_url()))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 200);
    let versions: Vec<Value> = r.json().await.expect("json array");
    assert_eq!(
        versions.last(),
        Some(&json!({"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"}))
    );
    assert!(
        versions
            .iter()
            .any(|v| v["label"] == "Summer '24" && v["version"] == "61.0")
    );
    let (status, resources) = get_json(&sim, "/").await;
    assert_eq!(status, 200, "{resources}");
    for (name, path) in [
        ("sobjects", "/services/data/v62.0/sobjects"),
        ("query", "/services/data/v62.0/query"),
        ("queryAll", "/services/data/v62.0/queryAll"),
        ("limits", "/services/data/v62.0/limits"),
        ("jobs", "/services/data/v62.0/jobs"),
    ] {
        assert_eq!(resources[name], path, "{resources}");
    }
    let identity = resources["identity"].as_str().expect("identity url");
    assert!(identity.starts_with(&sim.instance_url()), "{identity}");
    let unauthenticated = client().get(sf(&sim, "/")).send().await.expect("request");
    assert_eq!(unauthenticated.status().as_u16(), 401);
    sim.shutdown().await;
}

#[tokio::test]
async fn limits_count_every_request_and_every_query_job() {
    let sim = Sim::builder().api_limit(6).start().await.expect("starts");
    let (status, before) = get_json(&sim, "/limits").await;
    assert_eq!(status, 200, "{before}");
    for name in [
        "DailyApiRequests",
        "DailyBulkV2QueryJobs",
        "DailyBulkV2QueryFileStorageMB",
        "DailyBulkApiBatches",
        "DataStorageMB",
    ] {
        assert!(before[name]["Max"].as_u64().is_some(), "{name}: {before}");
        assert!(
            before[name]["Remaining"].as_u64().is_some(),
            "{name}: {before}"
        );
    }
    assert_eq!(
        before["DailyApiRequests"],
        json!({"Max": 6, "Remaining": 5})
    );
    let storage = &before["DataStorageMB"];
    assert!(
        storage["Remaining"].as_u64() < storage["Max"].as_u64(),
        "rows take space"
    );
    let id = create_query(&sim, "SELECT Id FROM Account").await;
    let deleted = client()
        .delete(sf(&sim, &format!("/jobs/query/{id}")))
        .bearer_auth(sim.access_token())
        .send()
        .await
        .expect("request");
    // The job may still run; deleted or not, it was spent.
    assert!([204, 400].contains(&deleted.status().as_u16()));
    let (_, after) = get_json(&sim, "/limits").await;
    assert_eq!(after["DailyApiRequests"]["Remaining"], 2, "{after}");
    let spent = before["DailyBulkV2QueryJobs"]["Remaining"]
        .as_u64()
        .expect("n")
        - after["DailyBulkV2QueryJobs"]["Remaining"]
            .as_u64()
            .expect("n");
    assert_eq!(spent, 1, "{after}");
    assert_eq!(sim.api_usage(), 4);
    let (status, _) = get_json(&sim, "/sobjects").await;
    assert_eq!(status, 200);
    let (status, _) = get_json(&sim, "/limits").await;
    assert_eq!(status, 200);
    let (status, refused) = get_json(&sim, "/limits").await;
    assert_eq!(status, 403);
    assert_eq!(refused[0]["errorCode"], "REQUEST_LIMIT_EXCEEDED");
    sim.shutdown().await;
}

/// Describe Global as the REST API Developer Guide's example shows it ("Get a List of Objects",
/// https://developer.salesforce.com/docs/platform/api-rest/guide/dome-describeglobal.html; its
/// elided entries left out).
const DOCUMENTED_GLOBAL: &str = r#"{
  "encoding" : "UTF-8", "maxBatchSize" : 200,
  "sobjects" : [ {
    "activateable" : false, "custom" : false, "customSetting" : false, "createable" : true,
    "deletable" : true, "deprecatedAndHidden" : false, "feedEnabled" : true, "keyPrefix" : "001",
    "label" : "Account", "labelPlural" : "Accounts", "layoutable" : true, "mergeable" : true,
    "mruEnabled" : true, "name" : "Account", "queryable" : true, "replicateable" : true,
    "retrieveable" : true, "searchable" : true, "triggerable" : true, "undeletable" : true,
    "updateable" : true,
    "urls" : { "sobject" : "/services/data/v68.0/sobjects/Account",
      "describe" : "/services/data/v68.0/sobjects/Account/describe",
      "rowTemplate" : "/services/data/v68.0/sobjects/Account/{ID}" } } ] }"#;

/// sObject Describe as the guide's example shows it ("Get Field and Other Metadata for an
/// Object", https://developer.salesforce.com/docs/platform/api-rest/guide/dome-sobject-describe;
/// its elided entries left out).
const DOCUMENTED_DESCRIBE: &str = r#"{
  "name" : "Account",
  "fields" : [ { "length" : 18, "name" : "Id", "type" : "id",
      "defaultValue" : { "value" : null }, "updateable" : false, "label" : "Account ID" } ],
  "updateable" : true, "label" : "Account", "keyPrefix" : "001", "custom" : false,
  "urls" : { "uiEditTemplate" : "https://MyDomainName.my.salesforce.com/{ID}/e",
    "sobject" : "/services/data/v68.0/sobjects/Account",
    "uiDetailTemplate" : "https://MyDomainName.my.salesforce.com/{ID}" },
  "childRelationships" : [ { "field" : "ParentId", "deprecatedAndHidden" : false } ],
  "createable" : true, "customSetting" : false }"#;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Global {
    encoding: String,
    max_batch_size: u32,
    sobjects: Vec<GlobalObject>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GlobalObject {
    name: String,
    label: String,
    label_plural: String,
    key_prefix: Option<String>,
    custom: bool,
    createable: bool,
    queryable: bool,
    retrieveable: bool,
    replicateable: bool,
    undeletable: bool,
    urls: HashMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Described {
    name: String,
    label: String,
    key_prefix: Option<String>,
    custom: bool,
    createable: bool,
    updateable: bool,
    custom_setting: bool,
    urls: HashMap<String, String>,
    fields: Vec<DescribedField>,
    child_relationships: Vec<ChildRelationship>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChildRelationship {
    field: String,
    deprecated_and_hidden: bool,
    child_s_object: Option<String>,
}

/// A field: what the documented example shows is required, the rest of the SOAP `Field`
/// properties optional (the example elides them), so both shapes read into it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribedField {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    length: u64,
    label: String,
    updateable: bool,
    default_value: Option<Value>,
    precision: Option<u32>,
    scale: Option<u32>,
    digits: Option<u32>,
    byte_length: Option<u64>,
    nillable: Option<bool>,
    compound_field_name: Option<String>,
    reference_to: Option<Vec<String>>,
    relationship_name: Option<String>,
    calculated: Option<bool>,
    soap_type: Option<String>,
    picklist_values: Option<Vec<Value>>,
}

#[tokio::test]
async fn global_describe_reads_like_the_documented_example() {
    let sim = sim_with(&[]).await;
    let documented: Global = serde_json::from_str(DOCUMENTED_GLOBAL).expect("documented example");
    assert_eq!(documented.sobjects[0].name, "Account");
    let (status, body) = get_json(&sim, "/sobjects").await;
    assert_eq!(status, 200);
    let global: Global = serde_json::from_value(body).expect("same shape as the example");
    assert_eq!(
        (global.encoding.as_str(), global.max_batch_size),
        ("UTF-8", 200)
    );
    let account = global
        .sobjects
        .iter()
        .find(|o| o.name == "Account")
        .expect("Account");
    assert_eq!(account.key_prefix.as_deref(), Some("001"));
    assert_eq!(
        (account.label.as_str(), account.label_plural.as_str()),
        ("Account", "Accounts")
    );
    assert!(account.queryable && account.retrieveable && account.replicateable);
    assert!(account.createable && account.undeletable && !account.custom);
    assert_eq!(
        account.urls["describe"],
        "/services/data/v62.0/sobjects/Account/describe"
    );
    for name in [
        "Contact",
        "Opportunity",
        "Lead",
        "Case",
        "User",
        "Task",
        "Attachment",
    ] {
        assert!(global.sobjects.iter().any(|o| o.name == name), "{name}");
    }
    let custom = global
        .sobjects
        .iter()
        .find(|o| o.name == "Event_Copy__c")
        .expect("custom");
    assert!(custom.custom);
    sim.shutdown().await;
}

async fn describe(sim: &Sim, object: &str) -> Described {
    let (status, body) = get_json(sim, &format!("/sobjects/{object}/describe")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).expect("same shape as the documented example")
}

fn field<'a>(described: &'a Described, name: &str) -> &'a DescribedField {
    described
        .fields
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{} has {name}", described.name))
}

#[tokio::test]
async fn object_describe_reports_real_field_types_and_compounds() {
    let sim = sim_with(&[]).await;
    let documented: Described =
        serde_json::from_str(DOCUMENTED_DESCRIBE).expect("documented example");
    assert_eq!(documented.fields[0].ty, "id");
    let account = describe(&sim, "Account").await;
    assert_eq!(
        (account.name.as_str(), account.label.as_str()),
        ("Account", "Account")
    );
    assert_eq!(account.key_prefix.as_deref(), Some("001"));
    assert!(!account.custom && !account.custom_setting && account.createable && account.updateable);
    assert_eq!(
        account.urls["sobject"],
        "/services/data/v62.0/sobjects/Account"
    );
    let id = field(&account, "Id");
    assert_eq!(
        (id.ty.as_str(), id.length, id.updateable),
        ("id", 18, false)
    );
    assert_eq!(id.label, "Account ID");
    for f in &account.fields {
        assert!(
            f.soap_type.is_some() && f.byte_length.is_some() && f.nillable.is_some(),
            "{f:?}"
        );
        assert!(
            f.precision.is_some() && f.scale.is_some() && f.digits.is_some(),
            "{f:?}"
        );
        assert!(f.calculated.is_some(), "{f:?}");
    }
    let billing = field(&account, "BillingAddress");
    assert_eq!(
        (billing.ty.as_str(), billing.soap_type.as_deref()),
        ("address", Some("urn:address"))
    );
    assert!(!billing.updateable);
    for part in [
        "BillingStreet",
        "BillingCity",
        "BillingState",
        "BillingPostalCode",
        "BillingCountry",
        "BillingLatitude",
        "BillingLongitude",
    ] {
        assert_eq!(
            field(&account, part).compound_field_name.as_deref(),
            Some("BillingAddress"),
            "{part}"
        );
    }
    assert_eq!(
        field(&account, "ShippingCity")
            .compound_field_name
            .as_deref(),
        Some("ShippingAddress")
    );
    assert_eq!(field(&account, "Headquarters__c").ty, "location");
    assert_eq!(
        field(&account, "Headquarters__Latitude__s")
            .compound_field_name
            .as_deref(),
        Some("Headquarters__c")
    );
    let number = field(&account, "Tax_Number__c");
    assert_eq!(
        (number.ty.as_str(), number.precision, number.scale),
        ("double", Some(18), Some(0))
    );
    let revenue = field(&account, "AnnualRevenue");
    assert_eq!(
        (revenue.ty.as_str(), revenue.precision, revenue.scale),
        ("currency", Some(18), Some(2))
    );
    let employees = field(&account, "NumberOfEmployees");
    assert_eq!(
        (
            employees.ty.as_str(),
            employees.digits,
            employees.soap_type.as_deref()
        ),
        ("int", Some(9), Some("xsd:int"))
    );
    let name = field(&account, "Name");
    assert_eq!(
        (name.length, name.byte_length, name.nillable),
        (255, Some(765), Some(false))
    );
    let description = field(&account, "Description");
    assert_eq!(
        (description.ty.as_str(), description.length),
        ("textarea", 32_000)
    );
    for (name, ty) in [
        ("Preferred_Call_Time__c", "time"),
        ("Services__c", "multipicklist"),
        ("Discount__c", "percent"),
        ("Phone", "phone"),
        ("Website", "url"),
        ("CreatedDate", "datetime"),
        ("LastModifiedDate", "datetime"),
        ("SystemModstamp", "datetime"),
        ("IsDeleted", "boolean"),
    ] {
        assert_eq!(field(&account, name).ty, ty, "{name}");
    }
    assert_eq!(
        field(&account, "IsDeleted").default_value,
        Some(json!(false))
    );
    let services = field(&account, "Services__c")
        .picklist_values
        .as_ref()
        .expect("values");
    assert!(
        services
            .iter()
            .any(|v| v["value"] == "Support" && v["active"] == true)
    );
    assert!(account.child_relationships.iter().any(|c| {
        c.field == "AccountId"
            && c.child_s_object.as_deref() == Some("Contact")
            && !c.deprecated_and_hidden
    }));

    let contact = describe(&sim, "Contact").await;
    for part in ["FirstName", "LastName", "Salutation"] {
        assert_eq!(
            field(&contact, part).compound_field_name.as_deref(),
            Some("Name"),
            "{part}"
        );
    }
    let lookup = field(&contact, "AccountId");
    assert_eq!(lookup.ty, "reference");
    assert_eq!(
        lookup.reference_to.as_deref(),
        Some(&["Account".to_owned()][..])
    );
    assert_eq!(lookup.relationship_name.as_deref(), Some("Account"));
    let attachment = describe(&sim, "Attachment").await;
    assert_eq!(field(&attachment, "Body").ty, "base64");
    let (status, body) = get_json(&sim, "/sobjects/Nope__c/describe").await;
    assert_eq!(
        (status, body),
        (
            404,
            json!([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
        )
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_record_is_read_with_attributes_and_typed_values() {
    let sim = sim_with(&[("Account", 50)]).await;
    let (_, page) = get_json(&sim, "/query?q=SELECT+Id+FROM+Account+LIMIT+1").await;
    let id = page["records"][0]["Id"].as_str().expect("id").to_owned();
    let (status, record) = get_json(&sim, &format!("/sobjects/Account/{id}")).await;
    assert_eq!(status, 200, "{record}");
    assert_eq!(
        record["attributes"],
        json!({"type": "Account", "url": format!("/services/data/v62.0/sobjects/Account/{id}")})
    );
    assert_eq!(record["Id"], id.as_str());
    assert_eq!(record["IsDeleted"], false);
    assert!(record["NumberOfEmployees"].is_i64(), "{record}");
    assert!(
        record["CreatedDate"]
            .as_str()
            .is_some_and(|t| t.ends_with(".000+0000")),
        "{record}"
    );
    let address = &record["BillingAddress"];
    assert!(
        address.is_null()
            || address
                .as_object()
                .is_some_and(|a| a.contains_key("postalCode")),
        "{record}"
    );
    let (status, some) = get_json(
        &sim,
        &format!("/sobjects/Account/{id}?fields=Name,Industry"),
    )
    .await;
    assert_eq!(status, 200);
    let keys: Vec<&String> = some.as_object().expect("object").keys().collect();
    assert_eq!(keys.len(), 3, "attributes, Name, Industry: {some}");
    let missing = "001Hs0000000zzzAAA";
    let (status, body) = get_json(&sim, &format!("/sobjects/Account/{missing}")).await;
    assert_eq!((status, &body[0]["errorCode"]), (404, &json!("NOT_FOUND")));
    sim.shutdown().await;
}

#[tokio::test]
async fn identity_and_userinfo_name_the_tokens_user() {
    let sim = sim_with(&[]).await;
    let url = format!("{}/services/oauth2/token", sim.instance_url());
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", sim.sf_client_id()),
        ("client_secret", sim.sf_client_secret()),
    ];
    let token: Value = client()
        .post(url)
        .form(&form)
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let id_url = token["id"].as_str().expect("id url");
    let access = token["access_token"].as_str().expect("token");
    let r = client()
        .get(id_url)
        .bearer_auth(access)
        .send()
        .await
        .expect("identity");
    assert_eq!(r.status().as_u16(), 200);
    let identity: Value = r.json().await.expect("json");
    assert_eq!(identity["id"], id_url);
    assert!(id_url.ends_with(&format!(
        "/id/{}/{}",
        identity["organization_id"].as_str().expect("org"),
        identity["user_id"].as_str().expect("user")
    )));
    assert!(
        identity["organization_id"]
            .as_str()
            .is_some_and(|o| o.starts_with("00D"))
    );
    assert!(
        identity["user_id"]
            .as_str()
            .is_some_and(|u| u.starts_with("005"))
    );
    let username = identity["username"].as_str().expect("username");
    assert!(username.contains('@'));
    assert!(
        identity["display_name"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    );
    assert_eq!(
        identity["urls"]["rest"],
        format!("{}/services/data/v{{version}}/", sim.instance_url())
    );
    assert!(
        identity["urls"]["query"]
            .as_str()
            .is_some_and(|q| q.contains("{version}"))
    );
    let by_query = client()
        .get(format!("{id_url}?format=json&oauth_token={access}"))
        .send()
        .await
        .expect("identity");
    assert_eq!(
        by_query.status().as_u16(),
        200,
        "the token as a query parameter, as jsforce sends it"
    );
    let refused = client()
        .get(id_url)
        .bearer_auth("nope")
        .send()
        .await
        .expect("identity");
    assert_eq!(refused.status().as_u16(), 401);
    let (status, info) = get_absolute(&sim, "/services/oauth2/userinfo").await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["sub"], id_url);
    assert_eq!(info["preferred_username"], username);
    assert_eq!(info["user_id"], identity["user_id"]);
    assert_eq!(info["urls"]["sobjects"], identity["urls"]["sobjects"]);
    let before = sim.api_usage();
    get_absolute(&sim, "/services/oauth2/userinfo").await;
    assert_eq!(
        sim.api_usage(),
        before,
        "identity calls are not API requests"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn repeated_slashes_are_served_like_single_ones() {
    let sim = sim_with(&[("Account", 5)]).await;
    let (status, limits) = get_absolute(&sim, "//services/data//v62.0//limits").await;
    assert_eq!(status, 200, "{limits}");
    assert!(limits["DailyApiRequests"]["Max"].as_u64().is_some());
    let (status, page) = get_absolute(
        &sim,
        "//services//data/v62.0/query/?q=SELECT+Id+FROM+Account",
    )
    .await;
    assert_eq!(
        (status, &page["totalSize"]),
        (200, &json!(5)),
        "the query string survives"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_answer_the_json_error_array() {
    let sim = sim_with(&[]).await;
    let not_found =
        json!([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]);
    for path in [
        "/services/data/v62.0/nope",
        "/services/nope",
        "/nope",
        "/",
        "/id/x",
    ] {
        let r = client()
            .get(format!("{}{path}", sim.instance_url()))
            .bearer_auth(sim.access_token())
            .send()
            .await
            .expect("request");
        assert_eq!(r.status().as_u16(), 404, "{path}");
        let content_type = header(r.headers(), "content-type").to_owned();
        assert!(
            content_type.starts_with("application/json"),
            "{path}: {content_type}"
        );
        assert_eq!(r.json::<Value>().await.expect("json"), not_found, "{path}");
    }
    sim.shutdown().await;
}

/// The head of the answer to a GET of `path`, read from the socket as sent.
async fn raw_head(sim: &Sim, path: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut tcp = tokio::net::TcpStream::connect(sim.addr())
        .await
        .expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        sim.addr(),
        sim.access_token()
    );
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tcp.read_to_end(&mut raw),
    )
    .await
    .expect("answered in time")
    .expect("read");
    let text = String::from_utf8_lossy(&raw);
    text.split("\r\n\r\n").next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn header_names_are_spelled_as_salesforce_spells_them() {
    let sim = sim_with(&[("Account", 25)]).await;
    let head = raw_head(&sim, "/services/data/v62.0/limits").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.contains("\r\nContent-Type: application/json"),
        "{head}"
    );
    assert!(
        head.contains("\r\nSforce-Limit-Info: api-usage=1/"),
        "{head}"
    );

    // A result page: a name with a capital inside a word, which title case alone misspells.
    let id = completed_query(&sim, "SELECT Id FROM Account").await;
    let path = format!("/services/data/v62.0/jobs/query/{id}/results?maxRecords=10");
    let head = raw_head(&sim, &path).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.contains("\r\nSforce-NumberOfRecords: 10\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\nSforce-Locator: "), "{head}");
    assert!(head.contains("\r\nContent-Type: text/csv"), "{head}");
    sim.shutdown().await;
}
