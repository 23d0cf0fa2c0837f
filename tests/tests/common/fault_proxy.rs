//! A fault-injecting HTTP proxy on 127.0.0.1, put between haul and a real S3 server (moto's): it
//! forwards every request as it came, and answers the `UploadPart` request a test picks
//! (`PUT /bucket/key?partNumber=N&uploadId=U`, by key and part number) itself with an S3 error,
//! so that a test sees what haul does when a store refuses one part of an upload. It logs every
//! `UploadPart` it receives, refused or forwarded, so that a test can count what was sent.
//!
//! A refused request's body is read whole before the answer, as a store reads it: the client then
//! sees the error answer, not a connection closed under its upload.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, Method, StatusCode, Uri, header};
use axum::response::Response;

/// Longest one forwarded request may take.
const FORWARD: Duration = Duration::from_secs(120);

/// How the proxy refuses a part: an S3 error answer (status and XML body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `403 AccessDenied`, which S3 clients do not retry.
    AccessDenied,
    /// `500 InternalError`, which S3 clients retry.
    InternalError,
}

impl Refusal {
    fn response(self) -> Response {
        let (status, code, message) = match self {
            Self::AccessDenied => (StatusCode::FORBIDDEN, "AccessDenied", "Access Denied"),
            Self::InternalError => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "We encountered an internal error. Please try again.",
            ),
        };
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
             <Message>{message}</Message><RequestId>haul-fault-proxy</RequestId></Error>"
        );
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/xml")
            .body(Body::from(body))
            .expect("a valid response")
    }
}

/// One `UploadPart` request the proxy received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadPart {
    /// The object's key, without the bucket, as the request's path spells it
    /// (`accounts/part-00003.csv`).
    pub key: String,
    /// The part's number, from 1.
    pub number: u32,
    /// Whether the proxy answered it with a refusal instead of forwarding it.
    pub refused: bool,
}

/// Which part to refuse, how, and how many more times.
struct Rule {
    key: String,
    number: u32,
    left: usize,
    refusal: Refusal,
}

#[derive(Default)]
struct Faults {
    rule: Option<Rule>,
    log: Vec<UploadPart>,
}

impl Faults {
    /// Logs an `UploadPart` request and says whether to refuse it, and how.
    fn decide(&mut self, key: &str, number: u32) -> Option<Refusal> {
        let refusal = match &mut self.rule {
            Some(rule) if rule.key == key && rule.number == number && rule.left > 0 => {
                rule.left -= 1;
                Some(rule.refusal)
            }
            _ => None,
        };
        self.log.push(UploadPart {
            key: key.to_owned(),
            number,
            refused: refusal.is_some(),
        });
        refusal
    }
}

struct Shared {
    upstream: String,
    http: reqwest::Client,
    faults: Mutex<Faults>,
}

/// The proxy, serving until dropped.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`, to give haul as the store's endpoint.
    pub url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:PORT`) on a free port, refusing nothing.
    pub async fn start(upstream: &str) -> Self {
        let http = reqwest::Client::builder()
            .no_gzip()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(FORWARD)
            .build()
            .unwrap();
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            http,
            faults: Mutex::new(Faults::default()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new().fallback(forward).with_state(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url,
            shared,
            server,
        }
    }

    /// From now on, answers the part `number` (from 1) of the object `key` (without the bucket:
    /// `accounts/part-00003.csv`) with `refusal` the next `times` times it is sent, and forwards
    /// every other request.
    pub fn refuse_part(&self, key: &str, number: u32, times: usize, refusal: Refusal) {
        self.shared.faults.lock().unwrap().rule = Some(Rule {
            key: key.to_owned(),
            number,
            left: times,
            refusal,
        });
    }

    /// Forwards every request from now on, and forgets the parts logged so far.
    pub fn heal(&self) {
        *self.shared.faults.lock().unwrap() = Faults::default();
    }

    /// Every `UploadPart` request received since the proxy started or was healed, in order.
    pub fn upload_parts(&self) -> Vec<UploadPart> {
        self.shared.faults.lock().unwrap().log.clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The object key (without the bucket) and part number an `UploadPart` request uploads; `None`
/// for any other request.
fn upload_part(method: &Method, uri: &Uri) -> Option<(String, u32)> {
    if method != Method::PUT {
        return None;
    }
    let (mut number, mut upload) = (None, false);
    for pair in uri.query()?.split('&') {
        match pair.split_once('=') {
            Some(("partNumber", value)) => number = value.parse().ok(),
            Some(("uploadId", _)) => upload = true,
            _ => {}
        }
    }
    let path = uri.path().trim_start_matches('/');
    let (_bucket, key) = path.split_once('/')?;
    upload.then_some((key.to_owned(), number?))
}

/// Headers that belong to one connection, not to the request or answer they travel with; and
/// `Host`, which names the proxy (moto does not check the signature that covers it).
fn hop_by_hop(name: &HeaderName) -> bool {
    [header::CONNECTION, header::TRANSFER_ENCODING, header::HOST]
        .iter()
        .any(|hop| hop == name)
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let refusal = upload_part(&parts.method, &parts.uri)
        .and_then(|(key, number)| shared.faults.lock().unwrap().decide(&key, number));
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(error) => return failure(StatusCode::BAD_REQUEST, &error.to_string()),
    };
    if let Some(refusal) = refusal {
        return refusal.response();
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut outgoing = shared
        .http
        .request(parts.method.clone(), format!("{}{path}", shared.upstream))
        .body(body);
    for (name, value) in &parts.headers {
        // The body is passed whole, so its length is the client's to set again.
        if !hop_by_hop(name) && name != header::CONTENT_LENGTH {
            outgoing = outgoing.header(name, value);
        }
    }
    let answer = match outgoing.send().await {
        Ok(answer) => answer,
        Err(error) => return failure(StatusCode::BAD_GATEWAY, &error.to_string()),
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    match answer.bytes().await {
        Ok(bytes) => answer_with(status, &headers, bytes),
        Err(error) => failure(StatusCode::BAD_GATEWAY, &error.to_string()),
    }
}

/// The upstream's answer, passed on: its status, headers (the length included, which a `HEAD`
/// answer carries without a body) and body.
fn answer_with(status: StatusCode, headers: &HeaderMap, body: Bytes) -> Response {
    let mut response = Response::builder().status(status);
    for (name, value) in headers {
        if !hop_by_hop(name) {
            response = response.header(name, value);
        }
    }
    response.body(Body::from(body)).expect("a valid response")
}

/// An answer of the proxy's own when it could not forward a request.
fn failure(status: StatusCode, detail: &str) -> Response {
    Response::builder()
        .status(status)
        .body(Body::from(format!("fault proxy: {detail}")))
        .expect("a valid response")
}
