//! Streams over TLS, on a server that terminates TLS itself: ours, or
//! nginx+nchan with `ssl` and `http2`. Held idle for the memory of a
//! stream (or of a handshake alone), or read like plain streams for
//! delivery over TLS.
//!
//! - `handshake`: the TLS handshake, then nothing (what a connection costs
//!   before it asks for anything);
//! - `h1`: one stream per connection over HTTP/1.1 (ALPN `http/1.1`);
//! - `h2`: one stream per connection over HTTP/2 (ALPN `h2`), the worst
//!   case for HTTP/2 (a browser puts every tab's stream on one).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::ValueEnum;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpSocket;
use tokio_rustls::TlsConnector;

use crate::head::read_head;

/// What each TLS connection does.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Mode {
    /// The handshake, then nothing.
    Handshake,
    /// One SSE stream over HTTP/1.1.
    H1,
    /// One SSE stream over HTTP/2.
    H2,
}

/// Whatever keeps one connection (and its stream) open.
pub type Held = Box<dyn std::any::Any + Send>;

/// An open connection, and its stream's body when it has one.
pub enum Opened {
    /// The handshake only.
    Idle(Held),
    /// A stream over HTTP/1.1: its body is the rest of the socket.
    H1(Box<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>),
    /// A stream over HTTP/2: its body, and what keeps the connection.
    H2(h2::RecvStream, Held),
}

/// A client that trusts the PEM certificate at `ca`.
pub fn connector(ca: &std::path::Path, mode: Mode) -> anyhow::Result<TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).context("reading --tls-ca")? {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = match mode {
        Mode::H2 => vec![b"h2".to_vec()],
        _ => vec![b"http/1.1".to_vec()],
    };
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Opens connection `i` to `addr` and does what `mode` says with `path`.
pub async fn open(
    tls: &TlsConnector,
    addr: SocketAddr,
    mode: Mode,
    path: &str,
    i: usize,
) -> anyhow::Result<Opened> {
    let src = Ipv4Addr::new(127, 0, 0, 2 + (i % 253) as u8);
    let sock = TcpSocket::new_v4()?;
    sock.bind(SocketAddr::new(src.into(), 0))?;
    let tcp = sock.connect(addr).await?;
    let name = ServerName::IpAddress(addr.ip().into());
    let mut stream = tls.connect(name, tcp).await?;
    match mode {
        Mode::Handshake => Ok(Opened::Idle(Box::new(stream))),
        Mode::H1 => {
            let req =
                format!("GET {path} HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n");
            stream.write_all(req.as_bytes()).await?;
            let head = read_head(&mut stream).await?;
            if !head.starts_with(b"HTTP/1.1 200") {
                bail!(
                    "refused: {}",
                    String::from_utf8_lossy(&head[..head.len().min(64)])
                );
            }
            Ok(Opened::H1(Box::new(stream)))
        }
        Mode::H2 => {
            let (mut send, conn) = h2::client::handshake(stream).await?;
            let driver = tokio::spawn(async move {
                let _ = conn.await;
            });
            let req = http::Request::get(format!("https://{addr}{path}"))
                .header("accept", "text/event-stream")
                .body(())?;
            let (response, _) = send.send_request(req, true)?;
            let response = response.await?;
            if response.status() != 200 {
                bail!("refused: {}", response.status());
            }
            let body = response.into_body();
            Ok(Opened::H2(body, Box::new((send, AbortOnDrop(driver)))))
        }
    }
}

/// Stops a connection's driver task with the connection.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
