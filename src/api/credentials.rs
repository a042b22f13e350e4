//! Where a request carries its credential: a token in `Authorization:
//! Bearer`, the `x-auth-token` header or `?token=` (the browser's
//! `EventSource` cannot set headers), or a cookie. Reading only: what a
//! credential is worth is the [`super::Authenticator`]'s call.

use axum::http::request::Parts;

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
