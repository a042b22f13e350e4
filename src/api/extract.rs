//! Request extractors whose rejections are [`ApiError`]s, so a malformed
//! body or a missing token gets the same JSON error shape as everything
//! else: the JSON body, and the caller ([`Principal`]) from the state's
//! [`Authenticate`] (by default: its token).
//!
//! Tokens come from `Authorization: Bearer`, the `x-auth-token` header or
//! the `?token=` query parameter (the browser's `EventSource` cannot set
//! headers).

use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::Json;
use serde::de::DeserializeOwned;

use super::authenticator::{Access, Authenticate};
use super::error::ApiError;
use crate::auth::Principal;

/// `Json<T>` with JSON errors.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(v) = Json::<T>::from_request(req, state).await?;
        Ok(ApiJson(v))
    }
}

/// Finds the token in a request: `Authorization: Bearer`, then
/// `x-auth-token`, then `?token=`.
pub fn token_from_parts(parts: &Parts) -> Option<String> {
    if let Some(v) = parts.headers.get(axum::http::header::AUTHORIZATION) {
        let v = v.to_str().ok()?;
        let (scheme, token) = v.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_string());
    }
    if let Some(v) = parts.headers.get("x-auth-token") {
        return v.to_str().ok().map(|s| s.trim().to_string());
    }
    let query = parts.uri.query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// The query parameters of a small GET endpoint, `token` left out: 400
/// JSON for any key not in `known`, so a typo is an error, not ignored.
pub(super) fn query_params(
    uri: &axum::http::Uri,
    known: &[&str],
) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        if k == "token" {
            continue;
        }
        if !known.contains(&&*k) {
            return Err(ApiError::BadRequest(format!(
                "unknown parameter `{}`",
                k.chars().take(64).collect::<String>()
            )));
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Ok(out)
}

/// Who is calling a route that acts (publish, admin: [`Access::Act`]), as
/// the state's [`Authenticate`] says (401 if no one).
impl<S> FromRequestParts<S> for Principal
where
    Authenticate: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Authenticate(authenticator) = Authenticate::from_ref(state);
        Ok(authenticator.authenticate(parts, Access::Act).await?)
    }
}

/// Who is calling a route that listens (stream, subscribe, history,
/// presence: [`Access::Listen`]; a session cookie may say it).
#[derive(Debug, Clone)]
pub struct Listener(pub Principal);

impl<S> FromRequestParts<S> for Listener
where
    Authenticate: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Authenticate(authenticator) = Authenticate::from_ref(state);
        Ok(Listener(
            authenticator.authenticate(parts, Access::Listen).await?,
        ))
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie_from_parts(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}
