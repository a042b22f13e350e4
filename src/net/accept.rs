//! The accept loop both fronts share ([`super::serve`] and
//! [`super::serve_tls`]): a task per connection, tracked, so that shutting
//! down stops accepting at once and then waits for every connection.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Accepts on `listener` until `shutdown` resolves, running `connection`
/// for each socket as a task of its own; then cancels the token every
/// connection got (each decides what to finish) and waits for them all.
pub(super) async fn serve_each<F, C, Fut>(listener: TcpListener, shutdown: F, mut connection: C)
where
    F: Future<Output = ()> + Send,
    C: FnMut(TcpStream, SocketAddr, CancellationToken) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let stop = CancellationToken::new();
    let tracker = TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        let (sock, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    if !is_connection_error(&e) {
                        // Out of file descriptors, most likely: back off
                        // instead of spinning.
                        tracing::error!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        tracker.spawn(connection(sock, peer, stop.clone()));
    }
    drop(listener);
    stop.cancel();
    tracker.close();
    tracker.wait().await;
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
