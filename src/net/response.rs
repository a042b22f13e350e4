//! Writing the router's answer to a request read by [`super::head`], on
//! the socket (the bytes of heads and chunks come from [`super::encode`]).
//!
//! A `text/event-stream` answer becomes a [`Pump`]: the connection is a
//! stream from then on. Every other answer is written whole, delimited the
//! way HTTP/1.1 wants it (`Content-Length` when the body's size is known,
//! chunks when it is not, the close for an HTTP/1.0 client), and the
//! connection goes back to reading the next request. Small bodies go out
//! with their head in one write.

use std::io::{self, IoSlice};

use axum::body::{Body, HttpBody};
use axum::response::Response;
use bytes::Bytes;
use http::{header, HeaderMap, StatusCode, Version};
use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;

use super::encode::{chunk_size_line, encode_head, Framing, Persist};
use super::pump::{self, After};
use super::wire::Wire;

/// Bodies of known size up to this are written together with their head.
const SMALL_BODY_BYTES: usize = 64 * 1024;

/// What the request asked for, as far as writing its answer goes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Asked {
    /// A `HEAD` request: the head of the answer only.
    pub head: bool,
    pub version: Version,
    /// The client wants the connection kept (and the server agrees).
    pub keep_alive: bool,
}

/// What the answer to `asked` says about the connection.
fn persist(asked: Asked) -> Persist {
    match (asked.keep_alive, asked.version) {
        (false, _) => Persist::UntilClose,
        (true, Version::HTTP_11) => Persist::Default,
        (true, _) => Persist::KeepAlive,
    }
}

/// Writes `res` for a request that asked `asked`.
pub(super) async fn respond<S: Wire>(mut sock: S, res: Response, asked: Asked) -> After<S> {
    let status = res.status();
    let is_stream = status == StatusCode::OK
        && !asked.head
        && res
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let (parts, body) = res.into_parts();
    if is_stream {
        return pump::start(sock, &parts.headers, body, asked.version).await;
    }
    let conn = persist(asked);
    let bodiless = asked.head
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let written = if bodiless {
        // The router set the length a GET would have had; a 204 has none.
        let framing = Framing::None {
            keep_length: status != StatusCode::NO_CONTENT && !status.is_informational(),
        };
        sock.write_all(&encode_head(status, &parts.headers, framing, conn))
            .await
            .is_ok()
    } else {
        write_with_body(&mut sock, status, &parts.headers, body, asked, conn).await
    };
    // A buffered writer (TLS) sends its last records now.
    let written = written && sock.flush().await.is_ok();
    if written && asked.keep_alive {
        After::KeepAlive(sock)
    } else {
        After::Close
    }
}

/// The API's JSON error body.
pub(super) fn error_json(code: &str, message: &str) -> String {
    serde_json::json!({ "error": message, "code": code }).to_string()
}

/// How long a refused connection is drained before it is closed, so the
/// client reads the refusal instead of a reset.
const LINGER: std::time::Duration = std::time::Duration::from_secs(2);

/// Answers a request head this server does not take with `status` and a
/// JSON error, then closes the connection. The client may still be
/// sending (a huge head): what it sends is read and dropped for a moment
/// (at most [`LINGER`] and 256 KiB), so the kernel does not reset the
/// connection before the answer is read.
pub(super) async fn refuse<S: Wire>(mut sock: S, status: StatusCode, code: &str, message: &str) {
    let body = error_json(code, message);
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    let framing = Framing::Length(body.len() as u64);
    let mut out = encode_head(status, &headers, framing, Persist::UntilClose);
    out.extend_from_slice(body.as_bytes());
    if sock.write_all(&out).await.is_err() || sock.shutdown().await.is_err() {
        return;
    }
    let drain = async {
        let mut scratch = [0u8; 4096];
        let mut left = 256 * 1024usize;
        while left > 0 {
            // A client that has stopped sending is done with us too.
            let read = tokio::io::AsyncReadExt::read(&mut sock, &mut scratch);
            match tokio::time::timeout(LINGER / 8, read).await {
                Ok(Ok(n)) if n > 0 => left = left.saturating_sub(n),
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// Writes head and body; false if the connection can't be used again.
async fn write_with_body<S: Wire>(
    sock: &mut S,
    status: StatusCode,
    headers: &HeaderMap,
    body: Body,
    asked: Asked,
    conn: Persist,
) -> bool {
    // The body's own size, or the length the handler declared (a file
    // body streams without knowing its size; its `Content-Length` is
    // then held to).
    let exact = body.size_hint().exact().or_else(|| {
        headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
    });
    match exact {
        Some(len) if len <= SMALL_BODY_BYTES as u64 => {
            let Ok(collected) = http_body_util::Limited::new(body, SMALL_BODY_BYTES)
                .collect()
                .await
            else {
                return false;
            };
            let bytes = collected.to_bytes();
            let framing = Framing::Length(bytes.len() as u64);
            let mut out = encode_head(status, headers, framing, conn);
            out.extend_from_slice(&bytes);
            sock.write_all(&out).await.is_ok() && bytes.len() as u64 == len
        }
        Some(len) => {
            let head = encode_head(status, headers, Framing::Length(len), conn);
            if sock.write_all(&head).await.is_err() {
                return false;
            }
            let mut sent = 0u64;
            let ok = copy_body(
                body,
                |data| {
                    sent += data.len() as u64;
                    (sent <= len).then_some([data, Bytes::new(), Bytes::new()])
                },
                sock,
            )
            .await;
            ok && sent == len
        }
        None if asked.version == Version::HTTP_11 => {
            let head = encode_head(status, headers, Framing::Chunked, conn);
            if sock.write_all(&head).await.is_err() {
                return false;
            }
            let ok = copy_body(
                body,
                |data| {
                    let mut line = [0u8; 20];
                    let n = chunk_size_line(data.len(), &mut line);
                    Some([
                        Bytes::copy_from_slice(&line[..n]),
                        data,
                        Bytes::from_static(b"\r\n"),
                    ])
                },
                sock,
            )
            .await;
            ok && sock.write_all(b"0\r\n\r\n").await.is_ok()
        }
        None => {
            // An HTTP/1.0 client: the close ends the body.
            let head = encode_head(status, headers, Framing::UntilClose, Persist::UntilClose);
            if sock.write_all(&head).await.is_ok() {
                copy_body(body, |data| Some([data, Bytes::new(), Bytes::new()]), sock).await;
            }
            false
        }
    }
}

/// Writes every data frame of `body`, each as the pieces `frame` makes of
/// it (`None`: stop, the body broke its framing). False on any error.
async fn copy_body<S: Wire>(
    mut body: Body,
    mut frame: impl FnMut(Bytes) -> Option<[Bytes; 3]>,
    sock: &mut S,
) -> bool {
    while let Some(next) = body.frame().await {
        let Ok(next) = next else { return false };
        let Ok(data) = next.into_data() else {
            continue; // trailers are not sent over HTTP/1
        };
        if data.is_empty() {
            continue;
        }
        let Some(pieces) = frame(data) else {
            return false;
        };
        if write_pieces(sock, &pieces).await.is_err() {
            return false;
        }
    }
    true
}

/// Writes `pieces` in order, in as few (vectored) writes as the socket
/// allows: a chunk's size line, data and CRLF go out as one packet.
async fn write_pieces<S: Wire>(sock: &mut S, pieces: &[Bytes; 3]) -> io::Result<()> {
    let mut storage = [
        IoSlice::new(&pieces[0]),
        IoSlice::new(&pieces[1]),
        IoSlice::new(&pieces[2]),
    ];
    let mut slices = &mut storage[..];
    while !slices.is_empty() {
        match sock.write_vectored(slices).await? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => IoSlice::advance_slices(&mut slices, n),
        }
    }
    Ok(())
}
