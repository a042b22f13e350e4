//! `sse_hub::net::serve` over raw sockets: its own HTTP/1 path speaks
//! correct HTTP/1.x (keep-alive, pipelining, `HEAD`, chunks), streams go to
//! the lean writer even on a reused connection, connections are let go
//! promptly, and everything it does not serve itself reaches hyper without
//! losing a byte.

use crate::common;

use std::time::Duration;

use common::*;
use serde_json::json;
use sse_hub::net::ServeOptions;
use sse_hub::{HubConfig, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

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
    let raw = request_stream(&mut sock, request).await;
    (sock, raw)
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
    // No token: a 401 with a length; the health check pipelined behind
    // it is answered on the same socket.
    let raw = send_until_closed(
        s.addr,
        b"GET /api/sse/stream HTTP/1.1\r\nHost: x\r\n\r\nGET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
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
    let raw = send_until_closed(
        s.addr,
        b"GET /api/sse/stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
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

/// Reads one whole response with a `content-length` body off `sock`;
/// returns its lowercased head and its body, and keeps any bytes after it
/// in `buf`.
async fn read_response(sock: &mut TcpStream, buf: &mut Vec<u8>) -> (String, Vec<u8>) {
    assert!(read_until(sock, buf, b"\r\n\r\n").await, "no head");
    let (head, _) = split_head(buf);
    let head_len = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map_or(0, |v| v.trim().parse().unwrap());
    let deadline = Instant::now() + Duration::from_secs(5);
    while buf.len() < head_len + len {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout_at(deadline, sock.read(&mut chunk))
            .await
            .expect("the body arrives")
            .unwrap();
        assert!(n > 0, "closed inside a body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_len..head_len + len].to_vec();
    buf.drain(..head_len + len);
    (head, body)
}

/// Reads one response head (of a `HEAD` answer) off `sock`, keeping any
/// bytes after it in `buf`.
async fn read_head_only(sock: &mut TcpStream, buf: &mut Vec<u8>) -> String {
    assert!(read_until(sock, buf, b"\r\n\r\n").await, "no head");
    let head_len = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&buf[..head_len]).to_lowercase();
    buf.drain(..head_len);
    head
}

/// What a browser does: the page's requests, a token POST, then the
/// `EventSource` on the same pooled connection. The stream must still get
/// the lean writer (which ends a stream whose client sends anything; hyper
/// would keep it).
#[tokio::test]
async fn a_stream_on_a_reused_connection_is_written_by_the_lean_path() {
    let s = demo_server().await;
    let mut sock = TcpStream::connect(s.addr).await.unwrap();
    let mut buf = Vec::new();
    sock.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (head, body) = read_response(&mut sock, &mut buf).await;
    assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
    let health: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(health["status"], "ok");

    // HEAD: the length of the GET, no body (the next response follows at
    // once), and a pipelined POST with a body in the same write.
    let post = r#"{"userId":"reuser","role":"user"}"#;
    sock.write_all(
        format!(
            "HEAD /api/health HTTP/1.1\r\nHost: x\r\n\r\n\
             POST /api/auth/demo-token HTTP/1.1\r\nHost: x\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{post}",
            post.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let head = read_head_only(&mut sock, &mut buf).await;
    assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
    assert!(head.contains("content-length: "), "{head}");
    let (head, body) = read_response(&mut sock, &mut buf).await;
    assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
    let token: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let token = token["token"].as_str().expect("a token").to_string();

    sock.write_all(
        format!("GET /api/sse/stream?token={token} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    assert!(read_until(&mut sock, &mut buf, b"event: connected").await);
    s.wait_for_connections(1).await;
    s.publish("ping", json!({"n": 7}), json!({"user": "reuser"}))
        .await;
    assert!(read_until(&mut sock, &mut buf, b"\"n\":7").await);
    sock.write_all(b"x").await.unwrap();
    assert!(
        closes_within(&mut sock, 3).await,
        "the stream went to hyper, which keeps a talking client"
    );
    s.wait_for_connections(0).await;
}

#[tokio::test]
async fn a_client_that_leaves_or_talks_is_released_at_once() {
    let s = server().await;
    let token = s.token("leaver", Role::User);
    let request = format!("GET /api/sse/stream?token={token} HTTP/1.1\r\nHost: x\r\n\r\n");
    let (sock, _) = open_stream(s.addr, &request).await;
    s.wait_for_connections(1).await;
    // Gone without a word: no heartbeat or publish is needed to notice.
    drop(sock);
    s.wait_for_connections(0).await;

    // Bytes after a stream's head can never be answered: the stream ends.
    let (mut sock, _) = open_stream(s.addr, &request).await;
    sock.write_all(b"GET /api/health HTTP/1.1\r\n\r\n")
        .await
        .unwrap();
    assert!(closes_within(&mut sock, 5).await);
    s.wait_for_connections(0).await;
}

#[tokio::test]
async fn slow_or_silent_requests_end_at_the_header_timeout() {
    let auth = test_auth();
    let hub = sse_hub::Hub::new(HubConfig::default());
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
    let mut no_body = open_raw(
        &s,
        "POST /api/sse/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n{\"ev",
    )
    .await;
    // Nothing asked, nothing answered: the socket just closes.
    let mut said = Vec::new();
    timeout(Duration::from_secs(3), silent.read_to_end(&mut said))
        .await
        .expect("a silent socket is kept")
        .unwrap();
    assert!(said.is_empty(), "{said:?}");
    // A request that began is told why it is not answered.
    for (what, sock) in [
        ("a half head", &mut partial),
        ("a body that never comes", &mut no_body),
    ] {
        let (status, body) = read_refusal(sock).await;
        assert_eq!(status, "http/1.1 408 request timeout", "{what}");
        assert_eq!(body["code"], "request_timeout", "{what}");
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(s.hub.connection_count(), 0);
}

/// Reads a refusal from the front: its status line and JSON body, and the
/// connection closes after it.
async fn read_refusal(sock: &mut TcpStream) -> (String, serde_json::Value) {
    let mut raw = Vec::new();
    timeout(Duration::from_secs(5), sock.read_to_end(&mut raw))
        .await
        .expect("the refusal ends with the connection")
        .unwrap();
    let (head, body) = split_head(&raw);
    let status = head.lines().next().unwrap().to_string();
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    (status, serde_json::from_slice(body).expect("a JSON body"))
}

/// Heads over the limit get 431, HTTP/2 gets 505 and a head that is not
/// HTTP/1 gets 400, from the front itself, with JSON bodies; hyper never
/// sees them, so none of its buffers or waits is spent on them.
#[tokio::test]
async fn big_heads_http2_and_garbage_are_refused_with_json() {
    let s = server().await;
    let token = s.token("big", Role::User);
    let cookie = "c".repeat(20 * 1024);
    let mut sock = open_raw(
        &s,
        &format!(
            "GET /api/sse/stream?token={token} HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n\r\n"
        ),
    )
    .await;
    let (status, body) = read_refusal(&mut sock).await;
    assert_eq!(status, "http/1.1 431 request header fields too large");
    assert_eq!(body["code"], "headers_too_large");
    // A head that never ends is refused once it passes the limit, not
    // buffered on (a client sending 380 KiB heads held 350 KiB each).
    let mut sock = TcpStream::connect(s.addr).await.unwrap();
    sock.write_all(b"GET / HTTP/1.1\r\nX: ").await.unwrap();
    for _ in 0..20 {
        if sock.write_all(&[b'a'; 1024]).await.is_err() {
            break;
        }
    }
    let (status, _) = read_refusal(&mut sock).await;
    assert!(status.starts_with("http/1.1 431"), "{status}");
    // HTTP/2 with prior knowledge, whole preface or only its first line.
    for preface in [
        &b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[..],
        b"PRI * HTTP/2.0\r\n",
    ] {
        let mut sock = TcpStream::connect(s.addr).await.unwrap();
        sock.write_all(preface).await.unwrap();
        let (status, body) = read_refusal(&mut sock).await;
        assert_eq!(status, "http/1.1 505 http version not supported");
        assert_eq!(body["code"], "http_version_not_supported");
    }
    for garbage in [
        "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
        "\x16\x03\x01\x02\x00\r\n\r\n",
    ] {
        let mut sock = open_raw(&s, garbage).await;
        let (status, body) = read_refusal(&mut sock).await;
        assert_eq!(status, "http/1.1 400 bad request", "{garbage:?}");
        assert_eq!(body["code"], "bad_request");
    }
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    assert!(h2.get(s.url("/api/health")).send().await.is_err());
    let res = s.http.get(s.url("/api/health")).send().await.unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
}

/// Requests the front hands to hyper (chunked or large bodies) keep the
/// same deadline: a body dripped or never sent is dropped when the request
/// time is up, where hyper alone would wait forever. A proper one is served.
#[tokio::test]
async fn requests_served_by_hyper_have_a_deadline_too() {
    let auth = test_auth();
    let config = HubConfig {
        max_event_bytes: 100_000,
        ..HubConfig::default()
    };
    let hub = sse_hub::Hub::new(config);
    let s = serve_with_options(
        hub,
        auth,
        ServeOptions {
            header_timeout: Duration::from_millis(500),
            ..Default::default()
        },
    )
    .await;
    let token = s.token("pub", Role::Publisher);
    let post = |extra: &str| {
        format!(
            "POST /api/sse/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\n{extra}\r\n"
        )
    };
    let started = Instant::now();
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(open_raw(&s, &post("Content-Length: 70000\r\n")).await);
        let mut partial = open_raw(&s, &post("Content-Length: 70000\r\n")).await;
        partial.write_all(&[b' '; 1000]).await.unwrap();
        held.push(partial);
        held.push(open_raw(&s, &post("Transfer-Encoding: chunked\r\n")).await);
    }
    // One more chunked body, dripped: a chunk every 100 ms.
    let mut dripped = open_raw(&s, &post("Transfer-Encoding: chunked\r\n")).await;
    let drip = tokio::spawn(async move {
        for _ in 0..50 {
            if dripped.write_all(b"1\r\n \r\n").await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    });
    for (i, sock) in held.iter_mut().enumerate() {
        assert!(closes_within(sock, 3).await, "socket {i} is still held");
    }
    assert!(drip.await.unwrap(), "a dripped chunked body is waited for");
    assert!(started.elapsed() < Duration::from_secs(4));

    // A whole body of 70 KB (hyper's, as it is over 64 KiB) is served.
    let data = "d".repeat(70_000);
    let body = serde_json::to_vec(&json!({"event": "big", "data": data, "target": {"all": true}}))
        .unwrap();
    let mut sock = open_raw(&s, &post(&format!("Content-Length: {}\r\n", body.len()))).await;
    sock.write_all(&body).await.unwrap();
    let mut raw = Vec::new();
    timeout(Duration::from_secs(5), sock.read_to_end(&mut raw))
        .await
        .expect("hyper closes after its one request")
        .unwrap();
    let (head, body) = split_head(&raw);
    assert!(head.starts_with("http/1.1 200 ok"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    let body = String::from_utf8_lossy(body);
    assert!(body.contains("\"delivered\""), "{body}");
}

#[tokio::test]
async fn shutdown_ends_streams_with_a_final_frame_and_lets_go_of_idle_sockets() {
    let auth = test_auth();
    let hub = sse_hub::Hub::new(HubConfig::default());
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
        sse_hub::router(hub.clone(), auth.clone()),
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

/// Sends `request` on a new connection and reads until the server closes
/// it, which it must within 5 s.
async fn send_until_closed(addr: std::net::SocketAddr, request: &[u8]) -> Vec<u8> {
    let reply = raw_exchange(addr, request, false, |_| false).await;
    assert!(reply.closed, "the server closes the connection");
    reply.bytes
}

/// Serves `app` with `net::serve` on 127.0.0.1:0.
async fn serve_app(app: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(sse_hub::net::serve(
        listener,
        app,
        ServeOptions::default(),
        std::future::pending(),
    ));
    addr
}

/// Answers whose size the body does not know: chunked for HTTP/1.1 (the
/// connection stays), delimited by the close for HTTP/1.0, and a declared
/// `Content-Length` (what a file body has) is kept and held to.
#[tokio::test]
async fn answers_of_unknown_size_are_chunked_or_delimited() {
    use axum::body::Body;
    use axum::routing::{get, post};
    fn pieces() -> Body {
        let parts = ["ab", "", "cde"].map(|p| Ok::<_, std::io::Error>(bytes::Bytes::from(p)));
        Body::from_stream(futures_util::stream::iter(parts))
    }
    let app = axum::Router::new()
        .route("/chunks", get(|| async { pieces() }))
        .route(
            "/file",
            get(|| async { ([("content-length", "5")], pieces()) }),
        )
        .route("/echo", post(|body: String| async move { body }));
    let addr = serve_app(app).await;

    let mut sock = TcpStream::connect(addr).await.unwrap();
    sock.write_all(b"GET /chunks HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    assert!(read_until(&mut sock, &mut raw, b"0\r\n\r\n").await);
    let (head, body) = split_head(&raw);
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert!(!head.contains("content-length"), "{head}");
    assert_eq!(dechunk(body), (b"abcde".to_vec(), true));
    // Same socket: the declared length is sent, and HEAD gets it too.
    sock.write_all(b"GET /file HTTP/1.1\r\nHost: x\r\n\r\nHEAD /file HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let (head, body) = read_response(&mut sock, &mut buf).await;
    assert!(head.contains("content-length: 5\r\n"), "{head}");
    assert!(!head.contains("transfer-encoding"), "{head}");
    assert_eq!(body, b"abcde");
    let head = read_head_only(&mut sock, &mut buf).await;
    assert!(head.starts_with("http/1.1 200 ok"), "{head}");
    assert!(head.contains("content-length: 5\r\n"), "{head}");
    // HEAD sends no body: nothing follows its head.
    assert!(buf.is_empty(), "bytes after a HEAD answer");
    let mut more = [0u8; 1];
    assert!(
        timeout(Duration::from_millis(300), sock.read(&mut more))
            .await
            .is_err(),
        "bytes after a HEAD answer"
    );

    // HTTP/1.0: the close ends the body.
    let raw = send_until_closed(addr, b"GET /chunks HTTP/1.0\r\n\r\n").await;
    let (head, body) = split_head(&raw);
    assert!(head.contains("connection: close"), "{head}");
    assert!(!head.contains("transfer-encoding"), "{head}");
    assert_eq!(body, b"abcde");

    // A chunked request body is hyper's, also after answers of our own on
    // the same connection; nothing is lost at the hand-over. Hyper serves
    // that one request and closes (saying so): a request pipelined after
    // it is for the client to send again.
    let raw = send_until_closed(
        addr,
        b"GET /file HTTP/1.1\r\nHost: x\r\n\r\n\
          POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n\
          POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nde",
    )
    .await;
    let text = String::from_utf8_lossy(&raw);
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");
    let bodies: Vec<&str> = text
        .split("HTTP/1.1 200 OK")
        .skip(1)
        .map(|r| r.split_once("\r\n\r\n").unwrap().1)
        .collect();
    assert_eq!(bodies, ["abcde", "abc"], "{text}");
    assert!(text.to_lowercase().contains("connection: close"), "{text}");
}

/// An upgrade request is hyper's: the handler gets the connection after
/// its 101 (which keeps `connection: upgrade`), beyond the request deadline.
#[tokio::test]
async fn upgrades_reach_the_handler() {
    use axum::extract::Request;
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/echo",
        get(|mut req: Request| async move {
            let upgrade = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                if let Ok(up) = upgrade.await {
                    let mut io = hyper_util::rt::TokioIo::new(up);
                    let mut buf = [0u8; 5];
                    if io.read_exact(&mut buf).await.is_ok() {
                        let _ = io.write_all(&buf).await;
                    }
                }
            });
            axum::response::Response::builder()
                .status(101)
                .header("connection", "upgrade")
                .header("upgrade", "echo")
                .body(axum::body::Body::empty())
                .unwrap()
        }),
    );
    let addr = serve_app(app).await;
    let mut sock = TcpStream::connect(addr).await.unwrap();
    sock.write_all(
        b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    assert!(read_until(&mut sock, &mut buf, b"\r\n\r\n").await);
    let head = String::from_utf8_lossy(&buf).to_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("connection: upgrade"), "{head}");
    sock.write_all(b"hello").await.unwrap();
    let mut echo = [0u8; 5];
    timeout(Duration::from_secs(5), sock.read_exact(&mut echo))
        .await
        .expect("the upgraded connection echoes")
        .unwrap();
    assert_eq!(&echo, b"hello");
}
