//! A server-side TLS connection that holds no buffers while it waits.
//!
//! A hub's TLS connections spend their lives idle, so what one keeps
//! between two events is the number that matters. rustls's buffered
//! connection (what `tokio-rustls` wraps) keeps a 4 KiB read buffer and
//! its queues for the life of the connection. Here rustls's *unbuffered*
//! API is driven instead, and the buffers are ours:
//! - bytes read from the socket are read into a buffer on the stack and
//!   kept only while they hold part of a record;
//! - decrypted bytes wait only until the reader takes them;
//! - encrypted bytes live only until the socket took them.
//!
//! So an idle connection is the rustls state machine and its record keys,
//! nothing else. Writes are accepted into the record buffer and go out on
//! the next write or flush: callers flush, as with any buffered writer.

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError, UnbufferedStatus};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::net::wire::Wire;

/// Bytes read from the socket at a time: a whole record of the largest
/// size fits in one read.
const READ_CHUNK: usize = 16 * 1024 + 512;

/// Plaintext sealed by one write at most (the rest is the caller's to
/// write again), so a large write does not double in memory at once.
const MAX_SEAL: usize = 64 * 1024;

/// What rustls can do next, once it has taken in what was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The handshake needs more bytes from the peer.
    Blocked,
    /// Application data may be written (and read, once it arrives).
    Open,
    /// The peer said `close_notify`: nothing more will be read.
    Closed,
}

/// A TLS connection on `io`, server side.
pub struct TlsStream<S> {
    io: S,
    /// Boxed: the state machine is large, and a connection's future moves
    /// it around before it settles.
    conn: Box<UnbufferedServerConnection>,
    /// Read, not yet a whole record (empty and unallocated between reads).
    incoming: Vec<u8>,
    /// Decrypted, not yet read; `taken` bytes of it are gone.
    plain: Vec<u8>,
    taken: usize,
    /// Records to send; `sent` bytes of them are out.
    outgoing: Vec<u8>,
    sent: usize,
    /// The peer closed (with `close_notify`, or by closing the socket).
    eof: bool,
    /// Our `close_notify` is queued.
    closing: bool,
}

impl<S> std::fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream")
            .field("incoming", &self.incoming.len())
            .field("plain", &(self.plain.len() - self.taken))
            .field("outgoing", &(self.outgoing.len() - self.sent))
            .field("eof", &self.eof)
            .finish_non_exhaustive()
    }
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream<S> {
    /// Runs the server side of a handshake on `io`. Fails on anything that
    /// is not TLS at its first bytes (after sending the peer an alert, if
    /// rustls has one to say). No deadline of its own: the caller sets one.
    pub async fn accept(io: S, config: Arc<rustls::ServerConfig>) -> io::Result<Self> {
        let conn = UnbufferedServerConnection::new(config).map_err(tls_error)?;
        let mut stream = Self {
            io,
            conn: Box::new(conn),
            incoming: Vec::new(),
            plain: Vec::new(),
            taken: 0,
            outgoing: Vec::new(),
            sent: 0,
            eof: false,
            closing: false,
        };
        match poll_fn(|cx| stream.poll_handshake(cx)).await {
            Ok(()) => Ok(stream),
            Err(e) => {
                stream.say_alert().await;
                Err(e)
            }
        }
    }

    /// The protocol the peer and we agreed on by ALPN, if any.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            ready!(self.poll_send(cx))?;
            let step = self.drive(None)?;
            if !self.conn.is_handshaking() {
                // Its tickets (and anything else rustls queued) go now.
                return self.poll_send(cx);
            }
            if step == Step::Closed {
                return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
            }
            if self.sent < self.outgoing.len() {
                continue;
            }
            if ready!(self.poll_fill(cx))? == 0 {
                return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
            }
        }
    }

    /// After a failed handshake: sends the alert rustls queued, if the
    /// socket takes it at once. Best effort; the connection is closed
    /// either way.
    async fn say_alert(&mut self) {
        for _ in 0..4 {
            let UnbufferedStatus { state, .. } = self.conn.process_tls_records(&mut []);
            let Ok(ConnectionState::EncodeTlsData(mut e)) = state else {
                break;
            };
            let _ = encode_into(&mut self.outgoing, |out| e.encode(out));
        }
        let _ = poll_fn(|cx| match self.poll_send(cx) {
            Poll::Pending => Poll::Ready(Ok(())),
            done => done,
        })
        .await;
    }

    /// Lets rustls take in what was read and say what it wants: records to
    /// send go to `outgoing`, decrypted bytes to `plain`. With `seal`, that
    /// plaintext is encrypted into `outgoing` once application data may be
    /// sent.
    fn drive(&mut self, mut seal: Option<&[u8]>) -> io::Result<Step> {
        let Self {
            conn,
            incoming,
            plain,
            outgoing,
            eof,
            ..
        } = self;
        loop {
            let UnbufferedStatus { mut discard, state } = conn.process_tls_records(incoming);
            let step = match state.map_err(tls_error)? {
                ConnectionState::ReadTraffic(mut traffic) => {
                    while let Some(record) = traffic.next_record() {
                        let record = record.map_err(tls_error)?;
                        discard += record.discard;
                        plain.extend_from_slice(record.payload);
                    }
                    None
                }
                ConnectionState::EncodeTlsData(mut e) => {
                    encode_into(outgoing, |out| e.encode(out))?;
                    None
                }
                // Queued records are sent before anything written after
                // them: they are as good as sent.
                ConnectionState::TransmitTlsData(t) => {
                    t.done();
                    None
                }
                ConnectionState::WriteTraffic(mut w) => {
                    if let Some(data) = seal.take() {
                        seal_into(outgoing, data, |data, out| w.encrypt(data, out))?;
                    }
                    Some(Step::Open)
                }
                ConnectionState::BlockedHandshake => Some(Step::Blocked),
                ConnectionState::PeerClosed => {
                    *eof = true;
                    None
                }
                ConnectionState::Closed => {
                    *eof = true;
                    Some(Step::Closed)
                }
                // Early data is never enabled here; whatever rustls adds
                // later is not something this server asked for.
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "unexpected TLS state",
                    ))
                }
            };
            incoming.drain(..discard);
            if let Some(step) = step {
                if incoming.is_empty() {
                    *incoming = Vec::new();
                }
                return Ok(step);
            }
        }
    }

    /// Writes what waits in `outgoing`; Ready(Ok) once all of it is out
    /// (and the buffer is let go).
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.outgoing.len() {
            match ready!(Pin::new(&mut self.io).poll_write(cx, &self.outgoing[self.sent..])) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.sent += n,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        if self.outgoing.capacity() > 0 {
            self.outgoing = Vec::new();
            self.sent = 0;
        }
        Poll::Ready(Ok(()))
    }

    /// Reads what the socket has into `incoming`; Ready(Ok(0)) at its end.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        // Not zeroed: this runs on every poll of an idle stream.
        let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut buf = ReadBuf::uninit(&mut chunk);
        ready!(Pin::new(&mut self.io).poll_read(cx, &mut buf))?;
        self.incoming.extend_from_slice(buf.filled());
        Poll::Ready(Ok(buf.filled().len()))
    }

    /// Encrypts `data` (up to [`MAX_SEAL`] of it) once what was queued
    /// before is out; returns how much was taken.
    fn poll_seal(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        ready!(self.poll_send(cx))?;
        let data = &data[..data.len().min(MAX_SEAL)];
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        match self.drive(Some(data))? {
            Step::Open => {}
            Step::Closed => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            Step::Blocked => {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::NotConnected,
                    "TLS handshake not finished",
                )))
            }
        }
        // Sent now if the socket takes it; if not, on the next write or
        // flush (it was accepted either way).
        if let Poll::Ready(Err(e)) = self.poll_send(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(data.len()))
    }
}

/// A write into a buffer: the bytes written, or the size it needs
/// (`Err(Ok(size))`), or why it failed.
type Fill = Result<usize, io::Result<usize>>;

/// Appends what `write` puts into a buffer to `out`, starting with `room`
/// bytes and growing to what rustls asks for.
fn append(
    out: &mut Vec<u8>,
    mut room: usize,
    mut write: impl FnMut(&mut [u8]) -> Fill,
) -> io::Result<()> {
    let start = out.len();
    loop {
        out.resize(start + room, 0);
        let failed = match write(&mut out[start..]) {
            Ok(n) => {
                out.truncate(start + n);
                return Ok(());
            }
            Err(Ok(needed)) if needed > room => {
                room = needed;
                continue;
            }
            Err(Ok(needed)) => io::Error::other(format!("rustls asked for {needed} bytes")),
            Err(Err(e)) => e,
        };
        out.truncate(start);
        return Err(failed);
    }
}

/// Appends the handshake record `encode` writes to `out`.
fn encode_into(
    out: &mut Vec<u8>,
    mut encode: impl FnMut(&mut [u8]) -> Result<usize, EncodeError>,
) -> io::Result<()> {
    append(out, 512, |buf| match encode(buf) {
        Ok(n) => Ok(n),
        Err(EncodeError::InsufficientSize(s)) => Err(Ok(s.required_size)),
        Err(e) => Err(Err(io::Error::other(e))),
    })
}

/// Appends the records that `encrypt` makes of `data` to `out`.
fn seal_into(
    out: &mut Vec<u8>,
    data: &[u8],
    mut encrypt: impl FnMut(&[u8], &mut [u8]) -> Result<usize, EncryptError>,
) -> io::Result<()> {
    // A record adds at most a header, a content type, a tag and an
    // explicit nonce; one per 16 KiB.
    let room = data.len() + (data.len() / (16 * 1024) + 1) * 64;
    append(out, room, |buf| match encrypt(data, buf) {
        Ok(n) => Ok(n),
        Err(EncryptError::InsufficientSize(s)) => Err(Ok(s.required_size)),
        Err(e) => Err(Err(io::Error::other(e))),
    })
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream<S> {
    /// Ready once decrypted bytes wait in `plain`, or the peer has closed
    /// (`eof`); reads and decrypts what the socket has until then.
    pub(crate) fn poll_plain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.taken < self.plain.len() || self.eof {
                return Poll::Ready(Ok(()));
            }
            // What rustls must say (a ticket, a key update's answer) goes
            // out when it can; reading does not wait for it.
            if let Poll::Ready(Err(e)) = self.poll_send(cx) {
                return Poll::Ready(Err(e));
            }
            self.drive(None)?;
            if self.taken < self.plain.len() || self.eof {
                continue;
            }
            if ready!(self.poll_fill(cx))? == 0 {
                // Closed without `close_notify`: for a server reading
                // requests, a truncated request is just a short one.
                self.eof = true;
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_plain(cx))?;
        let n = (this.plain.len() - this.taken).min(buf.remaining());
        buf.put_slice(&this.plain[this.taken..this.taken + n]);
        this.taken += n;
        if this.taken == this.plain.len() {
            this.plain = Vec::new();
            this.taken = 0;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_seal(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // One record for the pieces of one write (a chunk's size line, its
        // frames and its CRLF), not a record each.
        let nonempty = bufs.iter().filter(|b| !b.is_empty()).count();
        if nonempty <= 1 {
            let one = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| b);
            return this.poll_seal(cx, one);
        }
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let mut joined = Vec::with_capacity(total.min(MAX_SEAL));
        for b in bufs {
            let room = MAX_SEAL - joined.len();
            joined.extend_from_slice(&b[..b.len().min(room)]);
            if joined.len() == MAX_SEAL {
                break;
            }
        }
        this.poll_seal(cx, &joined)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.closing {
            ready!(this.poll_send(cx))?;
            this.closing = true;
            let UnbufferedStatus { state, .. } = this.conn.process_tls_records(&mut this.incoming);
            if let Ok(ConnectionState::WriteTraffic(mut w)) = state {
                seal_into(&mut this.outgoing, &[], |_, out| w.queue_close_notify(out))?;
            }
        }
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

impl<S> Wire for TlsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn poll_readable(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A TLS record may carry no data (a key update): what counts is
        // decrypted bytes.
        self.poll_plain(cx)
    }

    fn poll_hangup(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        // A record that carries no data (a key update) is taken in and
        // the wait goes on; data, `close_notify`, the socket's end or an
        // error end it.
        let mut probe = [0u8; 1];
        let mut buf = ReadBuf::new(&mut probe);
        match Pin::new(self).poll_read(cx, &mut buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(_) => Poll::Ready(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    fn configs() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
        configs_for(rustls::DEFAULT_VERSIONS)
    }

    /// A server and a client that trusts it, speaking `versions`.
    fn configs_for(
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert = CertificateDer::from(made.cert.der().to_vec());
        let key = PrivateKeyDer::try_from(made.signing_key.serialize_der()).unwrap();
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).unwrap();
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        (Arc::new(server), Arc::new(client))
    }

    /// A server stream and a client connected to it over loopback TCP.
    async fn pair() -> (
        TlsStream<TcpStream>,
        tokio_rustls::client::TlsStream<TcpStream>,
    ) {
        let (server, client) = configs();
        pair_with(server, client).await
    }

    async fn pair_with(
        server: Arc<rustls::ServerConfig>,
        client: Arc<rustls::ClientConfig>,
    ) -> (
        TlsStream<TcpStream>,
        tokio_rustls::client::TlsStream<TcpStream>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connect = async {
            let tcp = TcpStream::connect(addr).await.unwrap();
            let name = ServerName::try_from("localhost").unwrap();
            tokio_rustls::TlsConnector::from(client)
                .connect(name, tcp)
                .await
                .unwrap()
        };
        let accept = async {
            let (tcp, _) = listener.accept().await.unwrap();
            TlsStream::accept(tcp, server).await.unwrap()
        };
        let (client, server) = tokio::join!(connect, accept);
        (server, client)
    }

    fn held(s: &TlsStream<TcpStream>) -> usize {
        s.incoming.capacity() + s.plain.capacity() + s.outgoing.capacity()
    }

    #[tokio::test]
    async fn bytes_cross_both_ways_and_nothing_is_kept_between() {
        let (mut server, mut client) = pair().await;
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        client.flush().await.unwrap();
        let mut got = [0u8; 18];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"GET / HTTP/1.1\r\n\r\n");
        // Pieces of one write go out as one record and arrive in order.
        let pieces = [
            IoSlice::new(b"5\r\n"),
            IoSlice::new(b"hello"),
            IoSlice::new(b"\r\n"),
        ];
        let n = server.write_vectored(&pieces).await.unwrap();
        assert_eq!(n, 10);
        server.flush().await.unwrap();
        let mut echo = [0u8; 10];
        client.read_exact(&mut echo).await.unwrap();
        assert_eq!(&echo, b"5\r\nhello\r\n");
        assert_eq!(held(&server), 0, "{server:?}");
        // A clean close: the client reads its end, not an error.
        server.shutdown().await.unwrap();
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    }

    /// Writes `msg` from the server and reads it at the client, then the
    /// other way.
    async fn exchange(
        server: &mut TlsStream<TcpStream>,
        client: &mut tokio_rustls::client::TlsStream<TcpStream>,
        msg: &[u8],
    ) {
        server.write_all(msg).await.unwrap();
        server.flush().await.unwrap();
        let mut got = vec![0u8; msg.len()];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(got, msg);
        client.write_all(msg).await.unwrap();
        client.flush().await.unwrap();
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(got, msg);
    }

    #[tokio::test]
    async fn tls12_clients_are_served_too() {
        let (server, client) = configs_for(&[&rustls::version::TLS12]);
        let (mut server, mut client) = pair_with(server, client).await;
        assert_eq!(
            client.get_ref().1.protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_2)
        );
        exchange(&mut server, &mut client, b"over TLS 1.2").await;
        assert_eq!(held(&server), 0, "{server:?}");
    }

    #[tokio::test]
    async fn a_key_update_from_the_client_is_followed() {
        let (mut server, mut client) = pair().await;
        exchange(&mut server, &mut client, b"before").await;
        // The client's next records use new keys (and it asks ours to
        // change too); both directions go on.
        client.get_mut().1.refresh_traffic_keys().unwrap();
        exchange(&mut server, &mut client, b"after the update").await;
        exchange(&mut server, &mut client, b"and after that").await;
    }

    #[tokio::test]
    async fn a_second_connection_resumes_the_session() {
        let (server, client) = configs();
        let (mut s1, mut c1) = pair_with(server.clone(), client.clone()).await;
        // Tickets arrive after the handshake, with the first data.
        exchange(&mut s1, &mut c1, b"first").await;
        let (mut s2, mut c2) = pair_with(server, client).await;
        assert_eq!(
            c2.get_ref().1.handshake_kind(),
            Some(rustls::HandshakeKind::Resumed)
        );
        exchange(&mut s2, &mut c2, b"resumed").await;
    }

    #[tokio::test]
    async fn large_writes_and_reads_arrive_whole() {
        let (mut server, mut client) = pair().await;
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let (read, ()) = tokio::join!(
            async {
                let mut got = vec![0u8; big.len()];
                server.read_exact(&mut got).await.unwrap();
                server.write_all(&got).await.unwrap();
                server.flush().await.unwrap();
                got
            },
            async {
                client.write_all(&big).await.unwrap();
                client.flush().await.unwrap();
            }
        );
        assert_eq!(read, big);
        let mut back = vec![0u8; big.len()];
        client.read_exact(&mut back).await.unwrap();
        assert_eq!(back, big);
        assert_eq!(held(&server), 0, "{server:?}");
    }

    #[tokio::test]
    async fn the_peer_closing_is_the_end_of_reading() {
        let (mut server, mut client) = pair().await;
        client.shutdown().await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(server.read(&mut buf).await.unwrap(), 0);
        // And with no `close_notify` (the socket just ends).
        let (mut server, client) = pair().await;
        let (mut tcp, _) = client.into_inner();
        tcp.shutdown().await.unwrap();
        assert_eq!(server.read(&mut buf).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn what_is_not_tls_fails_at_its_first_bytes() {
        let (server, _) = configs();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut plain = TcpStream::connect(addr).await.unwrap();
        plain
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let (tcp, _) = listener.accept().await.unwrap();
        let accepted = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            TlsStream::accept(tcp, server),
        )
        .await
        .expect("refused at once");
        assert!(accepted.is_err());
    }
}
