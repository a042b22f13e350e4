//! An identity provider's rotating keys: a JSON Web Key Set (RFC 7517),
//! from a URL (`https`, or `http` on loopback) or a file, kept fresh.
//!
//! Why it is built this way:
//! - **Keys by `kid`, each with its algorithm.** A key's `alg` (or, when a
//!   provider leaves it out, its `kty`/`crv`: RSA → RS256, P-256 → ES256,
//!   Ed25519 → EdDSA) is the only algorithm it verifies; a token whose
//!   header names another is refused. `oct` (HMAC) keys and `use: enc` keys
//!   are never taken from a set: a published HMAC key would let anyone sign.
//!   So there is no algorithm confusion and no `alg: none`.
//! - **Refreshed on the provider's schedule, within bounds.** The set is
//!   fetched again after the response's `Cache-Control: max-age`, clamped
//!   to [`JwksOptions::min_refresh`] and [`JwksOptions::max_refresh`], by a
//!   task that dies with the last [`Jwks`] (a drop guard).
//! - **An unknown `kid` fetches again, at most once per `min_refresh`.** A
//!   provider that just rotated signs with a key the hub has not seen; one
//!   fetch finds it. A flood of tokens with random `kid`s must not make the
//!   hub hammer the provider, so a second unknown `kid` within the interval
//!   is refused from the cache, and concurrent ones share one fetch.
//! - **The last good set stays while the provider is down.** Tokens keep
//!   verifying (readiness does not depend on the provider); a warning, and
//!   `sse_hub_jwks_stale` 1 on `/metrics`, say the set is stale. A response
//!   is bounded in size ([`JwksOptions::max_bytes`]) and time
//!   ([`JwksOptions::timeout`]), and redirects are not followed (they could
//!   leave `https`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use parking_lot::{Mutex, RwLock};

use super::error::AuthError;

/// Bounds on fetching a key set.
#[derive(Debug, Clone)]
pub struct JwksOptions {
    /// The shortest time between two fetches (the floor on `max-age`, the
    /// interval for fetching again on an unknown `kid`, and the retry
    /// interval while the provider fails).
    pub min_refresh: Duration,
    /// The longest time a set is kept without fetching again (the ceiling
    /// on `max-age`; also the interval when the provider gives none).
    pub max_refresh: Duration,
    /// Time for one whole fetch (connect, head and body).
    pub timeout: Duration,
    /// The largest response body taken.
    pub max_bytes: usize,
}

impl Default for JwksOptions {
    fn default() -> Self {
        Self {
            min_refresh: Duration::from_secs(60),
            max_refresh: Duration::from_secs(3600),
            timeout: Duration::from_secs(5),
            max_bytes: 256 * 1024,
        }
    }
}

/// Where the set comes from.
#[derive(Debug, Clone)]
enum Source {
    Url(reqwest::Url),
    File(PathBuf),
}

/// A key the set holds: the one algorithm it verifies, and the key.
#[derive(Clone)]
pub(super) struct VerifyKey {
    pub(super) algorithm: Algorithm,
    pub(super) key: DecodingKey,
}

/// One fetched set, by `kid`.
#[derive(Default)]
struct KeySet {
    by_kid: HashMap<String, VerifyKey>,
}

/// What `/metrics` shows about the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksStatus {
    /// Keys in the set in use.
    pub keys: usize,
    /// Fetches made (including failed ones).
    pub fetches: u64,
    /// Fetches that failed (the set in use was kept).
    pub failures: u64,
    /// Whether the last fetch failed: the set in use may be out of date.
    pub stale: bool,
    /// Seconds since the set in use was fetched.
    pub age_secs: u64,
}

/// Refresh bookkeeping, one lock: read and written only around fetches.
struct Schedule {
    /// When the last fetch began (for the unknown-`kid` interval).
    last_attempt: Option<Instant>,
    /// When the set in use was fetched.
    fetched_at: Option<Instant>,
    /// When the refresher fetches next.
    next: Instant,
    stale: bool,
}

struct Shared {
    /// The fetch source and, with a URL, a file to start from if the first
    /// fetch fails.
    source: Source,
    fallback: Option<PathBuf>,
    options: JwksOptions,
    client: reqwest::Client,
    /// The set in use: read by every token check, replaced whole by a
    /// fetch (readers clone the `Arc` and never wait on a fetch).
    keys: RwLock<Arc<KeySet>>,
    schedule: Mutex<Schedule>,
    /// Held across a fetch, so concurrent unknown `kid`s share one.
    fetching: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
    failures: AtomicU64,
    /// Stops the refresher when the last [`Jwks`] goes.
    refresher: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(task) = self.refresher.get_mut().take() {
            task.abort();
        }
    }
}

/// A provider's key set, shared by every clone (see the module docs).
#[derive(Clone)]
pub struct Jwks(Arc<Shared>);

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwks")
            .field("source", &self.0.source)
            .finish_non_exhaustive()
    }
}

impl Jwks {
    /// Keys fetched from `url` (`https`, or `http` on a loopback host),
    /// with `fallback` read if the first fetch fails. Nothing is fetched
    /// until [`Jwks::start`].
    pub fn from_url(
        url: &str,
        fallback: Option<PathBuf>,
        options: JwksOptions,
    ) -> Result<Self, AuthError> {
        let url = checked_url(url)?;
        Self::new(Source::Url(url), fallback, options)
    }

    /// Keys read from a file (read again on the refresh schedule, so
    /// replacing the file rotates them).
    pub fn from_file(path: PathBuf, options: JwksOptions) -> Result<Self, AuthError> {
        Self::new(Source::File(path), None, options)
    }

    fn new(
        source: Source,
        fallback: Option<PathBuf>,
        options: JwksOptions,
    ) -> Result<Self, AuthError> {
        if options.min_refresh.is_zero() || options.min_refresh > options.max_refresh {
            return Err(AuthError::Key(
                "JWKS refresh: the floor must be above zero and at most the ceiling".into(),
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| AuthError::Key(format!("JWKS client: {e}")))?;
        Ok(Self(Arc::new(Shared {
            source,
            fallback,
            options,
            client,
            keys: RwLock::new(Arc::default()),
            schedule: Mutex::new(Schedule {
                last_attempt: None,
                fetched_at: None,
                next: Instant::now(),
                stale: false,
            }),
            fetching: tokio::sync::Mutex::new(()),
            fetches: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            refresher: Mutex::new(None),
        })))
    }

    /// Fetches the first set (or reads the fallback file if that fails)
    /// and starts refreshing it. An error says why no set could be had.
    /// Calling it again does nothing.
    pub async fn start(&self) -> Result<(), AuthError> {
        if self.0.refresher.lock().is_some() {
            return Ok(());
        }
        if let Err(first) = self.fetch().await {
            let Some(path) = &self.0.fallback else {
                return Err(first);
            };
            tracing::warn!(error = %first, file = %path.display(),
                "JWKS: the first fetch failed; starting from the file");
            let set = read_file(path, self.0.options.max_bytes).await?;
            *self.0.keys.write() = Arc::new(set);
        }
        let weak = Arc::downgrade(&self.0);
        let task = tokio::spawn(refresh_loop(weak));
        *self.0.refresher.lock() = Some(task.abort_handle());
        Ok(())
    }

    /// The key for a token's `kid`, fetching the set again if the `kid`
    /// is unknown and the last fetch is older than the floor.
    pub(super) async fn key(&self, kid: Option<&str>) -> Result<VerifyKey, AuthError> {
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let Some(kid) = kid else {
            return Err(AuthError::Invalid(
                "the token names no key (`kid`) and the key set has more than one".into(),
            ));
        };
        let due = |s: &Schedule| {
            s.last_attempt
                .is_none_or(|t| t.elapsed() >= self.0.options.min_refresh)
        };
        if due(&self.0.schedule.lock()) {
            let _one = self.0.fetching.lock().await;
            // Another caller may have fetched while this one waited.
            if self.cached(Some(kid)).is_none() && due(&self.0.schedule.lock()) {
                let _ = self.fetch().await;
            }
        }
        self.cached(Some(kid)).ok_or_else(|| {
            AuthError::Invalid("the token's key (`kid`) is not in the key set".into())
        })
    }

    /// The key for `kid` in the set in use; with no `kid`, the set's only
    /// key if it has exactly one.
    pub(super) fn cached(&self, kid: Option<&str>) -> Option<VerifyKey> {
        let set = self.0.keys.read().clone();
        match kid {
            Some(kid) => set.by_kid.get(kid).cloned(),
            None if set.by_kid.len() == 1 => set.by_kid.values().next().cloned(),
            None => None,
        }
    }

    /// What `/metrics` shows.
    pub fn status(&self) -> JwksStatus {
        let s = self.0.schedule.lock();
        JwksStatus {
            keys: self.0.keys.read().by_kid.len(),
            fetches: self.0.fetches.load(Ordering::Relaxed),
            failures: self.0.failures.load(Ordering::Relaxed),
            stale: s.stale,
            age_secs: s.fetched_at.map_or(0, |t| t.elapsed().as_secs()),
        }
    }

    /// One fetch: on success the set is replaced and the next refresh
    /// set from `max-age`; on failure the set in use stays, marked stale,
    /// and the next try is after the floor.
    async fn fetch(&self) -> Result<(), AuthError> {
        let shared = &self.0;
        let began = Instant::now();
        shared.schedule.lock().last_attempt = Some(began);
        shared.fetches.fetch_add(1, Ordering::Relaxed);
        let got = match &shared.source {
            Source::Url(url) => fetch_url(&shared.client, url, &shared.options).await,
            Source::File(path) => read_file(path, shared.options.max_bytes)
                .await
                .map(|set| (set, None)),
        };
        let mut s = shared.schedule.lock();
        match got {
            Ok((set, max_age)) => {
                let o = &shared.options;
                let every = max_age
                    .unwrap_or(o.max_refresh)
                    .clamp(o.min_refresh, o.max_refresh);
                *shared.keys.write() = Arc::new(set);
                s.fetched_at = Some(began);
                s.next = began + every;
                s.stale = false;
                Ok(())
            }
            Err(e) => {
                shared.failures.fetch_add(1, Ordering::Relaxed);
                s.next = began + shared.options.min_refresh;
                s.stale = true;
                tracing::warn!(error = %e, source = ?shared.source,
                    "JWKS fetch failed: keeping the last good key set (stale)");
                Err(e)
            }
        }
    }
}

/// Fetches on schedule while a [`Jwks`] lives.
async fn refresh_loop(weak: Weak<Shared>) {
    loop {
        let next = match weak.upgrade() {
            Some(shared) => shared.schedule.lock().next,
            None => return,
        };
        tokio::time::sleep_until(next.into()).await;
        let Some(shared) = weak.upgrade() else { return };
        let jwks = Jwks(shared);
        let _one = jwks.0.fetching.lock().await;
        if jwks.0.schedule.lock().next <= Instant::now() {
            let _ = jwks.fetch().await;
        }
    }
}

/// `https`, or `http` on a loopback host; anything else is refused.
fn checked_url(url: &str) -> Result<reqwest::Url, AuthError> {
    let bad = |why: &str| AuthError::Key(format!("JWKS URL: {why}"));
    let url = reqwest::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    let Some(host) = url.host_str() else {
        return Err(bad("it has no host"));
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(bad("must be https (http only on a loopback host)")),
        other => Err(bad(&format!("`{other}` is not https"))),
    }
}

/// GETs a set: its keys and the response's `max-age`.
async fn fetch_url(
    client: &reqwest::Client,
    url: &reqwest::Url,
    options: &JwksOptions,
) -> Result<(KeySet, Option<Duration>), AuthError> {
    let failed = |why: String| AuthError::Key(format!("JWKS fetch from {url}: {why}"));
    let mut res = client
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    if !res.status().is_success() {
        return Err(failed(format!("status {}", res.status())));
    }
    if res
        .content_length()
        .is_some_and(|n| n > options.max_bytes as u64)
    {
        return Err(failed(format!("over {} bytes", options.max_bytes)));
    }
    let max_age = res
        .headers()
        .get_all(reqwest::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(max_age);
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| failed(e.to_string()))? {
        if body.len() + chunk.len() > options.max_bytes {
            return Err(failed(format!("over {} bytes", options.max_bytes)));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((
        parse_set(&body).map_err(|e| failed(e.to_string()))?,
        max_age,
    ))
}

/// The `max-age` of a `Cache-Control` value (`no-cache`/`no-store`: zero,
/// which the floor turns into the shortest interval).
fn max_age(value: &str) -> Option<Duration> {
    value.split(',').map(str::trim).find_map(|d| {
        if d.eq_ignore_ascii_case("no-cache") || d.eq_ignore_ascii_case("no-store") {
            return Some(Duration::ZERO);
        }
        let (k, v) = d.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("max-age")
            .then(|| {
                v.trim()
                    .trim_matches('"')
                    .parse()
                    .ok()
                    .map(Duration::from_secs)
            })
            .flatten()
    })
}

async fn read_file(path: &std::path::Path, max_bytes: usize) -> Result<KeySet, AuthError> {
    let bad = |why: String| AuthError::Key(format!("JWKS file {}: {why}", path.display()));
    let body = tokio::fs::read(path)
        .await
        .map_err(|e| bad(e.to_string()))?;
    if body.len() > max_bytes {
        return Err(bad(format!("over {max_bytes} bytes")));
    }
    parse_set(&body).map_err(|e| bad(e.to_string()))
}

/// The usable keys of a JWKS document; keys that cannot verify (HMAC,
/// encryption, unknown types, malformed) are left out, and a set with none
/// left is an error.
fn parse_set(body: &[u8]) -> Result<KeySet, AuthError> {
    // Entries one by one: a provider's set may hold key types this
    // version does not know, which must not hide the ones it does.
    #[derive(serde::Deserialize)]
    struct Raw {
        keys: Vec<serde_json::Value>,
    }
    let raw: Raw = serde_json::from_slice(body)
        .map_err(|e| AuthError::Key(format!("not a JWKS document ({{\"keys\": [...]}}): {e}")))?;
    let mut set = KeySet::default();
    for entry in raw.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(entry) else {
            continue;
        };
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        let Some(key) = verify_key(&jwk) else {
            continue;
        };
        set.by_kid.insert(kid, key);
    }
    if set.by_kid.is_empty() {
        return Err(AuthError::Key(
            "the key set holds no signing key with a `kid` (RSA, EC P-256/P-384 or Ed25519)".into(),
        ));
    }
    Ok(set)
}

/// The key and its one algorithm, if `jwk` is a public signing key whose
/// `alg` (if given) fits its type.
fn verify_key(jwk: &Jwk) -> Option<VerifyKey> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let natural = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(okp) => match okp.curve {
            EllipticCurve::Ed25519 => Algorithm::EdDSA,
            _ => return None,
        },
        // A published HMAC key would let anyone sign.
        AlgorithmParameters::OctetKey(_) => return None,
    };
    let algorithm = match jwk.common.key_algorithm {
        None => natural,
        Some(declared) => {
            let declared = signing_algorithm(declared)?;
            let fits = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => matches!(
                    declared,
                    Algorithm::RS256
                        | Algorithm::RS384
                        | Algorithm::RS512
                        | Algorithm::PS256
                        | Algorithm::PS384
                        | Algorithm::PS512
                ),
                _ => declared == natural,
            };
            if !fits {
                return None;
            }
            declared
        }
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(VerifyKey { algorithm, key })
}

/// A JWK `alg` that signs with a public key; HMAC and encryption
/// algorithms are `None`.
fn signing_algorithm(alg: KeyAlgorithm) -> Option<Algorithm> {
    Some(match alg {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            max_age("public, max-age=600"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(max_age("Max-Age=\"30\""), Some(Duration::from_secs(30)));
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }

    #[test]
    fn urls_must_be_https_unless_loopback() {
        assert!(checked_url("https://tenant.example/.well-known/jwks.json").is_ok());
        assert!(checked_url("http://127.0.0.1:8080/jwks").is_ok());
        assert!(checked_url("http://[::1]/jwks").is_ok());
        assert!(checked_url("http://localhost/jwks").is_ok());
        assert!(checked_url("http://tenant.example/jwks").is_err());
        assert!(checked_url("file:///etc/jwks.json").is_err());
        assert!(checked_url("not a url").is_err());
    }

    #[test]
    fn hmac_encryption_and_mismatched_keys_are_left_out() {
        // An RSA key claiming ES256, an `oct` key, an encryption key: none
        // is usable, so the set is refused.
        let n = "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw";
        let body = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "a", "alg": "ES256", "n": n, "e": "AQAB"},
            {"kty": "oct", "kid": "b", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "c", "use": "enc", "n": n, "e": "AQAB"},
            {"kty": "RSA", "n": n, "e": "AQAB"},
        ]});
        assert!(parse_set(body.to_string().as_bytes()).is_err());
        let good = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "d", "n": n, "e": "AQAB"},
            {"kty": "future-type", "kid": "e"},
        ]});
        let set = parse_set(good.to_string().as_bytes()).unwrap();
        assert_eq!(set.by_kid.len(), 1);
        assert_eq!(set.by_kid["d"].algorithm, Algorithm::RS256);
    }
}
