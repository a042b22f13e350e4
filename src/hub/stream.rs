//! The byte stream of one connection, and the guard that unregisters the
//! connection when the stream is dropped (the client went away, or the
//! server ended the response).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc;
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::connection::{Connection, Frame};
use super::Hub;
use crate::event::ConnectionId;

pub(super) struct ConnectionGuard {
    pub(super) hub: Hub,
    pub(super) conn: Arc<Connection>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.hub.unregister(&self.conn);
    }
}

/// The bytes of one SSE stream. Dropping it (the client went away)
/// unregisters the connection.
pub struct EventStream {
    pub(super) first: VecDeque<Bytes>,
    pub(super) cancelled: Pin<Box<WaitForCancellationFutureOwned>>,
    pub(super) rx: mpsc::Receiver<Frame>,
    pub(super) done: bool,
    pub(super) guard: ConnectionGuard,
}

impl EventStream {
    /// The connection this stream belongs to.
    pub fn connection_id(&self) -> &ConnectionId {
        &self.guard.conn.id
    }
}

/// The hub cut the connection: its queue overflowed (a slow consumer), its
/// token expired with a full queue, or the hub shut down without room for
/// a final frame. The HTTP layer turns it into an aborted response, so the
/// socket is closed at once instead of lingering behind unread bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the hub cut this connection")]
pub struct Cut;

impl Stream for EventStream {
    type Item = Result<Bytes, Cut>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(b) = this.first.pop_front() {
            return Poll::Ready(Some(Ok(b)));
        }
        if this.cancelled.as_mut().poll(cx).is_ready() {
            this.done = true;
            return Poll::Ready(Some(Err(Cut)));
        }
        match this.rx.poll_recv(cx) {
            Poll::Ready(Some(Frame::Data(b))) => Poll::Ready(Some(Ok(b))),
            Poll::Ready(Some(Frame::Close(b))) => {
                this.done = true;
                Poll::Ready(Some(Ok(b)))
            }
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
