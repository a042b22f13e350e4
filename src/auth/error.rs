//! Why a request was not authenticated: one error type for the verifier,
//! the claim paths and the key set, which the API answers with a 401 and a
//! JSON body (its message is shown to the client, so it never holds a
//! secret).

use thiserror::Error;

/// Why a request was not authenticated.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No token in any of the accepted places.
    #[error("missing token: send Authorization: Bearer, x-auth-token or ?token=")]
    Missing,
    /// The token has expired.
    #[error("token expired")]
    Expired,
    /// The token is not valid yet (`nbf` in the future).
    #[error("token not yet valid")]
    NotYetValid,
    /// The token's `aud` does not name this hub (or it has one and no
    /// audience is configured), or it lacks one that is required.
    #[error("invalid token: its audience (`aud`) is not this hub's")]
    Audience,
    /// The token's `iss` is not the configured issuer, or it has none.
    #[error("invalid token: its issuer (`iss`) is not the one this hub trusts")]
    Issuer,
    /// Anything else: malformed, bad signature, wrong algorithm, bad claims.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// A key could not be loaded.
    #[error("bad key: {0}")]
    Key(String),
    /// Tokens can only be issued with an HMAC secret.
    #[error("this hub cannot issue tokens (it only holds a public key)")]
    CannotIssue,
}
