//! The hub inside your own axum app, with your own sign-in: no JWTs.
//!
//! The app keeps its own sessions (here in memory; in yours, a database or
//! `tower-sessions`): `POST /login` signs a user in and sets an HttpOnly
//! session cookie. The hub's routes are mounted with an
//! [`sse_hub::Authenticator`] that knows callers by that cookie, so the
//! browser's stream (`GET /api/sse/stream`, `credentials: 'include'`) and
//! the app's own handlers share one notion of who is signed in. The app
//! publishes from its handlers with the typed helpers
//! (`POST /orders/{id}/ship` notifies the signed-in user).
//!
//! Run it with `cargo run --example embed_axum` (then
//! `curl -c jar -d '{"user":"ann"}' -H 'content-type: application/json'
//! localhost:3000/login`, `curl -b jar -N localhost:3000/api/sse/stream`
//! and, in another shell, `curl -b jar -X POST localhost:3000/orders/7/ship`);
//! `tests/it/embed.rs` serves it and checks the whole round trip.
//!
//! A cookie rides along on cross-site requests, so the authenticator
//! knows a session only on the routes that listen ([`Access::Listen`]:
//! stream, subscribe, history, presence); the hub's publish and admin
//! routes ([`Access::Act`]) answer 401 to a session, and only the app's
//! own handlers publish (an app's own state-changing routes need its own
//! CSRF guard; `SameSite=Lax` is the start of one).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, request::Parts, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::json;
use sse_hub::api::{Access, AuthFuture};
use sse_hub::{Api, AuthError, Authenticator, Hub, HubConfig, Level, Principal, Role, UserId};

/// The session cookie's name.
pub const COOKIE: &str = "session";
/// How long a session lasts.
const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);

/// The app's sessions: session id → (user, expiry in unix seconds).
#[derive(Clone, Default)]
pub struct Sessions(Arc<Mutex<HashMap<String, (UserId, u64)>>>);

impl Sessions {
    fn start(&self, user: UserId) -> String {
        let id = format!("{:032x}", rand::random::<u128>());
        let exp = now() + SESSION_TTL.as_secs();
        self.0.lock().insert(id.clone(), (user, exp));
        id
    }

    /// Who holds the session whose id the request's cookie carries.
    fn user_of(&self, parts: &Parts) -> Option<(UserId, u64)> {
        let id = sse_hub::api::cookie_from_parts(parts, COOKIE)?;
        let (user, exp) = self.0.lock().get(&id).cloned()?;
        (exp > now()).then_some((user, exp))
    }
}

fn now() -> u64 {
    sse_hub::event::unix_ms() / 1000
}

/// Knows the hub's callers by the app's session cookie.
struct SessionAuth(Sessions);

impl Authenticator for SessionAuth {
    fn authenticate<'a>(&'a self, parts: &'a Parts, access: Access) -> AuthFuture<'a> {
        let who = match access {
            Access::Listen => self
                .0
                .user_of(parts)
                .map(|(user, exp)| Principal::new(user, Role::User, exp))
                .ok_or_else(|| {
                    AuthError::Invalid("not signed in (no valid session cookie)".into())
                }),
            Access::Act => Err(AuthError::Invalid(
                "a session cookie cannot publish or administer (the app's own routes do)".into(),
            )),
        };
        Box::pin(std::future::ready(who))
    }
}

#[derive(Clone)]
struct AppState {
    hub: Hub,
    sessions: Sessions,
}

#[derive(Deserialize)]
struct Login {
    user: String,
}

/// `POST /login {"user": "ann"}`: a real app checks a password or an
/// identity provider here.
async fn login(State(app): State<AppState>, Json(body): Json<Login>) -> Response {
    let Ok(user) = UserId::new(&body.user) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "bad user id"})),
        )
            .into_response();
    };
    let id = app.sessions.start(user);
    let cookie = format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}",
        SESSION_TTL.as_secs()
    );
    ([(header::SET_COOKIE, cookie)], Json(json!({"ok": true}))).into_response()
}

/// `POST /orders/{id}/ship`: the app's own handler, publishing with the
/// typed helpers to the signed-in user's streams.
async fn ship(State(app): State<AppState>, Path(order): Path<u64>, parts: Parts) -> Response {
    let Some((user, _)) = app.sessions.user_of(&parts) else {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "sign in first"})),
        )
            .into_response();
    };
    match app
        .hub
        .notify_user(&user, &format!("order {order} shipped"), Level::Success)
        .await
    {
        Ok(delivered) => Json(json!({"delivered": delivered})).into_response(),
        Err(e) => sse_hub::ApiError::from(e).into_response(),
    }
}

/// The whole app: its own routes and the hub's, one session store.
pub fn app(hub: Hub) -> Router {
    let sessions = Sessions::default();
    let hub_routes = Api::with_authenticator(hub.clone(), SessionAuth(sessions.clone())).router();
    Router::new()
        .route("/login", post(login))
        .route("/orders/{id}/ship", post(ship))
        .with_state(AppState { hub, sessions })
        .merge(hub_routes)
}

#[allow(dead_code)] // the test serves `app` itself
#[tokio::main]
async fn main() -> std::io::Result<()> {
    let hub = Hub::new(HubConfig::default());
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let stopping = hub.clone();
    sse_hub::net::serve(
        listener,
        app(hub),
        sse_hub::net::ServeOptions::default(),
        async move {
            shutdown.await;
            stopping.shutdown();
        },
    )
    .await;
    Ok(())
}
