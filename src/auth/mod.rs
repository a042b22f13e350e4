//! Who is calling: JWT verification, in plain Rust (no HTTP here; the
//! axum extractor that finds the token in a request is
//! [`crate::api::token_from_parts`] and its `Principal` extractor).
//!
//! Only the algorithm the hub was configured with is accepted, so
//! `alg: none` and algorithm-confusion tokens fail like any other bad
//! signature. The API answers every failure with a 401 and a JSON body;
//! permission checks (403) happen in the handlers, which know what is asked.
//!
//! Which tokens are meant for this hub: an identity provider signs tokens
//! for many applications with the same keys, so a token is only taken when
//! its `aud` names this hub ([`Audience`]) and, if an issuer is set, its
//! `iss` is that issuer. A token that carries an `aud` is refused unless an
//! audience is configured: whoever it was meant for, it was not said to be
//! us. `exp` and `nbf` are checked with a leeway for clock skew
//! ([`DEFAULT_LEEWAY`], at most [`MAX_LEEWAY`]).
//!
//! Keys: an HMAC secret, one public key (PEM), or a provider's rotating
//! key set ([`Jwks`], see [`jwks`]), where each key verifies the
//! one algorithm it is published for.

mod claims;
mod error;
pub mod jwks;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::event::{unix_ms, UserId};
use crate::pattern::{Grants, TopicPattern};

pub use self::claims::{ClaimMapping, ClaimPath, RoleMap};
pub use self::error::AuthError;
pub use self::jwks::{Jwks, JwksOptions, JwksStatus};
pub use sse_protocol::{Role, TopicGrants};

/// Most pairs in a token's `meta` claim, and their sizes.
const MAX_META_PAIRS: usize = 16;
const MAX_META_KEY: usize = 64;
const MAX_META_VALUE: usize = 256;

/// Clock skew forgiven on `exp` and `nbf` unless set otherwise.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// The most clock skew [`Auth::with_leeway`] accepts: beyond, an expired
/// token would stay good for too long.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// Which `aud` a token must carry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Audience {
    /// None: a token with an `aud` claim is refused (the default; right
    /// for tokens the hub's own services sign with its secret).
    #[default]
    NoneAccepted,
    /// Any `aud`, or none: said explicitly by an operator whose provider
    /// issues tokens for this hub alone.
    Any,
    /// The token's `aud` (a string or an array) must name one of these.
    OneOf(Vec<String>),
}

/// The claims the hub reads from a token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The role; absent means [`Role::User`].
    #[serde(default)]
    pub role: Option<Role>,
    /// Expiry, unix seconds (required).
    pub exp: u64,
    /// Issue time, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Not valid before, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Topic grants (see [`TopicGrants`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topics: Option<TopicGrants>,
    /// Trusted connection metadata: string values the client cannot
    /// change, for `{"metadata": ...}` targets (at most 16 pairs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<BTreeMap<String, String>>,
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// Their user id.
    pub user: UserId,
    /// Their role.
    pub role: Role,
    /// When their token expires, unix seconds.
    pub exp: u64,
    /// Which topics they may hear and publish to (the `topics` claim).
    pub grants: Grants,
    /// Trusted metadata (the `meta` claim): set on their connections,
    /// whatever the query string says.
    pub meta: BTreeMap<String, String>,
}

impl Principal {
    /// A caller with no grants and no trusted metadata.
    pub fn new(user: UserId, role: Role, exp: u64) -> Self {
        Self {
            user,
            role,
            exp,
            grants: Grants::default(),
            meta: BTreeMap::new(),
        }
    }

    /// Whether the caller is an admin.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// What verifies a token's signature.
#[derive(Clone)]
enum Keys {
    /// One key, for the configured algorithm.
    One(Arc<DecodingKey>),
    /// A provider's set: the token's `kid` picks the key and the key its
    /// algorithm.
    Set(Jwks),
}

/// Token verification (and, with an HMAC secret, issuing demo tokens).
#[derive(Clone)]
pub struct Auth {
    // Shared: an `Auth` is cloned into every request's extractor, and the
    // validation rules never change after construction (a key set
    // refreshes inside its own shared state).
    keys: Keys,
    encoding: Option<Arc<EncodingKey>>,
    validation: Arc<Validation>,
    algorithm: Algorithm,
    demo_tokens: bool,
    demo_token_ttl: Duration,
    audience: Audience,
    /// Where the claims are (see [`ClaimMapping`]).
    claims: Arc<ClaimMapping>,
    /// The cookie a listening request may carry its token in.
    cookie: Option<Arc<str>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("algorithm", &self.algorithm)
            .field("demo_tokens", &self.demo_tokens)
            .finish_non_exhaustive()
    }
}

impl Auth {
    fn with_keys(
        algorithm: Algorithm,
        decoding: DecodingKey,
        encoding: Option<EncodingKey>,
    ) -> Self {
        let mut validation = Validation::new(algorithm);
        validation.leeway = DEFAULT_LEEWAY.as_secs();
        validation.validate_nbf = true;
        // jsonwebtoken's default already refuses a token with an `aud`
        // when no audience is set: that is `Audience::NoneAccepted`.
        validation.validate_aud = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            keys: Keys::One(Arc::new(decoding)),
            encoding: encoding.map(Arc::new),
            validation: Arc::new(validation),
            algorithm,
            demo_tokens: false,
            demo_token_ttl: Duration::from_secs(3600),
            audience: Audience::NoneAccepted,
            claims: Arc::new(ClaimMapping::default()),
            cookie: None,
        }
    }

    /// HS256 with a shared secret; can also issue tokens.
    pub fn hs256(secret: &[u8]) -> Self {
        Self::with_keys(
            Algorithm::HS256,
            DecodingKey::from_secret(secret),
            Some(EncodingKey::from_secret(secret)),
        )
    }

    /// RS256, verifying with a PEM public key.
    pub fn rs256_pem(public_pem: &[u8]) -> Result<Self, AuthError> {
        let key =
            DecodingKey::from_rsa_pem(public_pem).map_err(|e| AuthError::Key(e.to_string()))?;
        Ok(Self::with_keys(Algorithm::RS256, key, None))
    }

    /// ES256, verifying with a PEM public key.
    pub fn es256_pem(public_pem: &[u8]) -> Result<Self, AuthError> {
        let key =
            DecodingKey::from_ec_pem(public_pem).map_err(|e| AuthError::Key(e.to_string()))?;
        Ok(Self::with_keys(Algorithm::ES256, key, None))
    }

    /// Keys from a provider's key set (RS256, ES256, EdDSA and the other
    /// public-key algorithms, by each key's `alg`); call [`Auth::start`]
    /// before serving, so that the first fetch happens (and fails) at start.
    pub fn jwks(jwks: Jwks) -> Self {
        // The algorithm here is a placeholder: each check uses the key's.
        let mut auth = Self::with_keys(Algorithm::RS256, DecodingKey::from_secret(&[]), None);
        auth.keys = Keys::Set(jwks);
        auth
    }

    /// Fetches a key set the first time and starts refreshing it (see
    /// [`Jwks::start`]); nothing to do for a secret or a PEM key.
    pub async fn start(&self) -> Result<(), AuthError> {
        match &self.keys {
            Keys::One(_) => Ok(()),
            Keys::Set(jwks) => jwks.start().await,
        }
    }

    /// The key set's state, if keys come from one (for `/metrics`).
    pub fn jwks_status(&self) -> Option<JwksStatus> {
        match &self.keys {
            Keys::One(_) => None,
            Keys::Set(jwks) => Some(jwks.status()),
        }
    }

    /// The `aud` a token must carry (see [`Audience`]).
    pub fn with_audience(mut self, audience: Audience) -> Self {
        let v = Arc::make_mut(&mut self.validation);
        v.aud = None;
        v.required_spec_claims.remove("aud");
        match &audience {
            Audience::NoneAccepted => v.validate_aud = true,
            Audience::Any => v.validate_aud = false,
            Audience::OneOf(names) => {
                v.validate_aud = true;
                v.set_audience(names);
                v.required_spec_claims.insert("aud".into());
            }
        }
        self.audience = audience;
        self
    }

    /// The issuer a token's `iss` must be (`None`: not checked).
    pub fn with_issuer(mut self, issuer: Option<String>) -> Self {
        let v = Arc::make_mut(&mut self.validation);
        match &issuer {
            Some(iss) => {
                v.set_issuer(&[iss]);
                v.required_spec_claims.insert("iss".into());
            }
            None => {
                v.iss = None;
                v.required_spec_claims.remove("iss");
            }
        }
        self
    }

    /// The clock skew forgiven on `exp` and `nbf` (at most [`MAX_LEEWAY`]).
    pub fn with_leeway(mut self, leeway: Duration) -> Result<Self, AuthError> {
        if leeway > MAX_LEEWAY {
            return Err(AuthError::Key(format!(
                "a leeway of {} s is more than the {} s allowed",
                leeway.as_secs(),
                MAX_LEEWAY.as_secs()
            )));
        }
        Arc::make_mut(&mut self.validation).leeway = leeway.as_secs();
        Ok(self)
    }

    /// Where the user id, role, grants and metadata are read from, and
    /// how provider roles translate (see [`ClaimMapping`]).
    pub fn with_claims(mut self, claims: ClaimMapping) -> Self {
        let v = Arc::make_mut(&mut self.validation);
        v.required_spec_claims.remove("sub");
        if claims.user.is_key("sub") {
            v.required_spec_claims.insert("sub".into());
        }
        self.claims = Arc::new(claims);
        self
    }

    /// Also takes the token from the cookie `name` (HttpOnly, set by the
    /// application when the user signs in, so no page script holds the
    /// token) on the routes that listen: the stream, subscribe and
    /// unsubscribe, history and presence. Publishing and admin routes never
    /// read it: a cookie rides along on cross-site requests.
    pub fn with_cookie(mut self, name: Option<String>) -> Self {
        self.cookie = name.filter(|n| !n.is_empty()).map(Arc::from);
        self
    }

    /// The cookie listening requests may carry their token in.
    pub fn cookie(&self) -> Option<&str> {
        self.cookie.as_deref()
    }

    /// The audience tokens must name.
    pub fn audience(&self) -> &Audience {
        &self.audience
    }

    /// Whether tokens are checked with a key the hub does not hold the
    /// private half of (a provider's public key), so other applications'
    /// tokens may be signed with it too.
    pub fn verifies_foreign_tokens(&self) -> bool {
        self.encoding.is_none()
    }

    /// Turns `POST /api/auth/demo-token` on or off (off by default).
    pub fn with_demo_tokens(mut self, on: bool, ttl: Duration) -> Self {
        self.demo_tokens = on;
        self.demo_token_ttl = ttl;
        self
    }

    /// Whether demo tokens may be minted.
    pub fn demo_tokens(&self) -> bool {
        self.demo_tokens
    }

    /// Lifetime of demo tokens.
    pub fn demo_token_ttl(&self) -> Duration {
        self.demo_token_ttl
    }

    /// Checks a token and returns who it names. With a key set, a token
    /// signed by a key not in the set in use is refused; [`Auth::check`]
    /// fetches the set again first (within its limits).
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        match &self.keys {
            Keys::One(key) => self.verify_with(token, key, &self.validation),
            Keys::Set(jwks) => {
                let (kid, alg) = header_of(token)?;
                let key = jwks.cached(kid.as_deref()).ok_or_else(|| {
                    AuthError::Invalid("the token's key (`kid`) is not in the key set".into())
                })?;
                self.verify_set_key(token, alg, &key)
            }
        }
    }

    /// [`Auth::verify`], fetching a key set again when the token names a
    /// key it does not hold yet (a rotation), at most once per the set's
    /// floor interval.
    pub async fn check(&self, token: &str) -> Result<Principal, AuthError> {
        match &self.keys {
            Keys::One(key) => self.verify_with(token, key, &self.validation),
            Keys::Set(jwks) => {
                let (kid, alg) = header_of(token)?;
                let key = jwks.key(kid.as_deref()).await?;
                self.verify_set_key(token, alg, &key)
            }
        }
    }

    /// A key from a set verifies only the algorithm it was published for.
    fn verify_set_key(
        &self,
        token: &str,
        alg: Algorithm,
        key: &jwks::VerifyKey,
    ) -> Result<Principal, AuthError> {
        if alg != key.algorithm {
            return Err(AuthError::Invalid(format!(
                "the token says {alg:?}, its key is for {:?}",
                key.algorithm
            )));
        }
        let mut validation = (*self.validation).clone();
        validation.algorithms = vec![key.algorithm];
        self.verify_with(token, &key.key, &validation)
    }

    fn verify_with(
        &self,
        token: &str,
        key: &DecodingKey,
        validation: &Validation,
    ) -> Result<Principal, AuthError> {
        use jsonwebtoken::errors::ErrorKind;
        let data = jsonwebtoken::decode::<serde_json::Value>(token, key, validation).map_err(
            |e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                ErrorKind::InvalidAudience => AuthError::Audience,
                ErrorKind::InvalidIssuer => AuthError::Issuer,
                ErrorKind::MissingRequiredClaim(c) if c == "aud" => AuthError::Audience,
                ErrorKind::MissingRequiredClaim(c) if c == "iss" => AuthError::Issuer,
                other => AuthError::Invalid(format!("{other:?}")),
            },
        )?;
        let payload = data.claims;
        let map = &*self.claims;
        let exp = payload
            .get("exp")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| AuthError::Invalid("`exp` must be a number of seconds".into()))?;
        let invalid = |e: crate::error::HubError| AuthError::Invalid(e.to_string());
        let user = UserId::new(map.user(&payload)?).map_err(invalid)?;
        let role = map.role(&payload)?;
        let topics: TopicGrants = ClaimMapping::read(&map.topics, &payload)?.unwrap_or_default();
        let grants = Grants {
            subscribe: topics
                .subscribe
                .as_deref()
                .map(TopicPattern::parse_all)
                .transpose()
                .map_err(invalid)?,
            publish: topics
                .publish
                .as_deref()
                .map(TopicPattern::parse_all)
                .transpose()
                .map_err(invalid)?,
        };
        let meta: BTreeMap<String, String> =
            ClaimMapping::read(&map.meta, &payload)?.unwrap_or_default();
        let bad_meta = meta.len() > MAX_META_PAIRS
            || meta.iter().any(|(k, v)| {
                k.is_empty()
                    || k.len() > MAX_META_KEY
                    || v.len() > MAX_META_VALUE
                    || k.chars().chain(v.chars()).any(char::is_control)
            });
        if bad_meta {
            return Err(AuthError::Invalid(format!(
                "`meta` takes at most {MAX_META_PAIRS} string pairs of {MAX_META_KEY}/{MAX_META_VALUE} bytes"
            )));
        }
        Ok(Principal {
            user,
            role,
            exp,
            grants,
            meta,
        })
    }

    /// Signs a token for `user` with `role`, valid for `ttl`.
    pub fn issue(&self, user: &UserId, role: Role, ttl: Duration) -> Result<String, AuthError> {
        self.issue_with_grants(user, role, ttl, None)
    }

    /// [`Auth::issue`] with a `topics` claim.
    pub fn issue_with_grants(
        &self,
        user: &UserId,
        role: Role,
        ttl: Duration,
        topics: Option<TopicGrants>,
    ) -> Result<String, AuthError> {
        let now = unix_ms() / 1000;
        self.sign(&Claims {
            sub: user.to_string(),
            role: Some(role),
            exp: now + ttl.as_secs(),
            iat: Some(now),
            nbf: None,
            topics,
            meta: None,
        })
    }

    /// Signs `claims` as they are.
    pub fn sign(&self, claims: &Claims) -> Result<String, AuthError> {
        let key = self.encoding.as_ref().ok_or(AuthError::CannotIssue)?;
        jsonwebtoken::encode(&Header::new(self.algorithm), claims, key)
            .map_err(|e| AuthError::Invalid(e.to_string()))
    }
}

/// A token's `kid` and `alg`, read before its signature is checked (only
/// to pick the key; `alg: none` and unknown algorithms fail here).
fn header_of(token: &str) -> Result<(Option<String>, Algorithm), AuthError> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|e| AuthError::Invalid(format!("bad header: {e}")))?;
    Ok((header.kid, header.alg))
}
