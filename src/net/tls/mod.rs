//! HTTPS with HTTP/2 and HTTP/1.1, without a proxy in front.
//!
//! Over plain HTTP/1.1 a browser holds at most six connections per host,
//! so a seventh tab's stream waits forever; over HTTP/2 every tab's stream
//! shares one connection. Browsers speak HTTP/2 only over TLS, so the hub
//! terminates TLS itself (rustls) and offers `h2` and `http/1.1` by ALPN.
//!
//! TLS is run by `TlsStream` (`stream.rs`), which keeps no buffer while a
//! connection waits. Then the protocol the client chose decides:
//! - HTTP/1.1 (or no ALPN) is served by the plain front's own reader and
//!   pump ([`super::serve`]), with every rule it has there: an idle stream
//!   costs its TLS state and little else;
//! - HTTP/2 is served by hyper (its HTTP/2 stack is the part worth
//!   reusing), under the same rules:
//!   - every request must have its answer within
//!     [`ServeOptions::header_timeout`] (a body dripped or never sent
//!     gets 408);
//!   - a connection with no request in flight for that long is closed;
//!   - heads over [`ServeOptions::max_head_bytes`] are refused
//!     (`SETTINGS_MAX_HEADER_LIST_SIZE`), and one connection carries at
//!     most [`MAX_H2_STREAMS`] requests at once.
//!
//! For both, the handshake must finish within the same deadline (plain
//! HTTP sent to this port fails it at its first bytes and is closed at
//! once), and writes that stall past [`ServeOptions::write_stall`] fail
//! the connection (the socket under TLS is a [`StallGuard`]).
//!
//! The certificate comes from [`TlsConfig`] (`config.rs`), swappable while
//! connections are open.

mod config;
mod stream;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

pub use self::config::{TlsConfig, TlsError};
pub(crate) use self::stream::TlsStream;
use super::head::Refusal;
use super::options::ServeOptions;
use super::response::error_json;
use super::stall::StallGuard;

/// Requests one HTTP/2 connection may have open at once (a browser puts
/// every tab's stream on one connection; 100 is what most servers allow).
pub const MAX_H2_STREAMS: u32 = 100;

/// Serves `app` over TLS on `listener` until `shutdown` resolves, then
/// stops accepting and returns once every connection has finished (see
/// [`super::serve`] for how streams end).
pub async fn serve_tls<F>(
    listener: TcpListener,
    app: Router,
    options: ServeOptions,
    tls: TlsConfig,
    shutdown: F,
) where
    F: Future<Output = ()> + Send,
{
    let options = Arc::new(options);
    super::accept::serve_each(listener, shutdown, |sock, peer, stop| {
        connection(
            sock,
            peer,
            app.clone(),
            options.clone(),
            tls.server.clone(),
            stop,
        )
    })
    .await;
}

/// Requests of one connection: how many are open (their answers' bodies
/// alive) and how many were ever started, for the idle deadline.
#[derive(Default)]
struct Activity {
    open: AtomicUsize,
    started: AtomicU64,
}

/// Holds a request's place in [`Activity::open`] until its answer's body
/// is dropped (a stream's, when the stream ends).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn connection(
    sock: TcpStream,
    peer: SocketAddr,
    app: Router,
    options: Arc<ServeOptions>,
    server: Arc<rustls::ServerConfig>,
    stop: CancellationToken,
) {
    let _ = sock.set_nodelay(true);
    let sock = StallGuard::new(sock, options.write_stall);
    // Boxed: the handshake's state is large and gone once it is done.
    let handshake = Box::pin(tokio::time::timeout(
        options.header_timeout,
        TlsStream::accept(sock, server),
    ));
    let tls = tokio::select! {
        tls = handshake => tls,
        () = stop.cancelled() => return,
    };
    let Ok(Ok(tls)) = tls else {
        // Not TLS, a failed handshake, or one too slow: nothing to answer.
        return;
    };
    if tls.alpn_protocol() == Some(b"h2") {
        Box::pin(http2(tls, peer, app, options, stop)).await;
    } else {
        super::http1::serve(tls, peer, app, options, stop).await;
    }
}

/// Serves HTTP/2 on a TLS connection with hyper until it ends.
async fn http2(
    tls: TlsStream<StallGuard<TcpStream>>,
    peer: SocketAddr,
    app: Router,
    options: Arc<ServeOptions>,
    stop: CancellationToken,
) {
    let activity = Arc::new(Activity::default());
    let deadline = options.header_timeout;
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |req: http::Request<Incoming>| {
            activity.open.fetch_add(1, Ordering::Relaxed);
            activity.started.fetch_add(1, Ordering::Relaxed);
            let in_flight = InFlight(activity.clone());
            let app = app.clone();
            async move {
                let mut req = req.map(Body::new);
                req.extensions_mut().insert(ConnectInfo(peer));
                let res = match tokio::time::timeout(deadline, app.oneshot(req)).await {
                    Ok(Ok(res)) => res,
                    Ok(Err(never)) => match never {},
                    Err(_) => timed_out(),
                };
                // The request stays open until its body is gone.
                Ok::<_, std::convert::Infallible>(res.map(move |body| {
                    Body::new(body.map_frame(move |f| {
                        let _ = &in_flight;
                        f
                    }))
                }))
            }
        })
    };
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_H2_STREAMS)
        .max_header_list_size(options.max_head_bytes as u32)
        // A peer that vanished without a FIN is found by its missing pong.
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    let conn = builder.serve_connection(TokioIo::new(tls), service);
    tokio::pin!(conn);
    let mut idle_check = tokio::time::interval(deadline);
    idle_check.tick().await;
    let mut seen = 0;
    let mut closing = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = idle_check.tick() => {
                let started = activity.started.load(Ordering::Relaxed);
                let idle = activity.open.load(Ordering::Relaxed) == 0 && started == seen;
                seen = started;
                if idle {
                    if closing {
                        // It was asked to go a period ago and has not.
                        return;
                    }
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
            () = stop.cancelled(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// 408 with the API's JSON error body, as the HTTP/1 front answers it.
fn timed_out() -> axum::response::Response {
    let late = Refusal::TIMEOUT;
    let mut res = axum::response::Response::new(Body::from(error_json(late.code, late.message)));
    *res.status_mut() = late.status;
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    res
}
