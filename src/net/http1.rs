//! Serving HTTP/1.x on one connection, plain or TLS: [`serve`] reads
//! requests with [`super::head`], answers them with the router through
//! [`super::response`], and hands a stream to its [`super::pump`]; what
//! the reader does not take goes to hyper ([`http`]), for one request.
//!
//! A connection waits for its first request without the request machinery
//! (many connections are new or, over TLS, just past their handshake);
//! from the first request on, everything up to a stream's head runs in one
//! box, freed before the stream starts.

use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::head::{self, Head};
use super::options::ServeOptions;
use super::prefixed::Prefixed;
use super::pump::{self, After};
use super::response::{self, Asked};
use super::wire::Wire;

/// Serves HTTP/1.x on `sock` (plain, or TLS once its handshake is done)
/// until the connection ends.
pub(super) async fn serve<S: Wire>(
    mut sock: S,
    peer: SocketAddr,
    app: Router,
    options: Arc<ServeOptions>,
    stop: CancellationToken,
) {
    // The first request must be whole by then, whoever reads it.
    let deadline = Instant::now() + options.header_timeout;
    // A request already there goes straight on. Until one begins, a new
    // connection (a TLS one after its handshake, too) holds its socket and
    // this small wait (boxed, so that a stream's task does not carry its
    // timer), not the request machinery.
    let begun = poll_fn(|cx| Poll::Ready(sock.poll_readable(cx).is_ready()));
    if !begun.await && !Box::pin(request_begins(&mut sock, deadline, &stop)).await {
        return;
    }
    // Requests are under way: everything up to a stream's head runs in a
    // box of its own, freed before the stream starts (an idle stream's
    // task holds only the pump).
    let Some(pump) = Box::pin(requests(sock, peer, &app, &options, &stop, deadline)).await else {
        return;
    };
    pump.await;
}

/// Waits until the first request begins: true once bytes can be read,
/// false if the peer sends nothing by `deadline` or the server is shutting
/// down (a connection that has not asked for anything is not worth waiting
/// for).
async fn request_begins<S: Wire>(
    sock: &mut S,
    deadline: Instant,
    stop: &CancellationToken,
) -> bool {
    let readable = poll_fn(|cx| sock.poll_readable(cx));
    tokio::select! {
        // The socket first: asking the token registers with a lock that
        // every connection shares.
        biased;
        readable = tokio::time::timeout_at(deadline, readable) => matches!(readable, Ok(Ok(()))),
        () = stop.cancelled() => false,
    }
}

/// Serves requests until one turns into a stream (returned as its pump),
/// the connection ends, or it goes to hyper.
async fn requests<S: Wire>(
    mut sock: S,
    peer: SocketAddr,
    app: &Router,
    options: &ServeOptions,
    stop: &CancellationToken,
    mut deadline: Instant,
) -> Option<pump::Pump<S>> {
    let mut carry = Bytes::new();
    loop {
        let head = tokio::select! {
            biased;
            head = head::read_request(&mut sock, options, carry, deadline) => head,
            // Shutting down: a connection that has not asked for anything
            // since its last answer is not worth waiting for.
            () = stop.cancelled() => return None,
        };
        let (request, keep_alive, rest) = match head {
            Head::Gone => return None,
            Head::Refused(r) => {
                response::refuse(sock, r.status, r.code, r.message).await;
                return None;
            }
            Head::Other(read) => {
                http(
                    Prefixed::new(read, sock),
                    peer,
                    app.clone(),
                    options,
                    deadline,
                    stop.clone(),
                )
                .await;
                return None;
            }
            Head::Request {
                request,
                keep_alive,
                rest,
            } => (*request, keep_alive, rest),
        };
        let asked = Asked {
            head: request.method() == http::Method::HEAD,
            version: request.version(),
            // A server on its way down says so in its last answers.
            keep_alive: keep_alive && !stop.is_cancelled(),
        };
        let mut request = request.map(Body::from);
        request.extensions_mut().insert(ConnectInfo(peer));
        let Ok(res) = app.clone().oneshot(request).await;
        match response::respond(sock, res, asked).await {
            After::Stream(pump) => return Some(pump),
            After::Close => return None,
            After::KeepAlive(next) => sock = next,
        }
        carry = rest;
        // The next request must be whole by then, whoever reads it.
        deadline = Instant::now() + options.header_timeout;
    }
}

/// Serves one request with hyper's HTTP/1 server, as `axum::serve` would,
/// then closes the connection. Until the router has answered (which, for
/// the hub's handlers, is after the body was read), the request must keep
/// to `deadline`; hyper has no timeout for a body, so a body dripped or
/// never sent would otherwise hold the connection forever.
async fn http<S: Wire>(
    io: Prefixed<S>,
    peer: SocketAddr,
    app: Router,
    options: &ServeOptions,
    deadline: Instant,
    stop: CancellationToken,
) {
    let answered = Arc::new(Notify::new());
    let service = {
        let answered = answered.clone();
        app.map_request(move |req: http::Request<Incoming>| {
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        })
        .map_response(move |mut res: axum::response::Response| {
            answered.notify_one();
            // Hyper closes after this one request; HTTP/1.1 wants it said
            // (an upgrade's 101 says `upgrade` instead).
            if res.status() != http::StatusCode::SWITCHING_PROTOCOLS {
                res.headers_mut().insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
            }
            res
        })
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(false)
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        // The head is whole and under `max_head_bytes` (checked before
        // hyper sees it); body bytes go through in pieces this size.
        .max_buf_size(options.hyper_buf_size())
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(service))
        .with_upgrades();
    tokio::pin!(conn);
    let mut in_request = true;
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            () = answered.notified(), if in_request => in_request = false,
            // Dropping the connection closes the socket.
            () = tokio::time::sleep_until(deadline), if in_request => return,
            () = stop.cancelled(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}
