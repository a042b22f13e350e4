//! Who is calling, as the application decides: the [`Authenticator`] seam
//! between the hub's routes and however the application signs its users
//! in. The hub's JWT verifier ([`Auth`]) is one implementation; an app
//! with its own sessions implements it over its session store and mounts
//! the hub's routes with it ([`super::Api::with_authenticator`]), without
//! minting tokens for itself (`examples/embed_axum.rs`).
//!
//! Why request parts and a future: a session is found from a cookie or a
//! header and may live in a database or a cache, so the lookup reads the
//! request's head and may wait; the body is never needed.
//!
//! Why [`Access`]: a cookie rides along on every request a browser makes
//! to the hub, whichever page starts it, so a caller known by a cookie may
//! listen (open a stream, change its topics, read history and presence)
//! but a request that acts (publish, admin) must carry its credential
//! itself: no cross-site request can then publish (no CSRF path).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::http::request::Parts;

use super::credentials::{cookie_from_parts, token_from_parts};
use crate::auth::{Auth, AuthError, Principal};

/// What [`Authenticator::authenticate`] returns.
pub type AuthFuture<'a> = Pin<Box<dyn Future<Output = Result<Principal, AuthError>> + Send + 'a>>;

/// What a route does with its caller: which credentials it may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Hearing what the caller may hear: the stream, subscribe and
    /// unsubscribe, history, presence. A cookie may say who is calling.
    Listen,
    /// Changing what others hear: publishing, admin routes. Only a
    /// credential the request carries itself (a header, the query), never
    /// a cookie.
    Act,
}

/// Finds who sent a request. Any error is a 401 with a JSON body (its
/// message is shown to the client: say why, never echo a secret); what
/// the caller may do with the [`Principal`] is checked by each route.
pub trait Authenticator: Send + Sync + 'static {
    /// The caller of the request whose head is `parts`, for a route that
    /// does `access` (an authenticator that reads cookies must not take
    /// one for [`Access::Act`]).
    fn authenticate<'a>(&'a self, parts: &'a Parts, access: Access) -> AuthFuture<'a>;
}

/// Tokens from `Authorization: Bearer`, `x-auth-token` or `?token=`, and
/// for [`Access::Listen`] from the cookie named by [`Auth::with_cookie`].
impl Authenticator for Auth {
    fn authenticate<'a>(&'a self, parts: &'a Parts, access: Access) -> AuthFuture<'a> {
        let token = token_from_parts(parts)
            .filter(|t| !t.is_empty())
            .or_else(|| match (access, self.cookie()) {
                (Access::Listen, Some(name)) => cookie_from_parts(parts, name),
                _ => None,
            });
        Box::pin(async move { self.check(&token.ok_or(AuthError::Missing)?).await })
    }
}

/// The authenticator the hub's routes use, as their state gives it
/// (`FromRef`): the [`Principal`] extractor works in any axum state that
/// can hand one out.
#[derive(Clone)]
pub struct Authenticate(pub Arc<dyn Authenticator>);

impl Authenticate {
    /// Wraps `authenticator`.
    pub fn new(authenticator: impl Authenticator) -> Self {
        Self(Arc::new(authenticator))
    }
}

impl std::fmt::Debug for Authenticate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authenticate(..)")
    }
}

impl From<Auth> for Authenticate {
    fn from(auth: Auth) -> Self {
        Self::new(auth)
    }
}
