//! The demo endpoints behind `/sse-demo`: minting tokens for demo users,
//! cookie sessions for `/session-demo`, and triggering each kind of event.
//!
//! They are a router of their own, [`crate::Api::demo_router`], which the
//! binary mounts only in demo mode (`--demo true`); [`crate::router`] never
//! contains them, so
//! a deployment cannot expose them by forgetting a flag. Tokens are only
//! minted when the hub's [`crate::Auth`] has demo tokens on as well. Since
//! anyone can be anyone in demo mode, every demo request is small (4 KiB)
//! and rate limited per user and overall (429 with `Retry-After` beyond).
//!
//! Why a session route next to the token route: an app whose sign-in sets
//! an HttpOnly cookie (so no page script ever holds the token) is how
//! [`crate::Auth::with_cookie`] is meant to be used, and `/session-demo`
//! shows it end to end, the hub on another origin included. The cookie is
//! `SameSite=Lax` (sent to the hub on the same site, not from other sites'
//! pages), `Secure` when the hub serves TLS, and lives as long as its token.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use sse_protocol::{DemoKind, DemoRequest, DemoSent, DemoSession, DemoToken, DemoTokenRequest};

use super::authenticator::Authenticate;
use super::error::ApiError;
use super::extract::ApiJson;
use super::rate::{Rate, RateLimiter};
use super::state::Api;
use crate::auth::{Auth, Principal, Role, TopicGrants};
use crate::event::{unix_ms, UserId};
use crate::hub::Hub;
use crate::typed_events::{ChangeAction, Level};

const MAX_MESSAGE: usize = 1000;

/// Largest body of a demo request.
pub const MAX_DEMO_BODY: usize = 4 * 1024;

/// How often demo requests may come.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DemoLimits {
    /// `POST /api/sse/demo` per user.
    pub per_user: Rate,
    /// `POST /api/sse/demo` of all users together.
    pub overall: Rate,
    /// `POST /api/auth/demo-token`, all callers together.
    pub tokens: Rate,
}

impl Default for DemoLimits {
    fn default() -> Self {
        Self {
            per_user: Rate {
                burst: 20,
                per_second: 5.0,
            },
            overall: Rate {
                burst: 200,
                per_second: 50.0,
            },
            tokens: Rate {
                burst: 50,
                per_second: 10.0,
            },
        }
    }
}

/// How the demo routes behave: their rate limits, and what a cookie
/// session (`POST /api/auth/demo-session`) sets and says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DemoOptions {
    /// How often demo requests may come.
    pub limits: DemoLimits,
    /// The hub `/session-demo` streams from when it is not this one (an
    /// origin, `https://hub.example.com`); that hub must list this one's
    /// origin in its CORS origins and read the same cookie.
    pub hub_url: Option<String>,
    /// Whether session cookies are `Secure` (this hub serves TLS).
    pub secure_cookies: bool,
}

/// Users whose demo buckets are tracked at once.
const MAX_TRACKED_USERS: usize = 10_000;

/// State of the demo routes: the hub, tokens and the rate limits.
#[derive(Clone)]
pub struct DemoState {
    hub: Hub,
    authenticate: Authenticate,
    /// Mints the demo tokens (none when callers are not known by tokens).
    auth: Option<Auth>,
    sends: Arc<RateLimiter>,
    tokens: Arc<RateLimiter>,
    /// Read by every session request: shared, never changed.
    hub_url: Option<Arc<str>>,
    secure_cookies: bool,
}

impl FromRef<DemoState> for Hub {
    fn from_ref(s: &DemoState) -> Hub {
        s.hub.clone()
    }
}

impl FromRef<DemoState> for Authenticate {
    fn from_ref(s: &DemoState) -> Authenticate {
        s.authenticate.clone()
    }
}

/// The demo routes (`POST /api/sse/demo`, `POST /api/auth/demo-token`,
/// `POST`/`DELETE /api/auth/demo-session`), with the same CORS and metrics
/// as the hub's routes: built by [`super::Api::demo_router`], to be
/// mounted only for a demo.
pub(super) fn router(api: &Api, options: DemoOptions) -> Router {
    let limits = options.limits;
    let state = DemoState {
        hub: api.hub().clone(),
        authenticate: api.authenticate.clone(),
        auth: api.auth().cloned(),
        sends: Arc::new(RateLimiter::new(
            limits.per_user,
            limits.overall,
            MAX_TRACKED_USERS,
        )),
        tokens: Arc::new(RateLimiter::new(limits.tokens, limits.tokens, 1)),
        hub_url: options.hub_url.map(Arc::from),
        secure_cookies: options.secure_cookies,
    };
    let routes = Router::new()
        .route("/api/sse/demo", post(demo))
        .route("/api/auth/demo-token", post(demo_token))
        .route(
            "/api/auth/demo-session",
            post(demo_session).delete(end_demo_session),
        )
        .layer(DefaultBodyLimit::max(MAX_DEMO_BODY))
        .with_state(state);
    api.layers(routes)
}

fn limited(wait: Duration) -> ApiError {
    ApiError::RateLimited {
        message: "too many demo requests; slow down".into(),
        retry_after: wait,
    }
}

/// Topics every demo user may subscribe to.
pub const DEMO_SUBSCRIBE: &[&str] = &["news", "demo.*", "user.{sub}.*"];

/// Topics demo publishers may publish to.
pub const DEMO_PUBLISH: &[&str] = &["news", "demo.*"];

/// What a demo token grants: users hear the demo topics and their own
/// `user.<id>.*`; publishers also publish to the demo topics; admins need
/// no grant (they may use every topic).
pub fn demo_grants(role: Role) -> Option<TopicGrants> {
    let list = |l: &[&str]| Some(l.iter().map(|s| s.to_string()).collect());
    match role {
        Role::Admin => None,
        Role::Publisher => Some(TopicGrants {
            subscribe: list(DEMO_SUBSCRIBE),
            publish: list(DEMO_PUBLISH),
        }),
        Role::User => Some(TopicGrants {
            subscribe: list(DEMO_SUBSCRIBE),
            publish: None,
        }),
    }
}

/// `POST /api/auth/demo-token`.
pub async fn demo_token(
    State(state): State<DemoState>,
    ApiJson(body): ApiJson<DemoTokenRequest>,
) -> Result<Json<DemoToken>, ApiError> {
    mint(&state, body).map(Json)
}

/// `POST /api/auth/demo-session`: a demo token set as the hub's session
/// cookie (HttpOnly) instead of returned; 404 unless the hub reads one.
pub async fn demo_session(
    State(state): State<DemoState>,
    ApiJson(body): ApiJson<DemoTokenRequest>,
) -> Result<Response, ApiError> {
    let name = session_cookie(&state)?;
    let t = mint(&state, body)?;
    let max_age = t.expires_at.saturating_sub(unix_ms() / 1000);
    let cookie = format!(
        "{name}={}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{}",
        t.token,
        secure(&state)
    );
    let answer = DemoSession {
        user_id: t.user_id,
        role: t.role,
        expires_at: t.expires_at,
        topics: t.topics,
        hub_url: state.hub_url.as_deref().map(str::to_string),
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(answer)).into_response())
}

/// `DELETE /api/auth/demo-session`: signs out (the cookie is cleared).
pub async fn end_demo_session(State(state): State<DemoState>) -> Result<Response, ApiError> {
    let name = session_cookie(&state)?;
    let cookie = format!(
        "{name}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{}",
        secure(&state)
    );
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// The cookie this hub reads tokens from, or why there are no sessions.
fn session_cookie(state: &DemoState) -> Result<&str, ApiError> {
    state.auth.as_ref().and_then(Auth::cookie).ok_or_else(|| {
        ApiError::NotFound(
            "cookie sessions are off on this hub (start it with --auth-cookie NAME)".into(),
        )
    })
}

fn secure(state: &DemoState) -> &'static str {
    if state.secure_cookies {
        "; Secure"
    } else {
        ""
    }
}

/// A demo token for whoever the body names, within the token rate.
fn mint(state: &DemoState, body: DemoTokenRequest) -> Result<DemoToken, ApiError> {
    state.tokens.check("").map_err(limited)?;
    let Some(auth) = state.auth.as_ref().filter(|a| a.demo_tokens()) else {
        return Err(ApiError::NotFound(
            "demo tokens are disabled on this hub".into(),
        ));
    };
    let user = UserId::new(&body.user_id).ok().filter(|u| {
        u.as_str().len() <= 64
            && u.as_str()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
    });
    let Some(user) = user else {
        return Err(ApiError::BadRequest(
            "userId: up to 64 of A-Z a-z 0-9 - _ . @".into(),
        ));
    };
    let ttl = auth.demo_token_ttl();
    let topics = demo_grants(body.role);
    let token = auth
        .issue_with_grants(&user, body.role, ttl, topics.clone())
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(DemoToken {
        token,
        user_id: user.to_string(),
        role: body.role,
        expires_at: unix_ms() / 1000 + ttl.as_secs(),
        topics,
    })
}

/// `POST /api/sse/demo`.
pub async fn demo(
    State(state): State<DemoState>,
    who: Principal,
    ApiJson(body): ApiJson<DemoRequest>,
) -> Result<Json<DemoSent>, ApiError> {
    state.sends.check(who.user.as_str()).map_err(limited)?;
    let hub = state.hub;
    let message = body.message.unwrap_or_default();
    if message.len() > MAX_MESSAGE {
        return Err(ApiError::BadRequest(format!(
            "message: at most {MAX_MESSAGE} bytes"
        )));
    }
    let target = match &body.user_id {
        Some(u) => UserId::new(u)?,
        None => who.user.clone(),
    };
    if target != who.user && !who.is_admin() {
        return Err(ApiError::Forbidden(
            "only admins may send to other users".into(),
        ));
    }
    if body.kind.is_for_everyone() && !who.is_admin() {
        return Err(ApiError::Forbidden(
            "only admins may send to everyone".into(),
        ));
    }
    let text = |default: &str| {
        if message.is_empty() {
            default.to_string()
        } else {
            message.clone()
        }
    };
    let data = body.data.unwrap_or(Value::Null);
    let mut job_id = None;
    let delivered = match body.kind {
        DemoKind::Broadcast => {
            let payload = sse_protocol::Notification {
                message: text("Hello, everyone"),
                level: Level::Info,
                timestamp: unix_ms(),
                from: Some(who.user.to_string()),
            };
            hub.broadcast(
                crate::EventName::new(sse_protocol::events::NOTIFICATION)?,
                &payload,
            )
            .await?
        }
        DemoKind::User => {
            hub.notify_user(
                &target,
                &text(&format!("Message from {}", who.user)),
                Level::Info,
            )
            .await?
        }
        DemoKind::System => {
            hub.system_notification(&text("Scheduled maintenance in 10 minutes"), Level::Warning)
                .await?
        }
        DemoKind::Update => {
            let id = format!("item-{}", unix_ms() % 10_000);
            hub.data_change(
                "demo-item",
                &id,
                ChangeAction::Updated,
                data,
                std::slice::from_ref(&target),
            )
            .await?
        }
        DemoKind::Progress => {
            let pct = data
                .get("percentage")
                .and_then(Value::as_u64)
                .unwrap_or(50)
                .min(100) as u8;
            // A demo finishes what it starts: from `pct` to 100, then done.
            let op = format!("op-{:x}", rand::random::<u32>());
            let delivered = hub.progress(&op, &target, pct, &text("Working...")).await?;
            job_id = Some(op.clone());
            tokio::spawn(run_demo_job(
                hub.clone(),
                op,
                target.clone(),
                text("Working..."),
                pct,
            ));
            delivered
        }
        DemoKind::Success => hub.success(&target, &text("It worked")).await?,
        DemoKind::Error => hub.error(&target, &text("Something went wrong")).await?,
        DemoKind::Job => {
            let id = format!("job-{:x}", rand::random::<u32>());
            job_id = Some(id.clone());
            tokio::spawn(run_demo_job(
                hub.clone(),
                id,
                target.clone(),
                text("Demo job"),
                0,
            ));
            0
        }
    };
    Ok(Json(DemoSent {
        delivered: delivered as u64,
        job_id,
    }))
}

/// The simulated job: progress steps of 10 % from `from` to 100 %, then
/// `job.completed`.
async fn run_demo_job(hub: Hub, job_id: String, user: UserId, label: String, from: u8) {
    let start = from.div_ceil(10) * 10;
    for pct in (start..=100u8).step_by(10) {
        if hub.is_shutting_down() {
            return;
        }
        if hub
            .progress(&job_id, &user, pct, &format!("{label}: {pct}%"))
            .await
            .is_err()
        {
            return;
        }
        if pct < 100 {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    let details = json!({ "label": label, "items": 100 });
    let _ = hub.job_completed(&job_id, &user, "success", details).await;
}
