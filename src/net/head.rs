//! Reading requests off a connection, to decide who serves them.
//!
//! Plain HTTP/1.x requests are read here whole: the head, and a body of up
//! to [`MAX_BODY_BYTES`] (64 KiB) announced by `Content-Length`. That is every
//! request a browser makes of the hub, so an `EventSource` that a browser
//! opens on a pooled connection (after the page, its assets and a token
//! request) still gets the lean stream writer. A well-formed head that asks
//! for more (a chunked or larger body, an upgrade, `Expect`, `CONNECT`) goes
//! to hyper together with the bytes already read, and hyper serves that one
//! request. What is not a well-formed HTTP/1.x head is refused here, with a
//! JSON body: 431 for a head over the size limit or with too many fields,
//! 505 for HTTP/2 without TLS (h2 is offered over TLS, by ALPN), 400 for
//! the rest, and 408 for a request that began but did not arrive whole in
//! time (a connection that said nothing is just closed).
//!
//! The end of a head is looked for only in the bytes that arrived since the
//! last look, and the head is parsed once it is whole: a client that drips
//! its head byte by byte costs the same per byte at 15 KiB as at 1 KiB. The
//! buffer starts small and is dropped once a request is read; it is the
//! only buffer the stream path ever allocates for reading.

use bytes::{Buf, Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue};
use http::{Method, Request, StatusCode, Uri, Version};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

use super::options::ServeOptions;

/// Header fields a request may carry (hyper allows 100; browsers send
/// about 15). More is refused with 431.
const MAX_HEADERS: usize = 64;

/// The largest request body read here; larger ones go to hyper, which
/// streams them to the router (and its body limit). The hub's own API
/// takes at most 80 KiB, and a body is buffered only as its bytes arrive,
/// so a client that announces a body and sends nothing holds no memory.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// What an HTTP/2 client sends first (RFC 9113, section 3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n";

/// What came next on a connection.
#[derive(Debug)]
pub(super) enum Head {
    /// A whole request with its body; `rest` is whatever followed it.
    Request {
        request: Box<Request<Bytes>>,
        keep_alive: bool,
        rest: Bytes,
    },
    /// A well-formed head that hyper serves (chunked or large body,
    /// upgrade, `Expect`), starting with these bytes.
    Other(Bytes),
    /// Not a request this server takes: answer `status` and close.
    Refused(Refusal),
    /// The peer closed, failed or timed out before a whole request arrived
    /// (or, between requests, sent nothing at all).
    Gone,
}

/// Why a head is refused, as the JSON error the client gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: &'static str,
}

impl Refusal {
    const TOO_LARGE: Refusal = Refusal {
        status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        code: "headers_too_large",
        message: "the request head is larger than this server accepts",
    };
    const TOO_MANY: Refusal = Refusal {
        status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        code: "too_many_headers",
        message: "the request has more header fields than this server accepts",
    };
    const HTTP2: Refusal = Refusal {
        status: StatusCode::HTTP_VERSION_NOT_SUPPORTED,
        code: "http_version_not_supported",
        message: "this port speaks HTTP/1.1; HTTP/2 is served over TLS (ALPN h2)",
    };
    /// Also what the HTTP/2 front answers a request that is late.
    pub(super) const TIMEOUT: Refusal = Refusal {
        status: StatusCode::REQUEST_TIMEOUT,
        code: "request_timeout",
        message: "the request did not arrive in time",
    };
    const MALFORMED: Refusal = Refusal {
        status: StatusCode::BAD_REQUEST,
        code: "bad_request",
        message: "malformed HTTP/1.1 request head",
    };
}

/// Reads the next request, starting with `carry` (bytes already read:
/// those that followed the previous request, or the first of this one).
/// The whole request must arrive by `deadline`.
pub(super) async fn read_request<S>(
    sock: &mut S,
    opts: &ServeOptions,
    carry: Bytes,
    deadline: Instant,
) -> Head
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
        // Bytes before `scanned` hold no end of a head: each byte is looked
        // at once, however slowly the head arrives.
        let mut scanned = 0;
        // Empty lines dropped before the request line; they count towards
        // the head's size limit.
        let mut skipped = 0;
        let (request, keep_alive, body_len) = loop {
            if buf.starts_with(H2_PREFACE) {
                return Head::Refused(Refusal::HTTP2);
            }
            match head_end(&buf, scanned) {
                Some(end) => match classify(&buf[..end]) {
                    // Only empty lines so far, which may precede a request
                    // line: drop them, so they are not parsed again.
                    Class::Partial if buf[..end].iter().all(|b| matches!(b, b'\r' | b'\n')) => {
                        buf.advance(end);
                        skipped += end;
                        scanned = 0;
                    }
                    Class::Partial => scanned = end,
                    Class::Refused(r) => return Head::Refused(r),
                    Class::Other => return Head::Other(buf.split().freeze()),
                    Class::Request {
                        request,
                        keep_alive,
                        body_len,
                    } => {
                        buf.advance(end);
                        break (request, keep_alive, body_len);
                    }
                },
                None => scanned = buf.len(),
            }
            if skipped + scanned >= opts.max_head_bytes {
                return Head::Refused(Refusal::TOO_LARGE);
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
    match tokio::time::timeout_at(deadline, read).await {
        Ok(head) => head,
        // Part of a request came (empty lines were dropped): say why it
        // is not answered.
        Err(_) if !buf.is_empty() => Head::Refused(Refusal::TIMEOUT),
        Err(_) => Head::Gone,
    }
}

/// Where the first empty line of `buf` ends (the end of a head), looking
/// only at bytes from `from` on (and the two before it, which may begin the
/// terminator). HTTP/1 ends lines with CRLF; a bare LF is accepted too, as
/// httparse and hyper do.
fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from.saturating_sub(2);
    while let Some(pos) = buf[i..].iter().position(|&b| b == b'\n') {
        let lf = i + pos;
        match buf.get(lf + 1) {
            Some(b'\n') => return Some(lf + 2),
            Some(b'\r') if buf.get(lf + 2) == Some(&b'\n') => return Some(lf + 3),
            _ => i = lf + 1,
        }
    }
    None
}

#[derive(Debug)]
enum Class {
    Partial,
    Other,
    Refused(Refusal),
    Request {
        request: Box<Request<()>>,
        keep_alive: bool,
        body_len: usize,
    },
}

#[cfg(test)]
thread_local! {
    /// Heads parsed on this thread (tests run on threads of their own).
    static PARSES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Bytes those parses looked at.
    static PARSED_BYTES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Decides from a whole head (it ends with an empty line).
fn classify(head: &[u8]) -> Class {
    #[cfg(test)]
    PARSES.with(|p| p.set(p.get() + 1));
    #[cfg(test)]
    PARSED_BYTES.with(|p| p.set(p.get() + head.len()));
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Class::Partial,
        Err(httparse::Error::TooManyHeaders) => return Class::Refused(Refusal::TOO_MANY),
        Err(httparse::Error::Version) => return Class::Refused(Refusal::HTTP2),
        Err(_) => return Class::Refused(Refusal::MALFORMED),
    }
    let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Class::Refused(Refusal::MALFORMED);
    };
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return Class::Refused(Refusal::MALFORMED);
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
        return Class::Refused(Refusal::MALFORMED);
    };
    let mut builder = Request::builder().method(method).uri(uri).version(version);
    // HTTP/1.1 keeps the connection unless told otherwise; 1.0 the reverse.
    let mut keep_alive = version == Version::HTTP_11;
    let mut body_len = None;
    let mut to_hyper = false;
    for h in req.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            // One plain decimal length; a body larger than read here is
            // hyper's.
            let len = std::str::from_utf8(h.value)
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<usize>().ok());
            match (len, body_len) {
                (Some(len), None) => {
                    body_len = Some(len);
                    to_hyper |= len > MAX_BODY_BYTES;
                }
                // Doubled, negative, signed, hex, empty, overflowing.
                _ => return Class::Refused(Refusal::MALFORMED),
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            || name.eq_ignore_ascii_case("upgrade")
            || name.eq_ignore_ascii_case("expect")
        {
            to_hyper = true;
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
            return Class::Refused(Refusal::MALFORMED);
        };
        builder = builder.header(name, value);
    }
    if to_hyper {
        return Class::Other;
    }
    match builder.body(()) {
        Ok(request) => Class::Request {
            request: Box::new(request),
            keep_alive,
            body_len: body_len.unwrap_or(0),
        },
        Err(_) => Class::Refused(Refusal::MALFORMED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The deadline a connection's request gets.
    fn soon(opts: &ServeOptions) -> Instant {
        Instant::now() + opts.header_timeout
    }

    #[test]
    fn plain_http1_requests_are_read_here() {
        let raw = "GET /api/sse/stream?token=t HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 1-2\r\n\r\nX";
        assert_eq!(head_end(raw.as_bytes(), 0), Some(raw.len() - 1));
        let Class::Request {
            request,
            keep_alive,
            body_len,
        } = classify(raw.as_bytes())
        else {
            panic!("not read here");
        };
        assert!(keep_alive);
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
    fn bodies_and_upgrades_go_to_hyper() {
        let too_big = format!(
            "POST /x HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY_BYTES + 1
        );
        for raw in [
            "CONNECT x:443 HTTP/1.1\r\n\r\n",
            too_big.as_str(),
            "GET /api/sse/stream HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /api/sse/stream HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
            "POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
        ] {
            assert!(matches!(classify(raw.as_bytes()), Class::Other), "{raw:?}");
        }
    }

    #[test]
    fn what_is_not_http1_is_refused_here() {
        for (raw, code) in [
            (
                "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
                "http_version_not_supported",
            ),
            (
                "POST /x HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
                "bad_request",
            ),
            (
                "POST /x HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
                "bad_request",
            ),
            (
                "POST /x HTTP/1.1\r\nContent-Length: \r\n\r\n",
                "bad_request",
            ),
            (
                "POST /x HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                "bad_request",
            ),
            (
                "GET /api/sse/stream HTTP/1.1\r\nBad Header: x\r\n\r\n",
                "bad_request",
            ),
            (
                "GET /api/sse/stream HTTP/1.1\r\nX: a\0b\r\n\r\n",
                "bad_request",
            ),
        ] {
            match classify(raw.as_bytes()) {
                Class::Refused(r) => assert_eq!(r.code, code, "{raw:?}"),
                other => panic!("{raw:?}: {other:?}"),
            }
        }
        let many: String = (0..MAX_HEADERS + 1)
            .map(|i| format!("h{i}: v\r\n"))
            .collect();
        let raw = format!("GET /api/sse/stream HTTP/1.1\r\n{many}\r\n");
        assert!(matches!(
            classify(raw.as_bytes()),
            Class::Refused(r) if r == Refusal::TOO_MANY
        ));
    }

    #[test]
    fn the_end_of_a_head_is_found_in_new_bytes_only() {
        for raw in ["G", "GET /api/s", "POST /x HTTP/1.1\r\nHost: x\r\n"] {
            assert_eq!(head_end(raw.as_bytes(), 0), None, "{raw:?}");
        }
        let raw = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nrest";
        let end = raw.len() - 4;
        // Wherever the previous look stopped, the terminator is found, also
        // when it straddles two reads.
        for from in 0..end {
            assert_eq!(head_end(&raw[..], from), Some(end), "from {from}");
        }
        let lf = b"GET / HTTP/1.1\nHost: x\n\n";
        assert_eq!(head_end(lf, 0), Some(lf.len()));
    }

    /// A head dripped a byte at a time is parsed once it is whole, not once
    /// per byte: the cost per byte does not grow with the head.
    #[tokio::test]
    async fn a_dripped_head_is_parsed_once() {
        use tokio::io::AsyncWriteExt;
        let opts = ServeOptions::default();
        let filler = "a".repeat(15 * 1024);
        let head = format!("GET / HTTP/1.1\r\nX-Filler: {filler}\r\n\r\n");
        let (mut client, mut server) = tokio::io::duplex(1);
        let writer = tokio::spawn(async move {
            for b in head.as_bytes() {
                client.write_all(std::slice::from_ref(b)).await.unwrap();
            }
            client
        });
        // A current-thread runtime: every parse of this read counts here.
        let before = PARSES.with(|p| p.get());
        let read = read_request(&mut server, &opts, Bytes::new(), soon(&opts)).await;
        let parses = PARSES.with(|p| p.get()) - before;
        assert!(matches!(read, Head::Request { .. }), "{read:?}");
        // A parse per arriving byte would be 15 000.
        assert_eq!(parses, 1, "parses for one dripped head");
        drop(writer.await.unwrap());
    }

    /// Empty lines before a request line (which HTTP/1 lets a server
    /// skip) are dropped as they are found, not parsed again with every
    /// one that follows.
    #[tokio::test]
    async fn empty_lines_before_a_head_cost_the_same_per_byte() {
        use tokio::io::AsyncWriteExt;
        let opts = ServeOptions::default();
        let raw = format!("{}GET /x HTTP/1.1\r\n\r\n", "\r\n".repeat(4000));
        let len = raw.len();
        let (mut client, mut server) = tokio::io::duplex(1);
        let writer = tokio::spawn(async move {
            client.write_all(raw.as_bytes()).await.unwrap();
            client
        });
        let before = PARSED_BYTES.with(|p| p.get());
        let read = read_request(&mut server, &opts, Bytes::new(), soon(&opts)).await;
        let parsed = PARSED_BYTES.with(|p| p.get()) - before;
        let Head::Request { request, .. } = read else {
            panic!("{read:?}");
        };
        assert_eq!(request.uri().path(), "/x");
        // Re-parsing from the start at each empty line would be ~16 MB.
        assert!(parsed <= 2 * len, "{parsed} bytes parsed for {len}");
        drop(writer.await.unwrap());
    }

    #[tokio::test]
    async fn a_head_over_the_limit_is_refused_without_waiting_for_its_end() {
        let opts = ServeOptions::default();
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        use tokio::io::AsyncWriteExt;
        let big = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(opts.max_head_bytes));
        client.write_all(big.as_bytes()).await.unwrap();
        let read = read_request(&mut server, &opts, Bytes::new(), soon(&opts)).await;
        assert!(
            matches!(&read, Head::Refused(r) if *r == Refusal::TOO_LARGE),
            "{read:?}"
        );
        let (mut client, mut server) = tokio::io::duplex(64);
        client.write_all(H2_PREFACE).await.unwrap();
        let read = read_request(&mut server, &opts, Bytes::new(), soon(&opts)).await;
        assert!(
            matches!(&read, Head::Refused(r) if *r == Refusal::HTTP2),
            "{read:?}"
        );
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
        let Head::Request { request, rest, .. } =
            read_request(&mut server, &opts, carry, soon(&opts)).await
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
            read_request(&mut server, &opts, Bytes::new(), soon(&opts)).await,
            Head::Gone
        ));
    }
}
