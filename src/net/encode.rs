//! HTTP/1.1 response framing as bytes, and nothing else: the status line
//! and headers of an answer, and chunk-size lines. No sockets and no
//! bodies here; [`super::response`] and [`super::pump`] write what this
//! encodes.

use std::time::SystemTime;

use http::{header, HeaderMap, StatusCode};

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    Chunked,
    UntilClose,
    Length(u64),
    /// No body follows (`HEAD`, 204, 304); the router's `Content-Length`
    /// stays when `keep_length`.
    None {
        keep_length: bool,
    },
}

/// What the response says about the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Persist {
    /// Nothing: HTTP/1.1 keeps it.
    Default,
    /// `connection: keep-alive`, which an HTTP/1.0 client needs to keep it.
    KeepAlive,
    /// `connection: close`.
    UntilClose,
}

/// The status line and headers. The router's own framing headers are
/// replaced: this writer decides how the body is delimited.
pub(super) fn encode_head(
    status: StatusCode,
    headers: &HeaderMap,
    framing: Framing,
    conn: Persist,
) -> Vec<u8> {
    let mut h = Vec::with_capacity(320);
    h.extend_from_slice(b"HTTP/1.1 ");
    h.extend_from_slice(status.as_str().as_bytes());
    h.push(b' ');
    h.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    h.extend_from_slice(b"\r\n");
    let keep_length = matches!(framing, Framing::None { keep_length: true });
    for (name, value) in headers {
        let drop = match name.as_str() {
            "connection" | "keep-alive" | "transfer-encoding" => true,
            "content-length" => !keep_length,
            _ => false,
        };
        if drop {
            continue;
        }
        h.extend_from_slice(name.as_str().as_bytes());
        h.extend_from_slice(b": ");
        h.extend_from_slice(value.as_bytes());
        h.extend_from_slice(b"\r\n");
    }
    if !headers.contains_key(header::DATE) {
        h.extend_from_slice(b"date: ");
        h.extend_from_slice(httpdate::fmt_http_date(SystemTime::now()).as_bytes());
        h.extend_from_slice(b"\r\n");
    }
    match framing {
        Framing::Chunked => h.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        Framing::Length(len) => {
            h.extend_from_slice(format!("content-length: {len}\r\n").as_bytes());
        }
        Framing::UntilClose | Framing::None { .. } => {}
    }
    match (conn, framing) {
        (Persist::UntilClose, _) | (_, Framing::UntilClose) => {
            h.extend_from_slice(b"connection: close\r\n");
        }
        (Persist::KeepAlive, _) => h.extend_from_slice(b"connection: keep-alive\r\n"),
        (Persist::Default, _) => {}
    }
    h.extend_from_slice(b"\r\n");
    h
}

/// Writes `len` as a chunk-size line (`1a2\r\n`) into `out`.
pub(super) fn chunk_size_line(len: usize, out: &mut [u8; 20]) -> usize {
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

    fn head(status: StatusCode, headers: &HeaderMap, framing: Framing, conn: Persist) -> String {
        String::from_utf8(encode_head(status, headers, framing, conn)).unwrap()
    }

    #[test]
    fn the_head_replaces_the_routers_framing_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "text/event-stream".parse().unwrap());
        headers.insert("connection", "keep-alive".parse().unwrap());
        headers.insert("content-length", "12".parse().unwrap());
        let h = head(StatusCode::OK, &headers, Framing::Chunked, Persist::Default);
        assert!(h.starts_with("HTTP/1.1 200 OK\r\n"), "{h}");
        assert!(h.contains("content-type: text/event-stream\r\n"));
        assert!(h.contains("transfer-encoding: chunked\r\n"));
        assert!(h.contains("date: "));
        assert!(!h.contains("keep-alive"));
        assert!(!h.contains("content-length"));
        assert!(h.ends_with("\r\n\r\n"));

        let h = head(
            StatusCode::UNAUTHORIZED,
            &HeaderMap::new(),
            Framing::Length(7),
            Persist::UntilClose,
        );
        assert!(h.starts_with("HTTP/1.1 401 Unauthorized\r\n"));
        assert!(h.contains("content-length: 7\r\nconnection: close\r\n"));

        // HEAD keeps the router's length; HTTP/1.0 keep-alive is said.
        let h = head(
            StatusCode::OK,
            &headers,
            Framing::None { keep_length: true },
            Persist::KeepAlive,
        );
        assert!(h.contains("content-length: 12\r\n"), "{h}");
        assert!(h.contains("connection: keep-alive\r\n"), "{h}");
        assert!(!h.contains("transfer-encoding"), "{h}");

        // A router's own date is not doubled.
        let mut dated = HeaderMap::new();
        dated.insert("date", "Mon, 23 Nov 2026 00:00:00 GMT".parse().unwrap());
        let h = head(StatusCode::OK, &dated, Framing::Length(0), Persist::Default);
        assert_eq!(h.matches("date: ").count(), 1, "{h}");
    }
}
