//! Reading the first request head of a connection, to decide who serves it.
//!
//! Only one shape of request takes the lean stream path: a plain HTTP/1.x
//! `GET` of a stream path, without a body, an upgrade or an `Expect`.
//! Everything else, including anything this reader cannot parse, goes to
//! hyper together with the bytes already read, so hyper's answers (400, 431,
//! HTTP/2, pipelining) are unchanged. The buffer starts small and is dropped
//! once the head is parsed; it is the only per-connection buffer the stream
//! path ever allocates for reading.

use bytes::{Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue};
use http::{Method, Request, Uri, Version};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::ServeOptions;

/// Headers a stream request may carry before it is handed to hyper instead
/// (hyper allows 100; browsers send about 15).
const MAX_HEADERS: usize = 64;

/// What the first bytes of a connection turned out to be.
#[derive(Debug)]
pub(super) enum Head {
    /// A plain `GET` of a stream path; `rest` is whatever followed the head.
    Stream {
        request: Box<Request<()>>,
        keep_alive: bool,
        rest: Bytes,
    },
    /// Anything else: hyper serves the connection, starting with these bytes.
    Other(Bytes),
    /// The peer closed, failed or timed out before a whole head arrived.
    Gone,
}

/// Reads until the first head is complete (or clearly not a stream request).
pub(super) async fn read_head(sock: &mut TcpStream, opts: &ServeOptions) -> Head {
    let mut buf = BytesMut::with_capacity(1024);
    let read = async {
        loop {
            match classify(&buf, opts) {
                Class::Partial if buf.len() < opts.max_head_bytes => {}
                Class::Partial | Class::Other => return Head::Other(buf.split().freeze()),
                Class::Stream {
                    request,
                    keep_alive,
                    len,
                } => {
                    return Head::Stream {
                        request,
                        keep_alive,
                        rest: Bytes::copy_from_slice(&buf[len..]),
                    }
                }
            }
            match sock.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return Head::Gone,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(opts.header_timeout, read)
        .await
        .unwrap_or(Head::Gone)
}

#[derive(Debug)]
enum Class {
    Partial,
    Other,
    Stream {
        request: Box<Request<()>>,
        keep_alive: bool,
        len: usize,
    },
}

/// Decides from the bytes so far; never waits for a whole head that is
/// already known not to be a stream request.
fn classify(buf: &[u8], opts: &ServeOptions) -> Class {
    if buf.is_empty() {
        return Class::Partial;
    }
    if let Some(early) = request_line_says_other(buf, opts) {
        return early;
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Class::Partial,
        Err(_) => return Class::Other,
    };
    let (Some("GET"), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Class::Other;
    };
    let version = if minor == 1 {
        Version::HTTP_11
    } else {
        Version::HTTP_10
    };
    let Ok(uri) = Uri::try_from(target) else {
        return Class::Other;
    };
    let mut builder = Request::builder()
        .method(Method::GET)
        .uri(uri)
        .version(version);
    // HTTP/1.1 keeps the connection unless told otherwise; 1.0 the reverse.
    let mut keep_alive = version == Version::HTTP_11;
    for h in req.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            if h.value.iter().any(|&b| b != b'0') || h.value.is_empty() {
                return Class::Other;
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            || name.eq_ignore_ascii_case("upgrade")
            || name.eq_ignore_ascii_case("expect")
        {
            return Class::Other;
        } else if name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        }
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(h.value),
        ) else {
            return Class::Other;
        };
        builder = builder.header(name, value);
    }
    match builder.body(()) {
        Ok(request) => Class::Stream {
            request: Box::new(request),
            keep_alive,
            len,
        },
        Err(_) => Class::Other,
    }
}

/// `Some(Other)` as soon as the method or the path rule the stream path out.
fn request_line_says_other(buf: &[u8], opts: &ServeOptions) -> Option<Class> {
    const GET: &[u8] = b"GET ";
    let n = buf.len().min(GET.len());
    if buf[..n] != GET[..n] {
        return Some(Class::Other);
    }
    let target = &buf[n..];
    let end = target
        .iter()
        .position(|&b| b == b' ' || b == b'?' || b == b'\r' || b == b'\n')?;
    let path = &target[..end];
    (!opts.stream_paths.iter().any(|p| p.as_bytes() == path)).then_some(Class::Other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(raw: &str) -> Class {
        classify(raw.as_bytes(), &ServeOptions::default())
    }

    #[test]
    fn a_plain_stream_get_takes_the_lean_path() {
        let Class::Stream {
            request,
            keep_alive,
            len,
        } = class("GET /api/sse/stream?token=t HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 1-2\r\n\r\nX")
        else {
            panic!("not a stream request");
        };
        assert!(keep_alive);
        assert_eq!(
            len,
            "GET /api/sse/stream?token=t HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 1-2\r\n\r\n".len()
        );
        assert_eq!(request.uri().query(), Some("token=t"));
        assert_eq!(request.headers()["last-event-id"], "1-2");
        let Class::Stream { keep_alive, .. } = class("GET /api/sse/stream HTTP/1.0\r\n\r\n") else {
            panic!("HTTP/1.0 stream request refused");
        };
        assert!(!keep_alive);
    }

    #[test]
    fn everything_else_goes_to_hyper() {
        for raw in [
            "POST /api/sse/stream HTTP/1.1\r\n",
            "GET /api/health HTTP/1.1\r\n",
            "GET /api/sse/streams HTTP/1.1\r\n",
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            "GET /api/sse/stream HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
            "GET /api/sse/stream HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /api/sse/stream HTTP/1.1\r\nUpgrade: h2c\r\n\r\n",
            "GET /api/sse/stream HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
            "GET /api/sse/stream HTTP/1.1\r\nBad Header: x\r\n\r\n",
            "GET /api/sse/stream HTTP/1.1\r\nX: a\0b\r\n\r\n",
        ] {
            assert!(matches!(class(raw), Class::Other), "{raw:?}");
        }
    }

    #[test]
    fn waits_only_while_it_could_still_be_a_stream_request() {
        for raw in [
            "G",
            "GET /api/s",
            "GET /api/sse/stream HTTP/1.1\r\nHost: x\r\n",
        ] {
            assert!(matches!(class(raw), Class::Partial), "{raw:?}");
        }
        assert!(matches!(class("GET /x"), Class::Partial));
        assert!(matches!(class("GET /x "), Class::Other));
        let many: String = (0..MAX_HEADERS + 1)
            .map(|i| format!("h{i}: v\r\n"))
            .collect();
        let raw = format!("GET /api/sse/stream HTTP/1.1\r\n{many}\r\n");
        assert!(matches!(class(&raw), Class::Other));
    }
}
