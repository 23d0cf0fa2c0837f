//! The Databricks SQL Statement Execution API: authentication, the statement states, request
//! checks, limits, and the storage origin's external links (signature, expiry, the
//! Authorization header, the SSE-C headers), with faults on both origins.
mod common;

use std::time::{Duration, Instant};

use common::client;
use haul_sim::{FaultPlan, Sim};
use serde_json::{Value, json};

const STATEMENTS: &str = "/api/2.0/sql/statements";

async fn post(sim: &Sim, path: &str, body: &Value) -> (u16, Value) {
    let r = client()
        .post(format!("{}{path}", sim.databricks().host()))
        .bearer_auth(sim.databricks().token())
        .json(body)
        .send()
        .await
        .expect("request");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn get(sim: &Sim, path: &str) -> (u16, Value) {
    let r = client()
        .get(format!("{}{path}", sim.databricks().host()))
        .bearer_auth(sim.databricks().token())
        .send()
        .await
        .expect("request");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn execute(sim: &Sim, body: Value) -> Value {
    let mut body = body;
    body["warehouse_id"] = sim.databricks().warehouse_id().into();
    let (status, answer) = post(sim, STATEMENTS, &body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// Polls the statement (at most ten seconds) until it leaves PENDING and RUNNING; every state seen.
async fn states_until_done(sim: &Sim, id: &str) -> (Vec<String>, Value) {
    let mut seen: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = get(sim, &format!("{STATEMENTS}/{id}")).await;
        assert_eq!(status, 200, "{body}");
        let state = body["status"]["state"].as_str().expect("state").to_owned();
        if seen.last() != Some(&state) {
            seen.push(state.clone());
        }
        if !matches!(state.as_str(), "PENDING" | "RUNNING") {
            return (seen, body);
        }
        assert!(Instant::now() < deadline, "still {state}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Fetches an external link as a download should, with the link's own headers.
async fn fetch(link: &Value, authorization: bool) -> (u16, String) {
    let mut request = client().get(link["external_link"].as_str().expect("link"));
    if let Some(headers) = link["http_headers"].as_object() {
        for (name, value) in headers {
            request = request.header(name, value.as_str().expect("header"));
        }
    }
    if authorization {
        request = request.bearer_auth("dapi-not-for-storage");
    }
    let r = request.send().await.expect("request");
    (r.status().as_u16(), r.text().await.expect("body"))
}

/// CSV records in `text`: line ends outside quotes.
fn records(text: &str) -> usize {
    let mut quoted = false;
    text.chars()
        .filter(|&c| {
            quoted ^= c == '"';
            c == '\n' && !quoted
        })
        .count()
}

#[tokio::test]
async fn tokens_are_checked_and_oauth_m2m_issues_them() {
    let sim = Sim::builder().start().await.expect("sim");
    let url = format!("{}{STATEMENTS}/x", sim.databricks().host());
    let none = client().get(&url).send().await.expect("request");
    assert_eq!(none.status().as_u16(), 401);
    let body: Value = none.json().await.expect("json");
    assert_eq!(body["error_code"], 401);
    let wrong = client()
        .get(&url)
        .bearer_auth("dapi0000")
        .send()
        .await
        .expect("request");
    assert_eq!(wrong.status().as_u16(), 403);
    let body: Value = wrong.json().await.expect("json");
    assert_eq!(body["message"], "Invalid access token.");

    let host = sim.databricks().host();
    let meta: Value = client()
        .get(format!("{host}/.well-known/databricks-config"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(meta["oidc_endpoint"], format!("{host}/oidc"));
    let discovery: Value = client()
        .get(format!(
            "{host}/oidc/.well-known/oauth-authorization-server"
        ))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let token_url = discovery["token_endpoint"]
        .as_str()
        .expect("endpoint")
        .to_owned();
    assert_eq!(token_url, format!("{host}/oidc/v1/token"));
    let form = [("grant_type", "client_credentials"), ("scope", "all-apis")];
    let refused = client()
        .post(&token_url)
        .basic_auth(sim.databricks().client_id(), Some("wrong"))
        .form(&form)
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status().as_u16(), 401);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"], "invalid_client");
    let issued: Value = client()
        .post(&token_url)
        .basic_auth(
            sim.databricks().client_id(),
            Some(sim.databricks().client_secret()),
        )
        .form(&form)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(issued["token_type"], "Bearer");
    assert!(
        issued["expires_in"]
            .as_u64()
            .is_some_and(|s| s > 0 && s <= 3600)
    );
    let token = issued["access_token"].as_str().expect("token");
    let r = client()
        .get(&url)
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    assert_eq!(
        r.status().as_u16(),
        404,
        "the token opens the API; the statement is unknown"
    );
    sim.expire_tokens();
    for ended in [token, sim.databricks().token()] {
        let r = client()
            .get(&url)
            .bearer_auth(ended)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status().as_u16(), 403, "expired with every other token");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn requests_are_checked_as_documented() {
    let sim = Sim::builder().start().await.expect("sim");
    let warehouse = sim.databricks().warehouse_id().to_owned();
    let cases = [
        (
            json!({"statement": "SELECT * FROM main.sales.orders", "warehouse_id": "nosuch"}),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            json!({"statement": "SELECT * FROM main.sales.orders", "warehouse_id": "0123456789abcdef"}),
            403,
            "PERMISSION_DENIED",
        ),
        (
            json!({"warehouse_id": warehouse}),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            json!({"statement": "SELECT 1", "warehouse_id": warehouse, "format": "CSV"}),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            json!({"statement": "SELECT 1", "warehouse_id": warehouse, "disposition": "INLINE", "format": "ARROW_STREAM"}),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            json!({"statement": "SELECT 1", "warehouse_id": warehouse, "wait_timeout": "3s"}),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            json!({"statement": "SELECT 1", "warehouse_id": warehouse, "on_wait_timeout": "LATER"}),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            json!({"statement": "SELECT 1", "warehouse_id": warehouse, "row_limit": -1}),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (json!(["not", "a", "map"]), 400, "MALFORMED_REQUEST"),
    ];
    for (body, status, code) in cases {
        let (got, answer) = post(&sim, STATEMENTS, &body).await;
        assert_eq!(
            (got, answer["error_code"].as_str()),
            (status, Some(code)),
            "{body}: {answer}"
        );
    }
    let (status, answer) = post(
        &sim,
        STATEMENTS,
        &json!({"statement": "SELECT * FROM main.sales.orders", "warehouse_id": "nosuch"}),
    )
    .await;
    assert_eq!(
        (status, answer["message"].as_str()),
        (400, Some("nosuch is not a valid endpoint id."))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn statements_pass_pending_running_then_succeed_fail_or_close() {
    let sim = Sim::builder()
        .job_duration(Duration::from_millis(600))
        .rows("main.sales.orders", 30)
        .databricks(|o| o.result_ttl(Duration::from_millis(1_500)).chunk_rows(10))
        .start()
        .await
        .expect("sim");
    let started = execute(
        &sim,
        json!({"statement": "SELECT order_id FROM main.sales.orders", "wait_timeout": "0s"}),
    )
    .await;
    assert_eq!(started["status"]["state"], "PENDING");
    assert!(
        started.get("manifest").is_none() && started.get("result").is_none(),
        "{started}"
    );
    let id = started["statement_id"].as_str().expect("id").to_owned();
    let (seen, done) = states_until_done(&sim, &id).await;
    assert_eq!(
        seen.last().map(String::as_str),
        Some("SUCCEEDED"),
        "{seen:?}"
    );
    assert!(seen.contains(&"RUNNING".to_owned()), "{seen:?}");
    let manifest = &done["manifest"];
    assert_eq!(
        (
            manifest["total_row_count"].as_u64(),
            manifest["total_chunk_count"].as_u64()
        ),
        (Some(30), Some(3))
    );
    assert_eq!(manifest["truncated"], false);
    assert_eq!(
        done["result"]["data_array"].as_array().map(Vec::len),
        Some(10)
    );
    assert_eq!(
        done["result"]["next_chunk_internal_link"],
        format!("{STATEMENTS}/{id}/result/chunks/1")
    );
    let (status, last) = get(&sim, &format!("{STATEMENTS}/{id}/result/chunks/2")).await;
    assert_eq!(status, 200, "{last}");
    assert_eq!(
        (last["row_offset"].as_u64(), last["row_count"].as_u64()),
        (Some(20), Some(10))
    );
    assert!(
        last.get("next_chunk_index").is_none(),
        "the last chunk names no next: {last}"
    );
    let (status, _) = get(&sim, &format!("{STATEMENTS}/{id}/result/chunks/3")).await;
    assert_eq!(status, 400, "past the last chunk");

    // A wait that covers the run returns the result at once; a syntax error ends FAILED.
    let waited = execute(
        &sim,
        json!({"statement": "SELECT * FROM main.sales.customers LIMIT 3", "wait_timeout": "5s"}),
    )
    .await;
    assert_eq!(waited["status"]["state"], "SUCCEEDED");
    let failed = execute(
        &sim,
        json!({"statement": "SELECT * FORM orders", "wait_timeout": "5s"}),
    )
    .await;
    assert_eq!(failed["status"]["state"], "FAILED");
    assert_eq!(failed["status"]["sql_state"], "42601");
    assert_eq!(failed["status"]["error"]["error_code"], "BAD_REQUEST");

    // The results of the first statement outlive their time to live: CLOSED, chunks refused.
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    let (_, closed) = get(&sim, &format!("{STATEMENTS}/{id}")).await;
    assert_eq!(closed["status"]["state"], "CLOSED");
    assert!(closed.get("manifest").is_none());
    let (status, _) = get(&sim, &format!("{STATEMENTS}/{id}/result/chunks/0")).await;
    assert_eq!(status, 400);
    assert_eq!(sim.databricks().statement_state(&id), Some("CLOSED"));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wait_that_runs_out_continues_or_cancels_and_cancel_ends_a_running_statement() {
    let sim = Sim::builder()
        .job_duration(Duration::from_secs(8))
        .start()
        .await
        .expect("sim");
    let statement = "SELECT * FROM main.sales.orders";
    let started = Instant::now();
    let (continued, canceled) = tokio::join!(
        execute(&sim, json!({"statement": statement, "wait_timeout": "5s"})),
        execute(
            &sim,
            json!({"statement": statement, "wait_timeout": "5s", "on_wait_timeout": "CANCEL"})
        ),
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(5) && waited < Duration::from_secs(8),
        "{waited:?}"
    );
    assert_eq!(continued["status"]["state"], "RUNNING", "{continued}");
    assert_eq!(canceled["status"]["state"], "CANCELED", "{canceled}");
    let id = continued["statement_id"].as_str().expect("id");
    let (status, body) = post(&sim, &format!("{STATEMENTS}/{id}/cancel"), &json!({})).await;
    assert_eq!((status, body), (200, json!({})));
    assert_eq!(sim.databricks().statement_state(id), Some("CANCELED"));
    let (status, _) = post(
        &sim,
        &format!("{STATEMENTS}/01ef0000-0000-0000-0000-000000000000/cancel"),
        &json!({}),
    )
    .await;
    assert_eq!(status, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn row_and_byte_limits_truncate_the_result_and_say_so() {
    let sim = Sim::builder()
        .rows("main.sales.orders", 500)
        .start()
        .await
        .expect("sim");
    let statement = "SELECT * FROM main.sales.orders";
    let rows = execute(&sim, json!({"statement": statement, "row_limit": 42})).await;
    assert_eq!(
        (
            rows["manifest"]["total_row_count"].as_u64(),
            rows["manifest"]["truncated"].as_bool()
        ),
        (Some(42), Some(true))
    );
    let bytes = execute(&sim, json!({"statement": statement, "byte_limit": 2_000, "disposition": "EXTERNAL_LINKS", "format": "CSV"})).await;
    let total = bytes["manifest"]["total_row_count"].as_u64().expect("rows");
    assert!(
        total > 0 && total < 500 && bytes["manifest"]["truncated"] == true,
        "{bytes}"
    );
    let whole = execute(&sim, json!({"statement": statement, "row_limit": 500})).await;
    assert_eq!(
        (
            whole["manifest"]["total_row_count"].as_u64(),
            whole["manifest"]["truncated"].as_bool()
        ),
        (Some(500), Some(false))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn inline_results_over_25_mib_fail_the_statement() {
    let sim = Sim::builder()
        .rows("main.sales.orders", 300_000)
        .start()
        .await
        .expect("sim");
    let statement = "SELECT * FROM main.sales.orders";
    let big = execute(&sim, json!({"statement": statement, "wait_timeout": "50s"})).await;
    assert_eq!(big["status"]["state"], "FAILED", "{big}");
    assert_eq!(big["status"]["error"]["error_code"], "BAD_REQUEST");
    let message = big["status"]["error"]["message"].as_str().expect("message");
    assert!(message.starts_with("Inline byte limit exceeded. Statements executed with disposition=INLINE can have a result size of at most 26214400 bytes."), "{message}");
    let cut = execute(&sim, json!({"statement": statement, "row_limit": 1_000})).await;
    assert_eq!(cut["status"]["state"], "SUCCEEDED");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_storage_origin_checks_signature_expiry_authorization_and_headers() {
    let sim = Sim::builder()
        .rows("main.sales.orders", 50)
        .databricks(|o| {
            o.chunk_rows(20)
                .link_headers(true)
                .link_lifetime(Duration::from_secs(1))
        })
        .start()
        .await
        .expect("sim");
    let done = execute(&sim, json!({"statement": "SELECT * FROM main.sales.orders", "disposition": "EXTERNAL_LINKS", "format": "CSV"})).await;
    let id = done["statement_id"].as_str().expect("id").to_owned();
    let link = done["result"]["external_links"][0].clone();
    let url = link["external_link"].as_str().expect("url").to_owned();
    assert!(url.starts_with(sim.databricks().storage_url()), "{url}");
    assert_ne!(sim.databricks().storage_url(), sim.databricks().host());
    assert!(
        link["expiration"]
            .as_str()
            .is_some_and(|e| e.ends_with('Z')),
        "{link}"
    );

    let (status, body) = fetch(&link, false).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body.len() as u64,
        link["byte_count"].as_u64().expect("bytes")
    );
    assert!(body.starts_with("order_id,customer_id,amount,"));
    let (status, body) = fetch(&link, true).await;
    assert_eq!(status, 400);
    assert!(body.contains("<Code>InvalidArgument</Code>"), "{body}");
    let mut bare = link.clone();
    bare["http_headers"] = Value::Null;
    let (status, body) = fetch(&bare, false).await;
    assert_eq!(status, 400);
    assert!(body.contains("<Code>InvalidRequest</Code>"), "{body}");
    let mut forged = link.clone();
    forged["external_link"] = url.replace("chunk-0.csv", "chunk-1.csv").into();
    let (status, body) = fetch(&forged, false).await;
    assert_eq!(status, 403);
    assert!(
        body.contains("<Code>SignatureDoesNotMatch</Code>"),
        "{body}"
    );

    // Past the lifetime the link is refused; the chunk endpoint hands out a fresh one.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let (status, body) = fetch(&link, false).await;
    assert_eq!(status, 403);
    assert!(
        body.contains("<Code>AccessDenied</Code><Message>Request has expired</Message>"),
        "{body}"
    );
    let (status, fresh) = get(&sim, &format!("{STATEMENTS}/{id}/result/chunks/0")).await;
    assert_eq!(status, 200);
    let fresh = &fresh["external_links"][0];
    assert_ne!(fresh["external_link"], link["external_link"]);
    let (status, _) = fetch(fresh, false).await;
    assert_eq!(status, 200);
    // Expiring every link ends the fresh one as well; the next one minted works.
    sim.databricks().expire_links();
    assert_eq!(fetch(fresh, false).await.0, 403);
    let (_, again) = get(&sim, &format!("{STATEMENTS}/{id}/result/chunks/2")).await;
    let (status, last) = fetch(&again["external_links"][0], false).await;
    assert_eq!(status, 200);
    assert!(
        !last.contains("order_id"),
        "only the first chunk has a header row"
    );
    assert_eq!(records(&last), 10, "{last}");
    assert_eq!(again["external_links"][0]["row_count"], 10);
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_reach_the_api_and_the_storage_origin_in_their_own_shapes() {
    let plan = FaultPlan::parse("429=0.3,503=0.3,seed=11").expect("plan");
    let sim = Sim::builder().faults(plan).start().await.expect("sim");
    let body = json!({"statement": "SELECT * FROM main.sales.customers", "warehouse_id": sim.databricks().warehouse_id(), "disposition": "EXTERNAL_LINKS", "format": "ARROW_STREAM"});
    let mut link = None;
    let mut throttled = false;
    for _ in 0..50 {
        let r = client()
            .post(format!("{}{STATEMENTS}", sim.databricks().host()))
            .bearer_auth(sim.databricks().token())
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        let retry_after = r.headers().get("retry-after").is_some();
        let answer: Value = r.json().await.expect("json");
        match status {
            200 => link = Some(answer["result"]["external_links"][0].clone()),
            429 => {
                assert!(retry_after);
                assert_eq!(answer["error_code"], "REQUEST_LIMIT_EXCEEDED");
                throttled = true;
            }
            503 => assert_eq!(answer["error_code"], "TEMPORARILY_UNAVAILABLE"),
            other => panic!("{other}: {answer}"),
        }
        if throttled && link.is_some() {
            break;
        }
    }
    let link = link.expect("some execute got through");
    let mut storage_fault = false;
    for _ in 0..50 {
        let (status, body) = fetch(&link, false).await;
        if status == 503 || status == 429 {
            assert!(body.contains("<Code>SlowDown</Code>"), "{body}");
            storage_fault = true;
            break;
        }
        assert_eq!(status, 200, "{body}");
    }
    assert!(storage_fault && throttled);
    let injected = sim.faults_injected();
    assert!(
        injected.status_429 >= 1 && injected.status_429 + injected.status_503 >= 2,
        "{injected:?}"
    );
    let stats = sim.stats();
    assert!(stats.count("GET", "/haul-sim-results/{statement}/{file}") >= 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_lie_fault_puts_one_row_too_many_in_a_link() {
    let plan = FaultPlan::parse("lie=1").expect("plan");
    let sim = Sim::builder()
        .faults(plan)
        .databricks(|o| o.rows(30))
        .start()
        .await
        .expect("sim");
    let done = execute(&sim, json!({"statement": "SELECT * FROM main.sales.orders", "disposition": "EXTERNAL_LINKS", "format": "CSV"})).await;
    assert_eq!(
        done["manifest"]["chunks"][0]["row_count"], 30,
        "the manifest tells the truth"
    );
    let link = &done["result"]["external_links"][0];
    assert_eq!(link["row_count"], 31);
    let (status, body) = fetch(link, false).await;
    assert_eq!(
        (status, records(&body)),
        (200, 31),
        "a header and the 30 rows"
    );
    assert_eq!(sim.faults_injected().lie, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn shutting_down_ends_a_waiting_execute_at_once() {
    let sim = Sim::builder()
        .job_duration(Duration::from_secs(60))
        .start()
        .await
        .expect("sim");
    let url = format!("{}{STATEMENTS}", sim.databricks().host());
    let token = sim.databricks().token().to_owned();
    let body = json!({"statement": "SELECT * FROM main.sales.orders", "warehouse_id": sim.databricks().warehouse_id(), "wait_timeout": "50s"});
    let waiting = tokio::spawn(async move {
        let r = client()
            .post(url)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request");
        r.json::<Value>().await.expect("json")
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    sim.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let answer = waiting.await.expect("joined");
    assert_eq!(answer["status"]["state"], "PENDING", "{answer}");
}

#[tokio::test]
async fn settings_given_in_two_calls_add_up_and_the_familys_rows_count_over_rows() {
    let sim = Sim::builder()
        .databricks(|o| o.rows(30))
        .rows("main.sales.orders", 50)
        .databricks(|o| o.chunk_rows(10))
        .start()
        .await
        .expect("sim");
    let done = execute(
        &sim,
        json!({"statement": "SELECT * FROM main.sales.orders"}),
    )
    .await;
    let manifest = &done["manifest"];
    assert_eq!(
        (
            manifest["total_row_count"].as_u64(),
            manifest["total_chunk_count"].as_u64()
        ),
        (Some(30), Some(3)),
        "{manifest}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_storage_address_in_use_is_a_bind_error_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let started = Sim::builder()
        .databricks(|o| o.storage_addr(addr))
        .start()
        .await;
    match started {
        Err(haul_sim::SimError::Bind { addr: refused, .. }) => assert_eq!(refused, addr),
        Err(other) => panic!("{other}"),
        Ok(sim) => panic!("bound {} twice", sim.databricks().storage_url()),
    }
}
