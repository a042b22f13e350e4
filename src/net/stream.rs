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
//! Only responses the router marks `text/event-stream` are streamed here.
//! Refusals (401, 429, ...) are written whole with a `Content-Length`, and a
//! keep-alive connection then goes to hyper for its next request.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::SystemTime;

use axum::body::{Body, HttpBody};
use axum::response::Response;
use bytes::Bytes;
use http::{header, StatusCode, Version};
use http_body_util::BodyExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::StallGuard;

/// A client socket whose writes fail once they stall past the limit.
pub(super) type Socket = StallGuard<TcpStream>;

/// Frames (or bytes) gathered into one write when a queue has a backlog.
const MAX_BATCH_FRAMES: usize = 64;
const MAX_BATCH_BYTES: usize = 64 * 1024;
/// The largest refusal body written on the stream path.
const MAX_REFUSAL_BYTES: usize = 64 * 1024;

/// What to do with the socket once the response head is out.
pub(super) enum After {
    /// Nothing more: the socket is closed.
    Close,
    /// Serve the next request on it.
    KeepAlive(Socket),
    /// Stream the body: the head is written, the pump does the rest.
    Stream(Pump),
}

/// Writes the head of `res` (and, for a refusal, its body) for a request
/// of `version`.
pub(super) async fn respond(
    mut sock: Socket,
    res: Response,
    version: Version,
    keep_alive: bool,
) -> After {
    let is_stream = res.status() == StatusCode::OK
        && res
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if !is_stream {
        return refusal(sock, res, keep_alive).await;
    }
    // HTTP/1.1 frames the body in chunks; an HTTP/1.0 body ends at close.
    let chunked = version == Version::HTTP_11;
    let (parts, body) = res.into_parts();
    let framing = if chunked {
        Framing::Chunked
    } else {
        Framing::UntilClose
    };
    let head = encode_head(parts.status, &parts.headers, framing);
    if sock.write_all(&head).await.is_err() {
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
pub(super) struct Pump {
    sock: Socket,
    body: Body,
    chunked: bool,
    /// Bytes on their way out.
    out: Option<Out>,
}

impl Future for Pump {
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
                    Poll::Pending => body_waiting = true,
                }
            }
            match this.sock.get_ref().poll_read_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Ready(Ok(())) => {
                    // The peer closed its side, failed, or sent bytes: a
                    // client has nothing to say on a stream, and a request
                    // pipelined behind an endless response could never be
                    // answered.
                    let mut probe = [0u8; 1];
                    match this.sock.get_ref().try_read(&mut probe) {
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                        _ => return Poll::Ready(()),
                    }
                }
            }
        }
    }
}

impl Pump {
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
    fn poll_write(
        &mut self,
        sock: &mut Socket,
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
        Poll::Ready(Ok(()))
    }
}

/// Writes `len` as a chunk-size line (`1a2\r\n`) into `out`.
fn chunk_size_line(len: usize, out: &mut [u8; 20]) -> usize {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let mut n = 0;
    let mut v = len;
    loop {
        digits[n] = HEX[v & 0xf];
        n += 1;
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    for (i, d) in digits[..n].iter().rev().enumerate() {
        out[i] = *d;
    }
    out[n] = b'\r';
    out[n + 1] = b'\n';
    n + 2
}

/// Writes a small response whole; the connection stays open for the next
/// request when the client asked for that.
async fn refusal(mut sock: Socket, res: Response, keep_alive: bool) -> After {
    let (parts, body) = res.into_parts();
    let body = match http_body_util::Limited::new(body, MAX_REFUSAL_BYTES)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => return After::Close,
    };
    let framing = Framing::Length {
        len: body.len(),
        close: !keep_alive,
    };
    let mut response = encode_head(parts.status, &parts.headers, framing);
    response.extend_from_slice(&body);
    if sock.write_all(&response).await.is_err() || !keep_alive {
        return After::Close;
    }
    After::KeepAlive(sock)
}

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy)]
enum Framing {
    Chunked,
    UntilClose,
    Length { len: usize, close: bool },
}

/// The status line and headers. The router's own framing headers are
/// replaced: this writer decides how the body is delimited.
fn encode_head(status: StatusCode, headers: &http::HeaderMap, framing: Framing) -> Vec<u8> {
    let mut h = Vec::with_capacity(320);
    h.extend_from_slice(b"HTTP/1.1 ");
    h.extend_from_slice(status.as_str().as_bytes());
    h.push(b' ');
    h.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    h.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        if matches!(
            name.as_str(),
            "connection" | "keep-alive" | "transfer-encoding" | "content-length"
        ) {
            continue;
        }
        h.extend_from_slice(name.as_str().as_bytes());
        h.extend_from_slice(b": ");
        h.extend_from_slice(value.as_bytes());
        h.extend_from_slice(b"\r\n");
    }
    h.extend_from_slice(b"date: ");
    h.extend_from_slice(httpdate::fmt_http_date(SystemTime::now()).as_bytes());
    h.extend_from_slice(b"\r\n");
    match framing {
        Framing::Chunked => h.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        Framing::UntilClose => h.extend_from_slice(b"connection: close\r\n"),
        Framing::Length { len, close } => {
            h.extend_from_slice(format!("content-length: {len}\r\n").as_bytes());
            if close {
                h.extend_from_slice(b"connection: close\r\n");
            }
        }
    }
    h.extend_from_slice(b"\r\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_size_lines_are_lowercase_hex() {
        for (len, want) in [
            (0, "0\r\n"),
            (1, "1\r\n"),
            (255, "ff\r\n"),
            (4096, "1000\r\n"),
            (usize::MAX, "ffffffffffffffff\r\n"),
        ] {
            let mut out = [0u8; 20];
            let n = chunk_size_line(len, &mut out);
            assert_eq!(std::str::from_utf8(&out[..n]).unwrap(), want);
        }
    }

    #[test]
    fn the_head_replaces_the_routers_framing_headers() {
        let mut headers = http::HeaderMap::new();
        headers.insert("content-type", "text/event-stream".parse().unwrap());
        headers.insert("connection", "keep-alive".parse().unwrap());
        headers.insert("content-length", "12".parse().unwrap());
        let head = encode_head(StatusCode::OK, &headers, Framing::Chunked);
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("content-type: text/event-stream\r\n"));
        assert!(head.contains("transfer-encoding: chunked\r\n"));
        assert!(!head.contains("keep-alive"));
        assert!(!head.contains("content-length"));
        assert!(head.ends_with("\r\n\r\n"));
        let head = encode_head(
            StatusCode::UNAUTHORIZED,
            &http::HeaderMap::new(),
            Framing::Length {
                len: 7,
                close: true,
            },
        );
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 401 Unauthorized\r\n"));
        assert!(head.contains("content-length: 7\r\nconnection: close\r\n"));
    }
}
