//! Looker query tasks against haul-sim: sessions, queries, single tasks in every format, many tasks
//! through multi_results, kills, expiry, SQL errors, and token renewal.

mod common;

use std::future::IntoFuture;
use std::time::Duration;

use common::{eventually, quick_retries, sim};
use futures::TryStreamExt;
use haul::looker::{
    Looker, LookerResultFormat as Format, Query, QueryResults, QueryTask, QueryTaskStatus,
    RunQueries, RunQuery, TaskResults,
};
use haul::{BackoffPolicy, Error};
use haul_sim::Sim;

const RESULTS: &str = "/api/4.0/query_tasks/{id}/results";
const MULTI: &str = "/api/4.0/query_tasks/multi_results";
const LOGIN: &str = "/api/4.0/login";

async fn looker(sim: &Sim) -> Looker {
    let looker = Looker::builder()
        .base_url(sim.looker().base_url())
        .client_credentials(sim.looker().client_id(), sim.looker().client_secret())
        .retry(quick_retries())
        .build()
        .expect("settings");
    looker.connect().await.expect("login");
    looker
}

fn fast() -> BackoffPolicy {
    BackoffPolicy::fixed(Duration::from_millis(20))
}

/// Order statuses and their counts, sorted by status.
fn by_status() -> Query {
    Query::new("thelook", "orders")
        .fields(["orders.status", "orders.count"])
        .filter("orders.status", "-Cancelled")
        .sort("orders.status")
        .limit(500)
}

fn broken() -> Query {
    Query::new("thelook", "orders").fields(["orders.id", "orders.bad_sql"])
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct StatusCount {
    #[serde(rename = "orders.status")]
    status: String,
    #[serde(rename = "orders.count")]
    count: u64,
}

fn failed(error: &Error) -> (&str, Option<&str>) {
    match error {
        Error::JobFailed { state, message, .. } => (state, message.as_deref()),
        other => panic!("expected JobFailed, got {other:?}"),
    }
}

#[test]
fn handles_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Looker>();
    check::<RunQuery>();
    check::<QueryTask>();
    check::<RunQueries>();
    check::<QueryResults>();
    check::<TaskResults>();
}

#[tokio::test]
async fn identical_queries_share_an_id_and_invalid_ones_explain_themselves() {
    let sim = sim().start().await.unwrap();
    let looker = looker(&sim).await;
    let first = looker.create_query(by_status()).await.unwrap();
    let again = looker.create_query(by_status()).await.unwrap();
    let other = looker.create_query(by_status().limit(3)).await.unwrap();
    assert_eq!(first, again);
    assert_ne!(first, other);
    let invalid = Query::new("thelook", "orders").fields(["orders.nope"]);
    let error = looker.create_query(invalid).await.unwrap_err();
    assert_eq!(error.status(), Some(422));
    let message = error.vendor_message().unwrap_or_default();
    assert!(
        message.contains("field 'orders.nope' not found"),
        "{message}"
    );
    assert_eq!(sim.stats().count("POST", LOGIN), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn credentials_and_tokens_never_print() {
    let sim = sim().start().await.unwrap();
    let secret = sim.looker().client_secret().to_owned();
    let builder = Looker::builder()
        .base_url(sim.looker().base_url())
        .client_credentials(sim.looker().client_id(), "wrong-s3cret");
    let builder_debug = format!("{builder:?}");
    let error = builder.build().unwrap().connect().await.unwrap_err();
    assert!(error.is_auth(), "{error:?}");
    let looker = looker(&sim).await;
    let token = looker.access_token().expect("logged in");
    let printed = format!(
        "{builder_debug} {error} {error:?} {looker:?} {token} {token:?} {:?}",
        looker.run_query("1")
    );
    for leak in ["wrong-s3cret", secret.as_str(), token.expose()] {
        assert!(!printed.contains(leak), "{leak} printed in {printed}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn one_task_reads_in_csv_json_json_detail_and_txt_alike() {
    let sim = sim()
        .job_duration(Duration::from_millis(150))
        .start()
        .await
        .unwrap();
    let looker = looker(&sim).await;
    let id = looker.create_query(by_status()).await.unwrap();
    let run = |format| looker.run_query(&id).format(format).backoff(fast());
    let rows: Vec<StatusCount> = run(Format::Json).rows().await.unwrap();
    assert_eq!(rows.len(), 4, "five statuses less Cancelled: {rows:?}");
    assert!(rows.windows(2).all(|w| w[0].status < w[1].status), "sorted");
    assert!(rows.iter().all(|r| r.count > 0));
    let detail: Vec<StatusCount> = run(Format::JsonDetail).rows().await.unwrap();
    assert_eq!(detail, rows);
    let limited: Vec<StatusCount> = run(Format::JsonBi).limit(2).rows().await.unwrap();
    assert_eq!(limited, rows[..2], "the task's limit overrides the query's");
    let lines = |header: &str, sep: &str| {
        let body: Vec<String> = rows
            .iter()
            .map(|r| format!("{}{sep}{}", r.status, r.count))
            .collect();
        format!("{header}\n{}\n", body.join("\n"))
    };
    let csv = run(Format::Csv).text().await.unwrap();
    assert_eq!(csv, lines("Orders Status,Orders Count", ","));
    let txt = run(Format::Txt).text().await.unwrap();
    assert_eq!(txt, lines("Orders Status\tOrders Count", "\t"));
    let streamed: Vec<bytes::Bytes> = run(Format::Csv)
        .stream()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed.concat(), csv.as_bytes());
    let stats = sim.stats();
    assert!(
        stats
            .requests
            .iter()
            .any(|r| r.route == RESULTS && r.status == 202),
        "tasks were polled while running: {stats:?}"
    );
    assert_eq!(stats.count("GET", "/api/4.0/query_tasks/{id}"), 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_legacy_204_also_means_not_finished() {
    let sim = sim()
        .looker(|o| o.legacy_204(true))
        .job_duration(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let looker = looker(&sim).await;
    let id = looker.create_query(by_status()).await.unwrap();
    let task = looker
        .run_query(&id)
        .format(Format::Csv)
        .backoff(fast())
        .submit()
        .await
        .unwrap();
    let wait = task.wait();
    let progress = wait.progress();
    let csv = wait.await.unwrap().read().await.unwrap();
    assert!(
        csv.text()
            .unwrap()
            .starts_with("Orders Status,Orders Count\n")
    );
    assert_eq!(
        progress.borrow().as_ref().map(|p| p.status.clone()),
        Some(QueryTaskStatus::Complete)
    );
    let not_ready: Vec<_> = sim
        .stats()
        .requests
        .into_iter()
        .filter(|r| r.route == RESULTS && r.status != 200)
        .collect();
    assert!(
        not_ready.iter().all(|r| r.status == 204)
            && not_ready.iter().map(|r| r.count).sum::<u64>() >= 2,
        "{not_ready:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn sql_errors_fail_with_lookers_message_in_every_format() {
    let sim = sim().start().await.unwrap();
    let looker = looker(&sim).await;
    let id = looker.create_query(broken()).await.unwrap();
    for format in [Format::Csv, Format::JsonDetail] {
        let error = looker
            .run_query(&id)
            .format(format.clone())
            .backoff(fast())
            .bytes()
            .await
            .unwrap_err();
        let (state, message) = failed(&error);
        assert_eq!(state, "error", "{format}");
        assert!(
            message.is_some_and(|m| m.contains("column \"orders.bad_sql\" does not exist")),
            "{format}: {error}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_killed_task_is_killed_on_the_server_and_reported_killed() {
    let sim = sim()
        .job_duration(Duration::from_secs(30))
        .start()
        .await
        .unwrap();
    let looker = looker(&sim).await;
    let id = looker.create_query(by_status()).await.unwrap();
    let task = looker
        .run_query(&id)
        .backoff(fast())
        .submit()
        .await
        .unwrap();
    task.kill().await.unwrap();
    assert_eq!(
        sim.looker().task_status(task.id()),
        Some(QueryTaskStatus::Killed)
    );
    assert_eq!(
        task.info().await.unwrap().status,
        Some(QueryTaskStatus::Killed)
    );
    let error = task.bytes().await.unwrap_err();
    assert_eq!(failed(&error).0, "killed");
    assert!(error.to_string().contains(task.id()), "{error}");
    task.kill()
        .await
        .expect("killing a finished task is no error");
    sim.shutdown().await;
}

#[tokio::test]
async fn an_abandoned_wait_kills_its_task_when_asked() {
    let sim = sim()
        .job_duration(Duration::from_secs(30))
        .start()
        .await
        .unwrap();
    let looker = looker(&sim).await;
    let id = looker.create_query(by_status()).await.unwrap();
    let task = looker
        .run_query(&id)
        .backoff(fast())
        .abort_on_drop(true)
        .submit()
        .await
        .unwrap();
    let abandoned = tokio::time::timeout(Duration::from_millis(150), task.bytes()).await;
    assert!(abandoned.is_err(), "the task takes 30 s");
    let killed = eventually(Duration::from_secs(5), || {
        sim.looker().task_status(task.id()) == Some(QueryTaskStatus::Killed)
    });
    assert!(killed.await, "{:?}", sim.looker().task_status(task.id()));

    let kept = looker
        .run_query(&id)
        .backoff(fast())
        .submit()
        .await
        .unwrap();
    let _ = tokio::time::timeout(Duration::from_millis(100), kept.bytes()).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let status = sim.looker().task_status(kept.id());
    assert!(
        status.as_ref().is_some_and(QueryTaskStatus::is_pending),
        "{status:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn expired_and_unknown_tasks_are_clear_errors_for_one_task_and_for_many() {
    let sim = sim()
        .job_duration(Duration::ZERO)
        .looker(|o| o.result_ttl(Duration::from_millis(50)))
        .start()
        .await
        .unwrap();
    let looker = looker(&sim).await;
    let id = looker.create_query(by_status()).await.unwrap();
    let one = looker
        .run_query(&id)
        .backoff(fast())
        .submit()
        .await
        .unwrap();
    let two = looker
        .run_query(&id)
        .backoff(fast())
        .submit()
        .await
        .unwrap();
    let expired = eventually(Duration::from_secs(5), || {
        [&one, &two]
            .iter()
            .all(|t| sim.looker().task_status(t.id()) == Some(QueryTaskStatus::Expired))
    });
    assert!(expired.await);
    let error = one.bytes().await.unwrap_err();
    let (state, message) = failed(&error);
    assert_eq!(state, "expired");
    assert!(
        message.is_some_and(|m| m.contains("run the query again")),
        "{error}"
    );
    let unknown = looker.query_task("no-such-task", Format::Csv).unwrap();
    let error = unknown.bytes().await.unwrap_err();
    assert!(error.is_not_found(), "{error:?}");
    let many = looker
        .wait_all([two, unknown])
        .backoff(fast())
        .await
        .unwrap();
    assert_eq!(failed(many[0].as_ref().unwrap_err()).0, "expired");
    assert_eq!(failed(many[1].as_ref().unwrap_err()).0, "missing");
    sim.shutdown().await;
}

#[tokio::test]
async fn fifty_tasks_cost_one_multi_results_request_per_round() {
    let sim = sim()
        .job_duration(Duration::from_millis(400))
        .start()
        .await
        .unwrap();
    let looker = looker(&sim).await;
    let mut query_ids = Vec::new();
    for rows in 1..=50 {
        let query = Query::new("thelook", "orders")
            .fields(["orders.id"])
            .sort("orders.id")
            .limit(rows);
        query_ids.push(looker.create_query(query).await.unwrap());
    }
    let tasks: Vec<QueryTask> = looker
        .run_queries(&query_ids)
        .format(Format::Json)
        .submit()
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    let wait = looker
        .wait_all(tasks)
        .backoff(BackoffPolicy::fixed(Duration::from_millis(50)));
    let progress = wait.progress();
    let results = wait.await.unwrap();

    let last = progress.borrow().clone().expect("rounds were made");
    assert_eq!((last.total, last.pending, last.succeeded), (50, 0, 50));
    let stats = sim.stats();
    assert_eq!(stats.count("POST", "/api/4.0/query_tasks"), 50);
    assert_eq!(stats.count("GET", MULTI), last.requests);
    assert_eq!(last.requests, u64::from(last.rounds), "one request a round");
    assert!(
        last.rounds >= 3,
        "the tasks ran for several rounds: {last:?}"
    );
    assert_eq!(stats.count("GET", "/api/4.0/query_tasks/{id}"), 0);
    assert_eq!(
        stats.count("GET", RESULTS),
        0,
        "results came with the rounds"
    );
    for (index, results) in results.iter().enumerate() {
        #[derive(serde::Deserialize)]
        struct Id {
            #[serde(rename = "orders.id")]
            _id: u64,
        }
        let rows = results.as_ref().unwrap().rows::<Id>().unwrap();
        assert_eq!(rows.len(), index + 1, "results in input order");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn many_tasks_read_like_single_ones_and_fail_one_by_one() {
    let sim = sim().start().await.unwrap();
    let looker = looker(&sim).await;
    let good = looker.create_query(by_status()).await.unwrap();
    let bad = looker.create_query(broken()).await.unwrap();
    for format in [Format::Csv, Format::Txt, Format::Json, Format::JsonDetail] {
        let single = looker
            .run_query(&good)
            .format(format.clone())
            .backoff(fast())
            .submit()
            .await
            .unwrap()
            .wait()
            .await
            .unwrap()
            .read()
            .await
            .unwrap();
        let many = looker
            .run_queries([good.as_str(), bad.as_str(), "999999", good.as_str()])
            .format(format.clone())
            .backoff(fast())
            .await
            .unwrap();
        assert_eq!(many.len(), 4);
        for index in [0, 3] {
            let results = many[index].as_ref().unwrap();
            assert_eq!(results.format(), &format);
            if matches!(format, Format::Csv | Format::Txt) {
                assert_eq!(
                    results.bytes(),
                    single.bytes(),
                    "{format} through multi_results"
                );
            } else {
                // The same rows; json_detail also names its own task and run time.
                let rows = results.rows::<StatusCount>().unwrap();
                assert_eq!(rows, single.rows::<StatusCount>().unwrap(), "{format}");
                assert_eq!(rows.len(), 4);
            }
        }
        let (state, message) = failed(many[1].as_ref().unwrap_err());
        assert_eq!(state, "error");
        assert!(
            message.is_some_and(|m| m.contains("bad_sql")),
            "{format}: {message:?}"
        );
        let unknown = many[2].as_ref().unwrap_err();
        assert!(unknown.is_not_found(), "{format}: {unknown:?}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn an_abandoned_batch_kills_the_tasks_still_running() {
    let sim = sim()
        .job_duration(Duration::from_secs(30))
        .start()
        .await
        .unwrap();
    let looker = looker(&sim).await;
    let id = looker.create_query(by_status()).await.unwrap();
    let tasks: Vec<QueryTask> = looker
        .run_queries([&id, &id, &id])
        .submit()
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    let error = looker
        .wait_all(tasks.clone())
        .backoff(fast())
        .timeout(Duration::from_millis(150))
        .abort_on_drop(true)
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    let killed = eventually(Duration::from_secs(5), || {
        tasks
            .iter()
            .all(|t| sim.looker().task_status(t.id()) == Some(QueryTaskStatus::Killed))
    });
    assert!(killed.await);
    sim.shutdown().await;
}

#[tokio::test]
async fn expired_tokens_are_renewed_even_in_the_middle_of_a_wait() {
    let sim = sim()
        .job_duration(Duration::from_millis(400))
        .start()
        .await
        .unwrap();
    let looker = looker(&sim).await;
    sim.expire_tokens();
    let id = looker.create_query(by_status()).await.unwrap();
    assert_eq!(sim.stats().count("POST", LOGIN), 2);
    let tasks: Vec<QueryTask> = looker
        .run_queries([&id, &id])
        .submit()
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    // Only the wait's rounds run while the token expires: one multi_results request at a time.
    let waiting = tokio::spawn(looker.wait_all(tasks).backoff(fast()).into_future());
    tokio::time::sleep(Duration::from_millis(100)).await;
    sim.expire_tokens();
    let results = waiting.await.unwrap().unwrap();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let stats = sim.stats();
    assert_eq!(stats.count("POST", LOGIN), 3);
    assert_eq!(stats.count_status(401), 2, "one refused request per expiry");
    sim.shutdown().await;
}

#[tokio::test]
async fn tokens_are_renewed_before_they_expire() {
    let sim = sim()
        .token_lifetime(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let looker = looker(&sim).await;
    looker.create_query(by_status()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(950)).await;
    looker.create_query(by_status()).await.unwrap();
    let stats = sim.stats();
    assert_eq!(stats.count("POST", LOGIN), 2);
    assert_eq!(
        stats.count_status(401),
        0,
        "renewed before Looker refused it"
    );
    sim.shutdown().await;
}

/// Whether Looker accepts `token` now, asked without haul.
async fn accepted(sim: &Sim, token: &haul::Secret) -> bool {
    let response = haul_client::reqwest::Client::new()
        .get(format!(
            "{}/api/4.0/running_queries",
            sim.looker().base_url()
        ))
        .header("Authorization", format!("token {}", token.expose()))
        .send()
        .await
        .unwrap();
    response.status().is_success()
}

#[tokio::test]
async fn logout_revokes_the_token_and_the_next_request_logs_in_again() {
    let sim = sim().start().await.unwrap();
    let looker = looker(&sim).await;
    let token = looker.access_token().unwrap();
    assert!(accepted(&sim, &token).await);
    looker.logout().await.unwrap();
    assert!(
        !accepted(&sim, &token).await,
        "Looker still accepts the token"
    );
    assert!(looker.access_token().is_none());
    looker
        .logout()
        .await
        .expect("logging out twice is no error");
    assert_eq!(sim.stats().count("DELETE", "/api/4.0/logout"), 1);
    looker.create_query(by_status()).await.unwrap();
    assert_eq!(sim.stats().count("POST", LOGIN), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn dropping_the_last_clone_logs_out_when_asked() {
    let sim = sim().start().await.unwrap();
    let build = || {
        Looker::builder()
            .base_url(sim.looker().base_url())
            .client_credentials(sim.looker().client_id(), sim.looker().client_secret())
    };
    let kept = build().build().unwrap();
    kept.connect().await.unwrap();
    let kept_token = kept.access_token().unwrap();
    drop(kept);
    let looker = build().logout_on_drop(true).build().unwrap();
    looker.connect().await.unwrap();
    let token = looker.access_token().unwrap();
    let clone = looker.clone();
    drop(looker);
    assert!(
        accepted(&sim, &token).await,
        "a clone still holds the session"
    );
    drop(clone);
    let logged_out = eventually(Duration::from_secs(5), || {
        sim.stats().count("DELETE", "/api/4.0/logout") == 1
    });
    assert!(logged_out.await);
    assert!(!accepted(&sim, &token).await);
    assert!(accepted(&sim, &kept_token).await, "not asked to log out");
    sim.shutdown().await;
}

#[tokio::test]
async fn more_than_a_hundred_pending_tasks_take_two_requests_a_round() {
    let sim = sim()
        .job_duration(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let looker = looker(&sim).await;
    let id = looker.create_query(by_status().limit(1)).await.unwrap();
    let tasks: Vec<QueryTask> = looker
        .run_queries(vec![id; 120])
        .format(Format::Csv)
        .concurrency(16)
        .submit()
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    let wait = looker
        .wait_all(tasks)
        .backoff(BackoffPolicy::fixed(Duration::from_millis(40)));
    let progress = wait.progress();
    let results = wait.await.unwrap();
    assert!(results.iter().all(Result::is_ok));
    let last = progress.borrow().clone().expect("rounds were made");
    assert_eq!(sim.stats().count("GET", MULTI), last.requests);
    let rounds = u64::from(last.rounds);
    assert!(
        rounds < last.requests && last.requests <= 2 * rounds,
        "120 pending ids need two requests a round: {last:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn task_ids_that_could_leave_their_path_are_refused_before_any_request() {
    let sim = sim().start().await.unwrap();
    let looker = looker(&sim).await;
    let before = sim.stats().total();
    for bad in ["../x", "..", "", "a/b", "a,b", "a b", "%2e%2e"] {
        let error = looker.query_task(bad, Format::Csv).unwrap_err();
        assert!(
            matches!(error, Error::InvalidInput { .. }),
            "{bad:?}: {error:?}"
        );
        assert!(error.to_string().contains("query task id"), "{error}");
    }
    assert!(looker.query_task("0a1B-c_9", Format::Csv).is_ok());
    assert_eq!(sim.stats().total(), before, "no request was sent");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_task_whose_creation_answer_was_lost_is_created_again() {
    const CREATE: &str = "/api/4.0/query_tasks";
    let sim = sim().start().await.unwrap();
    let looker = looker(&sim).await;
    let id = looker.create_query(by_status()).await.unwrap();
    // Looker created the task, but the answer is a 500: haul cannot know, and creates another.
    sim.misbehave_next(
        "POST",
        CREATE,
        haul_sim::Misbehaviour::Status {
            status: 500,
            body: r#"{"message":"boom"}"#.into(),
        },
    );
    let csv = looker
        .run_query(&id)
        .format(Format::Csv)
        .backoff(fast())
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with("Orders Status,Orders Count\n"), "{csv}");
    let creates: Vec<(u16, u64)> = sim
        .stats()
        .requests
        .iter()
        .filter(|r| r.method == "POST" && r.route == CREATE)
        .map(|r| (r.status, r.count))
        .collect();
    assert_eq!(
        creates.iter().map(|(_, n)| n).sum::<u64>(),
        2,
        "{creates:?}"
    );
    assert!(creates.contains(&(500, 1)), "{creates:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_login_cut_mid_answer_is_sent_again() {
    let sim = sim().start().await.unwrap();
    // The first login's answer stalls; the read timeout cuts it, and haul logs in again.
    sim.misbehave_next(
        "POST",
        "/api/4.0/login",
        haul_sim::Misbehaviour::Stall { after: 5 },
    );
    let looker = Looker::builder()
        .base_url(sim.looker().base_url())
        .client_credentials(sim.looker().client_id(), sim.looker().client_secret())
        .retry(quick_retries())
        .read_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), looker.connect())
        .await
        .expect("hung")
        .unwrap();
    let id = looker.create_query(by_status()).await.unwrap();
    assert!(!id.is_empty());
    assert_eq!(sim.stats().count("POST", "/api/4.0/login"), 2);
    sim.shutdown().await;
}
