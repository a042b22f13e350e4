//! Reading requests off a connection, to decide who serves them.
//!
//! Plain HTTP/1.x requests are read here whole: the head, and a body of up
//! to [`MAX_BODY_BYTES`] (64 KiB) announced by `Content-Length`. That is every
//! request a browser makes of the hub, so an `EventSource` that a browser
//! opens on a pooled connection (after the page, its assets and a token
//! request) still gets the lean stream writer. Anything else (chunked or
//! larger bodies, upgrades, `Expect`, HTTP/2, heads this reader cannot
//! parse) goes to hyper together with the bytes already read, so hyper's
//! answers (400, 413, 431, HTTP/2) are unchanged; hyper then serves the
//! rest of that connection. The buffer starts small and is dropped once a
//! request is read; it is the only buffer the stream path ever allocates
//! for reading.

use bytes::{Buf, Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue};
use http::{Method, Request, Uri, Version};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::ServeOptions;

/// Headers a request may carry before it is handed to hyper instead
/// (hyper allows 100; browsers send about 15).
const MAX_HEADERS: usize = 64;

/// The largest request body read here; larger ones go to hyper, which
/// streams them to the router (and its body limit). The hub's own API
/// takes at most 80 KiB, and a body is buffered only as its bytes arrive,
/// so a client that announces a body and sends nothing holds no memory.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// What came next on a connection.
#[derive(Debug)]
pub(super) enum Head {
    /// A whole request with its body; `rest` is whatever followed it.
    Request {
        request: Box<Request<Bytes>>,
        keep_alive: bool,
        rest: Bytes,
    },
    /// Anything else: hyper serves the connection, starting with these bytes.
    Other(Bytes),
    /// The peer closed, failed or timed out before a whole request arrived
    /// (or, between requests, sent nothing at all).
    Gone,
}

/// Reads the next request, starting with `carry` (bytes that followed the
/// previous one). The whole request must arrive within the header timeout.
pub(super) async fn read_request<S>(sock: &mut S, opts: &ServeOptions, carry: Bytes) -> Head
where
    S: AsyncRead + Unpin,
{
    let mut buf = if carry.is_empty() {
        BytesMut::with_capacity(1024)
    } else {
        BytesMut::from(&carry[..])
    };
    drop(carry);
    let read = async {
        let (request, keep_alive, body_len) = loop {
            match classify(&buf) {
                Class::Partial if buf.len() < opts.max_head_bytes => {}
                Class::Partial | Class::Other => return Head::Other(buf.split().freeze()),
                Class::Request {
                    request,
                    keep_alive,
                    head_len,
                    body_len,
                } => {
                    buf.advance(head_len);
                    break (request, keep_alive, body_len);
                }
            }
            match sock.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return Head::Gone,
                Ok(_) => {}
            }
        };
        while buf.len() < body_len {
            // Room for what is still missing, up to 16 KiB at a time.
            buf.reserve((body_len - buf.len()).min(16 * 1024));
            match sock.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return Head::Gone,
                Ok(_) => {}
            }
        }
        let body = buf.split_to(body_len).freeze();
        Head::Request {
            request: Box::new((*request).map(|()| body)),
            keep_alive,
            // Usually empty; a pipelined request is copied out so the
            // read buffer goes now.
            rest: Bytes::copy_from_slice(&buf),
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
    Request {
        request: Box<Request<()>>,
        keep_alive: bool,
        head_len: usize,
        body_len: usize,
    },
}

/// Decides from the bytes so far.
fn classify(buf: &[u8]) -> Class {
    if buf.is_empty() {
        return Class::Partial;
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Class::Partial,
        Err(_) => return Class::Other,
    };
    let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Class::Other;
    };
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return Class::Other;
    };
    if method == Method::CONNECT {
        return Class::Other;
    }
    let version = if minor == 1 {
        Version::HTTP_11
    } else {
        Version::HTTP_10
    };
    let Ok(uri) = Uri::try_from(target) else {
        return Class::Other;
    };
    let mut builder = Request::builder().method(method).uri(uri).version(version);
    // HTTP/1.1 keeps the connection unless told otherwise; 1.0 the reverse.
    let mut keep_alive = version == Version::HTTP_11;
    let mut body_len = None;
    for h in req.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            // One plain decimal length, small enough to read here.
            let len = std::str::from_utf8(h.value)
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<usize>().ok());
            match (len, body_len) {
                (Some(len), None) if len <= MAX_BODY_BYTES => body_len = Some(len),
                _ => return Class::Other,
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
        Ok(request) => Class::Request {
            request: Box::new(request),
            keep_alive,
            head_len,
            body_len: body_len.unwrap_or(0),
        },
        Err(_) => Class::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http1_requests_are_read_here() {
        let raw = "GET /api/sse/stream?token=t HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 1-2\r\n\r\nX";
        let Class::Request {
            request,
            keep_alive,
            head_len,
            body_len,
        } = classify(raw.as_bytes())
        else {
            panic!("not read here");
        };
        assert!(keep_alive);
        assert_eq!(head_len, raw.len() - 1);
        assert_eq!(body_len, 0);
        assert_eq!(request.uri().query(), Some("token=t"));
        assert_eq!(request.headers()["last-event-id"], "1-2");
        let Class::Request { keep_alive, .. } = classify(b"GET /api/sse/stream HTTP/1.0\r\n\r\n")
        else {
            panic!("HTTP/1.0 refused");
        };
        assert!(!keep_alive);
        let Class::Request {
            request,
            keep_alive,
            body_len,
            ..
        } = classify(
            b"POST /api/publish HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhel",
        )
        else {
            panic!("a POST with a length refused");
        };
        assert_eq!(request.method(), Method::POST);
        assert!(keep_alive);
        assert_eq!(body_len, 5);
    }

    #[test]
    fn everything_else_goes_to_hyper() {
        let too_big = format!(
            "POST /x HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY_BYTES + 1
        );
        for raw in [
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            "CONNECT x:443 HTTP/1.1\r\n\r\n",
            too_big.as_str(),
            "POST /x HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
            "POST /x HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
            "POST /x HTTP/1.1\r\nContent-Length: \r\n\r\n",
            "GET /api/sse/stream HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /api/sse/stream HTTP/1.1\r\nUpgrade: h2c\r\n\r\n",
            "POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
            "GET /api/sse/stream HTTP/1.1\r\nBad Header: x\r\n\r\n",
            "GET /api/sse/stream HTTP/1.1\r\nX: a\0b\r\n\r\n",
        ] {
            assert!(matches!(classify(raw.as_bytes()), Class::Other), "{raw:?}");
        }
        let many: String = (0..MAX_HEADERS + 1)
            .map(|i| format!("h{i}: v\r\n"))
            .collect();
        let raw = format!("GET /api/sse/stream HTTP/1.1\r\n{many}\r\n");
        assert!(matches!(classify(raw.as_bytes()), Class::Other));
    }

    #[test]
    fn waits_for_a_whole_head() {
        for raw in ["G", "GET /api/s", "POST /x HTTP/1.1\r\nHost: x\r\n"] {
            assert!(
                matches!(classify(raw.as_bytes()), Class::Partial),
                "{raw:?}"
            );
        }
    }

    #[tokio::test]
    async fn reads_the_body_and_keeps_what_follows() {
        let opts = ServeOptions::default();
        let (mut client, mut server) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            client
                .write_all(b"Content-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\n")
                .await
                .unwrap();
            client
        });
        let carry = Bytes::from_static(b"POST /a HTTP/1.1\r\n");
        let Head::Request { request, rest, .. } = read_request(&mut server, &opts, carry).await
        else {
            panic!("no request");
        };
        assert_eq!(request.uri().path(), "/a");
        assert_eq!(request.body().as_ref(), b"hello");
        assert_eq!(rest.as_ref(), b"GET /next HTTP/1.1\r\n");
        drop(writer.await.unwrap());
        // A peer that closes before its body is whole is gone.
        let (mut client, mut server) = tokio::io::duplex(64);
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            client
                .write_all(b"POST /a HTTP/1.1\r\nContent-Length: 9\r\n\r\nhel")
                .await
                .unwrap();
        });
        assert!(matches!(
            read_request(&mut server, &opts, Bytes::new()).await,
            Head::Gone
        ));
    }
}
