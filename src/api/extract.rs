//! Request extractors whose rejections are [`ApiError`]s, so a malformed
//! body or a missing token gets the same JSON error shape as everything
//! else: the JSON body, and the caller ([`Principal`], [`Listener`]) from
//! the state's [`Authenticate`] (by default: its token, found where
//! [`super::credentials`] looks).

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
        caller(parts, state, Access::Act).await
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
        Ok(Listener(caller(parts, state, Access::Listen).await?))
    }
}

/// The caller, as the state's authenticator says for `access`.
async fn caller<S>(parts: &Parts, state: &S, access: Access) -> Result<Principal, ApiError>
where
    Authenticate: FromRef<S>,
{
    let Authenticate(authenticator) = Authenticate::from_ref(state);
    Ok(authenticator.authenticate(parts, access).await?)
}
