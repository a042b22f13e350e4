//! Serving the hub: like `axum::serve`, plus a lean path for SSE streams.
//!
//! A hub spends its life holding idle streams, so the cost of one idle
//! connection is the number that decides how many fit on a machine. Served
//! by hyper, an HTTP/1 connection keeps about 16 KiB of buffers for as long
//! as it is open (an 8 KiB read buffer, an 8 KiB header buffer), several
//! times what the hub itself needs for a connection.
//!
//! [`serve`] reads plain HTTP/1.x requests itself and answers them with the
//! same axum [`Router`] (auth, limits, CORS and metrics are unchanged). An
//! answer marked `text/event-stream` is then written by a small task that
//! owns the socket and nothing else; any other answer is written whole and
//! the connection waits for its next request. That covers a browser, which
//! opens its `EventSource` on a connection it already used for the page and
//! a token.
//!
//! Everything from the network is hostile, so every connection has a
//! deadline and a bounded buffer, whoever reads it:
//! - a request (head and body) must arrive whole within
//!   [`ServeOptions::header_timeout`] of the connection's start or of the
//!   previous answer, or the connection is closed (with 408 and a JSON
//!   body if the request had begun);
//! - a head over [`ServeOptions::max_head_bytes`] or with too many fields
//!   gets 431, a head that is not HTTP/1.x gets 400, and HTTP/2 (h2c) gets
//!   505, each with a JSON body, from this reader;
//! - a well-formed request this reader does not serve (a chunked or large
//!   body, an upgrade, `Expect`) is handed to hyper's HTTP/1 server with the
//!   bytes already read. Hyper serves that one request under the same
//!   deadline (until the router has answered) and with capped buffers, then
//!   closes the connection.
//!
//! Until its first request begins, a connection holds only its socket and
//! a small wait; the reader, the router's future and everything else
//! requests need live in a box of their own, freed when a stream starts.
//!
//! Over TLS ([`serve_tls`], [`tls`]) HTTP/1.1 is served by this same front,
//! on a TLS connection that holds no buffers while it waits, so an idle
//! stream costs little more than its TLS state. HTTP/2, offered only there
//! (browsers use it only over TLS, and that is where it matters: one
//! connection for every tab's stream instead of six per host), is served
//! by hyper under the same deadlines.
//!
//! Apps that mount [`crate::router`] under `axum::serve` work the same;
//! they pay hyper's buffers per stream, have none of the deadlines above,
//! and should at least wrap their listener in [`StallGuardListener`]
//! (`axum::serve` has no write timeout of its own).

mod accept;
mod encode;
mod head;
#[cfg(test)]
mod head_differential;
mod options;
mod prefixed;
mod pump;
mod response;
mod stall;
pub mod tls;
mod wire;

use std::future::{poll_fn, Future};
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
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use self::head::Head;
pub use self::options::ServeOptions;
pub use self::prefixed::Prefixed;
use self::pump::After;
use self::response::Asked;
pub use self::stall::{StallGuard, StallGuardListener};
pub use self::tls::{serve_tls, TlsConfig, TlsError};
use self::wire::Wire;

/// Serves `app` on `listener` until `shutdown` resolves, then stops
/// accepting and returns once every connection has finished.
///
/// Open streams finish when their body ends: resolve `shutdown` after (or
/// while) calling [`crate::Hub::shutdown`], which ends every stream with a
/// final frame. Other connections finish their request in flight.
/// Handlers can extract [`ConnectInfo<SocketAddr>`].
pub async fn serve<F>(listener: TcpListener, app: Router, options: ServeOptions, shutdown: F)
where
    F: Future<Output = ()> + Send,
{
    let options = Arc::new(options);
    accept::serve_each(listener, shutdown, |sock, peer, stop| {
        connection(sock, peer, app.clone(), options.clone(), stop)
    })
    .await;
}

/// A plain connection's task (a function returning the future, so that
/// the task is the size of [`http1`]'s future and no more).
fn connection(
    sock: TcpStream,
    peer: SocketAddr,
    app: Router,
    options: Arc<ServeOptions>,
    stop: CancellationToken,
) -> impl Future<Output = ()> {
    // Frames are whole writes; Nagle would hold a small one back until the
    // previous one is acknowledged.
    let _ = sock.set_nodelay(true);
    // Every write from here on, ours or hyper's, gives up on a peer that
    // stopped reading.
    let sock = StallGuard::new(sock, options.write_stall);
    http1(sock, peer, app, options, stop)
}

/// Serves HTTP/1.x on `sock` (plain, or TLS once its handshake is done)
/// until the connection ends.
async fn http1<S: Wire>(
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle stream is a parked task: its size is the per-connection
    /// cost this module exists to keep small (hyper's path is over 2 KiB
    /// before its 16 KiB of buffers). The set-up path may be large; it is
    /// boxed and freed before the stream starts.
    #[tokio::test]
    async fn an_idle_stream_task_stays_small() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sock = TcpStream::connect(addr).await.unwrap();
        let task = connection(
            sock,
            addr,
            Router::new(),
            Arc::new(ServeOptions::default()),
            CancellationToken::new(),
        );
        let size = std::mem::size_of_val(&task);
        assert!(size <= 512, "a stream task takes {size} bytes");
        assert!(std::mem::size_of::<pump::Pump<StallGuard<TcpStream>>>() <= 160);
    }
}
