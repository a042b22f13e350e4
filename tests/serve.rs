//! `sse_hub::net::serve` over raw sockets: the lean stream path speaks
//! correct HTTP/1.x, lets go of connections promptly, and hands everything
//! it does not serve itself to hyper without losing a byte.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use sse_hub::net::ServeOptions;
use sse_hub::{HubConfig, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

/// Reads until `buf` contains `needle`; false on EOF or after 5 s.
async fn read_until(sock: &mut TcpStream, buf: &mut Vec<u8>, needle: &[u8]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !buf.windows(needle.len()).any(|w| w == needle) {
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout_at(deadline, sock.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return false,
        }
    }
    true
}

/// True if the peer closes within `secs` (whatever it sends first).
async fn closes_within(sock: &mut TcpStream, secs: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut chunk = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, sock.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

/// Splits a response into its head and its (still chunked) body.
fn split_head(raw: &[u8]) -> (String, &[u8]) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole head");
    (
        String::from_utf8_lossy(&raw[..end + 4]).to_lowercase(),
        &raw[end + 4..],
    )
}

/// Decodes a chunked body: the payload so far, and whether the last chunk
/// arrived. Panics on anything that is not valid chunked framing.
fn dechunk(mut body: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        let Some(line) = body.windows(2).position(|w| w == b"\r\n") else {
            return (out, false);
        };
        let size = usize::from_str_radix(std::str::from_utf8(&body[..line]).unwrap(), 16)
            .expect("hex chunk size");
        let rest = &body[line + 2..];
        if size == 0 {
            assert_eq!(rest, b"\r\n", "the last chunk ends the body");
            return (out, true);
        }
        if rest.len() < size + 2 {
            return (out, false);
        }
        out.extend_from_slice(&rest[..size]);
        assert_eq!(&rest[size..size + 2], b"\r\n", "chunk data ends with CRLF");
        body = &rest[size + 2..];
    }
}

async fn open_raw(s: &TestServer, request: &str) -> TcpStream {
    let mut sock = TcpStream::connect(s.addr).await.unwrap();
    sock.write_all(request.as_bytes()).await.unwrap();
    sock
}

/// Sends a stream request and reads until its `connected` event; returns
/// the socket and every byte read so far.
async fn open_stream(addr: std::net::SocketAddr, request: &str) -> (TcpStream, Vec<u8>) {
    let mut sock = TcpStream::connect(addr).await.unwrap();
    sock.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    assert!(
        read_until(&mut sock, &mut raw, b"event: connected").await,
        "no `connected` event: {}",
        String::from_utf8_lossy(&raw)
    );
    (sock, raw)
}

async fn wait_for_connections(s: &TestServer, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.hub.connection_count() != n {
        assert!(
            Instant::now() < deadline,
            "expected {n} connections, hub holds {}",
            s.hub.connection_count()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_http11_stream_is_chunked_sse_and_ends_with_the_last_chunk() {
    let s = server().await;
    let token = s.token("raw", Role::User);
    let (mut sock, mut raw) = open_stream(
        s.addr,
        &format!("GET /api/sse/stream?token={token} HTTP/1.1\r\nHost: x\r\n\r\n"),
    )
    .await;
    s.publish("ping", json!({"n": 1}), json!({"user": "raw"}))
        .await;
    assert!(read_until(&mut sock, &mut raw, b"\"n\":1").await);
    s.hub.shutdown();
    let mut rest = Vec::new();
    timeout(Duration::from_secs(5), sock.read_to_end(&mut rest))
        .await
        .expect("the server ends the stream")
        .unwrap();
    raw.extend_from_slice(&rest);

    let (head, body) = split_head(&raw);
    assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert!(head.contains("cache-control: no-cache"), "{head}");
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
    assert!(!head.contains("content-length"), "{head}");
    let (payload, ended) = dechunk(body);
    assert!(ended, "the stream ends with the last chunk");
    let text = String::from_utf8(payload).unwrap();
    assert!(text.starts_with("retry: ") || text.starts_with("id: ") || text.starts_with("event: "));
    assert!(text.contains("event: ping\ndata: {\"n\":1}\n\n"), "{text}");
    assert!(text.ends_with("\n\n"), "the final frame is whole: {text:?}");
}

#[tokio::test]
async fn an_http10_stream_is_delimited_by_the_close() {
    let s = server().await;
    let token = s.token("old", Role::User);
    let (_sock, raw) = open_stream(
        s.addr,
        &format!("GET /api/sse/stream?token={token} HTTP/1.0\r\n\r\n"),
    )
    .await;
    let (head, body) = split_head(&raw);
    assert!(head.contains("connection: close"), "{head}");
    assert!(!head.contains("transfer-encoding"), "{head}");
    assert!(
        String::from_utf8_lossy(body).contains("event: connected\n"),
        "the body is bare SSE"
    );
}

#[tokio::test]
async fn a_refused_stream_keeps_the_connection_for_pipelined_requests() {
    let s = server().await;
    // No token: 401 from the lean path; the health check behind it is
    // answered by hyper on the same socket.
    let mut sock = open_raw(
        &s,
        "GET /api/sse/stream HTTP/1.1\r\nHost: x\r\n\r\nGET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let mut raw = Vec::new();
    sock.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw);
    let second = text
        .find("HTTP/1.1 200")
        .expect("the pipelined request is answered");
    let (first, health) = text.split_at(second);
    assert!(first.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{text}");
    let (head, body) = split_head(first.as_bytes());
    assert!(head.contains("content-type: application/json"), "{head}");
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .expect("a refusal has a length")
        .trim()
        .parse()
        .unwrap();
    assert_eq!(len, body.len());
    let error: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(error["code"], "unauthorized");
    assert!(health.contains("\"status\""), "{health}");

    // `Connection: close` on a refusal closes the socket.
    let mut sock = open_raw(
        &s,
        "GET /api/sse/stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let mut raw = Vec::new();
    timeout(Duration::from_secs(5), sock.read_to_end(&mut raw))
        .await
        .expect("closed after the refusal")
        .unwrap();
    assert!(String::from_utf8_lossy(&raw).contains("connection: close"));
}

#[tokio::test]
async fn a_stream_after_another_request_on_one_connection_is_served() {
    let s = server().await;
    let token = s.token("reuse", Role::User);
    let (_sock, _) = open_stream(s.addr, &format!(
            "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\nGET /api/sse/stream?token={token} HTTP/1.1\r\nHost: x\r\n\r\n"
        )).await;
    assert_eq!(s.hub.connection_count(), 1);
}

#[tokio::test]
async fn a_client_that_leaves_or_talks_is_released_at_once() {
    let s = server().await;
    let token = s.token("leaver", Role::User);
    let request = format!("GET /api/sse/stream?token={token} HTTP/1.1\r\nHost: x\r\n\r\n");
    let (sock, _) = open_stream(s.addr, &request).await;
    wait_for_connections(&s, 1).await;
    // Gone without a word: no heartbeat or publish is needed to notice.
    drop(sock);
    wait_for_connections(&s, 0).await;

    // Bytes after a stream's head can never be answered: the stream ends.
    let (mut sock, _) = open_stream(s.addr, &request).await;
    sock.write_all(b"GET /api/health HTTP/1.1\r\n\r\n")
        .await
        .unwrap();
    assert!(closes_within(&mut sock, 5).await);
    wait_for_connections(&s, 0).await;
}

#[tokio::test]
async fn slow_or_silent_heads_are_dropped_after_the_header_timeout() {
    let auth = test_auth();
    let hub = sse_hub::Hub::new(HubConfig::default(), auth.clone());
    let s = serve_with_options(
        hub,
        auth,
        ServeOptions {
            header_timeout: Duration::from_millis(300),
            ..Default::default()
        },
    )
    .await;
    let started = Instant::now();
    let mut silent = TcpStream::connect(s.addr).await.unwrap();
    let mut partial = open_raw(&s, "GET /api/sse/stream?token=").await;
    assert!(
        closes_within(&mut silent, 3).await,
        "a silent socket is kept"
    );
    assert!(closes_within(&mut partial, 3).await, "a half head is kept");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(s.hub.connection_count(), 0);
}

#[tokio::test]
async fn big_heads_and_http2_are_served_by_hyper() {
    let s = server().await;
    let token = s.token("big", Role::User);
    // Larger than the lean reader takes (16 KiB): hyper parses it and the
    // same handler streams.
    let cookie = "c".repeat(20 * 1024);
    let (_sock, _) = open_stream(
        s.addr,
        &format!(
            "GET /api/sse/stream?token={token} HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n\r\n"
        ),
    )
    .await;

    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let res = h2.get(s.url("/api/health")).send().await.unwrap();
    assert_eq!(res.version(), reqwest::Version::HTTP_2);
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let url = s.url(&format!("/api/sse/stream?token={token}"));
    let mut c = SseClient::open(&h2, &url, None)
        .await
        .expect("an h2 stream");
    s.publish("ping", json!(2), json!({"user": "big"})).await;
    assert_eq!(c.next().await.event, "ping");
}

#[tokio::test]
async fn shutdown_ends_streams_with_a_final_frame_and_lets_go_of_idle_sockets() {
    let auth = test_auth();
    let hub = sse_hub::Hub::new(HubConfig::default(), auth.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = {
        let hub = hub.clone();
        async move {
            let _ = stop_rx.await;
            hub.shutdown();
        }
    };
    let served = tokio::spawn(sse_hub::net::serve(
        listener,
        sse_hub::router(hub.clone()),
        ServeOptions::default(),
        signal,
    ));
    let token = auth
        .issue(
            &sse_hub::UserId::new("u").unwrap(),
            Role::User,
            Duration::from_secs(600),
        )
        .unwrap();
    let (mut stream, mut raw) = open_stream(
        addr,
        &format!("GET /api/sse/stream?token={token} HTTP/1.1\r\nHost: x\r\n\r\n"),
    )
    .await;
    // A socket that never sends a head, and a keep-alive one between requests.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut kept = TcpStream::connect(addr).await.unwrap();
    kept.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut health = Vec::new();
    assert!(read_until(&mut kept, &mut health, b"\"status\"").await);

    stop_tx.send(()).unwrap();
    timeout(Duration::from_secs(5), served)
        .await
        .expect("serve returns once every connection is done")
        .unwrap();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest).await;
    raw.extend_from_slice(&rest);
    let (_, body) = split_head(&raw);
    let (payload, ended) = dechunk(body);
    assert!(ended, "the stream ends cleanly");
    assert!(String::from_utf8_lossy(&payload).contains("event: shutdown\n"));
    assert!(closes_within(&mut silent, 1).await);
    assert!(closes_within(&mut kept, 1).await);
}
