//! The certificate and key a TLS listener presents, read from PEM files
//! and swappable while connections are open: [`TlsConfig::reload`]
//! (SIGHUP in the binary) reads the same files again; a file that does
//! not load leaves the old pair in place and says why.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

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
    /// What every handshake starts from (its resolver is `current`).
    pub(super) server: Arc<rustls::ServerConfig>,
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
