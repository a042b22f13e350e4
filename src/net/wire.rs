//! What the HTTP/1 front ([`super::head`], [`super::response`],
//! [`super::pump`]) needs of a connection, so that it serves plain TCP and
//! TLS alike.

use std::io;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::stall::StallGuard;

/// A client connection: bytes both ways, and ways to wait for the client
/// without a read buffer.
pub(super) trait Wire: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Ready once a read would not wait (bytes, the end, or an error are
    /// there), without reading: so that waiting for a request to begin
    /// costs no buffer and no read.
    fn poll_readable(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Ready once the peer has closed, failed or sent anything. The client
    /// of a stream has nothing to say, so any of these ends the stream;
    /// Pending costs no buffer while it waits.
    fn poll_hangup(&mut self, cx: &mut Context<'_>) -> Poll<()>;
}

impl Wire for StallGuard<TcpStream> {
    fn poll_readable(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_ref().poll_read_ready(cx)
    }

    fn poll_hangup(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            match self.get_ref().poll_read_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Ready(Ok(())) => {
                    let mut probe = [0u8; 1];
                    match self.get_ref().try_read(&mut probe) {
                        // Readiness that was not: wait again.
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                        _ => return Poll::Ready(()),
                    }
                }
            }
        }
    }
}
