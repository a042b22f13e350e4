//! The TLS front: HTTP/1.1 over TLS is served by the same lean reader and
//! pump as plain HTTP, so a stream's client is noticed leaving or talking
//! at once, and kept-alive connections carry several requests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::common::*;
use rustls::pki_types::{CertificateDer, ServerName};
use sse_hub::net::{ServeOptions, TlsConfig};
use sse_hub::{HubConfig, Role};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A hub served over TLS with a certificate made for the test, and a
/// client configuration that trusts it (ALPN `http/1.1`).
async fn tls_server() -> (TestServer, tokio_rustls::TlsConnector) {
    let (s, connector, _) = tls_server_with(ServeOptions::default()).await;
    (s, connector)
}

/// The same with `options`; also the certificate, as PEM.
async fn tls_server_with(
    options: ServeOptions,
) -> (TestServer, tokio_rustls::TlsConnector, String) {
    static N: AtomicU64 = AtomicU64::new(0);
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let dir = std::env::temp_dir().join(format!(
        "sse-hub-tls-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let tls = TlsConfig::load(&cert, &key).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(made.cert.der().to_vec()))
        .unwrap();
    let mut client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    client.alpn_protocols = vec![b"http/1.1".to_vec()];

    let hub = sse_hub::Hub::new(HubConfig::default());
    let auth = test_auth();
    let app = sse_hub::router(hub.clone(), auth.clone());
    let s = spawn_app(hub, auth, app, move |listener, app| {
        sse_hub::net::serve_tls(listener, app, options, tls, std::future::pending())
    })
    .await;
    (
        s,
        tokio_rustls::TlsConnector::from(Arc::new(client)),
        made.cert.pem(),
    )
}

async fn connect(s: &TestServer, tls: &tokio_rustls::TlsConnector) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(s.addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    tls.connect(name, tcp).await.unwrap()
}

async fn open_stream(
    s: &TestServer,
    tls: &tokio_rustls::TlsConnector,
    user: &str,
) -> TlsStream<TcpStream> {
    let token = s.token(user, Role::User);
    let mut sock = connect(s, tls).await;
    request_stream(
        &mut sock,
        &format!("GET /api/sse/stream?token={token} HTTP/1.1\r\nHost: x\r\n\r\n"),
    )
    .await;
    sock
}

#[tokio::test]
async fn a_tls_stream_ends_when_its_client_leaves_closes_or_talks() {
    let (s, tls) = tls_server().await;
    // The socket closes without a word.
    let sock = open_stream(&s, &tls, "leaver").await;
    s.wait_for_connections(1).await;
    drop(sock);
    s.wait_for_connections(0).await;
    // A TLS close (`close_notify`) with the socket still open.
    let mut sock = open_stream(&s, &tls, "closer").await;
    s.wait_for_connections(1).await;
    sock.shutdown().await.unwrap();
    s.wait_for_connections(0).await;
    // Bytes after a stream's head can never be answered.
    let mut sock = open_stream(&s, &tls, "talker").await;
    s.wait_for_connections(1).await;
    sock.write_all(b"GET /api/health HTTP/1.1\r\n\r\n")
        .await
        .unwrap();
    sock.flush().await.unwrap();
    s.wait_for_connections(0).await;
}

#[tokio::test]
async fn a_kept_alive_tls_connection_carries_requests_then_a_stream() {
    let (s, tls) = tls_server().await;
    let mut sock = connect(&s, &tls).await;
    let mut raw = Vec::new();
    for _ in 0..3 {
        sock.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        raw.clear();
        assert!(read_until(&mut sock, &mut raw, b"}").await, "{raw:?}");
        let text = String::from_utf8_lossy(&raw);
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    }
    // Then a stream on the same connection, and an event on it.
    let token = s.token("kept", Role::User);
    let request = format!("GET /api/sse/stream?token={token} HTTP/1.1\r\nHost: x\r\n\r\n");
    sock.write_all(request.as_bytes()).await.unwrap();
    raw.clear();
    assert!(read_until(&mut sock, &mut raw, b"event: connected").await);
    s.wait_for_connections(1).await;
    s.hub
        .publish(
            sse_hub::NewEvent::json(
                "ping".parse().unwrap(),
                &serde_json::json!({"n": 7}),
                sse_hub::Target::User(sse_hub::UserId::new("kept").unwrap()),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert!(read_until(&mut sock, &mut raw, b"\"n\":7").await);
}

/// HTTP/2 is hyper's, under the same deadline: a request whose body stops
/// half way gets 408 with the JSON error the HTTP/1 front gives.
#[tokio::test]
async fn a_late_request_over_http2_gets_408() {
    let options = ServeOptions {
        header_timeout: std::time::Duration::from_millis(500),
        ..Default::default()
    };
    let (s, _, pem) = tls_server_with(options).await;
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .tls_built_in_root_certs(false)
        .resolve("localhost", s.addr)
        .build()
        .unwrap();
    let first = futures_util::stream::once(async {
        Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{\"event\":"))
    });
    let stalled = futures_util::StreamExt::chain(first, futures_util::stream::pending());
    let started = tokio::time::Instant::now();
    let res = client
        .post(format!(
            "https://localhost:{}/api/sse/publish",
            s.addr.port()
        ))
        .bearer_auth(s.token("pub", Role::Publisher))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stalled))
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    assert_eq!(res.version(), reqwest::Version::HTTP_2);
    assert_eq!(res.status(), reqwest::StatusCode::REQUEST_TIMEOUT);
    assert!(started.elapsed() >= std::time::Duration::from_millis(400));
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "request_timeout", "{body}");
}
