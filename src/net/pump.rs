//! The lean stream path: one task per SSE connection that writes frames
//! straight from the hub's queue to the socket.
//!
//! hyper keeps an 8 KiB read buffer and an 8 KiB header buffer for the whole
//! life of every HTTP/1 connection; for a stream that sits idle for hours,
//! those 16 KiB are most of its cost. Here the request was parsed from a
//! buffer that is already gone, the response head is written once, and from
//! then on a connection owns nothing but its socket, its body and a few
//! words of state. Frames that are already queued go out together in one
//! vectored write; nothing is copied.
//!
//! Only responses the router marks `text/event-stream` are streamed here;
//! [`super::response`] writes every other answer and picks this path; both
//! take their bytes of framing from [`super::encode`].

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, HttpBody};
use bytes::Bytes;
use http::{StatusCode, Version};
use tokio::io::AsyncWriteExt;

use super::encode::{chunk_size_line, encode_head, Framing, Persist};
use super::wire::Wire;

/// What to do with the socket once a response is out.
pub(super) enum After<S> {
    /// Nothing more: the socket is closed.
    Close,
    /// Read the next request on it.
    KeepAlive(S),
    /// Stream the body: the head is written, the pump does the rest.
    Stream(Pump<S>),
}

/// Frames (or bytes) gathered into one write when a queue has a backlog.
const MAX_BATCH_FRAMES: usize = 64;
const MAX_BATCH_BYTES: usize = 64 * 1024;

/// Writes the head of an event-stream response and hands the connection
/// to a [`Pump`]. HTTP/1.1 frames the body in chunks; an HTTP/1.0 body
/// ends at the close.
pub(super) async fn start<S: Wire>(
    mut sock: S,
    headers: &http::HeaderMap,
    body: Body,
    version: Version,
) -> After<S> {
    let chunked = version == Version::HTTP_11;
    let (framing, conn) = if chunked {
        (Framing::Chunked, Persist::Default)
    } else {
        (Framing::UntilClose, Persist::UntilClose)
    };
    let head = encode_head(StatusCode::OK, headers, framing, conn);
    if sock.write_all(&head).await.is_err() || sock.flush().await.is_err() {
        return After::Close;
    }
    After::Stream(Pump {
        sock,
        body,
        chunked,
        out: None,
    })
}

/// The long-lived part of a stream connection: a hand-written future, so
/// that an idle stream costs only these few words (an `async fn` would
/// also carry the largest state of every step it might take).
///
/// It writes every frame of the body until the body ends, the peer leaves
/// (or sends anything), a write stalls past the socket's limit, or the hub
/// cuts the stream. Frames already waiting go out together in one
/// vectored write, as one chunk.
pub(super) struct Pump<S> {
    sock: S,
    body: Body,
    chunked: bool,
    /// Bytes on their way out.
    out: Option<Out>,
}

impl<S: Wire> Future for Pump<S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        // Set once the body has said Pending in this poll: its waker is
        // registered, so asking again before the next wake-up is wasted.
        let mut body_waiting = false;
        loop {
            if let Some(out) = &mut this.out {
                // A write stalled past the limit fails here too: the
                // peer stopped reading and is dropped.
                match out.poll_write(&mut this.sock, this.chunked, cx) {
                    Poll::Ready(Ok(())) => {
                        let last = out.last;
                        this.out = None;
                        if last {
                            return Poll::Ready(());
                        }
                    }
                    Poll::Ready(Err(_)) => return Poll::Ready(()),
                    Poll::Pending => return Poll::Pending,
                }
            }
            if !body_waiting {
                match this.next_batch(cx) {
                    Poll::Ready(Some((out, waiting))) => {
                        this.out = Some(out);
                        body_waiting = waiting;
                        continue;
                    }
                    Poll::Ready(None) => return Poll::Ready(()),
                    Poll::Pending => {}
                }
            }
            // The peer closed its side, failed, or sent bytes: a client
            // has nothing to say on a stream, and a request pipelined
            // behind an endless response could never be answered.
            return this.sock.poll_hangup(cx);
        }
    }
}

impl<S> Pump<S> {
    /// The next frames to write: everything the body has ready, within the
    /// batch bounds, and whether the body then said Pending. `Ready(None)`:
    /// stop now (the body ended with nothing left to write, or the hub cut
    /// the stream).
    fn next_batch(&mut self, cx: &mut Context<'_>) -> Poll<Option<(Out, bool)>> {
        let mut batch: Option<Batch> = None;
        let mut bytes = 0;
        let mut frames = 0;
        let mut last = false;
        let mut waiting = false;
        while frames < MAX_BATCH_FRAMES && bytes < MAX_BATCH_BYTES {
            match Pin::new(&mut self.body).poll_frame(cx) {
                Poll::Pending => {
                    waiting = true;
                    break;
                }
                Poll::Ready(Some(Err(_))) => return Poll::Ready(None),
                Poll::Ready(None) => {
                    last = true;
                    break;
                }
                Poll::Ready(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    if data.is_empty() {
                        continue;
                    }
                    bytes += data.len();
                    frames += 1;
                    match &mut batch {
                        None => batch = Some(Batch::One(data)),
                        Some(b) => b.push(data),
                    }
                }
            }
        }
        match (batch, last) {
            (None, false) => Poll::Pending,
            // The end of an HTTP/1.0 body is the close itself.
            (None, true) if !self.chunked => Poll::Ready(None),
            (batch, last) => Poll::Ready(Some((
                Out {
                    batch,
                    bytes,
                    written: 0,
                    last,
                },
                waiting,
            ))),
        }
    }
}

/// One frame (the common case, no allocation) or several.
enum Batch {
    One(Bytes),
    Many(Vec<Bytes>),
}

impl Batch {
    fn push(&mut self, b: Bytes) {
        match self {
            Batch::One(first) => {
                let first = std::mem::take(first);
                *self = Batch::Many(vec![first, b]);
            }
            Batch::Many(v) => v.push(b),
        }
    }

    fn frames(&self) -> &[Bytes] {
        match self {
            Batch::One(b) => std::slice::from_ref(b),
            Batch::Many(v) => v,
        }
    }
}

/// A batch being written: in chunked mode the whole batch is one chunk,
/// and the last batch carries the terminating chunk too.
struct Out {
    batch: Option<Batch>,
    bytes: usize,
    written: usize,
    last: bool,
}

impl Out {
    /// Writes as much as the socket takes.
    fn poll_write<S: Wire>(
        &mut self,
        sock: &mut S,
        chunked: bool,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        let mut size = [0u8; 20];
        let size = if chunked && self.bytes > 0 {
            let n = chunk_size_line(self.bytes, &mut size);
            &size[..n]
        } else {
            &size[..0]
        };
        let trailer: &[u8] = match (chunked, self.bytes > 0, self.last) {
            (false, _, _) => b"",
            (true, true, false) => b"\r\n",
            (true, true, true) => b"\r\n0\r\n\r\n",
            (true, false, _) => b"0\r\n\r\n",
        };
        let frames = self.batch.as_ref().map_or(&[][..], Batch::frames);
        let mut storage = [IoSlice::new(&[]); 3];
        let mut many = Vec::new();
        let slices: &mut [IoSlice<'_>] = if frames.len() <= 1 {
            storage[0] = IoSlice::new(size);
            if let Some(f) = frames.first() {
                storage[1] = IoSlice::new(f);
            }
            storage[2] = IoSlice::new(trailer);
            &mut storage
        } else {
            many.reserve_exact(frames.len() + 2);
            many.push(IoSlice::new(size));
            many.extend(frames.iter().map(|f| IoSlice::new(f)));
            many.push(IoSlice::new(trailer));
            &mut many
        };
        let total: usize = slices.iter().map(|s| s.len()).sum();
        let mut slices = slices;
        IoSlice::advance_slices(&mut slices, self.written);
        while self.written < total {
            match Pin::new(&mut *sock).poll_write_vectored(cx, slices) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.written += n;
                    IoSlice::advance_slices(&mut slices, n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        // A buffered writer (TLS) sends its records now; a socket is done.
        Pin::new(sock).poll_flush(cx)
    }
}
