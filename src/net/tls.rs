//! HTTPS with HTTP/2 and HTTP/1.1, without a proxy in front.
//!
//! Over plain HTTP/1.1 a browser holds at most six connections per host,
//! so a seventh tab's stream waits forever; over HTTP/2 every tab's stream
//! shares one connection. Browsers speak HTTP/2 only over TLS, so the hub
//! terminates TLS itself (rustls) and offers `h2` and `http/1.1` by ALPN.
//!
//! Connections here are served by hyper (its HTTP/2 stack is the part worth
//! reusing), under the same rules as the plain front:
//! - the TLS handshake must finish within [`ServeOptions::header_timeout`]
//!   (plain HTTP sent to this port fails the handshake at its first bytes
//!   and is closed at once);
//! - every request must have its answer within that time (a body dripped
//!   or never sent gets 408, over either protocol);
//! - a connection with no request in flight for that long is closed (an
//!   idle keep-alive, or a peer that opened TLS and said nothing);
//! - writes that stall past [`ServeOptions::write_stall`] fail the
//!   connection (the socket is a [`StallGuard`]);
//! - heads over [`ServeOptions::max_head_bytes`] are refused (431 on
//!   HTTP/1.1; HTTP/2's `SETTINGS_MAX_HEADER_LIST_SIZE`), and one HTTP/2
//!   connection carries at most [`MAX_H2_STREAMS`] requests at once.
//!
//! The certificate is read through a resolver that can be swapped while
//! connections are open: [`TlsConfig::reload`] (SIGHUP in the binary) reads
//! the same files again; a file that does not load leaves the old pair in
//! place and says why.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use parking_lot::RwLock;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::options::ServeOptions;
use super::stall::StallGuard;

/// Requests one HTTP/2 connection may have open at once (a browser puts
/// every tab's stream on one connection; 100 is what most servers allow).
pub const MAX_H2_STREAMS: u32 = 100;

/// Why a certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no PEM of the expected kind.
    #[error("{path}: {why}")]
    File {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        why: String,
    },
    /// rustls refused the pair (a key that does not match the certificate,
    /// an unsupported key type).
    #[error("certificate {cert} with key {key}: {source}")]
    Pair {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        source: rustls::Error,
    },
}

/// A certificate and key from PEM files, shared by every connection and
/// swappable while they are open.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    current: Arc<Current>,
    server: Arc<rustls::ServerConfig>,
}

#[derive(Debug)]
struct Current {
    cert_path: PathBuf,
    key_path: PathBuf,
    /// Read by every handshake, written by a reload: a lock held for the
    /// time of an `Arc` clone.
    pair: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Current {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.pair.read().clone())
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_pair(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let file_error = |path: &Path, why: String| TlsError::File {
        path: path.to_path_buf(),
        why,
    };
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| file_error(cert, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(file_error(cert, "no PEM certificate in it".into()));
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, e.to_string()))?;
    CertifiedKey::from_der(certs, private, &provider()).map_err(|source| TlsError::Pair {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        source,
    })
}

impl TlsConfig {
    /// Reads the PEM certificate chain at `cert` and its private key at
    /// `key` (PKCS#8, PKCS#1 or SEC1).
    pub fn load(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let pair = read_pair(cert, key)?;
        let current = Arc::new(Current {
            cert_path: cert.to_path_buf(),
            key_path: key.to_path_buf(),
            pair: RwLock::new(Arc::new(pair)),
        });
        let mut server = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|source| TlsError::Pair {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
                source,
            })?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            current,
            server: Arc::new(server),
        })
    }

    /// Reads the files again; new handshakes use the new pair, open
    /// connections keep theirs. On error the old pair stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let pair = read_pair(&self.current.cert_path, &self.current.key_path)?;
        *self.current.pair.write() = Arc::new(pair);
        Ok(())
    }
}

/// Serves `app` over TLS on `listener` until `shutdown` resolves, then
/// stops accepting and returns once every connection has finished (see
/// [`super::serve`] for how streams end).
pub async fn serve_tls<F>(
    listener: TcpListener,
    app: Router,
    options: ServeOptions,
    tls: TlsConfig,
    shutdown: F,
) where
    F: Future<Output = ()> + Send,
{
    let options = Arc::new(options);
    let acceptor = TlsAcceptor::from(tls.server.clone());
    super::accept::serve_each(listener, shutdown, |sock, peer, stop| {
        connection(
            sock,
            peer,
            app.clone(),
            options.clone(),
            acceptor.clone(),
            stop,
        )
    })
    .await;
}

/// Requests of one connection: how many are open (their answers' bodies
/// alive) and how many were ever started, for the idle deadline.
#[derive(Default)]
struct Activity {
    open: AtomicUsize,
    started: AtomicU64,
}

/// Holds a request's place in [`Activity::open`] until its answer's body
/// is dropped (a stream's, when the stream ends).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn connection(
    sock: TcpStream,
    peer: SocketAddr,
    app: Router,
    options: Arc<ServeOptions>,
    acceptor: TlsAcceptor,
    stop: CancellationToken,
) {
    let _ = sock.set_nodelay(true);
    let sock = StallGuard::new(sock, options.write_stall);
    let tls = tokio::select! {
        tls = tokio::time::timeout(options.header_timeout, acceptor.accept(sock)) => tls,
        () = stop.cancelled() => return,
    };
    let Ok(Ok(tls)) = tls else {
        // Not TLS, a failed handshake, or one too slow: nothing to answer.
        return;
    };
    let activity = Arc::new(Activity::default());
    let deadline = options.header_timeout;
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |req: http::Request<Incoming>| {
            activity.open.fetch_add(1, Ordering::Relaxed);
            activity.started.fetch_add(1, Ordering::Relaxed);
            let in_flight = InFlight(activity.clone());
            let app = app.clone();
            async move {
                let mut req = req.map(Body::new);
                req.extensions_mut().insert(ConnectInfo(peer));
                let res = match tokio::time::timeout(deadline, app.oneshot(req)).await {
                    Ok(Ok(res)) => res,
                    Ok(Err(never)) => match never {},
                    Err(_) => timed_out(),
                };
                // The request stays open until its body is gone.
                Ok::<_, std::convert::Infallible>(res.map(move |body| {
                    Body::new(body.map_frame(move |f| {
                        let _ = &in_flight;
                        f
                    }))
                }))
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        .max_buf_size(options.hyper_buf_size())
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_H2_STREAMS)
        .max_header_list_size(options.max_head_bytes as u32)
        // A peer that vanished without a FIN is found by its missing pong.
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    let conn = builder.serve_connection(TokioIo::new(tls), service);
    tokio::pin!(conn);
    let mut idle_check = tokio::time::interval(deadline);
    idle_check.tick().await;
    let mut seen = 0;
    let mut closing = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = idle_check.tick() => {
                let started = activity.started.load(Ordering::Relaxed);
                let idle = activity.open.load(Ordering::Relaxed) == 0 && started == seen;
                seen = started;
                if idle {
                    if closing {
                        // It was asked to go a period ago and has not.
                        return;
                    }
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
            () = stop.cancelled(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// 408 with the API's JSON error body.
fn timed_out() -> axum::response::Response {
    let body = serde_json::json!({
        "error": "the request did not arrive in time",
        "code": "request_timeout",
    });
    let mut res = axum::response::Response::new(Body::from(body.to_string()));
    *res.status_mut() = http::StatusCode::REQUEST_TIMEOUT;
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    res
}
