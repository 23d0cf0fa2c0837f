//! The accept loop: every connection served by hyper, with response header names spelled as
//! Salesforce spells them on HTTP/1 (`Content-Type`, `Sforce-Locator`, `Sforce-NumberOfRecords`).
//!
//! Header names are case-insensitive, but some clients look them up in a plain dict. hyper
//! lower-cases names by default; `title_case_headers` gives `Content-Type` and `Sforce-Locator`,
//! but `Sforce-Numberofrecords` for a name with a capital inside a word. For those, hyper's
//! `preserve_header_case` writes a response's names as spelled in hyper's own (private) record of
//! spellings when the response carries one: the path hyper documents for proxies, which forward a
//! request's record. [`spellings`] makes that record once, by letting hyper parse a request that
//! carries the names as Salesforce spells them; every response gets a copy.
//!
//! Shutdown is graceful as in `axum::serve`: no new connections, and each open one finishes the
//! response it is writing.

use std::convert::Infallible;
use std::pin::pin;
use std::sync::Mutex;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Extensions, Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tower::ServiceExt as _;
use tower::util::{MapRequest, MapResponseLayer};

use super::middleware::collapse_slashes;

/// Serves `app` on `listener` until `stopped` turns true, then waits for open connections.
pub(crate) async fn serve(listener: TcpListener, app: Router, mut stopped: watch::Receiver<bool>) {
    let spellings = spellings().await;
    let app = app.layer(MapResponseLayer::new(
        move |mut response: Response<Body>| {
            response.extensions_mut().extend(spellings.clone());
            response
        },
    ));
    let (all_closed, connection) = watch::channel(());
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.wait_for(|stop| *stop) => break,
        };
        let Ok((tcp, _)) = accepted else {
            // A failed accept (out of descriptors, a reset): the next one may succeed.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        // Small JSON answers must not wait for delayed ACKs.
        let _ = tcp.set_nodelay(true);
        let collapse: fn(Request<Incoming>) -> Request<Incoming> = collapse_slashes;
        let service = TowerToHyperService::new(app.clone().map_request(collapse));
        let stop = stopped.clone();
        let open = connection.clone();
        tokio::spawn(async move {
            serve_connection(TokioIo::new(tcp), service, stop).await;
            drop(open);
        });
    }
    drop(connection);
    all_closed.closed().await;
}

/// The router as hyper calls it, paths with repeated slashes collapsed first.
type Service = TowerToHyperService<MapRequest<Router, fn(Request<Incoming>) -> Request<Incoming>>>;

/// One connection, until the client closes it or the server stops.
async fn serve_connection(
    io: TokioIo<TcpStream>,
    service: Service,
    mut stopped: watch::Receiver<bool>,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .title_case_headers(true)
        .preserve_header_case(true);
    let mut conn = pin!(builder.serve_connection_with_upgrades(io, service));
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => break,
            _ = stopped.wait_for(|stop| *stop), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Response header names that title case misspells, as Salesforce spells them.
const SALESFORCE_SPELLINGS: &[&str] = &["Sforce-NumberOfRecords"];

/// hyper's record of [`SALESFORCE_SPELLINGS`], as the extensions of a request hyper parsed with
/// `preserve_header_case` (in memory, over a pipe).
async fn spellings() -> Extensions {
    let (mut client, server) = tokio::io::duplex(4096);
    let (sender, received) = oneshot::channel();
    let sender = Mutex::new(Some(sender));
    let capture = hyper::service::service_fn(move |request: Request<Incoming>| {
        if let Some(sender) = sender.lock().expect("not poisoned").take() {
            let _ = sender.send(request.extensions().clone());
        }
        async { Ok::<_, Infallible>(Response::new(Body::empty())) }
    });
    let mut request = String::from("GET / HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n");
    for name in SALESFORCE_SPELLINGS {
        request.push_str(&format!("{name}: -\r\n"));
    }
    request.push_str("\r\n");
    client
        .write_all(request.as_bytes())
        .await
        .expect("a pipe in memory takes a short request");
    let connection = hyper::server::conn::http1::Builder::new()
        .preserve_header_case(true)
        .serve_connection(TokioIo::new(server), capture);
    // The pipe's other end stays open until the answer is written, so the connection ends on
    // `Connection: close`; the timeout only guards against a hyper that would wait for more.
    let _ = tokio::time::timeout(Duration::from_secs(5), connection).await;
    drop(client);
    received
        .await
        .expect("hyper parses a well-formed request and calls the service")
}
