//! The demo endpoints behind `/sse-demo`: minting tokens for demo users and
//! triggering each kind of event.
//!
//! They are a router of their own, [`router`], which the binary mounts only
//! in demo mode (`--demo true`); [`crate::router`] never contains them, so
//! a deployment cannot expose them by forgetting a flag. Tokens are only
//! minted when the hub's [`crate::Auth`] has demo tokens on as well. Since
//! anyone can be anyone in demo mode, every demo request is small (4 KiB)
//! and rate limited per user and overall (429 with `Retry-After` beyond).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::extract::ApiJson;
use super::rate::{Rate, RateLimiter};
use super::state::Api;
use crate::auth::{Principal, Role};
use crate::event::{unix_ms, UserId};
use crate::helpers::{ChangeAction, Level};
use crate::hub::Hub;

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

/// Users whose demo buckets are tracked at once.
const MAX_TRACKED_USERS: usize = 10_000;

/// State of the demo routes: the hub and the rate limits.
#[derive(Clone)]
pub struct DemoState {
    hub: Hub,
    sends: Arc<RateLimiter>,
    tokens: Arc<RateLimiter>,
}

impl FromRef<DemoState> for Hub {
    fn from_ref(s: &DemoState) -> Hub {
        s.hub.clone()
    }
}

/// The demo routes (`POST /api/sse/demo`, `POST /api/auth/demo-token`),
/// with the same CORS and metrics as the hub's routes: built by
/// [`super::Api::demo_router`], to be mounted only for a demo.
pub(super) fn router(api: &Api, limits: DemoLimits) -> Router {
    let state = DemoState {
        hub: api.hub().clone(),
        sends: Arc::new(RateLimiter::new(
            limits.per_user,
            limits.overall,
            MAX_TRACKED_USERS,
        )),
        tokens: Arc::new(RateLimiter::new(limits.tokens, limits.tokens, 1)),
    };
    let routes = Router::new()
        .route("/api/sse/demo", post(demo))
        .route("/api/auth/demo-token", post(demo_token))
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

/// Body of `POST /api/auth/demo-token`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DemoTokenBody {
    /// Who to be.
    pub user_id: UserId,
    /// With which role (default `user`).
    #[serde(default)]
    pub role: Role,
}

/// `POST /api/auth/demo-token`.
pub async fn demo_token(
    State(state): State<DemoState>,
    ApiJson(body): ApiJson<DemoTokenBody>,
) -> Result<Json<Value>, ApiError> {
    state.tokens.check("").map_err(limited)?;
    let auth = state.hub.auth();
    if !auth.demo_tokens() {
        return Err(ApiError::NotFound(
            "demo tokens are disabled on this hub".into(),
        ));
    }
    if body.user_id.as_str().len() > 64
        || !body
            .user_id
            .as_str()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
    {
        return Err(ApiError::BadRequest(
            "userId: up to 64 of A-Z a-z 0-9 - _ . @".into(),
        ));
    }
    let ttl = auth.demo_token_ttl();
    let token = auth
        .issue(&body.user_id, body.role, ttl)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(Json(json!({
        "token": token,
        "userId": body.user_id,
        "role": body.role,
        "expiresAt": unix_ms() / 1000 + ttl.as_secs(),
    })))
}

/// What the dashboard's send panel can trigger.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DemoKind {
    /// A notification to everyone (admins).
    Broadcast,
    /// A notification to one user.
    User,
    /// A system message to everyone (admins).
    System,
    /// A `data_change` for the user.
    Update,
    /// One progress step.
    Progress,
    /// A success notification.
    Success,
    /// An error notification.
    Error,
    /// A simulated job: progress 0→100, then `job.completed`.
    Job,
}

/// Body of `POST /api/sse/demo`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DemoBody {
    /// What to send.
    #[serde(rename = "type")]
    pub kind: DemoKind,
    /// Recipient (admins only may name someone else).
    #[serde(default)]
    pub user_id: Option<UserId>,
    /// Text to show.
    #[serde(default)]
    pub message: Option<String>,
    /// Extra payload (`update`, `progress`).
    #[serde(default)]
    pub data: Option<Value>,
}

/// `POST /api/sse/demo`.
pub async fn demo(
    State(state): State<DemoState>,
    who: Principal,
    ApiJson(body): ApiJson<DemoBody>,
) -> Result<Json<Value>, ApiError> {
    state.sends.check(who.user.as_str()).map_err(limited)?;
    let hub = state.hub;
    let message = body.message.unwrap_or_default();
    if message.len() > MAX_MESSAGE {
        return Err(ApiError::BadRequest(format!(
            "message: at most {MAX_MESSAGE} bytes"
        )));
    }
    let target = body.user_id.unwrap_or_else(|| who.user.clone());
    if target != who.user && !who.is_admin() {
        return Err(ApiError::Forbidden(
            "only admins may send to other users".into(),
        ));
    }
    let everyone = matches!(body.kind, DemoKind::Broadcast | DemoKind::System);
    if everyone && !who.is_admin() {
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
            let op = format!("op-{}", unix_ms());
            hub.progress(&op, &target, pct, &text("Working...")).await?
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
            ));
            0
        }
    };
    Ok(Json(json!({ "delivered": delivered, "jobId": job_id })))
}

/// The simulated job: eleven progress steps, then `job.completed`.
async fn run_demo_job(hub: Hub, job_id: String, user: UserId, label: String) {
    for pct in (0..=100u8).step_by(10) {
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
