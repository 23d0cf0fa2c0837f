//! The Databricks family against a small scripted server on 127.0.0.1 (the statement API on one
//! port, "cloud storage" on others): chunks fetched through their links without the
//! `Authorization` header and with the links' `http_headers`, a link refused with 403 asked for
//! again, hostile links refused, truncated results refused unless allowed, failed statements.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow_array::Array;
use common::{TempDir, quick_retries};
use haul::databricks::Databricks;
use haul::download::Format;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Longest any test here may run before it counts as hung.
const GUARD: Duration = Duration::from_secs(30);
const TOKEN: &str = "dapi-test-token";
const STATEMENT: &str = "01ed92c5-3583-1f38-b21b-c6773e7c56b3";

/// Numbers the requests every server of a test process receives, in the order received.
static RECEIVED: AtomicU64 = AtomicU64::new(0);

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    /// Its place among every request any server here received.
    received: u64,
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

type Handler = Arc<dyn Fn(&Seen, usize) -> (u16, Vec<u8>) + Send + Sync>;

/// A server on 127.0.0.1 that answers each request with `handler(request, how many times this
/// path was asked before)` and records every request; stopped when dropped.
struct Server {
    origin: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(handler: Handler) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let Some(request) = read_request(&mut socket).await else {
                    continue;
                };
                let count = {
                    let mut log = log.lock().unwrap();
                    let count = log
                        .iter()
                        .filter(|s: &&Seen| s.path == request.path)
                        .count();
                    log.push(request.clone());
                    count
                };
                let (status, body) = handler(&request, count);
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
            }
        });
        Self { origin, seen, task }
    }

    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn count(&self, path: &str) -> usize {
        self.requests().iter().filter(|s| s.path == path).count()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request's head and body (by its content-length).
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Seen> {
    let mut buffer = Vec::new();
    let mut piece = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut piece).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&piece[..n]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if buffer.len() > 1 << 20 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let n = socket.read(&mut piece).await.ok()?;
        if n == 0 {
            break;
        }
        buffer.extend_from_slice(&piece[..n]);
    }
    let end = buffer.len().min(head_end + length);
    Some(Seen {
        received: RECEIVED.fetch_add(1, Ordering::SeqCst),
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&buffer[head_end..end]).into_owned(),
    })
}

/// The three chunks' CSV as Databricks writes them: a header row in the first only, nulls as
/// `null`, CRLF line ends.
fn chunk_body(index: usize) -> String {
    match index {
        0 => "id,amount,note\r\n1,10.50,\"a, b\"\r\n2,null,null\r\n".into(),
        1 => "3,0.01,\"null\"\r\n4,7.00,\"line\nbreak\"\r\n".into(),
        _ => "5,1.25,e\r\n".into(),
    }
}

/// The three chunks as Arrow IPC streams: the same rows as [`chunk_body`]'s, nulls as nulls.
fn arrow_chunk(index: usize) -> Vec<u8> {
    use arrow_array::{Decimal128Array, Int64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    let rows: &[(i64, Option<i128>, Option<&str>)] = match index {
        0 => &[(1, Some(1050), Some("a, b")), (2, None, None)],
        1 => &[
            (3, Some(1), Some("null")),
            (4, Some(700), Some("line\nbreak")),
        ],
        _ => &[(5, Some(125), Some("e"))],
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("amount", DataType::Decimal128(10, 2), true),
        Field::new("note", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(
                Decimal128Array::from_iter(rows.iter().map(|r| r.1))
                    .with_precision_and_scale(10, 2)
                    .unwrap(),
            ),
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.2))),
        ],
    )
    .unwrap();
    let mut out = Vec::new();
    let mut writer = arrow_ipc::writer::StreamWriter::try_new(&mut out, &schema).unwrap();
    writer.write(&batch).unwrap();
    writer.finish().unwrap();
    drop(writer);
    out
}

fn rows_of(index: usize) -> usize {
    [2, 2, 1][index]
}

fn link_json(index: usize, storage: &str, expiration: &str) -> String {
    format!(
        r#"{{"chunk_index":{index},"row_offset":{offset},"row_count":{rows},"byte_count":100,
            "external_link":"{storage}/chunk/{index}?sig=secret-signature",
            "expiration":"{expiration}","http_headers":{{"x-test-key":"k{index}"}}}}"#,
        offset = [0, 2, 4][index],
        rows = rows_of(index),
    )
}

fn manifest(truncated: bool, arrow: bool) -> String {
    let format = if arrow { "ARROW_STREAM" } else { "CSV" };
    format!(
        r#"{{"format":"{format}","schema":{{"column_count":3,"columns":[
            {{"name":"id","position":0,"type_name":"LONG","type_text":"BIGINT"}},
            {{"name":"amount","position":1,"type_name":"DECIMAL","type_text":"DECIMAL(10,2)","type_precision":10,"type_scale":2}},
            {{"name":"note","position":2,"type_name":"STRING","type_text":"STRING"}}]}},
          "total_chunk_count":3,"total_row_count":5,"total_byte_count":300,"truncated":{truncated},
          "chunks":[{{"chunk_index":0,"row_offset":0,"row_count":2}},{{"chunk_index":1,"row_offset":2,"row_count":2}},
                    {{"chunk_index":2,"row_offset":4,"row_count":1}}]}}"#
    )
}

/// How the scripted workspace behaves.
#[derive(Clone, Default)]
struct Script {
    /// Chunk 2's link points to this origin instead of storage.
    hostile_origin: Option<String>,
    /// The manifest says the result was truncated.
    truncated: bool,
    /// The statement fails.
    fails: bool,
    /// The statement never finishes.
    runs_forever: bool,
    /// The result is written as Arrow IPC streams.
    arrow: bool,
    /// Storage answers chunk 2 with a redirect.
    redirect: bool,
}

struct Workspace {
    api: Server,
    storage: Server,
}

const FUTURE: &str = "2999-01-01T00:00:00.000Z";

async fn workspace(script: Script) -> Workspace {
    // Storage: 403 for the first GET of chunk 1 (an expired link), and for any request that
    // carries an Authorization header, as cloud storage does.
    let (arrow, redirect) = (script.arrow, script.redirect);
    let storage = Server::start(Arc::new(move |request: &Seen, count| {
        if request.headers.contains_key("authorization") {
            return (403, b"{}".to_vec());
        }
        let index: usize = request.path[7..8].parse().unwrap();
        let expected_key = format!("k{index}");
        if request.headers.get("x-test-key") != Some(&expected_key) {
            return (400, b"{}".to_vec());
        }
        if index == 1 && count == 0 {
            return (403, b"{}".to_vec());
        }
        if index == 2 && redirect {
            return (302, b"{}".to_vec());
        }
        match arrow {
            true => (200, arrow_chunk(index)),
            false => (200, chunk_body(index).into_bytes()),
        }
    }))
    .await;
    let storage_origin = storage.origin.clone();
    let script = script.clone();
    let api = Server::start(Arc::new(move |request: &Seen, count| {
        let (status, body) = api_answer(&script, &storage_origin, request, count);
        (status, body.into_bytes())
    }))
    .await;
    Workspace { api, storage }
}

/// The statement API's answer to `request`, the `count`th of its path.
fn api_answer(
    script: &Script,
    storage_origin: &str,
    request: &Seen,
    count: usize,
) -> (u16, String) {
    {
        if request.path == "/oidc/v1/token" {
            // Basic base64("sp-id:sp-secret"), the client-credentials grant for all APIs.
            let client = request.headers.get("authorization").map(String::as_str);
            let grant = request.body.contains("grant_type=client_credentials")
                && request.body.contains("scope=all-apis");
            return match (client, grant) {
                (Some("Basic c3AtaWQ6c3Atc2VjcmV0"), true) => (
                    200,
                    format!(
                        r#"{{"access_token":"{TOKEN}","token_type":"Bearer","expires_in":3600}}"#
                    ),
                ),
                _ => (
                    401,
                    r#"{"error":"invalid_client","error_description":"no"}"#.into(),
                ),
            };
        }
        if request.headers.get("authorization").map(String::as_str)
            != Some(&format!("Bearer {TOKEN}"))
        {
            return (
                401,
                r#"{"error_code":"UNAUTHENTICATED","message":"no"}"#.into(),
            );
        }
        let statement_path = format!("/api/2.0/sql/statements/{STATEMENT}");
        match (request.method.as_str(), request.path.as_str()) {
            ("POST", "/api/2.0/sql/statements") => (
                200,
                format!(r#"{{"statement_id":"{STATEMENT}","status":{{"state":"PENDING"}}}}"#),
            ),
            ("GET", path) if path == statement_path && script.fails => (
                200,
                format!(
                    r#"{{"statement_id":"{STATEMENT}","status":{{"state":"FAILED","sql_state":"42P01",
                    "error":{{"error_code":"BAD_REQUEST","message":"[TABLE_OR_VIEW_NOT_FOUND] nope"}}}}}}"#
                ),
            ),
            ("GET", path) if path == statement_path && (count == 0 || script.runs_forever) => (
                200,
                format!(r#"{{"statement_id":"{STATEMENT}","status":{{"state":"RUNNING"}}}}"#),
            ),
            ("GET", path) if path == statement_path => (
                200,
                format!(
                    r#"{{"statement_id":"{STATEMENT}","status":{{"state":"SUCCEEDED"}},"manifest":{},
                    "result":{{"external_links":[{}]}}}}"#,
                    manifest(script.truncated, script.arrow),
                    link_json(0, storage_origin, FUTURE)
                ),
            ),
            ("GET", path) if path.starts_with(&format!("{statement_path}/result/chunks/")) => {
                let index: usize = path.rsplit('/').next().unwrap().parse().unwrap();
                let origin = match (&script.hostile_origin, index) {
                    (Some(hostile), 2) => hostile.clone(),
                    _ => storage_origin.to_owned(),
                };
                (
                    200,
                    format!(
                        r#"{{"external_links":[{}]}}"#,
                        link_json(index, &origin, FUTURE)
                    ),
                )
            }
            ("POST", path) if path == format!("{statement_path}/cancel") => (200, "{}".into()),
            _ => (
                404,
                r#"{"error_code":"NOT_FOUND","message":"no such path"}"#.into(),
            ),
        }
    }
}

fn client(workspace: &Workspace) -> Databricks {
    Databricks::builder()
        .host(&workspace.api.origin)
        .token(TOKEN)
        .retry(quick_retries())
        .gzip(false)
        .build()
        .unwrap()
}

async fn finished(db: &Databricks) -> haul::databricks::CompletedStatement {
    let statement = db
        .statement("SELECT id, amount, note FROM t")
        .warehouse("w1")
        .submit()
        .await
        .unwrap();
    statement
        .wait()
        .backoff(haul::BackoffPolicy::fixed(Duration::from_millis(10)))
        .await
        .unwrap()
}

#[tokio::test]
async fn chunks_come_through_their_links_without_the_token_and_expired_links_are_renewed() {
    tokio::time::timeout(GUARD, async {
        let workspace = workspace(Script::default()).await;
        let db = client(&workspace);
        let done = finished(&db).await;
        assert_eq!(done.total_rows(), Some(5));
        let shown = format!("{done:?} {:?}", done.statement());
        assert!(shown.contains(STATEMENT), "{shown}");
        assert!(!shown.contains("secret-signature"), "{shown}");
        let dir = TempDir::new("databricks-csv");
        let report = done
            .download()
            .concurrency(3)
            .to_file(dir.0.join("out.csv"))
            .await
            .unwrap();
        assert_eq!((report.records, report.pages), (5, 3));
        let csv = std::fs::read_to_string(dir.0.join("out.csv")).unwrap();
        assert_eq!(
            csv,
            "id,amount,note\r\n1,10.50,\"a, b\"\r\n2,,\r\n3,0.01,\"null\"\r\n4,7.00,\"line\nbreak\"\r\n5,1.25,e\r\n"
        );
        for request in workspace.storage.requests() {
            assert!(!request.headers.contains_key("authorization"), "{request:?}");
        }
        // Chunk 1's first link was refused with 403: a second was asked for and used.
        let chunk_1 = format!("/api/2.0/sql/statements/{STATEMENT}/result/chunks/1");
        assert_eq!(workspace.api.count(&chunk_1), 2);
        // Chunk 0's link came with the statement: never asked for again.
        let chunk_0 = format!("/api/2.0/sql/statements/{STATEMENT}/result/chunks/0");
        assert_eq!(workspace.api.count(&chunk_0), 0);
        let submitted = &workspace.api.requests()[0];
        assert_eq!(submitted.method, "POST");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn links_are_asked_for_before_their_chunks_turn() {
    tokio::time::timeout(GUARD, async {
        let workspace = workspace(Script::default()).await;
        let done = finished(&client(&workspace)).await;
        let dir = TempDir::new("databricks-look-ahead");
        done.download()
            .concurrency(1)
            .to_file(dir.0.join("out.csv"))
            .await
            .unwrap();
        // One chunk at a time: chunk 1's link is refused once (see `workspace`), so chunk 1 is
        // fetched twice. Chunk 2's link was asked for while chunk 0 came, ahead of its turn:
        // before storage saw chunk 1's second GET, which a link asked for only at chunk 2's
        // turn would follow.
        let link_2 = format!("/api/2.0/sql/statements/{STATEMENT}/result/chunks/2");
        let asked: Vec<u64> = workspace
            .api
            .requests()
            .iter()
            .filter(|s| s.path == link_2)
            .map(|s| s.received)
            .collect();
        let chunk_1: Vec<u64> = workspace
            .storage
            .requests()
            .iter()
            .filter(|s| s.path.starts_with("/chunk/1"))
            .map(|s| s.received)
            .collect();
        assert_eq!(asked.len(), 1, "each link asked for once: {asked:?}");
        assert_eq!(chunk_1.len(), 2, "{chunk_1:?}");
        assert!(asked[0] < chunk_1[1], "{asked:?} {chunk_1:?}");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn json_lines_are_typed_from_the_manifest_and_nulls_are_null() {
    tokio::time::timeout(GUARD, async {
        let workspace = workspace(Script::default()).await;
        let done = finished(&client(&workspace)).await;
        let dir = TempDir::new("databricks-jsonl");
        let path = dir.0.join("out.jsonl");
        done.download()
            .format(Format::Jsonl)
            .to_file(&path)
            .await
            .unwrap();
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(
            lines[0],
            serde_json::json!({"id": 1, "amount": "10.50", "note": "a, b"})
        );
        assert_eq!(
            lines[1],
            serde_json::json!({"id": 2, "amount": null, "note": null})
        );
        assert_eq!(lines[2]["note"], "null");
    })
    .await
    .unwrap();
}

/// Chunk 2's link points to `hostile` (an origin on `elsewhere`'s port): the download fails
/// before asking it for anything, and without showing the link's credential.
async fn refused_download(elsewhere: &Server, hostile: String) {
    let workspace = workspace(Script {
        hostile_origin: Some(hostile),
        ..Script::default()
    })
    .await;
    let done = finished(&client(&workspace)).await;
    let dir = TempDir::new("databricks-hostile");
    let error = done
        .download()
        .to_file(dir.0.join("out.csv"))
        .await
        .unwrap_err();
    let text = format!("{error}");
    assert!(text.contains("refused link"), "{text}");
    assert!(!text.contains("secret-signature"), "{text}");
    assert!(elsewhere.requests().is_empty());
    assert!(!dir.0.join("out.csv").exists());
}

#[tokio::test]
async fn a_link_to_a_host_the_statement_did_not_name_is_refused() {
    tokio::time::timeout(GUARD, async {
        let elsewhere = Server::start(Arc::new(|_: &Seen, _| (200, "5,1.25,e\r\n".into()))).await;
        refused_download(
            &elsewhere,
            elsewhere.origin.replace("127.0.0.1", "localhost"),
        )
        .await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_link_to_another_port_of_the_storage_host_is_refused() {
    tokio::time::timeout(GUARD, async {
        // Storage and this server are both on 127.0.0.1: only the port tells them apart, as it
        // would tell a presigned link's store from another service on the same host.
        let elsewhere = Server::start(Arc::new(|_: &Seen, _| (200, "5,1.25,e\r\n".into()))).await;
        refused_download(&elsewhere, elsewhere.origin.clone()).await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_redirect_from_storage_is_refused() {
    tokio::time::timeout(GUARD, async {
        let workspace = workspace(Script {
            redirect: true,
            ..Script::default()
        })
        .await;
        let done = finished(&client(&workspace)).await;
        let dir = TempDir::new("databricks-redirect");
        let error = done
            .download()
            .to_file(dir.0.join("out.csv"))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("redirect"), "{error}");
        assert!(!dir.0.join("out.csv").exists());
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_link_that_cannot_be_reached_fails_without_showing_its_credential() {
    tokio::time::timeout(GUARD, async {
        let closed = {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            format!("http://{}", listener.local_addr().unwrap())
        };
        let workspace = workspace(Script {
            hostile_origin: Some(closed.clone()),
            ..Script::default()
        })
        .await;
        // Both origins allowed, so that the link gets as far as the connection.
        let allowed = [&workspace.storage.origin, &closed].map(|o| o.replace("http://", ""));
        let db = Databricks::builder()
            .host(&workspace.api.origin)
            .token(TOKEN)
            .retry(quick_retries())
            .gzip(false)
            .link_hosts(allowed)
            .build()
            .unwrap();
        let done = finished(&db).await;
        let dir = TempDir::new("databricks-unreachable");
        let error = done
            .download()
            .to_file(dir.0.join("out.csv"))
            .await
            .unwrap_err();
        let mut chain = vec![error.to_string()];
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            chain.push(format!("{cause} {cause:?}"));
            source = cause.source();
        }
        let chain = chain.join(" / ");
        assert!(error.is_retryable(), "{chain}");
        assert!(!chain.contains("secret-signature"), "{chain}");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_truncated_result_is_refused_unless_allowed() {
    tokio::time::timeout(GUARD, async {
        let workspace = workspace(Script {
            truncated: true,
            ..Script::default()
        })
        .await;
        let done = finished(&client(&workspace)).await;
        assert!(done.truncated());
        let dir = TempDir::new("databricks-truncated");
        let error = done
            .download()
            .to_file(dir.0.join("a.csv"))
            .await
            .unwrap_err();
        assert!(error.is_integrity(), "{error}");
        let report = done
            .clone()
            .allow_truncated(true)
            .download()
            .to_file(dir.0.join("b.csv"))
            .await
            .unwrap();
        assert_eq!(report.records, 5);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_failed_statement_is_a_failed_job_with_the_warehouses_error() {
    tokio::time::timeout(GUARD, async {
        let workspace = workspace(Script {
            fails: true,
            ..Script::default()
        })
        .await;
        let db = client(&workspace);
        let statement = db
            .statement("SELECT * FROM nope")
            .warehouse("w1")
            .submit()
            .await
            .unwrap();
        let error = statement
            .wait()
            .backoff(haul::BackoffPolicy::fixed(Duration::from_millis(10)))
            .await
            .unwrap_err();
        assert!(error.is_job_failed(), "{error}");
        let failed = haul::databricks::failed_job(&error).unwrap();
        let status = failed.status.as_ref().unwrap();
        assert_eq!(status.sql_state.as_deref(), Some("42P01"));
        assert_eq!(
            error.to_string(),
            format!(
                "Databricks statement {STATEMENT} ended FAILED: [TABLE_OR_VIEW_NOT_FOUND] nope"
            )
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_refused_token_is_an_auth_error() {
    tokio::time::timeout(GUARD, async {
        let workspace = workspace(Script::default()).await;
        let db = Databricks::builder()
            .host(&workspace.api.origin)
            .token("wrong")
            .retry(quick_retries())
            .build()
            .unwrap();
        let error = db
            .statement("SELECT 1")
            .warehouse("w1")
            .submit()
            .await
            .unwrap_err();
        assert!(error.is_auth(), "{error}");
        assert_eq!(error.vendor_code(), Some("UNAUTHENTICATED"));
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn oauth_machine_to_machine_obtains_a_token_with_the_client_credentials() {
    tokio::time::timeout(GUARD, async {
        let workspace = workspace(Script::default()).await;
        let db = Databricks::builder()
            .host(&workspace.api.origin)
            .client_credentials("sp-id", "sp-secret")
            .retry(quick_retries())
            .gzip(false)
            .build()
            .unwrap();
        let done = finished(&db).await;
        assert_eq!(done.total_chunks(), Some(3));
        assert_eq!(workspace.api.count("/oidc/v1/token"), 1);
        let wrong = Databricks::builder()
            .host(&workspace.api.origin)
            .client_credentials("sp-id", "not-the-secret")
            .retry(quick_retries())
            .build()
            .unwrap();
        let error = wrong.connect().await.unwrap_err();
        assert!(error.is_auth(), "{error}");
        assert!(error.to_string().contains("invalid_client"), "{error}");
        assert!(!format!("{error:?}").contains("not-the-secret"));
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn an_abandoned_wait_cancels_the_statement_when_asked() {
    tokio::time::timeout(GUARD, async {
        let workspace = workspace(Script {
            runs_forever: true,
            ..Script::default()
        })
        .await;
        let db = client(&workspace);
        let statement = db
            .statement("SELECT 1")
            .warehouse("w1")
            .submit()
            .await
            .unwrap();
        let error = statement
            .wait()
            .backoff(haul::BackoffPolicy::fixed(Duration::from_millis(10)))
            .timeout(Duration::from_millis(100))
            .abort_on_drop(true)
            .await
            .unwrap_err();
        assert!(error.is_timeout(), "{error}");
        let cancel = format!("/api/2.0/sql/statements/{STATEMENT}/cancel");
        for _ in 0..200 {
            if workspace.api.count(&cancel) > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(workspace.api.count(&cancel), 1);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn parquet_is_typed_from_the_manifest() {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Decimal128Type, Int64Type};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    tokio::time::timeout(GUARD, async {
        let workspace = workspace(Script::default()).await;
        let done = finished(&client(&workspace)).await;
        let dir = TempDir::new("databricks-parquet");
        let path = dir.0.join("out.parquet");
        let report = done
            .download()
            .format(Format::parquet())
            .to_file(&path)
            .await
            .unwrap();
        assert_eq!(report.records, 5);
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let batches: Vec<_> = reader.map(Result::unwrap).collect();
        let ids: Vec<i64> = batches
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        assert_eq!(ids, [1, 2, 3, 4, 5]);
        let amounts = batches[0].column(1).as_primitive::<Decimal128Type>();
        assert_eq!(amounts.value(0), 1050);
        assert!(amounts.is_null(1));
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn arrow_chunks_become_parquet_without_text() {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Decimal128Type;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    tokio::time::timeout(GUARD, async {
        let workspace = workspace(Script {
            arrow: true,
            ..Script::default()
        })
        .await;
        let db = client(&workspace);
        let statement = db
            .statement("SELECT id, amount, note FROM t")
            .warehouse("w1")
            .output(Format::parquet())
            .submit()
            .await
            .unwrap();
        let submitted = &workspace.api.requests()[0];
        assert!(
            submitted.body.contains(r#""format":"ARROW_STREAM""#),
            "{}",
            submitted.body
        );
        assert!(submitted.body.contains(r#""disposition":"EXTERNAL_LINKS""#));
        let done = statement
            .wait()
            .backoff(haul::BackoffPolicy::fixed(Duration::from_millis(10)))
            .await
            .unwrap();
        let dir = TempDir::new("databricks-arrow");
        let path = dir.0.join("out.parquet");
        let report = done
            .download()
            .format(Format::parquet())
            .concurrency(3)
            .to_file(&path)
            .await
            .unwrap();
        assert_eq!((report.records, report.pages), (5, 3));
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let batches: Vec<_> = reader.map(Result::unwrap).collect();
        let notes: Vec<Option<String>> = batches
            .iter()
            .flat_map(|b| {
                let column = b.column(2).as_string::<i32>();
                (0..column.len())
                    .map(|i| column.is_valid(i).then(|| column.value(i).to_owned()))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(notes[1], None);
        assert_eq!(notes[2].as_deref(), Some("null"));
        let amounts = batches[0].column(1).as_primitive::<Decimal128Type>();
        assert_eq!(amounts.value(0), 1050);
        // An Arrow result downloads as Parquet only: CSV is refused before anything is fetched.
        let fetched = workspace.storage.requests().len();
        let refused = done
            .download()
            .to_file(dir.0.join("out.csv"))
            .await
            .unwrap_err();
        assert!(refused.is_invalid_input(), "{refused}");
        assert_eq!(workspace.storage.requests().len(), fetched);
    })
    .await
    .unwrap();
}

#[test]
fn clients_and_statements_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Databricks>();
    send_sync::<haul::databricks::Statement>();
    send_sync::<haul::databricks::CompletedStatement>();
}
