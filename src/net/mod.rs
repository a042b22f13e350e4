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
mod http1;
mod options;
mod prefixed;
mod pump;
mod response;
mod stall;
pub mod tls;
mod wire;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

pub use self::options::ServeOptions;
pub use self::prefixed::Prefixed;
pub use self::stall::{StallGuard, StallGuardListener};
pub use self::tls::{serve_tls, TlsConfig, TlsError};

/// Serves `app` on `listener` until `shutdown` resolves, then stops
/// accepting and returns once every connection has finished.
///
/// Open streams finish when their body ends: resolve `shutdown` after (or
/// while) calling [`crate::Hub::shutdown`], which ends every stream with a
/// final frame. Other connections finish their request in flight.
/// Handlers can extract [`axum::extract::ConnectInfo<SocketAddr>`].
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
    http1::serve(sock, peer, app, options, stop)
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
