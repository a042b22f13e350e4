//! The byte stream of one connection, and the guard that unregisters the
//! connection when the stream is dropped (the client went away, or the
//! server ended the response).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;

use super::connection::{Connection, Frame};
use super::core::Hub;
use super::queue::Next;
use crate::event::ConnectionId;

pub(super) struct ConnectionGuard {
    pub(super) hub: Hub,
    pub(super) conn: Arc<Connection>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.conn.queue.close();
        self.hub.unregister(&self.conn);
    }
}

/// The bytes of one SSE stream. Dropping it (the client went away)
/// unregisters the connection.
pub struct EventStream {
    /// `connected` and the replay, written before live frames.
    pub(super) first: VecDeque<Bytes>,
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
            if this.first.is_empty() {
                // Let go of the replay's buffer for the rest of the stream.
                this.first = VecDeque::new();
            }
            return Poll::Ready(Some(Ok(b)));
        }
        match this.guard.conn.queue.poll_next(cx) {
            Poll::Ready(Next::Cut) => {
                this.done = true;
                Poll::Ready(Some(Err(Cut)))
            }
            Poll::Ready(Next::Frame(Frame::Data(b))) => Poll::Ready(Some(Ok(b))),
            Poll::Ready(Next::Frame(Frame::Close(b))) => {
                this.done = true;
                Poll::Ready(Some(Ok(b)))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
