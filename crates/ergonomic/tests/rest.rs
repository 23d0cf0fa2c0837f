//! The REST API against haul-sim: versions, limits, describe, SOQL queries following
//! `nextRecordsUrl`, identity, and the OAuth flows renewing tokens on these calls.

mod common;

use common::{client, oauth_client, quick_retries, sim};
use futures::TryStreamExt;
use haul::Salesforce;
use haul::auth::{JwtBearer, RefreshToken};
use haul::salesforce::rest::{FieldType, Row};
use haul::types::ApiVersion;

/// A private key made for these tests only (the simulator does not check signatures).
const TEST_KEY: &str = include_str!("fixtures/test-only-jwt-key.pem");

#[tokio::test]
async fn versions_list_the_served_versions_up_to_the_clients() {
    let sim = sim().start().await.unwrap();
    let versions = client(&sim).versions().await.unwrap();
    let latest = ApiVersion::LATEST.to_string();
    let found = versions
        .iter()
        .find(|v| v.version == latest)
        .expect("the latest version");
    assert_eq!(found.url, format!("/services/data/v{latest}"));
}

#[tokio::test]
async fn limits_name_the_bulk_allocations_and_keep_the_rest() {
    let sim = sim().start().await.unwrap();
    let sf = client(&sim);
    sf.bulk_query("SELECT Id FROM Account")
        .submit()
        .await
        .unwrap();
    let limits = sf.limits().await.unwrap();
    let api = limits.daily_api_requests().expect("DailyApiRequests");
    assert!(api.max > 0 && api.remaining <= api.max, "{api:?}");
    let jobs = limits
        .daily_bulk_v2_query_jobs()
        .expect("DailyBulkV2QueryJobs");
    assert_eq!(jobs.used(), 1, "{jobs:?}");
    assert!(limits.daily_bulk_api_batches().is_some());
    assert!(limits.daily_bulk_v2_query_file_storage_mb().is_some());
}

#[tokio::test]
async fn an_expired_token_is_renewed_for_a_rest_call() {
    let sim = sim().start().await.unwrap();
    let sf = oauth_client(&sim);
    sf.connect().await.unwrap();
    sim.expire_tokens();
    sf.limits().await.unwrap();
    assert_eq!(sim.stats().count("POST", "/services/oauth2/token"), 2);
}

fn builder(sim: &haul_sim::Sim) -> haul::SalesforceBuilder {
    Salesforce::builder()
        .instance_url(sim.instance_url())
        .retry(quick_retries())
}

#[tokio::test]
async fn the_refresh_token_and_jwt_flows_obtain_tokens_from_the_token_endpoint() {
    let sim = sim().start().await.unwrap();
    let refreshing = builder(&sim)
        .auth(RefreshToken::new(
            sim.sf_client_id(),
            sim.sf_refresh_token(),
        ))
        .build()
        .unwrap();
    refreshing.limits().await.unwrap();
    let jwt = builder(&sim)
        .auth(JwtBearer::new(
            sim.sf_client_id(),
            "admin@haul.example",
            TEST_KEY,
        ))
        .build()
        .unwrap();
    jwt.limits().await.unwrap();
    assert_eq!(sim.stats().count("POST", "/services/oauth2/token"), 2);
    let refused = builder(&sim)
        .auth(JwtBearer::new(
            "not-the-app",
            "admin@haul.example",
            TEST_KEY,
        ))
        .build()
        .unwrap();
    let error = refused.connect().await.unwrap_err();
    assert!(error.is_auth(), "{error}");
}

#[tokio::test]
async fn describe_reports_fields_with_types_and_sizes() {
    let sim = sim().start().await.unwrap();
    let account = client(&sim).describe("Account").await.unwrap();
    assert_eq!(account.name, "Account");
    assert_eq!(account.key_prefix.as_deref(), Some("001"));
    assert_eq!(account.queryable, Some(true));
    let field = |name: &str| {
        account
            .fields
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no field {name}"))
    };
    assert_eq!(field("Id").type_, FieldType::Id);
    assert_eq!(field("Name").type_, FieldType::String);
    assert!(field("Name").length.is_some_and(|n| n > 0));
    assert!(
        account.fields.iter().all(|f| f.type_.is_known()),
        "{:?}",
        account.fields
    );
    let error = client(&sim).describe("Nope__c").await.unwrap_err();
    assert!(error.is_not_found(), "{error}");
    let refused = client(&sim).describe("Account/../x").await.unwrap_err();
    assert!(refused.is_invalid_input(), "{refused}");
}

#[tokio::test]
async fn global_describe_lists_the_queryable_objects() {
    let sim = sim().start().await.unwrap();
    let global = client(&sim).global_describe().await.unwrap();
    let account = global
        .sobjects
        .iter()
        .find(|o| o.name == "Account")
        .expect("Account");
    assert_eq!(account.queryable, Some(true));
    assert_eq!(account.key_prefix.as_deref(), Some("001"));
}

#[tokio::test]
async fn a_query_follows_next_records_url_batch_by_batch() {
    let sim = sim().rows("Account", 1_000).start().await.unwrap();
    let batches: Vec<_> = client(&sim)
        .query("SELECT Id, Name FROM Account")
        .batch_size(200)
        .batches()
        .try_collect()
        .await
        .unwrap();
    assert!(
        batches.len() >= 5,
        "{} batches of at most 200",
        batches.len()
    );
    assert!(
        batches
            .iter()
            .all(|b| b.records.len() <= 200 && b.total_size == 1_000)
    );
    let ids: std::collections::HashSet<String> = batches
        .iter()
        .flat_map(|b| &b.records)
        .map(|r| r["Id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1_000, "every record once");
}

#[tokio::test]
async fn query_rows_deserialise_into_the_callers_type() {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Account {
        id: String,
        name: String,
    }
    let sim = sim().rows("Account", 300).start().await.unwrap();
    let sf = client(&sim);
    let accounts: Vec<Account> = sf
        .query("SELECT Id, Name FROM Account")
        .records()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(accounts.len(), 300);
    assert!(
        accounts
            .iter()
            .all(|a| a.id.starts_with("001") && !a.name.is_empty())
    );
    let all: Vec<Row> = sf
        .query_all("SELECT Id FROM Account")
        .batch_size(200)
        .rows()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 300);
    let bad = sf
        .query("SELEKT Id FROM Account")
        .rows()
        .try_collect::<Vec<_>>()
        .await;
    assert!(bad.unwrap_err().is_bad_request());
}

#[tokio::test]
async fn user_info_and_identity_name_the_tokens_user() {
    let sim = sim().start().await.unwrap();
    let sf = oauth_client(&sim);
    let info = sf.user_info().await.unwrap();
    let identity = sf.identity().await.unwrap();
    assert_eq!(info.user_id.as_ref(), Some(&identity.user_id));
    assert_eq!(
        info.organization_id.as_ref(),
        Some(&identity.organization_id)
    );
    let error = client(&sim).identity().await.unwrap_err();
    assert!(
        error.is_invalid_input(),
        "a ready token has no identity URL: {error}"
    );
}

#[tokio::test]
async fn a_next_records_url_off_the_query_is_refused_and_never_followed() {
    const START: &str = "/services/data/{version}/query";
    let sim = sim().rows("Account", 500).start().await.unwrap();
    let sf = client(&sim);
    for link in [
        "http://evil.example/services/data/v62.0/query/01g-200".to_owned(),
        format!(
            "{}/services/data/v62.0/sobjects/Account/001000000000001AAA",
            sim.instance_url()
        ),
        "/services/data/v62.0/queryAll/01g-200".to_owned(),
    ] {
        let body = serde_json::json!({
            "totalSize": 500, "done": false, "nextRecordsUrl": link, "records": [],
        });
        sim.misbehave_next("GET", START, haul_sim::Misbehaviour::body(body.to_string()));
        let error = sf
            .query("SELECT Id FROM Account")
            .rows()
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("refused link"),
            "{link}: {error}"
        );
    }
    let requests = sim.stats().total();
    assert_eq!(requests, 3, "only the three first requests were sent");
}
