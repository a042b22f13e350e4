//! A keep-alive HTTP/1.1 client for prebuilt requests, shared by the
//! load generators (`sse-bench`'s publishers, `sse-storm`'s publisher).

use std::net::SocketAddr;

use anyhow::bail;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A keep-alive HTTP/1.1 connection that sends prebuilt requests and
/// reads their answers, so that on a small machine the load generator
/// spends its CPU on little more than the bytes (a general HTTP client
/// costs more per request than the hub it measures).
pub struct RawClient {
    stream: tokio::io::BufReader<Box<dyn Io>>,
    head: Vec<u8>,
}

/// A connection, plain or TLS.
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

impl RawClient {
    /// Connects to `addr`, over TLS (HTTP/1.1) when `tls` is given.
    pub async fn connect(
        addr: SocketAddr,
        tls: Option<&tokio_rustls::TlsConnector>,
    ) -> anyhow::Result<Self> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let stream: Box<dyn Io> = match tls {
            Some(tls) => {
                let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
                Box::new(tls.connect(name, stream).await?)
            }
            None => Box::new(stream),
        };
        Ok(Self {
            stream: tokio::io::BufReader::new(stream),
            head: Vec::with_capacity(512),
        })
    }

    /// Sends `request`; the answer's status.
    pub async fn send(&mut self, request: &[u8]) -> anyhow::Result<u16> {
        use tokio::io::AsyncBufReadExt;
        self.stream.get_mut().write_all(request).await?;
        self.head.clear();
        let mut length = 0usize;
        let mut status = 0u16;
        loop {
            let start = self.head.len();
            if self.stream.read_until(b'\n', &mut self.head).await? == 0 {
                bail!("closed by the server");
            }
            let line = &self.head[start..];
            if start == 0 {
                status = std::str::from_utf8(line.get(9..12).unwrap_or(b"0"))?.parse()?;
            } else if line == b"\r\n" {
                break;
            } else if line.len() > 15 && line[..15].eq_ignore_ascii_case(b"content-length:") {
                length = std::str::from_utf8(&line[15..])?.trim().parse()?;
            }
        }
        let mut body = vec![0u8; length];
        self.stream.read_exact(&mut body).await?;
        Ok(status)
    }
}
