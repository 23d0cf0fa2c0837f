//! The accept loop: every connection served by hyper, with response header names in title case
//! (`Content-Type`, `Sforce-Locator`, `Sforce-Limit-Info`), as Salesforce spells them on HTTP/1.
//!
//! hyper lower-cases header names by default. Its `preserve_header_case` keeps a response's own
//! spelling only through a private extension that a server cannot set (hyper 1.x,
//! `ext::HeaderCaseMap` is `pub(crate)`), so `title_case_headers` is as close as the stack gets:
//! a name with capitals inside a word, such as `Sforce-NumberOfRecords`, goes out as
//! `Sforce-Numberofrecords`. Header names are case-insensitive; this is for the tools that
//! compare them byte for byte. Shutdown is graceful as in `axum::serve`: no new connections, and
//! each open one finishes the response it is writing.

use std::pin::pin;

use axum::Router;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt as _;
use tower::util::MapRequest;

use super::middleware::collapse_slashes;

/// Serves `app` on `listener` until `stopped` turns true, then waits for open connections.
pub(crate) async fn serve(listener: TcpListener, app: Router, mut stopped: watch::Receiver<bool>) {
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
    builder.http1().title_case_headers(true);
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
