//! Authentication, the OAuth token endpoint and API limits (api-facts §0, §4.0).
mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use haul_sim::Sim;
use serde_json::{Value, json};

async fn token_request(sim: &Sim, form: &[(&str, &str)]) -> (u16, Value) {
    let url = format!("{}/services/oauth2/token", sim.instance_url());
    let r = client().post(url).form(form).send().await.expect("request");
    (r.status().as_u16(), r.json().await.expect("json"))
}

async fn list_with(sim: &Sim, token: &str) -> reqwest::Response {
    client()
        .get(sf(sim, "/jobs/query"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn missing_or_bad_tokens_get_invalid_session_id() {
    let sim = Sim::builder().start().await.expect("starts");
    let r = client()
        .get(sf(&sim, "/jobs/query"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().contains_key("sforce-limit-info"));
    let body: Value = r.json().await.expect("json");
    assert_eq!(
        body,
        json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    );
    assert_eq!(list_with(&sim, "bogus").await.status().as_u16(), 401);
    assert_eq!(
        list_with(&sim, sim.access_token()).await.status().as_u16(),
        200
    );
}

#[tokio::test]
async fn every_response_counts_usage_and_the_limit_is_enforced() {
    let sim = Sim::builder().api_limit(3).start().await.expect("starts");
    for expected in 1..=3 {
        let r = list_with(&sim, sim.access_token()).await;
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(
            header(r.headers(), "sforce-limit-info"),
            format!("api-usage={expected}/3")
        );
    }
    let r = list_with(&sim, sim.access_token()).await;
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(header(r.headers(), "sforce-limit-info"), "api-usage=4/3");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body[0]["errorCode"], "REQUEST_LIMIT_EXCEEDED");
    assert_eq!(sim.api_usage(), 4);
}

#[tokio::test]
async fn client_credentials_refresh_and_jwt_grants_issue_working_tokens() {
    let sim = Sim::builder().start().await.expect("starts");
    let (status, body) = token_request(
        &sim,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", sim.sf_client_id()),
            ("client_secret", sim.sf_client_secret()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["instance_url"], sim.instance_url());
    let token = body["access_token"].as_str().expect("token").to_owned();
    assert_eq!(list_with(&sim, &token).await.status().as_u16(), 200);

    let (status, body) = token_request(
        &sim,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", sim.sf_client_id()),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_client");

    let (status, body) = token_request(
        &sim,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", sim.sf_refresh_token()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = token_request(
        &sim,
        &[("grant_type", "refresh_token"), ("refresh_token", "nope")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let claims = json!({"iss": sim.sf_client_id(), "sub": "user@example.com", "aud": "https://login.salesforce.com", "exp": chrono::Utc::now().timestamp() + 300});
    let jwt = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(b"unchecked")
    );
    let (status, body) = token_request(
        &sim,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", &jwt),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let jwt_token = body["access_token"].as_str().expect("token");
    assert_eq!(list_with(&sim, jwt_token).await.status().as_u16(), 200);
    let (status, _) = token_request(&sim, &[("grant_type", "password")]).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn expire_tokens_and_short_lifetimes_force_a_refresh() {
    let sim = Sim::builder().start().await.expect("starts");
    assert_eq!(
        list_with(&sim, sim.access_token()).await.status().as_u16(),
        200
    );
    sim.expire_tokens();
    assert_eq!(
        list_with(&sim, sim.access_token()).await.status().as_u16(),
        401
    );
    let (status, body) = token_request(
        &sim,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", sim.sf_refresh_token()),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        list_with(&sim, body["access_token"].as_str().expect("t"))
            .await
            .status()
            .as_u16(),
        200
    );

    let short = Sim::builder()
        .token_lifetime(Duration::from_millis(300))
        .start()
        .await
        .expect("starts");
    assert_eq!(
        list_with(&short, short.access_token())
            .await
            .status()
            .as_u16(),
        200
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        list_with(&short, short.access_token())
            .await
            .status()
            .as_u16(),
        401
    );
}

#[tokio::test]
async fn versions_and_limits_resources() {
    let sim = Sim::builder().start().await.expect("starts");
    let versions: Value = client()
        .get(format!("{}/services/data", sim.instance_url()))
        .send()
        .await
        .expect("ok")
        .json()
        .await
        .expect("json");
    assert!(
        versions
            .as_array()
            .expect("list")
            .iter()
            .any(|v| v["version"] == "62.0")
    );
    let (status, limits) = get_json(&sim, "/limits").await;
    assert_eq!(status, 200);
    assert!(limits["DailyBulkV2QueryJobs"]["Max"].as_u64().is_some());
    assert!(limits["DailyApiRequests"]["Remaining"].as_u64().is_some());
}

#[tokio::test]
async fn a_fixed_token_is_accepted() {
    let sim = Sim::builder()
        .token("00Dfixed!token")
        .start()
        .await
        .expect("starts");
    assert_eq!(sim.access_token(), "00Dfixed!token");
    assert_eq!(
        list_with(&sim, "00Dfixed!token").await.status().as_u16(),
        200
    );
}
